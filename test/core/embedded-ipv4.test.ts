// An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64
// and local-use NAT64) is judged by that IPv4 address: every embedding x every refused IPv4 range is
// refused, by the pure check and by the API that takes target URLs (webhooks, enrichers), and the
// IP classification reports the embedded address's class.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { isIPv6 } from "node:net";
import { classifyIp } from "../../src/core/ipclass";
import { BLOCKED_RANGES, embeddedIPv4, parseAllowList, refusedReason } from "../../src/core/netrange";
import { startTestServer, type TestServer } from "../helpers";

const hex = (v4: string) => {
  const n = v4.split(".").reduce((a, o) => a * 256 + Number(o), 0);
  return [Math.floor(n / 65536), n % 65536];
};
const h = (x: number) => x.toString(16);

/** Each way of writing an IPv4 address inside an IPv6 one. */
const EMBED: Record<string, (v4: string) => string> = {
  "IPv4-mapped": (v4) => `::ffff:${v4}`,
  "IPv4-mapped (hex)": (v4) => `::ffff:${hex(v4).map(h).join(":")}`,
  "IPv4-compatible": (v4) => `::${hex(v4).map(h).join(":")}`,
  // SIIT's IPv4-translated form (RFC 2765, ::ffff:0:0:0/96): ::ffff:0:127.0.0.1
  "IPv4-translated": (v4) => `::ffff:0:${v4}`,
  "IPv4-translated (hex)": (v4) => `::ffff:0:${hex(v4).map(h).join(":")}`,
  "6to4": (v4) => `2002:${hex(v4).map(h).join(":")}::1`,
  "6to4 (full)": (v4) => `2002:${hex(v4).map(h).join(":")}:0:0:0:0:1`,
  "Teredo client": (v4) => `2001:0:4136:e378:8000:63bf:${hex(v4).map((x) => h(x ^ 0xffff)).join(":")}`,
  "Teredo server": (v4) => `2001:0:${hex(v4).map(h).join(":")}:8000:63bf:3fff:fdd2`,
  NAT64: (v4) => `64:ff9b::${hex(v4).map(h).join(":")}`,
  "NAT64 (dotted)": (v4) => `64:ff9b::${v4}`,
  "local-use NAT64": (v4) => `64:ff9b:1::${hex(v4).map(h).join(":")}`,
};

/** An address inside each refused IPv4 range. */
const REFUSED_V4 = BLOCKED_RANGES.filter((r) => !r.cidr.includes(":")).map((r) => {
  const [base, prefix] = r.cidr.split("/");
  if (prefix === "32") return base;
  const o = base.split(".").map(Number);
  o[3] += 2; // not .1: ::0.0.0.1 is ::1, loopback for itself
  return o.join(".");
});

test("every embedding of every refused IPv4 range is refused, naming the embedding and the range", () => {
  expect(REFUSED_V4.length).toBeGreaterThanOrEqual(12);
  for (const [how, enc] of Object.entries(EMBED))
    for (const v4 of REFUSED_V4) {
      const a = enc(v4);
      expect({ a, ip: isIPv6(a) }).toEqual({ a, ip: true });
      expect(embeddedIPv4(a).map((e) => e.v4)).toContain(v4);
      const why = refusedReason(a, []);
      expect({ how, v4, a, refused: why !== null && why.includes(v4) }).toEqual({ how, v4, a, refused: true });
    }
});

test("a public IPv4 address in 6to4 or Teredo is not refused; the blanket ranges (mapped, NAT64) still are", () => {
  for (const how of ["6to4", "6to4 (full)", "Teredo client"]) expect({ how, why: refusedReason(EMBED[how]("93.184.216.34"), []) }).toEqual({ how, why: null });
  for (const how of ["IPv4-mapped", "IPv4-translated", "NAT64", "local-use NAT64"]) expect(refusedReason(EMBED[how]("93.184.216.34"), [])).not.toBeNull();
  // an allow list for the IPv4 range opens its embeddings that are not refused for themselves
  expect(refusedReason(EMBED["6to4"]("127.0.0.1"), parseAllowList("127.0.0.0/8"))).toBeNull();
  // :: and ::1 are themselves, not embeddings of 0.0.0.0 / 0.0.0.1
  expect(embeddedIPv4("::")).toEqual([]);
  expect(embeddedIPv4("::1")).toEqual([]);
});

test("IPv6 ranges that are not global unicast and may route inside a network are refused (site-local fec0::/10, IPv4-translated)", () => {
  for (const a of ["fec0::1", "feff::1", "::ffff:0:5db8:d822", "::ffff:0:0:1"]) expect({ a, refused: refusedReason(a, []) !== null }).toEqual({ a, refused: true });
  // and a global unicast address is not
  expect(refusedReason("2606:2800:220:1:248:1893:25c8:1946", [])).toBeNull();
});

test("the IP classification judges the embedded address", () => {
  // (a Teredo address is classified by its client, the host it reaches)
  for (const [how, enc] of Object.entries(EMBED).filter(([how]) => how !== "Teredo server")) {
    expect({ how, c: classifyIp(enc("127.0.0.1"))?.class }).toEqual({ how, c: "loopback" });
    expect({ how, c: classifyIp(enc("10.1.2.3"))?.class }).toEqual({ how, c: "private" });
    expect({ how, c: classifyIp(enc("169.254.169.254"))?.class }).toEqual({ how, c: "link_local" });
  }
  expect(classifyIp("2002:7f00:1::")?.description).toContain("6to4");
});

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

test("the API refuses such targets: webhooks (create and edit) and enrichers", async () => {
  const w = (await (await s.admin("POST", "/v1/webhooks", { url: "https://example.com/ok" })).json()) as any;
  for (const [how, enc] of Object.entries(EMBED))
    for (const v4 of REFUSED_V4) {
      const url = `http://[${enc(v4)}]:8080/hook`;
      const r = await s.admin("POST", "/v1/webhooks", { url });
      expect({ how, v4, status: r.status }).toEqual({ how, v4, status: 422 });
      expect(((await r.json()) as any).error.details[0].path).toBe("/url");
      expect((await s.admin("PATCH", `/v1/webhooks/${w.id}`, { url })).status).toBe(422);
      const e = await s.admin("POST", "/v1/enrichers", { name: `x-${how}-${v4}`, indicator_types: ["ip"], url_template: `http://[${enc(v4)}]/{{value}}` });
      expect({ how, v4, status: e.status }).toEqual({ how, v4, status: 422 });
    }
  expect(((await (await s.admin("GET", `/v1/webhooks/${w.id}`)).json()) as any).url).toBe("https://example.com/ok");
});
