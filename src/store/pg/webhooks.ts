// Outbound webhooks on PostgreSQL: the twin of src/store/webhooks.ts. A change to a webhook, its
// lane policy and its change counter are one transaction; the lane's next_at is the database clock.
import { inTx, type PgConn, type PgTwin } from "../contract";
import { DELIVERY_QUEUE, webhookValues, WEBHOOKS_VERSION, type webhooksFns, type WebhookRow, type WebhookUpdateEffects } from "../webhooks";
import { pgDeliveriesFns, pgReleaseHeld, pgRequeueIn } from "./deliveries";
import { syncLaneIn } from "../queue-pg";
import { pgBumpVersion } from "./config-versions";

/** Every column, aliased to the row's camelCase names (quoted: PostgreSQL folds unquoted names). */
export const WEBHOOK_COLS = `id, tenant_id AS "tenantId", name, url, state, disabled_reason AS "disabledReason", disabled_at AS "disabledAt",
  headers, triggers, filters, mode, interval_s AS "intervalS", max_batch AS "maxBatch", rate_limit AS "rateLimit",
  timeout_ms AS "timeoutMs", retry, ordered, secret, previous_secret AS "previousSecret",
  previous_secret_until AS "previousSecretUntil", consecutive_failures AS "consecutiveFailures",
  backlog_cap AS "backlogCap", backlog_policy AS "backlogPolicy", created_at AS "createdAt", updated_at AS "updatedAt"`;

const asRow = (r: Record<string, unknown>): WebhookRow => ({ ...(r as WebhookRow) });

/** The webhook's lane follows its settings (see syncWebhookLane in webhooks.ts). */
export async function pgSyncWebhookLane(tx: PgConn, row: Pick<WebhookRow, "id" | "state" | "rateLimit" | "ordered">): Promise<void> {
  await syncLaneIn(tx, row.id, { queue: DELIVERY_QUEUE, rate: row.state === "active" ? row.rateLimit : 0, ordered: !!row.ordered });
}


