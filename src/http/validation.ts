// The 422 of a request that does not fit its route's typebox schema: every detail names what is
// allowed there (the range of a number, the length of a string, the values of an enum, the known
// fields of an object) and what was sent, built from the schema itself rather than from the
// validator's generic sentences ("should be one of: 'integer', 'integer'"). Used by onError in
// src/app.ts.
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ApiError, type ErrorDetail } from "./errors";

type ValueErrorLike = { path?: string; message?: string; summary?: string; schema?: TSchema; value?: unknown };
type ValidationLike = { type?: string; all?: ValueErrorLike[]; customError?: unknown; validator?: any; value?: unknown };

/**
 * The validator's errors. Elysia's `all` decorates each with a summary built by interpolating the
 * sent value into a string, which throws for an object without a prototype (our JSON parser makes
 * those: src/http/raw-json.ts) and turned a 422 into a 500; then the errors are taken from the
 * validator directly, without that decoration.
 */
function errorsOf(v: ValidationLike): ValueErrorLike[] {
  try {
    return v.all ?? [];
  } catch {
    const val = v.validator;
    if (!val) return [];
    const it: Iterable<ValueErrorLike> = typeof val.Errors === "function" ? val.Errors(v.value) : Value.Errors(val, v.value);
    const out: ValueErrorLike[] = [];
    for (const e of it) if (out.push(e) >= 50) break;
    return out;
  }
}

/**
 * The ApiError (422 invalid_request) for an Elysia validation error. `query` (the request's
 * query string) names the parameter of a query error, which Elysia checks one property at a time
 * with no path.
 */
export function validationError(v: ValidationLike, query?: URLSearchParams): ApiError {
  const custom = typeof v.customError === "string" ? v.customError : null;
  const all = errorsOf(v).map((e) => (v.type === "property" && !e.path && query ? { ...e, path: paramOf(query, e.value) } : e));
  const details = dedupe(all.flatMap(safeDetailsOf)).slice(0, 50);
  // a schema's own `error` sentence is only the answer when nothing more precise is known
  if (custom && !details.length) details.push({ path: "", message: custom });
  const where = v.type === "query" || v.type === "property" ? "query string" : v.type ?? "request";
  const first = details[0] ? `${details[0].path ? details[0].path + " " : ""}${details[0].message}` : "";
  return new ApiError(422, "invalid_request", `the ${where} is invalid${first ? `: ${first}` : ""}`, details);
}

/** The pointer of the query parameter that carries `value` ("" when none does). */
function paramOf(q: URLSearchParams, value: unknown): string {
  for (const [k, v] of q) if (v === String(value) || (typeof value === "number" && Number(v) === value)) return "/" + k;
  return "";
}

function dedupe(list: ErrorDetail[]): ErrorDetail[] {
  const seen = new Set<string>();
  return list.filter((d) => !seen.has(d.path) && (seen.add(d.path), true));
}

/** detailsOf, falling back to the validator's own sentence should a schema defeat it (a 422 stays a 422). */
function safeDetailsOf(e: ValueErrorLike): ErrorDetail[] {
  try {
    return detailsOf(e);
  } catch {
    return [{ path: e.path ?? "", message: (e.message ?? "is invalid").toLowerCase() }];
  }
}

/**
 * One validator error as details. An error on a union (say, a nullable object) whose value is an
 * object is reported from inside the object member, so the pointer names the bad field.
 */
function detailsOf(e: ValueErrorLike): ErrorDetail[] {
  const path = e.path ?? "";
  const schema = e.schema as any;
  const variants = schema?.anyOf as TSchema[] | undefined;
  if (variants && e.value && typeof e.value === "object" && !Array.isArray(e.value)) {
    const objects = variants.filter((x: any) => x.type === "object" && x.properties);
    if (objects.length) {
      const value = e.value as Record<string, unknown>;
      // a tagged union ({kind: "alert", ...} | {kind: "tag", ...}): the member its tag names, or
      // the tag itself when it names none
      const tag = tagOf(objects);
      let member: any;
      if (tag) {
        member = objects.find((o: any) => Object.hasOwn(value, tag) && o.properties[tag].const === value[tag]);
        if (!member) {
          const consts = objects.map((o: any) => o.properties[tag].const);
          return [{ path: `${path}/${tag}`, message: value[tag] === undefined ? `is required (one of ${consts.map((c) => JSON.stringify(c)).join(", ")})` : `must be one of ${consts.map((c) => JSON.stringify(c)).join(", ")}, got ${shown(value[tag])}` }];
        }
      }
      // otherwise the member the value comes closest to (fewest errors)
      const ranked = (member ? [member] : objects).map((o: any) => [...Value.Errors(o, e.value)]).sort((a, b) => a.length - b.length);
      const inner = ranked[0];
      if (inner.length) return dedupe(inner.slice(0, 20).map((i) => ({ path: path + i.path, message: describeError(i.schema, i.value, path + i.path) })));
    }
  }
  return [{ path, message: describeError(schema, e.value, path) }];
}

/** The property every member of a union of objects fixes to a constant of its own, if any. */
function tagOf(objects: any[]): string | undefined {
  if (objects.length < 2) return undefined;
  for (const k of Object.keys(objects[0].properties)) {
    const consts = objects.map((o) => o.properties[k]?.const);
    if (consts.every((c) => c !== undefined) && new Set(consts).size === consts.length) return k;
  }
  return undefined;
}

