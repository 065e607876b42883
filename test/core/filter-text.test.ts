// The filter as readable text: every operator reads as words, groups nest with parentheses, and
// values are quoted JSON (a value cannot pass for an operator). A seeded walk over random
// filters: the text names every field and every value, and never throws.
import { expect, test } from "bun:test";
import { FIELDS, OPS } from "../../src/core/filter";
import { filterText, simpleFilter } from "../../src/core/filter-text";

test("every operator reads as words", () => {
  const want: Record<string, string> = {
    eq: 'type = "a.b"',
    neq: 'type ≠ "a.b"',
    in: 'type in ["a.b","c.d"]',
    contains: 'type contains "a.b"',
    prefix: 'type starts with "a.b"',
    regex: 'type matches "a.b"',
    gte: 'type ≥ "a.b"',
    lte: 'type ≤ "a.b"',
    exists: "type exists",
  };
  for (const op of OPS) expect({ op, text: filterText({ field: "type", op, value: op === "in" ? ["a.b", "c.d"] : op === "exists" ? undefined : "a.b" }) }).toEqual({ op, text: want[op] });
  expect(filterText({ field: "host", op: "exists", value: false })).toBe("host is missing");
  expect(filterText({ all: [{ field: "type", op: "eq", value: "x" }, { any: [{ field: "severity", op: "gte", value: "high" }, { not: { field: "tags", op: "contains", value: "noise" } }] }] })).toBe(
    'type = "x" and (severity ≥ "high" or not (tags contains "noise"))',
  );
  // a value that looks like an operator stays a quoted value
  expect(filterText({ field: "summary", op: "eq", value: '" or type = "x' })).toBe('summary = "\\" or type = \\"x"');
});

test("a seeded walk: the text names every field and value of any filter, and the builder takes only flat ones", () => {
  let seed = Number(process.env.SEED ?? 1313);
  console.log(`filter-text walk seed ${seed}`);
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const fields = [...FIELDS, "payload.a.b", "payload.env"];
  const cond = () => {
    const op = OPS[rnd(OPS.length)];
    const value = op === "in" ? ["v" + rnd(100), "w" + rnd(100)] : op === "exists" ? undefined : rnd(2) ? rnd(1000) : `s${rnd(1000)} "q"`;
    return { field: fields[rnd(fields.length)], op, ...(value === undefined ? {} : { value }) };
  };
  const tree = (depth: number): any => {
    if (depth === 0 || rnd(3) === 0) return cond();
    const k = ["all", "any", "not"][rnd(3)];
    return k === "not" ? { not: tree(depth - 1) } : { [k]: Array.from({ length: 1 + rnd(3) }, () => tree(depth - 1)) };
  };
  const leaves = (f: any): any[] => (f.all ?? f.any ?? (f.not ? [f.not] : null))?.flatMap(leaves) ?? [f];
  for (let i = 0; i < 500; i++) {
    const f = tree(3);
    const text = filterText(f);
    for (const l of leaves(f)) {
      expect(text).toContain(l.field);
      if (l.value !== undefined) expect(text).toContain(JSON.stringify(l.value));
    }
    const flat = !!f.field || ((f.all || f.any) && (f.all ?? f.any).every((x: any) => x.field));
    expect({ f, simple: simpleFilter(f) !== null }).toEqual({ f, simple: !!flat });
  }
});
