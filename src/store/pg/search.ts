// Search on PostgreSQL: the twin of src/store/search.ts. There is no background indexer to drive
// here: the GIN index events_fts (EVENTS_FTS_DOC, migrations-pg/0002_events_fts.sql) is maintained
// by each insert in the ingest transaction (its fast-update pending list keeps that cheap), so a
// committed event is searchable at once. The indexer's functions answer "caught up".
import type { PgTwin } from "../contract";
import type { IndexResult, searchFns } from "../search";

export const pgSearchFns: PgTwin<typeof searchFns> = {
  async indexState(conn) {
    // events have no rowid on PostgreSQL, and nothing lags: the index is always "as far as the table"
    void conn;
    return { cursor: 0, last: 0 };
  },
  async indexPending(conn, _limit?: number): Promise<IndexResult> {
    void conn;
    return { indexed: 0, cursor: 0, pending: false };
  },
  async indexLagMs(conn, _now: number) {
    void conn;
    return 0;
  },
};
