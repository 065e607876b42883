// The pure parts of enrichment: IP classes, watchlist entries and matching, URL templates, verdicts.
import { describe, expect, test } from "bun:test";
import { alertEffects, canonicalEntry, compileWatchlists, lookupBody, lookupVerdict, renderTemplate, templateProblem, watchlistHits, type WatchlistDef } from "../../src/core/enrich";
import { classifyIp } from "../../src/core/ipclass";

describe("classifyIp", () => {
  const cases: [string, string, 4 | 6][] = [
    ["8.8.8.8", "public", 4],
    ["10.1.2.3", "private", 4],
    ["172.31.255.255", "private", 4],
    ["172.32.0.1", "public", 4],
    ["192.168.1.1", "private", 4],
    ["127.0.0.1", "loopback", 4],
    ["169.254.169.254", "link_local", 4],
    ["100.64.0.1", "cgnat", 4],
    ["100.128.0.1", "public", 4],
    ["192.0.2.10", "documentation", 4],
    ["198.51.100.1", "documentation", 4],
    ["203.0.113.200", "documentation", 4],
    ["224.0.0.251", "multicast", 4],
    ["240.0.0.1", "reserved", 4],
    ["255.255.255.255", "broadcast", 4],
    ["0.0.0.0", "unspecified", 4],
    ["198.18.0.1", "reserved", 4],
    ["2606:4700:4700::1111", "public", 6],
    ["::1", "loopback", 6],
    ["::", "unspecified", 6],
    ["fe80::1", "link_local", 6],
    ["fd12:3456::1", "private", 6],
    ["2001:db8::1", "documentation", 6],
    ["ff02::1", "multicast", 6],
    ["::ffff:10.0.0.1", "private", 6],
    ["4000::1", "reserved", 6],
  ];
  for (const [ip, cls, v] of cases)
    test(`${ip} is ${cls}`, () => {
      const c = classifyIp(ip)!;
      expect(c.class).toBe(cls as any);
      expect(c.version).toBe(v);
      if (cls === "public") expect(c.range).toBeNull();
      else if (!ip.startsWith("4000")) expect(c.range).toMatch(/\//);
    });
  test("not an address", () => expect(classifyIp("example.com")).toBeNull());
});

describe("watchlist entries", () => {
  test("canonical forms", () => {
    expect(canonicalEntry("cidr", " 203.0.113.0/24 ")).toEqual({ value: "203.0.113.0/24" });
    expect(canonicalEntry("cidr", "2001:DB8::/32")).toEqual({ value: "2001:db8::/32" });
    expect(canonicalEntry("cidr", "198.51.100.7")).toEqual({ value: "198.51.100.7/32" });
    expect(canonicalEntry("domain", "Evil.Example.")).toEqual({ value: "evil.example" });
    expect(canonicalEntry("domain", "*.evil.example")).toEqual({ value: "evil.example" });
    expect(canonicalEntry("hash", "D41D8CD98F00B204E9800998ECF8427E")).toEqual({ value: "d41d8cd98f00b204e9800998ecf8427e" });
    expect(canonicalEntry("email", "Bob@Example.COM")).toEqual({ value: "bob@example.com" });
    expect(canonicalEntry("account", "CORP\\JSmith")).toEqual({ value: "corp\\jsmith" });
  });
  test("refusals say why", () => {
    for (const [kind, v] of [
      ["cidr", "10.0.0.0/33"],
      ["cidr", "300.1.1.1/8"],
      ["cidr", "example.com"],
      ["cidr", "10.0.0.0/8/1"],
      ["domain", "not a domain"],
      ["hash", "abc"],
      ["hash", "z".repeat(32)],
      ["email", "nobody"],
      ["account", "  "],
    ] as const) {
      const r = canonicalEntry(kind, v);
      expect("error" in r).toBe(true);
    }
    expect((canonicalEntry("hash", "abc") as any).error).toContain("32, 40 or 64 hex");
    expect((canonicalEntry("cidr", "10.0.0.0/33") as any).error).toContain("not a CIDR");
  });
});

describe("watchlist matching", () => {
  const lists: WatchlistDef[] = [
    {
      id: "w1",
      name: "bad nets",
      label: "bad-net",
      severity: "high",
      entries: [
        { kind: "cidr", value: "203.0.113.0/24" },
        { kind: "cidr", value: "2001:db8:bad::/48" },
      ],
    },
    {
      id: "w2",
      name: "iocs",
      label: "ioc",
      severity: null,
      entries: [
        { kind: "domain", value: "evil.example" },
        { kind: "hash", value: "d41d8cd98f00b204e9800998ecf8427e" },
        { kind: "account", value: "jsmith@company.com" },
        { kind: "email", value: "ceo@company.com" },
      ],
    },
  ];
  const c = compileWatchlists(lists);
  const labels = (type: any, value: string) => watchlistHits(c, { type, value }).map((h) => h.label);
  test("CIDRs match IPs (v4 and v6) and URLs with an IP host", () => {
    expect(labels("ip", "203.0.113.9")).toEqual(["bad-net"]);
    expect(labels("ip", "203.0.114.9")).toEqual([]);
    expect(labels("ip", "2001:db8:bad:1::5")).toEqual(["bad-net"]);
    expect(labels("url", "http://203.0.113.1/x")).toEqual(["bad-net"]);
  });
  test("domains match themselves and subdomains, URL hosts and email domains, not look-alikes", () => {
    expect(labels("domain", "evil.example")).toEqual(["ioc"]);
    expect(labels("domain", "a.b.evil.example")).toEqual(["ioc"]);
    expect(labels("domain", "notevil.example")).toEqual([]);
    expect(labels("domain", "evil.example.org")).toEqual([]);
    expect(labels("url", "https://cdn.evil.example/p?q=1")).toEqual(["ioc"]);
    expect(labels("email", "x@mail.evil.example")).toEqual(["ioc"]);
  });
  test("hashes, accounts and emails match case-insensitively", () => {
    expect(labels("hash_md5", "D41D8CD98F00B204E9800998ECF8427E")).toEqual(["ioc"]);
    expect(labels("account", "JSmith@Company.com")).toEqual(["ioc"]);
    expect(labels("email", "jsmith@company.com")).toEqual(["ioc"]);
    expect(labels("account", "ceo@company.com")).toEqual(["ioc"]);
    expect(labels("account", "someone")).toEqual([]);
  });
  test("effects: tags per label, severity raised, never lowered", () => {
    const hits = [...watchlistHits(c, { type: "ip", value: "203.0.113.9" }), ...watchlistHits(c, { type: "domain", value: "evil.example" })];
    expect(alertEffects(hits, "low")).toEqual({ tags: ["watchlist:bad-net", "watchlist:ioc"], severity: "high" });
    expect(alertEffects(hits, "critical").severity).toBeNull();
    expect(alertEffects(hits, "high").severity).toBeNull();
  });
});

describe("lookup templates and verdicts", () => {
  test("templates", () => {
    expect(templateProblem("https://intel.example/ip/{{value}}")).toBeNull();
    expect(templateProblem("https://intel.example/q?type={{ type }}&v={{value}}")).toBeNull();
    expect(templateProblem("https://intel.example/ip/")).toContain("{{value}}");
    expect(templateProblem("https://{{value}}.intel.example/")).toContain("host");
    expect(templateProblem("ftp://intel.example/{{value}}")).toContain("http");
    expect(templateProblem("https://intel.example/{{secret}}/{{value}}")).toContain("unknown placeholder");
    expect(templateProblem("not a url {{value}}")).toContain("absolute URL");
  });
  test("the value is URL-encoded", () => {
    expect(renderTemplate("https://i.example/u/{{value}}?t={{type}}", { type: "url", value: "http://a.example/x?y=1&z=2#f" })).toBe(
      "https://i.example/u/http%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z%3D2%23f?t=url",
    );
    expect(renderTemplate("https://i.example/{{value}}", { type: "account", value: "../../admin" })).toBe("https://i.example/..%2F..%2Fadmin");
    expect(renderTemplate("https://i.example/a/{{value}}", { type: "account", value: ".." })).toBe("https://i.example/a/%2E%2E");
  });
  test("verdicts and bodies", () => {
    expect(lookupVerdict(200, null, false)).toBe("ok");
    expect(lookupVerdict(404, null, false)).toBe("ok");
    expect(lookupVerdict(500, null, false)).toBe("retry");
    expect(lookupVerdict(429, null, false)).toBe("retry");
    expect(lookupVerdict(null, "timed out after 300 ms", false)).toBe("retry");
    expect(lookupVerdict(401, null, false)).toBe("fail");
    expect(lookupVerdict(302, null, false)).toBe("fail");
    expect(lookupVerdict(null, "target refused", true)).toBe("fail");
    expect(lookupBody('{"a":1}')).toEqual({ body: { a: 1 }, body_format: "json" });
    expect(lookupBody("plain")).toEqual({ body: "plain", body_format: "text" });
    expect(lookupBody("")).toEqual({ body: null, body_format: "none" });
  });
});
