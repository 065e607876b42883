// createApp(deps): the root Elysia instance, the error contract, and every module.
import "./http/production"; // first: before Elysia loads
import { Elysia } from "elysia";
import type { Deps } from "./deps";
import { ApiError, unauthorized } from "./http/errors";
import { validationError } from "./http/validation";
import { isStoreUnavailable, isUniqueViolation, isUnstorableText } from "./store/errors";
import { redactToken } from "./core/source-tokens";
import { ingestRoutes } from "./ingest/routes";
import { alertsModule } from "./modules/alerts";
import { heartbeatsModule } from "./modules/heartbeats";
import { rulesModule } from "./modules/rules";
import { sourcesModule } from "./modules/sources";
import { webhooksModule } from "./modules/webhooks";
import { pingRoutes } from "./ingest/ping";
import { eventsModule } from "./modules/events";
import { healthModule } from "./modules/health";
import { enrichersModule } from "./modules/enrichers";
import { watchlistsModule } from "./modules/watchlists";
import { accessLog } from "./http/access-log";
import { requestGate } from "./http/gate";
import { lingerIfUnread } from "./http/linger";
import { openapiModule } from "./http/openapi";
import pkg from "../package.json";
import { adminModule } from "./admin";
import { indicatorsModule } from "./modules/indicators";

export type AppState = { draining: boolean };

export function createApp(deps: Deps, state: AppState = { draining: false }) {
  // normalize: false - an unknown field in a request body is an error, not silently dropped
  return new Elysia({ normalize: false })
    // request ids (X-Request-Id) and one JSON access-log line per request: src/http/access-log.ts
    .use(accessLog(deps.log))
    // the key (and a bounded, parsed body) before Elysia reads or validates anything: src/http/gate.ts
    .use(requestGate(deps))
    .onError(({ code, error, request }) => {
      if (error instanceof ApiError) return error.toResponse();
      switch (code) {
        case "NOT_FOUND":
          // the one answer that does not pass mapResponse below
          return lingerIfUnread(request, new ApiError(404, "not_found", `no route for ${request.method} ${new URL(request.url).pathname}`).toResponse());
        case "VALIDATION": {
          const v = error as any;
          // a URL token on a read or admin route: that is an authentication problem, not a bad query
          if (v.type === "query" && new URL(request.url).searchParams.has("token"))
            return unauthorized("URL tokens (?token=) only work on the ingest routes of their source; send an API key (Authorization: Bearer <key> or X-API-Key: <key>)").toResponse();
          // every detail names the allowed range or values: src/http/validation.ts
          return validationError(v, new URL(request.url).searchParams).toResponse();
        }
        case "PARSE":
          return new ApiError(400, "invalid_json", "request body is not valid JSON").toResponse();
        default:
          // the database is down, restarting or read-only: 503 + Retry-After on every route, never a 500
          if (isStoreUnavailable(error))
            return new ApiError(503, "store_unavailable", "the store is unavailable right now; nothing was changed, retry later", [], { "retry-after": "1" }).toResponse();
          // a client that went away mid-request is not our error (nobody reads this answer)
          if (isClientAbort(error)) {
            deps.log.info("client closed the connection", { url: redactToken(request.url) });
            return new ApiError(400, "body_aborted", "the client closed the connection").toResponse();
          }
          // text the database cannot hold that no check caught (src/core/text.ts): refused, logged to be found
          if (isUnstorableText(error)) {
            deps.log.warn("text the store cannot hold reached it", { error: String(error), url: redactToken(request.url) });
            return new ApiError(422, "invalid_request", "the request holds text the store cannot hold (U+0000 or an unpaired surrogate)").toResponse();
          }
          // a create that raced another one for the same unique name or id (replicas: issue 12)
          if (isUniqueViolation(error)) {
            deps.log.info("a concurrent request took the same unique value", { error: String(error), url: redactToken(request.url) });
            return new ApiError(409, "conflict", "another request created the same thing at the same moment (a unique name or id); retry to see it").toResponse();
          }
          deps.log.error("unhandled error", { error: String(error), stack: (error as Error)?.stack, url: redactToken(request.url) });
          return new ApiError(500, "internal", "internal error").toResponse();
      }
    })
    // An answer that leaves the request's body unread (a refusal) closes its connection only after
    // the rest of the body, bounded: a client still sending gets its answer, not a reset
    // (src/http/linger.ts). Every answer passes here but 404s for unknown routes (onError above)
    // and errors thrown by the request gate on a static route (the gate makes those linger itself).
    .mapResponse({ as: "global" }, ({ request, responseValue }) => (responseValue instanceof Response ? lingerIfUnread(request, responseValue) : undefined))
    // /openapi.json (from every route's typebox schemas) and its offline viewer at /openapi
    .use(openapiModule(pkg.version))
    .use(healthModule(deps, state))
    .use(ingestRoutes(deps))
    .use(eventsModule(deps))
    .use(alertsModule(deps))
    .use(heartbeatsModule(deps))
    .use(rulesModule(deps))
    .use(sourcesModule(deps))
    .use(webhooksModule(deps))
    .use(watchlistsModule(deps))
    .use(enrichersModule(deps))
    .use(indicatorsModule(deps))
    .use(pingRoutes(deps))
    .use(adminModule(deps));
}

export type App = ReturnType<typeof createApp>;

function isClientAbort(e: unknown): boolean {
  const name = (e as { name?: unknown })?.name;
  const code = (e as { code?: unknown })?.code;
  return name === "AbortError" || code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE";
}

