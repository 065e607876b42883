// The scanner that cuts an array body into its items' texts (each stored as that item's raw
// payload): against seeded random JSON with random spacing, strings full of quotes and backslashes,
// and numbers JSON.parse would change.
import { expect, test } from "bun:test";
import { arrayItemTexts } from "../../src/ingest/raw-items";
import { seededRandom } from "../helpers";

const prng = seededRandom;

const SEED = Number(process.env.KEEPWATCH_FUZZ_SEED ?? 12345);
const r = prng(SEED);
const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
const ws = () => pick(["", "", " ", "\n", "\t ", "\r\n  "]);
const STR = ['"', "\\", '\\"', '\\\\"', "]", "}", ",", "[", "{", "é", "😀", "\u0000", "\u2028", "x"];

/** Random JSON text (with spacing and raw number tokens) of bounded depth. */
function gen(depth: number): string {
  const k = depth > 3 ? Math.floor(r() * 3) : Math.floor(r() * 6);
  switch (k) {
    case 0: return pick(["1e400", "-0", "12345678901234567891", "0.1000000000000000055511151231257827", "-1.5E-7", "0", "true", "false", "null"]);
    case 1:
    case 2: return JSON.stringify(Array.from({ length: Math.floor(r() * 6) }, () => pick(STR)).join(""));
    case 3: return `[${ws()}${Array.from({ length: Math.floor(r() * 4) }, () => gen(depth + 1)).join(`${ws()},${ws()}`)}${ws()}]`;
    default: {
      const keys = Array.from({ length: Math.floor(r() * 4) }, () => `${JSON.stringify(pick(STR) + pick(STR))}${ws()}:${ws()}${gen(depth + 1)}`);
      return `{${ws()}${keys.join(`${ws()},${ws()}`)}${ws()}}`;
    }
  }
}

test(`every item's text, exactly as written (seed ${SEED})`, () => {
  for (let round = 0; round < 2000; round++) {
    const items = Array.from({ length: Math.floor(r() * 6) }, () => gen(0));
    const body = `${ws()}[${ws()}${items.join(`${ws()},${ws()}`)}${ws()}]${ws()}`;
    JSON.parse(body); // the scanner only ever sees text JSON.parse accepted
    expect({ body, items: arrayItemTexts(body) }).toEqual({ body, items });
  }
});

test("a body that is not an array has no item texts", () => {
  for (const t of ["{}", ' {"a": [1]}', '"[1]"', "1", "null"]) expect(arrayItemTexts(t)).toBeNull();
});
