// The client's address behind reverse proxies (a load balancer in front of replicas).
//
// The TCP peer is the client unless it is a trusted proxy (`--trusted-proxies`, CIDRs). A trusted
// proxy appends the address it saw to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for,
// HAProxy's `option forwardfor`), so the entries are read from the right: each trusted one is a
// proxy hop, and the first one that is not trusted is the client. Anything to its left was written
// by the client and is never believed. With no trusted proxies the header is ignored: a client
// cannot pick its own address (the admin login throttle and a ping's recorded address use this).
import { isIPv4, isIPv6 } from "node:net";
import { inCidr, type Cidr } from "./netrange";

/** "::ffff:1.2.3.4" (an IPv4 peer on a dual-stack socket) is 1.2.3.4. */
export function plainAddress(addr: string): string {
  const a = addr.trim();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a;
}

/** An X-Forwarded-For entry as an address: "1.2.3.4", "[2001:db8::1]", "1.2.3.4:5678"; null when it is none. */
function entryAddress(entry: string): string | null {
  let e = entry.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(e);
  if (bracket) e = bracket[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(e)) e = e.slice(0, e.lastIndexOf(":"));
  e = plainAddress(e);
  return isIPv4(e) || isIPv6(e) ? e : null;
}

const trustedBy = (addr: string, trusted: Cidr[]) => trusted.some((c) => inCidr(addr, c));

/**
 * The client's address: the peer, or, when the peer is a trusted proxy, the rightmost
 * X-Forwarded-For entry that is not a trusted proxy. When every entry is trusted, the leftmost; when
 * an entry is not an address, the hop that handed it over (the last trusted one) is the client.
 */
export function clientAddress(peer: string | null, forwardedFor: string | null, trusted: Cidr[]): string | null {
  if (peer === null) return null;
  let client = plainAddress(peer);
  if (trusted.length === 0 || !forwardedFor || !trustedBy(client, trusted)) return client;
  const hops = forwardedFor.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const a = entryAddress(hops[i]!);
    if (a === null) return client;
    client = a;
    if (!trustedBy(a, trusted)) return a;
  }
  return client;
}
