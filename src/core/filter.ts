// The filter language of rules and heartbeats, over normalized event fields and payload paths:
//   {"all": [...]} | {"any": [...]} | {"not": {...}} | {"field": "type", "op": "eq", "value": "heartbeat"}
// ops: eq, neq, in, contains, prefix, regex, gte, lte, exists. gte/lte on "severity" compare on
// the severity scale; on other fields, as numbers. Fields: type, source, source_name, module,
// title, summary, severity, host, tags, and payload.<dot.path>.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { RE2JS } from "re2js";
import { isSeverity, SEVERITY_RANK, severityRank } from "./severity";

export const FIELDS = ["type", "source", "source_name", "module", "title", "summary", "severity", "host", "tags"] as const;
export const OPS = ["eq", "neq", "in", "contains", "prefix", "regex", "gte", "lte", "exists"] as const;

const Scalar = Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]);
const Condition = Type.Object(
  {
    field: Type.String({ pattern: `^(${FIELDS.join("|")}|payload(\\.[^.\\s]+)+)$`, description: "a normalized field or payload.<path>" }),
    op: Type.Union(OPS.map((o) => Type.Literal(o))),
    value: Type.Optional(Type.Union([Scalar, Type.Array(Scalar, { maxItems: 1000 })])),
  },
  { additionalProperties: false },
);

