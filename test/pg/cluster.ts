// A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, `pg_ctl` serving only on a
// Unix socket in that dir (no TCP port to collide on), fsync on, stopped and removed by stop().
// PostgreSQL refuses to run as root: when we are root, every server command runs as the
// `postgres` user through `runuser`, and the temp dir is handed to that user.
// The binaries come from $PG_BIN, else from PATH (initdb), else the newest /usr/lib/postgresql/*/bin
// (Debian's `postgresql` package, which .ci/run installs when initdb is missing).
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export type Cluster = {
  /** postgres://…@/<db>?host=<socket dir>: the superuser on the `postgres` database */
  url: string;
  /** a URL for another database of the cluster */
  urlFor(db: string): string;
  /** CREATE DATABASE <name> and return its URL */
  createDatabase(name: string): Promise<string>;
  /** the socket directory (the `host` of every URL) */
  socketDir: string;
  /** stops the server, keeping its data (pg_ctl stop -m fast): clients see the database go away */
  pause(): Promise<void>;
  /** starts the paused server again on the same socket and data */
  resume(): Promise<void>;
  stop(): Promise<void>;
};

/** The directory holding initdb, pg_ctl and postgres, or null when PostgreSQL is not installed. */
export function findPgBin(): string | null {
  const env = process.env.PG_BIN;
  if (env && existsSync(join(env, "pg_ctl"))) return env;
  const onPath = Bun.which("initdb");
  if (onPath) {
    // Debian puts wrappers (pg_wrapper) or symlinks on PATH; resolve to the real bin dir
    const real = Bun.spawnSync(["readlink", "-f", onPath]).stdout.toString().trim() || onPath;
    if (existsSync(join(dirname(real), "pg_ctl"))) return dirname(real);
  }
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0]!, "bin") : null;
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;
const OS_USER = "postgres";

function run(argv: string[], what: string): void {
  const cmd = isRoot() ? ["runuser", "-u", OS_USER, "--", ...argv] : argv;
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  if (r.exitCode !== 0) {
    throw new Error(`${what} failed (exit ${r.exitCode}): ${r.stderr.toString().trim() || r.stdout.toString().trim()}`);
  }
}

const live = new Set<() => void>();
let hooked = false;
/**
 * Stops every cluster this process started and has not stopped (test/preload.ts calls it after the
 * whole run: bun test does not always run "exit" handlers, and the shared cluster outlived it).
 */
export function stopAllClusters(): void {
  for (const f of [...live]) f();
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // a test process that dies without calling stop() still takes its clusters down
  process.on("exit", () => {
    for (const f of live) f();
  });
}

export async function startCluster(opts: { settings?: Record<string, string> } = {}): Promise<Cluster> {
  const bin = findPgBin();
  if (!bin) throw new Error("PostgreSQL is not installed (no initdb): apt-get install postgresql");
  const dir = mkdtempSync(join(tmpdir(), "kw-pg-"));
  const dataDir = join(dir, "data");
  const socketDir = dir;
  const log = join(dir, "server.log");
  if (isRoot()) {
    const uid = Number(Bun.spawnSync(["id", "-u", OS_USER]).stdout.toString().trim());
    const gid = Number(Bun.spawnSync(["id", "-g", OS_USER]).stdout.toString().trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no '${OS_USER}' user to run PostgreSQL as`);
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const user = "keepwatch";
  let started = false;
  let startOpts = "";
  const hardStop = () => {
    if (started) {
      const cmd = [join(bin, "pg_ctl"), "-D", dataDir, "-m", "immediate", "-w", "stop"];
      Bun.spawnSync(isRoot() ? ["runuser", "-u", OS_USER, "--", ...cmd] : cmd, { stdout: "ignore", stderr: "ignore" });
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(hardStop);
  hookExit();
  try {
    run([join(bin, "initdb"), "-D", dataDir, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"], "initdb");
    const settings: Record<string, string> = {
      listen_addresses: "''",
      unix_socket_directories: `'${socketDir}'`,
      fsync: "on",
      synchronous_commit: "on",
      // every test file of a bun process shares one cluster (sharedCluster), each opening pools of
      // its own, and the replica tests start several servers: room for all of them at once
      max_connections: "400",
      shared_buffers: "32MB",
      ...opts.settings,
    };
    const o = Object.entries(settings)
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(" ");
    run([join(bin, "pg_ctl"), "-D", dataDir, "-l", log, "-o", o, "-w", "-t", "60", "start"], "pg_ctl start");
    started = true;
    startOpts = o;
  } catch (e) {
    hardStop();
    live.delete(hardStop);
    throw e;
  }
  const urlFor = (db: string) => `postgres://${user}@localhost/${db}?host=${encodeURIComponent(socketDir)}`;
  return {
    url: urlFor("postgres"),
    urlFor,
    socketDir,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      run([join(bin, "psql"), "-h", socketDir, "-U", user, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", `CREATE DATABASE ${name}`], "createdb");
      return urlFor(name);
    },
    async pause() {
      if (!started) return;
      run([join(bin, "pg_ctl"), "-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"], "pg_ctl stop");
      started = false;
    },
    async resume() {
      if (started) return;
      run([join(bin, "pg_ctl"), "-D", dataDir, "-l", log, "-o", startOpts, "-w", "-t", "60", "start"], "pg_ctl start");
      started = true;
    },
    async stop() {
      if (started) {
        run([join(bin, "pg_ctl"), "-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"], "pg_ctl stop");
        started = false;
      }
      rmSync(dir, { recursive: true, force: true });
      live.delete(hardStop);
    },
  };
}

let shared: Promise<Cluster> | null = null;
/** The test process's one throwaway PostgreSQL cluster (started on first use, stopped at exit). */
export function sharedCluster(): Promise<Cluster> {
  shared ??= startCluster();
  return shared;
}

let template: Promise<string> | null = null;
let cloned = 0;

/**
 * A fresh, migrated database of the shared cluster, cloned from a template migrated once per test
 * process (CREATE DATABASE … TEMPLATE copies files: milliseconds, where migrating takes far
 * longer). Returns its URL and a drop() that removes it (closing any connection left on it).
 */
export async function clonedDatabase(prefix = "kw"): Promise<{ url: string; drop(): Promise<void> }> {
  const c = await sharedCluster();
  const { openPg } = await import("../../src/db/pg-client");
  const { migratePg } = await import("../../src/db/pg-migrate");
  template ??= (async () => {
    const name = `kw_template_${process.pid}`;
    const url = await c.createDatabase(name);
    const db = openPg(url, { pool: 1 });
    try {
      await migratePg(db.$client);
    } finally {
      await db.$client.end({ timeout: 5 });
    }
    return name;
  })();
  const tpl = await template;
  const name = `${prefix}_${process.pid}_${++cloned}`;
  const admin = openPg(c.url, { pool: 1 });
  try {
    await admin.$client.unsafe(`CREATE DATABASE ${name} TEMPLATE ${tpl}`);
  } finally {
    await admin.$client.end({ timeout: 5 });
  }
  return {
    url: c.urlFor(name),
    async drop() {
      const a = openPg(c.url, { pool: 1 });
      try {
        await a.$client.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.$client.end({ timeout: 5 });
      }
    },
  };
}
