// PostgreSQL benchmark (issue 11), standalone: KEEPWATCH_BIN=dist/keepwatch bun test/bench/postgres.ts
// Skipped, with a line saying so, when PostgreSQL is not installed (no initdb).
// 1. Ingest: the same binary on SQLite (sync=FULL) and on PostgreSQL (one replica, a throwaway
//    cluster on this machine, fsync on, synchronous_commit on), and the bare Bun.serve baseline,
//    driven alternately by the same wrk load; req/s, p50, p99 and the ratios PostgreSQL/SQLite and
//    PostgreSQL/bare. PostgreSQL shares the two cores with keepwatch and wrk.
// 2. What PostgreSQL spends per ingested event: statements (pg_stat_statements calls), rows
//    written, WAL bytes (pg_stat_wal) and transactions (pg_stat_database.xact_commit), as deltas
//    over the PostgreSQL rounds divided by the events stored in them. These predict how far
//    replicas on one database can scale (see the README).
// 3. Deliveries/s on PostgreSQL: N messages to a local receiver through one webhook.
import { cpuMs, fmt, machine, median, sampleEvent, startBare, startKeepwatch, wrk, type WrkResult } from "./lib";
import { countingReceiver, skipWithoutPostgres, statsCluster } from "./pglib";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_N ?? 5_000);

