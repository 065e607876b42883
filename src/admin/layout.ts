// The page frame (header, nav, logout) and the small view helpers every page area shares.
import { RawJson } from "../http/raw-json";
import { SEVERITIES } from "../core/severity";
import type { OneTime } from "./flash";
import { html, type Html } from "./html";
import type { Session } from "./security";

export type NavEntry = { path: string; label: string };

export type PageOpts = { title: string; body: Html; session: Session | null; nav: NavEntry[]; current?: string; flash?: string | null; error?: string | null; oneTime?: OneTime | null };

/** Fixed messages shown after a redirect (?done=<code>); never text from the query itself. */
export const FLASH: Record<string, string> = {
  updated: "Saved.",
  commented: "Comment added.",
  created: "Created.",
  paused: "Paused.",
  resumed: "Resumed.",
  replayed: "Queued for replay.",
  rotated: "Secret rotated. The previous secret keeps signing during the overlap.",
  revoked: "Key revoked.",
  token_revoked: "URL token revoked.",
  setting_removed: "This tenant's setting is removed; the environment's (or none) applies again.",
  deleted: "Deleted.",
  test_sent: "Test message queued; it shows in the deliveries below.",
  test_held: "Test message queued, but this webhook is inactive: it is held until the webhook is activated.",
  logout: "Logged out.",
};

export function layout(o: PageOpts): Html {
  const nav = o.session
    ? html`<nav aria-label="main">${o.nav.map((n) => html`<a href="${n.path}"${o.current === n.path ? html` aria-current="page"` : ""}>${n.label}</a>`)}</nav>
      <form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${o.session.csrfToken}"><button class="secondary" type="submit">Log out</button></form>`
    : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · keepwatch</title>
<link rel="icon" href="/admin/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/assets/admin.css">
<script src="/admin/assets/admin.js" defer></script>
</head>
<body>
<header><a class="brand" href="/admin">keepwatch</a>${nav}</header>
<main>
${o.oneTime ? html`<div class="flash" role="status" id="one-time"><p>${o.oneTime.note}</p>${o.oneTime.items.map((i) => html`<p>${i.label}: <code id="${i.id}" class="secret" data-copy>${i.value}</code></p>`)}</div>` : ""}${o.flash ? html`<p class="flash" role="status">${o.flash}</p>` : ""}${o.error ? html`<p class="flash error" role="alert">${o.error}</p>` : ""}
${o.body}
</main>
</body>
</html>`;
}

/** The CSRF field every POST form carries. */
export const csrfField = (s: Session) => html`<input type="hidden" name="csrf" value="${s.csrfToken}">`;

/** A coloured badge: `v` picks the colour (st-<v>, sev-<v>), `label` (default `v`) is what it says. */
export const badge = (kind: "sev" | "st", v: string, label: string = v) => html`<span class="badge ${kind}-${/^[a-z_]+$/.test(v) ? v : "x"}">${label}</span>`;

/** A date as a <time> element, UTC, readable. */
export const when = (isoOrNull: string | null | undefined) =>
  isoOrNull ? html`<time datetime="${isoOrNull}">${isoOrNull.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>` : html`<span class="muted">—</span>`;

export const severityOptions = (selected: string | undefined, blank = "any") =>
  html`<option value="">${blank}</option>${SEVERITIES.map((s) => html`<option value="${s}"${s === selected ? html` selected` : ""}>${s}</option>`)}`;

export const options = (values: readonly string[], selected: string | undefined | null) =>
  values.map((s) => html`<option value="${s}"${s === selected ? html` selected` : ""}>${s}</option>`);

/** A value as indented JSON; a stored raw payload (RawJson) exactly as it was received. */
export const pretty = (v: unknown) =>
  v instanceof RawJson ? html`<pre class="raw-payload">${v.text}</pre>` : html`<pre>${JSON.stringify(v, null, 2)}</pre>`;
