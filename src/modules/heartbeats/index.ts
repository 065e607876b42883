// /v1/heartbeats (dead-man's switches): CRUD, pause/resume, pings, flips.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { Flip, Heartbeat, HeartbeatCreate, HeartbeatPatch, Ping } from "./model";
import * as service from "./service";
import { publicOrigin } from "../../http/public-url";

export function heartbeatsModule(deps: Deps) {
  // ping URLs start with the public URL (else the request's scheme and host): src/http/public-url.ts
  const origin = (req: Request) => publicOrigin(deps.config, req);
  const params = t.Object({ id: t.String() });
  const admin = (req: Request) => deps.auth.authorize(req.headers, "admin").tenantId;
  const read = (req: Request) => deps.auth.authorize(req.headers, "read").tenantId;
  return new Elysia({ name: "heartbeats" })
    .get("/v1/heartbeats", ({ request }) => service.list(deps, read(request), origin(request)), {
      response: t.Object({ items: t.Array(Heartbeat) }),
      detail: { summary: "List heartbeats", tags: ["heartbeats"] },
    })
    .post(
      "/v1/heartbeats",
      ({ request, body, set }) => {
        const tenantId = admin(request);
        set.status = 201;
        return service.create(deps, tenantId, body, origin(request));
      },
      { body: HeartbeatCreate, response: { 201: Heartbeat }, detail: { summary: "Create a heartbeat (period or cron + tz)", tags: ["heartbeats"] } },
    )
    .get("/v1/heartbeats/:id", async ({ request, params }) => service.view(await service.mustGet(deps, read(request), params.id), origin(request)), {
      params,
      response: Heartbeat,
      detail: { summary: "One heartbeat", tags: ["heartbeats"] },
    })
    .patch("/v1/heartbeats/:id", ({ request, params, body }) => service.update(deps, admin(request), params.id, body, origin(request)), {
      params,
      body: HeartbeatPatch,
      response: Heartbeat,
      detail: { summary: "Change a heartbeat's settings", tags: ["heartbeats"] },
    })
    .delete(
      "/v1/heartbeats/:id",
      async ({ request, params, set }) => {
        await service.remove(deps, admin(request), params.id);
        set.status = 204;
        return null;
      },
      { params, detail: { summary: "Delete a heartbeat", tags: ["heartbeats"] } },
    )
    .post("/v1/heartbeats/:id/pause", ({ request, params }) => service.pauseOrResume(deps, admin(request), params.id, "pause", origin(request)), {
      params,
      response: Heartbeat,
      detail: { summary: "Pause: no alerts until resumed", tags: ["heartbeats"] },
    })
    .post("/v1/heartbeats/:id/resume", ({ request, params }) => service.pauseOrResume(deps, admin(request), params.id, "resume", origin(request)), {
      params,
      response: Heartbeat,
      detail: { summary: "Resume with a fresh period from now", tags: ["heartbeats"] },
    })
    .get("/v1/heartbeats/:id/pings", ({ request, params }) => service.pings(deps, read(request), params.id), {
      params,
      response: t.Object({ items: t.Array(Ping) }),
      detail: { summary: "The last 100 pings", tags: ["heartbeats"] },
    })
    .get("/v1/heartbeats/:id/flips", ({ request, params }) => service.flips(deps, read(request), params.id), {
      params,
      response: t.Object({ items: t.Array(Flip) }),
      detail: { summary: "State changes; a down flip is dated at the exact deadline", tags: ["heartbeats"] },
    });
}
