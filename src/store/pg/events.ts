// Events on PostgreSQL: the twin of src/store/events.ts, and the PostgreSQL group commit.
//
// The group commit (pgCommitGroup) is ONE transaction per group, whatever the number of requests
// and events in it: a fixed handful of statements (idempotency keys claimed, every event inserted,
// conflicts resolved, every indicator inserted, idempotency keys answered), each multi-row through
// unnest arrays, plus what the commit hooks do. The hooks (src/store/pg/hooks.ts) run where
// src/ingest/commit.ts runs the SQLite ones: each request's `before` phase ahead of the insert, then
// the after phase with the events each request inserted: for the default hook list, once for all
// the requests of the group (pgCommitHooks.group, src/store/pg/alerting.ts: a fixed number of
// multi-row statements per group, with the results and message order of running them request by
// request); for another list, request by request.
import type { NormalizedEvent } from "../../core/event";
import { SEVERITY_RANK } from "../../core/severity";
import type { CommitResult } from "../../ingest/commit";
import { inTx, type PgConn, type PgTwin } from "../contract";
import { IDEMPOTENCY_WINDOW_MS, type EventFilter, type EventRow, type eventsFns, type IngestBatch } from "../events";
import { isPgUnavailable } from "./errors";
import { ftsDoc, ftsTsQuery } from "./fts";
import { pgCommitHooks, type PgCommitHook, type PgCommitHooks } from "./hooks";
import { pgHeartbeatTransitionsFns } from "./heartbeat-transitions";

/** The columns of an EventRow (camelCase like drizzle's SQLite rows; tags as JSON text, as on SQLite). */
export const EVENT_COLS = `id, tenant_id AS "tenantId", received_at AS "receivedAt", occurred_at AS "occurredAt",
  source_name AS "sourceName", source, type, module, title, summary, severity, severity_rank AS "severityRank",
  severity_raw AS "severityRaw", host, tags::text AS tags, payload, raw_payload AS "rawPayload",
  dedup_key AS "dedupKey", external_id AS "externalId", warnings`;

type Stored = { ids: string[]; inserted: NormalizedEvent[] };

const idemName = (t: string, r: string, k: string) => `${t}\u0000${r}\u0000${k}`;

/**
 * Stores several requests' events in the caller's transaction with a fixed number of statements.
 * The answer per request is what storeBatch answers on SQLite for the same requests stored one
 * after the other: a repeated Idempotency-Key (stored before, or earlier in this group) answers the
 * first request's ids; an item the tenant already sent (same source and external id, stored before
 * or earlier in this group) answers the stored event's id.
 */
