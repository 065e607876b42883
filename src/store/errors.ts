// Failures that mean "the store cannot take this now" (answer 503 + Retry-After, never 202; the
// client retries) rather than "this request is wrong", on either database. The ingest group
// commit asks it of every failed group; the app's error handler asks it of anything a route threw,
// so a read or an API change while the database is down is a 503 too, never a 500.
import { isPgUnavailable } from "./pg/errors";

/** SQLite result codes that mean "the store cannot write now" rather than "this request is wrong". */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL|NOTADB|CORRUPT)/;

export function isStoreUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return (typeof code === "string" && SQLITE_UNAVAILABLE.test(code)) || isPgUnavailable(e);
}

/**
 * PostgreSQL refused text it cannot hold (a NUL: 22021 "invalid byte sequence for encoding UTF8:
 * 0x00"; a \u0000 escape in jsonb: 22P05). The request paths make such text storable or refuse it
 * first (src/core/text.ts); this is the fallback that keeps one they missed from being a 500.
 */
export function isUnstorableText(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === "22021" || code === "22P05";
}

/**
 * A unique constraint refused a row: two requests (two replicas, or two awaits apart in one
 * process) created the same name, key or id at the same moment, after each checked it was free.
 * The check before the insert answers the ordinary duplicate with its own message; this is the
 * race, answered 409 (retry sees the winner) rather than 500.
 */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
