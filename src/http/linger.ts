// Lingering close: an answer to a request whose body we will not read (a refusal: no key, a bad
// key, no such route or ping token, too large, a GET with a body) reaches a client that is still
// sending that body.
//
// Bun's server ends such an answer (`Connection: close`) with shutdown() and close() at once. The
// body still arriving is then unread in the server's socket, so the kernel answers it with a reset
// (RFC 2525 2.17), and a client busy sending gets EPIPE/ECONNRESET on its next write: most clients
// (Bun's and Node's among them) then drop the connection without reading the answer that sits in
// their receive buffer. A huge chunked body lost its 401 that way (test/http/gate.test.ts), most
// often when the answer took a moment (a handler awaiting PostgreSQL while the body streamed in).
//
// What HTTP servers do about it (nginx's lingering_close, Apache's lingering close, Go's
// closeWriteAndWait): answer, keep the connection a bounded while, reading and discarding what the
// client still sends or just waiting, then close. Bun.serve gives no half-close and no hook on the
// socket, so here the answer's body is a stream that stays open while the request body is drained:
// the status, headers and body go out at once (the last chunk's terminator at the end). The rest of
// the body is read and dropped, LINGER_BYTES at once (a small body that has all arrived ends the
// linger at once), then a read every LINGER_PACE_MS, so TCP holds a client still sending a huge
// body back, and one blocked on a write reads what it was sent. The connection closes when the
// body has ended, the client has gone away, or LINGER_MS have passed. Nothing is buffered.
//
// Bounds: at most MAX_LINGERING connections linger at once (past that an answer closes at once, as
// before), each for at most LINGER_MS. A client that needs the whole answer (curl, fetch) gets it
// when the linger ends: at once when its body was small and complete, else within LINGER_MS.
//
// Applied to every answer by lingerIfUnread: createApp's mapResponse, its onError for unknown
// routes (src/app.ts), and the errors the request gate throws (src/http/gate.ts), which do not
// pass mapResponse on a static route.
import { announcesBody, leavesBodyUnread } from "./headers";

/** ms an answer that leaves a body unread waits for the rest of it before the connection closes. */
export const LINGER_MS = 1000;
/**
 * Bytes of the rest of a body read and dropped at once (a small body that has arrived: the linger
 * ends at once); past them one read every LINGER_PACE_MS, so that a client still sending a huge
 * body is held back by TCP flow control (and one blocked on a write reads what it was sent: most
 * do only then), while a body of a few hundred KiB still ends the linger early. Reading at full
 * speed cost the event loop: 1 MiB of each of 70 huge chunked bodies refused at once delayed a
 * PostgreSQL lookup's answer past 2 s on the loaded test machine.
 */
export const LINGER_BYTES = 64 * 1024;
/** ms between reads past LINGER_BYTES. */
export const LINGER_PACE_MS = 50;
/** Connections lingering at once; past this an answer closes its connection at once. */
export const MAX_LINGERING = 256;

let lingering = 0;
let refusedByCap = 0;
/** Connections lingering now, in this process (the cap's count; /metrics: keepwatch_http_lingering_connections). */
export const lingeringNow = () => lingering;
/** Answers closed at once because MAX_LINGERING connections were lingering, since the process started (/metrics: keepwatch_http_linger_refused_total). */
export const lingerRefusedTotal = () => refusedByCap;

/** Bun's controller of a `type: "direct"` ReadableStream. */
type DirectController = { write(b: Uint8Array): number | Promise<number>; flush(): number | Promise<number>; close(): void };
/** What is needed of a body's reader (Bun's and node:stream/web's types differ). */
type Reader = { read(): Promise<{ done: boolean }>; cancel(reason?: unknown): Promise<void> };
const handedOver = new WeakMap<Request, Reader>();

/**
 * A reader stopped reading a body before its end (too large, too slow: readBody): the rest is left
 * for the lingering close to drain, on the same reader (its lock is never released).
 */
export function leaveUnread(request: Request, reader: Reader): void {
  handedOver.set(request, reader);
}

