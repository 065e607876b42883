// Reading an ingest body: content type, size limit (decided before buffering), UTF-8, JSON with
// the position of a syntax error, and a nesting limit.
import { parse as lenientParse, printParseErrorCode, type ParseError } from "jsonc-parser";
import { ApiError } from "../http/errors";

export const MAX_DEPTH = 100;

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function isJsonContentType(ct: string | null): boolean {
  if (!ct) return false;
  const media = ct.split(";")[0].trim().toLowerCase();
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
}

/** Reads the body as bytes, refusing (413) as soon as it is known to exceed `limit`. */
export async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new ApiError(413, "body_too_large", `request body is larger than the limit of ${limit} bytes`);
  const cl = req.headers.get("content-length");
  if (cl !== null) {
    const n = Number(cl);
    if (!Number.isFinite(n) || n < 0) throw new ApiError(400, "bad_request", "invalid Content-Length");
    if (n > limit) throw tooLarge();
    return new Uint8Array(await req.arrayBuffer());
  }
  if (!req.body) return new Uint8Array(0);
  // Chunked: count as we go and stop reading at the limit.
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
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

/** The slow path: locate the first syntax error with a parser that reports offsets. */
function syntaxError(text: string): ApiError {
  const errors: ParseError[] = [];
  lenientParse(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
  // JSON.parse is stricter than jsonc-parser on a few points (e.g. control characters in strings);
  // when the lenient parser finds nothing, scan for those.
  let offset = errors.length ? errors[0].offset : findControlChar(text);
  const what = errors.length ? describe(printParseErrorCode(errors[0].error)) : "unexpected control character in a string";
  if (offset < 0) offset = 0;
  const { line, column } = lineCol(text, offset);
  return new ApiError(400, "invalid_json", `request body is not valid JSON: ${what} at line ${line} column ${column} (offset ${offset})`, [
    { path: "", message: `${what} at offset ${offset}` },
  ]);
}

function describe(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
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
