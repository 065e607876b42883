-- Full-text search over events: title, summary and the payload's JSON text (issue 13).
-- A contentless FTS5 index (it stores the token index only, not a second copy of the text) keyed by
-- the events table's rowid; triggers keep it in step in the same transaction as every insert and
-- delete of an event (ingest, retention, a tenant's cascade). VACUUM and VACUUM INTO (the backup)
-- keep the rowids of the events table (test/store/events-fts.test.ts checks the backup).
CREATE VIRTUAL TABLE events_fts USING fts5(title, summary, payload, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
  INSERT INTO events_fts (rowid, title, summary, payload) VALUES (new.rowid, new.title, new.summary, new.payload);
END;
--> statement-breakpoint
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
  DELETE FROM events_fts WHERE rowid = old.rowid;
END;
--> statement-breakpoint
CREATE TRIGGER events_fts_update AFTER UPDATE OF title, summary, payload ON events BEGIN
  DELETE FROM events_fts WHERE rowid = old.rowid;
  INSERT INTO events_fts (rowid, title, summary, payload) VALUES (new.rowid, new.title, new.summary, new.payload);
END;
--> statement-breakpoint
INSERT INTO events_fts (rowid, title, summary, payload) SELECT rowid, title, summary, payload FROM events;
