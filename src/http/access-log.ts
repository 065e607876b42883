// Request ids and the access log: every request gets an id (the caller's X-Request-Id when it is
// sane, else a new one), returned in the X-Request-Id response header, and one JSON log line when
// the answer has gone out: method, route pattern, status, duration, request id, tenant when a key
// was seen. Never the key; the route pattern rather than the path (ping URLs carry their token in
// the path); the query string only with `token` values redacted.
//
// Cost on the hot path: a counter-based id (no randomness per request), two WeakMap operations, one
// JSON.stringify after the response is sent, and a buffered write (lib/log.ts) shared by every line
// of the same event-loop turn.
import { isStoreUnavailable } from "../store/errors";
import { Elysia } from "elysia";
import type { Logger } from "../lib/log";
import { randomHex } from "../lib/ids";
import { tenantOfRequest } from "./auth";
import { ApiError } from "./errors";
import { secureHeaders, secureSetHeaders } from "./headers";

/** Printable ASCII without spaces or quotes, 1-128 characters: anything else is replaced. */
const SANE_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

// <random per process>-<counter>: unique across restarts without a random draw per request
const PROCESS_PREFIX = randomHex(4);
let counter = 0;
export const newRequestId = () => `${PROCESS_PREFIX}-${(++counter).toString(36)}`;

/** The query string with every `token` parameter's value replaced (the URL token is a credential). */
export function redactQuery(search: string): string {
  if (!search) return "";
  const params = new URLSearchParams(search);
  let changed = false;
  for (const k of [...params.keys()])
    if (/^(token|key|api_key|apikey|access_token)$/i.test(k)) {
      params.set(k, "REDACTED");
      changed = true;
    }
  return changed ? "?" + params.toString() : search;
}

type Started = { id: string; t0: number };

/**
 * The status of an error answer: Elysia hands onAfterResponse the error, not the response made by
 * the app's onError, so this follows that handler's mapping (src/app.ts).
 */
function errorStatus(error: unknown, code: unknown): number {
  if (error instanceof ApiError) return error.status;
  if (code === "NOT_FOUND") return 404;
  if (code === "VALIDATION") return 422;
  if (code === "PARSE") return 400;
  if (isStoreUnavailable(error)) return 503;
  const s = (error as { status?: unknown })?.status;
  return typeof s === "number" ? s : 500;
}

// operations endpoints polled by monitors: logged at debug, so that they do not flood the log
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

const started = new WeakMap<Request, Started>();

/**
 * The request id and the security headers of an error answer. Elysia skips onError hooks for an
 * error with a toResponse() (ApiError) thrown before routing, so the request gate calls this itself.
 */
export function errorHeaders(request: Request, set: { headers: Record<string, unknown> | object }): void {
  const h = set.headers as Record<string, unknown>;
  const s = started.get(request);
  if (s) h["x-request-id"] = s.id;
  secureSetHeaders(h, request);
}

export function accessLog(log: Logger) {
  return new Elysia({ name: "access-log" })
    .onRequest(({ request }) => {
      const given = request.headers.get("x-request-id");
      const id = given && SANE_ID.test(given) ? given : newRequestId();
      started.set(request, { id, t0: performance.now() });
    })
    // The id goes onto a Response the handler made itself (the ingest and ping routes): anything in
    // `set.headers` makes Elysia copy every response into a new one, a tenth of the request
    // thread's time under ingest load. Other answers (objects, errors) take it through set.headers.
    // The security headers (src/http/headers.ts) go on the same way.
    .onAfterHandle({ as: "global" }, ({ request, response, set }) => {
      const s = started.get(request);
      if (response instanceof Response)
        try {
          if (s) response.headers.set("x-request-id", s.id);
          secureHeaders(response.headers, request);
          return;
        } catch {
          // a Response with immutable headers (Response.redirect): let Elysia copy it
        }
      if (s) set.headers["x-request-id"] = s.id;
      secureSetHeaders(set.headers as Record<string, unknown>, request);
    })
    .onError({ as: "global" }, ({ request, set }) => errorHeaders(request, set))
    .onAfterResponse({ as: "global" }, (ctx) => {
      const { request } = ctx;
      const s = started.get(request);
      if (!s) return;
      const route = (ctx as { route?: string }).route;
      const level = route && QUIET.has(route) ? "debug" : "info";
      if (log.enabled && !log.enabled(level)) return;
      const res = (ctx as { responseValue?: unknown }).responseValue;
      const err = (ctx as { error?: unknown }).error;
      const status =
        err !== undefined
          ? errorStatus(err, (ctx as { code?: unknown }).code)
          : res instanceof Response
            ? res.status
            : typeof ctx.set.status === "number"
              ? ctx.set.status
              : 200;
      const url = request.url;
      const q = url.indexOf("?");
      const fields: Record<string, unknown> = {
        request_id: s.id,
        method: request.method,
        route: route ?? null,
        status,
        duration_ms: Math.round((performance.now() - s.t0) * 100) / 100,
      };
      // without a route (404) the path says what was asked for; ping paths always match a route
      if (!route) fields.path = new URL(url).pathname;
      if (q >= 0) fields.query = redactQuery(url.slice(q + 1));
      const tenant = tenantOfRequest.get(request.headers);
      if (tenant) fields.tenant = tenant;
      log[level]("request", fields);
    });
}
