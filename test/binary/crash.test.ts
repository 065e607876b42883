// kill -9 while clients post as fast as they can: after a restart every id answered 202 is in the
// database, and nothing half-written is (no partial batch, no event without its indicators). On
// both stores; on SQLite also the file's integrity check after recovery from the WAL. (PostgreSQL's
// kill -9 and its stop/start under load with a database of their own: test/pg/durability.test.ts.)
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { binaryRows, killSpawned, startBinary, tempDir, TEST_STORE } from "../helpers";

const dir = tempDir("kw-crash-");
afterAll(() => {
  killSpawned();
  rmSync(dir, { recursive: true, force: true });
});

test("kill -9 under load loses no acknowledged event and leaves no partial batch (and on SQLite, a sound file)", async () => {
  const s = await startBinary(dir);
  const acked: string[] = [];
  let down = false;
  let batchNo = 0;
  const clients = Array.from({ length: 16 }, async () => {
    while (!down) {
      const b = batchNo++;
      const items = Array.from({ length: 5 }, (_, i) => ({
        title: `batch ${b} item ${i}`,
        severity: "High",
        tags: [`batch-${b}`],
        indicators: [
          { type: "ip", value: `10.${b % 250}.${i}.1` },
          { type: "domain", value: `b${b}-i${i}.example.com` },
        ],
      }));
      try {
        const r = await fetch(s.url + "/v1/ingest/generic", {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": s.ingestKey },
          body: JSON.stringify(items),
        });
        if (r.status === 202) acked.push(...((await r.json()) as any).ids);
      } catch {
        return;
      }
    }
  });
  // at least 700 ms of load and more than 50 acknowledged ids (a loaded machine, PostgreSQL's
  // first connections: 700 ms alone once gave 5), at most 15 s
  await Bun.sleep(700);
  for (const end = Date.now() + 15_000; acked.length <= 50 && Date.now() < end; ) await Bun.sleep(50);
  s.proc.kill("SIGKILL");
  await s.proc.exited;
  down = true;
  await Promise.all(clients);
  expect(acked.length).toBeGreaterThan(50);

  // restart on the same directory (SQLite: recovery from the WAL happens on open; PostgreSQL: the same database)
  const again = await startBinary(dir);
  const r = await fetch(again.url + "/readyz");
  expect(r.status).toBe(200);
  again.proc.kill("SIGTERM");
  expect(await again.proc.exited).toBe(0);

  if (TEST_STORE === "sqlite") {
    // SQLite: the file after recovery from the WAL is sound
    const db = new Database(join(dir, "keepwatch.db"), { readonly: true });
    expect((db.query("PRAGMA integrity_check").get() as any).integrity_check).toBe("ok");
    db.close();
  }
  const ids = new Set((await binaryRows(dir, "SELECT id FROM events")).map((x) => x.id as string));
  const missing = acked.filter((id) => !ids.has(id));
  expect(missing).toEqual([]);
  // every batch is whole or absent
  const perBatch = await binaryRows(dir, "SELECT tags, count(*) AS n FROM events GROUP BY tags");
  expect(perBatch.filter((b) => b.n !== 5)).toEqual([]);
  // every event has both its indicators
  const partial = await binaryRows(dir, "SELECT e.id, count(i.value) AS n FROM events e LEFT JOIN event_indicators i ON i.event_id = e.id GROUP BY e.id HAVING count(i.value) <> 2");
  expect(partial).toEqual([]);
});
