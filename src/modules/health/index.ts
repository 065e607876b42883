// /healthz: the process is up. /readyz: the database answers and can take a write lock.
// /metrics: Prometheus text format. /v1/replicas (admin scope): the replicas of the cluster.
import { Elysia, t } from "elysia";
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
      "/v1/replicas",
      async ({ request }) => {
        deps.auth.authorize(request.headers, "admin");
        const { now, replicas } = await deps.store.replicas.listReplicas(deps.clock());
        const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
        return {
          now: iso(now)!,
          self: deps.replicas.info.id,
          alive: replicas.filter((r) => r.state === "alive").length,
          items: replicas.map((r) => ({
            id: r.id,
            state: r.state,
            host: r.host,
            pid: r.pid,
            version: r.version,
            listen: r.listen,
            started_at: iso(r.startedAt)!,
            seen_at: iso(r.seenAt)!,
            stopped_at: iso(r.stoppedAt),
            down_since: iso(r.downSince),
          })),
        };
      },
      {
        response: ReplicaList,
        detail: {
          summary: "The replicas of the cluster: alive (seen within 5 s), dead (not seen since), stopped (a clean stop); on SQLite this one process",
          tags: ["operations"],
        },
      },
    )
    .get(
      "/metrics",
      async () => new Response(await deps.metrics.text(), { headers: { "content-type": deps.metrics.registry.contentType } }),
      { detail: { summary: "Prometheus metrics", tags: ["operations"], security: PUBLIC } },
    );
}

const Replica = t.Object({
  id: t.String(),
  state: t.Union([t.Literal("alive"), t.Literal("dead"), t.Literal("stopped")]),
  host: t.String(),
  pid: t.Number(),
  version: t.String(),
  listen: t.String({ description: "host:port the replica listens on" }),
  started_at: t.String(),
  seen_at: t.String({ description: "last refresh (every second while alive; database clock on PostgreSQL)" }),
  stopped_at: t.Nullable(t.String()),
  down_since: t.Nullable(t.String({ description: "the start of the cluster downtime this replica's start ended (1970 when none was on record); null when another replica was alive" })),
});

const ReplicaList = t.Object({
  now: t.String(),
  /** the replica that answered */
  self: t.String(),
  alive: t.Number(),
  items: t.Array(Replica),
});
