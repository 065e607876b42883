import { describe, expect, test } from "bun:test";
import { matches, validateFilter, type Matchable } from "../../src/core/filter";

const e: Matchable = {
  type: "deploy.failed",
  source: "github-actions",
  sourceName: "events",
  module: "ci",
  title: "prod deploy failed",
  summary: "step build",
  severity: "high",
  host: null,
  tags: ["prod", "api"],
  payload: { env: "prod", attempts: 3, service: { name: "api" } },
};

describe("matching", () => {
  test("ops on fields and payload paths", () => {
    expect(matches({ field: "type", op: "eq", value: "deploy.failed" }, e)).toBe(true);
    expect(matches({ field: "payload.env", op: "eq", value: "prod" }, e)).toBe(true);
    expect(matches({ field: "payload.service.name", op: "in", value: ["web", "api"] }, e)).toBe(true);
    expect(matches({ field: "source", op: "prefix", value: "github" }, e)).toBe(true);
    expect(matches({ field: "title", op: "contains", value: "deploy" }, e)).toBe(true);
    expect(matches({ field: "tags", op: "contains", value: "prod" }, e)).toBe(true);
    expect(matches({ field: "title", op: "regex", value: "^prod .* failed$" }, e)).toBe(true);
    expect(matches({ field: "severity", op: "gte", value: "medium" }, e)).toBe(true);
    expect(matches({ field: "severity", op: "gte", value: "critical" }, e)).toBe(false);
    expect(matches({ field: "payload.attempts", op: "lte", value: 3 }, e)).toBe(true);
    expect(matches({ field: "payload.missing", op: "exists" }, e)).toBe(false);
    expect(matches({ field: "payload.env", op: "neq", value: "dev" }, e)).toBe(true);
  });
  test("all / any / not", () => {
    const f = { all: [{ field: "type", op: "eq", value: "deploy.failed" }, { not: { field: "payload.env", op: "eq", value: "dev" } }, { any: [{ field: "source", op: "eq", value: "x" }, { field: "module", op: "eq", value: "ci" }] }] } as const;
    expect(matches(f as any, e)).toBe(true);
    expect(matches({ not: f } as any, e)).toBe(false);
  });
});

describe("validation points at the bad part", () => {
  test("good filters pass", () => {
    expect(validateFilter({ all: [{ field: "type", op: "eq", value: "heartbeat" }, { field: "source", op: "eq", value: "nightly-backup" }] })).toEqual([]);
  });
  test("bad ones name the JSON pointer", () => {
    expect(validateFilter({ all: [{ field: "type", op: "eq", value: "x" }, { field: "nope", op: "eq", value: 1 }] })[0]).toEqual({ path: "/all/1/field", message: expect.stringContaining("payload.<path>") });
    expect(validateFilter({ any: [{ field: "type", op: "like", value: "x" }] })[0].path).toBe("/any/0/op");
    expect(validateFilter({ field: "title", op: "regex", value: "(" })[0]).toEqual({ path: "/value", message: expect.stringContaining("not a supported regular expression") });
    expect(validateFilter({ field: "severity", op: "gte", value: "urgent" })[0].path).toBe("/value");
    expect(validateFilter({ field: "type", op: "in", value: "x" })[0].message).toMatch(/array/);
    expect(validateFilter({ not: { field: "type", op: "eq" } })[0]).toEqual({ path: "/not/value", message: "eq needs a value" });
    expect(validateFilter([])[0].path).toBe("");
    expect(validateFilter({ all: [] })[0].path).toBe("/all");
  });
});

describe("prototype names in payload paths", () => {
  test("payload.<prototype name> reads the sender's own key only, never an inherited member", () => {
    const names = [...Object.getOwnPropertyNames(Object.prototype), "prototype"];
    for (const k of names) {
      // absent from the payload: nothing exists there, whatever every object inherits
      expect({ k, m: matches({ field: `payload.${k}`, op: "exists" }, e) }).toEqual({ k, m: false });
      expect({ k, m: matches({ field: `payload.service.${k}.x`, op: "exists" }, e) }).toEqual({ k, m: false });
      // present as the sender's own key: found like any other key
      const own = { ...e, payload: JSON.parse(`{"${k}": "v"}`) };
      expect({ k, m: matches({ field: `payload.${k}`, op: "eq", value: "v" }, own) }).toEqual({ k, m: true });
    }
    // a severity comparison against a word off the scale never matches
    expect(matches({ field: "severity", op: "gte", value: "constructor" } as any, e)).toBe(false);
  });
});
