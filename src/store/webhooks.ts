// Outbound webhooks' SQL.
import type { Bound } from "./contract";
import type { SQLQueryBindings } from "bun:sqlite";
import type { Db } from "../db/client";
import { webhooks } from "../db/schema";
import { bumpVersion } from "./config-versions";
import { deleteLane, syncLane } from "./jobs";
import { releaseHeld, requeueDeliveries, unbatched, type OutboundWebhook } from "./deliveries";

export type WebhookRow = typeof webhooks.$inferSelect;

/** Change counter of the webhooks (the outbox on the writer thread caches them; see config-versions.ts). */
export const WEBHOOKS_VERSION = "webhooks";

const COLS = `id, tenant_id AS tenantId, name, url, state, disabled_reason AS disabledReason, disabled_at AS disabledAt,
  headers, triggers, filters, mode, interval_s AS intervalS, max_batch AS maxBatch, rate_limit AS rateLimit,
  timeout_ms AS timeoutMs, retry, ordered, secret, previous_secret AS previousSecret,
  previous_secret_until AS previousSecretUntil, consecutive_failures AS consecutiveFailures,
  backlog_cap AS backlogCap, backlog_policy AS backlogPolicy, created_at AS createdAt, updated_at AS updatedAt`;

/** The queue its deliveries go to (jobs/handlers/webhooks.ts: WEBHOOK_QUEUE). */
export const DELIVERY_QUEUE = "webhooks";

/**
 * The webhook's lane in the job queue follows its settings: its rate limit and ordering while
 * active; while inactive no limit (what was queued is moved to held at once).
 */
export function syncWebhookLane(db: Db, row: Pick<WebhookRow, "id" | "state" | "rateLimit" | "ordered">, now: number): void {
  syncLane(db, row.id, { queue: DELIVERY_QUEUE, rate: row.state === "active" ? row.rateLimit : 0, ordered: !!row.ordered }, now);
}

export function insertWebhook(db: Db, row: WebhookRow): void {
  db.insert(webhooks).values(row).run();
  syncWebhookLane(db, row, row.updatedAt);
  bumpVersion(db, WEBHOOKS_VERSION);
}

export function getWebhook(db: Db, tenantId: string, id: string): WebhookRow | null {
  return db.$client.query(`SELECT ${COLS} FROM webhooks WHERE tenant_id = ?1 AND id = ?2`).get(tenantId, id) as WebhookRow | null;
}

export function getWebhookById(db: Db, id: string): WebhookRow | null {
  return db.$client.query(`SELECT ${COLS} FROM webhooks WHERE id = ?1`).get(id) as WebhookRow | null;
}

export function listWebhooks(db: Db, tenantId: string): WebhookRow[] {
  return db.$client.query(`SELECT ${COLS} FROM webhooks WHERE tenant_id = ?1 ORDER BY id`).all(tenantId) as WebhookRow[];
}

/** The values of `row` in the order of both stores' insert/update statements ($1/?1 tenant, $2 id, ... $24 backlog policy). */
export function webhookValues(row: WebhookRow): unknown[] {
  return [
    row.tenantId,
    row.id,
    row.name,
    row.url,
    row.state,
    row.disabledReason,
    row.disabledAt,
    row.headers,
    row.triggers,
    row.filters,
    row.mode,
    row.intervalS,
    row.maxBatch,
    row.rateLimit,
    row.timeoutMs,
    row.retry,
    row.ordered,
    row.secret,
    row.previousSecret,
    row.previousSecretUntil,
    row.consecutiveFailures,
    row.updatedAt,
    row.backlogCap,
    row.backlogPolicy,
  ];
}

/** Writes every column but id/tenant/created_at from `row`. */
export function updateWebhook(db: Db, row: WebhookRow): boolean {
  const changed =
    db.$client
      .query(
        `UPDATE webhooks SET name = ?3, url = ?4, state = ?5, disabled_reason = ?6, disabled_at = ?7, headers = ?8,
           triggers = ?9, filters = ?10, mode = ?11, interval_s = ?12, max_batch = ?13, rate_limit = ?14,
           timeout_ms = ?15, retry = ?16, ordered = ?17, secret = ?18, previous_secret = ?19,
           previous_secret_until = ?20, consecutive_failures = ?21, updated_at = ?22, backlog_cap = ?23, backlog_policy = ?24
         WHERE tenant_id = ?1 AND id = ?2`,
      )
      .run(...(webhookValues(row) as SQLQueryBindings[])).changes === 1;
  if (changed) syncWebhookLane(db, row, row.updatedAt);
  // after the change: a reader that sees the new counter also sees the new row
  bumpVersion(db, WEBHOOKS_VERSION);
  return changed;
}

