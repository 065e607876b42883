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
  { cidr: "64:ff9b::/96", why: "NAT64" },
  { cidr: "fc00::/7", why: "unique local (private)" },
  { cidr: "fe80::/10", why: "link-local" },
  { cidr: "ff00::/8", why: "multicast" },
];
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

/** Why this address may not be a target, or null when it may. */
export function refusedReason(addr: string, allow: Cidr[]): string | null {
  if (allow.some((c) => inCidr(addr, c))) return null;
  // IPv4-mapped IPv6: judge the IPv4 address inside
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped) return refusedReason(mapped[1], allow);
  for (const b of BLOCKED) if (inCidr(addr, b.c)) return `${addr} is ${b.why} (${b.cidr})`;
  if (!isIPv4(addr) && !isIPv6(addr)) return `${addr} is not an IP address`;
  return null;
}
