// Sharing the writer between tenants: which waiting requests go into the next group commit.
// Pure (no thread plumbing), so tests call it directly.
//
// Deficit round robin over per-tenant queues: for each group, every tenant with requests waiting
// earns TENANT_QUANTUM items of credit and commits its oldest requests while its credit covers
// them. A tenant whose next request is bigger than its credit waits a group or more (keeping the
// credit), so one tenant's backlog of 1,000-item batches never delays another tenant's single
// event by more than the group being committed when it arrives. When nobody's credit covers its
// next request, everybody earns more at once: with one tenant alone, each of its requests is
// committed as soon as it is the oldest, so nothing is slower than plain group commit.
import type { WriterItem } from "./writer-thread";

/** Items of credit each waiting tenant earns per group. */
export const TENANT_QUANTUM = 250;

/**
 * Takes the next group out of `from` (tenant → its requests, oldest first), updating each tenant's
 * credit in `credit`. Never returns an empty group while something waits.
 */
export function takeGroup(from: Map<string, WriterItem[]>, credit: Map<string, number> = new Map(), quantum = TENANT_QUANTUM): WriterItem[] {
  const out: WriterItem[] = [];
  if (!from.size) return out;
  const tenants = [...from.keys()];
  for (const t of credit.keys()) if (!from.has(t)) credit.delete(t);
  while (!out.length) {
    for (const t of tenants) {
      const q = from.get(t)!;
      let c = (credit.get(t) ?? 0) + quantum;
      let k = 0;
      while (k < q.length && (q[k].items ?? 1) <= c) c -= q[k++].items ?? 1;
      for (let i = 0; i < k; i++) out.push(q[i]);
      if (k === q.length) {
        // nothing left waiting: no credit is kept for later
        from.delete(t);
        credit.delete(t);
      } else {
        if (k) from.set(t, q.slice(k));
        credit.set(t, c);
      }
    }
  }
  return out;
}
