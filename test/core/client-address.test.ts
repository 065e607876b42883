// The client's address behind trusted proxies: the family of X-Forwarded-For shapes (none, one hop,
// several hops, spoofed entries on the left, garbage, IPv6, ports, IPv4-mapped peers) against the
// family of trust settings (none, the peer only, the peer and an inner proxy).
import { expect, test } from "bun:test";
import { clientAddress, plainAddress } from "../../src/core/client-address";
import { parseAllowList } from "../../src/core/netrange";
import { loadConfig, ConfigError } from "../../src/config";

const LB = "10.0.0.5";
const INNER = "10.0.1.7";
const none = parseAllowList("");
const lb = parseAllowList(`${LB}/32`);
const both = parseAllowList("10.0.0.0/16, fd00::/8");

test("without trusted proxies X-Forwarded-For is ignored: a client cannot choose its address", () => {
  for (const xff of [null, "", "1.2.3.4", "1.2.3.4, 5.6.7.8", "garbage"]) {
    expect(clientAddress("203.0.113.9", xff, none)).toBe("203.0.113.9");
    expect(clientAddress(LB, xff, none)).toBe(LB);
  }
});

test("a peer that is not a trusted proxy is the client, whatever the header says", () => {
  for (const xff of [null, "1.2.3.4", `${LB}`, "1.2.3.4, 10.0.0.5"]) expect(clientAddress("203.0.113.9", xff, lb)).toBe("203.0.113.9");
});

test("a trusted peer: the rightmost entry that is not a trusted proxy; spoofed entries to its left are never believed", () => {
  expect(clientAddress(LB, "198.51.100.1", lb)).toBe("198.51.100.1");
  expect(clientAddress(LB, "1.1.1.1, 2.2.2.2, 198.51.100.1", lb)).toBe("198.51.100.1");
  expect(clientAddress(LB, `1.1.1.1, 198.51.100.1, ${INNER}`, both)).toBe("198.51.100.1");
  expect(clientAddress(LB, `198.51.100.1, ${INNER}`, lb)).toBe(INNER); // the inner proxy is not trusted: it is the client
  // every entry trusted: the leftmost
  expect(clientAddress(LB, `${INNER}, 10.0.2.2`, both)).toBe(INNER);
  // no header or an empty one: the proxy itself
  expect(clientAddress(LB, null, lb)).toBe(LB);
  expect(clientAddress(LB, "", lb)).toBe(LB);
});

test("an entry that is not an address stops the walk at the hop that handed it over", () => {
  expect(clientAddress(LB, "unknown", lb)).toBe(LB);
  expect(clientAddress(LB, `198.51.100.1, garbage, ${INNER}`, both)).toBe(INNER);
  expect(clientAddress(LB, "<script>, 198.51.100.1", lb)).toBe("198.51.100.1");
});

test("IPv6 entries, brackets and ports, and IPv4-mapped peers", () => {
  expect(clientAddress("fd00::1", "2001:db8::7", both)).toBe("2001:db8::7");
  expect(clientAddress("fd00::1", "[2001:db8::7]:4711", both)).toBe("2001:db8::7");
  expect(clientAddress(LB, "198.51.100.1:5555", lb)).toBe("198.51.100.1");
  expect(clientAddress(`::ffff:${LB}`, "198.51.100.1", lb)).toBe("198.51.100.1");
  expect(clientAddress(LB, "::ffff:198.51.100.1", lb)).toBe("198.51.100.1");
  expect(plainAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
  expect(plainAddress("::1")).toBe("::1");
  expect(clientAddress(null, "1.2.3.4", lb)).toBeNull();
});

test("--trusted-proxies / KEEPWATCH_TRUSTED_PROXIES: CIDRs, refused with the setting's name otherwise", () => {
  expect(loadConfig(["--trusted-proxies", "10.0.0.5/32,fd00::/8"], {}).config.trustedProxies).toBe("10.0.0.5/32,fd00::/8");
  expect(loadConfig([], { KEEPWATCH_TRUSTED_PROXIES: "10.0.0.0/8" }).config.trustedProxies).toBe("10.0.0.0/8");
  expect(loadConfig([], {}).config.trustedProxies).toBe("");
  expect(() => loadConfig(["--trusted-proxies", "10.0.0.0/33"], {})).toThrow(ConfigError);
  expect(() => loadConfig([], { KEEPWATCH_TRUSTED_PROXIES: "nginx" })).toThrow(/KEEPWATCH_TRUSTED_PROXIES.*not a CIDR: nginx/);
});
