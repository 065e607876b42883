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
