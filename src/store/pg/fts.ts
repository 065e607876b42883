// The words of PostgreSQL's full-text search, made by keepwatch rather than by PostgreSQL's parser:
// the same words as SQLite's FTS5 unicode61 tokenizer (runs of letters and digits; everything else
// separates words; case and accents folded), so both stores find the same events, and PostgreSQL
// only parses a ready tsvector instead of running its text-search parser on every payload inside the
// ingest transaction (measured: ~70 µs per ~400-byte event for to_tsvector alone, ~150 µs with the
// punctuation split it needs, on the ingest path; this costs a few µs in JS).
//
// The document is the tsvector of title, summary and payload (events.fts, GIN-indexed); positions
// count words, with a gap between the fields so that a phrase never spans two of them (FTS5 columns).

import { searchTerms } from "../events";

const ASCII = /^[\x00-\x7f]*$/;

/** Calls `f` with each word of a text: letters and digits, lower-cased, accents removed. */
function eachWord(text: string, f: (w: string) => void): void {
  const lower = text.toLowerCase();
  // most payloads are ASCII: no accents to remove, and a cheaper pattern
  const ascii = ASCII.test(lower);
  const src = ascii ? lower : lower.normalize("NFD").replace(/\p{M}+/gu, "");
  const re = ascii ? /[a-z0-9]+/g : /[\p{L}\p{N}]+/gu;
  for (let m = re.exec(src); m !== null; m = re.exec(src)) f(m[0]);
}

/** The words of a text, in order. */
export function ftsWords(text: string): string[] {
  const out: string[] = [];
  eachWord(text, (w) => out.push(w));
  return out;
}

/** tsvector limits: a lexeme under 2 KB, positions 1..16383 and 256 per lexeme, the whole under 1 MB. */
const MAX_WORD_BYTES = 2046;
const MAX_POS = 16383;
const MAX_POSITIONS = 255;
const MAX_DOC_BYTES = 900_000;

/** The tsvector literal of an event's searchable fields. */
export function ftsDoc(
  title: string,
  summary: string,
  payload: string,
): string {
  const at = new Map<string, number[]>();
  let pos = 1;
  let bytes = 0;
  const add = (w: string) => {
    const p = pos < MAX_POS ? pos++ : MAX_POS;
    const ps = at.get(w);
    if (ps) {
      if (ps.length < MAX_POSITIONS && ps[ps.length - 1] !== p) {
        ps.push(p);
        bytes += 2;
      }
      return;
    }
    // UTF-8 bytes: at most 3 per UTF-16 unit; counted exactly only when that bound is too long
    const size =
      w.length * 3 <= MAX_WORD_BYTES
        ? w.length * 3
        : new TextEncoder().encode(w).length;
    // too long for a lexeme, or the vector is full: the word is not indexed (to_tsvector skips long words too)
    if (size > MAX_WORD_BYTES || bytes + size + 8 > MAX_DOC_BYTES) return;
    at.set(w, [p]);
    bytes += size + 8;
  };
  for (const field of [title, summary, payload]) {
    eachWord(field, add);
    pos++; // a gap: no phrase across two fields
  }
  // words are letters and digits only: nothing to escape inside the quotes
  let out = "";
  for (const [w, ps] of at) out += `${out ? " " : ""}'${w}':${ps.join(",")}`;
  return out;
}

/**
 * The user's search text as a tsquery literal, or null when it has no word to look for: the twin of
 * ftsQuery (src/store/events.ts). Every whitespace-separated term must appear (AND); a term is a
 * phrase of its words; the last word also matches as a prefix. Operators of either syntax are
 * plain text: only words reach the query.
 */
export function ftsTsQuery(text: string): string | null {
  const terms = searchTerms(text)
    .map(ftsWords)
    .filter((ws) => ws.length);
  if (!terms.length) return null;
  const phrases = terms.map((ws) => ws.map((w) => `'${w}'`));
  const last = phrases[phrases.length - 1]!;
  last[last.length - 1] += ":*";
  return phrases
    .map((ws) => (ws.length > 1 ? `(${ws.join(" <-> ")})` : ws[0]))
    .join(" & ");
}
