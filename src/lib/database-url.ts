// PostgreSQL connection URLs (--database-url / KEEPWATCH_DATABASE_URL): checked once at start-up,
// shown only with the password masked.

/**
 * Parses a libpq-style URL. WHATWG URL refuses credentials without a host
 * (postgres://user@/db?host=/run/postgresql, which libpq accepts): the host then reads "localhost",
 * which the socket directory overrides anyway. Throws TypeError when it does not parse.
 */
export function parseDatabaseUrl(raw: string): URL {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?(?=[/?#]|$)/i.exec(raw);
  return new URL(m ? `${m[1]}${m[2] ?? ""}localhost${raw.slice(m[0].length)}` : raw);
}

/** The URL with its password replaced by "***" (for messages and logs). */
export function redactDatabaseUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    // it does not parse, so there is no telling where a password would be: show none of it
    return "(not shown: it does not parse as a URL)";
  }
}

/** Why a database URL is unusable, or null when it is fine. */
export function databaseUrlIssue(raw: string): string | null {
  let u: URL;
  try {
    u = parseDatabaseUrl(raw);
  } catch {
    return "must be a URL such as postgres://user:password@host:5432/keepwatch";
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") return "must start with postgres:// or postgresql://";
  const socket = u.searchParams.get("host");
  const authority = raw.slice(raw.indexOf("://") + 3).split(/[/?#]/)[0] ?? "";
  if (authority.slice(authority.lastIndexOf("@") + 1) === "" && !socket) return "must name a host (or a socket directory as ?host=/path)";
  if (socket !== null && !socket.startsWith("/")) return "?host= must be an absolute socket directory such as /var/run/postgresql";
  if (u.port && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) return "the port must be 1-65535";
  let db: string;
  try {
    db = decodeURIComponent(u.pathname.replace(/^\//, ""));
  } catch {
    return "the database name is not valid percent-encoding";
  }
  if (!db) return "must name a database (postgres://…/keepwatch)";
  if (db.includes("/")) return "the database name cannot contain '/'";
  if (u.hash) return "must have no #fragment";
  return null;
}
