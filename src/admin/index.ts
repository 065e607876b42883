// /admin: the server-rendered admin page. Mounted by src/app.ts with one `.use(adminModule(deps))`.
// Every response carries the security headers; every page needs a session; every POST needs the
// session's CSRF token. Pages call the same service/store functions as the JSON API.
import { isUnstorable, storableText, UNSTORABLE_MESSAGE } from "../core/text";
import { Elysia } from "elysia";
import type { Deps } from "../deps";
import { ApiError } from "../http/errors";
import { readBody } from "../ingest/body";
import css from "./admin.css" with { type: "text" };
import { alertsArea } from "./alerts";
import { CLIENT_JS } from "./client";
import { enrichersArea } from "./enrichers";
import { eventsArea } from "./events";
import { heartbeatsArea } from "./heartbeats";
import { keysArea } from "./keys";
import { keysModule } from "../modules/keys";
import { html } from "./html";
import type { Area, Ctx, PageResult } from "./kit";
import { FLASH, layout, type NavEntry } from "./layout";
import { loginPage } from "./login";
import { overviewArea } from "./overview";
import { rulesArea } from "./rules";
import { sourcesArea } from "./sources";
import { indicatorsArea } from "./indicators";
import { watchlistsArea } from "./watchlists";
import { csrfOk, currentSession, login, LoginThrottle, logout, SECURITY_HEADERS, sameOrigin, sessionCookie, SESSION_TTL_MS, type Session } from "./security";
import { publicOrigin } from "../http/public-url";
import { webhooksArea } from "./webhooks";
import { putOneTime, takeOneTime, type OneTime } from "./flash";
import { keepInput } from "./form-errors";
import { requestAddress } from "../http/client-address";
import favicon from "./favicon.svg" with { type: "text" };

/** The page areas, in nav order. A new area: one file exporting an Area, one line here. */
const AREAS: Area[] = [overviewArea, eventsArea, alertsArea, heartbeatsArea, webhooksArea, keysArea, sourcesArea, indicatorsArea, rulesArea, watchlistsArea, enrichersArea];

const MAX_FORM_BYTES = 64 * 1024;
/** Statuses of a refused form that re-show the form with its input (the rest get the error page). */
const FORM_ERRORS = new Set([400, 409, 422]);
/** Login forms being read at once (each within --anon-body-timeout); more are answered 503. */
const MAX_LOGINS_READING = 32;

/** HTML pages stay out of the OpenAPI document (their JSON twins are under /v1/). */
const HIDDEN = { detail: { hide: true } };

const htmlResponse = (body: string, status = 200, extra: Record<string, string> = {}) =>
  new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...extra },
  });

/** Adds the security headers to a response built elsewhere (redirects). */
function secure(r: Response): Response {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) r.headers.set(k, v);
  if (!r.headers.has("cache-control")) r.headers.set("cache-control", "no-store");
  return r;
}

/**
 * Reads a form: its type first (415), then at most MAX_FORM_BYTES as they stream (413 as soon as
 * more arrive, never buffering the rest), within `timeoutMs` (408, connection closed).
 */
async function readForm(request: Request, timeoutMs: number, log?: Deps["log"], storable = false): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) throw new ApiError(415, "unsupported_media_type", "forms are sent as application/x-www-form-urlencoded");
  let bytes: Uint8Array;
  try {
    bytes = await readBody(request, MAX_FORM_BYTES, { timeoutMs, log });
  } catch (e) {
    if (e instanceof ApiError && e.status === 413) throw new ApiError(413, "too_large", "the form is too large", [], e.headers);
    throw e;
  }
  const form = new URLSearchParams(new TextDecoder().decode(bytes));
  // `storable` (the forms of a session, which store what they are sent): a field holding a NUL (%00)
  // is refused on both stores, as in a JSON body (src/core/text.ts). The login form stores nothing:
  // its key is checked for its shape and its `next` cleaned (nextOf)
  if (storable)
    for (const [k, v] of form)
      if (isUnstorable(k) || isUnstorable(v))
        throw new ApiError(422, "invalid_request", `${storableText(k)} ${UNSTORABLE_MESSAGE}`, [{ path: `/${storableText(k)}`, message: UNSTORABLE_MESSAGE }]);
  return form;
}

