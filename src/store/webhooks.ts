// Outbound webhooks' SQL.
import type { Db } from "../db/client";
import { webhooks } from "../db/schema";

export type WebhookRow = typeof webhooks.$inferSelect;

const COLS = `id, tenant_id AS tenantId, name, url, state, disabled_reason AS disabledReason, disabled_at AS disabledAt,
  headers, triggers, filters, mode, interval_s AS intervalS, max_batch AS maxBatch, rate_limit AS rateLimit,
  timeout_ms AS timeoutMs, retry, ordered, secret, previous_secret AS previousSecret,
  previous_secret_until AS previousSecretUntil, consecutive_failures AS consecutiveFailures,
  created_at AS createdAt, updated_at AS updatedAt`;

export function insertWebhook(db: Db, row: WebhookRow): void {
  db.insert(webhooks).values(row).run();
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
  return (
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
      ).changes === 1
  );
}

export function deleteWebhook(db: Db, tenantId: string, id: string): boolean {
  return db.$client.query("DELETE FROM webhooks WHERE tenant_id = ?1 AND id = ?2").run(tenantId, id).changes === 1;
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
  return (
    db.$client
      .query("UPDATE webhooks SET state = 'inactive', disabled_reason = ?2, disabled_at = ?3, updated_at = ?3 WHERE id = ?1 AND state = 'active'")
      .run(id, reason, now).changes === 1
  );
}
