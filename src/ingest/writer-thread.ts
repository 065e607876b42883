// The writer thread: owns the ingest write connection, normalizes requests and commits groups.
// Requests arrive as raw bytes, a message per HTTP event-loop turn; while a commit (and its fsync)
// runs, new messages queue up, and the next commit takes all of them. Each request is parsed and
// normalized (normalize.ts) just before the commit: one that is invalid is answered with its error
// and stays out of the transaction. The HTTP thread never waits for the disk, and never spends its
// time on JSON it only passes on.
import { openDatabase, type Db, type Durability } from "../db/client";
import { commitGroup } from "./commit";
import { commitHooks, enrichmentStats, setOutbox } from "./hooks";
import { WebhookDispatcher } from "../jobs/handlers/webhooks";
import { silentLogger } from "../lib/log";
import type { IngestBatch } from "../store/events";
import { ApiError, type ErrorDetail } from "../http/errors";
import { normalizeRequest, type RawIngest } from "./normalize";
import { startUnit } from "../store/config-versions";

declare var self: Worker;

/** A request for the writer: a normalized batch (heartbeat pings) or an ingest request's raw bytes. */
export type WriterItem = { seq: number; batch?: IngestBatch; raw?: RawIngest };

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
let pending: WriterItem[] = [];
let maxItems = 1000;
let scheduled = false;
let flushNo = 0;
let outbox: WebhookDispatcher | null = null;

function flush() {
  scheduled = false;
  const work = pending;
  pending = [];
  if (!work.length || !db) return;
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
}

self.onmessage = (e: MessageEvent<ToWriter>) => {
  const m = e.data;
  switch (m.type) {
    case "init":
      try {
        maxItems = m.maxItems;
        db = openDatabase(m.file, { busyTimeoutMs: m.busyTimeoutMs, durability: m.durability, autoCheckpoint: false });
        // this thread's outbox: it only enqueues (the HTTP thread's worker delivers)
        outbox = new WebhookDispatcher(db, { allow: [], leaseMs: 0, autoDisableAfter: 0, clock: Date.now, log: silentLogger });
        setOutbox(outbox);
        postMessage({ type: "ready" } satisfies FromWriter);
      } catch (err) {
        postMessage({ type: "fatal", message: String(err) } satisfies FromWriter);
      }
      break;
    case "commit":
      for (const it of m.items) pending.push(it);
      if (!scheduled) {
        scheduled = true;
        // after the messages that are already queued have been taken in
        setImmediate(flush);
      }
      break;
    case "close":
      flush();
      db?.$client.close();
      db = null;
      postMessage({ type: "closed" } satisfies FromWriter);
      break;
  }
};
