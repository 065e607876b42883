// The store contract of the job queue: what the worker needs from a database, as a few coarse,
// async units of work. Two implementations: src/store/queue-sqlite.ts (over src/store/jobs.ts,
// bun:sqlite) and src/store/queue-pg.ts (PostgreSQL). The contract tests are written once
// (test/pg/queue-contract.test.ts) and run against both.
//
// DESIGN (issue 11, "Two stores" in DESIGN.md)
//
// - Units of work, not statements. Each method is one transaction: enqueue a batch, claim a fair
//   batch across lanes, settle a batch of outcomes (and claim the next in the same commit), reclaim,
//   count. Callers never hold a transaction open across an await, and never see SQL.
//
// - SQLite keeps synchronous transactions. bun:sqlite is synchronous and one process owns the data
//   directory, so the SQLite implementation runs each unit as one `db.transaction(...).immediate()`
//   with no await inside, and returns a resolved promise. The hot path (the writer thread's group
//   commit, the worker's claim/commit) keeps calling the synchronous functions of src/store/jobs.ts
//   directly inside its own transaction; this adapter does not change them or their behaviour.
//
// - PostgreSQL gets real transactions. Each unit is one `sql.begin(...)` on a pooled connection:
//   READ COMMITTED, row locks, and `FOR UPDATE SKIP LOCKED` so that replicas claiming at once take
//   disjoint jobs and disjoint lanes without waiting on each other. Plain jobs are claimed by one
//   statement (pick with SKIP LOCKED, update, RETURNING). A lane claim locks the due lane rows with
//   SKIP LOCKED first (a lane is planned by one replica at a time, so its GCRA rate and in-flight
//   cap hold for the cluster), then claims that lane's oldest due jobs with SKIP LOCKED.
//
// - Time. SQLite mode uses the process clock (injected: tests use a fake one). PostgreSQL mode takes
//   every deadline from the database clock, `(extract(epoch from clock_timestamp()) * 1000)::bigint`
//   in the statement itself (run_at, lease_until, the due test of a claim), so replicas whose
//   clocks disagree still agree on when a lease ran out. That is why the contract speaks in delays
//   (`delayMs`, `leaseMs`), not in absolute times.
//
// - Fencing. A claim gives every job a fresh lease token; finish, retry and snooze are
//   `WHERE id = ? AND lease_token = ? AND state = 'running'`, so a worker whose lease ran out (and
//   whose job another claim took) changes nothing: `settle` reports it as not held.
//
// - Group commit. The ingest writer commits everything that arrived during the previous flush in one
//   transaction. On PostgreSQL that group becomes one transaction of multi-row statements: the jobs
//   of the whole group are one `INSERT ... SELECT FROM unnest($1::text[], ...)` (see
//   enqueueRows in queue-pg.ts), events and indicators likewise, never a statement per row; with
//   synchronous_commit on (set on every connection, src/db/pg-client.ts) a 202 still means the
//   commit is durable. The SQLite writer thread keeps its prepared single-row inserts: on SQLite a
//   statement costs no round trip.
//
// - Reclaim differs on purpose. SQLite (one process per data directory, under its lock): at start
//   every running job is orphaned, so all are released. PostgreSQL (replicas): only jobs whose lease
//   ran out by the database clock are released; a live replica's leases are left alone.
//
// - Claim hooks and outcome effects are data. The worker's claim may name a kind whose jobs get
//   their delivery attempt started in the claim's transaction (`startAttempt`: the attempt is counted
//   and on record from its claim on); an outcome carries the writes that belong with it as plain
//   records (`Effect`: mark a delivery, complete its attempt, make or release a batch, count a
//   failure and disable the webhook, save an enrichment), which `settle` applies in its transaction
//   only when the lease still held. Both stores apply the same list (src/store/queue-effects.ts,
//   src/store/pg/queue-effects.ts); an effect that throws is undone alone (a savepoint) and reported
//   in `errors`, the outcome itself stays.
import type { JobRow, JobState } from "./jobs";
import type { DeliveryRow, DeliveryStatus, NewAttempt, OutboundWebhook } from "./deliveries";
import type { EnrichmentFinish } from "../core/enrich";
import type { WebhookRef } from "../core/webhook-records";

export type { JobRow, JobState } from "./jobs";

export type EnqueueJob = {
  queue: string;
  kind: string;
  payload: unknown;
  /** attempts in all; 0 = unlimited */
  maxAttempts?: number;
  /** due this long after now (the store's clock); default now */
  delayMs?: number;
  idempotencyKey?: string | null;
  /** claimed through this lane (a webhook id) */
  lane?: string | null;
};

export type ClaimRequest = {
  /** jobs at most in this claim */
  limit: number;
  /** lease length; the lease ends this long after now (the store's clock) */
  leaseMs: number;
  /** the fencing token written on every claimed job */
  token: string;
  /**
   * the claiming replica's id (src/store/replicas.ts), written on every claimed job as lease_owner
   * and cleared with the token by the settle: which replica holds which jobs (GET /v1/replicas)
   */
  owner?: string | null;
  /** jobs in flight per lane at most (an ordered lane: 1) */
  laneMaxInflight: number;
  /** claimed jobs of this kind (payload `{ d: deliveryId }`) get their delivery attempt started (`started`) */
  startAttempt?: string;
};

