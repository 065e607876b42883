// A refused form comes back as the page it was on, with what was typed kept and the error next to
// its field, for every form of every page without each page knowing: the page is rendered as a
// GET, then Bun's HTMLRewriter (lol-html, built into the runtime) fills the form whose action is
// the refused POST's path with the submitted values (text inputs, textareas, selects, checkboxes
// and radios; never hidden fields, passwords or the CSRF token) and puts the message at the top
// of the form and next to the field it names.
import type { ApiError } from "../http/errors";

const attr = (s: string) => s.replace(/["\\]/g, (c) => `\\${c}`);
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The form field an error is about: its detail's JSON pointer or the message's first word, when the form has it. */
export function fieldOf(e: ApiError, form: URLSearchParams): string | null {
  const tries: string[] = [];
  for (const d of e.details ?? []) {
    const segs = d.path.split("/").filter(Boolean).filter((x) => !/^\d+$/.test(x));
    if (segs.length) tries.push(segs.join("_"), segs.join("."), segs[0]);
  }
  const m = /^([a-z][a-z0-9_.]*)\b/i.exec(e.message);
  if (m) tries.push(m[1], m[1].split(".")[0]);
  return tries.find((n) => form.has(n)) ?? null;
}

/** `page` with the form posting to `action` refilled from `form` and the error shown; null when the page has no such form. */
export async function keepInput(page: string, action: string, form: URLSearchParams, e: ApiError): Promise<string | null> {
  const sel = `form[action="${attr(action)}"]`;
  const bad = fieldOf(e, form);
  let found = false;
  let select: string | null = null;
  let marked = false;
  const mark = (el: HTMLRewriterTypes.Element, name: string) => {
    if (name !== bad) return;
    el.setAttribute("aria-invalid", "true");
    el.setAttribute("aria-describedby", "field-error");
    if (!marked) el.after(`<span class="field-error" id="field-error">${esc(e.message)}</span>`, { html: true });
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
        } else el.setAttribute("value", (form.get(name) ?? "").replace(/&/g, "&amp;")); // lol-html escapes only the quote
        mark(el, name);
      },
    })
    .on(`${sel} textarea[name]`, {
      element(el) {
        const name = el.getAttribute("name")!;
        el.setInnerContent(form.get(name) ?? "", { html: false });
        mark(el, name);
      },
    })
    .on(`${sel} select[name]`, {
      element(el) {
        select = el.getAttribute("name");
        if (select) mark(el, select);
      },
    })
    .on(`${sel} select[name] option`, {
      element(el) {
        if (!select || !form.has(select)) return;
        const v = el.getAttribute("value");
        if (v === null) return; // an option without a value: left as rendered
        if (form.getAll(select).includes(v)) el.setAttribute("selected", "");
        else el.removeAttribute("selected");
      },
    })
    .transform(new Response(page))
    .text();
  return found ? out : null;
}
