// The commit hooks of a PostgreSQL unit of work: the async twin of src/ingest/hooks.ts and of
// CommitHook (src/ingest/commit.ts). Each hook runs inside the unit's transaction (`tx`), in the
// same order as on SQLite: match rules → alerts of alert sources → heartbeat beats → outbound
// messages (the outbox). The PostgreSQL group commit (src/store/pg/events.ts), heartbeat flips and
// pings call them exactly where the SQLite code calls the synchronous ones.
import type { NormalizedEvent } from "../../core/event";
import type { Severity } from "../../core/severity";
import type { PgConn } from "../contract";
import { pgAlertingHooks } from "./alerting";

export type PgCommitHook = ((tx: PgConn, tenantId: string, inserted: NormalizedEvent[], now: number) => Promise<void>) & {
  /** optional first phase, before the events are inserted: may change them (tags, opensAlert) */
  before?: (tx: PgConn, tenantId: string, events: NormalizedEvent[], now: number) => Promise<void>;
};

/** Where outbound messages go in PostgreSQL mode (the twin of Outbox in src/ingest/hooks.ts). */
export type PgOutbox = {
  /** whether any webhook of the tenant takes messages of this type (cheap: cached) */
  wants(tx: PgConn, tenantId: string, type: string): Promise<boolean>;
  onEventsInserted(tx: PgConn, events: NormalizedEvent[]): Promise<void>;
  /** `except`: a webhook that does not get it (the one a record is about) */
  emit(tx: PgConn, tenantId: string, m: PgMessage, now: number, except?: string): Promise<number>;
  /** emit for several messages of one tenant, in order, written in one multi-row unit */
  emitMany(tx: PgConn, tenantId: string, ms: PgMessage[], now: number): Promise<number>;
  /** messages of several calls gathered in order and written at flush(), in one unit (a group commit's) */
  batch?(tx: PgConn): PgOutboxBatch;
};

/** What PgOutbox.batch gathers: emitMany and onEventsInserted, written in order at flush(). */
export type PgOutboxBatch = {
  emitMany(tenantId: string, ms: PgMessage[], now: number): Promise<void>;
  events(events: NormalizedEvent[]): Promise<void>;
  flush(): Promise<void>;
};

/** The hook list of a commit; `group` runs the whole list for the requests of a group at once (pgStoreMany). */
export type PgCommitHooks = PgCommitHook[] & { group?: (tx: PgConn, segs: { tenantId: string; inserted: NormalizedEvent[] }[], now: number) => Promise<void> };

/** One outbound message (its type, data and the attributes webhook filters look at). */
export type PgMessage = { type: string; data: unknown; severity?: Severity | null; source?: string | null; tags?: string[] };

let outbox: PgOutbox | null = null;

/** The process's PostgreSQL outbox, set once at start (server.ts), like setOutbox on SQLite. */
export function setPgOutbox(o: PgOutbox | null): void {
  outbox = o;
}

export function pgOutbox(): PgOutbox | null {
  return outbox;
}

/**
 * The hooks every PostgreSQL commit runs, in order (src/store/pg/alerting.ts): match rules →
 * alerts of alert sources → heartbeat beats → outbound messages. pgOutbox is a function
 * declaration (hoisted), so this holds whichever of the two modules loads first.
 */
export const pgCommitHooks: PgCommitHooks = pgAlertingHooks(pgOutbox, () => pgCommitHooks);
