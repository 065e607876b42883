// kill -9 while clients post as fast as they can: after a restart every id answered 202 is in the
// database, and nothing half-written is (no partial batch, no event without its indicators).
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { killSpawned, startBinary, tempDir } from "../helpers";

const dir = tempDir("kw-crash-");
afterAll(() => {
  killSpawned();
  rmSync(dir, { recursive: true, force: true });
});

test("kill -9 under load loses no acknowledged event and leaves no partial batch", async () => {
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
  await Bun.sleep(700);
  s.proc.kill("SIGKILL");
  await s.proc.exited;
  down = true;
  await Promise.all(clients);
  expect(acked.length).toBeGreaterThan(50);

  // restart on the same directory: recovery from the WAL happens on open
  const again = await startBinary(dir);
  const r = await fetch(again.url + "/readyz");
  expect(r.status).toBe(200);
  again.proc.kill("SIGTERM");
  expect(await again.proc.exited).toBe(0);

  const db = new Database(join(dir, "keepwatch.db"), { readonly: true });
  expect((db.query("PRAGMA integrity_check").get() as any).integrity_check).toBe("ok");
  const ids = new Set((db.query("SELECT id FROM events").all() as { id: string }[]).map((x) => x.id));
  const missing = acked.filter((id) => !ids.has(id));
  expect(missing).toEqual([]);
  // every batch is whole or absent
  const perBatch = db.query("SELECT tags, count(*) AS n FROM events GROUP BY tags").all() as { tags: string; n: number }[];
  expect(perBatch.filter((b) => b.n !== 5)).toEqual([]);
  // every event has both its indicators
  const partial = db
    .query("SELECT e.id, count(i.value) AS n FROM events e LEFT JOIN event_indicators i ON i.event_id = e.id GROUP BY e.id HAVING n != 2")
    .all();
  expect(partial).toEqual([]);
  db.close();
});
