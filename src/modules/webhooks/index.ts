// /v1/webhooks (admin scope): CRUD, secret reveal and rotation, delivery history and replay.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import {
  DeliveryDetail,
  DeliveryPage,
  DeliveryQuery,
  ReplayQuery,
  ReplayResult,
  RevealedHeaders,
  Secret,
  Webhook,
  WebhookCreate,
  WebhookCreated,
  WebhookDetail,
  WebhookList,
  WebhookUpdate,
} from "./model";
import * as service from "./service";

const Id = t.Object({ id: t.String() });

export function webhooksModule(deps: Deps) {
  const admin = (request: Request) => deps.auth.authorize(request.headers, "admin").tenantId;
  const tags = ["webhooks"];
  return new Elysia({ name: "webhooks" })
    .post(
      "/v1/webhooks",
      ({ request, body, set }) => {
        const tenant = admin(request);
        set.status = 201;
        return service.create(deps, tenant, body);
      },
      { body: WebhookCreate, response: { 201: WebhookCreated }, detail: { summary: "Add an outbound webhook", tags } },
    )
    .get("/v1/webhooks", ({ request }) => service.list(deps, admin(request)), { response: WebhookList, detail: { summary: "List webhooks", tags } })
    .get("/v1/webhooks/:id", ({ request, params }) => service.get(deps, admin(request), params.id), {
      params: Id,
      response: WebhookDetail,
      detail: { summary: "One webhook (secret masked) with its latest attempt", tags },
    })
    .patch("/v1/webhooks/:id", ({ request, params, body }) => service.update(deps, admin(request), params.id, body), {
      params: Id,
      body: WebhookUpdate,
      response: Webhook,
      detail: { summary: "Change a webhook; state active sends held messages", tags },
    })
    .delete(
      "/v1/webhooks/:id",
      async ({ request, params, set }) => {
        await service.remove(deps, admin(request), params.id);
        set.status = 204;
        return "";
      },
      { params: Id, detail: { summary: "Delete a webhook and its history", tags } },
    )
    .get("/v1/webhooks/:id/secret", ({ request, params }) => service.secret(deps, admin(request), params.id), {
      params: Id,
      response: Secret,
      detail: { summary: "Reveal the signing secret", tags },
    })
    .get("/v1/webhooks/:id/headers", ({ request, params }) => service.headers(deps, admin(request), params.id), {
      params: Id,
      response: RevealedHeaders,
      detail: { summary: "Reveal the custom headers (GET, list and history mask their values)", tags },
    })
    .post("/v1/webhooks/:id/rotate-secret", ({ request, params }) => service.rotate(deps, admin(request), params.id), {
      params: Id,
      response: Secret,
      detail: { summary: "New secret; the old one keeps signing during the overlap", tags },
    })
    .get("/v1/webhooks/:id/deliveries", ({ request, params, query }) => service.deliveries(deps, admin(request), params.id, query), {
      params: Id,
      query: DeliveryQuery,
      response: DeliveryPage,
      detail: { summary: "Deliveries, newest first", tags },
    })
    .post("/v1/webhooks/:id/replay", ({ request, params, query }) => service.replayMany(deps, admin(request), params.id, query), {
      params: Id,
      query: ReplayQuery,
      response: ReplayResult,
      detail: { summary: "Replay every matching message since a time", tags },
    })
    .get("/v1/deliveries/:id", ({ request, params }) => service.delivery(deps, admin(request), params.id), {
      params: Id,
      response: DeliveryDetail,
      detail: { summary: "One delivery with every attempt", tags },
    })
    .post("/v1/deliveries/:id/replay", ({ request, params }) => service.replayOne(deps, admin(request), params.id), {
      params: Id,
      response: DeliveryDetail,
      detail: { summary: "Send a delivery again (same webhook-id)", tags },
    });
}
