// Watchlists: list, create, edit (entries as a textarea, one "kind value [# comment]" per line),
// activate/deactivate, delete. Through src/modules/watchlists/service.ts; bodies are checked
// against the API's own typebox schemas, and an invalid entry is named by its line.
import { Value } from "@sinclair/typebox/value";
import { WATCHLIST_KINDS } from "../core/enrich";
import { ApiError } from "../http/errors";
import { WatchlistCreate, WatchlistUpdate } from "../modules/watchlists/model";
import * as watchlists from "../modules/watchlists/service";
import { html } from "./html";
import { field, see, type Area, type Ctx } from "./kit";
import { badge, csrfField, options, when } from "./layout";

const RAISE = ["info", "low", "medium", "high", "critical"] as const;
const path = (id: string) => `/admin/watchlists/${encodeURIComponent(id)}`;

type Entry = { kind: string; value: string; comment?: string };

/** The textarea's lines as entries, with the line number of each (for error messages). */
function parseEntries(text: string): { entries: Entry[]; lines: number[] } {
  const entries: Entry[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const l = raw.trim();
    if (!l) return;
    const hash = l.indexOf(" #");
    const main = (hash >= 0 ? l.slice(0, hash) : l).trim();
    const comment = hash >= 0 ? l.slice(hash + 2).trim() : "";
    const m = /^(\S+)\s+(.+)$/.exec(main);
    if (!m) throw new ApiError(422, "invalid_form", `entries line ${i + 1}: write "kind value" (kinds: ${WATCHLIST_KINDS.join(", ")}); nothing was changed`);
    entries.push({ kind: m[1], value: m[2].trim(), ...(comment ? { comment } : {}) });
    lines.push(i + 1);
  });
  return { entries, lines };
}

const entriesText = (entries: Entry[]) => entries.map((e) => `${e.kind} ${e.value}${e.comment ? ` # ${e.comment}` : ""}`).join("\n");

/** Checks against the API schema; an entry's problem is reported with its textarea line. */
function checked(schema: Parameters<typeof Value.Check>[0], body: Record<string, unknown>, lines: number[]) {
  const first = Value.Errors(schema, body).First();
  if (!first) return;
  const m = /^\/entries\/(\d+)/.exec(first.path);
  const where = m ? `entries line ${lines[Number(m[1])]}` : first.path.slice(1) || "form";
  throw new ApiError(422, "invalid_form", `${where}: ${(first.schema.error as string | undefined) ?? first.message.toLowerCase()}; nothing was changed`);
}

/** Runs a service call; entry errors from the API's validation are named by their textarea line. */
async function withLines<T>(lines: number[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && e.details.length && e.details[0].index !== undefined) {
      const d = e.details.map((x) => `line ${lines[x.index!] ?? "?"}: ${x.message}`);
      throw new ApiError(e.status, e.code, `${d.length} invalid entr${d.length === 1 ? "y" : "ies"} (${d.slice(0, 5).join("; ")}); nothing was changed`, e.details);
    }
    throw e;
  }
}

function formBody(c: Ctx, entriesRequired: boolean) {
  const { entries, lines } = parseEntries(c.form.get("entries") ?? "");
  const sev = field(c, "severity", { optional: true, max: 20 });
  const body: Record<string, unknown> = {
    name: field(c, "name", { max: 200 })!,
    label: field(c, "label", { optional: true, max: 100 }),
    severity: sev ?? null,
    active: c.form.get("active") === "on",
    entries,
  };
  if (body.label === undefined) delete body.label;
  if (!entriesRequired && c.form.get("entries") === null) delete body.entries;
  return { body, lines };
}

function fields(w?: { name: string; label: string; severity: string | null; active: boolean; entries: Entry[] }) {
  return html`<label>Name <input name="name" required maxlength="200" value="${w?.name ?? ""}"></label>
  <label>Label (the tag a hit adds: watchlist:&lt;label&gt;; empty: the name) <input name="label" maxlength="100" value="${w?.label ?? ""}"></label>
  <label>Raise the alert to at least <select name="severity"><option value="">(do not raise)</option>${options(RAISE, w?.severity)}</select></label>
  <label><span><input type="checkbox" name="active"${!w || w.active ? html` checked` : ""}> active</span></label>
  <label><span>Entries, one per line: <code>kind value</code> (kinds: ${WATCHLIST_KINDS.join(", ")}; optional <code># comment</code>)</span>
    <textarea name="entries" rows="8" placeholder="cidr 203.0.113.0/24 # scanner range&#10;domain evil.example">${w ? entriesText(w.entries) : ""}</textarea></label>`;
}

