// The watchlists API's logic: entry validation (every bad entry named by its index), CRUD.
import type { Deps } from "../../deps";
import { canonicalEntry, LABEL_RE, type WatchlistEntry } from "../../core/enrich";
import { ApiError, notFound, type ErrorDetail } from "../../http/errors";
import { newId } from "../../lib/ids";
import { iso } from "../../lib/time";
import type { WatchlistRow } from "../../store/watchlists";
import type { WatchlistCreate, WatchlistUpdate } from "./model";

const invalid = (message: string, details: ErrorDetail[]) => new ApiError(422, "invalid_body", message, details);

/** Canonical entries, de-duplicated; every invalid one is reported (up to 50) and nothing is stored. */
function checkEntries(entries: WatchlistCreate["entries"]): WatchlistEntry[] {
  const out: WatchlistEntry[] = [];
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  entries.forEach((e, i) => {
    const r = canonicalEntry(e.kind, e.value);
    if ("error" in r) {
      details.push({ index: i, path: `/entries/${i}/value`, message: r.error });
      return;
    }
    const k = `${e.kind}\u0000${r.value}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ kind: e.kind, value: r.value, ...(e.comment ? { comment: e.comment } : {}) });
  });
  if (details.length)
    throw invalid(`${details.length} invalid entr${details.length === 1 ? "y" : "ies"}: entries/${details[0].index}: ${details[0].message}`, details.slice(0, 50));
  return out;
}

function checkLabel(label: string): string {
  if (!LABEL_RE.test(label))
    throw invalid("label: use letters, digits, . _ - (it becomes the tag watchlist:<label>)", [{ path: "/label", message: "letters, digits, . _ - only, starting with a letter or digit" }]);
  return label;
}

async function checkName(deps: Deps, tenantId: string, name: string, self?: string): Promise<void> {
  const other = await deps.store.watchlists.watchlistByName(tenantId, name);
  if (other && other.id !== self) throw new ApiError(409, "conflict", `a watchlist named "${name}" exists (${other.id})`, [{ path: "/name", message: "already used" }]);
}

function summary(w: WatchlistRow) {
  return {
    id: w.id,
    name: w.name,
    label: w.label,
    tag: `watchlist:${w.label}`,
    severity: w.severity,
    active: !!w.active,
    entry_count: (JSON.parse(w.entries) as unknown[]).length,
    created_at: iso(w.createdAt),
    updated_at: iso(w.updatedAt),
  };
}

export const view = (w: WatchlistRow) => ({ ...summary(w), entries: JSON.parse(w.entries) as WatchlistEntry[] });

async function load(deps: Deps, tenantId: string, id: string): Promise<WatchlistRow> {
  const w = await deps.store.watchlists.getWatchlist(tenantId, id);
  if (!w) throw notFound(`no watchlist ${id}`);
  return w;
}

export async function create(deps: Deps, tenantId: string, b: WatchlistCreate) {
  const now = deps.clock();
  const label = checkLabel(b.label ?? b.name);
  const entries = checkEntries(b.entries);
  await checkName(deps, tenantId, b.name);
  const row: WatchlistRow = {
    id: "wl_" + newId(now),
    tenantId,
    name: b.name,
    label,
    severity: b.severity ?? null,
    active: b.active === false ? 0 : 1,
    entries: JSON.stringify(entries),
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.watchlists.insertWatchlist(row);
  return view(row);
}

export const list = async (deps: Deps, tenantId: string) => ({ items: (await deps.store.watchlists.listWatchlists(tenantId)).map(summary) });
export const get = async (deps: Deps, tenantId: string, id: string) => view(await load(deps, tenantId, id));

export async function update(deps: Deps, tenantId: string, id: string, b: WatchlistUpdate) {
  const w = await load(deps, tenantId, id);
  const row: WatchlistRow = { ...w, updatedAt: deps.clock() };
  if (b.label !== undefined) row.label = checkLabel(b.label);
  if (b.entries !== undefined) row.entries = JSON.stringify(checkEntries(b.entries));
  if (b.name !== undefined) {
    await checkName(deps, tenantId, b.name, id);
    row.name = b.name;
  }
  if (b.severity !== undefined) row.severity = b.severity;
  if (b.active !== undefined) row.active = b.active ? 1 : 0;
  if (!(await deps.store.watchlists.updateWatchlist(row))) throw notFound(`no watchlist ${id}`);
  return view(row);
}

export async function remove(deps: Deps, tenantId: string, id: string): Promise<void> {
  if (!(await deps.store.watchlists.deleteWatchlist(tenantId, id))) throw notFound(`no watchlist ${id}`);
}