/**
 * A claimed job; `started`: the attempt the claim started (null: the delivery was no longer pending);
 * `delivery`: the delivery row as the claim left it (its attempt counted), when the store read it in
 * the claim anyway (PostgreSQL's batched claim hook) — absent: the handler reads it.
 */
export type ClaimedJob = JobRow & { started?: { id: number; attempt: number } | null; delivery?: DeliveryRow };

/** An attempt's request and response (completeAttempt). */
export type AttemptResult = Omit<NewAttempt, "delivery_id" | "webhook_id" | "attempt">;

/** A write that belongs with an outcome: applied in the settle's transaction, only if its lease held. */
export type Effect =
  | { type: "discardAttempt"; attemptId: number; deliveryId: string }
  | { type: "completeAttempt"; attemptId: number; result: AttemptResult }
  | { type: "insertAttempt"; attempt: NewAttempt }
  | { type: "markDelivery"; id: string; status: DeliveryStatus; attempted?: boolean; statusCode?: number | null; error?: string | null }
  | { type: "markBatchMembers"; batchId: string; status: DeliveryStatus; statusCode?: number | null; error?: string | null }
  | { type: "releaseBatch"; batchId: string; status: DeliveryStatus }
  | { type: "makeBatch"; webhook: OutboundWebhook; id: string; memberIds: string[] }
  | { type: "enqueueFlush"; webhook: Pick<OutboundWebhook, "id" | "intervalS">; immediate?: boolean }
  | { type: "resetFailures"; webhookId: string }
  /** a message failed for good: the streak grows; at `disableAfter` (> 0) the webhook is disabled, else `otherwise` is applied */
  | { type: "addFailure"; webhook: WebhookRef; disableAfter: number; lastError: string; otherwise?: Effect[] }
  /** turns the webhook off and, if it was on, stores `webhook.disabled` and tells the tenant's other webhooks */
  | { type: "disableWebhook"; webhook: WebhookRef; reason: string }
  /** saves an enrichment outcome; `alert.updated` goes out when the alert's tags or severity changed */
  | { type: "finishEnrichment"; finish: EnrichmentFinish };

type Fenced = { id: number; token: string; lane?: string | null; effects?: Effect[] };
export type Outcome =
  | (Fenced & { action: "finish"; state: "succeeded" | "failed" | "dead"; error?: string | null })
  | (Fenced & { action: "retry"; delayMs: number; error: string })
  | (Fenced & { action: "snooze"; delayMs: number });

/** What a settle did: held[i], whether outcome i held its lease; errors[i], why its effects failed (null: applied or none). */
export type Settled = { held: boolean[]; errors: (string | null)[]; claimed: ClaimedJob[] };

export type LanePolicy = { queue: string; rate: number; ordered: boolean };

export interface QueueStore {
  /** which implementation (for test names and logs) */
  readonly kind: "sqlite" | "postgres";
  /** the store's clock in epoch ms (PostgreSQL: the database's) */
  now(): Promise<number>;
  /** Inserts jobs in one transaction; a used idempotency key gives the existing id, created false. */
  enqueue(jobs: EnqueueJob[]): Promise<{ id: number; created: boolean }[]>;
  /**
   * Claims up to `limit` jobs of a queue in one transaction: due plain jobs and plain jobs whose
   * lease ran out first (oldest first), then a fair share per due lane within its rate and
   * in-flight cap. Returned plain jobs first, then the lanes' jobs, each part oldest first.
   */
  claim(queue: string, req: ClaimRequest): Promise<ClaimedJob[]>;
  /**
   * Applies outcomes, each fenced by its lease token (held[i]: whether outcome i still held its
   * lease) with its effects when it held, and, with `next`, claims the next jobs in the same
   * transaction (one commit for both).
   */
  settle(outcomes: Outcome[], next?: { queue: string; req: ClaimRequest }): Promise<Settled>;
  /** Releases orphaned leases (see the design notes above); returns the released jobs. */
  reclaim(): Promise<JobRow[]>;
  /** Creates or updates a lane's policy (rate limit, ordering) and wakes it. */
  syncLane(lane: string, policy: LanePolicy): Promise<void>;
  /** Jobs of a queue by state (backlog counts). */
  counts(queue: string): Promise<Record<JobState, number>>;
  /** The earliest time something of the queue becomes claimable, or null. */
  nextDue(queue: string): Promise<number | null>;
  /**
   * nextDue minus now() in one look (PostgreSQL: one statement on the database clock instead of
   * two): ms until something of the queue becomes claimable (≤ 0: now), or null. Optional: the
   * worker falls back to nextDue and now (SQLite: the injected clock).
   */
  dueIn?(queue: string): Promise<number | null>;
  get(id: number): Promise<JobRow | null>;
  close(): Promise<void>;
}
