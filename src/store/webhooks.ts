// Outbound webhooks' SQL.
import type { Db } from "../db/client";
import { webhooks } from "../db/schema";
import { bumpVersion } from "./config-versions";

export type WebhookRow = typeof webhooks.$inferSelect;

/** Change counter of the webhooks (the outbox on the writer thread caches them; see config-versions.ts). */
export const WEBHOOKS_VERSION = "webhooks";

const COLS = `id, tenant_id AS tenantId, name, url, state, disabled_reason AS disabledReason, disabled_at AS disabledAt,
  headers, triggers, filters, mode, interval_s AS intervalS, max_batch AS maxBatch, rate_limit AS rateLimit,
  timeout_ms AS timeoutMs, retry, ordered, secret, previous_secret AS previousSecret,
  previous_secret_until AS previousSecretUntil, consecutive_failures AS consecutiveFailures,
  created_at AS createdAt, updated_at AS updatedAt`;

export function insertWebhook(db: Db, row: WebhookRow): void {
  db.insert(webhooks).values(row).run();
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

/** Writes every column but id/tenant/created_at from `row`. */
export function updateWebhook(db: Db, row: WebhookRow): boolean {
  const changed =
    db.$client
      .query(
        `UPDATE webhooks SET name = ?3, url = ?4, state = ?5, disabled_reason = ?6, disabled_at = ?7, headers = ?8,
           triggers = ?9, filters = ?10, mode = ?11, interval_s = ?12, max_batch = ?13, rate_limit = ?14,
           timeout_ms = ?15, retry = ?16, ordered = ?17, secret = ?18, previous_secret = ?19,
           previous_secret_until = ?20, consecutive_failures = ?21, updated_at = ?22
         WHERE tenant_id = ?1 AND id = ?2`,
      )
      .run(
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
      ).changes === 1;
  // after the change: a reader that sees the new counter also sees the new row
  bumpVersion(db, WEBHOOKS_VERSION);
  return changed;
}

export function deleteWebhook(db: Db, tenantId: string, id: string): boolean {
  const gone = db.$client.query("DELETE FROM webhooks WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes === 1;
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
  bumpVersion(db, WEBHOOKS_VERSION);
  return changed;
}