export function deleteWebhook(db: Db, tenantId: string, id: string): boolean {
  const gone = db.$client.query("DELETE FROM webhooks WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes === 1;
  if (gone) deleteLane(db, id);
  bumpVersion(db, WEBHOOKS_VERSION);
  return gone;
}

/** A delivered message: the failure streak ends. */
export function resetFailures(db: Db, id: string): void {
  db.$client.query("UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?1 AND consecutive_failures <> 0").run(id);
}

/** A message failed for good: returns the new streak. */
export function addFailure(db: Db, id: string): number {
  const r = db.$client.query("UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?1 RETURNING consecutive_failures AS n").get(id) as
    | { n: number }
    | null;
  return r?.n ?? 0;
}

/** Turns a webhook off with a reason; false when it was already inactive. */
export function disableWebhook(db: Db, id: string, reason: string, now: number): boolean {
  const changed =
    db.$client
      .query("UPDATE webhooks SET state = 'inactive', disabled_reason = ?2, disabled_at = ?3, updated_at = ?3 WHERE id = ?1 AND state = 'active'")
      .run(id, reason, now).changes === 1;
  if (changed) syncWebhookLane(db, { id, state: "inactive", rateLimit: 0, ordered: 0 }, now);
  bumpVersion(db, WEBHOOKS_VERSION);
  return changed;
}

/**
 * Start-up: every webhook has its lane (webhooks made before lanes existed get one, with their
 * backlog counted once, and their queued deliveries are moved into it).
 */
export function ensureWebhookLanes(db: Db, now: number): number {
  const missing = db.$client
    .query(`SELECT ${COLS} FROM webhooks WHERE id NOT IN (SELECT lane FROM job_lanes)`)
    .all() as WebhookRow[];
  for (const w of missing) {
    syncWebhookLane(db, w, now);
    db.$client
      .query("UPDATE job_lanes SET backlog = (SELECT count(*) FROM deliveries WHERE webhook_id = ?1 AND status = 'pending' AND kind = 'message') WHERE lane = ?1")
      .run(w.id);
    db.$client
      .query(
        `UPDATE jobs SET lane = ?1 WHERE lane IS NULL AND queue = ?2 AND state IN ('available', 'running')
         AND id IN (SELECT job_id FROM deliveries WHERE webhook_id = ?1 AND status = 'pending' AND job_id IS NOT NULL)`,
      )
      .run(w.id, DELIVERY_QUEUE);
  }
  return missing.length;
}

/** What else a change of a webhook does in its transaction (see applyWebhookUpdate). */
export type WebhookUpdateEffects = {
  /** re-activated: its held messages are sent (as this webhook) */
  release: OutboundWebhook | null;
  /** from batched to immediate: what waited for the next batch gets a job of its own (as this webhook) */
  unbatch: OutboundWebhook | null;
};

/**
 * A change of a webhook through the API, as one unit: applied only when the row still is the one
 * the caller read (its `updated_at` is `priorUpdatedAt`; false otherwise: read again), with what
 * the change sets off (held messages released, batched ones given jobs).
 */
export function applyWebhookUpdate(db: Db, next: WebhookRow, priorUpdatedAt: number, e: WebhookUpdateEffects, now: number): boolean {
  return db.$client.transaction(() => {
    const cur = db.$client.query("SELECT updated_at AS t FROM webhooks WHERE tenant_id = ?1 AND id = ?2").get(next.tenantId, next.id) as { t: number } | null;
    if (!cur || cur.t !== priorUpdatedAt) return false;
    updateWebhook(db, next);
    if (e.release) releaseHeld(db, e.release, now);
    if (e.unbatch) requeueDeliveries(db, e.unbatch, unbatched(db, next.id, 1_000_000).map((d) => d.id), now);
    return true;
  }).immediate();
}

/** This module's part of the store contract (src/store/contract.ts); the PostgreSQL twin is src/store/pg/webhooks.ts. */
export const webhooksFns = { insertWebhook, getWebhook, getWebhookById, listWebhooks, updateWebhook, deleteWebhook, resetFailures, addFailure, disableWebhook, ensureWebhookLanes, applyWebhookUpdate };
export type WebhooksStore = Bound<typeof webhooksFns>;
