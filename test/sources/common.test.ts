// The helpers the vendor sources share: dotted-or-nested field access and extracted indicators.
import { describe, expect, test } from "bun:test";
import { dget, dotted, Extracted, lowerKeys, vendorSeverity } from "../../src/sources/common";

describe("dget / dotted: flat dotted keys, nested objects, or a mix", () => {
  const flat = { "kibana.alert.rule.name": "flat" };
  const nested = { kibana: { alert: { rule: { name: "nested" } } } };
  const mixed = { kibana: { "alert.rule": { name: "mixed" } } };
  test("finds the value in each spelling, with the pointer where it is", () => {
    expect(dget(flat, "kibana.alert.rule.name")).toBe("flat");
    expect(dget(nested, "kibana.alert.rule.name")).toBe("nested");
    expect(dget(mixed, "kibana.alert.rule.name")).toBe("mixed");
    expect(dotted(flat, "kibana.alert.rule.name")!.at).toBe("/kibana.alert.rule.name");
    expect(dotted(nested, "kibana.alert.rule.name", "/context/alerts/0")!.at).toBe("/context/alerts/0/kibana/alert/rule/name");
    expect(dotted(mixed, "kibana.alert.rule.name")!.at).toBe("/kibana/alert.rule/name");
  });
  test("absent, through arrays or scalars, and null kept as null", () => {
    expect(dget(nested, "kibana.alert.rule.uuid")).toBeUndefined();
    expect(dget({ kibana: [1] }, "kibana.alert")).toBeUndefined();
    expect(dget({ kibana: "x" }, "kibana.alert")).toBeUndefined();
    expect(dget({ "a.b": null }, "a.b")).toBeNull();
    expect(dget({ a: { b: 0 } }, "a.b")).toBe(0);
    // a prototype property is not a field
    expect(dget({}, "constructor")).toBeUndefined();
  });
  test("a nested branch without the field does not hide a flat one further on", () => {
    expect(dget({ source: { port: 1 }, "source.ip": "192.0.2.1" }, "source.ip")).toBe("192.0.2.1");
  });
});

describe("Extracted indicators", () => {
  test("validated, canonical, de-duplicated, marked system; invalid ones dropped", () => {
    const x = new Extracted();
    x.add("ip", "192.0.2.1");
    x.add("ip", "192.0.2.1");
    x.add("ip", "999.1.1.1");
    x.add("domain", "Example.COM.");
    x.add("email", 5);
    x.addAll("url", ["https://a.example/x", "not a url", null]);
    expect(x.list).toEqual([
      { type: "ip", value: "192.0.2.1", origin: "system" },
      { type: "domain", value: "example.com", origin: "system" },
      { type: "url", value: "https://a.example/x", origin: "system" },
    ]);
  });
  test("hashes by algorithm name or by length; hosts as IP or domain", () => {
    const x = new Extracted();
    x.addHash("D41D8CD98F00B204E9800998ECF8427E");
    x.addHash("da39a3ee5e6b4b0d3255bfef95601890afd80709", "SHA-1");
    x.addHash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "SHA256AC"); // not a file hash type we keep
    x.addHash("abc");
    x.addHost(["10.0.0.1", "db.example.org", "no_dots"]);
    expect(x.list.map((i) => `${i.type}:${i.value}`)).toEqual([
      "hash_md5:d41d8cd98f00b204e9800998ecf8427e",
      "hash_sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
      "ip:10.0.0.1",
      "domain:db.example.org",
    ]);
  });
});

test("vendorSeverity keeps the raw word and warns about unknown ones", () => {
  const w: string[] = [];
  expect(vendorSeverity("Informational", "severity", w)).toEqual({ severity: "info", raw: "Informational" });
  expect(vendorSeverity("purple", "severity", w)).toEqual({ severity: "unknown", raw: "purple" });
  expect(vendorSeverity(undefined, "severity", w)).toEqual({ severity: "unknown", raw: null });
  expect(w).toEqual(['severity "purple" is not a severity we know; stored as unknown']);
  expect(lowerKeys({ UPNSuffix: "a", upnsuffix: "b" }).get("upnsuffix")).toBe("a");
});
