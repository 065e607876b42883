// The writer thread: owns the ingest write connection, normalizes requests and commits groups.
// Requests arrive as raw bytes, a message per HTTP event-loop turn; while a commit (and its fsync)
// runs, new messages queue up, and the next commit takes all of them. Each request is parsed and
// normalized (normalize.ts) just before the commit: one that is invalid is answered with its error
// and stays out of the transaction. The HTTP thread never waits for the disk, and never spends its
// time on JSON it only passes on.
import { statSync } from "node:fs";
import { openDatabase, type Db, type Durability } from "../db/client";
import { commitGroup } from "./commit";
import { commitHooks, enrichmentStats, setOutbox } from "./hooks";
import { WebhookDispatcher } from "../jobs/handlers/webhooks";
import { silentLogger } from "../lib/log";
import type { IngestBatch } from "../store/events";
import { ApiError, type ErrorDetail } from "../http/errors";
import { normalizeRequest, type RawIngest } from "./normalize";
import { startUnit } from "../store/config-versions";
import { takeGroup } from "./fair";

declare var self: Worker;

/**
 * A request for the writer: a normalized batch (heartbeat pings) or an ingest request's raw bytes,
 * with its item count (work.ts), which the writer uses to share each group between tenants.
 */
export type WriterItem = { seq: number; batch?: IngestBatch; raw?: RawIngest; items?: number };



export type WriterError = { status: number; code: string; message: string; details: ErrorDetail[]; headers: Record<string, string> };

export type WriterResult = { seq: number; ok: boolean; ids?: string[]; unavailable?: boolean; message?: string; error?: WriterError };

export type ToWriter =
  | { type: "init"; file: string; busyTimeoutMs: number; durability: Durability; maxItems: number }
  | { type: "commit"; items: WriterItem[] }
  | { type: "close" };

export type FromWriter =
  | { type: "ready" }
  | { type: "done"; flush: number; enqueued: number; results: WriterResult[] }
  | { type: "fatal"; message: string }
  | { type: "closed" };

let db: Db | null = null;
/** Requests waiting, per tenant, in arrival order; the map's order is the round-robin order. */
const queues = new Map<string, WriterItem[]>();
/** each waiting tenant's credit, in items (fair.ts) */
const credit = new Map<string, number>();
let queued = 0;
let maxItems = 1000;
let scheduled = false;
let flushNo = 0;
let outbox: WebhookDispatcher | null = null;

/**
 * WAL size past which the writer lends a hand to the checkpointer thread (64 MiB, the
 * journal_size_limit of db/client.ts), and how often at most.
 */
const WAL_CATCH_UP_BYTES = 64 * 1024 * 1024;
const WAL_CATCH_UP_EVERY_MS = 1000;
let walFile = "";
let lastCatchUp = 0;

/**
 * The checkpointer thread's PASSIVE checkpoints never block anyone, but under a steady write load
 * they never catch up completely either (this thread appends while they copy), and SQLite starts
 * the WAL over only once one has: the WAL grew by ~70 MB/s, and the first commit after the load
 * cut it back to journal_size_limit, a stall of ~0.4 s. So, at most once a second while the WAL
 * is past 64 MiB, this thread runs a PASSIVE checkpoint itself between two commits: nothing is
 * appending then, the checkpointer has already copied nearly everything, and the next commit
 * starts the WAL from its beginning. Measured: the WAL file stays near 64 MiB under full load.
 */
function catchUpWal(): void {
  const now = performance.now();
  if (!db || now - lastCatchUp < WAL_CATCH_UP_EVERY_MS) return;
  lastCatchUp = now;
  let size = 0;
  try {
    size = statSync(walFile).size;
  } catch {
    return;
  }
  if (size < WAL_CATCH_UP_BYTES) return;
  try {
    db.$client.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch {
    // busy: the next second tries again
  }
}

const tenantOf = (w: WriterItem) => (w.batch ? w.batch.tenantId : w.raw!.tenantId);

function enqueue(w: WriterItem): void {
  const t = tenantOf(w);
  let q = queues.get(t);
  if (!q) queues.set(t, (q = []));
  q.push(w);
  queued++;
}

function flush() {
  scheduled = false;
  if (!queued || !db) return;
  const work = takeGroup(queues, credit);
  queued -= work.length;
  const before = (outbox?.stats.messages ?? 0) + enrichmentStats.enqueued;
  // caches keyed by change counters (indicator mappings) re-check them once for this group
  startUnit();
  const results: WriterResult[] = new Array(work.length);
  const batches: IngestBatch[] = [];
  const at: number[] = [];
  for (let i = 0; i < work.length; i++) {
    const w = work[i];
    if (w.batch) {
      batches.push(w.batch);
      at.push(i);
      continue;
    }
    try {
      batches.push(normalizeRequest(db, w.raw!, maxItems));
      at.push(i);
    } catch (e) {
      results[i] =
        e instanceof ApiError
          ? { seq: w.seq, ok: false, error: { status: e.status, code: e.code, message: e.message, details: e.details, headers: e.headers } }
          : { seq: w.seq, ok: false, message: `normalizing the request failed: ${String((e as Error)?.stack ?? e)}` };
    }
  }
  const committed = batches.length ? commitGroup(db, batches, commitHooks, Date.now()) : [];
  committed.forEach((r, j) => {
    const seq = work[at[j]].seq;
    results[at[j]] = r.ok ? { seq, ok: true, ids: r.ids } : { seq, ok: false, unavailable: r.unavailable, message: r.message };
  });
  flushNo++;
  postMessage({
    type: "done",
    flush: flushNo,
    // jobs this commit enqueued, outbound messages and enrichments (the HTTP thread wakes its workers only then)
    enqueued: (outbox?.stats.messages ?? 0) + enrichmentStats.enqueued - before,
    results,
  } satisfies FromWriter);
  // after the answers have gone out, so that they never wait for it
  catchUpWal();
  // what is left (tenants past their share of this group) goes into the next group, together with
  // the requests that arrive meanwhile
  if (queued && !scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

self.onmessage = (e: MessageEvent<ToWriter>) => {
  const m = e.data;
  switch (m.type) {
    case "init":
      try {
        maxItems = m.maxItems;
        walFile = m.file + "-wal";
        db = openDatabase(m.file, { busyTimeoutMs: m.busyTimeoutMs, durability: m.durability, autoCheckpoint: false });
        // this thread's outbox: it only enqueues (the HTTP thread's worker delivers)
        outbox = new WebhookDispatcher(null, { allow: [], leaseMs: 0, autoDisableAfter: 0, clock: Date.now, log: silentLogger });
        setOutbox(outbox);
        postMessage({ type: "ready" } satisfies FromWriter);
      } catch (err) {
        postMessage({ type: "fatal", message: String(err) } satisfies FromWriter);
      }
      break;
    case "commit":
      for (const it of m.items) enqueue(it);
      if (!scheduled) {
        scheduled = true;
        // after the messages that are already queued have been taken in
        setImmediate(flush);
      }
      break;
    case "close":
      while (queued && db) flush();
      db?.$client.close();
      db = null;
      postMessage({ type: "closed" } satisfies FromWriter);
      break;
  }
};
