// A refused form comes back as the page it was on, with what was typed kept and the error next to
// its field, for every form of every page without each page knowing: the page is rendered as a
// GET, then Bun's HTMLRewriter (lol-html, built into the runtime) fills the form whose action is
// the refused POST's path with the submitted values (text inputs, textareas, selects, checkboxes
// and radios; never hidden fields, passwords or the CSRF token; a name given several times, like
// the rule builder's rows, fills its fields in order) and puts the message at the top of the form
// and next to the field it names (an error detail's path "/name" or "/name/<row>", or the
// message's first word).
import type { ApiError } from "../http/errors";

const attr = (s: string) => s.replace(/["\\]/g, (c) => `\\${c}`);
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The form field an error is about (and which of several of that name), when the form has it. */
export function fieldOf(e: ApiError, form: URLSearchParams): { name: string; index: number } | null {
  const tries: { name: string; index: number }[] = [];
  for (const d of e.details ?? []) {
    const row = /^\/([^/]+)\/(\d+)$/.exec(d.path);
    if (row) tries.push({ name: row[1], index: Number(row[2]) });
    const segs = d.path.split("/").filter(Boolean).filter((x) => !/^\d+$/.test(x));
    if (segs.length) tries.push(...[segs.join("_"), segs.join("."), segs[0]].map((name) => ({ name, index: 0 })));
  }
  const m = /^([a-z][a-z0-9_.]*)\b/i.exec(e.message);
  if (m) tries.push({ name: m[1], index: 0 }, { name: m[1].split(".")[0], index: 0 });
  return tries.find((t) => form.has(t.name)) ?? null;
}

/** `page` with the form posting to `action` refilled from `form` and the error shown; null when the page has no such form. */
export async function keepInput(page: string, action: string, form: URLSearchParams, e: ApiError): Promise<string | null> {
  const sel = `form[action="${attr(action)}"]`;
  const bad = fieldOf(e, form);
  let found = false;
  let select: { name: string; index: number } | null = null;
  let marked = false;
  const seen = new Map<string, number>();
  /** which occurrence of this name in the form the element is (0, 1, ...) */
  const next = (name: string) => {
    const i = seen.get(name) ?? 0;
    seen.set(name, i + 1);
    return i;
  };
  const mark = (el: HTMLRewriterTypes.Element, name: string, index: number) => {
    if (marked || !bad || name !== bad.name || index !== bad.index) return;
    el.setAttribute("aria-invalid", "true");
    el.setAttribute("aria-describedby", "field-error");
    el.after(`<span class="field-error" id="field-error">${esc(e.message)}</span>`, { html: true });
    marked = true;
  };
  const out = await new HTMLRewriter()
    .on(sel, {
      element(el) {
        found = true;
        el.prepend(`<p class="flash error form-error" role="alert" id="form-error">${esc(e.message)}</p>`, { html: true });
      },
    })
    .on(`${sel} input[name]`, {
      element(el) {
        const name = el.getAttribute("name")!;
        const type = (el.getAttribute("type") ?? "text").toLowerCase();
        if (type === "hidden" || type === "password" || type === "submit" || type === "button" || type === "file") return;
        if (type === "checkbox" || type === "radio") {
          const v = el.getAttribute("value") ?? "on";
          if (form.getAll(name).includes(v)) el.setAttribute("checked", "");
          else el.removeAttribute("checked");
          mark(el, name, 0);
          return;
        }
        const i = next(name);
        // lol-html escapes only the quote in an attribute value: the ampersand is ours to escape
        el.setAttribute("value", (form.getAll(name)[i] ?? "").replace(/&/g, "&amp;"));
        mark(el, name, i);
      },
    })
    .on(`${sel} textarea[name]`, {
      element(el) {
        const name = el.getAttribute("name")!;
        const i = next(name);
        el.setInnerContent(form.getAll(name)[i] ?? "", { html: false });
        mark(el, name, i);
      },
    })
    .on(`${sel} select[name]`, {
      element(el) {
        const name = el.getAttribute("name")!;
        select = { name, index: next(name) };
        mark(el, name, select.index);
      },
    })
    .on(`${sel} select[name] option`, {
      element(el) {
        if (!select || !form.has(select.name)) return;
        const v = el.getAttribute("value");
        if (v === null) return; // an option without a value: left as rendered
        const chosen = form.getAll(select.name)[select.index];
        if (chosen === v) el.setAttribute("selected", "");
        else el.removeAttribute("selected");
      },
    })
    .transform(new Response(page))
    .text();
  return found ? out : null;
}
