// Enrichment, the pure part: watchlist entries (validation, canonical form, matching), the
// per-indicator results of the offline enrichers, what a run does to its alert (tags, severity
// raise), HTTP lookup URL templates and how a lookup's answer counts. No database, no network.
import { isIP } from "node:net";
import { classifyIp, type IpClassification } from "./ipclass";
import { inCidr, parseCidr, type Cidr } from "./netrange";
import { normalizeIndicator, type Indicator, type IndicatorType } from "./indicators";
import { SEVERITY_RANK, type Severity } from "./severity";

export const WATCHLIST_KINDS = ["cidr", "domain", "hash", "account", "email"] as const;
export type WatchlistKind = (typeof WATCHLIST_KINDS)[number];
export type WatchlistEntry = { kind: WatchlistKind; value: string; comment?: string };

/** Validates one watchlist entry and returns its canonical value, or why it is refused. */
export function canonicalEntry(kind: WatchlistKind, raw: string): { value: string } | { error: string } {
  const v = raw.trim();
  if (v === "") return { error: "empty value" };
  switch (kind) {
    case "cidr": {
      const c = parseCidr(v);
      if (!c || !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(v)) return { error: `"${v}" is not a CIDR (like 203.0.113.0/24, 2001:db8::/32 or a single address)` };
      const [addr, prefix] = v.split("/");
      return { value: `${addr.toLowerCase()}/${prefix ?? (c.v === 4 ? 32 : 128)}` };
    }
    case "domain": {
      const d = v.toLowerCase().replace(/^\*\./, "");
      const r = normalizeIndicator("domain", d);
      return "error" in r ? { error: r.error } : r;
    }
    case "hash": {
      const h = v.toLowerCase();
      if (!/^[0-9a-f]+$/.test(h) || ![32, 40, 64].includes(h.length))
        return { error: `"${clip(v)}" is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex characters)` };
      return { value: h };
    }
    case "email": {
      const r = normalizeIndicator("email", v);
      return "error" in r ? { error: r.error } : r;
    }
    case "account":
      if (v.length > 512) return { error: "an account is at most 512 characters" };
      return { value: v.toLowerCase() };
  }
}

export type WatchlistDef = { id: string; name: string; label: string; severity: Severity | null; entries: WatchlistEntry[] };
export type WatchlistHit = { watchlist_id: string; name: string; label: string; severity: Severity | null; kind: WatchlistKind; entry: string };

/** A tenant's active watchlists, indexed for matching. */
export type CompiledWatchlists = {
  cidrs: { c: Cidr; w: WatchlistDef; entry: string }[];
  /** domain, hash, account, email → watchlists holding it */
  exact: Map<string, { w: WatchlistDef; kind: WatchlistKind; entry: string }[]>;
};

const key = (kind: string, v: string) => kind + "\u0000" + v;

export function compileWatchlists(lists: WatchlistDef[]): CompiledWatchlists {
  const out: CompiledWatchlists = { cidrs: [], exact: new Map() };
  for (const w of lists)
    for (const e of w.entries) {
      if (e.kind === "cidr") out.cidrs.push({ c: parseCidr(e.value)!, w, entry: e.value });
      else {
        const k = key(e.kind, e.value);
        const l = out.exact.get(k) ?? [];
        l.push({ w, kind: e.kind, entry: e.value });
        out.exact.set(k, l);
      }
    }
  return out;
}

/** The host of a URL indicator, or null. */
function urlHost(u: string): string | null {
  try {
    return new URL(u).hostname.replace(/^\[|\]$/g, "").toLowerCase() || null;
  } catch {
    return null;
  }
}

/**
 * Watchlist hits of one indicator. CIDRs match IP indicators (and URLs whose host is an IP);
 * domains match domain indicators, URL hosts and email domains, subdomains included
 * (`example.com` matches `a.b.example.com`); hashes match any hash type; accounts and emails
 * match account and email indicators, case-insensitively.
 */
export function watchlistHits(c: CompiledWatchlists, ind: Indicator): WatchlistHit[] {
  const hits: WatchlistHit[] = [];
  const exact = (kind: WatchlistKind, v: string) => {
    for (const m of c.exact.get(key(kind, v)) ?? []) hits.push(hit(m.w, m.kind, m.entry));
  };
  const ip = (a: string) => {
    for (const m of c.cidrs) if (inCidr(a, m.c)) hits.push(hit(m.w, "cidr", m.entry));
  };
  const domain = (d: string) => {
    const labels = d.split(".");
    for (let i = 0; i < labels.length - 1; i++) exact("domain", labels.slice(i).join("."));
  };
  const v = ind.value.toLowerCase();
  switch (ind.type) {
    case "ip":
      ip(v);
      break;
    case "domain":
      domain(v);
      break;
    case "url": {
      const h = urlHost(ind.value);
      if (h && isIP(h)) ip(h);
      else if (h) domain(h);
      break;
    }
    case "email":
      exact("email", v);
      exact("account", v);
      domain(v.slice(v.lastIndexOf("@") + 1));
      break;
    case "account":
      exact("account", v);
      if (v.includes("@")) exact("email", v);
      break;
    case "hash_md5":
    case "hash_sha1":
    case "hash_sha256":
      exact("hash", v);
      break;
  }
  // one hit per watchlist and entry
  const seen = new Set<string>();
  return hits.filter((h) => !seen.has(h.watchlist_id + h.entry) && (seen.add(h.watchlist_id + h.entry), true));
}

