// The group-commit writer for PostgreSQL mode, on the HTTP thread itself: the same protocol as the
// writer thread (writer-thread.ts: "init", "commit", "close" in; "ready", "done", "closed" out),
// so GroupWriter works the same for its callers, but no thread.
//
// Why no thread on PostgreSQL. The SQLite writer needs its own thread because bun:sqlite commits
// synchronously: the fsync of every group would stop the HTTP event loop. A PostgreSQL commit is
// asynchronous I/O: while the server writes and flushes its WAL, the event loop keeps serving and
// the next requests queue up, exactly the group-commit window the thread gives SQLite. Staying on
// the HTTP thread also means one connection pool and one set of commit hooks and outbox
// (src/store/pg/hooks.ts, registered once by the server) rather than a second copy in a thread.
// What it costs is the parsing and normalization of the bodies on the HTTP thread (the SQLite
// writer thread does that off it).
//
// As on the thread: each group takes every request that arrived while the previous commit ran,
// shared between tenants by takeGroup (fair.ts); a request that fails normalization is answered
// with its error and stays out of the transaction; the group is one transaction (the `commit`
// given, pgCommitGroup of src/store/pg/events.ts through src/store/index.ts).
import type { CompiledMapping } from "../core/indicator-mappings";
import type { IngestBatch } from "../store/events";
import { ApiError } from "../http/errors";
import type { CommitResult } from "./commit";
import { takeGroup } from "./fair";
import { normalizeWith } from "./normalize";
import type { FromWriter, ToWriter, WriterItem, WriterResult } from "./writer-thread";

export type InlineWriterOptions = {
  kind: "inline";
  maxItems: number;
  /** the tenant's active custom indicator mappings for a source (store.indicators.mappingsForSource) */
  mappings: (tenantId: string, source: string) => Promise<CompiledMapping[]>;
  /** commits one group in one transaction (pgGroupCommit of src/store/index.ts) */
  commit: (batches: IngestBatch[], now: number) => Promise<CommitResult[]>;
  /** outbound jobs enqueued so far by the commit hooks, if counted (the HTTP side wakes its workers when it moved) */
  enqueued?: () => number;
};

/** A writer with the Worker surface GroupWriter uses, running on the calling thread. */
export class InlineWriter {
  onmessage: ((e: MessageEvent<FromWriter>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  private queues = new Map<string, WriterItem[]>();
  private credit = new Map<string, number>();
  private queued = 0;
  private running: Promise<void> | null = null;
  private flushNo = 0;
  private ended = false;

  constructor(private opts: InlineWriterOptions) {}

  private send(m: FromWriter): void {
    if (this.ended) return;
    this.onmessage?.({ data: m } as MessageEvent<FromWriter>);
  }

  postMessage(m: ToWriter): void {
    switch (m.type) {
      case "init":
        queueMicrotask(() => this.send({ type: "ready" }));
        break;
      case "commit":
        for (const it of m.items) {
          const t = it.batch ? it.batch.tenantId : it.raw!.tenantId;
          let q = this.queues.get(t);
          if (!q) this.queues.set(t, (q = []));
          q.push(it);
          this.queued++;
        }
        this.kick();
        break;
      case "close":
        void (async () => {
          while (this.running || this.queued) {
            this.kick();
            await this.running;
          }
          this.send({ type: "closed" });
        })();
        break;
    }
  }

  terminate(): void {
    this.ended = true;
  }

  /** Starts a flush unless one runs (the running one starts the next when it is done). */
  private kick(): void {
    if (this.running || !this.queued) return;
    // after the requests of this event-loop turn have come in
    this.running = new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    try {
      const work = takeGroup(this.queues, this.credit);
      this.queued -= work.length;
      const before = this.opts.enqueued?.() ?? 0;
      const results: WriterResult[] = new Array(work.length);
      const batches: IngestBatch[] = [];
      const at: number[] = [];
      // the mappings each (tenant, source) needs, read once per group (cached by the store)
      const maps = new Map<string, Promise<CompiledMapping[]>>();
      for (const w of work)
        if (w.raw) {
          const k = `${w.raw.tenantId}\u0000${w.raw.source}`;
          if (!maps.has(k)) maps.set(k, this.opts.mappings(w.raw.tenantId, w.raw.source));
        }
      let mapsFailed: unknown = null;
      const resolved = new Map<string, CompiledMapping[]>();
      for (const [k, p] of maps)
        try {
          resolved.set(k, await p);
        } catch (e) {
          mapsFailed ??= e;
        }
      for (let i = 0; i < work.length; i++) {
        const w = work[i]!;
        if (w.batch) {
          batches.push(w.batch);
          at.push(i);
          continue;
        }
        const r = w.raw!;
        const mappings = resolved.get(`${r.tenantId}\u0000${r.source}`);
        if (!mappings) {
          // the store could not be read: the database is away; refused like a failed commit
          results[i] = { seq: w.seq, ok: false, unavailable: true, message: `reading indicator mappings failed: ${String(mapsFailed)}` };
          continue;
        }
        try {
          batches.push(normalizeWith({ mappings, maxItems: this.opts.maxItems, now: r.now }, r));
          at.push(i);
        } catch (e) {
          results[i] =
            e instanceof ApiError
              ? { seq: w.seq, ok: false, error: { status: e.status, code: e.code, message: e.message, details: e.details, headers: e.headers } }
              : { seq: w.seq, ok: false, message: `normalizing the request failed: ${String((e as Error)?.stack ?? e)}` };
        }
      }
      const committed = batches.length ? await this.opts.commit(batches, Date.now()) : [];
      committed.forEach((r, j) => {
        const seq = work[at[j]!]!.seq;
        results[at[j]!] = r.ok ? { seq, ok: true, ids: r.ids } : { seq, ok: false, unavailable: r.unavailable, message: r.message };
      });
      this.flushNo++;
      const stored = committed.some((r) => r.ok && r.ids.length);
      const enqueued = this.opts.enqueued ? this.opts.enqueued() - before : stored ? 1 : 0;
      this.send({ type: "done", flush: this.flushNo, enqueued, results });
    } catch (e) {
      // a bug, not a database failure (those come back as results): GroupWriter fails what waits
      this.onerror?.({ message: String((e as Error)?.stack ?? e) } as ErrorEvent);
    } finally {
      this.running = null;
      this.kick();
    }
  }
}
