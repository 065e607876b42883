// keepwatch backup | restore | systemd-unit
import { accessSync, constants, copyFileSync, existsSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Config } from "../config";
import { dbFile, openDatabase } from "../db/client";
import { DataDirBusy, lockDataDir } from "../db/lock";
import { backupTo, inspectDatabase } from "../store/backup";
import { noExtra, takePositional } from "./args";

export class CliError extends Error {
  constructor(
    message: string,
    public code = 1,
  ) {
    super(message);
  }
}

export const BACKUP_HELP = `usage: keepwatch backup FILE|DIR [--replace] [--data-dir DIR]

Writes a consistent copy of the database to FILE while keepwatch keeps running (it may be
serving; writes go on meanwhile). The copy is checked before this exits.
  FILE        must not exist, unless --replace is given
  DIR         an existing directory: the copy is DIR/keepwatch-YYYY-MM-DD.db (UTC date); when
              that exists (a second run the same day), DIR/keepwatch-YYYY-MM-DDTHHMMSSZ.db
  --replace   replace an existing FILE; it is swapped in only once the new copy passed its check
Exit codes: 0 done, 1 failed, 2 usage.

  keepwatch backup /var/backups/keepwatch/      (from cron: one file a day, never a failure)
`;

/** Where a backup into directory `dir` goes at `now`: the day's name, or with the time when the day's file exists. */
export function datedBackupName(dir: string, now: Date, exists: (p: string) => boolean = existsSync): string {
  const iso = now.toISOString();
  const day = join(dir, `keepwatch-${iso.slice(0, 10)}.db`);
  if (!exists(day)) return day;
  const stamp = `keepwatch-${iso.slice(0, 10)}T${iso.slice(11, 19).replace(/:/g, "")}Z`;
  for (let i = 1; ; i++) {
    const p = join(dir, i === 1 ? `${stamp}.db` : `${stamp}-${i}.db`);
    if (!exists(p)) return p;
  }
}

export function backup(config: Config, args: string[]): number {
  const replace = args.includes("--replace");
  if (replace) args.splice(args.indexOf("--replace"), 1);
  const file = takePositional(args, "the backup FILE or DIR");
  noExtra(args);
  let target = resolve(file);
  let isDir = false;
  try {
    isDir = statSync(target).isDirectory();
  } catch {}
  if (isDir) target = datedBackupName(target, new Date());
  else if (existsSync(target) && !replace) throw new CliError(`${target} exists; choose a new file name, pass --replace, or give a directory for a date-named file`, 1);
  checkTargetDirectory(target);
  const final = target;
  // --replace: the copy goes to a temporary file beside the old one and replaces it only once checked
  if (!isDir && existsSync(target)) target = `${final}.tmp-${process.pid}`;
  const source = dbFile(config.dataDir);
  if (!existsSync(source)) throw new CliError(`no database at ${source}`, 1);
  const db = openDatabase(source, { busyTimeoutMs: config.busyTimeout });
  const t0 = performance.now();
  try {
    backupTo(db, target);
  } finally {
    db.$client.close(false);
  }
  const check = inspectDatabase(target);
  if (!check.ok) {
    if (target !== final) rmSync(target, { force: true }); // the old FILE stays as it was
    throw new CliError(`the backup in ${target} did not pass its check: ${check.reason}`, 1);
  }
  if (target !== final) renameSync(target, final);
  target = final;
  process.stdout.write(`backup: ${target} (${count(check.events, "event")}, ${count(check.tenants, "tenant")}, ${Math.round(performance.now() - t0)} ms)\n`);
  return 0;
}

/** "1 event", "2 events". */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** The directory a backup goes to must exist and be writable: say which, rather than SQLite's "unable to open database". */
function checkTargetDirectory(target: string): void {
  const dir = dirname(target);
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new CliError(`the directory ${dir} does not exist; create it first (mkdir -p ${dir})`, 1);
  }
  if (!st.isDirectory()) throw new CliError(`${dir} is not a directory`, 1);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new CliError(`the directory ${dir} is not writable by this user`, 1);
  }
}

export const RESTORE_HELP = `usage: keepwatch restore FILE [--data-dir DIR]

Replaces the database in the data directory with FILE (a file made by keepwatch backup).
Refuses while a keepwatch server runs on that directory: stop it first. The database it replaces
is kept beside it as keepwatch.db.before-restore-<time>.
Exit codes: 0 done, 1 failed or refused, 2 usage.
`;

export function restore(config: Config, args: string[]): number {
  const file = takePositional(args, "the backup FILE to restore");
  noExtra(args);
  const source = resolve(file);
  if (!existsSync(source)) throw new CliError(`no file ${source}`, 1);
  const check = inspectDatabase(source);
  if (!check.ok) throw new CliError(`${source} cannot be restored: ${check.reason}`, 1);
  let lock;
  try {
    lock = lockDataDir(config.dataDir);
  } catch (e) {
    if (e instanceof DataDirBusy) throw new CliError(`${e.message}; stop it before restoring`, 1);
    throw e;
  }
  try {
    const target = dbFile(config.dataDir);
    const staging = `${target}.restoring`;
    copyFileSync(source, staging);
    if (existsSync(target)) {
      const kept = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      // fold the old WAL into the file we keep, so that it is complete on its own
      const old = openDatabase(target, { busyTimeoutMs: config.busyTimeout });
      old.$client.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      old.$client.close(false);
      renameSync(target, kept);
      process.stdout.write(`kept the previous database as ${kept}\n`);
    }
    rmSync(`${target}-wal`, { force: true });
    rmSync(`${target}-shm`, { force: true });
    renameSync(staging, target);
    process.stdout.write(`restored ${source} → ${target} (${count(check.events, "event")}, ${count(check.tenants, "tenant")})\n`);
    return 0;
  } finally {
    lock.release();
  }
}

