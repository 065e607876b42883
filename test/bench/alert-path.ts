// Alert-opening ingest on the test store (KEEPWATCH_TEST_STORE=postgres for PostgreSQL): 1,000
// events in one request that each open an alert through a rule (the regex-linear shape), and 200
// single-event requests sent at once (one group commit, one alert each); wall time per round.
// Standalone: KEEPWATCH_TEST_STORE=postgres bun test/bench/alert-path.ts
import { startTestServer } from "../helpers";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const s = await startTestServer();
try {
  const r = await s.admin("POST", "/v1/rules", { name: "each", filter: { field: "type", op: "eq", value: "x.hit" }, action: { kind: "alert", title: "hit {{payload.n}}", severity: "high", fingerprint: ["payload.n"] } });
  if (r.status !== 201) throw new Error(`rule: ${r.status}`);
  const big: number[] = [], small: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let t = performance.now();
    const a = await s.post("/api/v1/events", Array.from({ length: 1000 }, (_, n) => ({ type: "x.hit", source: "x", payload: { n: `${round}-${n}` } })));
    if (a.status !== 202) throw new Error(`ingest: ${a.status}`);
    big.push(performance.now() - t);
    t = performance.now();
    const rs = await Promise.all(Array.from({ length: 200 }, (_, n) => s.post("/api/v1/events", { type: "x.hit", source: "x", payload: { n: `s${round}-${n}` } })));
    if (rs.some((x) => x.status !== 202)) throw new Error("ingest failed");
    small.push(performance.now() - t);
  }
  const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(`# alert path on ${process.env.KEEPWATCH_TEST_STORE ?? "sqlite"}: 1,000 alert-opening events in one request: ${f(big)} ms; 200 single-event requests at once: ${f(small)} ms`);
} finally {
  await s.close();
}
