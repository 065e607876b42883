// Sharing the writer between tenants: which waiting requests go into the next group commit.
// Pure (no thread plumbing), so tests call it directly.
import type { WriterItem } from "./writer-thread";

/**
 * Most items one tenant gets into one group commit (a request bigger than this goes alone). Each
 * group serves every tenant that has requests waiting, in turn: one tenant's backlog of big batches
 * never queues ahead of another tenant's single event, which goes into the next group.
 */
export const TENANT_GROUP_ITEMS = 1000;

/**
 * The next group: from every tenant with requests waiting, its oldest ones up to TENANT_GROUP_ITEMS
 * items (at least one request). A tenant with more left goes to the back of the turn order.
 */
export function takeGroup(from: Map<string, WriterItem[]>, cap = TENANT_GROUP_ITEMS): WriterItem[] {
  const out: WriterItem[] = [];
  const left: [string, WriterItem[]][] = [];
  for (const [t, q] of [...from]) {
    let n = 0;
    let k = 0;
    while (k < q.length && (k === 0 || n + (q[k].items ?? 1) <= cap)) n += q[k++].items ?? 1;
    for (let i = 0; i < k; i++) out.push(q[i]);
    from.delete(t);
    if (k < q.length) left.push([t, q.slice(k)]);
  }
  for (const [t, q] of left) from.set(t, q);
  return out;
}

