// The request gate: the one place where a request to the JSON API (/v1/..., the ingest routes
// aside) is authenticated and its body bounded, before Elysia reads, parses or validates anything.
//
// Elysia parses a route's body and checks it against the route's typebox schema before the handler
// runs, so a check of the key inside the handler came after all of that: a keyless body got a 422
// describing the schema, and a deeply nested one took seconds (or overflowed the stack). The gate
// runs first (onRequest), from the headers only:
//   1. the key (Authorization: Bearer / X-API-Key) is verified: 401 otherwise, body unread;
//   2. a body must be JSON (415), within the body limit (413, by Content-Length or as it streams),
//      and arrive within --body-timeout (408; the connection is closed);
//   3. it is parsed here with the ingest path's checks (UTF-8, nesting depth by an iterative scan,
//      syntax errors located without recursion: src/ingest/body.ts), and handed to Elysia's JSON
//      parser, which then validates an object of bounded size and depth.
// Scopes and the key's rate limit stay with the handler (deps.auth.authorize), which finds the key
// verified here without verifying it again.
//
// The other routes check their credential before the body themselves, each in one place: the
// ingest routes (key or URL token, src/ingest/routes.ts), pings (the token in the path,
// src/ingest/ping.ts), the admin pages (the session cookie, `wrap` in src/admin/index.ts) and the
// admin login form (no credential: a short deadline and a cap on logins reading at once).
import { Elysia } from "elysia";
import type { Deps } from "../deps";
import { charsetIsUtf8, parseJsonBody, readBody } from "../ingest/body";
import { Authenticator } from "./auth";
import { ApiError, unauthorized } from "./errors";
import { errorHeaders } from "./access-log";
import { announcesBody } from "./headers";
import { PING_BODY_KEEP } from "../ingest/ping";
import { lingerIfUnread } from "./linger";
import { isUnstorable, storableText, UNSTORABLE_MESSAGE, unstorableAt } from "../core/text";

/** The path of a request URL without parsing it into a URL object (this runs on every request). */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/** application/json (with parameters): what Elysia parses as JSON (the ingest routes also take +json types). */
function isPlainJson(ct: string | null): boolean {
  return !!ct && ct.split(";")[0].trim().toLowerCase() === "application/json" && charsetIsUtf8(ct);
}

/** Routes the gate authenticates: the JSON API under /v1, except the ingest routes (key or URL token). */
export function gated(path: string): boolean {
  return path.startsWith("/v1/") && !path.startsWith("/v1/ingest/");
}

export function requestGate(deps: Deps) {
  return new Elysia({ name: "request-gate" })
    .onRequest(async ({ request, set }) => {
      try {
        if (!gated(pathOf(request.url))) return smallPingBody(request) ? undefined : noBodyOnRead(request);
        await check(request);
      } catch (e) {
        // answered with e.toResponse() by Elysia (the error contract), logged by the access log
        errorHeaders(request, set);
        // a body left unread: the answer lingers (src/http/linger.ts). Made by the error itself,
        // as an error thrown before routing does not pass createApp's mapResponse on a static
        // route (and a Response returned from here would not reach the access log)
        if (e instanceof ApiError && announcesBody(request)) throw lingering(e, request);
        throw e;
      }
    });

  async function check(request: Request): Promise<void> {
    const headers = request.headers;
    if (Authenticator.presented(headers) === null && Authenticator.urlToken(request.url) !== null)
      throw unauthorized("URL tokens (?token=) only work on the ingest routes of their source; send an API key (Authorization: Bearer <key> or X-API-Key: <key>)");
    // A GET or HEAD with a body and a key: 400 before the key is looked up. Bun reads and drops
    // such a body itself, as fast as it comes (JavaScript never sees it), so while a lookup awaited
    // the database a client could send tens of MiB before its answer. Without a key: 401 as before.
    if (Authenticator.presented(headers) !== null) noBodyOnRead(request);
    await deps.auth.authenticate(headers);
    unstorableInUrl(request.url);
    if (!announcesBody(request)) return;
    noBodyOnRead(request);
    if (!isPlainJson(headers.get("content-type")))
      throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json (in UTF-8)", [
        { path: "", message: `got ${JSON.stringify(headers.get("content-type") ?? "(none)")}` },
      ]);
    const bytes = await readBody(request, deps.config.bodyLimit, { timeoutMs: deps.config.bodyTimeout, log: deps.log });
    // Elysia's JSON parser calls request.json() (for application/json, the only type let through
    // above): it gets the value parsed here. A global onParse hook would do the same but makes
    // Elysia parse the body of every POST route, the ingest, ping and admin ones included.
    const value = bytes.byteLength === 0 ? undefined : parseJsonBody(bytes).value;
    // text PostgreSQL cannot store (a NUL, an unpaired surrogate) is refused on both stores: src/core/text.ts
    const bad = value === undefined ? null : unstorableAt(value);
    if (bad)
      throw new ApiError(422, "invalid_request", `the body is invalid: ${bad.path || "(root)"} ${bad.what === "key" ? "(a field name) " : ""}${UNSTORABLE_MESSAGE}`, [
        { path: bad.path, message: UNSTORABLE_MESSAGE },
      ]);
    Object.defineProperty(request, "json", { value: () => (value === undefined ? Promise.reject(emptyBody()) : Promise.resolve(value)) });
  }
}

