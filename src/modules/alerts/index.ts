// /v1/alerts: list, detail with events and timeline, triage (PATCH), comments.
// Reading needs the read scope; changing an alert needs admin.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { AlertDetail, AlertPage, AlertPatchBody, AlertQuery, CommentBody, TimelineEntry } from "./model";
import * as service from "./service";
import { rawJsonResponse } from "../../http/raw-json";

export function alertsModule(deps: Deps) {
  const params = t.Object({ id: t.String() });
  return new Elysia({ name: "alerts" })
    .get(
      "/v1/alerts",
      ({ request, query }) => service.list(deps, deps.auth.authorize(request.headers, "read").tenantId, query),
      { query: AlertQuery, response: AlertPage, detail: { summary: "List alerts, newest first", tags: ["alerts"] } },
    )
    .get(
      "/v1/alerts/:id",
      // the raw payload goes out as it was stored, byte for byte
      async ({ request, params }) => rawJsonResponse(await service.detail(deps, deps.auth.authorize(request.headers, "read").tenantId, params.id)),
      { params, response: AlertDetail, detail: { summary: "One alert with its events and timeline", tags: ["alerts"] } },
    )
    .patch(
      "/v1/alerts/:id",
      ({ request, params, body }) => {
        const p = deps.auth.authorize(request.headers, "admin");
        return service.patch(deps, p.tenantId, params.id, body, `key:${p.keyId}`);
      },
      { params, body: AlertPatchBody, response: AlertDetail, detail: { summary: "Change status, classification or assignee", tags: ["alerts"] } },
    )
    .post(
      "/v1/alerts/:id/comments",
      ({ request, params, body, set }) => {
        const p = deps.auth.authorize(request.headers, "admin");
        set.status = 201;
        return service.comment(deps, p.tenantId, params.id, body.body, `key:${p.keyId}`);
      },
      { params, body: CommentBody, response: { 201: TimelineEntry }, detail: { summary: "Comment on an alert", tags: ["alerts"] } },
    );
}
