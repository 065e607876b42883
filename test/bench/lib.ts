// Shared benchmark plumbing: start the built binary and a bare baseline, drive them with wrk,
// read peak RSS. Loopback only; every run is bounded in time.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BIN = process.env.KEEPWATCH_BIN ?? join(import.meta.dir, "..", "..", "dist", "keepwatch");

export type Proc = { proc: import("bun").Subprocess; url: string; pid: number; out: () => string };

async function waitFor(proc: import("bun").Subprocess<any, "pipe", any>, re: RegExp): Promise<{ m: RegExpExecArray; out: () => string }> {
  const reader = proc.stdout.getReader();
  const dec = new TextDecoder();
  let out = "";
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = re.exec(out);
    if (m) {
      (async () => {
        for (;;) {
          const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (r.done) break;
          out += dec.decode(r.value);
        }
      })();
      return { m, out: () => out };
    }
    if (Date.now() > deadline) throw new Error("process did not start: " + out);
    const r = await reader.read();
    if (r.done) throw new Error("process exited: " + out);
    out += dec.decode(r.value);
  }
}

const tempDirs: string[] = [];
process.on("exit", () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * Starts the built binary on a new data directory (or `opts.dataDir`); `dir` is the data directory.
 * With `opts.databaseUrl` it runs on that PostgreSQL database instead (`dir` then holds only its log).
 */
export async function startKeepwatch(
  env: Record<string, string> = {},
  opts: { dataDir?: string; databaseUrl?: string } = {},
): Promise<Proc & { adminKey: string; ingestKey: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "kw-bench-"));
  tempDirs.push(dir);
  const dataDir = opts.dataDir ?? join(dir, "data");
  // The server logs to a file, as a service does: a pipe read by this process would make the
  // benchmark's own reading (a line per request) compete with the server for the two cores.
  const logFile = join(dir, "server.log");
  const store = opts.databaseUrl ? ["--database-url", opts.databaseUrl] : ["--data-dir", dataDir];
  const proc = Bun.spawn([BIN, "serve", "--port", "0", "--host", "127.0.0.1", ...store], {
    stdout: Bun.file(logFile),
    stderr: "inherit",
    env: { PATH: process.env.PATH ?? "", KEEPWATCH_RATE_LIMIT: "0", ...env },
  });
  const out = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const deadline = Date.now() + 15_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /"url":"(http:\/\/[^"]+)"/.exec(out()))) {
    if (proc.exitCode !== null) throw new Error("keepwatch exited: " + out());
    if (Date.now() > deadline) throw new Error("keepwatch did not start: " + out());
    await Bun.sleep(50);
  }
  const o = out();
  return {
    proc,
    url: m[1],
    pid: proc.pid,
    out,
    dir: dataDir,
    // printed on the first start of a data directory only
    adminKey: /^admin key: (\S+)$/m.exec(o)?.[1] ?? "",
    ingestKey: /^ingest key: (\S+)$/m.exec(o)?.[1] ?? "",
  };
}

/** The baseline: a bare Bun.serve in its own process that parses the same JSON and answers 202. */
export async function startBare(): Promise<Proc> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "bare.ts")], { stdout: "pipe", stderr: "inherit" });
  const { m, out } = await waitFor(proc, /listening (http:\/\/\S+)/);
  return { proc, url: m[1], pid: proc.pid, out };
}

export function peakRssMb(pid: number): number {
  try {
    const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; NaN elsewhere). */
export function cpuMs(pid: number): number {
  try {
    const stat = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8") as string;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields 14 and 15 (utime, stime) in clock ticks of 10 ms; f starts at field 3
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

export type WrkResult = { rps: number; p50: number; p99: number; non2xx: number; errors: number; requests: number };

/** wrk with a POST body (or several, rotated) and headers; latencies in ms. */
export async function wrk(url: string, bodies: string[], headers: Record<string, string>, opts: { connections?: number; seconds?: number; threads?: number } = {}): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), "kw-wrk-"));
  tempDirs.push(dir);
  const script = join(dir, "post.lua");
  const esc = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal for our ASCII bodies
  writeFileSync(
    script,
    `wrk.method = "POST"
${Object.entries(headers).map(([k, v]) => `wrk.headers[${esc(k)}] = ${esc(v)}`).join("\n")}
local bodies = { ${bodies.map(esc).join(", ")} }
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
local non2xx = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, non2xx, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
`,
  );
  const c = opts.connections ?? 64;
  const secs = opts.seconds ?? 10;
  const p = Bun.spawn(["wrk", "-t", String(opts.threads ?? 2), "-c", String(c), "-d", `${secs}s`, "--timeout", "5s", "-s", script, url], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  if (!m) throw new Error("wrk gave no result:\n" + out);
  return {
    rps,
    requests: Number(m[1]),
    non2xx: Number(m[2]),
    errors: Number(m[3]),
    p50: Number(m[4]) / 1000,
    p99: Number(m[5]) / 1000,
  };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

export function machine(): string {
  const os = require("node:os");
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, bun ${Bun.version}`;
}

/** A realistic ~500-byte event envelope. */
export function sampleEvent(n: number): Record<string, unknown> {
  return {
    type: "check.failed",
    module: "custom",
    source: "nightly-cron",
    summary: `disk usage on backup host exceeded 90% (run ${n})`,
    severity: "warning",
    payload: {
      host: `backup-${n % 50}`,
      pct: 90 + (n % 10),
      mount: "/var/lib/postgresql",
      region: "eu-central-1",
      job: "nightly-backup",
      run_id: `run-${100000 + n}`,
      url: `https://ci.example.com/jobs/nightly-backup/runs/${100000 + n}`,
      labels: { team: "platform", env: "prod", tier: "storage" },
      note: "threshold 90%, measured over the last 5 minutes, alerting after 2 consecutive checks",
    },
  };
}
