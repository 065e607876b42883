// Text both stores can hold. PostgreSQL's text refuses U+0000 ("invalid byte sequence for encoding
// UTF8: 0x00") and its jsonb refuses an unpaired surrogate escape; SQLite stores both. The house
// rule (DESIGN.md "Hostile input"), the same on both stores:
// - text a sender's event or ping carries (title, summary, tags, host, ...) is kept with U+FFFD in
//   place of each NUL and unpaired surrogate (`storableText`), by the ingest normalizer;
// - configuration text a client sends to the API (names, filters, headers, templates, ...) holding
//   either is refused with a 422 naming the field (`unstorableAt`), by the request gate;
// - the raw payload is kept byte for byte: it is the sender's JSON text, in which a NUL or an
//   unpaired surrogate can only be an escape (`\u0000`), i.e. plain ASCII.
// U+FFFE, U+FFFF and other noncharacters are valid UTF-8 and stored as they are.

/** A NUL or an unpaired surrogate, the two things PostgreSQL cannot store. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, "g");

/** True when `s` holds a NUL or an unpaired surrogate. */
export function isUnstorable(s: string): boolean {
  return UNSTORABLE.test(s);
}

/** `s` with U+FFFD for every NUL and unpaired surrogate (the same string when there are none). */
export function storableText(s: string): string;
export function storableText(s: string | null): string | null;
export function storableText(s: string | null): string | null {
  if (s === null || !UNSTORABLE.test(s)) return s;
  return s.replace(UNSTORABLE_ALL, "\ufffd");
}

/** `s` cut to at most `max` UTF-16 units without splitting a surrogate pair. */
export function sliceText(s: string, max: number): string {
  if (s.length <= max) return s;
  const c = s.charCodeAt(max - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
}

const MAX_WALK = 100_000;

/**
 * The JSON pointer of the first string (a value or an object key) in `v` that holds a NUL or an
 * unpaired surrogate, or null. Iterative (bodies are depth-bounded already, but no recursion).
 */
export function unstorableAt(v: unknown): { path: string; what: "value" | "key" } | null {
  const stack: [unknown, string][] = [[v, ""]];
  let seen = 0;
  while (stack.length) {
    const [x, path] = stack.pop()!;
    if (++seen > MAX_WALK) return null;
    if (typeof x === "string") {
      if (UNSTORABLE.test(x)) return { path, what: "value" };
    } else if (Array.isArray(x)) {
      for (let i = x.length - 1; i >= 0; i--) stack.push([x[i], `${path}/${i}`]);
    } else if (x && typeof x === "object") {
      const keys = Object.keys(x);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i];
        const p = `${path}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
        if (UNSTORABLE.test(k)) return { path: storableText(p), what: "key" };
        stack.push([(x as Record<string, unknown>)[k], p]);
      }
    }
  }
  return null;
}

/** The sentence of a 422 detail for text refused by `unstorableAt`. */
export const UNSTORABLE_MESSAGE = "must not contain U+0000 (NUL) or an unpaired surrogate (\\ud800-\\udfff without its pair)";
