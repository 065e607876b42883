import type { Deps } from "../../deps";
import { SEVERITY_RANK } from "../../core/severity";
import { notFound } from "../../http/errors";
import { checkCursor, page, timeParam } from "../../http/paging";
import { RawJson } from "../../http/raw-json";
import { iso } from "../../lib/time";
import type { EventRow } from "../../store/events";
import type { EventQuery } from "./model";

function summary(r: EventRow) {
  return {
    id: r.id,
    received_at: iso(r.receivedAt),
    occurred_at: iso(r.occurredAt),
    source_name: r.sourceName,
    source: r.source,
    type: r.type,
    module: r.module,
    title: r.title,
    summary: r.summary,
    severity: r.severity,
    severity_raw: r.severityRaw,
    host: r.host,
    tags: JSON.parse(r.tags) as string[],
    dedup_key: r.dedupKey,
    warnings: r.warnings ? (JSON.parse(r.warnings) as string[]) : [],
  };
}

/** How long a search waits for the background indexer to take in the newest events (src/store/search.ts). */
export const SEARCH_WAIT_MS = 1000;

export async function list(deps: Deps, tenantId: string, q: EventQuery) {
  const limit = q.limit ?? 50;
  // Events are indexed shortly after they are committed: a search first lets the indexer catch up
  // with everything committed before it (a few ms at normal load; at most SEARCH_WAIT_MS, then it
  // answers from the index as it is, which can only miss the newest events). SQLite only: on
  // PostgreSQL the insert itself writes the search column, and there is no checkpointer thread.
  if (q.q && deps.sqlite) await deps.sqlite.checkpointer.searchReady(SEARCH_WAIT_MS);
  const rows = await deps.store.events.listEvents(tenantId, {
    sourceName: q.source_name,
    source: q.source,
    type: q.type,
    minSeverityRank: q.severity ? SEVERITY_RANK[q.severity] : undefined,
    since: timeParam("since", q.since),
    until: timeParam("until", q.until),
    text: q.q,
    before: checkCursor(q.cursor),
    after: checkCursor(q.after),
    limit: limit + 1,
  });
  // walking upwards, the extra row is the newest one: drop it and keep the page next to `after`
  if (q.after && rows.length > limit) rows.shift();
  return page(rows, limit, summary);
}

export async function detail(deps: Deps, tenantId: string, id: string) {
  const r = await deps.store.events.getEvent(tenantId, id);
  if (!r) throw notFound(`no event ${id}`);
  return {
    ...summary(r),
    payload: JSON.parse(r.payload),
    // the stored text as the sender wrote it (answered through rawJsonResponse)
    raw_payload: new RawJson(r.rawPayload),
    indicators: await deps.store.events.eventIndicatorsOf(r.id),
  };
}