export const SYSTEMD_HELP = `usage: keepwatch systemd-unit [--data-dir DIR] [--port N] [--host ADDR]

Prints a systemd unit for this executable. With /var/lib/<name> (the default is
/var/lib/keepwatch) systemd makes its user and directory; with another --data-dir the unit runs as
the system user keepwatch (create it once: useradd --system --no-create-home keepwatch) and hands
the directory to it before each start. Install it with:
  keepwatch systemd-unit | sudo tee /etc/systemd/system/keepwatch.service
  sudo systemctl daemon-reload && sudo systemctl enable --now keepwatch
On PostgreSQL the database URL (with its password) stays out of the unit: print the unit without
--database-url / KEEPWATCH_DATABASE_URL and give the service KEEPWATCH_DATABASE_URL=… in an
EnvironmentFile= readable by root only (README: Running several replicas).
`;

/** A path as one argument of ExecStart= or ReadWritePaths=: quoted, with systemd's % and $ escaped. */
const unitArg = (p: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(p) ? p.replace(/%/g, "%%") : `"${p.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`);
/** A path in ReadWritePaths= (quoted when it has spaces, % escaped; no $ expansion there), `-` when it may be missing. */
const rwArg = (p: string, optional: boolean) => {
  const v = (optional ? "-" : "") + p.replace(/%/g, "%%");
  return /^[^\s"'\\]+$/.test(p) ? v : `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
};
/** A path as the whole value of WorkingDirectory= (no quoting there; % escaped). */
const unitPath = (p: string) => p.replace(/%/g, "%%");

const DEFAULT_DATA_DIR = "/var/lib/keepwatch";

export function systemdUnit(config: Config, args: string[], explicit: Set<string>): number {
  noExtra(args);
  const exe = resolve(process.execPath);
  const dataDir = explicit.has("dataDir") ? resolve(config.dataDir) : DEFAULT_DATA_DIR;
  if (/[\0\n\r]/.test(dataDir)) throw new CliError("the data directory's path has a control character; choose another", 2);
  const flags = [`--data-dir ${unitArg(dataDir)}`, `--port ${config.port}`, `--host ${unitArg(config.host)}`].join(" ");
  // /var/lib/<name>: systemd makes the user (DynamicUser) and the directory (StateDirectory).
  // Anywhere else StateDirectory cannot point, and a dynamic user would own nothing there: the
  // unit runs as a dedicated system user, and hands the directory to it before each start.
  const stateName = /^\/var\/lib\/([A-Za-z0-9_.-]+)$/.exec(dataDir)?.[1];
  const state = stateName !== undefined && stateName !== "." && stateName !== "..";
  const home = /^\/(home|root|run\/user)(\/|$)/.test(dataDir);
  const identity = state
    ? `# a dedicated user of its own, created by systemd, owning only the state directory
DynamicUser=yes
User=keepwatch
Group=keepwatch
StateDirectory=${stateName}
StateDirectoryMode=0750
WorkingDirectory=${unitPath(dataDir)}`
    : `# a dedicated system user, made once before the first start:
#   sudo useradd --system --no-create-home --shell /usr/sbin/nologin keepwatch
User=keepwatch
Group=keepwatch
# the data directory, created if missing and handed to that user before each start (as root: "+")
ExecStartPre=+/usr/bin/install -d -o keepwatch -g keepwatch -m 0750 ${unitArg(dataDir)}
WorkingDirectory=-${unitPath(dataDir)}`;
  process.stdout.write(`# keepwatch.service, printed by \`keepwatch systemd-unit\`
# Install: keepwatch systemd-unit | sudo tee /etc/systemd/system/keepwatch.service
#          sudo systemctl daemon-reload && sudo systemctl enable --now keepwatch
# The first start prints the admin and ingest keys once: journalctl -u keepwatch | grep 'key: kw_'
# Settings and commands: ${exe} help
[Unit]
Description=keepwatch event and alert hub
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${unitArg(exe)} serve ${flags}
${identity}
Restart=on-failure
RestartSec=2
# exit code 2 is a bad setting or usage: restarting will not fix it
RestartPreventExitStatus=2
KillSignal=SIGTERM
TimeoutStopSec=30
LimitNOFILE=65536
# hardening
NoNewPrivileges=yes
ProtectSystem=strict
${home ? "# the data directory is under a home directory: homes stay read-only, that directory writable\nProtectHome=read-only" : "ProtectHome=yes"}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
# (no MemoryDenyWriteExecute: the JavaScript JIT needs writable, executable memory)
SystemCallArchitectures=native
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=
UMask=0077
ReadWritePaths=${rwArg(dataDir, !state)}

[Install]
WantedBy=multi-user.target
`);
  return 0;
}
