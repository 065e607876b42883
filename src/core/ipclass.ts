// IP classification, offline and pure: which special-purpose range (IANA IPv4/IPv6 special-purpose
// registries, RFC 6890 and successors) an address falls in. Hand-written on top of netrange.ts
// rather than a library: ipaddr.js, the usual choice, folds the documentation ranges into
// "reserved", and keepwatch reports them as their own class.
import { isIPv4, isIPv6 } from "node:net";
import { embeddedIPv4, inCidr, parseCidr, type Cidr } from "./netrange";

export const IP_CLASSES = ["public", "private", "loopback", "link_local", "cgnat", "documentation", "multicast", "reserved", "unspecified", "broadcast"] as const;
export type IpClass = (typeof IP_CLASSES)[number];

export type IpClassification = {
  version: 4 | 6;
  class: IpClass;
  /** the special-purpose range it is in, null for public addresses */
  range: string | null;
  /** what that range is */
  description: string;
};

// More specific ranges first: the first match wins.
const RANGES: [string, IpClass, string][] = [
  ["255.255.255.255/32", "broadcast", "limited broadcast"],
  ["0.0.0.0/32", "unspecified", "unspecified address"],
  ["0.0.0.0/8", "reserved", "this network"],
  ["10.0.0.0/8", "private", "private-use (RFC 1918)"],
  ["100.64.0.0/10", "cgnat", "carrier-grade NAT shared address space (RFC 6598)"],
  ["127.0.0.0/8", "loopback", "loopback"],
  ["169.254.0.0/16", "link_local", "link-local (incl. cloud metadata 169.254.169.254)"],
  ["172.16.0.0/12", "private", "private-use (RFC 1918)"],
  ["192.0.0.0/24", "reserved", "IETF protocol assignments"],
  ["192.0.2.0/24", "documentation", "documentation TEST-NET-1 (RFC 5737)"],
  ["192.88.99.0/24", "reserved", "deprecated 6to4 relay anycast"],
  ["192.168.0.0/16", "private", "private-use (RFC 1918)"],
  ["198.18.0.0/15", "reserved", "benchmarking (RFC 2544)"],
  ["198.51.100.0/24", "documentation", "documentation TEST-NET-2 (RFC 5737)"],
  ["203.0.113.0/24", "documentation", "documentation TEST-NET-3 (RFC 5737)"],
  ["224.0.0.0/4", "multicast", "multicast"],
  ["240.0.0.0/4", "reserved", "reserved for future use"],
  ["::/128", "unspecified", "unspecified address"],
  ["::1/128", "loopback", "loopback"],
  ["64:ff9b::/96", "reserved", "IPv4/IPv6 translation (NAT64)"],
  ["64:ff9b:1::/48", "reserved", "local-use IPv4/IPv6 translation"],
  ["100::/64", "reserved", "discard-only"],
  ["2001:db8::/32", "documentation", "documentation (RFC 3849)"],
  ["3fff::/20", "documentation", "documentation (RFC 9637)"],
  ["2001::/23", "reserved", "IETF protocol assignments"],
  ["2002::/16", "reserved", "6to4"],
  ["fc00::/7", "private", "unique local (RFC 4193)"],
  ["fe80::/10", "link_local", "link-local"],
  ["ff00::/8", "multicast", "multicast"],
  ["::/8", "reserved", "reserved by IETF"],
];
const COMPILED: { c: Cidr; range: string; cls: IpClass; description: string }[] = RANGES.map(([range, cls, description]) => ({
  c: parseCidr(range)!,
  range,
  cls,
  description,
}));

/** Classifies an IPv4 or IPv6 address (one carrying an IPv4 address is judged by it); null when it is not one. */
export function classifyIp(addr: string): IpClassification | null {
  const a = addr.trim().replace(/^\[|\]$/g, "");
  const version = isIPv4(a) ? 4 : isIPv6(a) ? 6 : 0;
  if (version === 0) return null;
  // an IPv6 address that carries an IPv4 one (mapped, compatible, 6to4, Teredo's client, NAT64) is
  // judged by that IPv4 address, however it is written
  const embedded = embeddedIPv4(a).at(-1);
  if (embedded) {
    const inner = classifyIp(embedded.v4)!;
    return { ...inner, version: 6, description: `${embedded.how} of ${embedded.v4}: ${inner.description}` };
  }
  for (const r of COMPILED) if (inCidr(a, r.c)) return { version, class: r.cls, range: r.range, description: r.description };
  // IPv6 outside 2000::/3 (global unicast) and the ranges above is not assigned: reserved.
  if (version === 6 && !inCidr(a, GLOBAL_UNICAST)) return { version, class: "reserved", range: null, description: "outside global unicast (2000::/3)" };
  return { version, class: "public", range: null, description: "public" };
}
const GLOBAL_UNICAST = parseCidr("2000::/3")!;