export const Filter = Type.Recursive(
  (Self) =>
    Type.Union([
      Type.Object({ all: Type.Array(Self, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
      Type.Object({ any: Type.Array(Self, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
      Type.Object({ not: Self }, { additionalProperties: false }),
      Condition,
    ]),
  { $id: "Filter", description: "all / any / not, or a condition {field, op, value}" },
);
export type Filter = Static<typeof Filter>;
type Cond = Static<typeof Condition>;

const checkShape = TypeCompiler.Compile(Filter as TSchema);

/** Validates a filter; each problem names the JSON pointer of the bad part. */
export function validateFilter(f: unknown, at = ""): { path: string; message: string }[] {
  if (checkShape.Check(f)) return semantic(f as Filter, at);
  // A union's errors are unhelpful at the root: walk down ourselves to the first bad part.
  return [explain(f, at)];
}

function explain(f: unknown, at: string): { path: string; message: string } {
  if (!f || typeof f !== "object" || Array.isArray(f)) return { path: at, message: "must be an object: {all}, {any}, {not} or {field, op, value}" };
  const o = f as Record<string, unknown>;
  for (const k of ["all", "any"] as const)
    if (k in o) {
      if (!Array.isArray(o[k]) || !(o[k] as unknown[]).length) return { path: `${at}/${k}`, message: "must be a non-empty array of filters" };
      for (let i = 0; i < (o[k] as unknown[]).length; i++) {
        const sub = validateFilter((o[k] as unknown[])[i], `${at}/${k}/${i}`);
        if (sub.length) return sub[0];
      }
      return { path: at, message: `${k} must be the only key` };
    }
  if ("not" in o) {
    const sub = validateFilter(o.not, `${at}/not`);
    return sub[0] ?? { path: at, message: "not must be the only key" };
  }
  if (typeof o.field !== "string" || !new RegExp(`^(${FIELDS.join("|")}|payload(\\.[^.\\s]+)+)$`).test(o.field))
    return { path: `${at}/field`, message: `must be one of ${FIELDS.join(", ")} or payload.<path>` };
  if (!OPS.includes(o.op as never)) return { path: `${at}/op`, message: `must be one of ${OPS.join(", ")}` };
  const extra = Object.keys(o).find((k) => !["field", "op", "value"].includes(k));
  if (extra) return { path: `${at}/${extra}`, message: "unknown key" };
  return { path: `${at}/value`, message: "must be a string, number, boolean or an array of them" };
}

function semantic(f: Filter, at: string): { path: string; message: string }[] {
  if ("all" in f) return f.all.flatMap((x, i) => semantic(x, `${at}/all/${i}`));
  if ("any" in f) return f.any.flatMap((x, i) => semantic(x, `${at}/any/${i}`));
  if ("not" in f) return semantic(f.not, `${at}/not`);
  const c = f as Cond;
  const p = `${at}/value`;
  if (c.op === "exists") return c.value === undefined || typeof c.value === "boolean" ? [] : [{ path: p, message: "exists takes true, false or nothing" }];
  if (c.value === undefined) return [{ path: p, message: `${c.op} needs a value` }];
  if (c.op === "in") return Array.isArray(c.value) ? [] : [{ path: p, message: "in needs an array" }];
  if (Array.isArray(c.value)) return [{ path: p, message: `${c.op} takes one value, not an array` }];
  if (c.op === "regex") {
    const problem = regexProblem(String(c.value));
    if (problem) return [{ path: p, message: problem }];
  }
  if ((c.op === "gte" || c.op === "lte") && c.field === "severity" && !isSeverity(String(c.value)))
    return [{ path: p, message: `must be a severity: ${Object.keys(SEVERITY_RANK).join(", ")}` }];
  if ((c.op === "gte" || c.op === "lte") && c.field !== "severity" && typeof c.value !== "number")
    return [{ path: p, message: `${c.op} compares numbers` }];
  return [];
}

/** What a filter is evaluated on: the normalized fields plus the payload. */
export type Matchable = {
  type: string;
  source: string;
  sourceName: string;
  module: string;
  title: string;
  summary: string;
  severity: string;
  host: string | null;
  tags: string[];
  payload: unknown;
};

export function fieldValue(e: Matchable, field: string): unknown {
  if (field.startsWith("payload.")) {
    let v: unknown = e.payload;
    for (const k of field.slice(8).split(".")) {
      // own properties only: `payload.constructor` or `payload.__proto__` name a key of the
      // sender's JSON, never what every object inherits
      if (v === null || typeof v !== "object" || !Object.hasOwn(v, k)) return undefined;
      v = (v as Record<string, unknown>)[k];
    }
    return v;
  }
  if (field === "source_name") return e.sourceName;
  return Object.hasOwn(e, field) ? (e as Record<string, unknown>)[field] : undefined;
}

// User patterns (op "regex") run on RE2 (re2js, pure JS): matching takes time linear in the input,
// whatever the pattern, so no pattern can stall the writer (no catastrophic backtracking). The
// syntax is RE2's: no lookahead/lookbehind, no backreferences, repeat counts up to 1000.

/** Largest compiled program a pattern may have (instructions); each costs time per input character. */
export const MAX_REGEX_PROGRAM = 5000;

function compileRegex(s: string): RE2JS {
  const r = RE2JS.compile(s);
  const size = r.re2().prog.numInst();
  if (size > MAX_REGEX_PROGRAM) throw new Error(`pattern is too large (${size} instructions compiled, at most ${MAX_REGEX_PROGRAM}): use fewer or smaller repeats`);
  return r;
}

/** Why a pattern is refused (invalid, or a feature RE2 does not have), or null when it is fine. */
export function regexProblem(s: string): string | null {
  try {
    compileRegex(s);
    return null;
  } catch (e) {
    const msg = String((e as Error).message ?? e).replace(/^error parsing regexp: /, "");
    let hint = "";
    if (/\\(?:[1-9]|k<)/.test(s)) hint = "backreferences are not supported; ";
    else if (/\(\?<?[=!]/.test(s)) hint = "lookahead and lookbehind are not supported; ";
    else if (/[+*?}][+]/.test(s)) hint = "possessive quantifiers are not supported; ";
    return `not a supported regular expression (RE2 syntax, linear-time matching): ${hint}${msg}`;
  }
}

/** Compiled patterns, each compiled once; null = refused (a rule stored before RE2 that uses JS-only syntax matches nothing). */
const regexCache = new Map<string, RE2JS | null>();
function re(s: string): RE2JS | null {
  let r = regexCache.get(s);
  if (r === undefined) {
    if (regexCache.size >= 1000) regexCache.clear();
    try {
      r = compileRegex(s);
    } catch {
      r = null;
    }
    regexCache.set(s, r);
  }
  return r;
}

export function matches(f: Filter, e: Matchable): boolean {
  if ("all" in f) return f.all.every((x) => matches(x, e));
  if ("any" in f) return f.any.some((x) => matches(x, e));
  if ("not" in f) return !matches(f.not, e);
  const c = f as Cond;
  const v = fieldValue(e, c.field);
  const eq = (a: unknown, b: unknown) => (Array.isArray(a) ? a.some((x) => x === b) : a === b || (a != null && b != null && String(a) === String(b)));
  switch (c.op) {
    case "exists":
      return (v !== undefined && v !== null) === (c.value ?? true);
    case "eq":
      return eq(v, c.value);
    case "neq":
      return !eq(v, c.value);
    case "in":
      return (c.value as unknown[]).some((x) => eq(v, x));
    case "contains":
      return Array.isArray(v) ? v.some((x) => x === c.value) : typeof v === "string" && v.includes(String(c.value));
    case "prefix":
      return typeof v === "string" && v.startsWith(String(c.value));
    case "regex":
      return typeof v === "string" && (re(String(c.value))?.test(v) ?? false);
    case "gte":
    case "lte": {
      let a: number;
      let b: number;
      if (c.field === "severity") {
        a = severityRank(v) ?? -1;
        b = severityRank(c.value) ?? NaN;
      } else {
        a = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
        b = Number(c.value);
      }
      if (!Number.isFinite(a) || a < 0) return false;
      return c.op === "gte" ? a >= b : a <= b;
    }
  }
}
