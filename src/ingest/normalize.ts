// Normalization of one ingest request: UTF-8 and JSON (400 with the position), per-item
// validation (422 naming every bad item; nothing stored), the source plugin's normalize, and the
// indicator passes. Runs on the writer thread (writer-thread.ts), in front of the group commit, so
// the HTTP thread only authenticates, reads the bytes and checks the signature. Free of Elysia and
// of thread plumbing: tests and tools call it directly.
import type { Db } from "../db/client";
import type { NormalizedEvent } from "../core/event";
import { runPasses, type CompiledMapping } from "../core/indicator-mappings";
import { ApiError, unprocessable, type ErrorDetail } from "../http/errors";
import { newId } from "../lib/ids";
import { getSource, guessSource, routeOf } from "../sources/registry";
import type { SourcePlugin } from "../sources/types";
import type { IngestBatch } from "../store/events";
import { mappingCacheOf } from "../store/indicators";
import { parseJsonBody } from "./body";
import { isUnstorable, storableText } from "../core/text";
import { arrayItemTexts } from "./raw-items";

/** An ingest request as the HTTP thread hands it over: authenticated, within limits, signature checked. */
export type RawIngest = {
  tenantId: string;
  route: string;
  idempotencyKey: string | null;
  /** the source plugin's name */
  source: string;
  body: Uint8Array;
  /** when the request arrived (the HTTP thread's clock): received_at, and occurred_at when the item has none */
  now: number;
};

/**
 * Where the tenant's custom indicator mappings come from: the SQLite connection's mapping cache
 * (`db`), or the mappings already read for this request (`mappings`: the PostgreSQL writer reads
 * them from the store before it normalizes, since normalization itself is synchronous).
 */
export type NormalizeOptions = { db?: Db; mappings?: CompiledMapping[]; maxItems: number; now: number };

/** Parses and normalizes a raw request into the batch the writer commits; throws ApiError (400, 422). */
export function normalizeRequest(db: Db, r: RawIngest, maxItems: number): IngestBatch {
  return normalizeWith({ db, maxItems, now: r.now }, r);
}

/** normalizeRequest with the mappings given (see NormalizeOptions). */
export function normalizeWith(o: NormalizeOptions, r: RawIngest): IngestBatch {
  const plugin = getSource(r.source);
  if (!plugin) throw new ApiError(404, "not_found", `unknown source "${r.source}"`);
  const { value, text } = parseJsonBody(r.body);
  const events = normalizeAll(o, plugin, value, r.tenantId, text);
  return { tenantId: r.tenantId, route: r.route, idempotencyKey: r.idempotencyKey, events };
}

/** Splits, validates and normalizes every item; throws 422 listing every bad item (nothing is stored). */
export function normalizeAll(o: NormalizeOptions, plugin: SourcePlugin, body: unknown, tenantId: string, bodyText?: string): NormalizedEvent[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) throw unprocessable("the request holds no items: send an object or a non-empty array", [{ path: "", message: "empty array" }]);
  if (items.length > o.maxItems)
    throw unprocessable(`too many items in one request: ${items.length} (at most ${o.maxItems})`, [{ path: "", message: `at most ${o.maxItems} items` }]);
  const details: ErrorDetail[] = [];
  const multi = Array.isArray(body);
  let droppedTenant = false;
  const tenantDropped = new Set<unknown>();
  items.forEach((item, index) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      details.push({ index, path: "", message: `must be a JSON object, got ${item === null ? "null" : Array.isArray(item) ? "an array" : typeof item}` });
      return;
    }
    // The tenant is the key's, never the body's.
    if ("tenant_id" in item) {
      delete (item as Record<string, unknown>).tenant_id;
      droppedTenant = true;
      tenantDropped.add(item);
    }
    for (const i of plugin.validate(item)) details.push({ index, ...i });
  });
  if (details.length) {
    const bad = new Set(details.map((d) => d.index)).size;
    const first = details[0];
    const other = guessSource(items[first.index ?? 0], plugin.name);
    throw unprocessable(
      `${bad} of ${items.length} item${items.length === 1 ? "" : "s"} ${bad === 1 ? "is" : "are"} invalid for source "${plugin.name}"; nothing was stored` +
        (first ? ` (${multi ? `item ${first.index} ` : ""}${first.path || "(root)"}: ${first.message})` : "") +
        (other ? `. This looks like a payload for the "${other.name}" source: send it to ${routeOf(other)}` : ""),
      details.slice(0, 100),
    );
  }
  const now = o.now;
  const units = plugin.expand ? items.flatMap((i) => plugin.expand!(i)) : items;
  if (units.length > o.maxItems)
    throw unprocessable(`too many events in one request: ${units.length} (at most ${o.maxItems})`, [{ path: "", message: `at most ${o.maxItems} events` }]);
  // A single object that is the whole body is kept byte for byte as the sender wrote it (without
  // the white space around it, which is not part of the item).
  const wholeBody = bodyText !== undefined && units.length === 1 && units[0] === body && !droppedTenant ? bodyText.trim() : null;
  // Each item of an array body likewise (an item a source splits into several events, or one
  // whose tenant_id was dropped, is stored as it was parsed).
  const itemText = new Map<unknown, string>();
  if (wholeBody === null && multi && bodyText !== undefined) {
    const texts = arrayItemTexts(bodyText);
    if (texts && texts.length === items.length) items.forEach((it, i) => !tenantDropped.has(it) && itemText.set(it, texts[i]));
  }
  // Custom indicator mappings of this tenant for this source, from a cache (no query per request).
  const mappings = o.mappings ?? mappingCacheOf(o.db!).forSource(o.db!, tenantId, plugin.name);
  return units.map((item) => {
    const n = plugin.normalize(item, now);
    const rawJson = wholeBody ?? itemText.get(item) ?? JSON.stringify(item);
    // the event's text with U+FFFD for NUL and unpaired surrogates, on both stores (src/core/text.ts);
    // the payload and the raw JSON are JSON text, where those can only be ASCII escapes
    const t = storableText;
    return {
      id: newId(now),
      tenantId,
      receivedAt: now,
      occurredAt: n.occurredAt ?? now,
      sourceName: plugin.name,
      source: t(n.source),
      type: t(n.type),
      module: t(n.module),
      title: t(n.title),
      summary: t(n.summary),
      severity: n.severity,
      severityRaw: t(n.severityRaw),
      host: t(n.host),
      tags: n.tags.map((x) => t(x)),
      payloadJson: n.payload === item ? rawJson : JSON.stringify(n.payload ?? null),
      rawJson,
      dedupKey: t(n.dedupKey),
      externalId: t(n.externalId),
      // explicit + system + custom passes, merged by (type, value); invalid extracted values dropped
      indicators: storableIndicators(runPasses(n.indicators, n, item, mappings).indicators),
      warnings: n.warnings.map((x) => t(x)),
      resolve: n.resolve,
      opensAlert: plugin.kind === "alert",
    };
  });
}

/** Indicators with storable values (U+FFFD for NUL and unpaired surrogates), still one per (type, value). */
function storableIndicators<I extends { type: string; value: string }>(list: I[]): I[] {
  if (!list.some((i) => isUnstorable(i.value))) return list;
  const seen = new Set<string>();
  const out: I[] = [];
  for (const i of list) {
    const value = storableText(i.value);
    const k = i.type + "\u0000" + value;
    if (!seen.has(k)) seen.add(k), out.push(value === i.value ? i : { ...i, value });
  }
  return out;
}
