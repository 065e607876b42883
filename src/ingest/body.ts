// Reading an ingest body: content type, size limit (decided before buffering), UTF-8, JSON with
// the position of a syntax error, and a nesting limit.
import { createScanner } from "jsonc-parser";
import { ApiError } from "../http/errors";
import type { Logger } from "../lib/log";
import { leaveUnread } from "../http/linger";

export const MAX_DEPTH = 100;

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function isJsonContentType(ct: string | null): boolean {
  if (!ct || !charsetIsUtf8(ct)) return false;
  const media = ct.split(";")[0].trim().toLowerCase();
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
}

/** JSON is UTF-8 (RFC 8259): a Content-Type naming another charset is refused (415), not decoded as UTF-8. */
export function charsetIsUtf8(ct: string): boolean {
  const m = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(ct);
  return !m || /^utf-?8$/i.test(m[1]);
}

export type ReadOptions = {
  /** ms the whole body may take to arrive (0 or absent: no deadline); then 408 and the connection closes */
  timeoutMs?: number;
  /** where the timeout is logged (a warning naming the path and what had arrived) */
  log?: Logger;
};

/** Answers that leave the body unread close the connection: a client still sending it gets no reuse. */
const CLOSE = { connection: "close" };

/**
 * Reads the body as bytes, refusing (413) as soon as it is known to exceed `limit`, and (408) when
 * it has not all arrived within `timeoutMs`. A client that goes away mid-body is a 400
 * `body_aborted` (nobody reads it; the access log records it at info level, not as an error).
 */
