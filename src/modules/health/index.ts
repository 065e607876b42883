// /healthz: the process is up. /readyz: the database answers and can take a write lock.
// /metrics: Prometheus text format. /v1/replicas (admin scope): the replicas of the cluster and what
// each is doing (service.ts).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { PUBLIC } from "../../http/openapi";
import type { LeasedJobs } from "../../store/replicas";
import { replicaActivity } from "./service";

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
        const { now, replicas, unattributed } = await replicaActivity(deps.store, deps.clock());
        const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
        const leases = (js: LeasedJobs[]) =>
          js.map((j) => ({ queue: j.queue, kind: j.kind, leased: j.count, expired: j.expired, first_lease_end: iso(j.firstLeaseEnd)! }));
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
            jobs: leases(r.jobs),
            housekeeping: r.housekeeping.map((h) => ({ name: h.name, lease_until: iso(h.leaseUntil)! })),
            counters: r.stats && { ingest_requests: r.stats.ingestRequests, events_stored: r.stats.eventsStored, delivery_attempts: r.stats.deliveryAttempts },
          })),
          unattributed: leases(unattributed),
        };
      },
      {
        response: ReplicaList,
        detail: {
          summary:
            "The replicas of the cluster: alive (seen within 5 s), dead (not seen since), stopped (a clean stop), and what each is doing: the jobs it holds leases on, the housekeeping it runs, its counters since its start; on SQLite this one process",
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

/** Leased jobs of one queue and kind (by one replica, or unattributed). */
const Leases = t.Object({
  queue: t.String({ description: "webhooks or enrichment" }),
  kind: t.String({ description: "deliver (a webhook message), flush (a batched webhook's batch), enrich (an alert's enrichment)" }),
  leased: t.Number({ description: "jobs of this kind it holds a lease on (running)" }),
  expired: t.Number({ description: "of those, the ones past their lease end: another replica may take them over (a dead or hung holder)" }),
  first_lease_end: t.String({ description: "the earliest lease end among them" }),
});

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
  jobs: t.Array(Leases, { description: "what it is doing now: the jobs it holds leases on, by queue and kind (empty: idle)" }),
  housekeeping: t.Array(t.Object({ name: t.String({ description: "retention.prune, idempotency.prune, rule-hits.prune" }), lease_until: t.String() }), {
    description: "the housekeeping jobs it runs now, one replica at a time (it holds their lease)",
  }),
  counters: t.Nullable(
    t.Object(
      { ingest_requests: t.Number(), events_stored: t.Number(), delivery_attempts: t.Number() },
      { description: "what it counted since its start, as of its last refresh (seen_at); null before its first refresh" },
    ),
  ),
});

const ReplicaList = t.Object({
  now: t.String(),
  /** the replica that answered */
  self: t.String(),
  alive: t.Number(),
  items: t.Array(Replica),
  unattributed: t.Array(Leases, { description: "leased jobs whose holder is not on record (claimed by an older keepwatch, or by a replica whose row was pruned)" }),
});
