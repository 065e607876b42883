// Indicator extraction beyond the explicit list: the system mappings (a fixed table, the same for
// every source) and the tenant's custom mappings (dot paths into the raw payload). Pure: no
// database, no HTTP. The ingest path and POST /v1/indicator-mappings/test both call runPasses.
import { isIP } from "node:net";
import type { IndicatorOrigin } from "./event";
import { isIndicatorType, mergeIndicators, normalizeIndicator, type Indicator, type IndicatorType } from "./indicators";

/** "host" means: an IP address when it parses as one, else a domain name. */
export type MappedType = IndicatorType | "host";

/**
 * System mappings on payload keys. A key matches case-insensitively, with `-` read as `_`, on its
 * last segment (`src_ip`, `source.ip` flat or nested) or, for the entries with dots, on its last
 * two or three segments (`user.name`, `dns.question.name`: a bare `name` means nothing). Values are strings (or
 * arrays of strings); anything else is ignored.
 */
export const SYSTEM_KEYS: Readonly<Record<string, MappedType>> = {
  ip: "ip",
  ip_address: "ip",
  ipaddress: "ip",
  src_ip: "ip",
  source_ip: "ip",
  srcip: "ip",
  dst_ip: "ip",
  dest_ip: "ip",
  destination_ip: "ip",
  dstip: "ip",
  client_ip: "ip",
  remote_ip: "ip",
  remote_addr: "ip",
  "source.ip": "ip",
  "destination.ip": "ip",
  "client.ip": "ip",
  "server.ip": "ip",
  host: "host",
  hostname: "host",
  host_name: "host",
  "host.name": "host",
  "host.hostname": "host",
  fqdn: "domain",
  domain: "domain",
  domain_name: "domain",
  "dns.question.name": "domain",
  "url.domain": "domain",
  user: "account",
  username: "account",
  user_name: "account",
  account: "account",
  account_name: "account",
  "user.name": "account",
  email: "email",
  email_address: "email",
  "user.email": "email",
  url: "url",
  uri: "url",
  "url.full": "url",
  "url.original": "url",
  md5: "hash_md5",
  sha1: "hash_sha1",
  sha256: "hash_sha256",
  hash_md5: "hash_md5",
  hash_sha1: "hash_sha1",
  hash_sha256: "hash_sha256",
};

// A Map, not the object: a payload key such as "constructor" must not find Object.prototype's.
const SYSTEM_KEY_MAP = new Map(Object.entries(SYSTEM_KEYS));

/** Parents under which a bare `url`/`uri` is the sender's own link (rule.url), not an indicator. */
const LINK_PARENTS = new Set(["rule", "alert", "kibana", "links", "_links", "self"]);

/** Normalized fields the system pass reads, and what each yields. */
export const SYSTEM_FIELDS: Readonly<Record<string, MappedType>> = { host: "host" };

/** The walk over a payload is bounded so one hostile item cannot cost much. */
const MAX_DEPTH = 12;
const MAX_NODES = 5000;

export type Found = Indicator & { origin: IndicatorOrigin; path: string };
export type Dropped = { origin: IndicatorOrigin; path: string; type: IndicatorType; value: string; reason: string };

/** One value against a mapped type: a valid indicator, or the reason it was dropped. */
function classify(t: MappedType, raw: string): { type: IndicatorType; value?: string; error?: string } {
  if (t === "host") {
    // a host may carry a port (Alertmanager's `instance` is "10.0.0.1:9100"): drop it
    raw = raw.trim();
    const m = /^\[([0-9a-fA-F:.]+)\]:\d{1,5}$/.exec(raw) ?? /^([^:]+):\d{1,5}$/.exec(raw);
    if (m) raw = m[1];
    const bare = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
    t = isIP(bare) !== 0 ? "ip" : "domain";
  }
  const r = normalizeIndicator(t, raw);
  return "value" in r ? { type: t, value: r.value } : { type: t, error: r.error };
}

