// GET /v1/events and GET /v1/events/:id (read scope, tenant of the key).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { EventDetail, EventPage, EventQuery } from "./model";
import * as service from "./service";
import { rawJsonResponse } from "../../http/raw-json";

export function eventsModule(deps: Deps) {
  return new Elysia({ name: "events" })
    .get(
      "/v1/events",
      ({ request, query }) => {
        const p = deps.auth.authorize(request.headers, "read");
        return service.list(deps, p.tenantId, query);
      },
      { query: EventQuery, response: EventPage, detail: { summary: "List events, newest first", tags: ["events"] } },
    )
    .get(
      "/v1/events/:id",
      async ({ request, params }) => {
        const p = deps.auth.authorize(request.headers, "read");
        // the raw payload goes out as it was stored, byte for byte
        return rawJsonResponse(await service.detail(deps, p.tenantId, params.id));
      },
      { params: t.Object({ id: t.String() }), response: EventDetail, detail: { summary: "One event with its raw payload", tags: ["events"] } },
    );
}
