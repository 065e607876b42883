// keepwatch backup | restore | systemd-unit
import { copyFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
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

export const BACKUP_HELP = `usage: keepwatch backup FILE [--data-dir DIR]

Writes a consistent copy of the database to FILE while keepwatch keeps running (it may be
serving; writes go on meanwhile). FILE must not exist. The copy is checked before this exits.
Exit codes: 0 done, 1 failed, 2 usage.
`;

export function backup(config: Config, args: string[]): number {
  const file = takePositional(args, "the backup FILE");
  noExtra(args);
  const target = resolve(file);
  if (existsSync(target)) throw new CliError(`${target} exists; choose a new file name`, 1);
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
  if (!check.ok) throw new CliError(`the backup in ${target} did not pass its check: ${check.reason}`, 1);
  process.stdout.write(`backup: ${target} (${check.events} events, ${check.tenants} tenants, ${Math.round(performance.now() - t0)} ms)\n`);
  return 0;
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
    process.stdout.write(`restored ${source} → ${target} (${check.events} events, ${check.tenants} tenants)\n`);
    return 0;
  } finally {
    lock.release();
  }
}

export const SYSTEMD_HELP = `usage: keepwatch systemd-unit [--data-dir DIR] [--port N] [--host ADDR]

Prints a systemd unit for this executable. Install it with:
  keepwatch systemd-unit | sudo tee /etc/systemd/system/keepwatch.service
  sudo systemctl daemon-reload && sudo systemctl enable --now keepwatch
`;

export function systemdUnit(config: Config, args: string[], explicit: Set<string>): number {
  noExtra(args);
  const exe = resolve(process.execPath);
  const dataDir = explicit.has("dataDir") ? resolve(config.dataDir) : "/var/lib/keepwatch";
  const flags = [`--data-dir ${dataDir}`, `--port ${config.port}`, `--host ${config.host}`].join(" ");
  process.stdout.write(`# keepwatch.service, printed by \`keepwatch systemd-unit\`
# Install: keepwatch systemd-unit | sudo tee /etc/systemd/system/keepwatch.service
#          sudo systemctl daemon-reload && sudo systemctl enable --now keepwatch
# The first start prints the admin and ingest keys once: journalctl -u keepwatch | grep 'key: kw_'
[Unit]
Description=keepwatch event and alert hub
Documentation=https://example.invalid/keepwatch/README.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exe} serve ${flags}
# a dedicated user of its own, created by systemd, owning only the state directory
DynamicUser=yes
User=keepwatch
Group=keepwatch
StateDirectory=keepwatch
StateDirectoryMode=0750
WorkingDirectory=${dataDir}
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
ProtectHome=yes
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
ReadWritePaths=${dataDir}

[Install]
WantedBy=multi-user.target
`);
  return 0;
}
