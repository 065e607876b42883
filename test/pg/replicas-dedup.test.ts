// Two real keepwatch binaries (replicas) on one PostgreSQL database (issue 12): the same new
// Idempotency-Key sent to both at the same moment is stored once and both answer its ids, ROUNDS
// times. The binaries are started with --database-url on a fresh database of the test process's
// cluster, and stopped (SIGTERM, then killed at the end whatever happens).
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import postgres from "postgres";
import { pgOptions } from "../../src/db/pg-client";
import { killSpawned, startBinary, tempDir } from "../helpers";
import { sharedCluster } from "./cluster";

const ROUNDS = 200;
const dirs: string[] = [];
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test(`the same Idempotency-Key sent to two replicas at once, ${ROUNDS} times: one event each, both answer its ids`, async () => {
  const c = await sharedCluster();
  const url = await c.createDatabase(`replicas_idem_${process.pid}`);
  const dirA = tempDir("kw-replica-a-");
  const dirB = tempDir("kw-replica-b-");
  dirs.push(dirA, dirB);
  const a = await startBinary(dirA, ["--database-url", url]);
  // the second replica finds the schema and the keys the first made
  const b = await startBinary(dirB, ["--database-url", url]);
  const key = a.ingestKey;
  expect(key).toStartWith("kw_");
  const send = (base: string, idem: string, n: number) =>
    fetch(base + "/v1/ingest/generic", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key, "idempotency-key": idem },
      // the two replicas get different bodies: the one stored first decides, the other is answered with its ids
      body: JSON.stringify([{ title: `round ${n} from ${base}`, severity: "info" }]),
      signal: AbortSignal.timeout(10_000),
    });
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const [ra, rb] = await Promise.all([send(a.url, `idem-${i}`, i), send(b.url, `idem-${i}`, i)]);
      expect([ra.status, rb.status]).toEqual([202, 202]);
      const [ja, jb] = [(await ra.json()) as any, (await rb.json()) as any];
      expect(ja.ids).toHaveLength(1);
      expect(jb.ids).toEqual(ja.ids);
    }
    const { url: clean, options } = pgOptions(url, 1);
    const sql = postgres(clean, options);
    try {
      const [n] = await sql`SELECT count(*)::int AS n FROM events WHERE source_name = 'generic'`;
      expect(n!.n).toBe(ROUNDS);
      const [k] = await sql`SELECT count(*)::int AS n FROM idempotency_keys WHERE key LIKE 'idem-%'`;
      expect(k!.n).toBe(ROUNDS);
    } finally {
      await sql.end({ timeout: 5 });
    }
  } finally {
    a.proc.kill("SIGTERM");
    b.proc.kill("SIGTERM");
    expect(await a.proc.exited).toBe(0);
    expect(await b.proc.exited).toBe(0);
  }
}, 120_000);
