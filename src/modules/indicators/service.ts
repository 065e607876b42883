import type { Deps } from "../../deps";
import { compileMapping, parsePath, runPasses, type CompiledMapping } from "../../core/indicator-mappings";
import { INDICATOR_TYPES, isIndicatorType, normalizeIndicator, type IndicatorType } from "../../core/indicators";
import { ApiError, notFound } from "../../http/errors";
import { checkCursor, page } from "../../http/paging";
import { iso } from "../../lib/time";
import { getSource, listSources } from "../../sources/registry";
import { alertView } from "../../store/alerts";
import type { MappingRow } from "../../store/indicators";
import type { MappingBody, MappingPatch, MappingTest, PivotQuery } from "./model";

/** The most alerts the pivot lists (newest first). */
const PIVOT_ALERTS = 100;

export function view(r: MappingRow) {
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    path: r.path,
    type: r.type,
    active: r.active,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
  };
}

const invalid = (path: string, message: string) => new ApiError(422, "invalid_body", `${path.slice(1)} ${message}`, [{ path, message }]);

function checkSource(source: string | null | undefined, at = "/source") {
  if (source === null || source === undefined) return;
  if (!getSource(source))
    throw invalid(at, `is not a known source: "${source}"; known sources: ${listSources().map((s) => s.name).join(", ")}`);
}

function checkPath(path: string | undefined, at = "/path") {
  if (path === undefined) return;
  const p = parsePath(path);
  if ("error" in p) throw invalid(at, p.error);
}

export async function create(deps: Deps, tenantId: string, b: MappingBody) {
  checkSource(b.source);
  checkPath(b.path);
  const row = await deps.store.indicators.createMapping(
    { tenantId, name: b.name ?? null, source: b.source ?? null, path: b.path, type: b.type, active: b.active ?? true },
    deps.clock(),
  );
  return view(row);
}

async function mustGet(deps: Deps, tenantId: string, id: string): Promise<MappingRow> {
  const r = await deps.store.indicators.getMapping(tenantId, id);
  if (!r) throw notFound(`no indicator mapping ${id}`);
  return r;
}

export const get = async (deps: Deps, tenantId: string, id: string) => view(await mustGet(deps, tenantId, id));

export const list = async (deps: Deps, tenantId: string) => ({ items: (await deps.store.indicators.listMappings(tenantId)).map(view) });

export async function update(deps: Deps, tenantId: string, id: string, b: MappingPatch) {
  await mustGet(deps, tenantId, id);
  if (Object.keys(b).length === 0) throw new ApiError(422, "invalid_body", "nothing to change", [{ path: "", message: "empty body" }]);
  checkSource(b.source);
  checkPath(b.path);
  await deps.store.indicators.updateMapping(
    tenantId,
    id,
    {
      ...(b.name !== undefined && { name: b.name }),
      ...(b.source !== undefined && { source: b.source }),
      ...(b.path !== undefined && { path: b.path }),
      ...(b.type !== undefined && { type: b.type }),
      ...(b.active !== undefined && { active: b.active }),
    },
    deps.clock(),
  );
  return get(deps, tenantId, id);
}

export async function remove(deps: Deps, tenantId: string, id: string) {
  if (!(await deps.store.indicators.deleteMapping(tenantId, id))) throw notFound(`no indicator mapping ${id}`);
}

/**
 * Runs the three passes on a sample payload the way ingest would (validation, expansion into
 * events, normalization), with the tenant's active mappings plus an optional unsaved one. Stores
 * nothing. One result per event the payload would make.
 */
export async function test(deps: Deps, tenantId: string, b: MappingTest) {
  checkSource(b.source);
  const plugin = getSource(b.source)!;
  let extra: CompiledMapping | null = null;
  if (b.mapping) {
    checkSource(b.mapping.source, "/mapping/source");
    checkPath(b.mapping.path, "/mapping/path");
    extra = compileMapping({ name: b.mapping.name ?? null, source: b.mapping.source ?? null, path: b.mapping.path, type: b.mapping.type });
  }
  const issues = plugin.validate(b.payload);
  if (issues.length)
    throw new ApiError(
      422,
      "invalid_body",
      `payload is not a valid "${plugin.name}" item (/payload${issues[0].path}: ${issues[0].message})`,
      issues.map((i) => ({ path: "/payload" + i.path, message: i.message })),
    );
  const mappings = [...(await deps.store.indicators.mappingsForSource(tenantId, plugin.name))];
  if (extra && (extra.source === null || extra.source === plugin.name)) mappings.push(extra);
  const units = plugin.expand ? plugin.expand(b.payload) : [b.payload];
  const now = deps.clock();
  return {
    source: plugin.name,
    mappings_applied: mappings.map((m) => ({ id: m.id ?? null, name: m.name ?? null, source: m.source, path: m.path, type: m.type })),
    events: units.map((item) => {
      const n = plugin.normalize(item, now);
      const p = runPasses(n.indicators, n, item, mappings);
      const strip = (l: typeof p.system) => l.map((i) => ({ type: i.type, value: i.value, path: i.path }));
      return { explicit: strip(p.explicit), system: strip(p.system), custom: strip(p.custom), indicators: p.indicators, dropped: p.dropped };
    }),
  };
}

/** The canonical form of a (type, value) from the URL, or a 422 naming what is wrong. */
function canonical(type: string, value: string): { type: IndicatorType; value: string } {
  if (!isIndicatorType(type))
    throw new ApiError(422, "invalid_request", `unknown indicator type "${type}"; known types: ${INDICATOR_TYPES.join(", ")}`, [
      { path: "/type", message: `must be one of ${INDICATOR_TYPES.join(", ")}` },
    ]);
  const r = normalizeIndicator(type, value);
  if ("error" in r) throw new ApiError(422, "invalid_request", `invalid ${type}: ${r.error}`, [{ path: "/value", message: r.error }]);
  return { type, value: r.value };
}

export async function pivot(deps: Deps, tenantId: string, type: string, value: string, q: PivotQuery) {
  const c = canonical(type, value);
  const limit = q.limit ?? 50;
  const rows = await deps.store.indicators.eventsWithIndicator(tenantId, c.type, c.value, checkCursor(q.cursor), limit + 1);
  const events = page(rows, limit, (r) => ({
    id: r.id,
    received_at: iso(r.receivedAt),
    occurred_at: iso(r.occurredAt),
    source_name: r.sourceName,
    source: r.source,
    type: r.type,
    title: r.title,
    severity: r.severity,
    host: r.host,
    origin: r.origin,
  }));
  return {
    type: c.type,
    value: c.value,
    events: events.items,
    next_cursor: events.next_cursor,
    alerts: (await deps.store.indicators.alertsWithIndicator(tenantId, c.type, c.value, PIVOT_ALERTS)).map(alertView),
  };
}