/**
 * A NUL in the URL of an API request (%00; an unpaired surrogate cannot be percent-encoded in
 * UTF-8): no id holds one (404), and a query parameter holding one is refused (422) on both stores,
 * as PostgreSQL cannot be asked about such text at all (src/core/text.ts).
 */
function unstorableInUrl(url: string): void {
  if (!url.includes("%00")) return;
  const path = pathOf(url);
  if (/%00/.test(path)) throw new ApiError(404, "not_found", "no such resource: an id never holds U+0000 (NUL)");
  const q = url.indexOf("?");
  if (q < 0) return;
  for (const [k, v] of new URLSearchParams(url.slice(q + 1)))
    if (isUnstorable(k) || isUnstorable(v))
      throw new ApiError(422, "invalid_request", `the query string is invalid: /${storableText(k)} ${UNSTORABLE_MESSAGE}`, [{ path: `/${storableText(k)}`, message: UNSTORABLE_MESSAGE }]);
}

/**
 * A GET or HEAD request that announces a body is answered 400 at once, before its handler runs
 * (except a heartbeat ping with a small body: smallPingBody). No other such route reads a body, and a handler that awaits (the database on PostgreSQL: /readyz,
 * /metrics) while a large body keeps streaming in lost its answer: the client, still sending, saw
 * the connection close with no answer (test/http/gate.test.ts). Measured on a bare Bun.serve: a
 * handler awaiting 30-200 ms under 64 MiB chunked bodies lost its answer on most of 20 connections
 * at once; one answering without awaiting lost none of 70. (The cause was the close itself, which
 * reset the connection under the unread body: the lingering close, src/http/linger.ts, fixes it for
 * every answer; refusing such a GET at once stays, as it reads nothing.)
 */
/**
 * A heartbeat ping whose GET or HEAD carries a small body of a stated length (some HTTP clients send
 * one): a dead-man's switch does not refuse it for that; the ping counts and the body is ignored
 * (src/ingest/ping.ts). A chunked or larger one is refused like any other (it arrives in one read,
 * so the answer is not lost to a body still streaming in while the ping's token is looked up).
 */
function smallPingBody(request: Request): boolean {
  if (!pathOf(request.url).startsWith("/ping/") || request.headers.has("transfer-encoding")) return false;
  const n = Number(request.headers.get("content-length") ?? "0");
  return Number.isSafeInteger(n) && n >= 0 && n <= PING_BODY_KEEP;
}

function noBodyOnRead(request: Request): void {
  if ((request.method === "GET" || request.method === "HEAD") && announcesBody(request))
    throw new ApiError(400, "bad_request", `a ${request.method} request takes no body`, [{ path: "", message: "send the request without a body" }], { connection: "close" });
}

/** The same error, answered with a lingering close (src/http/linger.ts). */
function lingering(e: ApiError, request: Request): ApiError {
  const answer = e.toResponse.bind(e);
  return Object.assign(e, { toResponse: () => lingerIfUnread(request, answer()) });
}

const emptyBody = () => new ApiError(400, "invalid_json", "request body is empty: send a JSON object");
