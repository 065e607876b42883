// The source plugin contract. A source is one file exporting a SourcePlugin, registered in
// registry.ts; routing, auth, limits and storage know nothing about any particular source.
import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { describeError as schemaMessage } from "../http/validation";
import type { IndicatorOrigin } from "../core/event";
import type { Indicator } from "../core/indicators";
import type { Severity } from "../core/severity";

/** One problem with one item: a JSON pointer into the item and what is wrong there. */
export type ItemIssue = { path: string; message: string };

/** What a plugin derives from one item; the ingest path adds ids, tenant and times. */
export type NormalizedFields = {
  occurredAt: number | null;
  source: string;
  type: string;
  module: string;
  title: string;
  summary: string;
  severity: Severity;
  severityRaw: string | null;
  host: string | null;
  tags: string[];
  payload: unknown;
  dedupKey: string | null;
  externalId: string | null;
  indicators: (Indicator & { origin: IndicatorOrigin })[];
  warnings: string[];
  resolve: boolean;
};

export type SourcePlugin = {
  name: string;
  /** one line for GET /v1/sources */
  describe: string;
  /**
   * `alert` sources (POST /v1/ingest/:name) open alerts for every item; `connector` sources
   * (POST /api/v1/webhooks/:name) and the `event` envelope leave that to rules
   */
  kind: "alert" | "event" | "connector";
  /** a quick guess whether an item has this source's shape, to name the right route in a 422 */
  looksLike?(item: Record<string, unknown>): boolean;
  /** the fields the plugin reads and what each becomes, for GET /v1/sources */
  fields: { path: string; maps_to: string; note?: string }[];
  /** the typebox schema of one item (documentation and validation) */
  schema: TSchema;
  /**
   * A request's body is one item or an array of items; each is validated as a whole (so error
   * pointers point into what the sender sent). A source whose documents carry several alerts
   * (Alertmanager's `alerts[]`) then expands a valid item into one sub-item per event here; each
   * sub-item is normalized and stored as that event's raw payload.
   */
  expand?(item: any): unknown[];
  /** Checks one item; an empty list means it can be normalized. */
  validate(item: unknown): ItemIssue[];
  normalize(item: any, receivedAt: number): NormalizedFields;
};

/**
 * A compiled typebox check that reports the first problem at each JSON pointer, in a sentence
 * a sender can act on.
 */
export function schemaValidator(schema: TSchema): (item: unknown) => ItemIssue[] {
  const check: TypeCheck<TSchema> = TypeCompiler.Compile(schema);
  return (item) => {
    if (check.Check(item)) return [];
    const seen = new Set<string>();
    const out: ItemIssue[] = [];
    for (const e of check.Errors(item)) {
      if (seen.has(e.path)) continue;
      seen.add(e.path);
      out.push({ path: e.path, message: describeError(e.message, e.schema, e.value) });
      if (out.length >= 20) break;
    }
    return out;
  };
}

function describeError(msg: string, schema: any, value: unknown): string {
  if (value === undefined) return "is required";
  if (schema?.maxLength !== undefined && typeof value === "string" && value.length > schema.maxLength)
    return `is longer than ${schema.maxLength} characters`;
  if (schema?.maxItems !== undefined && Array.isArray(value) && value.length > schema.maxItems)
    return `has more than ${schema.maxItems} items`;
  if (schema?.anyOf && schema.anyOf.every((s: any) => s.const !== undefined))
    return `must be one of ${schema.anyOf.map((s: any) => JSON.stringify(s.const)).join(", ")}`;
  // the range, length or values the schema allows, and what was sent (the API's 422 wording)
  if (schema && typeof schema === "object" && !(schema.type === "object" && schema.additionalProperties === false)) return schemaMessage(schema, value);
  return msg.charAt(0).toLowerCase() + msg.slice(1);
}

/** Escapes one JSON pointer segment. */
export const ptr = (...segs: (string | number)[]) =>
  segs.map((s) => "/" + String(s).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