export async function pgStoreBatches(tx: PgConn, batches: IngestBatch[], now: number): Promise<Stored[]> {
  const out: (Stored | null)[] = batches.map(() => null);
  // 1. idempotency keys, claimed in one statement (issue 12: replicas racing with the same new key).
  // Each distinct key of the group is inserted with an empty answer, or an expired one taken over;
  // a live key (stored before) is touched instead and answers its stored ids. A key another
  // transaction claimed and has not committed yet makes this statement wait for it: then its ids
  // if it committed, ours if it rolled back. So one request stores the events of a key, whichever
  // replica or pool it reached, and every other answers its ids. The empty answer never commits:
  // step 5 writes the ids in this transaction. Keys in a fixed order: two groups claiming the same
  // keys wait for each other rather than deadlock.
  /** request index → the earlier request of this group with the same key */
  const aliasOf = new Map<number, number>();
  const firstWithKey = new Map<string, number>();
  const toStore: number[] = [];
  batches.forEach((b, i) => {
    if (b.idempotencyKey) {
      const name = idemName(b.tenantId, b.route, b.idempotencyKey);
      const first = firstWithKey.get(name);
      if (first !== undefined) return void aliasOf.set(i, first);
      firstWithKey.set(name, i);
    }
  });
  const known = new Map<string, string[]>();
  if (firstWithKey.size) {
    const names = [...firstWithKey.keys()].sort();
    const keyed = names.map((n) => batches[firstWithKey.get(n)!]!);
    const rows = await tx.unsafe(
      `INSERT INTO idempotency_keys AS k (tenant_id, route, key, ids, created_at)
       SELECT u.tenant_id, u.route, u.key, '', $4::bigint FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(tenant_id, route, key, ord)
        ORDER BY u.ord
       ON CONFLICT (tenant_id, route, key) DO UPDATE
          SET ids = CASE WHEN k.created_at < $5::bigint THEN excluded.ids ELSE k.ids END,
              created_at = CASE WHEN k.created_at < $5::bigint THEN excluded.created_at ELSE k.created_at END
       RETURNING k.tenant_id, k.route, k.key, k.ids`,
      [keyed.map((b) => b.tenantId), keyed.map((b) => b.route), keyed.map((b) => b.idempotencyKey!), now, now - IDEMPOTENCY_WINDOW_MS] as any[],
    );
    for (const r of rows) if (r.ids !== "") known.set(idemName(r.tenant_id, r.route, r.key), JSON.parse(r.ids));
  }
  batches.forEach((b, i) => {
    if (aliasOf.has(i)) return;
    const prev = b.idempotencyKey ? known.get(idemName(b.tenantId, b.route, b.idempotencyKey)) : undefined;
    if (prev) return void (out[i] = { ids: prev, inserted: [] });
    toStore.push(i);
  });
  // 2. every event of the group, in order, in one statement; a conflict (an external id the tenant
  // already sent, before or earlier in this statement) inserts nothing and returns nothing
  const evs: NormalizedEvent[] = toStore.flatMap((i) => batches[i]!.events);
  const inserted = new Set<string>();
  if (evs.length) {
    const col = <T>(f: (e: NormalizedEvent) => T) => evs.map(f);
    const rows = await tx.unsafe(
      `INSERT INTO events (id, tenant_id, received_at, occurred_at, source_name, source, type, module, title, summary,
              severity, severity_rank, severity_raw, host, tags, payload, raw_payload, dedup_key, external_id, warnings, fts)
       SELECT u.id, u.tenant_id, u.received_at, u.occurred_at, u.source_name, u.source, u.type, u.module, u.title, u.summary,
              u.severity, u.severity_rank, u.severity_raw, u.host, u.tags::jsonb, u.payload, u.raw_payload, u.dedup_key, u.external_id, u.warnings, u.fts::tsvector
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::int[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[])
              WITH ORDINALITY AS u(id, tenant_id, received_at, occurred_at, source_name, source, type, module, title, summary,
                                   severity, severity_rank, severity_raw, host, tags, payload, raw_payload, dedup_key, external_id, warnings, fts, ord)
        ORDER BY u.ord
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        col((e) => e.id),
        col((e) => e.tenantId),
        col((e) => e.receivedAt),
        col((e) => e.occurredAt),
        col((e) => e.sourceName),
        col((e) => e.source),
        col((e) => e.type),
        col((e) => e.module),
        col((e) => e.title),
        col((e) => e.summary),
        col((e) => e.severity),
        col((e) => SEVERITY_RANK[e.severity]),
        col((e) => e.severityRaw),
        col((e) => e.host),
        col((e) => JSON.stringify(e.tags)),
        col((e) => e.payloadJson),
        col((e) => e.rawJson),
        col((e) => e.dedupKey),
        col((e) => e.externalId),
        col((e) => (e.warnings.length ? JSON.stringify(e.warnings) : null)),
        // the words of full-text search, made here (fts.ts)
        col((e) => ftsDoc(e.title, e.summary, e.payloadJson)),
      ] as any[],
    );
    for (const r of rows) inserted.add(r.id as string);
  }
  // 3. the events that were not inserted: answer with the stored event of the same external id
  // (ids are fresh ULIDs: only the external-id index can conflict)
  const missing = evs.filter((e) => !inserted.has(e.id));
  const stored = new Map<string, string>();
  const extName = (t: string, s: string, x: string | null) => `${t}\u0000${s}\u0000${x}`;
  if (missing.length) {
    const withExt = missing.filter((e) => e.externalId !== null);
    const rows = withExt.length
      ? await tx.unsafe(
          `SELECT e.id, e.tenant_id, e.source_name, e.external_id FROM events e
             JOIN unnest($1::text[], $2::text[], $3::text[]) AS u(tenant_id, source_name, external_id)
               ON e.tenant_id = u.tenant_id AND e.source_name = u.source_name AND e.external_id = u.external_id`,
          [withExt.map((e) => e.tenantId), withExt.map((e) => e.sourceName), withExt.map((e) => e.externalId)] as any[],
        )
      : [];
    for (const r of rows) stored.set(extName(r.tenant_id, r.source_name, r.external_id), r.id as string);
    for (const e of missing)
      if (!stored.has(extName(e.tenantId, e.sourceName, e.externalId))) throw new Error(`event ${e.id} was neither inserted nor found by external id`);
  }
  // 4. the indicators of the inserted events, one statement
  const fresh = evs.filter((e) => inserted.has(e.id));
  const ind = fresh.flatMap((e) => e.indicators.map((i) => [e.id, e.tenantId, i.type, i.value, i.origin] as const));
  if (ind.length) {
    await tx.unsafe(
      `INSERT INTO event_indicators (event_id, tenant_id, type, value, origin)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING`,
      [0, 1, 2, 3, 4].map((k) => ind.map((r) => r[k])) as any[],
    );
  }
  // 5. the answers, then the new idempotency keys (one statement)
  for (const i of toStore) {
    const ids: string[] = [];
    const ins: NormalizedEvent[] = [];
    for (const e of batches[i]!.events) {
      if (inserted.has(e.id)) {
        ids.push(e.id);
        ins.push(e);
      } else ids.push(stored.get(extName(e.tenantId, e.sourceName, e.externalId))!);
    }
    out[i] = { ids, inserted: ins };
  }
  for (const [i, first] of aliasOf) out[i] = { ids: out[first]!.ids, inserted: [] };
  const put = toStore.filter((i) => batches[i]!.idempotencyKey);
  if (put.length) {
    // the answers of the keys claimed in step 1
    await tx.unsafe(
      `UPDATE idempotency_keys k SET ids = u.ids
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(tenant_id, route, key, ids)
        WHERE k.tenant_id = u.tenant_id AND k.route = u.route AND k.key = u.key`,
      [
        put.map((i) => batches[i]!.tenantId),
        put.map((i) => batches[i]!.route),
        put.map((i) => batches[i]!.idempotencyKey!),
        put.map((i) => JSON.stringify(out[i]!.ids)),
      ] as any[],
    );
  }
  return out as Stored[];
}

/** storeBatch on PostgreSQL: one request (inside the caller's transaction when `conn` is one). */
export async function pgStoreBatch(conn: PgConn, b: IngestBatch, now: number): Promise<Stored> {
  return inTx(conn, async (tx) => (await pgStoreBatches(tx, [b], now))[0]!);
}

/**
 * Stores requests and runs the hooks on what each inserted, in the caller's transaction: the twin of
 * storeOne (src/ingest/commit.ts) for a whole group. Pings go to the heartbeat domain, in order
 * with the events around them. Heartbeat transitions call this for their system events.
 */
export async function pgStoreMany(tx: PgConn, batches: IngestBatch[], hooks: PgCommitHook[], now: number): Promise<string[][]> {
  const out: string[][] = batches.map(() => []);
  // runs of event requests between pings keep the SQLite order (a ping sees the events before it)
  let run: number[] = [];
  const flushRun = async () => {
    if (!run.length) return;
    const idx = run;
    run = [];
    for (const i of idx) for (const h of hooks) await h.before?.(tx, batches[i]!.tenantId, batches[i]!.events, now);
    const stored = await pgStoreBatches(tx, idx.map((i) => batches[i]!), now);
    idx.forEach((i, k) => (out[i] = stored[k]!.ids));
    const segs = idx.map((i, k) => ({ tenantId: batches[i]!.tenantId, inserted: stored[k]!.inserted })).filter((s) => s.inserted.length);
    // the whole chain for every request at once (a fixed number of statements per group), or request by request
    const group = (hooks as PgCommitHooks).group;
    if (group) await group(tx, segs, now);
    else for (const s of segs) for (const h of hooks) await h(tx, s.tenantId, s.inserted, now);
  };
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    if (!b.ping) {
      run.push(i);
      continue;
    }
    await flushRun();
    await pgHeartbeatTransitionsFns.receivePing(tx, b.ping.heartbeatId, b.ping, hooks, now);
  }
  await flushRun();
  return out;
}

/**
 * One group commit on PostgreSQL: one transaction for every request of the group. A group that
 * fails because of one request is committed again request by request, so only that one fails; a
 * database that is unavailable (stopped, restarting, read-only, out of connections) fails every
 * request as unavailable (503 + Retry-After, never 202), and the next group tries again.
 */
export async function pgCommitGroup(pool: PgConn, batches: IngestBatch[], now: number, hooks: PgCommitHook[] = pgCommitHooks): Promise<CommitResult[]> {
  try {
    const ids = await inTx(pool, (tx) => pgStoreMany(tx, batches, hooks, now));
    return ids.map((i) => ({ ok: true, ids: i }));
  } catch (e) {
    if (isPgUnavailable(e) || batches.length === 1) return batches.map(() => ({ ok: false, unavailable: isPgUnavailable(e), message: String(e) }));
    const out: CommitResult[] = [];
    for (const b of batches) {
      try {
        const [ids] = await inTx(pool, (tx) => pgStoreMany(tx, [b], hooks, now));
        out.push({ ok: true, ids: ids! });
      } catch (e2) {
        out.push({ ok: false, unavailable: isPgUnavailable(e2), message: String(e2) });
      }
    }
    return out;
  }
}

export async function pgPruneIdempotencyKeys(conn: PgConn, olderThan: number, limit?: number): Promise<number> {
  if (limit === undefined) return (await conn`DELETE FROM idempotency_keys WHERE created_at < ${olderThan}`).count;
  return (
    await conn`DELETE FROM idempotency_keys WHERE (tenant_id, route, key) IN
                 (SELECT tenant_id, route, key FROM idempotency_keys WHERE created_at < ${olderThan} LIMIT ${limit})`
  ).count;
}

export async function pgListEvents(conn: PgConn, tenantId: string, f: EventFilter): Promise<EventRow[]> {
  const where = ["tenant_id = $1"];
  const args: unknown[] = [tenantId];
  const add = (cond: (p: string) => string, v: unknown) => {
    args.push(v);
    where.push(cond(`$${args.length}`));
  };
  if (f.sourceName) add((p) => `source_name = ${p}`, f.sourceName);
  if (f.source) add((p) => `source = ${p}`, f.source);
  if (f.type) add((p) => `type = ${p}`, f.type);
  if (f.minSeverityRank !== undefined) add((p) => `severity_rank >= ${p}::int`, f.minSeverityRank);
  if (f.since !== undefined) add((p) => `received_at >= ${p}::bigint`, f.since);
  if (f.until !== undefined) add((p) => `received_at < ${p}::bigint`, f.until);
  if (f.before) add((p) => `id < ${p}`, f.before);
  if (f.after) add((p) => `id > ${p}`, f.after);
  if (f.text) {
    // the GIN index on events.fts (migrations-pg/0002_events_fts.sql) answers the matching rows;
    // the insert writes it, so unlike SQLite's background index a committed event is found at once
    const q = ftsTsQuery(f.text);
    if (q === null) return [];
    add((p) => `fts @@ ${p}::tsquery`, q);
  }
  args.push(f.limit);
  const rows = await conn.unsafe(
    `SELECT ${EVENT_COLS} FROM events WHERE ${where.join(" AND ")} ORDER BY id ${f.after ? "ASC" : "DESC"} LIMIT $${args.length}`,
    args as any[],
  );
  const out = rows.map(toEventRow);
  return f.after ? out.reverse() : out;
}

/** A row as drizzle's SQLite EventRow (plain object, numbers for bigints). */
export function toEventRow(r: Record<string, unknown>): EventRow {
  return { ...(r as unknown as EventRow) };
}

export async function pgGetEvent(conn: PgConn, tenantId: string, id: string): Promise<EventRow | undefined> {
  const [r] = await conn.unsafe(`SELECT ${EVENT_COLS} FROM events WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return r ? toEventRow(r) : undefined;
}

export async function pgEventIndicatorsOf(conn: PgConn, eventId: string): Promise<{ type: string; value: string; origin: string }[]> {
  // SQLite reads them in primary-key order (event_id, type, value); so does this
  const rows = await conn`SELECT type, value, origin FROM event_indicators WHERE event_id = ${eventId} ORDER BY type COLLATE "C", value COLLATE "C"`;
  return rows.map((r) => ({ type: r.type, value: r.value, origin: r.origin }));
}

export async function pgCountEvents(conn: PgConn, tenantId?: string): Promise<number> {
  const [r] = tenantId ? await conn`SELECT count(*) AS n FROM events WHERE tenant_id = ${tenantId}` : await conn`SELECT count(*) AS n FROM events`;
  return Number(r!.n);
}

export async function pgAlertsOfEvent(conn: PgConn, tenantId: string, eventId: string): Promise<{ id: string; title: string; status: string; severity: string }[]> {
  const rows = await conn`SELECT a.id, a.title, a.status, a.severity FROM alert_events ae JOIN alerts a ON a.id = ae.alert_id
                           WHERE ae.event_id = ${eventId} AND a.tenant_id = ${tenantId} ORDER BY a.id DESC LIMIT 20`;
  return rows.map((r) => ({ id: r.id, title: r.title, status: r.status, severity: r.severity }));
}

export const pgEventsFns: PgTwin<typeof eventsFns> = {
  storeBatch: pgStoreBatch,
  pruneIdempotencyKeys: pgPruneIdempotencyKeys,
  listEvents: pgListEvents,
  getEvent: pgGetEvent,
  eventIndicatorsOf: pgEventIndicatorsOf,
  countEvents: pgCountEvents,
  alertsOfEvent: pgAlertsOfEvent,
};
