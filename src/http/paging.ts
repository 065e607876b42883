// Keyset pagination and time parameters shared by the list endpoints.
import { isUlid } from "../lib/ids";
import { parseTime } from "../lib/time";
import { ApiError } from "./errors";

/** A cursor is the id of the last row of the previous page; anything else is a 422. */
export function checkCursor(cursor: string | undefined): string | undefined {
  if (cursor !== undefined && !isUlid(cursor))
    throw new ApiError(422, "invalid_query", "cursor is not one this API returned", [{ path: "/cursor", message: "invalid cursor" }]);
  return cursor;
}

/** A query parameter holding a time (ISO 8601 or epoch), as milliseconds. */
export function timeParam(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = parseTime(v);
  if (!t) throw new ApiError(422, "invalid_query", `${name} is not a timestamp`, [{ path: `/${name}`, message: "expected ISO 8601 or epoch" }]);
  return t.ms;
}

/** Cuts a list fetched with limit + 1 into a page and the cursor of the next one. */
export function page<R extends { id: string }, V>(rows: R[], limit: number, view: (r: R) => V): { items: V[]; next_cursor: string | null } {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items: items.map(view), next_cursor: more ? items[items.length - 1].id : null };
}
