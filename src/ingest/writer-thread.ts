// The writer thread: owns the ingest write connection and commits groups. Requests arrive one
// message each; while a commit (and its fsync) runs, new messages queue up, and the next commit
// takes all of them. The event loop of the HTTP thread never waits for the disk.
import { openDatabase, type Db, type Durability } from "../db/client";
import { commitGroup } from "./commit";
import { commitHooks, enrichmentStats, setOutbox } from "./hooks";
import { WebhookDispatcher } from "../jobs/handlers/webhooks";
import { silentLogger } from "../lib/log";
import type { IngestBatch } from "../store/events";

declare var self: Worker;

export type ToWriter =
  | { type: "init"; file: string; busyTimeoutMs: number; durability: Durability }
  | { type: "commit"; items: { seq: number; batch: IngestBatch }[] }
  | { type: "close" };

export type FromWriter =
  | { type: "ready" }
  | { type: "done"; flush: number; enqueued: number; results: { seq: number; ok: boolean; ids?: string[]; unavailable?: boolean; message?: string }[] }
  | { type: "fatal"; message: string }
  | { type: "closed" };

let db: Db | null = null;
let pending: { seq: number; batch: IngestBatch }[] = [];
let scheduled = false;
let flushNo = 0;
let outbox: WebhookDispatcher | null = null;

function flush() {
  scheduled = false;
  const work = pending;
  pending = [];
  if (!work.length || !db) return;
  const before = (outbox?.stats.messages ?? 0) + enrichmentStats.enqueued;
  const results = commitGroup(db, work.map((w) => w.batch), commitHooks, Date.now());
  flushNo++;
  postMessage({
    type: "done",
    flush: flushNo,
    // jobs this commit enqueued, outbound messages and enrichments (the HTTP thread wakes its workers only then)
    enqueued: (outbox?.stats.messages ?? 0) + enrichmentStats.enqueued - before,
    results: results.map((r, i) => (r.ok ? { seq: work[i].seq, ok: true, ids: r.ids } : { seq: work[i].seq, ok: false, unavailable: r.unavailable, message: r.message })),
  } satisfies FromWriter);
}

self.onmessage = (e: MessageEvent<ToWriter | string>) => {
  const m: ToWriter = typeof e.data === "string" ? JSON.parse(e.data) : e.data;
  switch (m.type) {
    case "init":
      try {
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
