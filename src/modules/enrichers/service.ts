// The HTTP lookup enrichers API's logic: template and target checks, CRUD.
import { isIP } from "node:net";
import type { Deps } from "../../deps";
import { templateProblem } from "../../core/enrich";
import { parseAllowList, refusedReason } from "../../core/netrange";
import { ApiError, notFound } from "../../http/errors";
import { newId } from "../../lib/ids";
import { iso } from "../../lib/time";
import type { EnricherRow } from "../../store/enrichment-lookups";
import { parseHeaders } from "../webhooks/service";
import type { EnricherCreate, EnricherUpdate } from "./model";

const invalid = (path: string, message: string) => new ApiError(422, "invalid_body", `${path.slice(1)}: ${message}`, [{ path, message }]);

/**
 * The template must be http(s) with {{value}} outside the host. A literal IP host in a refused
 * range is refused now; names are resolved and checked on every lookup (like webhooks).
 */
function checkTemplate(deps: Deps, tpl: string): string {
  const why = templateProblem(tpl);
  if (why) throw invalid("/url_template", why);
  const u = new URL(tpl.replace(/\{\{\s*(value|type)\s*\}\}/g, "x"));
  if (u.username || u.password) throw invalid("/url_template", "credentials in the URL are not allowed; use a header");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const refused = refusedReason(host, parseAllowList(deps.config.outboundAllow));
    if (refused) throw invalid("/url_template", `${refused}; list it in KEEPWATCH_OUTBOUND_ALLOW to allow it`);
  }
  return tpl;
}

async function checkName(deps: Deps, tenantId: string, name: string, self?: string): Promise<void> {
  const other = await deps.store.enrichmentLookups.enricherByName(tenantId, name);
  if (other && other.id !== self) throw new ApiError(409, "conflict", `an enricher named "${name}" exists (${other.id})`, [{ path: "/name", message: "already used" }]);
}

export const view = (e: EnricherRow) => ({
  id: e.id,
  name: e.name,
  indicator_types: JSON.parse(e.indicatorTypes) as string[],
  url_template: e.urlTemplate,
  headers: JSON.parse(e.headers) as Record<string, string>,
  timeout: e.timeoutMs / 1000,
  active: !!e.active,
  created_at: iso(e.createdAt),
  updated_at: iso(e.updatedAt),
});

async function load(deps: Deps, tenantId: string, id: string): Promise<EnricherRow> {
  const e = await deps.store.enrichmentLookups.getEnricher(tenantId, id);
  if (!e) throw notFound(`no enricher ${id}`);
  return e;
}

export async function create(deps: Deps, tenantId: string, b: EnricherCreate) {
  const now = deps.clock();
  const row: EnricherRow = {
    id: "enr_" + newId(now),
    tenantId,
    name: b.name,
    indicatorTypes: JSON.stringify(b.indicator_types),
    urlTemplate: checkTemplate(deps, b.url_template),
    headers: JSON.stringify(parseHeaders(b.headers ?? {})),
    timeoutMs: Math.round((b.timeout ?? 5) * 1000),
    active: b.active === false ? 0 : 1,
    createdAt: now,
    updatedAt: now,
  };
  await checkName(deps, tenantId, b.name);
  await deps.store.enrichmentLookups.insertEnricher(row);
  return view(row);
}

export const list = async (deps: Deps, tenantId: string) => ({ items: (await deps.store.enrichmentLookups.listEnrichers(tenantId)).map(view) });
export const get = async (deps: Deps, tenantId: string, id: string) => view(await load(deps, tenantId, id));

export async function update(deps: Deps, tenantId: string, id: string, b: EnricherUpdate) {
  const e = await load(deps, tenantId, id);
  const row: EnricherRow = { ...e, updatedAt: deps.clock() };
  if (b.url_template !== undefined) row.urlTemplate = checkTemplate(deps, b.url_template);
  if (b.headers !== undefined) row.headers = JSON.stringify(parseHeaders(b.headers));
  if (b.indicator_types !== undefined) row.indicatorTypes = JSON.stringify(b.indicator_types);
  if (b.timeout !== undefined) row.timeoutMs = Math.round(b.timeout * 1000);
  if (b.active !== undefined) row.active = b.active ? 1 : 0;
  if (b.name !== undefined) {
    await checkName(deps, tenantId, b.name, id);
    row.name = b.name;
  }
  if (!(await deps.store.enrichmentLookups.updateEnricher(row))) throw notFound(`no enricher ${id}`);
  return view(row);
}

export async function remove(deps: Deps, tenantId: string, id: string): Promise<void> {
  if (!(await deps.store.enrichmentLookups.deleteEnricher(tenantId, id))) throw notFound(`no enricher ${id}`);
}

/** POST /v1/alerts/:id/enrich: back to pending with a new job (409 while one is on it). */
export async function enrichAgain(deps: Deps, tenantId: string, alertId: string, actor: string) {
  if (!(await deps.store.alerts.getAlert(tenantId, alertId))) throw notFound(`no alert ${alertId}`);
  if (!(await deps.store.enrichment.requeueEnrichment(alertId, actor, deps.clock())))
    throw new ApiError(409, "conflict", `alert ${alertId} is being enriched already (enrichment_status pending)`);
  deps.enrichmentWorker.notify();
  return { id: alertId, enrichment_status: "pending" as const };
}