class Collector {
  found: Found[] = [];
  dropped: Dropped[] = [];
  constructor(private origin: IndicatorOrigin) {}
  add(t: MappedType, v: unknown, path: string) {
    const vals = Array.isArray(v) ? v : [v];
    vals.forEach((x, i) => {
      if (typeof x !== "string") return;
      const p = Array.isArray(v) ? `${path}[${i}]` : path;
      const c = classify(t, x);
      if (c.value !== undefined) this.found.push({ type: c.type, value: c.value, origin: this.origin, path: p });
      else this.dropped.push({ origin: this.origin, path: p, type: c.type, value: x, reason: c.error! });
    });
  }
}

/**
 * The system pass: the normalized fields in SYSTEM_FIELDS, then every key of the raw item that
 * SYSTEM_KEYS names, at any depth (objects and arrays, bounded).
 */
export function systemPass(fields: { host: string | null }, item: unknown): { found: Found[]; dropped: Dropped[] } {
  const c = new Collector("system");
  if (fields.host) c.add(SYSTEM_FIELDS.host, fields.host, "(host)");
  let nodes = 0;
  // `a` and `b` are the two key segments before this level (flat keys like "source.ip" split too),
  // so both `{"source": {"ip": …}}` and `{"source.ip": …}` look up "source.ip". This runs for every
  // ingested event, so it allocates little: paths are built only where something is found or walked.
  const walk = (v: unknown, path: string, a: string, b: string, depth: number) => {
    if (++nodes > MAX_NODES || depth > MAX_DEPTH || v === null || typeof v !== "object") return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === "object") walk(v[i], `${path}[${i}]`, a, b, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    for (const k in o) {
      if (!Object.hasOwn(o, k)) continue;
      const x = o[k];
      const isStr = typeof x === "string";
      if (!isStr && (x === null || typeof x !== "object")) continue;
      let key = k.toLowerCase();
      if (key.includes("-")) key = key.replace(/-/g, "_");
      let p2 = a;
      let p1 = b;
      let last = key;
      if (key.includes(".")) {
        const parts = key.split(".");
        last = parts[parts.length - 1];
        p1 = parts.length >= 2 ? parts[parts.length - 2] : b;
        p2 = parts.length >= 3 ? parts[parts.length - 3] : parts.length === 2 ? b : a;
      }
      if (isStr || Array.isArray(x)) {
        let t = SYSTEM_KEY_MAP.get(`${p2}.${p1}.${last}`) ?? SYSTEM_KEY_MAP.get(`${p1}.${last}`);
        if (!t) {
          t = SYSTEM_KEY_MAP.get(last);
          // a sender's link to its own rule or alert page (Kibana's rule.url) is not an indicator
          if (t === "url" && LINK_PARENTS.has(p1)) t = undefined;
        }
        if (t) c.add(t, x, path ? `${path}.${k}` : k); // a string, or the strings of an array
      }
      if (!isStr) walk(x, path ? `${path}.${k}` : k, p1, last, depth + 1); // objects, and objects inside arrays
    }
  };
  walk(item, "", "", "", 0);
  return { found: c.found, dropped: c.dropped };
}

// ---- custom mappings ----

/**
 * A custom mapping path is dot-separated segments into the raw payload:
 *   `src.addr`          a nested key
 *   `alerts[].ip`       every element of the array `alerts` (also written `alerts.*.ip`)
 *   `alerts.0.ip`       one element by index
 *   `kibana.alert.x`    also finds a flat key with dots in it ("kibana.alert.x": …) — at each
 *                       object the longest run of segments that is a key wins
 * A value found that is an array of strings yields each string.
 */
export type PathSeg = { key: string; each: boolean } | { key: null; each: true };

const SEG_RE = /^[^.\[\]]+$/;

export function parsePath(path: string): { segs: PathSeg[] } | { error: string } {
  if (path.trim() !== path || path === "") return { error: "must be a non-empty dot path without surrounding spaces" };
  const segs: PathSeg[] = [];
  for (const part of path.split(".")) {
    if (part === "*") {
      segs.push({ key: null, each: true });
      continue;
    }
    const each = part.endsWith("[]");
    const key = each ? part.slice(0, -2) : part;
    if (!SEG_RE.test(key)) return { error: `segment "${part}" is not a key, key[] or *` };
    segs.push({ key, each });
  }
  return { segs };
}

