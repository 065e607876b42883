// How much work an ingest request is, before anything parses it: its items (the elements of a
// top-level JSON array, else 1) and its bytes. The rate limits charge both (http/auth.ts), and the
// writer uses the item count to share each group commit between tenants (writer-thread.ts).

/**
 * The number of elements of a top-level JSON array, or 1 for any other body. One pass over the
 * bytes, no decoding (every byte JSON's structure uses is ASCII, and UTF-8 never puts an ASCII
 * byte inside a multi-byte character). Malformed JSON gets a best-effort count; the writer refuses
 * it anyway.
 */
export function countItems(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09 || b[i] === 0xef || b[i] === 0xbb || b[i] === 0xbf)) i++;
  if (i >= n || b[i] !== 0x5b /* [ */) return 1;
  let depth = 0;
  let items = 0;
  let sawValue = false;
  for (; i < n; i++) {
    const c = b[i];
    if (c === 0x22 /* " */) {
      if (depth === 1) sawValue = true;
      for (i++; i < n; i++) {
        const d = b[i];
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b /* [ { */) {
      if (depth === 1) sawValue = true;
      depth++;
    } else if (c === 0x5d || c === 0x7d /* ] } */) {
      depth--;
      if (depth === 0) break;
    } else if (c === 0x2c /* , */) {
      if (depth === 1) {
        items++;
        sawValue = false;
      }
    } else if (depth === 1 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) sawValue = true;
  }
  return items + (sawValue ? 1 : 0);
}
