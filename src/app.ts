// createApp(deps): the root Elysia instance, the error contract, and every module.
import { Elysia } from "elysia";
import type { Deps } from "./deps";
import { ApiError } from "./http/errors";
import { ingestRoutes } from "./ingest/routes";
import { alertsModule } from "./modules/alerts";
import { heartbeatsModule } from "./modules/heartbeats";
import { pingRoutes } from "./ingest/ping";
import { eventsModule } from "./modules/events";
import { healthModule } from "./modules/health";

export type AppState = { draining: boolean };

export function createApp(deps: Deps, state: AppState = { draining: false }) {
  // normalize: false - an unknown field in a request body is an error, not silently dropped
  return new Elysia({ normalize: false })
    .onError(({ code, error, request }) => {
      if (error instanceof ApiError) return error.toResponse();
      switch (code) {
        case "NOT_FOUND":
          return new ApiError(404, "not_found", `no route for ${request.method} ${new URL(request.url).pathname}`).toResponse();
        case "VALIDATION": {
          const v = error as any;
          const custom = typeof v.customError === "string" ? (v.customError as string) : null;
          const all = (v.all ?? []) as { path?: string; message?: string; summary?: string }[];
          const details = all.slice(0, 50).map((e) => ({ path: e.path ?? "", message: e.summary ?? e.message ?? "invalid" }));
          if (custom && (!details.length || !details[0].path)) details.splice(0, details.length, { path: "", message: custom });
          const where = v.type === "query" || v.type === "property" ? "query string" : v.type ?? "request";
          const first = custom ?? (details[0] ? `${details[0].path} ${details[0].message}` : "");
          return new ApiError(422, "invalid_request", `the ${where} is invalid${first ? `: ${first}` : ""}`, details).toResponse();
        }
        case "PARSE":
          return new ApiError(400, "invalid_json", "request body is not valid JSON").toResponse();
        default:
          deps.log.error("unhandled error", { error: String(error), stack: (error as Error)?.stack, url: request.url });
          return new ApiError(500, "internal", "internal error").toResponse();
      }
    })
    .use(healthModule(deps, state))
    .use(ingestRoutes(deps))
    .use(eventsModule(deps))
    .use(alertsModule(deps))
    .use(heartbeatsModule(deps))
    .use(pingRoutes(deps));
}

export type App = ReturnType<typeof createApp>;
