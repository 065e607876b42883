// JSON values as readable rows for people (enrichment results, timeline details): nested objects
// become "path: value" lines, arrays of plain values a comma list, bounded in rows and length.
import { html, type Html } from "./html";

const MAX_ROWS = 40;
const MAX_TEXT = 300;

const scalar = (v: unknown): string => {
  const s = v === null ? "—" : typeof v === "string" ? v : JSON.stringify(v);
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + "…" : s;
};

/** [path, text] pairs of a JSON value, depth-first, at most MAX_ROWS. */
export function flatten(v: unknown, path = "", out: [string, string][] = []): [string, string][] {
  if (out.length >= MAX_ROWS) return out;
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== "object")) out.push([path, v.length ? v.map(scalar).join(", ") : "none"]);
    else v.forEach((x, i) => flatten(x, `${path}[${i}]`, out));
  } else if (v && typeof v === "object") {
    const entries = Object.entries(v);
    if (!entries.length) out.push([path, "—"]);
    for (const [k, x] of entries) flatten(x, path ? `${path}.${k}` : k, out);
  } else out.push([path, scalar(v)]);
  return out.slice(0, MAX_ROWS);
}

/** A JSON value as a list of "key value" rows. */
export function kvList(v: unknown): Html {
  const rows = flatten(v);
  if (!rows.length) return html`<span class="muted">—</span>`;
  return html`<ul class="rows-kv">${rows.map(([k, x]) => html`<li>${k ? html`<span class="k">${k}</span>` : ""}${x}</li>`)}</ul>`;
}
