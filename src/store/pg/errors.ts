// Which PostgreSQL failures mean "the database cannot take this write now" (answer 503 +
// Retry-After, never 202, and try again later) rather than "this request is wrong": the twin of
// isStoreUnavailable in src/ingest/commit.ts (SQLite result codes).

/** postgres.js and socket error codes of a connection that failed or went away. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  // the server's Unix socket is gone while it is stopped
  "ENOENT",
  "FailedToOpenSocket",
]);

/**
 * SQLSTATEs: 08 connection exception; 53 insufficient resources (too many connections, disk full,
 * out of memory); 57P01-57P03 admin/crash shutdown, cannot connect now; 58 system error (I/O);
 * 25006 read-only transaction (a standby, or default_transaction_read_only); 40001/40P01
 * serialization failure and deadlock (a retry succeeds).
 */
const SQLSTATE = /^(08|53|57P0[123]|58|25006$|40001$|40P01$)/;

export function isPgUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown; errno?: unknown })?.code ?? (e as { errno?: unknown })?.errno;
  if (typeof code !== "string") return false;
  return CONNECTION_CODES.has(code) || SQLSTATE.test(code);
}
