// src/core/text.ts: what counts as text PostgreSQL cannot store, its U+FFFD form, and where in a
// JSON value the first such string is.
import { expect, test } from "bun:test";
import { isUnstorable, sliceText, storableText, unstorableAt } from "../../src/core/text";

test("NUL and unpaired surrogates are unstorable; pairs, U+FFFE and U+FFFF are not", () => {
  for (const s of ["\u0000", "a\u0000", "\ud83d", "x\ud83dy", "\ude00", "\ude00\ud83d", "😀\ud800"]) expect({ s, bad: isUnstorable(s) }).toEqual({ s, bad: true });
  for (const s of ["", "abc", "😀", "\ud83d\ude00", "\ufffe", "\uffff", "\ufeff", "é\u0301"]) expect({ s, bad: isUnstorable(s) }).toEqual({ s, bad: false });
});

test("storableText puts U+FFFD in place of each, keeps pairs, and returns the same string when clean", () => {
  expect(storableText("a\u0000b\u0000")).toBe("a\ufffdb\ufffd");
  expect(storableText("x\ud83dy\ude00😀")).toBe("x\ufffdy\ufffd😀");
  expect(storableText("\ude00\ud83d")).toBe("\ufffd\ufffd");
  expect(storableText(null)).toBe(null);
  const clean = "plain text ✓";
  expect(storableText(clean)).toBe(clean);
});

test("sliceText never splits a pair", () => {
  expect(sliceText("ab😀", 3)).toBe("ab");
  expect(sliceText("ab😀", 4)).toBe("ab😀");
  expect(sliceText("abc", 2)).toBe("ab");
  expect(isUnstorable(sliceText("😀".repeat(600), 1024))).toBe(false);
});

test("unstorableAt names the first bad value or field name by JSON pointer", () => {
  expect(unstorableAt({ a: "ok", b: ["x", "y\u0000"] })).toEqual({ path: "/b/1", what: "value" });
  expect(unstorableAt({ headers: { "X-\ud800": "v" } })).toEqual({ path: "/headers/X-\ufffd", what: "key" });
  expect(unstorableAt({ "a/b": { "c~d": "\udfff" } })).toEqual({ path: "/a~1b/c~0d", what: "value" });
  expect(unstorableAt("\u0000")).toEqual({ path: "", what: "value" });
  expect(unstorableAt({ a: 1, b: [true, null, "😀"] })).toBe(null);
});
