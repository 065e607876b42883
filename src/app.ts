// createApp(deps): the root Elysia instance, the error contract, and every module.
import { Elysia } from "elysia";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Deps } from "./deps";
import { ApiError, unauthorized } from "./http/errors";
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
          return new ApiError(404, "not_found", `no route for ${request.method} ${new URL(request.url).pathname}`).toResponse();
        case "VALIDATION": {
          const v = error as any;
          // a URL token on a read or admin route: that is an authentication problem, not a bad query
          if (v.type === "query" && new URL(request.url).searchParams.has("token"))
            return unauthorized("URL tokens (?token=) only work on the ingest routes of their source; send an API key (Authorization: Bearer <key> or X-API-Key: <key>)").toResponse();
          const custom = typeof v.customError === "string" ? (v.customError as string) : null;
          const all = (v.all ?? []) as ValueErrorLike[];
          const details = all.flatMap(drillDown).slice(0, 50);
          if (custom && (!details.length || !details[0].path)) details.splice(0, details.length, { path: "", message: custom });
          const where = v.type === "query" || v.type === "property" ? "query string" : v.type ?? "request";
          const first = custom ?? (details[0] ? `${details[0].path} ${details[0].message}` : "");
          return new ApiError(422, "invalid_request", `the ${where} is invalid${first ? `: ${first}` : ""}`, details).toResponse();
        }
        case "PARSE":
          return new ApiError(400, "invalid_json", "request body is not valid JSON").toResponse();
        default:
          // a client that went away mid-request is not our error (nobody reads this answer)
          if (isClientAbort(error)) {
            deps.log.info("client closed the connection", { url: redactToken(request.url) });
            return new ApiError(400, "body_aborted", "the client closed the connection").toResponse();
          }
          deps.log.error("unhandled error", { error: String(error), stack: (error as Error)?.stack, url: redactToken(request.url) });
          return new ApiError(500, "internal", "internal error").toResponse();
      }
    })
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

type ValueErrorLike = { path?: string; message?: string; summary?: string; schema?: TSchema; value?: unknown };

/**
 * An error on a union (say, a nullable object) only says "should be one of ...". When the value
 * is an object and the union has object members, report what is wrong inside it instead, so the
 * pointer names the bad field.
 */
function drillDown(e: ValueErrorLike): { path: string; message: string }[] {
  const path = e.path ?? "";
  const variants = (e.schema as { anyOf?: TSchema[] } | undefined)?.anyOf;
  if (variants && e.value && typeof e.value === "object" && !Array.isArray(e.value)) {
    const objects = variants.filter((v) => (v as { type?: string }).type === "object");
    for (const o of objects) {
      const inner = [...Value.Errors(o, e.value)];
      if (inner.length)
        return inner.slice(0, 10).map((i) => ({ path: path + i.path, message: i.value === undefined ? "is required" : i.message.toLowerCase() }));
    }
  }
  return [{ path, message: e.summary ?? e.message ?? "invalid" }];
}
