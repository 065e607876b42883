// What the PostgreSQL benchmarks share (postgres.ts, pg-deliveries.ts, replicas.ts, replica-lag.ts,
// replica-wake.ts): the skip when PostgreSQL is not installed, a throwaway cluster with
// pg_stat_statements and a connection to read its statistics, the cluster's CPU time, and a
// counting receiver for deliveries. Measurements stay in each bench.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type postgres from "postgres";
import { findPgBin, startCluster, type Cluster } from "../pg/cluster";

/** Ends the bench with a line saying so (exit 0: `make bench` goes on) when PostgreSQL is not installed. */
export function skipWithoutPostgres(name: string): void {
  if (findPgBin()) return;
  console.log(`# ${name}: skipped (PostgreSQL is not installed: apt-get install postgresql)`);
  process.exit(0);
}

/** A throwaway cluster for benches that read no statistics (replica-lag, replica-wake), with one database. */
export async function benchCluster(db: string): Promise<{ cluster: Cluster; url: string }> {
  const cluster = await startCluster();
  try {
    return { cluster, url: await cluster.createDatabase(db) };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

export type StatsCluster = {
  cluster: Cluster;
  /** the URL of the bench database (give it to keepwatch) */
  url: string;
  /** a connection of this process to the bench database, for statistics and counts */
  sql: postgres.Sql<{}>;
  /** statements run (pg_stat_statements calls) and transactions committed in the bench database so far */
  counters(): Promise<{ calls: number; xacts: number }>;
  /** the statements of the bench database that ran most: calls and the first 110 characters */
  top(limit: number): Promise<{ calls: number; q: string }[]>;
  /** CPU ms of the cluster so far: the postmaster, the children it reaped, every live child */
  cpuMs(): number;
  /** closes the connection and stops the cluster */
  stop(): Promise<void>;
};

/**
 * A throwaway cluster (fsync on, synchronous_commit on, 200 connections) with pg_stat_statements
 * tracking every statement, the database `db` created, and a connection of `pool` to it.
 */
export async function statsCluster(db = "bench", pool = 2): Promise<StatsCluster> {
  const cluster = await startCluster({ settings: { max_connections: "200", shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "all" } });
  let sql: postgres.Sql<{}> | null = null;
  try {
    const url = await cluster.createDatabase(db);
    const pg = (await import("postgres")).default;
    const { pgOptions } = await import("../../src/db/pg-client");
    const o = pgOptions(cluster.urlFor(db), pool);
    const conn = (sql = pg(o.url, o.options) as unknown as postgres.Sql<{}>);
    await conn`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    // test/pg/cluster.ts keeps the data directory in `data` beside the socket
    const dataDir = join(cluster.socketDir, "data");
    const ofDb = `(SELECT oid FROM pg_database WHERE datname = '${db.replace(/'/g, "''")}')`;
    return {
      cluster,
      url,
      sql: conn,
      async counters() {
        const [st] = await conn.unsafe(`SELECT coalesce(sum(calls), 0)::bigint AS calls FROM pg_stat_statements WHERE dbid = ${ofDb}`);
        const [d] = await conn`SELECT xact_commit::bigint AS xacts FROM pg_stat_database WHERE datname = ${db}`;
        return { calls: Number(st!.calls), xacts: Number(d!.xacts) };
      },
      async top(limit) {
        const rows = await conn.unsafe(
          `SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements WHERE dbid = ${ofDb} ORDER BY calls DESC LIMIT ${Math.floor(limit)}`,
        );
        return rows.map((r) => ({ calls: Number(r.calls), q: r.q as string }));
      },
      cpuMs: () => clusterCpuMs(dataDir),
      async stop() {
        await conn.end({ timeout: 5 });
        await cluster.stop();
      },
    };
  } catch (e) {
    await sql?.end({ timeout: 5 });
    await cluster.stop();
    throw e;
  }
}

/** CPU ms of a PostgreSQL cluster so far: the postmaster, the children it reaped, every live child. */
export function clusterCpuMs(dataDir: string): number {
  const pm = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  const fields = (pid: number | string) => {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" "); // starts at field 3 (state)
  };
  const f = fields(pm);
  // utime, stime, cutime, cstime (fields 14-17) in ticks of 10 ms
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === pm) continue;
    try {
      const c = fields(d);
      if (Number(c[1]) === pm) ticks += Number(c[11]) + Number(c[12]);
    } catch {} // gone meanwhile: its time is in the postmaster's cutime once reaped
  }
  return ticks * 10;
}

/** A bare local receiver that counts what arrives: `got`, and the first and last arrival (performance.now()). */
export function countingReceiver(): { url: string; got: number; first: number; last: number; stop(): void } {
  const r = {
    url: "",
    got: 0,
    first: 0,
    last: 0,
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      await req.arrayBuffer();
      if (r.got++ === 0) r.first = performance.now();
      r.last = performance.now();
      return new Response("ok");
    },
  });
  r.url = `http://127.0.0.1:${server.port}/bench`;
  return r;
}