export function adminModule(deps: Deps) {
  const nav: NavEntry[] = AREAS.flatMap((a) => (a.nav ? [a.nav] : []));
  const throttle = new LoginThrottle();
  let loginsReading = 0;

  /** An error as a page; after a refused form, a link back to the page the form was on (the
   *  browser's own Back keeps what was typed). */
  const errorPage = (session: Session | null, e: ApiError, request?: Request) => {
    const back = request ? backTo(request) : null;
    return htmlResponse(
      layout({
        title: `Error ${e.status}`,
        session,
        nav,
        error: e.message,
        body: back ? html`<p><a id="back" href="${back}">← Back to the form</a></p>` : html`<p><a href="/admin">Back to the overview</a></p>`,
      }).value,
      e.status,
    );
  };

  /** Wraps a page handler: session, CSRF, form parsing, errors as HTML pages, headers. */
  const wrap = (method: "GET" | "POST", handler: (c: Ctx) => PageResult | Promise<PageResult>) =>
    async ({ request, params }: { request: Request; params: Record<string, string> }) => {
      const session = await currentSession(deps, request);
      const url = new URL(request.url);
      if (!session) {
        if (method === "GET") return secure(new Response(null, { status: 303, headers: { location: `/admin/login?next=${encodeURIComponent(url.pathname + url.search)}` } }));
        return errorPage(null, new ApiError(401, "unauthorized", "your session has ended; log in again"));
      }
      let form = new URLSearchParams();
      try {
        if (method === "POST") form = await readForm(request, deps.config.bodyTimeout, deps.log, true);
        if (method === "POST" && !csrfOk(session, form.get("csrf")))
          return errorPage(session, new ApiError(403, "forbidden", "the form's CSRF token is missing or does not belong to this session; reload the page and try again"));
        // a one-time message is kept here and stored once the handler is done (before the redirect
        // or the page that shows it), so that pages call once() without waiting for the database
        let pending: OneTime | null = null;
        const once = (m: OneTime) => {
          pending = m;
        };
        const r = await handler({ deps, request, url, params, form, session, tenantId: session.tenantId, origin: publicOrigin(deps.config, request), once });
        if (pending) await putOneTime(deps.store, session.token, pending, deps.clock());
        if (r instanceof Response) return secure(r);
        const done = url.searchParams.get("done");
        const oneTime = await takeOneTime(deps.store, session.token, deps.clock());
        const page = layout({ ...r, session, nav, flash: done ? (FLASH[done] ?? null) : null, oneTime });
        return htmlResponse(page.value, r.status ?? 200);
      } catch (e) {
        // a refused form: the page it came from again, with what was typed and the error next to the field
        if (e instanceof ApiError && method === "POST" && FORM_ERRORS.has(e.status)) {
          const again = await formAgain(request, url, form, e);
          if (again) return again;
        }
        if (e instanceof ApiError) return errorPage(session, e, method === "POST" ? request : undefined);
        deps.log.error("admin page failed", { error: String(e), stack: (e as Error)?.stack, url: request.url });
        return errorPage(session, new ApiError(500, "internal", "internal error"));
      }
    };

  /**
   * After a refused form (400, 409, 422): the page the form is on (the Referer inside /admin, else
   * the form's own address, else its parent), rendered as a GET of this session, with every field
   * of the form filled with what was sent and the error next to its field (src/admin/form-errors.ts).
   * null when no such page renders (then the error page).
   */
  const formAgain = async (request: Request, url: URL, form: URLSearchParams, e: ApiError): Promise<Response | null> => {
    const candidates = [backTo(request), url.pathname, url.pathname.replace(/\/[^/]*$/, "")].filter((p): p is string => !!p && p.startsWith("/admin"));
    for (const path of new Set(candidates)) {
      const page = await app.handle(new Request(new URL(path, url).toString(), { headers: { cookie: request.headers.get("cookie") ?? "", host: request.headers.get("host") ?? url.host } }));
      if (page.status !== 200 || !(page.headers.get("content-type") ?? "").startsWith("text/html")) continue;
      const body = await keepInput(await page.text(), url.pathname, form, e);
      if (body === null) continue;
      return htmlResponse(body, e.status);
    }
    return null;
  };

  const app = new Elysia({ name: "admin" })
    // The JSON twin of the keys page (/v1/keys) is mounted here so that src/app.ts needs one line
    // for the whole admin; it is an ordinary module and can move to app.ts's list at any time.
    .use(keysModule(deps))
    .get("/admin/assets/admin.css", () => new Response(css, { headers: { ...SECURITY_HEADERS, "content-type": "text/css; charset=utf-8", "cache-control": "max-age=300" } }), HIDDEN)
    .get("/admin/assets/favicon.svg", () => new Response(favicon, { headers: { ...SECURITY_HEADERS, "content-type": "image/svg+xml", "cache-control": "max-age=86400" } }), HIDDEN)
    .get("/favicon.ico", () => new Response(favicon, { headers: { ...SECURITY_HEADERS, "content-type": "image/svg+xml", "cache-control": "max-age=86400" } }), HIDDEN)
    .get("/admin/assets/admin.js", () => new Response(CLIENT_JS, { headers: { ...SECURITY_HEADERS, "content-type": "text/javascript; charset=utf-8", "cache-control": "max-age=300" } }), HIDDEN)
    .get("/admin/login", async ({ request }) => {
      if (await currentSession(deps, request)) return secure(new Response(null, { status: 303, headers: { location: "/admin" } }));
      const q = new URL(request.url).searchParams;
      const flash = q.get("done") === "logout" ? FLASH.logout : null;
      return htmlResponse(layout({ title: "Log in", session: null, nav, flash, body: loginPage(nextOf(q.get("next"))) }).value);
    }, HIDDEN)
    .post(
      "/admin/login",
      async ({ request, server }) => {
        const fail = (status: number, message: string, next: string, headers: Record<string, string> = {}) =>
          htmlResponse(layout({ title: "Log in", session: null, nav, error: message, body: loginPage(next) }).value, status, headers);
        if (!sameOrigin(request)) return fail(403, "cross-site login refused", "/admin");
        // Nobody is known yet: a short deadline, and a cap on logins reading their form at once,
        // so slow posts cannot hold every connection the process may open.
        if (loginsReading >= MAX_LOGINS_READING)
          return fail(503, "too many logins in progress; try again in a moment", "/admin", { "retry-after": "1", connection: "close" });
        let form: URLSearchParams;
        loginsReading++;
        try {
          form = await readForm(request, deps.config.anonBodyTimeout, deps.log);
        } catch (e) {
          return fail((e as ApiError).status ?? 400, (e as Error).message, "/admin", (e as ApiError).headers ?? {});
        } finally {
          loginsReading--;
        }
        const next = nextOf(form.get("next"));
        const address = requestAddress(deps.config, server, request) ?? "unknown";
        const now = deps.clock();
        const wait = throttle.waitMs(address, now);
        if (wait > 0) {
          const secs = Math.ceil(wait / 1000);
          return fail(429, `too many failed logins from this address: try again in ${secs} s`, next, { "retry-after": String(secs) });
        }
        const refused = (status: number, message: string, reason: string) => {
          throttle.failed(address, now);
          deps.log.warn("admin login refused", { address, reason });
          return fail(status, message, next);
        };
        let s: Awaited<ReturnType<typeof login>>;
        try {
          s = await login(deps, form.get("key") ?? "");
        } catch (e) {
          if (e instanceof ApiError)
            return e.message === "an API key is required (Authorization: Bearer <key> or X-API-Key: <key>)"
              ? fail(401, "enter an admin key", next)
              : refused(401, e.message, e.message);
          throw e;
        }
        if (!s) return refused(403, "this key lacks the admin scope", "key without the admin scope");
        return secure(
          new Response(null, { status: 303, headers: { location: next, "set-cookie": sessionCookie(request, s.token, SESSION_TTL_MS / 1000) } }),
        );
      },
      { parse: "none", ...HIDDEN },
    )
    .post(
      "/admin/logout",
      async ({ request }) => {
        const session = await currentSession(deps, request);
        // without a session there is nothing to end: the form is not read
        const form = session ? await readForm(request, deps.config.bodyTimeout, deps.log).catch(() => new URLSearchParams()) : new URLSearchParams();
        if (session && !csrfOk(session, form.get("csrf"))) return errorPage(session, new ApiError(403, "forbidden", "the form's CSRF token is missing or wrong"));
        if (session) await logout(deps, session);
        return secure(new Response(null, { status: 303, headers: { location: "/admin/login?done=logout", "set-cookie": sessionCookie(request, "", 0) } }));
      },
      { parse: "none", ...HIDDEN },
    );

  for (const area of AREAS)
    for (const r of area.routes) {
      if (r.method === "GET") app.get(r.path, wrap("GET", r.handler), HIDDEN);
      else app.post(r.path, wrap("POST", r.handler), { parse: "none", ...HIDDEN });
    }
  // anything else under /admin: an HTML 404 (after login), not the API's JSON one
  app.get("/admin/*", wrap("GET", () => { throw new ApiError(404, "not_found", "no such page"); }), HIDDEN);
  return app;
}

/** The same-origin admin page a form was posted from (the Referer), or null. */
function backTo(request: Request): string | null {
  const ref = request.headers.get("referer");
  if (!ref) return null;
  try {
    const u = new URL(ref);
    if (u.host !== new URL(request.url).host && u.host !== request.headers.get("host")) return null;
    return nextOf(u.pathname + u.search) === "/admin" && u.pathname !== "/admin" ? null : u.pathname + u.search;
  } catch {
    return null;
  }
}

/**
 * Where to go after login: only a path inside /admin on this origin (no open redirect), in
 * printable ASCII without backslashes (a CR, LF or NUL would make the Location header invalid);
 * anything else is /admin.
 */
export function nextOf(v: string | null | undefined): string {
  return v && /^\/admin(?:[/?][\x21-\x5b\x5d-\x7e]*)?$/.test(v) && !/\/(\.|%2e){2}/i.test(v) ? v : "/admin";
}
