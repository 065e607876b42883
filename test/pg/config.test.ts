// --database-url / KEEPWATCH_DATABASE_URL and --db-pool (src/config.ts): every malformed URL is one
// line naming the setting and the rule, never echoing the password; good URLs (TCP, Unix socket,
// postgresql://) pass through; the pool is bounded and needs a URL.
import { expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config";
import { pgOptions } from "../../src/db/pg-client";

const SECRET = "hunter2-pw";

function refusal(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadConfig(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify({ argv, env })}`);
}

test("good database URLs are accepted, flag over environment; unset means SQLite", () => {
  expect(loadConfig([], {}).config).toMatchObject({ databaseUrl: "", dbPool: 10 });
  const good = [
    `postgres://kw:${SECRET}@db.internal:5432/keepwatch`,
    "postgresql://kw@db.internal/keepwatch?sslmode=require",
    "postgres://kw@localhost/keepwatch?host=/var/run/postgresql",
    "postgres://kw@[::1]:6432/kw",
    "postgres://kw@/keepwatch?host=/tmp",
  ];
  for (const url of good) {
    expect(loadConfig(["--database-url", url], {}).config.databaseUrl).toBe(url);
    expect(loadConfig([], { KEEPWATCH_DATABASE_URL: url }).config.databaseUrl).toBe(url);
    // and the client can make options of every one of them
    expect(() => pgOptions(url, 1)).not.toThrow();
  }
  expect(loadConfig(["--database-url", good[0]!], { KEEPWATCH_DATABASE_URL: good[1]! }).config.databaseUrl).toBe(good[0]!);
  expect(loadConfig(["--database-url", good[0]!, "--db-pool", "25"], {}).config.dbPool).toBe(25);
  expect(loadConfig([], { KEEPWATCH_DATABASE_URL: good[0]!, KEEPWATCH_DB_POOL: "3" }).config.dbPool).toBe(3);
});

test("every malformed database URL is refused with one line naming the setting and the rule, the password masked", () => {
  const bad: [string, RegExp][] = [
    [`mysql://kw:${SECRET}@db/kw`, /must start with postgres:\/\//],
    [`http://kw:${SECRET}@db/kw`, /must start with postgres:\/\//],
    [`db.internal:5432/keepwatch`, /postgres/],
    [`not a url ${SECRET}`, /must be a URL/],
    [`postgres://kw:${SECRET}@db.internal:5432/`, /must name a database/],
    [`postgres://kw:${SECRET}@db.internal:5432`, /must name a database/],
    [`postgres://kw:${SECRET}@/keepwatch`, /must name a host/],
    [`postgres://kw:${SECRET}@db/kw?host=relative/dir`, /absolute socket directory/],
    [`postgres://kw:${SECRET}@db:0/kw`, /port/],
    [`postgres://kw:${SECRET}@db/a/b`, /cannot contain '\/'/],
    [`postgres://kw:${SECRET}@db/kw#frag`, /fragment/],
    [`postgres://kw:${SECRET}@db/%E0%A4%A`, /percent-encoding/],
  ];
  for (const [url, rule] of bad) {
    for (const [argv, env, name] of [
      [["--database-url", url], {}, "--database-url"],
      [[], { KEEPWATCH_DATABASE_URL: url }, "KEEPWATCH_DATABASE_URL"],
    ] as const) {
      const msg = refusal([...argv], { ...env });
      expect({ url, msg, line: msg.includes("\n") }).toEqual({ url, msg: expect.stringMatching(rule), line: false });
      expect(msg).toContain(name);
      expect(msg).not.toContain(SECRET);
    }
  }
});

test("--db-pool: an integer 1-1000, and only with a database URL", () => {
  const url = "postgres://kw@db/kw";
  for (const v of ["0", "-1", "1001", "1.5", "many", ""]) {
    if (v === "") continue; // an empty environment value means unset
    expect(refusal(["--database-url", url, "--db-pool", v])).toMatch(/--db-pool/);
    expect(refusal([], { KEEPWATCH_DATABASE_URL: url, KEEPWATCH_DB_POOL: v })).toMatch(/KEEPWATCH_DB_POOL/);
  }
  expect(refusal(["--db-pool", "5"])).toMatch(/--db-pool is set but there is no --database-url/);
  expect(refusal([], { KEEPWATCH_DB_POOL: "5" })).toMatch(/KEEPWATCH_DB_POOL is set but there is no --database-url/);
  expect(loadConfig(["--database-url", url, "--db-pool", "1000"], {}).config.dbPool).toBe(1000);
});
