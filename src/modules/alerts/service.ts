import type { Static } from "elysia";
import type { Deps } from "../../deps";
import { allowedNext, canTransition, type AlertStatus } from "../../core/alerts";
import { SEVERITY_RANK, type Severity } from "../../core/severity";
import { ApiError, notFound } from "../../http/errors";
import { checkCursor, page, timeParam } from "../../http/paging";
import { rawJson } from "../../http/raw-json";
import { iso } from "../../lib/time";
import { alertView, type AlertRow, type TimelineRow } from "../../store/alerts";
import type { AlertPatchBody, AlertQuery } from "./model";

export const summary = alertView;

const timeline = (r: TimelineRow) => ({ id: r.id, at: iso(r.at), kind: r.kind, actor: r.actor, data: JSON.parse(r.data) });

/** `extra`: filters the admin page adds (alerts not closed, assignee, last seen before). */
export async function list(deps: Deps, tenantId: string, q: Static<typeof AlertQuery>, extra: { notClosed?: boolean; assignee?: string; until?: number } = {}) {
  const limit = q.limit ?? 50;
  const rows = await deps.store.alerts.listAlerts(tenantId, {
    ...extra,
    status: q.status,
    minSeverityRank: q.severity ? SEVERITY_RANK[q.severity] : undefined,
    sourceName: q.source_name,
    source: q.source,
    ruleId: q.rule,
    since: timeParam("since", q.since),
    text: q.q,
    before: checkCursor(q.cursor),
    limit: limit + 1,
  });
  return page(rows, limit, summary);
}

async function mustGet(deps: Deps, tenantId: string, id: string): Promise<AlertRow> {
  const a = await deps.store.alerts.getAlert(tenantId, id);
  if (!a) throw notFound(`no alert ${id}`);
  return a;
}

export async function detail(deps: Deps, tenantId: string, id: string) {
  const a = await mustGet(deps, tenantId, id);
  const raw = await deps.store.alerts.rawPayloadOfEvent(a.firstEventId);
  return {
    ...summary(a),
    // the stored text as the sender wrote it (answered through rawJsonResponse)
    raw_payload: rawJson(raw),
    events: (await deps.store.alerts.alertEventsOf(a.id)).map((e) => ({
      id: e.id,
      title: e.title,
      severity: e.severity,
      received_at: iso(e.receivedAt),
      source: e.source,
      source_name: e.sourceName,
      type: e.type,
    })),
    timeline: (await deps.store.alerts.timelineOf(a.id)).map(timeline),
    enrichment: (await deps.store.enrichment.enrichmentOf(a.id)).map((e) => ({ ...e, updated_at: iso(e.updated_at) })),
  };
}

export async function patch(deps: Deps, tenantId: string, id: string, body: Static<typeof AlertPatchBody>, actor: string) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const a = await mustGet(deps, tenantId, id);
    const to = body.status as AlertStatus | undefined;
    if (to !== undefined && to !== a.status && !canTransition(a.status as AlertStatus, to))
      throw new ApiError(409, "invalid_transition", `an alert that is ${a.status} can go to ${allowedNext(a.status as AlertStatus).join(" or ")}, not ${to}`, [
        { path: "/status", message: `not allowed from ${a.status}` },
      ]);
    if (to === "closed" && a.status !== "closed" && !body.classification)
      throw new ApiError(422, "invalid_body", "closing an alert needs a classification", [
        { path: "/classification", message: "is required when status is closed" },
      ]);
    if (body.classification && to !== "closed" && a.status !== "closed")
      throw new ApiError(422, "invalid_body", "a classification is given when closing an alert", [
        { path: "/classification", message: "only with status closed" },
      ]);
    const now = deps.clock();
    // the outbound message commits with the change (transactional outbox, in the store's unit)
    if (await deps.store.alerts.updateAlert(a, { status: to, classification: body.classification, assignee: body.assignee }, actor, now))
      return detail(deps, tenantId, id);
  }
  throw new ApiError(409, "conflict", "the alert kept changing while it was updated; retry");
}

export async function comment(deps: Deps, tenantId: string, id: string, body: string, actor: string) {
  const a = await mustGet(deps, tenantId, id);
  return timeline(await deps.store.alerts.addComment(a.id, body, actor, deps.clock()));
}