skipWithoutPostgres("postgres");
const stats = await statsCluster("bench");
try {
  console.log(`# postgres: ingest, wrk 64 connections, ${ROUNDS} alternating rounds of ${SECONDS}s; machine: ${machine()}`);
  const { url, sql } = stats;

  const bodies = Array.from({ length: 16 }, (_, i) => JSON.stringify(sampleEvent(i)));
  const bare = await startBare();
  const lite = await startKeepwatch();
  const pg = await startKeepwatch({}, { databaseUrl: url });
  const h = (key: string) => ({ "content-type": "application/json", "x-api-key": key });
  const bareH = { "content-type": "application/json" };
  for (const [u, hh] of [[bare.url, bareH], [lite.url, h(lite.ingestKey)], [pg.url, h(pg.ingestKey)]] as const) await wrk(u + "/api/v1/events", bodies, hh, { seconds: 2 });

  const counters = async () => {
    const [st] = await sql`SELECT coalesce(sum(calls), 0)::bigint AS calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')`;
    const [wal] = await sql`SELECT wal_bytes::bigint AS wal, wal_records::bigint AS records FROM pg_stat_wal`;
    const [db] = await sql`SELECT xact_commit::bigint AS xacts, (tup_inserted + tup_updated + tup_deleted)::bigint AS rows FROM pg_stat_database WHERE datname = 'bench'`;
    const [ev] = await sql`SELECT count(*)::bigint AS n FROM events`;
    return { calls: Number(st!.calls), wal: Number(wal!.wal), records: Number(wal!.records), xacts: Number(db!.xacts), rows: Number(db!.rows), events: Number(ev!.n) };
  };
  const b: WrkResult[] = [], s: WrkResult[] = [], p: WrkResult[] = [];
  const pgCpu: number[] = [];
  const spent = { calls: 0, wal: 0, xacts: 0, rows: 0, events: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    b.push(await wrk(bare.url + "/api/v1/events", bodies, bareH, { seconds: SECONDS }));
    s.push(await wrk(lite.url + "/api/v1/events", bodies, h(lite.ingestKey), { seconds: SECONDS }));
    const c0 = await counters();
    const cpu0 = cpuMs(pg.pid);
    p.push(await wrk(pg.url + "/api/v1/events", bodies, h(pg.ingestKey), { seconds: SECONDS }));
    pgCpu.push(cpuMs(pg.pid) - cpu0);
    await Bun.sleep(200); // the statistics collector reports with a short delay
    const c1 = await counters();
    for (const k of Object.keys(spent) as (keyof typeof spent)[]) spent[k] += c1[k] - c0[k];
  }
  bare.proc.kill();
  lite.proc.kill("SIGTERM");
  await lite.proc.exited;
  const m = (xs: WrkResult[], f: keyof WrkResult) => median(xs.map((x) => x[f]));
  const row = (name: string, xs: WrkResult[]) => `| ${name} | ${fmt(m(xs, "rps"), 0)} | ${fmt(m(xs, "p50"), 2)} | ${fmt(m(xs, "p99"), 2)} | ${xs.reduce((a, x) => a + x.non2xx, 0)} |`;
  console.log(`| target | req/s (median) | p50 ms | p99 ms | non-2xx |`);
  console.log(`| --- | ---: | ---: | ---: | ---: |`);
  console.log(row("bare Bun.serve", b));
  console.log(row("keepwatch on SQLite (sync=FULL)", s));
  console.log(row("keepwatch on PostgreSQL (1 replica)", p));
  const vsLite = p.map((x, i) => x.rps / s[i]!.rps);
  const vsBare = p.map((x, i) => x.rps / b[i]!.rps);
  console.log(`ingest ratio PostgreSQL/SQLite per round: ${vsLite.map((r) => fmt(r, 2)).join(", ")}; median ${fmt(median(vsLite), 2)} (target ≥ 0.5)`);
  console.log(`ingest ratio PostgreSQL/bare (median): ${fmt(median(vsBare), 2)}`);
  const e = Math.max(1, spent.events);
  console.log(
    `PostgreSQL per ingested event: ${fmt(spent.calls / e, 2)} statements, ${fmt(spent.rows / e, 2)} rows written, ${fmt(spent.wal / e, 0)} WAL bytes, ${fmt(spent.xacts / e, 3)} commits (${spent.events} events)`,
  );
  console.log(`keepwatch CPU per request on PostgreSQL: ${pgCpu.map((c, i) => fmt((c * 1000) / p[i]!.requests, 0)).join(", ")} µs per round`);
  if (process.env.BENCH_PG_TOP) {
    // the statements behind those figures (cumulative since the cluster started: warm-up included)
    const top = await sql`SELECT calls, rows, round(total_exec_time)::bigint AS ms, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 110) AS q
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench') ORDER BY calls DESC LIMIT ${Number(process.env.BENCH_PG_TOP)}`;
    for (const t of top) console.log(`  ${String(t.calls).padStart(8)} calls ${String(t.rows).padStart(8)} rows ${String(t.ms).padStart(6)} ms  ${t.q}`);
  }

  // deliveries/s on PostgreSQL
  const receiver = countingReceiver();
  pg.proc.kill("SIGTERM");
  await pg.proc.exited;
  const pg2 = await startKeepwatch({ KEEPWATCH_OUTBOUND_ALLOW: "127.0.0.0/8", KEEPWATCH_WEBHOOK_CONCURRENCY: "64" }, { databaseUrl: url });
  const adminKey = pg.adminKey;
  const wh = await fetch(pg2.url + "/v1/webhooks", {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ url: receiver.url, rate_limit: 0 }),
  });
  if (wh.status >= 300) throw new Error(`webhook: ${wh.status} ${await wh.text()}`);
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    const r = await fetch(pg2.url + "/api/v1/events", {
      method: "POST",
      headers: h(pg.ingestKey),
      body: JSON.stringify(Array.from({ length: Math.min(500, N - i) }, (_, j) => sampleEvent(i + j))),
    });
    if (r.status !== 202) throw new Error(`ingest: ${r.status} ${await r.text()}`);
  }
  const end = Date.now() + 120_000;
  while (receiver.got < N && Date.now() < end) await Bun.sleep(20);
  console.log(`deliveries on PostgreSQL: ${receiver.got}/${N} received, ${fmt(receiver.got / ((receiver.last - receiver.first) / 1000), 0)} deliveries/s (first to last), ${fmt((performance.now() - t0) / 1000, 1)} s from the first ingest`);
  receiver.stop();
  pg2.proc.kill("SIGTERM");
  await pg2.proc.exited;
} finally {
  await stats.stop();
}
