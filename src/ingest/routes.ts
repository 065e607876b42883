// The write path: POST /api/v1/events and POST /v1/ingest/:source.
// auth (key or URL token) → rate limit → content type → body size → signature on the raw bytes →
// UTF-8, JSON → per-item validation → normalization → group-commit writer → 202 {accepted, ids}. A batch is all-or-nothing.
import { Elysia } from "elysia";
import type { Deps } from "../deps";
import type { NormalizedEvent } from "../core/event";
import { ApiError, json, notFound, unprocessable, type ErrorDetail } from "../http/errors";
import { newId } from "../lib/ids";
import { alertSourceNames, connectorNames, getSource, guessSource, routeOf } from "../sources/registry";
import type { SourcePlugin } from "../sources/types";
import { runPasses } from "../core/indicator-mappings";
import { mappingCacheOf } from "../store/indicators";
import { isJsonContentType, parseJsonBody, readBody } from "./body";

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

export async function ingest(deps: Deps, req: Request, plugin: SourcePlugin, route: string): Promise<Response> {
  const t0 = performance.now();
  const res = await ingestOnce(deps, req, plugin, route);
  deps.metrics.ingestRequests.inc({ route, status: res.status });
  deps.metrics.ingestDuration.observe({ route }, (performance.now() - t0) / 1000);
  return res;
}

async function ingestOnce(deps: Deps, req: Request, plugin: SourcePlugin, route: string): Promise<Response> {
  try {
    // an API key (headers) or the source's URL token (?token=)
    const principal = deps.auth.authorizeIngest(req, plugin.name);
    if (!isJsonContentType(req.headers.get("content-type")))
      throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json", [
        { path: "", message: `got ${JSON.stringify(req.headers.get("content-type") ?? "(none)")}` },
      ]);
    const idem = req.headers.get("idempotency-key");
    if (idem !== null && !IDEMPOTENCY_KEY_RE.test(idem))
      throw new ApiError(400, "bad_request", "Idempotency-Key must be 1-255 printable ASCII characters");
    const bytes = await readBody(req, deps.config.bodyLimit);
    // the tenant's signature scheme for this source, checked on the raw bytes before parsing
    deps.auth.checkSignature(principal.tenantId, plugin.name, req.headers, bytes);
    const { value, text } = parseJsonBody(bytes);
    const events = normalizeAll(deps, plugin, value, principal.tenantId, text);
    const ids = await deps.writer.submit({ tenantId: principal.tenantId, route, idempotencyKey: idem, events });
    return json(202, { accepted: ids.length, ids });
  } catch (e) {
    if (e instanceof ApiError) return e.toResponse();
    throw e;
  }
}

/** Splits, validates and normalizes every item; throws 422 listing every bad item (nothing is stored). */
export function normalizeAll(deps: Deps, plugin: SourcePlugin, body: unknown, tenantId: string, bodyText?: string): NormalizedEvent[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) throw unprocessable("the request holds no items: send an object or a non-empty array", [{ path: "", message: "empty array" }]);
  if (items.length > deps.config.maxItems)
    throw unprocessable(`too many items in one request: ${items.length} (at most ${deps.config.maxItems})`, [
      { path: "", message: `at most ${deps.config.maxItems} items` },
    ]);
  const details: ErrorDetail[] = [];
  const multi = Array.isArray(body);
  let droppedTenant = false;
  items.forEach((item, index) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      details.push({ index, path: "", message: `must be a JSON object, got ${item === null ? "null" : Array.isArray(item) ? "an array" : typeof item}` });
      return;
    }
    // The tenant is the key's, never the body's.
    if ("tenant_id" in item) {
      delete (item as Record<string, unknown>).tenant_id;
      droppedTenant = true;
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
  const now = deps.clock();
  const units = plugin.expand ? items.flatMap((i) => plugin.expand!(i)) : items;
  if (units.length > deps.config.maxItems)
    throw unprocessable(`too many events in one request: ${units.length} (at most ${deps.config.maxItems})`, [
      { path: "", message: `at most ${deps.config.maxItems} events` },
    ]);
  // A single object that is the whole body is kept byte for byte as the sender wrote it.
  const wholeBody = bodyText !== undefined && units.length === 1 && units[0] === body && !droppedTenant ? bodyText : null;
  // Custom indicator mappings of this tenant for this source, from a cache (no query per request).
  const mappings = mappingCacheOf(deps.db).forSource(deps.db, tenantId, plugin.name);
  return units.map((item) => {
    const n = plugin.normalize(item, now);
    const rawJson = wholeBody ?? JSON.stringify(item);
    return {
      id: newId(now),
      tenantId,
      receivedAt: now,
      occurredAt: n.occurredAt ?? now,
      sourceName: plugin.name,
      source: n.source,
      type: n.type,
      module: n.module,
      title: n.title,
      summary: n.summary,
      severity: n.severity,
      severityRaw: n.severityRaw,
      host: n.host,
      tags: n.tags,
      payloadJson: n.payload === item ? rawJson : JSON.stringify(n.payload ?? null),
      rawJson,
      dedupKey: n.dedupKey,
      externalId: n.externalId,
      // explicit + system + custom passes, merged by (type, value); invalid extracted values dropped
      indicators: runPasses(n.indicators, n, item, mappings).indicators,
      warnings: n.warnings,
      resolve: n.resolve,
      opensAlert: plugin.kind === "alert",
    };
  });
}

export function ingestRoutes(deps: Deps) {
  const envelope = getSource("events")!;
  return new Elysia({ name: "ingest" })
    .post("/api/v1/events", ({ request }) => ingest(deps, request, envelope, "/api/v1/events"), {
      parse: "none",
      detail: { summary: "Send events (the event envelope), one object or an array", tags: ["ingest"] },
    })
    .post(
      "/v1/ingest/:source",
      ({ request, params }) => {
        const plugin = getSource(params.source);
        if (!plugin || plugin.kind !== "alert")
          return notFound(`unknown source "${params.source}"; known sources: ${alertSourceNames().join(", ")}`).toResponse();
        return ingest(deps, request, plugin, `/v1/ingest/${plugin.name}`);
      },
      { parse: "none", detail: { summary: "Send alerts from a source plugin, one object or an array", tags: ["ingest"] } },
    )
    .post(
      "/api/v1/webhooks/:connector",
      ({ request, params }) => {
        const plugin = getSource(params.connector);
        if (!plugin || plugin.kind !== "connector")
          return notFound(`unknown connector "${params.connector}"; known connectors: ${connectorNames().join(", ")}`).toResponse();
        return ingest(deps, request, plugin, `/api/v1/webhooks/${plugin.name}`);
      },
      { parse: "none", detail: { summary: "Custom telemetry through a connector, one object or an array", tags: ["ingest"] } },
    );
}