export const watchlistsArea: Area = {
  nav: { path: "/admin/watchlists", label: "Watchlists" },
  routes: [
    {
      method: "GET",
      path: "/admin/watchlists",
      handler: async (c) => {
        const { items } = await watchlists.list(c.deps, c.tenantId);
        const body = html`<h1>Watchlists</h1>
${items.length === 0
  ? html`<p class="muted">No watchlists yet.</p>`
  : html`<div class="table-wrap"><table id="watchlists"><thead><tr><th>Name</th><th>Tag</th><th>Raises to</th><th>Entries</th><th>State</th><th>Updated</th></tr></thead><tbody>
  ${items.map((w) => html`<tr><td><a href="${path(w.id)}">${w.name}</a></td><td><code>${w.tag}</code></td><td>${w.severity ?? "—"}</td><td>${w.entry_count}</td>
  <td>${badge("st", w.active ? "active" : "inactive")}</td><td>${when(w.updated_at)}</td></tr>`)}
  </tbody></table></div>`}
<h2>New watchlist</h2>
<form class="stack" method="post" action="/admin/watchlists">${csrfField(c.session)}
  ${fields()}
  <div><button type="submit">Create</button></div>
</form>`;
        return { title: "Watchlists", current: "/admin/watchlists", body };
      },
    },
    {
      method: "POST",
      path: "/admin/watchlists",
      handler: async (c) => {
        const { body, lines } = formBody(c, true);
        checked(WatchlistCreate, body, lines);
        const w = await withLines(lines, () => watchlists.create(c.deps, c.tenantId, body as WatchlistCreate));
        return see(path(w.id), "created");
      },
    },
    {
      method: "GET",
      path: "/admin/watchlists/:id",
      handler: async (c) => {
        const w = await watchlists.get(c.deps, c.tenantId, c.params.id);
        const body = html`<p><a href="/admin/watchlists">← Watchlists</a></p>
<h1><span id="watchlist-title">${w.name}</span> ${badge("st", w.active ? "active" : "inactive")}</h1>
<dl class="fields"><dt>tag</dt><dd><code>${w.tag}</code></dd><dt>raises to</dt><dd>${w.severity ?? "—"}</dd><dt>entries</dt><dd id="entry-count">${w.entry_count}</dd>
<dt>updated</dt><dd>${when(w.updated_at)}</dd></dl>
<p>
<form class="inline" method="post" action="${path(w.id)}/state"${w.active ? html` data-confirm="Deactivate this watchlist? Events are no longer checked against it."` : ""}>${csrfField(c.session)}<input type="hidden" name="active" value="${w.active ? "off" : "on"}"><button type="submit" class="secondary">${w.active ? "Deactivate" : "Activate"}</button></form>
<form class="inline" method="post" action="${path(w.id)}/delete" data-confirm="Delete this watchlist and its entries?">${csrfField(c.session)}<button type="submit" class="danger">Delete</button></form>
</p>
<h2>Edit</h2>
<form class="stack" method="post" action="${path(w.id)}">${csrfField(c.session)}
  ${fields(w)}
  <div><button type="submit">Save</button></div>
</form>`;
        return { title: w.name, current: "/admin/watchlists", body };
      },
    },
    {
      method: "POST",
      path: "/admin/watchlists/:id",
      handler: async (c) => {
        const { body, lines } = formBody(c, false);
        checked(WatchlistUpdate, body, lines);
        await withLines(lines, () => watchlists.update(c.deps, c.tenantId, c.params.id, body as WatchlistUpdate));
        return see(path(c.params.id), "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/watchlists/:id/state",
      handler: async (c) => {
        await watchlists.update(c.deps, c.tenantId, c.params.id, { active: c.form.get("active") === "on" });
        return see(path(c.params.id), "updated");
      },
    },
    {
      method: "POST",
      path: "/admin/watchlists/:id/delete",
      handler: async (c) => {
        await watchlists.remove(c.deps, c.tenantId, c.params.id);
        return see("/admin/watchlists", "deleted");
      },
    },
  ],
};
