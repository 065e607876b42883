// What a page area is: its nav entry and its routes. Each area is one file in src/admin/ and is
// listed once in src/admin/index.ts; adding a page (sources, watchlists, ...) touches nothing else.
import type { Deps } from "../deps";
import { ApiError } from "../http/errors";
import type { OneTime } from "./flash";
import type { Html } from "./html";
import type { NavEntry } from "./layout";
import type { Session } from "./security";

export type Ctx = {
  deps: Deps;
  request: Request;
  url: URL;
  params: Record<string, string>;
  /** the POST form (empty for GET) */
  form: URLSearchParams;
  session: Session;
  tenantId: string;
  /** scheme://host the browser used (ping URLs are built from it) */
  origin: string;
  /** keeps a one-time message (a new key or secret) for the next page this session renders */
  once: (m: OneTime) => void;
};

/** A page to render in the layout, or a finished Response (redirects). */
export type PageResult = { title: string; body: Html; status?: number; current?: string; error?: string | null } | Response;

export type Route = { method: "GET" | "POST"; path: string; handler: (c: Ctx) => PageResult | Promise<PageResult> };

export type Area = { nav?: NavEntry; routes: Route[] };

/** 303 See Other to a page of the admin (after a POST). */
export function see(path: string, done?: string): Response {
  const sep = path.includes("?") ? "&" : "?";
  return new Response(null, { status: 303, headers: { location: done ? `${path}${sep}done=${done}` : path } });
}

/** A required form field, trimmed; 422 when missing. */
export function field(c: Ctx, name: string, opts: { optional?: boolean; max?: number } = {}): string | undefined {
  const v = c.form.get(name)?.trim();
  if (!v) {
    if (opts.optional) return undefined;
    throw new ApiError(422, "invalid_form", `${name} is required`, [{ path: `/${name}`, message: "is required" }]);
  }
  if (v.length > (opts.max ?? 10_000)) throw new ApiError(422, "invalid_form", `${name} is too long`, [{ path: `/${name}`, message: "too long" }]);
  return v;
}

/** A whole number from a form field; 422 when it is not one. */
export function intField(c: Ctx, name: string, optional = false): number | undefined {
  const v = field(c, name, { optional });
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new ApiError(422, "invalid_form", `${name} must be a whole number`, [{ path: `/${name}`, message: "not a whole number" }]);
  return Number(v);
}
