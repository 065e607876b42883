// /healthz: the process is up. /readyz: the database answers and can take a write lock.
// /metrics: Prometheus text format.
import { Elysia } from "elysia";
import type { Deps } from "../../deps";
import { PUBLIC } from "../../http/openapi";

export function healthModule(deps: Deps, state: { draining: boolean }) {
  return new Elysia({ name: "health" })
    .get("/healthz", () => ({ status: "ok" }), { detail: { summary: "Liveness", tags: ["operations"], security: PUBLIC } })
    .get(
      "/readyz",
      async ({ set }) => {
        if (state.draining) {
          set.status = 503;
          return { status: "draining" };
        }
        const err = await deps.store.health.checkWritable();
        if (err) {
          set.status = 503;
          return { status: "unavailable", error: err };
        }
        return { status: "ready" };
      },
      { detail: { summary: "Readiness: the database is writable", tags: ["operations"], security: PUBLIC } },
    )
    .get(
      "/metrics",
      async () => new Response(await deps.metrics.text(), { headers: { "content-type": deps.metrics.registry.contentType } }),
      { detail: { summary: "Prometheus metrics", tags: ["operations"], security: PUBLIC } },
    );
}
