// Soak: fixed-rate ingest for a few minutes, once with one webhook on event.received rate-limited
// below the event rate (its backlog grows all run long) to a local receiver, once without a
// webhook. Per window: ingest p50/p99 (from each request's scheduled time), largest WAL, backlog
// and deliveries/s. Targets (issue 14): last-window p99 with the webhook ≤ 1.5× without, WAL ≤ 128 MB,
// deliveries at the webhook's rate limit throughout.
//   KEEPWATCH_BIN=dist/keepwatch bun test/bench/soak.ts
//   SOAK_SECONDS (150 per run), SOAK_WINDOW (30), SOAK_RATE (400 requests/s of 2 events),
//   SOAK_WEBHOOK_RATE (50 messages/s), SOAK_ONLY=webhook (skip the run without). Loopback only;
//   bounded; stops what it starts.
//   SOAK_REPLICAS=N: the same on PostgreSQL (a throwaway cluster per run) with N replicas, the
//   requests round-robin over them and the webhook's lane shared by all (no WAL file to sample:
//   the WAL column and target are SQLite's). Skipped without PostgreSQL.
import { statSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt, machine, median, sampleEvent, startKeepwatch } from "./lib";
import { skipWithoutPostgres, statsCluster, type StatsCluster } from "./pglib";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 150);
const WINDOW = Number(process.env.SOAK_WINDOW ?? 30);
const RATE = Number(process.env.SOAK_RATE ?? 400);
const HOOK_RATE = Number(process.env.SOAK_WEBHOOK_RATE ?? 50);
const REPLICAS = Number(process.env.SOAK_REPLICAS ?? 0);
if (REPLICAS > 0) skipWithoutPostgres("soak with replicas");

type Row = { window: number; p50: number; p99: number; ok: number; errors: number; late: number; walMb: number; backlog: number | null; deliveredPerS: number };

const bodyFile = join(mkdtempSync(join(tmpdir(), "kw-soak-")), "body.json");
writeFileSync(bodyFile, JSON.stringify([sampleEvent(1), sampleEvent(2)]));

async function run(withWebhook: boolean): Promise<Row[]> {
  // the receiver answers at once and counts what arrives, per second since the start
  const delivered: number[] = [];
  let t0 = performance.now();
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = await req.text();
      const n = body.startsWith("[") ? (body.match(/"type":"event.received"/g)?.length ?? 0) : 1;
      const s = Math.floor((performance.now() - t0) / 1000);
      delivered[s] = (delivered[s] ?? 0) + n;
      return new Response("ok");
    },
  });
  // SQLite: one process; SOAK_REPLICAS: N replicas on a fresh PostgreSQL database
  const pg: StatsCluster | null = REPLICAS > 0 ? await statsCluster("soak", 1) : null;
  const kws: Awaited<ReturnType<typeof startKeepwatch>>[] = [];
  for (let i = 0; i < Math.max(1, REPLICAS); i++) kws.push(await startKeepwatch({ KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8" }, pg ? { databaseUrl: pg.url } : {}));
  const kw = kws[0]!;
  const rows: Row[] = [];
  try {
    if (withWebhook) {
      const r = await fetch(kw.url + "/v1/webhooks", {
        method: "POST",
        headers: { authorization: `Bearer ${kw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/soak`, triggers: ["event.received"], rate_limit: HOOK_RATE }),
      });
      if (r.status !== 201) throw new Error(`webhook: ${r.status} ${await r.text()}`);
      // the other replicas' webhook caches see it within their bound (250 ms; documented: 1 s)
      if (kws.length > 1) await Bun.sleep(1500);
    }
    const wal = join(kw.dir, "keepwatch.db-wal");
    const walMax: number[] = [];
    const backlog: (number | null)[] = [];
    t0 = performance.now();
    const pacer = Bun.spawn(
      [process.execPath, join(import.meta.dir, "pacer.ts"), kws.map((k) => k.url + "/api/v1/events").join(","), kw.ingestKey, String(RATE), String(SECONDS), String(WINDOW), bodyFile],
      { stdout: "pipe", stderr: "inherit" },
    );
    // once a second: the WAL's size and the backlog (keepwatch's own metric; older builds: the queue depth)
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const w = Math.floor((performance.now() - t0) / 1000 / WINDOW);
        let size = 0;
        try {
          size = statSync(wal).size;
        } catch {}
        walMax[w] = Math.max(walMax[w] ?? 0, size);
        if (withWebhook) {
          try {
            const text = await (await fetch(kw.url + "/metrics", { signal: AbortSignal.timeout(5000) })).text();
            const m = /^keepwatch_webhook_backlog\{[^}]*\} (\d+)/m.exec(text);
            const a = /^keepwatch_jobs\{queue="webhooks",state="available"\} (\d+)/m.exec(text);
            backlog[w] = m ? Number(m[1]) : a ? Number(a[1]) : null;
          } catch {}
        }
        await Bun.sleep(1000);
      }
    })();
    const reader = pacer.stdout.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      buf += dec.decode(r.value);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const p = JSON.parse(line);
        const from = p.window * WINDOW;
        let d = 0;
        for (let s = from; s < from + WINDOW; s++) d += delivered[s] ?? 0;
        const row: Row = { window: p.window, p50: p.p50, p99: p.p99, ok: p.ok, errors: p.errors, late: p.late, walMb: (walMax[p.window] ?? 0) / 2 ** 20, backlog: backlog[p.window] ?? null, deliveredPerS: d / WINDOW };
        rows.push(row);
        console.log(
          `  ${String((p.window + 1) * WINDOW).padStart(5)} s  p50 ${fmt(row.p50).padStart(8)} ms  p99 ${fmt(row.p99).padStart(8)} ms  ok ${String(row.ok).padStart(6)}  err ${row.errors}  late ${row.late}  WAL ${fmt(row.walMb).padStart(6)} MB` +
            (withWebhook ? `  backlog ${String(row.backlog ?? "?").padStart(7)}  delivered ${fmt(row.deliveredPerS).padStart(6)}/s` : ""),
        );
      }
    }
    await pacer.exited;
    sampling = false;
    await sampler;
  } finally {
    for (const k of kws) k.proc.kill("SIGTERM");
    await Promise.race([Promise.all(kws.map((k) => k.proc.exited)), Bun.sleep(15_000)]);
    for (const k of kws) if (k.proc.exitCode === null) k.proc.kill(9);
    receiver.stop(true);
    await pg?.stop();
  }
  return rows;
}

