// Address ranges for outbound target safety. Pure: parses CIDRs and tells whether an address is in
// one of keepwatch's refused ranges or in an allow list.
import { isIPv4, isIPv6 } from "node:net";

export type Cidr = { v: 4 | 6; bits: bigint; prefix: number };

function v4ToBig(a: string): bigint {
  return a.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(a: string): bigint {
  let s = a.toLowerCase();
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  // embedded IPv4 tail
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v = v4ToBig(m[2]);
    s = m[1] + ((v >> 16n) & 0xffffn).toString(16) + ":" + (v & 0xffffn).toString(16);
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || "0", 16)), 0n);
}

export function parseCidr(s: string): Cidr | null {
  const [addr, p] = s.trim().split("/");
  if (isIPv4(addr)) {
    const prefix = p === undefined ? 32 : Number(p);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) return null;
    return { v: 4, bits: v4ToBig(addr), prefix };
  }
  if (isIPv6(addr)) {
    const prefix = p === undefined ? 128 : Number(p);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 128) return null;
    return { v: 6, bits: v6ToBig(addr), prefix };
  }
  return null;
}

export function inCidr(addr: string, c: Cidr): boolean {
  let v: 4 | 6;
  let n: bigint;
  if (isIPv4(addr)) [v, n] = [4, v4ToBig(addr)];
  else if (isIPv6(addr)) [v, n] = [6, v6ToBig(addr)];
  else return false;
  if (v !== c.v) return false;
  const width = v === 4 ? 32n : 128n;
  const shift = width - BigInt(c.prefix);
  return n >> shift === c.bits >> shift;
}

/** Ranges refused unless allowed: loopback, private, link-local (incl. metadata), CGNAT, multicast, unspecified, ... */
export const BLOCKED_RANGES: { cidr: string; why: string }[] = [
  { cidr: "0.0.0.0/8", why: "unspecified" },
  { cidr: "10.0.0.0/8", why: "private" },
  { cidr: "100.64.0.0/10", why: "carrier-grade NAT" },
  { cidr: "127.0.0.0/8", why: "loopback" },
  { cidr: "169.254.0.0/16", why: "link-local (cloud metadata)" },
  { cidr: "172.16.0.0/12", why: "private" },
  { cidr: "192.0.0.0/24", why: "IETF protocol assignments" },
  { cidr: "192.168.0.0/16", why: "private" },
  { cidr: "198.18.0.0/15", why: "benchmarking" },
  { cidr: "224.0.0.0/4", why: "multicast" },
  { cidr: "240.0.0.0/4", why: "reserved" },
  { cidr: "255.255.255.255/32", why: "broadcast" },
  { cidr: "::/128", why: "unspecified" },
  { cidr: "::1/128", why: "loopback" },
  { cidr: "::ffff:0:0/96", why: "IPv4-mapped" },
  { cidr: "::ffff:0:0:0/96", why: "IPv4-translated (SIIT)" },
  { cidr: "64:ff9b::/96", why: "NAT64" },
  { cidr: "64:ff9b:1::/48", why: "local-use NAT64" },
  { cidr: "fc00::/7", why: "unique local (private)" },
  { cidr: "fe80::/10", why: "link-local" },
  { cidr: "ff00::/8", why: "multicast" },
];
const GLOBAL_UNICAST = parseCidr("2000::/3")!;
const BLOCKED = BLOCKED_RANGES.map((r) => ({ ...r, c: parseCidr(r.cidr)! }));

export function parseAllowList(s: string): Cidr[] {
  const out: Cidr[] = [];
  for (const part of s.split(/[\s,]+/).filter(Boolean)) {
    const c = parseCidr(part);
    if (!c) throw new Error(`not a CIDR: ${part}`);
    out.push(c);
  }
  return out;
}

const bigToV4 = (n: bigint): string => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join(".");
const bitsAt = (n: bigint, from: number, len: number): bigint => (n >> BigInt(128 - from - len)) & ((1n << BigInt(len)) - 1n);

export type Embedded = { v4: string; how: string };

const EMBEDDINGS: { c: Cidr; how: string; get: (n: bigint) => bigint[] }[] = [
  { c: parseCidr("::ffff:0:0/96")!, how: "IPv4-mapped (::ffff:0:0/96)", get: (n) => [bitsAt(n, 96, 32)] },
  { c: parseCidr("::/96")!, how: "IPv4-compatible (::/96)", get: (n) => [bitsAt(n, 96, 32)] },
  // SIIT's IPv4-translated addresses (RFC 2765): a translator maps them to the IPv4 address
  { c: parseCidr("::ffff:0:0:0/96")!, how: "IPv4-translated (::ffff:0:0:0/96)", get: (n) => [bitsAt(n, 96, 32)] },
  { c: parseCidr("2002::/16")!, how: "6to4 (2002::/16)", get: (n) => [bitsAt(n, 16, 32)] },
  // Teredo: the server's address, and the client's (stored inverted)
  { c: parseCidr("2001::/32")!, how: "Teredo (2001::/32)", get: (n) => [bitsAt(n, 32, 32), bitsAt(n, 96, 32) ^ 0xffffffffn] },
  { c: parseCidr("64:ff9b::/96")!, how: "NAT64 (64:ff9b::/96)", get: (n) => [bitsAt(n, 96, 32)] },
  // local-use NAT64 (the whole /48 is refused below as well: its prefixes may use any RFC 6052 layout)
  { c: parseCidr("64:ff9b:1::/48")!, how: "local-use NAT64 (64:ff9b:1::/48)", get: (n) => [bitsAt(n, 96, 32)] },
];

/** The IPv4 addresses an IPv6 address carries (mapped, compatible, translated, 6to4, Teredo, NAT64), to be judged too. */
export function embeddedIPv4(addr: string): Embedded[] {
  if (!isIPv6(addr)) return [];
  const n = v6ToBig(addr);
  if (n <= 1n) return []; // :: and ::1 are themselves
  const out: Embedded[] = [];
  for (const e of EMBEDDINGS) if (inCidr(addr, e.c)) for (const v of e.get(n)) out.push({ v4: bigToV4(v), how: e.how });
  return out;
}

/**
 * Why this address may not be a target, or null when it may. An IPv6 address that carries an
 * IPv4 address (IPv4-mapped, -compatible or -translated, 6to4, Teredo, NAT64) is refused when that
 * IPv4 address would be, whichever way it is written. IPv6 outside global unicast (2000::/3) is refused.
 */
export function refusedReason(addr: string, allow: Cidr[]): string | null {
  if (allow.some((c) => inCidr(addr, c))) return null;
  for (const e of embeddedIPv4(addr)) {
    const why = refusedReason(e.v4, allow);
    if (why) return `${addr} is ${e.how} of ${e.v4}, and ${why}`;
  }
  for (const b of BLOCKED) if (inCidr(addr, b.c)) return `${addr} is ${b.why} (${b.cidr})`;
  if (!isIPv4(addr) && !isIPv6(addr)) return `${addr} is not an IP address`;
  // Only global unicast is reachable on the internet; the rest of the IPv6 space (site-local
  // fec0::/10, discard-only 100::/64, unassigned space) can only lead somewhere inside a network.
  if (isIPv6(addr) && !inCidr(addr, GLOBAL_UNICAST)) return `${addr} is outside IPv6 global unicast (2000::/3)`;
  return null;
}
