// The group-commit writer, HTTP side. Ingest requests are handed over as they arrive, as raw bytes
// (authenticated, within limits, signature checked), to the writer thread (writer-thread.ts), which
// parses, validates and normalizes them (normalize.ts) and commits everything that arrived during
// the previous commit in one transaction; only then is each request answered. A resolved promise
// means the data is on disk; a request the writer found invalid is rejected with its ApiError.
import type { Durability } from "../db/client";
import type { IngestBatch } from "../store/events";
import { ApiError } from "../http/errors";
import type { Logger } from "../lib/log";
import type { FromWriter, ToWriter, WriterItem } from "./writer-thread";
import type { RawIngest } from "./normalize";
import { writerThreadUrl } from "../threads";
import { InlineWriter, type InlineWriterOptions } from "./writer-inline";

export const storeUnavailable = () =>
  new ApiError(503, "store_unavailable", "the event store cannot write right now; nothing was stored, retry later", [], {
    "retry-after": "1",
  });

export type WriterStats = { flushes: number; requests: number; events: number; lastBatchRequests: number };

type Waiting = { resolve: (ids: string[]) => void; reject: (e: unknown) => void };

/** SQLite: the writer thread opens its own connection to the file. */
export type ThreadWriterOptions = { kind?: "thread"; file: string; busyTimeoutMs: number; durability: Durability; maxItems: number };

/** PostgreSQL: the writer runs on this thread, on the store's pool (writer-inline.ts says why). */
export type WriterOptions = ThreadWriterOptions | InlineWriterOptions;

/** What GroupWriter needs of its writer: a Worker, or an InlineWriter standing in for one. */
type WriterPort = {
  onmessage: ((e: MessageEvent<FromWriter>) => void) | null;
  onerror: ((e: ErrorEvent) => void) | null;
  postMessage(m: ToWriter): void;
  terminate(): void;
};

export class GroupWriter {
  /** null while a failed thread is being replaced */
  private worker: WriterPort | null = null;
  private ready!: Promise<void>;
  private waiting = new Map<number, Waiting>();
  private seq = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  readonly stats: WriterStats = { flushes: 0, requests: 0, events: 0, lastBatchRequests: 0 };
  /** called after each group commit: requests it held, events they stored, outbound messages enqueued */
  onCommit: (requests: number, events: number, enqueued: number) => void = () => {};

  constructor(
    private opts: WriterOptions,
    private log: Logger,
  ) {
    this.spawn();
  }

  private lastSpawn = 0;

  private spawn() {
    this.lastSpawn = Date.now();
    const o = this.opts;
    const w: WriterPort = o.kind === "inline" ? new InlineWriter(o) : (new Worker(writerThreadUrl) as unknown as WriterPort);
    this.worker = w;
    this.ready = new Promise((resolve, reject) => {
      w.onmessage = (e: MessageEvent<FromWriter>) => {
        const m = e.data;
        if (m.type === "ready") resolve();
        else if (m.type === "fatal") reject(new Error(m.message));
        else if (m.type === "done") this.onDone(m);
      };
    });
    w.onerror = (e) => {
      // The thread failed: end it, refuse what it had not answered (the clients retry; a request
      // it committed just before failing is stored again only if it carried no id), and start a
      // new thread. Until it is up, requests are refused with 503 at once.
      this.log.error("writer thread failed", { error: String((e as ErrorEvent).message ?? e) });
      w.terminate();
      if (this.worker === w) this.worker = null;
      this.failAll();
      if (this.closed) return;
      // Never spin: at most one new thread a second.
      setTimeout(() => this.spawn(), Math.max(0, 1000 - (Date.now() - this.lastSpawn)));
    };
    if (o.kind === "inline") w.postMessage({ type: "init", file: "", busyTimeoutMs: 0, durability: "full", maxItems: o.maxItems });
    else w.postMessage({ type: "init", file: o.file, busyTimeoutMs: o.busyTimeoutMs, durability: o.durability, maxItems: o.maxItems } satisfies ToWriter);
  }

  /** Resolves once the writer thread has opened the database. */
  start(): Promise<void> {
    return this.ready;
  }

  /** Commits a batch that is already normalized (heartbeat pings). */
  submit(batch: IngestBatch): Promise<string[]> {
    return this.enqueue({ seq: 0, batch, items: Math.max(1, batch.events.length) });
  }

  /** Parses, normalizes and commits an ingest request on the writer thread. */
  submitRaw(raw: RawIngest, items = 1): Promise<string[]> {
    return this.enqueue({ seq: 0, raw, items });
  }

  private enqueue(item: WriterItem): Promise<string[]> {
    if (this.closed) return Promise.reject(storeUnavailable());
    const seq = ++this.seq;
    item.seq = seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      this.outbox.push(item);
      if (this.outbox.length === 1) setImmediate(this.post);
    });
  }

  /** Hands this tick's requests to the writer thread in one message (the bodies as bytes). */
  private outbox: WriterItem[] = [];
  private post = () => {
    const items = this.outbox;
    this.outbox = [];
    if (!items.length) return;
    if (!this.worker) {
      for (const it of items) {
        this.waiting.get(it.seq)?.reject(storeUnavailable());
        this.waiting.delete(it.seq);
      }
      this.notifyIdle();
      return;
    }
    this.worker.postMessage({ type: "commit", items } satisfies ToWriter);
  };

  private onDone(m: Extract<FromWriter, { type: "done" }>) {
    this.stats.flushes = m.flush;
    this.stats.lastBatchRequests = m.results.length;
    let stored = 0;
    for (const r of m.results) if (r.ok) stored += r.ids!.length;
    this.onCommit(m.results.length, stored, m.enqueued);
    for (const r of m.results) {
      const w = this.waiting.get(r.seq);
      if (!w) continue;
      this.waiting.delete(r.seq);
      if (r.ok) {
        this.stats.requests++;
        this.stats.events += r.ids!.length;
        w.resolve(r.ids!);
      } else if (r.error) {
        // the request itself is wrong (400, 404, 422): nothing of it was stored
        const e = r.error;
        w.reject(new ApiError(e.status, e.code, e.message, e.details, e.headers));
      } else if (r.unavailable) {
        this.log.warn("store unavailable, request refused", { error: r.message });
        w.reject(storeUnavailable());
      } else {
        this.log.error("ingest request failed to store", { error: r.message });
        w.reject(new Error(r.message));
      }
    }
    this.notifyIdle();
  }

  private failAll() {
    for (const [, w] of this.waiting) w.reject(storeUnavailable());
    this.waiting.clear();
    this.notifyIdle();
  }

  /** Resolves once every submitted request has been answered (used by shutdown). */
  drain(): Promise<void> {
    if (this.waiting.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Drains, then closes the writer thread's connection and ends the thread. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      worker.onmessage = (e: MessageEvent<FromWriter>) => {
        if (e.data.type === "closed") {
          clearTimeout(t);
          resolve();
        }
      };
      worker.postMessage({ type: "close" } satisfies ToWriter);
    });
    worker.terminate();
  }

  private notifyIdle() {
    if (this.waiting.size) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
