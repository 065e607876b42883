// The heartbeat status bar against a brute-force model: seeded random flip histories, the state
// sampled every second of each period, the worst one kept. Seed printed; replay with KW_SEED.
import { expect, test } from "bun:test";
import { periodBar, type Flip } from "../../src/core/heartbeat-bars";

const RANK: Record<string, number> = { none: 0, new: 1, paused: 2, up: 3, late: 4, down: 5 };

function model(flips: Flip[], state: string, createdAt: number, p: number, now: number, n: number): string[] {
  const fs = [...flips].sort((a, b) => a.at - b.at);
  const stateAt = (t: number) => {
    let s = fs.length ? fs[0].from : state;
    for (const f of fs) if (f.at <= t) s = f.to;
    return s;
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const start = now - (n - i) * p;
    const end = start + p;
    if (end <= createdAt) {
      out.push("none");
      continue;
    }
    let worst = stateAt(start);
    // every flip instant inside the period, and each second (the periods here are short)
    for (let t = start + 1; t < end; t += 1000) if (RANK[stateAt(t)] > RANK[worst]) worst = stateAt(t);
    for (const f of fs) if (f.at > start && f.at < end && RANK[f.to] > RANK[worst]) worst = f.to;
    out.push(worst);
  }
  return out;
}

test("periodBar equals the brute-force model on random flip histories (seeded)", () => {
  const seed = Number(process.env.KW_SEED ?? Date.now() % 1_000_000);
  console.log(`heartbeat bars seed ${seed} (replay with KW_SEED=${seed})`);
  let a = seed >>> 0;
  const rnd = () => ((a = (a + 0x6d2b79f5) >>> 0), ((Math.imul(a ^ (a >>> 15), 1 | a) ^ (a >>> 7)) >>> 0) / 4294967296);
  const NEXT: Record<string, string[]> = { new: ["up", "paused"], up: ["late", "down", "paused"], late: ["up", "down", "paused"], down: ["up", "paused"], paused: ["new", "up"] };
  for (let run = 0; run < 300; run++) {
    const p = (5 + Math.floor(rnd() * 60)) * 1000;
    const now = 1_800_000_000_000;
    const createdAt = now - Math.floor(rnd() * 40 * p);
    const flips: Flip[] = [];
    let st = "new";
    let t = createdAt;
    const count = Math.floor(rnd() * 40);
    for (let i = 0; i < count; i++) {
      t += Math.floor(rnd() * 2 * p);
      if (t > now) break;
      const to = NEXT[st][Math.floor(rnd() * NEXT[st].length)];
      flips.push({ at: t, from: st, to });
      st = to;
    }
    const shuffled = flips.sort(() => rnd() - 0.5);
    const got: string[] = periodBar(shuffled, st, createdAt, p, now, 30);
    expect({ run, got }).toEqual({ run, got: model(flips, st, createdAt, p, now, 30) });
    expect(got.length).toBe(30);
  }
});

test("a heartbeat made this period shows one cell; one with no flips shows its state", () => {
  const now = 1_800_000_000_000;
  expect<string[]>(periodBar([], "new", now - 10, 60_000, now, 3)).toEqual(["none", "none", "new"]);
  expect<string[]>(periodBar([], "paused", now - 10 * 60_000, 60_000, now, 3)).toEqual(["paused", "paused", "paused"]);
});
