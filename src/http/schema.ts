// Schema helpers for request bodies (typebox via Elysia's `t`).
import { t } from "elysia";

type EnumValues = [string, ...string[]] | readonly [string, ...string[]];

/**
 * `t.UnionEnum` without a default. Elysia gives every UnionEnum its first member as `default`,
 * and fills a request body's missing field with it before the handler runs: a `PATCH {}` would
 * silently reset the field (a webhook's mode to `immediate`, its state to `active`). Every enum
 * in a request schema uses this instead; test/modules/patch-walk.test.ts checks that no request
 * body in /openapi.json carries a default and that an edit changes only the fields it names.
 */
export function Enum<const T extends EnumValues>(values: T, options: Parameters<typeof t.UnionEnum>[1] = {}) {
  const s = t.UnionEnum(values, options);
  delete (s as { default?: unknown }).default;
  return s;
}
