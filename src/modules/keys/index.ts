// /v1/keys (admin scope, the key's tenant): list, create (the key is shown once), revoke, rotate.
// The same operations as `keepwatch keys ...` on the command line.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { Key, KeyCreate, KeyCreated, KeyList, KeyRotated, KeyUpdate } from "./model";
import * as service from "./service";

export function keysModule(deps: Deps) {
  const params = t.Object({ id: t.String() });
  const tags = ["keys"];
  return new Elysia({ name: "keys" })
    .get("/v1/keys", ({ request }) => service.list(deps, deps.auth.authorize(request.headers, "admin").tenantId), {
      response: KeyList,
      detail: { summary: "List the tenant's API keys (never the keys themselves)", tags },
    })
    .post(
      "/v1/keys",
      ({ request, body, set }) => {
        const p = deps.auth.authorize(request.headers, "admin");
        set.status = 201;
        return service.create(deps, p.tenantId, body);
      },
      { body: KeyCreate, response: { 201: KeyCreated }, detail: { summary: "Create a key; the answer holds it once", tags } },
    )
    .get("/v1/keys/:id", ({ request, params }) => service.get(deps, deps.auth.authorize(request.headers, "admin").tenantId, params.id), {
      params,
      response: Key,
      detail: { summary: "One API key (never the key itself)", tags },
    })
    .patch(
      "/v1/keys/:id",
      ({ request, params, body }) => service.update(deps, deps.auth.authorize(request.headers, "admin").tenantId, params.id, body),
      { params, body: KeyUpdate, response: Key, detail: { summary: "Change a key's name, sources or rate; only the fields named", tags } },
    )
    .post(
      "/v1/keys/:id/revoke",
      ({ request, params }) => {
        const p = deps.auth.authorize(request.headers, "admin");
        return service.revoke(deps, p.tenantId, params.id, p.keyId);
      },
      { params, response: Key, detail: { summary: "Revoke a key now", tags } },
    )
    .post(
      "/v1/keys/:id/rotate",
      ({ request, params, set }) => {
        const p = deps.auth.authorize(request.headers, "admin");
        set.status = 201;
        return service.rotate(deps, p.tenantId, params.id);
      },
      { params, response: { 201: KeyRotated }, detail: { summary: "A new key with the same settings; the old one works for the overlap", tags } },
    );
}
