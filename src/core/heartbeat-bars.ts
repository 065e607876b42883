// The status bar of a heartbeat: its last N periods, oldest first, each the worst state it was in
// during that period (down > late > up), from its flip history. Pure: flips and times in, cells out.

export type BarCell = "up" | "late" | "down" | "paused" | "new" | "none";

const RANK: Record<string, number> = { none: 0, new: 1, paused: 2, up: 3, late: 4, down: 5 };

export type Flip = { at: number; from: string; to: string };

/**
 * `flips` in any order; `state` the current state; `createdAt` when the heartbeat was made (periods
 * before it are "none"); `periodMs` the length of one cell. A period shows the worst state the
 * heartbeat was in at any moment inside it.
 */
export function periodBar(flips: Flip[], state: string, createdAt: number, periodMs: number, now: number, n = 30): BarCell[] {
  const fs = [...flips].sort((a, b) => a.at - b.at);
  const cells: BarCell[] = [];
  const p = Math.max(1000, periodMs);
  for (let i = 0; i < n; i++) {
    const start = now - (n - i) * p;
    const end = start + p;
    if (end <= createdAt) {
      cells.push("none");
      continue;
    }
    // the state at the period's start: the `to` of the last flip before it, else the `from` of the
    // first flip after it, else the current state
    let at: string = state;
    const before = fs.filter((f) => f.at <= start);
    if (before.length) at = before[before.length - 1].to;
    else if (fs.length) at = fs[0].from;
    let worst = at;
    for (const f of fs) if (f.at > start && f.at < end && (RANK[f.to] ?? 0) > (RANK[worst] ?? 0)) worst = f.to;
    cells.push((worst in RANK ? worst : "none") as BarCell);
  }
  return cells;
}
