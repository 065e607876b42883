ALTER TABLE "events" ADD COLUMN "fts" "tsvector";--> statement-breakpoint
CREATE INDEX "events_fts" ON "events" USING gin ("fts");--> statement-breakpoint
-- Rows inserted without their index words (keepwatch's own inserts always write them, see
-- src/store/pg/fts.ts; a copy such as migrate-to-postgres may not) get them here: the same
-- fields, ASCII punctuation separating words, lower case by the database's locale (accents are
-- not folded in this fallback).
CREATE FUNCTION events_fts_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.fts := to_tsvector('simple'::regconfig, regexp_replace(left(NEW.title || ' ' || NEW.summary || ' ' || NEW.payload, 100000), '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g'));
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER events_fts_fill BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.fts IS NULL) EXECUTE FUNCTION events_fts_fill();
