// /v1/rules: match rules (filter, optional threshold, action), enable/disable, and a dry run.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { RuleBody, RulePatch, RuleTest, RuleView } from "./model";
import * as service from "./service";

export function rulesModule(deps: Deps) {
  const params = t.Object({ id: t.String() });
  const admin = (req: Request) => deps.auth.authorize(req.headers, "admin").tenantId;
  const read = (req: Request) => deps.auth.authorize(req.headers, "read").tenantId;
  return new Elysia({ name: "rules" })
    .get("/v1/rules", ({ request }) => service.list(deps, read(request)), {
      response: t.Object({ items: t.Array(RuleView) }),
      detail: { summary: "List match rules", tags: ["rules"] },
    })
    .post(
      "/v1/rules",
      ({ request, body, set }) => {
        const tenantId = admin(request);
        set.status = 201;
        return service.create(deps, tenantId, body);
      },
      { body: RuleBody, response: { 201: RuleView }, detail: { summary: "Create a match rule", tags: ["rules"] } },
    )
    .post("/v1/rules/test", ({ request, body }) => service.test(deps, admin(request), body), {
      body: RuleTest,
      detail: { summary: "What a rule would do on a sample event or the last N stored events (stores nothing)", tags: ["rules"] },
    })
    .get("/v1/rules/:id", ({ request, params }) => service.get(deps, read(request), params.id), {
      params,
      response: RuleView,
      detail: { summary: "One rule", tags: ["rules"] },
    })
    .patch("/v1/rules/:id", ({ request, params, body }) => service.update(deps, admin(request), params.id, body), {
      params,
      body: RulePatch,
      response: RuleView,
      detail: { summary: "Change a rule (enabled: false disables it)", tags: ["rules"] },
    })
    .delete(
      "/v1/rules/:id",
      async ({ request, params, set }) => {
        await service.remove(deps, admin(request), params.id);
        set.status = 204;
        return null;
      },
      { params, detail: { summary: "Delete a rule", tags: ["rules"] } },
    );
}
