// Heartbeat pings: GET|POST|HEAD /ping/:token, /ping/:token/start, /fail, /log, /<exit code 0-255>.
// The token in the URL is the credential (for cron jobs and scripts that cannot set headers).
import { Elysia } from "elysia";
import type { Deps } from "../deps";
import { ApiError, notFound } from "../http/errors";
import type { PingWork } from "../store/events";
import { readBody } from "./body";
import { PUBLIC } from "../http/openapi";
import { requestAddress } from "../http/client-address";
import { isUnstorable, storableText } from "../core/text";

export const PING_BODY_KEEP = 10 * 1024;
const decoder = new TextDecoder("utf-8", { fatal: false });

async function handle(deps: Deps, req: Request, token: string, action: string | undefined, remote: string | null): Promise<Response> {
  try {
    let kind: PingWork["kind"];
    let exitCode: number | null = null;
    if (action === undefined) kind = "success";
    else if (action === "start" || action === "fail" || action === "log") kind = action;
    else if (/^\d{1,3}$/.test(action) && Number(action) <= 255) {
      exitCode = Number(action);
      kind = exitCode === 0 ? "success" : "fail";
    } else throw notFound(`unknown ping action "${action}" (use start, fail, log or an exit code 0-255)`);
    // no ping URL holds a NUL (PostgreSQL could not even be asked: src/core/text.ts)
    const h = isUnstorable(token) ? null : await deps.store.heartbeats.pingTarget(token);
    if (!h) throw notFound("no heartbeat with this ping URL");
    let body: string | null = null;
    // a POST's body is kept; one that some client sends with a GET or HEAD is ignored (Bun does not
    // hand it over), and the ping counts all the same: a ping is never refused for its shape
    if (req.method === "POST") {
      const bytes = await readBody(req, deps.config.bodyLimit, { timeoutMs: deps.config.bodyTimeout, log: deps.log });
      // kept as text on both stores: U+FFFD for a NUL (and, by the decoder, for bytes that are not UTF-8)
      if (bytes.byteLength) body = storableText(decoder.decode(bytes.subarray(0, PING_BODY_KEEP)));
    }
    // through the group-commit writer: pings share transactions (and fsyncs) with everything else
    await deps.writer.submit({
      tenantId: h.tenantId,
      route: "ping",
      idempotencyKey: null,
      events: [],
      ping: { heartbeatId: h.id, kind, exitCode, method: req.method, remote, body },
    });
    deps.heartbeats.arm();
    return new Response(req.method === "HEAD" ? null : "OK\n", { status: 200, headers: { "content-type": "text/plain" } });
  } catch (e) {
    if (e instanceof ApiError) return e.toResponse();
    throw e;
  }
}

export function pingRoutes(deps: Deps) {
  const remote = (server: { requestIP(r: Request): { address: string } | null } | null, req: Request) => requestAddress(deps.config, server, req);
  const one = { parse: "none" as const, detail: { summary: "Heartbeat ping (success); the token in the path is the credential", tags: ["heartbeats"], security: PUBLIC } };
  const two = { parse: "none" as const, detail: { summary: "Heartbeat ping: start, fail, log, or an exit code 0-255; the token in the path is the credential", tags: ["heartbeats"], security: PUBLIC } };
  const app = new Elysia({ name: "ping" })
    .get("/ping/:token", ({ request, params, server }) => handle(deps, request, params.token, undefined, remote(server, request)), one)
    .post("/ping/:token", ({ request, params, server }) => handle(deps, request, params.token, undefined, remote(server, request)), one)
    .head("/ping/:token", ({ request, params, server }) => handle(deps, request, params.token, undefined, remote(server, request)), one)
    .get("/ping/:token/:action", ({ request, params, server }) => handle(deps, request, params.token, params.action, remote(server, request)), two)
    .post("/ping/:token/:action", ({ request, params, server }) => handle(deps, request, params.token, params.action, remote(server, request)), two)
    .head("/ping/:token/:action", ({ request, params, server }) => handle(deps, request, params.token, params.action, remote(server, request)), two);
  return app;
}
