-- Full-text search off the ingest path (issue 13): events are no longer indexed by a trigger inside
-- the ingest writer's transaction but afterwards, in batches, by the indexer on the checkpointer
-- thread (src/store/search.ts). events_fts_cursor holds the last events rowid it indexed; it moves
-- in the same transaction as the index rows it covers. Everything up to now was indexed by the
-- 0009 triggers, so the cursor starts at the last rowid.
DROP TRIGGER IF EXISTS events_fts_insert;
--> statement-breakpoint
DROP TRIGGER IF EXISTS events_fts_update;
--> statement-breakpoint
DROP TRIGGER IF EXISTS events_fts_delete;
--> statement-breakpoint
CREATE TABLE events_fts_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), last_rowid INTEGER NOT NULL);
--> statement-breakpoint
INSERT INTO events_fts_cursor (id, last_rowid) SELECT 1, coalesce(max(rowid), 0) FROM events;
--> statement-breakpoint
-- A delete (retention, a tenant's cascade) still removes its index row in its own transaction (one
-- tombstone per indexed row; never on the ingest path). events has no AUTOINCREMENT: once the
-- newest rows are deleted their rowids are handed out again, so the cursor is pulled back to the
-- newest remaining rowid, and a new event with a reused rowid is indexed (with its own text).
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
  DELETE FROM events_fts WHERE rowid = old.rowid AND old.rowid <= (SELECT last_rowid FROM events_fts_cursor);
  UPDATE events_fts_cursor SET last_rowid = (SELECT coalesce(max(rowid), 0) FROM events)
    WHERE last_rowid > (SELECT coalesce(max(rowid), 0) FROM events);
END;
--> statement-breakpoint
-- Nothing updates an event's text today; should something do so, an indexed row is re-indexed at
-- once (a row past the cursor will be indexed with its new text anyway).
CREATE TRIGGER events_fts_update AFTER UPDATE OF title, summary, payload ON events
  WHEN old.rowid <= (SELECT last_rowid FROM events_fts_cursor) BEGIN
  DELETE FROM events_fts WHERE rowid = old.rowid;
  INSERT INTO events_fts (rowid, title, summary, payload) VALUES (new.rowid, new.title, new.summary, new.payload);
END;
