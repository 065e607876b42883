// Pure pieces: severity scale, indicator validation, token bucket, time parsing, key format.
import { describe, expect, test } from "bun:test";
import { mergeIndicators, normalizeIndicator } from "../../src/core/indicators";
import { generateKey, hasScope, parseKey } from "../../src/core/keys";
import { newBucket, take } from "../../src/core/ratelimit";
import { mapSeverityScore, mapSeverityWord, SEVERITY_RANK } from "../../src/core/severity";
import { sha256Hex } from "../../src/lib/crypto";
import { newId, ulidTime } from "../../src/lib/ids";
import { parseDuration, parseTime } from "../../src/lib/time";

describe("severity", () => {
  test("words onto the scale, case-insensitively", () => {
    expect(mapSeverityWord("Informational")).toBe("info");
    expect(mapSeverityWord("warning")).toBe("medium");
    expect(mapSeverityWord("ERROR")).toBe("high");
    expect(mapSeverityWord("page")).toBe("critical");
    expect(mapSeverityWord("Pending")).toBe("unknown");
    expect(mapSeverityWord("whatever")).toBeNull();
  });
  test("scores in bands and ranks in order", () => {
    expect([0, 2, 5, 8, 10].map((n) => mapSeverityScore(n))).toEqual(["info", "low", "medium", "high", "critical"]);
    expect(SEVERITY_RANK.unknown).toBeLessThan(SEVERITY_RANK.info);
    expect(SEVERITY_RANK.high).toBeLessThan(SEVERITY_RANK.critical);
  });
});

describe("indicators", () => {
  const ok = (t: any, v: string) => (normalizeIndicator(t, v) as any).value;
  const bad = (t: any, v: string) => (normalizeIndicator(t, v) as any).error;
  test("ip v4 and v6, canonical case", () => {
    expect(ok("ip", "10.0.0.42")).toBe("10.0.0.42");
    expect(ok("ip", "2001:DB8::1")).toBe("2001:db8::1");
    expect(ok("ip", "[::1]")).toBe("::1");
    expect(bad("ip", "10.0.0.300")).toMatch(/not an IPv4 or IPv6/);
    expect(bad("ip", "example.com")).toBeDefined();
  });
  test("hashes by length and hex", () => {
    expect(ok("hash_md5", "D41D8CD98F00B204E9800998ECF8427E")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(bad("hash_md5", "d41d8cd98f00b204e9800998ecf8427")).toMatch(/32 hex/);
    expect(ok("hash_sha1", "a".repeat(40))).toBe("a".repeat(40));
    expect(bad("hash_sha256", "g".repeat(64))).toMatch(/64 hex/);
  });
  test("domains, emails, urls", () => {
    expect(ok("domain", "Evil.Example.COM.")).toBe("evil.example.com");
    expect(bad("domain", "10.0.0.1")).toBeDefined();
    expect(bad("domain", "no_underscore.com")).toBeDefined();
    expect(ok("email", "J.Smith@Company.com")).toBe("j.smith@company.com");
    expect(bad("email", "not an email")).toBeDefined();
    expect(ok("url", "https://x.example/a?b=1")).toBe("https://x.example/a?b=1");
    expect(bad("url", "/relative/path")).toBeDefined();
  });
  test("merge de-duplicates by (type, value), first wins", () => {
    const m = mergeIndicators(
      [{ type: "ip", value: "1.1.1.1" }],
      [{ type: "ip", value: "1.1.1.1" }, { type: "domain", value: "1.1.1.1" } as any],
    );
    expect(m.length).toBe(2);
  });
});

describe("token bucket", () => {
  test("burst, then refill at the rate, with a retry hint", () => {
    const b = newBucket(3, 0);
    expect([take(b, 0, 1, 3), take(b, 0, 1, 3), take(b, 0, 1, 3)].every((r) => r.ok)).toBe(true);
    const r = take(b, 0, 1, 3);
    expect(r).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(take(b, 500, 1, 3).ok).toBe(false);
    expect(take(b, 1000, 1, 3).ok).toBe(true);
    expect(take(b, 100_000, 1, 3).ok).toBe(true); // refills only up to the burst
    expect(take(b, 100_000, 1, 3).ok).toBe(true);
    expect(take(b, 100_000, 1, 3).ok).toBe(true);
    expect(take(b, 100_000, 1, 3).ok).toBe(false);
  });
  test("rate 0 is unlimited", () => {
    const b = newBucket(1, 0);
    for (let i = 0; i < 100; i++) expect(take(b, 0, 0, 1).ok).toBe(true);
  });
});

describe("time", () => {
  test("ISO 8601 / RFC 3339 with offsets, epoch seconds and milliseconds", () => {
    expect(parseTime("2025-01-15T10:28:00Z")).toEqual({ ms: Date.UTC(2025, 0, 15, 10, 28), format: "iso8601" });
    expect(parseTime("2025-01-15T12:28:00+02:00")!.ms).toBe(Date.UTC(2025, 0, 15, 10, 28));
    expect(parseTime("2025-01-15T12:28:00+0200")!.ms).toBe(Date.UTC(2025, 0, 15, 10, 28));
    expect(parseTime("2025-01-15 10:28:00.123456")!.ms).toBe(Date.UTC(2025, 0, 15, 10, 28, 0, 123));
    expect(parseTime(1736936880)).toEqual({ ms: 1736936880000, format: "epoch_s" });
    expect(parseTime("1736936880.5")!.ms).toBe(1736936880500);
    expect(parseTime(1736936880000)).toEqual({ ms: 1736936880000, format: "epoch_ms" });
    for (const bad of ["yesterday", "", "2025-13-45T00:00:00Z", -5, "12:00", {}]) expect(parseTime(bad)).toBeNull();
  });
  test("durations", () => {
    expect(parseDuration("90")).toBe(90_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("soon")).toBeNull();
  });
});

describe("keys and ids", () => {
  test("a generated key parses back to its prefix and hash", () => {
    const g = generateKey();
    expect(g.key).toMatch(/^kw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(parseKey(g.key)).toEqual({ prefix: g.prefix, hash: g.hash });
    expect(g.hash).toBe(sha256Hex(g.key));
    expect(parseKey("kw_short_x")).toBeNull();
  });
  test("admin implies the other scopes", () => {
    expect(hasScope(["admin"], "ingest")).toBe(true);
    expect(hasScope(["read"], "ingest")).toBe(false);
  });
  test("ULIDs are monotonic and carry their time", () => {
    // (a time later than any id this process made yet: the factory never goes backwards)
    const t = 4_000_000_000_000;
    const a = newId(t);
    const b = newId(t);
    expect(b > a).toBe(true);
    expect(ulidTime(a)).toBe(t);
    expect(newId(t + 1) > b).toBe(true);
  });
});
