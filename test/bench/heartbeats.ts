// 100,000 heartbeats with staggered deadlines: every overdue one detected, p99 lateness (from
// the deadline to the flip), pings/s while deadlines pass, and peak RSS. The heartbeats are
// written straight into the database while keepwatch is stopped, then keepwatch starts on it.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { ulidTime } from "../../src/lib/ids";
import { newId, randomB64url } from "../../src/lib/ids";
import { fmt, machine, peakRssMb, startKeepwatch, BIN, wrk } from "./lib";

const N = Number(process.env.BENCH_HEARTBEATS ?? 100_000);
const SPREAD_S = 20;
const LEAD_S = 12;
console.log(`# heartbeats: ${N} with deadlines spread over ${SPREAD_S}s, pinged by wrk meanwhile; machine: ${machine()}`);

const first = await startKeepwatch();
const dir = first.dir;
first.proc.kill("SIGTERM");
await first.proc.exited;

const db = new Database(join(dir, "keepwatch.db"));
const tenant = (db.query("SELECT id FROM tenants LIMIT 1").get() as { id: string }).id;
const now = Date.now();
const start = now + LEAD_S * 1000;
const ins = db.prepare(
  `INSERT INTO heartbeats (id, tenant_id, name, token, schedule_kind, period_s, grace_s, severity, state, due_at, down_at, next_deadline, last_beat_at, created_at, updated_at)
   VALUES (?1, ?2, ?3, ?4, 'period', ?5, 0, 'high', 'up', ?6, ?6, ?6, ?7, ?7, ?7)`,
);
const pingTokens: string[] = [];
db.transaction(() => {
  for (let i = 0; i < N; i++) {
    const d = start + Math.floor((i * SPREAD_S * 1000) / N);
    ins.run(newId(now), tenant, `hb-${i}`, randomB64url(18), 3600, d, now);
  }
  // 1,000 more, far from their deadlines, for the ping load
  for (let i = 0; i < 1000; i++) {
    const token = randomB64url(18);
    pingTokens.push(token);
    ins.run(newId(now), tenant, `pinged-${i}`, token, 3600, now + 3_600_000, now);
  }
})();
db.close();

const kw = await startKeepwatch({}, { dataDir: dir });
const { proc, url } = kw;

// ping load while the deadlines pass
await Bun.sleep(Math.max(0, start - Date.now() + 2000));
const pings = await wrkGet(url, pingTokens, 8);
await Bun.sleep(Math.max(0, start + SPREAD_S * 1000 + 3000 - Date.now()));
const quietPings = await wrkGet(url, pingTokens, 6); // no deadlines passing any more
const rss = peakRssMb(proc.pid);
proc.kill("SIGTERM");
await proc.exited;

const check = new Database(join(dir, "keepwatch.db"), { readonly: true });
const flips = check.query("SELECT id, at FROM heartbeat_flips WHERE to_state = 'down'").all() as { id: string; at: number }[];
const downs = (check.query("SELECT count(*) AS n FROM heartbeats WHERE state = 'down'").get() as { n: number }).n;
check.close();
const late = flips.map((f) => ulidTime(f.id) - f.at).sort((a, b) => a - b);
const p = (q: number) => late[Math.min(late.length - 1, Math.floor(q * late.length))];
console.log(`detected ${flips.length} of ${N} down flips (${downs} heartbeats down); lateness p50 ${fmt(p(0.5), 0)} ms, p99 ${fmt(p(0.99), 0)} ms, max ${fmt(late.at(-1) ?? NaN, 0)} ms (target p99 ≤ 1000)`);
console.log(`pings: ${fmt(pings.rps, 0)}/s while ${fmt(N / SPREAD_S, 0)} heartbeats/s went down (each storing an event and opening an alert), p99 ${fmt(pings.p99, 1)} ms; ${fmt(quietPings.rps, 0)}/s afterwards, p99 ${fmt(quietPings.p99, 1)} ms; ${pings.non2xx + quietPings.non2xx} non-2xx (target ≥ 10,000/s)`);
console.log(`peak RSS ${fmt(rss)} MB (target ≤ 250)`);

async function wrkGet(base: string, tokens: string[], seconds: number) {
  // wrk with GET requests rotating over the tokens
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const d = mkdtempSync(join(tmpdir(), "kw-wrk-"));
  const script = join(d, "ping.lua");
  writeFileSync(
    script,
    `local tokens = { ${tokens.map((t) => JSON.stringify(t)).join(", ")} }
local i = 0
request = function() i = i + 1; return wrk.format("GET", "/ping/" .. tokens[(i % #tokens) + 1]) end
local non2xx = 0
response = function(status) if status ~= 200 then non2xx = non2xx + 1 end end
done = function(summary, latency) io.write(string.format("RESULT %d %d %d\\n", summary.requests, non2xx, latency:percentile(99))) end
`,
  );
  const p = Bun.spawn(["wrk", "-t", "2", "-c", "32", "-d", `${seconds}s`, "-s", script, base], { stdout: "pipe" });
  const o = await new Response(p.stdout).text();
  const m = /RESULT (\d+) (\d+) (\d+)/.exec(o)!;
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(o)?.[1] ?? 0), non2xx: Number(m[2]), p99: Number(m[3]) / 1000 };
}