async function insertWebhook(pg: PgConn, row: WebhookRow): Promise<void> {
  await inTx(pg, async (tx) => {
    await tx.unsafe(
      `INSERT INTO webhooks (tenant_id, id, name, url, state, disabled_reason, disabled_at, headers, triggers, filters, mode,
         interval_s, max_batch, rate_limit, timeout_ms, retry, ordered, secret, previous_secret, previous_secret_until,
         consecutive_failures, updated_at, backlog_cap, backlog_policy, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
      [...webhookValues(row), row.createdAt] as any[],
    );
    await pgSyncWebhookLane(tx, row);
    await pgBumpVersion(tx, WEBHOOKS_VERSION);
  });
}

async function getWebhook(pg: PgConn, tenantId: string, id: string): Promise<WebhookRow | null> {
  const [r] = await pg.unsafe(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return r ? asRow(r) : null;
}

async function getWebhookById(pg: PgConn, id: string): Promise<WebhookRow | null> {
  const [r] = await pg.unsafe(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE id = $1`, [id]);
  return r ? asRow(r) : null;
}

export async function pgListWebhooks(pg: PgConn, tenantId: string): Promise<WebhookRow[]> {
  return (await pg.unsafe(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE tenant_id = $1 ORDER BY id`, [tenantId])).map(asRow);
}

async function updateWebhook(pg: PgConn, row: WebhookRow): Promise<boolean> {
  return await inTx(pg, async (tx) => {
    const r = await tx.unsafe(
      `UPDATE webhooks SET name = $3, url = $4, state = $5, disabled_reason = $6, disabled_at = $7, headers = $8,
         triggers = $9, filters = $10, mode = $11, interval_s = $12, max_batch = $13, rate_limit = $14,
         timeout_ms = $15, retry = $16, ordered = $17, secret = $18, previous_secret = $19,
         previous_secret_until = $20, consecutive_failures = $21, updated_at = $22, backlog_cap = $23, backlog_policy = $24
       WHERE tenant_id = $1 AND id = $2`,
      webhookValues(row) as any[],
    );
    const changed = r.count === 1;
    if (changed) await pgSyncWebhookLane(tx, row);
    await pgBumpVersion(tx, WEBHOOKS_VERSION);
    return changed;
  });
}

async function deleteWebhook(pg: PgConn, tenantId: string, id: string): Promise<boolean> {
  return await inTx(pg, async (tx) => {
    const gone = (await tx`DELETE FROM webhooks WHERE tenant_id = ${tenantId} AND id = ${id}`).count === 1;
    if (gone) await tx`DELETE FROM job_lanes WHERE lane = ${id}`;
    await pgBumpVersion(tx, WEBHOOKS_VERSION);
    return gone;
  });
}

async function resetFailures(pg: PgConn, id: string): Promise<void> {
  await pg`UPDATE webhooks SET consecutive_failures = 0 WHERE id = ${id} AND consecutive_failures <> 0`;
}

async function addFailure(pg: PgConn, id: string): Promise<number> {
  const [r] = await pg`UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ${id} RETURNING consecutive_failures AS n`;
  return r ? Number(r.n) : 0;
}

async function disableWebhook(pg: PgConn, id: string, reason: string, now: number): Promise<boolean> {
  return await inTx(pg, async (tx) => {
    const changed =
      (await tx`UPDATE webhooks SET state = 'inactive', disabled_reason = ${reason}, disabled_at = ${now}, updated_at = ${now}
                WHERE id = ${id} AND state = 'active'`).count === 1;
    if (changed) await pgSyncWebhookLane(tx, { id, state: "inactive", rateLimit: 0, ordered: 0 });
    await pgBumpVersion(tx, WEBHOOKS_VERSION);
    return changed;
  });
}

async function ensureWebhookLanes(pg: PgConn, _now: number): Promise<number> {
  return await inTx(pg, async (tx) => {
    const missing = (await tx.unsafe(`SELECT ${WEBHOOK_COLS} FROM webhooks WHERE id NOT IN (SELECT lane FROM job_lanes)`)).map(asRow);
    for (const w of missing) {
      await pgSyncWebhookLane(tx, w);
      await tx`UPDATE job_lanes SET backlog = (SELECT count(*) FROM deliveries WHERE webhook_id = ${w.id} AND status = 'pending' AND kind = 'message')
               WHERE lane = ${w.id}`;
      await tx`UPDATE jobs SET lane = ${w.id} WHERE lane IS NULL AND queue = ${DELIVERY_QUEUE} AND state IN ('available', 'running')
               AND id IN (SELECT job_id FROM deliveries WHERE webhook_id = ${w.id} AND status = 'pending' AND job_id IS NOT NULL)`;
    }
    return missing.length;
  });
}

async function applyWebhookUpdate(pg: PgConn, next: WebhookRow, priorUpdatedAt: number, e: WebhookUpdateEffects, now: number): Promise<boolean> {
  return await inTx(pg, async (tx) => {
    const [cur] = await tx`SELECT updated_at AS t FROM webhooks WHERE tenant_id = ${next.tenantId} AND id = ${next.id} FOR UPDATE`;
    if (!cur || Number(cur.t) !== priorUpdatedAt) return false;
    await updateWebhook(tx, next);
    if (e.release) await pgReleaseHeld(tx, e.release, now);
    if (e.unbatch) await pgRequeueIn(tx, e.unbatch, (await pgDeliveriesFns.unbatched(tx, next.id, 1_000_000)).map((d) => d.id), now);
    return true;
  });
}

export const pgWebhooksFns: PgTwin<typeof webhooksFns> = {
  insertWebhook,
  getWebhook,
  getWebhookById,
  listWebhooks: pgListWebhooks,
  updateWebhook,
  deleteWebhook,
  resetFailures,
  addFailure,
  disableWebhook,
  ensureWebhookLanes,
  applyWebhookUpdate,
};
