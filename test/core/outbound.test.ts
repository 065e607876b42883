// Pure outbound logic: backoff, Retry-After, signing (checked with the independent
// standardwebhooks package), trigger matching, address ranges.
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { backoffDelay, DEFAULT_RETRY, isLastAttempt, parseRetryAfter, totalDelay } from "../../src/core/backoff";
import { parseAllowList, refusedReason } from "../../src/core/netrange";
import { generateSecret, isSecret, maskSecret, signatureHeaders } from "../../src/core/signing";
import { messageMatches, typeMatches } from "../../src/core/triggers";

describe("backoff", () => {
  test("doubles from the initial delay up to the cap, jitter within ±20 %", () => {
    const p = { maxAttempts: 6, initialMs: 1000, maxMs: 5000, jitter: 0.2 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(p, a, () => 0.5))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(backoffDelay(p, 1, () => 0)).toBe(800);
    expect(backoffDelay(p, 1, () => 1)).toBe(1200);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(p, 3);
      expect(d).toBeGreaterThanOrEqual(3200);
      expect(d).toBeLessThanOrEqual(4800);
    }
    expect(isLastAttempt(p, 5)).toBe(false);
    expect(isLastAttempt(p, 6)).toBe(true);
    expect(isLastAttempt({ maxAttempts: 0 }, 1e6)).toBe(false);
  });

  test("the default policy spans about an hour", () => {
    const total = totalDelay(DEFAULT_RETRY);
    expect(total).toBeGreaterThan(55 * 60_000);
    expect(total).toBeLessThan(70 * 60_000);
  });

  test("Retry-After: seconds or a date, clamped to [1 s, 1 h]", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("5", now)).toBe(5000);
    expect(parseRetryAfter("0", now)).toBe(1000);
    expect(parseRetryAfter("86400", now)).toBe(3_600_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});

describe("signing", () => {
  test("Standard Webhooks signatures verify with the standardwebhooks package", () => {
    const secret = generateSecret();
    expect(isSecret(secret)).toBe(true);
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ id: "msg_1", type: "event.received", timestamp: new Date().toISOString(), data: { a: "ü" } });
    const h = signatureHeaders([secret], "msg_1", ts, body);
    expect(new Webhook(secret).verify(body, h)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, h)).toThrow();
    expect(() => new Webhook(secret).verify(body + " ", h)).toThrow();
    expect(h["x-keepwatch-signature"]).toBe("sha256=" + createHmac("sha256", secret).update(body).digest("hex"));
  });

  test("during a rotation both secrets sign, space-separated, and each verifies alone", () => {
    const [next, old] = [generateSecret(), generateSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"id":"msg_2"}';
    const h = signatureHeaders([next, old], "msg_2", ts, body);
    expect(h["webhook-signature"].split(" ")).toHaveLength(2);
    expect(h["x-keepwatch-signature"].split(" ")).toHaveLength(2);
    expect(new Webhook(next).verify(body, h)).toEqual({ id: "msg_2" });
    expect(new Webhook(old).verify(body, h)).toEqual({ id: "msg_2" });
  });

  test("secrets are whsec_ + base64 and masked in reads", () => {
    expect(isSecret("whsec_abc")).toBe(false);
    expect(isSecret("nope")).toBe(false);
    const s = generateSecret();
    expect(maskSecret(s)).not.toContain(s.slice(6, -4));
  });
});

describe("triggers", () => {
  test("types with wildcards", () => {
    expect(typeMatches("event.received", "event.received")).toBe(true);
    expect(typeMatches("alert.*", "alert.opened")).toBe(true);
    expect(typeMatches("alert.*", "alerts.opened")).toBe(false);
    expect(typeMatches("alert.*", "alert")).toBe(false);
    expect(typeMatches("*", "heartbeat.down")).toBe(true);
    expect(typeMatches("heartbeat.down", "heartbeat.up")).toBe(false);
  });

  test("filters on severity (at least), source and tags", () => {
    const m = { type: "event.received", severity: "high" as const, source: "ci", tags: ["prod", "api"] };
    expect(messageMatches(["event.*"], {}, m)).toBe(true);
    expect(messageMatches(["alert.*"], {}, m)).toBe(false);
    expect(messageMatches(["*"], { min_severity: "high" }, m)).toBe(true);
    expect(messageMatches(["*"], { min_severity: "critical" }, m)).toBe(false);
    expect(messageMatches(["*"], { sources: ["ci", "cd"] }, m)).toBe(true);
    expect(messageMatches(["*"], { sources: ["cron"] }, m)).toBe(false);
    expect(messageMatches(["*"], { tags: ["prod"] }, m)).toBe(true);
    expect(messageMatches(["*"], { tags: ["dev"] }, m)).toBe(false);
  });
});

describe("address ranges", () => {
  test("refuses loopback, private, link-local, metadata, CGNAT, multicast, unspecified", () => {
    for (const a of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "0.0.0.0", "::1", "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254"])
      expect(refusedReason(a, [])).not.toBeNull();
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "172.32.0.1", "100.128.0.1"]) expect(refusedReason(a, [])).toBeNull();
  });

  test("an allow list opens exactly its ranges", () => {
    const allow = parseAllowList("127.0.0.0/8, fd00::/8");
    expect(refusedReason("127.0.0.1", allow)).toBeNull();
    expect(refusedReason("127.255.1.2", allow)).toBeNull();
    expect(refusedReason("fd12::1", allow)).toBeNull();
    expect(refusedReason("10.0.0.1", allow)).not.toBeNull();
    expect(refusedReason("169.254.169.254", allow)).not.toBeNull();
    expect(() => parseAllowList("10.0.0.0/33")).toThrow();
    expect(() => parseAllowList("nope")).toThrow();
  });
});