/** Every value at a parsed path (bounded). */
export function valuesAt(item: unknown, segs: PathSeg[]): { value: unknown; path: string }[] {
  const out: { value: unknown; path: string }[] = [];
  const go = (v: unknown, i: number, path: string) => {
    if (out.length >= 1000) return;
    if (i === segs.length) {
      out.push({ value: v, path });
      return;
    }
    const s = segs[i];
    if (v === null || typeof v !== "object") return;
    if (s.key === null) {
      // `*`: each element of an array, or each value of an object
      if (Array.isArray(v)) v.forEach((x, n) => go(x, i + 1, `${path}[${n}]`));
      else for (const [k, x] of Object.entries(v)) go(x, i + 1, path ? `${path}.${k}` : k);
      return;
    }
    if (Array.isArray(v)) {
      if (/^\d+$/.test(s.key)) {
        const x = v[Number(s.key)];
        if (x !== undefined) step(x, i, 1, `${path}[${s.key}]`);
      }
      return;
    }
    // the longest run of segments that is a key of this object (flat dotted keys)
    const o = v as Record<string, unknown>;
    for (let n = segs.length - i; n >= 1; n--) {
      const run = segs.slice(i, i + n);
      if (run.slice(0, -1).some((r) => r.key === null || r.each)) continue;
      const k = run.map((r) => r.key).join(".");
      if (Object.hasOwn(o, k)) {
        step(o[k], i, n, path ? `${path}.${k}` : k);
        return;
      }
    }
  };
  const step = (x: unknown, i: number, n: number, path: string) => {
    const last = segs[i + n - 1];
    if (last.each && last.key !== null) {
      if (Array.isArray(x)) x.forEach((y, m) => go(y, i + n, `${path}[${m}]`));
    } else go(x, i + n, path);
  };
  go(item, 0, "");
  return out;
}

export type CustomMapping = { id?: string; name?: string | null; source: string | null; path: string; type: IndicatorType };
export type CompiledMapping = CustomMapping & { segs: PathSeg[] };

export function compileMapping(m: CustomMapping): CompiledMapping | null {
  const p = parsePath(m.path);
  return "segs" in p && isIndicatorType(m.type) ? { ...m, segs: p.segs } : null;
}

export function customPass(mappings: CompiledMapping[], item: unknown): { found: Found[]; dropped: Dropped[] } {
  const c = new Collector("custom");
  for (const m of mappings) for (const r of valuesAt(item, m.segs)) c.add(m.type, r.value, r.path);
  return { found: c.found, dropped: c.dropped };
}

export type Passes = {
  explicit: Found[];
  system: Found[];
  custom: Found[];
  dropped: Dropped[];
  /** merged and de-duplicated by (type, value); the first pass that found a value keeps it */
  indicators: (Indicator & { origin: IndicatorOrigin })[];
};

/**
 * The three passes for one event. `fromPlugin` is what the source plugin returned: its explicit
 * indicators (origin explicit, already validated) and any it extracted itself (counted as system).
 * `mappings` are the tenant's active custom mappings for this source (and the global ones).
 */
export function runPasses(
  fromPlugin: (Indicator & { origin: IndicatorOrigin })[],
  fields: { host: string | null },
  item: unknown,
  mappings: CompiledMapping[],
): Passes {
  const explicit = fromPlugin.filter((i) => i.origin === "explicit").map((i) => ({ ...i, path: "indicators" }));
  const pluginSystem = fromPlugin.filter((i) => i.origin !== "explicit").map((i) => ({ ...i, path: "(source plugin)" }));
  const sys = systemPass(fields, item);
  const cus = mappings.length ? customPass(mappings, item) : { found: [], dropped: [] };
  const system = dedup([...pluginSystem, ...sys.found]);
  const indicators = mergeIndicators(explicit, system, cus.found).map((i) => ({
    type: i.type,
    value: i.value,
    origin: (i as Found).origin,
  }));
  return { explicit, system, custom: dedup(cus.found), dropped: [...sys.dropped, ...cus.dropped], indicators };
}

function dedup(list: Found[]): Found[] {
  const seen = new Set<string>();
  return list.filter((i) => {
    const k = i.type + "\u0000" + i.value;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
