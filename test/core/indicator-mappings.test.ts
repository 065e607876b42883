// The pure side of indicator extraction: the system table on nested and flat (ECS-style) keys,
// path parsing, values at a path, the bounds of the walk, and the merge of the three passes.
import { describe, expect, test } from "bun:test";
import { compileMapping, customPass, parsePath, runPasses, systemPass, valuesAt } from "../../src/core/indicator-mappings";

const pairs = (l: { type: string; value: string }[]) => l.map((i) => `${i.type}:${i.value}`).sort();

describe("system pass", () => {
  test("ECS fields, nested and flat, at any depth; bare `name` means nothing", () => {
    const nested = {
      source: { ip: "192.0.2.1" },
      destination: { ip: "2001:DB8::1" },
      user: { name: "jsmith" },
      host: { name: "ws-1.corp.example" },
      dns: { question: { name: "Evil.Example.net" } },
      url: { full: "https://evil.example.net/x" },
      file: { hash: { md5: "D41D8CD98F00B204E9800998ECF8427E" } },
      rule: { name: "not an indicator" },
    };
    const flat = Object.fromEntries([
      ["source.ip", "192.0.2.1"],
      ["destination.ip", "2001:DB8::1"],
      ["user.name", "jsmith"],
      ["host.name", "ws-1.corp.example"],
      ["dns.question.name", "Evil.Example.net"],
      ["url.full", "https://evil.example.net/x"],
      ["file.hash.md5", "D41D8CD98F00B204E9800998ECF8427E"],
      ["rule.name", "not an indicator"],
    ]);
    const want = [
      "account:jsmith",
      "domain:evil.example.net",
      "domain:ws-1.corp.example",
      "hash_md5:d41d8cd98f00b204e9800998ecf8427e",
      "ip:192.0.2.1",
      "ip:2001:db8::1",
      "url:https://evil.example.net/x",
    ];
    expect(pairs(systemPass({ host: null }, nested).found)).toEqual(want);
    expect(pairs(systemPass({ host: null }, flat).found)).toEqual(want);
    expect(pairs(systemPass({ host: null }, { alerts: [{ alert: nested }] }).found)).toEqual(want);
  });

  test("the normalized host: ip or domain, port dropped; invalid values dropped with the reason", () => {
    expect(pairs(systemPass({ host: "10.0.0.1:9100" }, {}).found)).toEqual(["ip:10.0.0.1"]);
    expect(pairs(systemPass({ host: "[::1]:80" }, {}).found)).toEqual(["ip:::1"]);
    expect(pairs(systemPass({ host: "db.example.com" }, {}).found)).toEqual(["domain:db.example.com"]);
    const r = systemPass({ host: "backup-1" }, { src_ip: "nope", sha1: "abc", ips: { ip: ["192.0.2.7", 5, "bad"] } });
    expect(pairs(r.found)).toEqual(["ip:192.0.2.7"]);
    expect(r.dropped.map((d) => `${d.path} ${d.type}`).sort()).toEqual(["(host) domain", "ips.ip[2] ip", "sha1 hash_sha1", "src_ip ip"]);
    expect(r.dropped.find((d) => d.path === "sha1")!.reason).toContain("40 hex characters");
  });

  test("keys named like Object.prototype members are plain keys", () => {
    const item = JSON.parse('{"constructor": "x", "toString": "y", "__proto__": {"ip": "192.0.2.3"}, "hasOwnProperty": ["z"]}');
    expect(pairs(systemPass({ host: null }, item).found)).toEqual(["ip:192.0.2.3"]);
  });

  test("a url under rule/alert/links is the sender's own link, not an indicator; elsewhere it is one", () => {
    const item = { rule: { url: "https://kibana.example.com/app/rules/1" }, event: { url: "https://evil.example/x" }, url: "https://c2.example/beacon" };
    expect(pairs(systemPass({ host: null }, item).found)).toEqual(["url:https://c2.example/beacon", "url:https://evil.example/x"]);
  });

  test("the walk is bounded in depth", () => {
    let deep: any = { src_ip: "192.0.2.200" };
    for (let i = 0; i < 50; i++) deep = { d: deep };
    expect(systemPass({ host: null }, deep).found).toEqual([]);
  });
});

describe("custom paths", () => {
  test("parsePath refuses empty segments, stray brackets and surrounding spaces", () => {
    for (const bad of ["", " a", "a..b", "a[", "a[0]", "a.b[]c", "."]) expect("error" in parsePath(bad)).toBe(true);
    for (const good of ["a", "a.b", "a[].b", "a.*.b", "a.0", "*"]) expect("segs" in parsePath(good)).toBe(true);
  });

  test("valuesAt: key[], *, index, flat dotted keys, arrays of strings", () => {
    const item = { a: [{ b: "1" }, { b: "2" }, {}], o: { x: { v: "3" }, y: { v: "4" } }, "k.l": { m: "5" }, s: ["6", "7"] };
    const at = (p: string) => valuesAt(item, (parsePath(p) as any).segs).map((r) => r.value);
    expect(at("a[].b")).toEqual(["1", "2"]);
    expect(at("a.*.b")).toEqual(["1", "2"]);
    expect(at("a.1.b")).toEqual(["2"]);
    expect(at("o.*.v")).toEqual(["3", "4"]);
    expect(at("k.l.m")).toEqual(["5"]);
    expect(at("s")).toEqual([["6", "7"]]);
    expect(at("nope.x")).toEqual([]);
    const m = compileMapping({ source: null, path: "s", type: "account" })!;
    expect(pairs(customPass([m], item).found)).toEqual(["account:6", "account:7"]);
  });

  test("runPasses merges explicit, system, custom by (type, value), first origin wins", () => {
    const m = compileMapping({ source: null, path: "peer", type: "ip" })!;
    const p = runPasses([{ type: "ip", value: "192.0.2.1", origin: "explicit" }], { host: "192.0.2.1" }, { peer: "192.0.2.1", src_ip: "192.0.2.2" }, [m]);
    expect(p.indicators).toEqual([
      { type: "ip", value: "192.0.2.1", origin: "explicit" },
      { type: "ip", value: "192.0.2.2", origin: "system" },
    ]);
    expect(pairs(p.custom)).toEqual(["ip:192.0.2.1"]);
  });
});