/** What is wrong with `value` where `schema` applies, naming what is allowed. */
export function describeError(schema: any, value: unknown, path = ""): string {
  if (!schema || typeof schema !== "object") return "is invalid";
  // an unknown field of an object that takes no others: typebox reports it with the object's schema
  if (schema.type === "object" && schema.additionalProperties === false && schema.properties) {
    const key = unescapePointer(path.slice(path.lastIndexOf("/") + 1));
    if (!Object.hasOwn(schema.properties, key)) return `is not a known field (known: ${Object.keys(schema.properties).join(", ")})`;
  }
  const want = expectation(schema);
  if (value === undefined) return want === "valid" ? "is required" : `is required (${want})`;
  return `must be ${want}, got ${shown(value)}`;
}

const unescapePointer = (s: string) => s.replace(/~1/g, "/").replace(/~0/g, "~");

/** A short rendering of a sent value for a message. */
function shown(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? "" : "s"}`;
  if (typeof v === "object") return "an object";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + "…" : s;
}

// Elysia lets query strings and some bodies carry numbers and booleans as text: its t.Integer is
// anyOf [string (format integer), integer]. The text form is an encoding, not an alternative.
const CODED = new Set(["integer", "numeric", "boolean", "ObjectString", "ArrayString"]);

/** What a schema accepts, in words: "an integer from 1 to 500", "one of \"a\", \"b\"", ... */
export function expectation(schema: any): string {
  const alts = alternatives(schema);
  if (alts.every((a) => a.literal !== undefined)) {
    const vals = alts.map((a) => a.literal!);
    return vals.length === 1 ? vals[0] : `one of ${vals.join(", ")}`;
  }
  const words = [...new Set(alts.map((a) => a.literal ?? a.words!))];
  return words.length <= 1 ? (words[0] ?? "valid") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

type Alt = { literal?: string; words?: string };

function alternatives(s: any, outer: any = {}): Alt[] {
  if (!s || typeof s !== "object") return [{ words: "valid" }];
  if (s.const !== undefined) return [{ literal: JSON.stringify(s.const) }];
  if (Array.isArray(s.enum)) return s.enum.map((x: unknown) => ({ literal: JSON.stringify(x) }));
  const list = s.anyOf ?? s.oneOf;
  if (Array.isArray(list)) {
    // bounds written on the union itself (Elysia's t.Integer({minimum})) apply to its members
    const bounds = { ...outer, ...pick(s) };
    const real = list.filter((m: any) => !(m?.type === "string" && CODED.has(m.format) && list.length > 1));
    return real.flatMap((m: any) => alternatives(m, bounds));
  }
  const x = { ...outer, ...s };
  switch (s.type) {
    case "null":
      return [{ literal: "null" }];
    case "boolean":
      return [{ literal: "true" }, { literal: "false" }];
    case "integer":
    case "number":
      return [{ words: numberWords(x) }];
    case "string":
      return [{ words: stringWords(x) }];
    case "array":
      return [{ words: arrayWords(x) }];
    case "object":
      return [{ words: objectWords(x) }];
  }
  if (Array.isArray(s.allOf)) return [{ words: s.allOf.map(expectation).join(" and ") }];
  return [{ words: "valid" }];
}

const BOUND_KEYS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "minItems", "maxItems"];
function pick(s: any): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of BOUND_KEYS) if (s[k] !== undefined) out[k] = s[k];
  return out;
}

function numberWords(s: any): string {
  const what = s.type === "integer" ? "an integer" : "a number";
  const lo = s.exclusiveMinimum !== undefined ? { v: s.exclusiveMinimum, ex: true } : s.minimum !== undefined ? { v: s.minimum, ex: false } : null;
  const hi = s.exclusiveMaximum !== undefined ? { v: s.exclusiveMaximum, ex: true } : s.maximum !== undefined ? { v: s.maximum, ex: false } : null;
  let range = "";
  if (lo && hi && !lo.ex && !hi.ex) range = ` from ${lo.v} to ${hi.v}`;
  else {
    const parts: string[] = [];
    if (lo) parts.push(lo.ex ? `greater than ${lo.v}` : `at least ${lo.v}`);
    if (hi) parts.push(hi.ex ? `less than ${hi.v}` : `at most ${hi.v}`);
    if (parts.length) range = ` ${parts.join(" and ")}`;
  }
  const mult = s.multipleOf !== undefined ? ` (a multiple of ${s.multipleOf})` : "";
  return what + range + mult;
}

function lengthWords(min: number | undefined, max: number | undefined, unit: string): string {
  const u = (n: number) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (min !== undefined && max !== undefined) return min === max ? ` of exactly ${u(max)}` : ` of ${min} to ${u(max)}`;
  if (max !== undefined) return ` of at most ${u(max)}`;
  if (min !== undefined) return min === 1 ? " (not empty)" : ` of at least ${u(min)}`;
  return "";
}

function stringWords(s: any): string {
  let w = "a string" + lengthWords(s.minLength, s.maxLength, "character");
  if (s.format && !CODED.has(s.format)) w += ` in ${s.format} format`;
  if (s.pattern) w += ` matching ${s.pattern}`;
  return w;
}

function arrayWords(s: any): string {
  let w = "an array" + lengthWords(s.minItems, s.maxItems, "item");
  if (s.uniqueItems) w += " with no repeats";
  if (s.items && typeof s.items === "object") {
    const inner = expectation(s.items);
    if (inner !== "valid") w += ` of ${inner.replace(/^(a|an|one of) /, (m) => (m === "one of " ? "each one of " : ""))}`;
  }
  return w;
}

function objectWords(s: any): string {
  const props = s.properties ? Object.keys(s.properties) : [];
  if (!props.length) return "an object";
  return `an object (fields: ${props.join(", ")})`;
}

export type { ValueErrorLike };