export async function readBody(req: Request, limit: number, opts: ReadOptions = {}): Promise<Uint8Array> {
  // keepwatch does not decode Content-Encoding: an encoded body would reach the parser as other
  // bytes than the sender meant (gzip as "not UTF-8", a mislabelled plain one stored as is)
  const encoding = req.headers.get("content-encoding");
  if (encoding !== null && encoding.trim().toLowerCase() !== "identity" && encoding.trim() !== "")
    throw new ApiError(415, "unsupported_media_type", "Content-Encoding is not supported: send the body uncompressed", [
      { path: "", message: `got Content-Encoding ${JSON.stringify(encoding)}` },
    ], CLOSE);
  const tooLarge = () =>
    new ApiError(413, "body_too_large", `request body is larger than the limit of ${limit} bytes`, [], CLOSE);
  const cl = req.headers.get("content-length");
  if (cl !== null) {
    const n = Number(cl);
    if (!/^\d+$/.test(cl.trim()) || !Number.isSafeInteger(n)) throw new ApiError(400, "bad_request", "invalid Content-Length", [], CLOSE);
    if (n > limit) throw tooLarge();
    if (n === 0) return new Uint8Array(0);
  }
  if (!req.body) return new Uint8Array(0);
  const timeoutMs = opts.timeoutMs ?? 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let total = 0;
  const deadline =
    timeoutMs > 0
      ? new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const path = new URL(req.url).pathname;
            opts.log?.warn("request body timed out: connection closed", { method: req.method, path, timeout_ms: timeoutMs, content_length: cl, received: cl === null ? total : null });
            reject(new ApiError(408, "body_timeout", `the request body did not arrive within ${timeoutMs / 1000} s; the connection is closed`, [], CLOSE));
          }, timeoutMs);
        })
      : null;
  try {
    // Known length: one buffer of at most `limit` bytes.
    if (cl !== null) {
      const whole = req.arrayBuffer();
      whole.catch(() => {}); // after a timeout nobody awaits it any more
      try {
        return new Uint8Array(await (deadline ? Promise.race([whole, deadline]) : whole));
      } catch (e) {
        // too slow (408): the client may still be sending. arrayBuffer() holds the body's stream
        // and cannot be stopped, so it is what the lingering close waits on (src/http/linger.ts):
        // the connection closes when the body has all arrived (at most `limit` bytes, its stated
        // length was checked above) or after the linger's bound, instead of at once (which reset
        // a client still sending and lost it the 408). What it reads is dropped with it.
        if (e instanceof ApiError) leaveUnread(req, { read: () => whole.then(() => ({ done: true })), cancel: async () => {} });
        throw e;
      }
    }
    // Chunked: count as we go and stop reading at the limit.
    const reader = req.body.getReader();
    const chunks: Uint8Array[] = [];
    try {
      for (;;) {
        const next = reader.read();
        const { done, value } = await (deadline ? Promise.race([next, deadline]) : next);
        if (done) break;
        total += value.byteLength;
        if (total > limit) throw tooLarge();
        chunks.push(value);
      }
    } catch (e) {
      // too large or too slow: the client may still be sending, and the lingering close drains
      // the rest after the answer (src/http/linger.ts); a failed stream has nothing more to give
      if (e instanceof ApiError) leaveUnread(req, reader);
      else reader.cancel().catch(() => {});
      throw e;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    // the stream failed: the client closed the connection (or sent a broken chunked encoding)
    throw new ApiError(400, "body_aborted", "the request body ended early: the connection was closed or its framing was broken", [], CLOSE);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Decodes and parses; throws 400 with the byte offset / line and column of the first problem. */
export function parseJsonBody(bytes: Uint8Array): { value: unknown; text: string } {
  if (bytes.byteLength === 0) throw new ApiError(400, "invalid_json", "request body is empty: send a JSON object or array");
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new ApiError(400, "invalid_utf8", `request body is not valid UTF-8 (byte offset ${at})`, [
      { path: "", message: `invalid UTF-8 sequence at byte ${at}` },
    ]);
  }
  const depthAt = tooDeepAt(text, MAX_DEPTH);
  if (depthAt >= 0) {
    const { line, column } = lineCol(text, depthAt);
    throw new ApiError(400, "invalid_json", `JSON nests deeper than ${MAX_DEPTH} levels at line ${line} column ${column}`, [
      { path: "", message: `nesting deeper than ${MAX_DEPTH} levels at offset ${depthAt}` },
    ]);
  }
  try {
    return { value: JSON.parse(text), text };
  } catch {
    throw syntaxError(text);
  }
}

/**
 * The slow path: locate the first syntax error. jsonc-parser's scanner splits the text into tokens
 * and an explicit stack checks the grammar, so nothing recurses: `[},` × 14,000 or a million
 * open brackets cost one pass, not a stack overflow.
 */
function syntaxError(text: string): ApiError {
  let { offset, what } = firstSyntaxError(text) ?? { offset: findControlChar(text), what: "unexpected control character in a string" };
  // JSON.parse refused something the grammar check let through: say where we cannot tell
  if (offset < 0) ({ offset, what } = { offset: 0, what: "invalid JSON" });
  const { line, column } = lineCol(text, offset);
  return new ApiError(400, "invalid_json", `request body is not valid JSON: ${what} at line ${line} column ${column} (offset ${offset})`, [
    { path: "", message: `${what} at offset ${offset}` },
  ]);
}

// jsonc-parser's SyntaxKind and ScanError (const enums in its typings)
const T = { OpenBrace: 1, CloseBrace: 2, OpenBracket: 3, CloseBracket: 4, Comma: 5, Colon: 6, Null: 7, True: 8, False: 9, String: 10, Number: 11, LineComment: 12, BlockComment: 13, LineBreak: 14, Trivia: 15, Unknown: 16, EOF: 17 } as const;
const SCAN_ERRORS = ["", "unexpected end of comment", "unterminated string", "unexpected end of number", "invalid unicode escape", "invalid escape character", "invalid character"];

/** Offset and description of the first syntax error in `text` (iterative), or null when its grammar is fine. */
export function firstSyntaxError(text: string): { offset: number; what: string } | null {
  const scanner = createScanner(text, false);
  const stack: number[] = []; // T.OpenBrace | T.OpenBracket
  // what the grammar allows next
  let expect = "value" as "value" | "valueOrClose" | "keyOrClose" | "key" | "colon" | "commaOrClose" | "end";
  const fail = (what: string) => ({ offset: scanner.getTokenOffset(), what });
  for (;;) {
    const tok = scanner.scan();
    if (tok === T.LineBreak || tok === T.Trivia) continue;
    const err = scanner.getTokenError();
    if (err) return fail(SCAN_ERRORS[err] ?? "invalid token");
    if (tok === T.LineComment || tok === T.BlockComment) return fail("comments are not allowed");
    if (tok === T.EOF) return expect === "end" ? null : fail("unexpected end of input");
    if (tok === T.Unknown) return fail("invalid token");
    const completeValue = () => {
      expect = stack.length ? "commaOrClose" : "end";
    };
    switch (expect) {
      case "end":
        return fail("end of input expected");
      case "colon":
        if (tok !== T.Colon) return fail("colon expected");
        expect = "value";
        continue;
      case "key":
      case "keyOrClose":
        if (tok === T.String) expect = "colon";
        else if (tok === T.CloseBrace && expect === "keyOrClose") {
          stack.pop();
          completeValue();
        } else return fail("property name expected");
        continue;
      case "commaOrClose": {
        const top = stack[stack.length - 1];
        if (tok === T.Comma) expect = top === T.OpenBrace ? "key" : "value";
        else if ((tok === T.CloseBrace && top === T.OpenBrace) || (tok === T.CloseBracket && top === T.OpenBracket)) {
          stack.pop();
          completeValue();
        } else return fail(top === T.OpenBrace ? "comma or close brace expected" : "comma or close bracket expected");
        continue;
      }
      case "value":
      case "valueOrClose":
        if (tok === T.OpenBrace || tok === T.OpenBracket) {
          stack.push(tok);
          expect = tok === T.OpenBrace ? "keyOrClose" : "valueOrClose";
        } else if (tok === T.String || tok === T.Number || tok === T.Null || tok === T.True || tok === T.False) completeValue();
        else if (tok === T.CloseBracket && expect === "valueOrClose") {
          stack.pop();
          completeValue();
        } else return fail("value expected");
        continue;
    }
  }
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  return { line, column: offset - last };
}

function findControlChar(text: string): number {
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++;
      else if (c === 34) inStr = false;
      else if (c < 32) return i;
    } else if (c === 34) inStr = true;
  }
  return -1;
}

/** Offset where nesting first exceeds `max`, or -1. Strings are skipped. */
export function tooDeepAt(text: string, max: number): number {
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++;
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return i;
    } else if (c === 125 || c === 93) depth--;
  }
  return -1;
}

/** Byte offset of the first invalid UTF-8 sequence (only called once decoding has failed). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let need = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= b.length) return i; // truncated sequence
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return b.length;
}
