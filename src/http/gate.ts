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
      if (!gated(pathOf(request.url))) return;
      try {
        await check(request);
      } catch (e) {
        // answered with e.toResponse() by Elysia (the error contract), logged by the access log
        errorHeaders(request, set);
        throw e;
      }
    });

  async function check(request: Request): Promise<void> {
    const headers = request.headers;
    if (Authenticator.presented(headers) === null && Authenticator.urlToken(request.url) !== null)
      throw unauthorized("URL tokens (?token=) only work on the ingest routes of their source; send an API key (Authorization: Bearer <key> or X-API-Key: <key>)");
    await deps.auth.authenticate(headers);
    if (!announcesBody(request)) return;
    if (!isPlainJson(headers.get("content-type")))
      throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json (in UTF-8)", [
        { path: "", message: `got ${JSON.stringify(headers.get("content-type") ?? "(none)")}` },
      ]);
    const bytes = await readBody(request, deps.config.bodyLimit, { timeoutMs: deps.config.bodyTimeout, log: deps.log });
    // Elysia's JSON parser calls request.json() (for application/json, the only type let through
    // above): it gets the value parsed here. A global onParse hook would do the same but makes
    // Elysia parse the body of every POST route, the ingest, ping and admin ones included.
    const value = bytes.byteLength === 0 ? undefined : parseJsonBody(bytes).value;
    Object.defineProperty(request, "json", { value: () => (value === undefined ? Promise.reject(emptyBody()) : Promise.resolve(value)) });
  }
}

const emptyBody = () => new ApiError(400, "invalid_json", "request body is empty: send a JSON object");
