// Headers every response carries, whoever made it (a handler, the error mapping, the request
// gate): applied in one place per path (src/http/access-log.ts for handled answers, src/app.ts's
// onError, src/http/gate.ts), never per route.
//
// - HTML (the admin page, the /openapi viewer): a Content-Security-Policy without inline script or
//   style, frames refused. A page may set its own (the admin page does); it is kept.
// - Everything else (JSON, text, CSS, JS): `default-src 'none'` (a JSON answer opened in a browser
//   runs nothing), frames refused, no sniffing.
// - An answer that leaves a request body unread closes the connection, so that a client still
//   sending it (slowly, or a huge one) does not keep a socket once it has its answer: after a
//   bounded lingering close (src/http/linger.ts), not at once, which reset the connection and lost
//   the answer to a client still sending.

/** The policy of the HTML pages: everything from this origin, nothing inline, no frames. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The headers of the HTML pages (the admin page sets these itself). */
export const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy": PAGE_CSP,
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

/** The headers of every other answer. */
export const API_HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

const NAMES = Object.keys(API_HEADERS);

/** True when the request announced a body (Content-Length above 0, or chunked). */
export function announcesBody(request: Request): boolean {
  const h = request.headers;
  const cl = h.get("content-length");
  return (cl !== null && cl !== "0") || h.has("transfer-encoding");
}

/** Whether the answer must close the connection: the request has a body nobody read. */
export function leavesBodyUnread(request: Request): boolean {
  return !request.bodyUsed && announcesBody(request);
}

/** Adds the missing security headers (and `Connection: close` when the body was left unread) to headers of a response. */
export function secureHeaders(h: Headers, request: Request | null): void {
  const html = (h.get("content-type") ?? "").startsWith("text/html");
  const set = html ? PAGE_HEADERS : API_HEADERS;
  // a response that already has a policy made its own choices
  if (!h.has("content-security-policy")) for (const k of NAMES) h.set(k, set[k]);
  else if (!h.has("x-content-type-options")) h.set("x-content-type-options", "nosniff");
  if (request && leavesBodyUnread(request)) h.set("connection", "close");
}

/** The same on a Response (copied when its headers are immutable, as Response.redirect's are). */
export function secureResponse(r: Response, request: Request | null): Response {
  try {
    secureHeaders(r.headers, request);
    return r;
  } catch {
    const copy = new Response(r.body, { status: r.status, statusText: r.statusText, headers: r.headers });
    secureHeaders(copy.headers, request);
    return copy;
  }
}

/** The same for an answer Elysia has yet to build (a plain object or string): into `set.headers`. */
export function secureSetHeaders(headers: Record<string, unknown>, request: Request): void {
  const ct = String(headers["content-type"] ?? "");
  const set = ct.startsWith("text/html") ? PAGE_HEADERS : API_HEADERS;
  if (headers["content-security-policy"] === undefined) for (const k of NAMES) headers[k] ??= set[k];
  if (leavesBodyUnread(request)) headers["connection"] = "close";
}
