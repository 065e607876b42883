// Time and schedule wording for the on-call pages: relative times ("3 min ago", "in 2 h") in a
// <time> element whose title is the absolute UTC time, and periods in words ("every day").
// Relative to the server's clock (deps.clock()), so a test with a controlled clock sees fixed text.
import { parseTime } from "../lib/time";
import { html, type Html } from "./html";

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;

/** "just now", "42 s", "3 min", "5 h", "2 d" for a duration in ms (no sign). */
export function span(ms: number): string {
  const a = Math.abs(ms);
  if (a < 60 * S) return `${Math.max(1, Math.floor(a / S))} s`;
  if (a < H) return `${Math.floor(a / MIN)} min`;
  if (a < 48 * H) return `${Math.floor(a / H)} h`;
  return `${Math.floor(a / D)} d`;
}

/** "3 min ago" or "in 3 min" from `now`. */
export function relative(at: number, now: number): string {
  const d = at - now;
  if (Math.abs(d) < 5 * S) return "just now";
  return d < 0 ? `${span(d)} ago` : `in ${span(d)}`;
}

const absolute = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

const toMs = (v: string | number | null | undefined): number | null =>
  v === null || v === undefined || v === "" ? null : typeof v === "number" ? v : Date.parse(v);

/** A time as "3 min ago" with the absolute UTC time on hover (title) and in datetime. */
export function ago(v: string | number | null | undefined, now: number): Html {
  const ms = toMs(v);
  if (ms === null || !Number.isFinite(ms)) return html`<span class="muted">—</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time class="rel" datetime="${iso}" title="${absolute(ms)}">${relative(ms, now)}</time>`;
}

const UNITS: [number, string][] = [
  [7 * 24 * 3600, "week"],
  [24 * 3600, "day"],
  [3600, "hour"],
  [60, "minute"],
  [1, "second"],
];

/** A period in seconds in words: 86400 → "every day", 300 → "every 5 minutes", 90 → "every 90 seconds". */
export function everyWords(seconds: number): string {
  for (const [n, unit] of UNITS)
    if (seconds >= n && seconds % n === 0) {
      const k = seconds / n;
      return k === 1 ? `every ${unit}` : `every ${k} ${unit}s`;
    }
  return `every ${seconds} seconds`;
}

/** A duration in seconds in words: 60 → "1 minute", 3600 → "1 hour", 90 → "90 seconds". */
export function durationWords(seconds: number): string {
  for (const [n, unit] of UNITS)
    if (seconds >= n && seconds % n === 0) {
      const k = seconds / n;
      return `${k} ${unit}${k === 1 ? "" : "s"}`;
    }
  return `${seconds} seconds`;
}

/** Quick ranges for time filters: "1h", "24h", "7d" → ms. */
export const LAST: Record<string, number> = { "15m": 15 * MIN, "1h": H, "6h": 6 * H, "24h": D, "7d": 7 * D, "30d": 30 * D };

/**
 * A time-filter value as epoch ms: an ISO date or date-time, epoch ms or s, or a quick range
 * ("1h", "24h", "7d", also "last 1 h") meaning that long before `now`. Null when it is none of these.
 */
export function timeFilter(v: string | undefined, now: number): number | null {
  if (!v) return null;
  const m = /^(?:last\s*)?(\d{1,4})\s*(m|min|h|d)$/i.exec(v.trim());
  if (m) {
    const unit = m[2].toLowerCase();
    return now - Number(m[1]) * (unit === "d" ? D : unit === "h" ? H : MIN);
  }
  const t = parseTime(v);
  return t ? t.ms : null;
}
