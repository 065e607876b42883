// One outbound POST: the target is resolved and every address checked before connecting, the
// connection goes to the checked address (no second lookup, so no DNS rebinding in between),
// redirects are not followed, the whole exchange has a timeout, and the response body is read
// only up to a bound.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { refusedReason, type Cidr } from "../../core/netrange";
import { storableText } from "../../core/text";

export const MAX_RECORDED = 16 * 1024;

export type SendResult = {
  status: number | null;
  headers: Record<string, string> | null;
  /** the response body, at most MAX_RECORDED bytes decoded */
  body: string | null;
  /** the body was longer than what `body` holds */
  bodyTruncated?: boolean;
  /** bytes of the whole response body, when known (read to the end, or Content-Length) */
  bodySize?: number | null;
  error: string | null;
  durationMs: number;
  address: string | null;
  /** the target was refused by the outbound safety check (set only then) */
  refused?: boolean;
};

export type SendOptions = { timeoutMs: number; allow: Cidr[]; maxBytes?: number; /** POST (default) or GET (lookups: the body is ignored) */ method?: "GET" | "POST" };

export class TargetRefused extends Error {}

/** Resolves the URL's host and checks every address; returns the address to connect to. */
export async function checkTarget(u: URL, allow: Cidr[]): Promise<string> {
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TargetRefused(`scheme ${u.protocol} is not allowed (http or https)`);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  let addrs: string[];
  if (isIP(host)) addrs = [host];
  else {
    try {
      addrs = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch (e) {
      throw new Error(`cannot resolve ${host}: ${(e as Error).message}`);
    }
    if (addrs.length === 0) throw new Error(`cannot resolve ${host}: no addresses`);
  }
  for (const a of addrs) {
    const why = refusedReason(a, allow);
    if (why) throw new TargetRefused(`target ${host} refused: ${why}; list it in KEEPWATCH_OUTBOUND_ALLOW to allow it`);
  }
  return addrs[0];
}

/** The first `max` bytes of the body, whether there was more, and its whole size when known. */
async function readBounded(res: Response, max: number): Promise<{ text: string; truncated: boolean; size: number | null }> {
  if (!res.body) return { text: "", truncated: false, size: 0 };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let complete = false;
  try {
    // one byte past the bound tells a body of exactly `max` bytes from a longer one
    while (size <= max) {
      const r = await reader.read();
      if (r.done) {
        complete = true;
        break;
      }
      chunks.push(r.value);
      size += r.value.byteLength;
    }
  } finally {
    // Stop reading (and let the connection go) once we have enough.
    reader.cancel().catch(() => {});
  }
  const all = Buffer.concat(chunks);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(all.subarray(0, max));
  const declared = Number(res.headers.get("content-length"));
  const whole = complete ? size : Number.isSafeInteger(declared) && declared >= size ? declared : null;
  return { text, truncated: size > max, size: whole };
}

export async function send(url: string, headers: Record<string, string>, body: string, o: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const done = (r: Omit<SendResult, "durationMs">): SendResult => ({ ...r, durationMs: Math.round(performance.now() - started) });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return done({ status: null, headers: null, body: null, error: "invalid URL", address: null });
  }
  const signal = AbortSignal.timeout(o.timeoutMs);
  let address: string;
  try {
    address = await Promise.race([
      checkTarget(u, o.allow),
      new Promise<never>((_, rej) => signal.addEventListener("abort", () => rej(new Error(`timed out after ${o.timeoutMs} ms resolving the host`)))),
    ]);
  } catch (e) {
    return done({ status: null, headers: null, body: null, error: (e as Error).message, address: null, ...(e instanceof TargetRefused ? { refused: true } : {}) });
  }
  const target = new URL(u.toString());
  const hostname = u.hostname.replace(/^\[|\]$/g, "");
  if (!isIP(hostname)) target.hostname = isIP(address) === 6 ? `[${address}]` : address;
  try {
    const res = await fetch(target, {
      method: o.method ?? "POST",
      headers: { ...headers, host: u.host },
      body: o.method === "GET" ? undefined : body,
      redirect: "manual",
      signal,
      // TLS: SNI and certificate checks against the name, while connecting to the checked address.
      tls: u.protocol === "https:" ? { serverName: hostname } : undefined,
      proxy: false as any,
    } as RequestInit);
    const rh: Record<string, string> = {};
    res.headers.forEach((v, k) => (rh[k] = v));
    let read: { text: string; truncated: boolean; size: number | null } = { text: "", truncated: false, size: null };
    let readError: string | null = null;
    try {
      read = await readBounded(res, o.maxBytes ?? MAX_RECORDED);
    } catch (e) {
      readError = `reading the response: ${(e as Error).message}`;
    }
    // a receiver's answer is recorded as text on both stores: U+FFFD for a NUL (src/core/text.ts)
    return done({ status: res.status, headers: rh, body: storableText(read.text), bodyTruncated: read.truncated, bodySize: read.size, error: readError, address });
  } catch (e) {
    const err = e as Error;
    const msg = err.name === "TimeoutError" || err.name === "AbortError" ? `timed out after ${o.timeoutMs} ms` : err.message || String(e);
    return done({ status: null, headers: null, body: null, error: msg, address });
  }
}
