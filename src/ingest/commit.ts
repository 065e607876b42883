// One group commit: every request that reached the writer since the previous commit, in a single
// transaction. Runs on the writer thread (writer-thread.ts); kept free of thread plumbing so that
// tests and tools can call it directly.
import type { Db } from "../db/client";
import type { NormalizedEvent } from "../core/event";
import { storeBatch, type IngestBatch } from "../store/events";
import { receivePing } from "../store/heartbeat-transitions";
import { startUnit } from "../store/config-versions";
import { isStoreUnavailable } from "../store/errors";

export { isStoreUnavailable };

/**
 * Work that must commit atomically with the events (the transactional outbox: enqueueing
 * deliveries, opening alerts). Each hook runs inside the group's transaction on the writer thread,
 * with the events the request actually inserted (repeats of known ids are not passed again).
 */
export type CommitHook = ((db: Db, tenantId: string, inserted: NormalizedEvent[], now: number) => void) & {
  /** optional first phase, before the events are inserted: may change them (tags, opensAlert) */
  before?: (db: Db, tenantId: string, events: NormalizedEvent[], now: number) => void;
};

export type CommitResult = { ok: true; ids: string[] } | { ok: false; unavailable: boolean; message: string };


/** Stores one request's events and runs the hooks on those it inserted (inside the caller's transaction). */
export function storeOne(db: Db, b: IngestBatch, hooks: CommitHook[], now: number): string[] {
  if (b.ping) {
    receivePing(db, b.ping.heartbeatId, b.ping, hooks, now);
    return [];
  }
  for (const h of hooks) h.before?.(db, b.tenantId, b.events, now);
  const r = storeBatch(db, b, now);
  if (r.inserted.length) for (const h of hooks) h(db, b.tenantId, r.inserted, now);
  return r.ids;
}

export function commitGroup(db: Db, batches: IngestBatch[], hooks: CommitHook[], now: number): CommitResult[] {
  startUnit();
  try {
    const ids = db.$client.transaction(() => batches.map((b) => storeOne(db, b, hooks, now))).immediate();
    return ids.map((i) => ({ ok: true, ids: i }));
  } catch (e) {
    if (isStoreUnavailable(e)) return batches.map(() => ({ ok: false, unavailable: true, message: String(e) }));
    // Something in one request broke the group: commit each on its own so only the guilty one fails.
    return batches.map((b) => {
      try {
        return { ok: true, ids: db.$client.transaction(() => storeOne(db, b, hooks, now)).immediate() };
      } catch (e2) {
        return { ok: false, unavailable: isStoreUnavailable(e2), message: String(e2) };
      }
    });
  }
}
