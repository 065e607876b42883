// /v1/enrichers (admin scope: the headers often hold an intel service's API key): HTTP lookup
// enrichers, called by the enrichment job for each matching indicator of a new alert.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { Enricher, EnricherCreate, EnricherList, EnricherUpdate, EnrichRequested } from "./model";
import * as service from "./service";

const Id = t.Object({ id: t.String() });

export function enrichersModule(deps: Deps) {
  const admin = (request: Request) => deps.auth.authorize(request.headers, "admin").tenantId;
  const tags = ["enrichment"];
  return new Elysia({ name: "enrichers" })
    .post(
      "/v1/enrichers",
      ({ request, body, set }) => {
        const t = admin(request);
        set.status = 201;
        return service.create(deps, t, body);
      },
      { body: EnricherCreate, response: { 201: Enricher }, detail: { summary: "Add an HTTP lookup enricher", tags } },
    )
    .get("/v1/enrichers", ({ request }) => service.list(deps, admin(request)), { response: EnricherList, detail: { summary: "List HTTP lookup enrichers", tags } })
    .get("/v1/enrichers/:id", ({ request, params }) => service.get(deps, admin(request), params.id), { params: Id, response: Enricher, detail: { summary: "One enricher", tags } })
    .patch("/v1/enrichers/:id", ({ request, params, body }) => service.update(deps, admin(request), params.id, body), {
      params: Id,
      body: EnricherUpdate,
      response: Enricher,
      detail: { summary: "Change an enricher", tags },
    })
    .delete(
      "/v1/enrichers/:id",
      async ({ request, params, set }) => {
        await service.remove(deps, admin(request), params.id);
        set.status = 204;
        return "";
      },
      { params: Id, detail: { summary: "Delete an enricher", tags } },
    )
    .post(
      "/v1/alerts/:id/enrich",
      ({ request, params, set }) => {
        const p = deps.auth.authorize(request.headers, "admin");
        set.status = 202;
        return service.enrichAgain(deps, p.tenantId, params.id, `key:${p.keyId}`);
      },
      { params: Id, response: { 202: EnrichRequested }, detail: { summary: "Run an alert's enrichment again (it goes back to pending)", tags } },
    );
}
