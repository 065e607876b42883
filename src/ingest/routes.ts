// The write path: POST /api/v1/events and POST /v1/ingest/:source.
// On this (the HTTP) thread: auth (key or URL token) → rate limit → content type → body size →
// signature on the raw bytes. On the writer thread (normalize.ts, writer-thread.ts): UTF-8, JSON →
// per-item validation → normalization → group commit → 202 {accepted, ids}. A batch is all-or-nothing.
import { Elysia } from "elysia";
import type { Deps } from "../deps";
import { ApiError, json, notFound } from "../http/errors";
import { alertSourceNames, connectorNames, getSource } from "../sources/registry";
import type { SourcePlugin } from "../sources/types";
import { isJsonContentType, readBody } from "./body";
import { countItems } from "./work";
import { INGEST_SECURITY } from "../http/openapi";

const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

export async function ingest(deps: Deps, req: Request, plugin: SourcePlugin, route: string): Promise<Response> {
  const t0 = performance.now();
  let res: Response;
  try {
    res = await ingestOnce(deps, req, plugin, route);
  } catch (e) {
    // answered 500 by the app's error mapping: counted too
    deps.metrics.ingestRequests.inc({ route, status: 500 });
    throw e;
  }
  deps.metrics.ingestRequests.inc({ route, status: res.status });
  deps.metrics.ingestDuration.observe({ route }, (performance.now() - t0) / 1000);
  return res;
}

async function ingestOnce(deps: Deps, req: Request, plugin: SourcePlugin, route: string): Promise<Response> {
  try {
    // an API key (headers) or the source's URL token (?token=)
    const principal = await deps.auth.authorizeIngest(req, plugin.name);
    if (!isJsonContentType(req.headers.get("content-type")))
      throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json (in UTF-8)", [
        { path: "", message: `got ${JSON.stringify(req.headers.get("content-type") ?? "(none)")}` },
      ]);
    const idem = req.headers.get("idempotency-key");
    if (idem !== null && !IDEMPOTENCY_KEY_RE.test(idem))
      throw new ApiError(400, "bad_request", "Idempotency-Key must be 1-255 printable ASCII characters");
    const bytes = await readBody(req, deps.config.bodyLimit, { timeoutMs: deps.config.bodyTimeout, log: deps.log });
    // the tenant's signature scheme for this source, checked on the raw bytes before parsing
    await deps.auth.checkSignature(principal.tenantId, plugin.name, req.headers, bytes);
    // the limits count work: the request's items and bytes, for its key and its tenant (429 when short)
    const items = countItems(bytes);
    deps.auth.chargeWork(principal, items, bytes.byteLength);
    // parsed, validated and normalized on the writer thread (normalize.ts), then group-committed
    const ids = await deps.writer.submitRaw({
      tenantId: principal.tenantId,
      route,
      idempotencyKey: idem,
      source: plugin.name,
      body: bytes,
      now: deps.clock(),
    }, items);
    return json(202, { accepted: ids.length, ids });
  } catch (e) {
    if (e instanceof ApiError) return e.toResponse();
    throw e;
  }
}

export function ingestRoutes(deps: Deps) {
  const envelope = getSource("events")!;
  return new Elysia({ name: "ingest" })
    .post("/api/v1/events", ({ request }) => ingest(deps, request, envelope, "/api/v1/events"), {
      parse: "none",
      detail: { summary: "Send events (the event envelope), one object or an array", tags: ["ingest"], security: INGEST_SECURITY },
    })
    .post(
      "/v1/ingest/:source",
      ({ request, params }) => {
        const plugin = getSource(params.source);
        if (!plugin || plugin.kind !== "alert")
          return notFound(`unknown source "${params.source}"; known sources: ${alertSourceNames().join(", ")}`).toResponse();
        return ingest(deps, request, plugin, `/v1/ingest/${plugin.name}`);
      },
      { parse: "none", detail: { summary: "Send alerts from a source plugin, one object or an array", tags: ["ingest"], security: INGEST_SECURITY } },
    )
    .post(
      "/api/v1/webhooks/:connector",
      ({ request, params }) => {
        const plugin = getSource(params.connector);
        if (!plugin || plugin.kind !== "connector")
          return notFound(`unknown connector "${params.connector}"; known connectors: ${connectorNames().join(", ")}`).toResponse();
        return ingest(deps, request, plugin, `/api/v1/webhooks/${plugin.name}`);
      },
      { parse: "none", detail: { summary: "Custom telemetry through a connector, one object or an array", tags: ["ingest"], security: INGEST_SECURITY } },
    );
}
