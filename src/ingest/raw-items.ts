// The text of each element of a JSON array body, as the sender wrote it, so that every item of a
// batch is stored as its raw payload byte for byte (re-serializing a parsed item turns 1e400 into
// null, rounds 12345678901234567891 and drops -0). Pure and linear: one pass over text that
// JSON.parse has already accepted, no recursion.

/** The texts of the top-level elements of `text` (a JSON array), or null when it is not an array. */
export function arrayItemTexts(text: string): string[] | null {
  let i = 0;
  const n = text.length;
  const isWs = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
  while (i < n && isWs(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 91) return null; // [
  i++;
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let end = -1; // one past the last non-space character of the current element
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // a string: skip to its closing quote
      if (start < 0) start = i;
      // to the closing quote: the next quote not escaped by an odd run of backslashes
      for (let from = i + 1; ; ) {
        const q = text.indexOf('"', from);
        if (q < 0) return out; // cannot happen in text JSON.parse accepted
        let b = q - 1;
        while (text.charCodeAt(b) === 92) b--;
        if ((q - 1 - b) % 2 === 0) {
          i = q;
          break;
        }
        from = q + 1;
      }
      end = i + 1;
      continue;
    }
    if (isWs(c)) continue;
    if (depth === 0 && (c === 44 || c === 93)) {
      // , or ] at the top level: the current element ends
      if (start >= 0) out.push(text.slice(start, end));
      start = -1;
      if (c === 93) return out;
      continue;
    }
    if (start < 0) start = i;
    if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
    end = i + 1;
  }
  return out;
}
