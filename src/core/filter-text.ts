// A filter as one line of readable text (the rules list, the heartbeat detail):
//   type = "deploy.failed" and payload.env = "prod"
//   severity ≥ high or (source in ["a", "b"] and not (tags contains "noise"))
// Values are quoted JSON, so text from senders cannot pass for an operator. Pure.
import type { Filter } from "./filter";

const OP_TEXT: Record<string, string> = { eq: "=", neq: "≠", in: "in", contains: "contains", prefix: "starts with", regex: "matches", gte: "≥", lte: "≤" };

const q = (v: unknown) => JSON.stringify(v);

export function filterText(f: unknown, nested = false): string {
  if (!f || typeof f !== "object") return q(f);
  const o = f as Record<string, unknown>;
  const group = (items: unknown[], word: string) => {
    const s = items.map((x) => filterText(x, true)).join(` ${word} `);
    return nested && items.length > 1 ? `(${s})` : s;
  };
  if (Array.isArray(o.all)) return group(o.all, "and");
  if (Array.isArray(o.any)) return group(o.any, "or");
  if ("not" in o) return `not (${filterText(o.not)})`;
  const c = o as { field?: unknown; op?: unknown; value?: unknown };
  if (c.op === "exists") return c.value === false ? `${c.field} is missing` : `${c.field} exists`;
  return `${c.field} ${OP_TEXT[String(c.op)] ?? String(c.op)} ${q(c.value)}`;
}

/** The conditions of a filter the simple builder can show (one condition, or all/any of plain conditions), or null. */
export function simpleFilter(f: Filter | unknown): { match: "all" | "any"; conditions: { field: string; op: string; value: unknown }[] } | null {
  if (!f || typeof f !== "object") return null;
  const o = f as Record<string, unknown>;
  const plain = (x: unknown): x is { field: string; op: string; value: unknown } => !!x && typeof x === "object" && "field" in x && "op" in x;
  if (plain(o)) return { match: "all", conditions: [o] };
  for (const k of ["all", "any"] as const) if (Array.isArray(o[k]) && (o[k] as unknown[]).every(plain)) return { match: k, conditions: o[k] as { field: string; op: string; value: unknown }[] };
  return null;
}
