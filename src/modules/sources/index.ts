// GET /v1/sources: every source plugin with the fields it reads and what each becomes, so a
// sender can see how its payload will be mapped. Per source and tenant (admin scope): the inbound
// signature settings (/v1/sources/:name/settings) and URL tokens (/v1/sources/:name/tokens).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { listSources, routeOf } from "../../sources/registry";
import { SettingsBody, SettingsView, SourceName, TokenCreate, TokenCreated, TokenList, TokenParams } from "./model";
import * as service from "./service";
import { publicOrigin } from "../../http/public-url";

const Source = t.Object({
  name: t.String(),
  describe: t.String(),
  kind: t.String({ description: "alert: every item opens an alert; event and connector: rules decide" }),
  route: t.String(),
  fields: t.Array(t.Object({ path: t.String(), maps_to: t.String(), note: t.Optional(t.String()) })),
});

export function sourcesModule(deps: Deps) {
  const admin = (request: Request) => deps.auth.authorize(request.headers, "admin").tenantId;
  const tags = ["sources"];
  return new Elysia({ name: "sources" })
    .get("/v1/sources/:name/settings", ({ request, params }) => service.getSettings(deps, admin(request), params.name), {
      params: SourceName,
      response: SettingsView,
      detail: { summary: "The signature setting in force for a source (secret masked)", tags },
    })
    .put("/v1/sources/:name/settings", ({ request, params, body }) => service.putSettings(deps, admin(request), params.name, body), {
      params: SourceName,
      body: SettingsBody,
      response: SettingsView,
      detail: { summary: "Set the source's signature scheme and secret for this tenant", tags },
    })
    .delete(
      "/v1/sources/:name/settings",
      async ({ request, params, set }) => {
        await service.deleteSettings(deps, admin(request), params.name);
        set.status = 204;
        return "";
      },
      { params: SourceName, detail: { summary: "Remove the tenant's setting (the environment's applies again)", tags } },
    )
    .post(
      "/v1/sources/:name/tokens",
      ({ request, params, body, set }) => {
        const tenant = admin(request);
        set.status = 201;
        return service.createToken(deps, tenant, params.name, body ?? {}, publicOrigin(deps.config, request));
      },
      {
        params: SourceName,
        body: t.Optional(TokenCreate),
        response: { 201: TokenCreated },
        detail: { summary: "A URL token (?token=) granting ingest to this source only; shown once", tags },
      },
    )
    .get("/v1/sources/:name/tokens", ({ request, params }) => service.listTokens(deps, admin(request), params.name), {
      params: SourceName,
      response: TokenList,
      detail: { summary: "The source's URL tokens (masked)", tags },
    })
    .delete(
      "/v1/sources/:name/tokens/:id",
      async ({ request, params, set }) => {
        await service.revokeToken(deps, admin(request), params.name, params.id);
        set.status = 204;
        return "";
      },
      { params: TokenParams, detail: { summary: "Revoke a URL token (takes effect on the next request)", tags } },
    )
    .get(
    "/v1/sources",
    ({ request }) => {
      deps.auth.authorize(request.headers, "read");
      return {
        items: listSources().map((s) => ({
          name: s.name,
          describe: s.describe,
          kind: s.kind,
          route: routeOf(s),
          fields: s.fields,
        })),
      };
    },
    { response: t.Object({ items: t.Array(Source) }), detail: { summary: "Source plugins and the fields they read", tags: ["sources"] } },
  );
}
