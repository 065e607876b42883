// /v1/indicator-mappings (custom mappings: read to list, admin to change; a dry run) and the
// indicator pivot /v1/indicators/:type/:value (read).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { MappingBody, MappingPatch, MappingTest, MappingView, PivotQuery } from "./model";
import * as service from "./service";

export function indicatorsModule(deps: Deps) {
  const params = t.Object({ id: t.String() });
  const admin = (req: Request) => deps.auth.authorize(req.headers, "admin").tenantId;
  const read = (req: Request) => deps.auth.authorize(req.headers, "read").tenantId;
  const tags = ["indicators"];
  return new Elysia({ name: "indicators" })
    .get("/v1/indicator-mappings", ({ request }) => service.list(deps, read(request)), {
      response: t.Object({ items: t.Array(MappingView) }),
      detail: { summary: "List custom indicator mappings", tags },
    })
    .post(
      "/v1/indicator-mappings",
      ({ request, body, set }) => {
        const tenantId = admin(request);
        set.status = 201;
        return service.create(deps, tenantId, body);
      },
      { body: MappingBody, response: { 201: MappingView }, detail: { summary: "Add a custom indicator mapping", tags } },
    )
    .post("/v1/indicator-mappings/test", ({ request, body }) => service.test(deps, read(request), body), {
      body: MappingTest,
      detail: { summary: "What each indicator pass finds in a sample payload (stores nothing)", tags },
    })
    .get("/v1/indicator-mappings/:id", ({ request, params }) => service.get(deps, read(request), params.id), {
      params,
      response: MappingView,
      detail: { summary: "One custom indicator mapping", tags },
    })
    .patch("/v1/indicator-mappings/:id", ({ request, params, body }) => service.update(deps, admin(request), params.id, body), {
      params,
      body: MappingPatch,
      response: MappingView,
      detail: { summary: "Change a custom indicator mapping", tags },
    })
    .delete(
      "/v1/indicator-mappings/:id",
      async ({ request, params, set }) => {
        await service.remove(deps, admin(request), params.id);
        set.status = 204;
        return null;
      },
      { params, detail: { summary: "Delete a custom indicator mapping", tags } },
    )
    .get("/v1/indicators/:type/:value", ({ request, params, query }) => service.pivot(deps, read(request), params.type, params.value, query), {
      params: t.Object({ type: t.String(), value: t.String() }),
      query: PivotQuery,
      detail: { summary: "Events (paged) and alerts of the tenant that carry an indicator", tags },
    });
}
