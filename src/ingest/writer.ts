// The group-commit writer. Requests are validated and normalized as they arrive and handed here;
// everything that arrived while the previous flush ran is committed in one transaction, and only
// then are those requests answered. A resolved promise means the data is on disk.
import type { Db } from "../db/client";
import { storeBatch, type IngestBatch } from "../store/events";
import type { NormalizedEvent } from "../core/event";
import { ApiError } from "../http/errors";
import type { Logger } from "../lib/log";

type Waiting = { batch: IngestBatch; resolve: (ids: string[]) => void; reject: (e: unknown) => void };

/** SQLite result codes that mean "the store cannot write now" rather than "this request is wrong". */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL|NOTADB|CORRUPT)/;

export function isStoreUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && UNAVAILABLE.test(code);
}

export const storeUnavailable = () =>
  new ApiError(503, "store_unavailable", "the event store cannot write right now; nothing was stored, retry later", [], {
    "retry-after": "1",
  });

export type WriterStats = { flushes: number; requests: number; events: number; lastBatchRequests: number };

export class GroupWriter {
  private pending: Waiting[] = [];
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  readonly stats: WriterStats = { flushes: 0, requests: 0, events: 0, lastBatchRequests: 0 };
  /** Called inside the transaction with the newly inserted events (outbox hooks of later stages). */
  onInsert: ((db: Db, events: NormalizedEvent[]) => void) | null = null;

  constructor(
    private db: Db,
    private clock: () => number,
    private log: Logger,
  ) {}

  submit(batch: IngestBatch): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after pending I/O callbacks, so requests that arrived meanwhile join.
        setImmediate(() => this.flush());
      }
    });
  }

  get queued(): number {
    return this.pending.length;
  }

  /** Commits everything queued now. Synchronous: bun:sqlite blocks while it fsyncs. */
  flush(): void {
    this.scheduled = false;
    const work = this.pending;
    this.pending = [];
    if (work.length === 0) return this.notifyIdle();
    const now = this.clock();
    try {
      const results = this.db.$client.transaction(() => work.map((w) => this.storeOne(w.batch, now))).immediate();
      this.stats.flushes++;
      this.stats.lastBatchRequests = work.length;
      work.forEach((w, i) => {
        this.stats.requests++;
        this.stats.events += results[i].length;
        w.resolve(results[i]);
      });
    } catch (e) {
      if (isStoreUnavailable(e)) {
        this.log.warn("store unavailable, group refused", { requests: work.length, error: String(e) });
        for (const w of work) w.reject(storeUnavailable());
      } else {
        // Something in one request broke the group: commit each request on its own so that only
        // the guilty one fails.
        for (const w of work) {
          try {
            w.resolve(this.db.$client.transaction(() => this.storeOne(w.batch, now)).immediate());
          } catch (e2) {
            this.log.error("ingest request failed to store", { error: String(e2) });
            w.reject(isStoreUnavailable(e2) ? storeUnavailable() : e2);
          }
        }
      }
    }
    this.notifyIdle();
  }

  private storeOne(b: IngestBatch, now: number): string[] {
    const r = storeBatch(this.db, b, now);
    if (this.onInsert && r.inserted.length) this.onInsert(this.db, r.inserted);
    return r.ids;
  }

  /** Resolves once nothing is queued (used by shutdown). */
  drain(): Promise<void> {
    if (!this.scheduled && this.pending.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private notifyIdle() {
    if (this.scheduled || this.pending.length) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
