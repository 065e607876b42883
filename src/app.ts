// createApp(deps): the root Elysia instance, the error contract, and every module.
import { Elysia } from "elysia";
import type { Deps } from "./deps";
import { ApiError } from "./http/errors";
import { ingestRoutes } from "./ingest/routes";
import { eventsModule } from "./modules/events";
import { healthModule } from "./modules/health";
import { webhooksModule } from "./modules/webhooks";

export type AppState = { draining: boolean };

export function createApp(deps: Deps, state: AppState = { draining: false }) {
  return new Elysia()
    .onError(({ code, error, request }) => {
      if (error instanceof ApiError) return error.toResponse();
      switch (code) {
        case "NOT_FOUND":
          return new ApiError(404, "not_found", `no route for ${request.method} ${new URL(request.url).pathname}`).toResponse();
        case "VALIDATION": {
          const all = ((error as any).all ?? []) as { path?: string; message?: string; summary?: string }[];
          const details = all.slice(0, 50).map((e) => ({ path: e.path ?? "", message: e.summary ?? e.message ?? "invalid" }));
          const where = (error as any).type === "query" ? "query string" : (error as any).type ?? "request";
          return new ApiError(422, "invalid_request", `the ${where} is invalid${details[0] ? `: ${details[0].path} ${details[0].message}` : ""}`, details).toResponse();
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
    .use(webhooksModule(deps));
}

export type App = ReturnType<typeof createApp>;