console.log(`soak: ${RATE} requests/s of 2 events for ${SECONDS} s per run, windows of ${WINDOW} s; webhook rate limit ${HOOK_RATE}/s`);
console.log(`machine: ${machine()}`);
if (REPLICAS > 0) console.log(`store: PostgreSQL (a throwaway cluster per run), ${REPLICAS} replica${REPLICAS > 1 ? "s" : ""}, requests round-robin`);
console.log(`binary: ${process.env.KEEPWATCH_BIN ?? "dist/keepwatch"}`);
// SOAK_ONLY=webhook skips the run without one (for quick experiments; the summary then has no ratio)
console.log("without a webhook:");
const base = process.env.SOAK_ONLY === "webhook" ? [{ window: 0, p50: NaN, p99: NaN, ok: 0, errors: 0, late: 0, walMb: 0, backlog: null, deliveredPerS: 0 }] : await run(false);
console.log(`with a webhook on event.received at ${HOOK_RATE}/s (the events come at ${RATE * 2}/s, so its backlog grows all run):`);
const hook = await run(true);
const last = (rows: Row[]) => rows[rows.length - 1];
const ratio = last(hook).p99 / last(base).p99;
const walMax = Math.max(...hook.map((r) => r.walMb));
const rates = hook.map((r) => r.deliveredPerS);
// this VM's disk takes 100-600 ms for an fsync now and then, so one window's p99 is noisy: the
// median over the windows is given too
const medRatio = median(hook.map((r) => r.p99)) / median(base.map((r) => r.p99));
console.log(
  `summary: median p99 over the windows ${fmt(median(hook.map((r) => r.p99)))} ms with the webhook vs ${fmt(median(base.map((r) => r.p99)))} ms without (${fmt(medRatio, 2)}x); ` +
    `median p50 ${fmt(median(hook.map((r) => r.p50)))} vs ${fmt(median(base.map((r) => r.p50)))} ms`,
);
console.log(
  `summary: last-window p99 ${fmt(last(hook).p99)} ms with the webhook vs ${fmt(last(base).p99)} ms without (${fmt(ratio, 2)}x; target <= 1.5x); ` +
    (REPLICAS > 0 ? "" : `largest WAL ${fmt(walMax)} MB (target <= 128); `) +
    `delivered/s per window ${rates.map((r) => fmt(r)).join(", ")} (rate limit ${HOOK_RATE})`,
);