/**
 * The answer to `request`, made to linger when it leaves a body unread (the connection closes
 * after the rest of the body, as above); otherwise `response` itself.
 */
export function lingerIfUnread(request: Request, response: Response): Response {
  return leavesUnread(request, response) ? linger(request, response) : response;
}

/** Answers made here (an answer can pass twice: made by an error, then through mapResponse). */
const lingered = new WeakSet<Response>();

/** Whether the answer leaves some of the request's body unread. */
function leavesUnread(request: Request, response: Response): boolean {
  if (lingered.has(response)) return false;
  return handedOver.has(request) || leavesBodyUnread(request) || (response.headers.get("connection") === "close" && announcesBody(request));
}

function linger(request: Request, response: Response): Response {
  const handed = handedOver.get(request);
  if (handed) handedOver.delete(request);
  const reader = handed ?? readerOf(request);
  // (no body may follow a 204 or 304, nor go with an answer to HEAD). A GET's body is not given to
  // JavaScript at all (request.body is null): Bun reads and drops it itself, so the connection is
  // only held open, for LINGER_MS.
  const cannot = (!reader && request.method !== "GET") || request.method === "HEAD" || response.status === 204 || response.status === 304 || response.bodyUsed;
  if (cannot || lingering >= MAX_LINGERING) {
    if (!cannot) refusedByCap++;
    reader?.cancel().catch(() => {});
    return closing(response);
  }
  lingering++;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    lingering--;
    reader?.cancel().catch(() => {});
  };
  const answer = response.arrayBuffer();
  // Bun's "direct" stream: what is written is flushed at once, an empty answer's headers included
  // (a default stream's empty chunk kept them back until the end)
  const stream = new ReadableStream({
    type: "direct",
    async pull(ctrl: DirectController) {
      try {
        const bytes = new Uint8Array(await answer);
        // an empty answer (a redirect) gets a line of text: with no byte written, its headers
        // reached the client only when the stream ended (measured on POST /admin/logout)
        ctrl.write(bytes.byteLength ? bytes : new TextEncoder().encode(`${response.status} ${response.statusText || "answer"}\n`));
        ctrl.flush();
        await drain(reader, LINGER_MS, LINGER_BYTES);
      } catch {
        // the answer's own body failed, or the client went away: close what is left
      } finally {
        finish();
        try {
          ctrl.close();
        } catch {
          // the client went away first
        }
      }
    },
    cancel: finish,
  } as unknown as ConstructorParameters<typeof ReadableStream>[0]);
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  headers.set("connection", "close");
  const made = new Response(stream, { status: response.status, statusText: response.statusText, headers });
  lingered.add(made);
  return made;
}

/** The request's body to drain, or null when it cannot be read any more (another reader holds it). */
function readerOf(request: Request): Reader | null {
  const body = request.body;
  if (!body || body.locked) return null;
  try {
    return body.getReader();
  } catch {
    return null;
  }
}

/** `response` with `Connection: close` (its headers copied when immutable, as Response.redirect's are). */
function closing(response: Response): Response {
  if (response.headers.get("connection") === "close") return response;
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set("connection", "close");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}

/**
 * Reads and drops the rest of a body until it ends, fails (the client went away) or `ms` pass:
 * `fastBytes` at once, then one read every LINGER_PACE_MS (with no reader, it waits out the `ms`).
 */
async function drain(reader: Reader | null, ms: number, fastBytes: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  let bytes = 0;
  try {
    if (!reader) return void (await timeUp);
    for (;;) {
      if (bytes > fastBytes && (await Promise.race([Bun.sleep(LINGER_PACE_MS), timeUp])) === null) return;
      const r = await Promise.race([reader.read(), timeUp]);
      if (r === null || r.done) return;
      bytes += (r as { value?: Uint8Array }).value?.byteLength ?? 0;
    }
  } catch {
    // the client closed the connection or broke the framing: nothing more to wait for
  } finally {
    clearTimeout(timer);
  }
}