const hit = (w: WatchlistDef, kind: WatchlistKind, entry: string): WatchlistHit => ({ watchlist_id: w.id, name: w.name, label: w.label, severity: w.severity, kind, entry });

/** Results of the offline enrichers for one indicator. */
export type OfflineResults = { ip_class?: IpClassification; watchlists?: WatchlistHit[] };

export function offlineResults(c: CompiledWatchlists, ind: Indicator): OfflineResults {
  const r: OfflineResults = {};
  if (ind.type === "ip") {
    const cls = classifyIp(ind.value);
    if (cls) r.ip_class = cls;
  }
  const hits = watchlistHits(c, ind);
  if (hits.length) r.watchlists = hits;
  return r;
}

/** What the watchlist hits do to the alert: tags `watchlist:<label>` and the highest severity raise. */
export function alertEffects(hits: WatchlistHit[], current: Severity): { tags: string[]; severity: Severity | null } {
  const tags = [...new Set(hits.map((h) => `watchlist:${h.label}`))];
  let best: Severity | null = null;
  for (const h of hits) if (h.severity && SEVERITY_RANK[h.severity] > SEVERITY_RANK[best ?? current]) best = h.severity;
  return { tags, severity: best };
}

/** A watchlist label as a tag part: letters, digits and . _ - only. */
export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

// ---- HTTP lookup enrichers ----

const PLACEHOLDER = /\{\{\s*(value|type)\s*\}\}/g;

/** Checks a URL template: http(s), `{{value}}` in it but not in the host; returns the problem or null. */
export function templateProblem(t: string): string | null {
  if (!/\{\{\s*value\s*\}\}/.test(t)) return "must contain {{value}}";
  const unknown = (t.match(/\{\{[^}]*\}\}/g) ?? []).filter((m) => !/^\{\{\s*(value|type)\s*\}\}$/.test(m));
  if (unknown.length) return `unknown placeholder ${unknown[0]} (only {{value}} and {{type}})`;
  let a: URL, b: URL;
  try {
    a = new URL(t.replace(PLACEHOLDER, "x"));
    b = new URL(t.replace(PLACEHOLDER, "y"));
  } catch {
    return "is not an absolute URL once {{value}} is filled in";
  }
  if (a.protocol !== "http:" && a.protocol !== "https:") return "must be an http or https URL";
  // the indicator must never choose where the request goes
  if (a.host !== b.host) return "{{value}} may not be part of the host";
  return null;
}

/** Fills a URL template; the value (and type) are URL-encoded so they stay one path or query part. */
export function renderTemplate(t: string, ind: Indicator): string {
  return t.replace(PLACEHOLDER, (_m, name: string) => {
    const v = encodeURIComponent(name === "value" ? ind.value : ind.type);
    // "." and ".." would be resolved away as path segments: keep them literal
    return v === "." || v === ".." ? v.replace(/\./g, "%2E") : v;
  });
}

/** How a lookup's answer counts: a result, a failure worth retrying, or a permanent failure. */
export function lookupVerdict(status: number | null, error: string | null, refused: boolean): "ok" | "retry" | "fail" {
  if (refused) return "fail"; // a refused target stays refused: no point retrying
  if (status === null) return "retry"; // timeout, connection refused, DNS
  if ((status >= 200 && status < 300) || status === 404) return error ? "retry" : "ok"; // 404: "not known" is an answer
  if (status === 408 || status === 429 || status >= 500) return "retry";
  return "fail"; // other 4xx (401, 403, 400...) and redirects: the enricher is misconfigured
}

/** The stored form of a lookup body: JSON when it parses, else the (already truncated) text. */
export function lookupBody(text: string | null): { body: unknown; body_format: "json" | "text" | "none" } {
  if (text === null || text === "") return { body: null, body_format: "none" };
  try {
    return { body: JSON.parse(text), body_format: "json" };
  } catch {
    return { body: text, body_format: "text" };
  }
}

export type EnricherDef = { id: string; name: string; types: IndicatorType[]; urlTemplate: string; headers: Record<string, string>; timeoutMs: number };

/** The indicators an enricher looks up. */
export const enricherApplies = (e: EnricherDef, ind: Indicator) => e.types.includes(ind.type);

function clip(s: string): string {
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

/** What an enrichment job learned, as the settle's effect carries it (store/queue-contract.ts). */
export type EnrichmentFinish = {
  alertId: string;
  status: "enriched" | "failed";
  error: string | null;
  /** per indicator: its offline results and lookups, merged */
  results: { type: string; value: string; results: unknown }[];
  hits: WatchlistHit[];
  lookups: number;
  truncated?: boolean;
  skipped?: number;
};

/**
 * The outcome to save, given the alert as it is at the settle (its severity and tags then): the
 * watchlist tags and severity raise, and the timeline entry's summary.
 */
export function enrichmentOutcome(f: EnrichmentFinish, cur: { severity: Severity; tags: string[] }) {
  const fx = alertEffects(f.hits, cur.severity);
  return {
    status: f.status,
    error: f.error,
    results: f.results,
    addTags: fx.tags,
    raiseTo: fx.severity,
    summary: {
      indicators: f.results.length,
      ...(f.truncated ? { indicators_left_out: true } : {}),
      ...(f.skipped ? { lookups_skipped: f.skipped } : {}),
      watchlist_hits: [...new Set(f.hits.map((h) => h.label))],
      lookups: f.lookups,
      tags_added: fx.tags.filter((t) => !cur.tags.includes(t)),
    },
  };
}
