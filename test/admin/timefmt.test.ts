// Relative times, periods in words and the time filters of the on-call pages.
import { expect, test } from "bun:test";
import { ago, durationWords, everyWords, relative, timeFilter } from "../../src/admin/timefmt";

const NOW = Date.parse("2026-12-01T12:00:00Z");

test("relative times walk every unit in both directions", () => {
  const cases: [number, string][] = [
    [0, "just now"], [4_000, "just now"], [42_000, "42 s"], [3 * 60_000, "3 min"], [59 * 60_000 + 59_000, "59 min"],
    [3_600_000, "1 h"], [47 * 3_600_000, "47 h"], [48 * 3_600_000, "2 d"], [400 * 86_400_000, "400 d"],
  ];
  for (const [d, words] of cases) {
    expect(relative(NOW - d, NOW)).toBe(words === "just now" ? words : `${words} ago`);
    expect(relative(NOW + d, NOW)).toBe(words === "just now" ? words : `in ${words}`);
  }
});

test("a <time> with the absolute UTC time in title and datetime, a dash for nothing", () => {
  expect(ago(NOW - 180_000, NOW).value).toBe('<time class="rel" datetime="2026-12-01T11:57:00.000Z" title="2026-12-01 11:57:00 UTC">3 min ago</time>');
  expect(ago("2026-12-01T11:00:00.000Z", NOW).value).toContain(">1 h ago<");
  for (const v of [null, undefined, "", "not a date"]) expect(ago(v, NOW).value).toContain("—");
});

test("periods and durations in words", () => {
  const cases: [number, string, string][] = [
    [1, "every second", "1 second"], [90, "every 90 seconds", "90 seconds"], [60, "every minute", "1 minute"], [300, "every 5 minutes", "5 minutes"],
    [3600, "every hour", "1 hour"], [7200, "every 2 hours", "2 hours"], [86400, "every day", "1 day"], [604800, "every week", "1 week"], [1209600, "every 2 weeks", "2 weeks"],
  ];
  for (const [s, every, dur] of cases) expect([everyWords(s), durationWords(s)]).toEqual([every, dur]);
});

test("time filters: quick ranges, dates and epochs; anything else is null", () => {
  const H = 3_600_000;
  const ok: [string, number][] = [
    ["1h", NOW - H], ["24h", NOW - 24 * H], ["7d", NOW - 7 * 24 * H], ["15m", NOW - 15 * 60_000], ["last 1 h", NOW - H], ["Last 7 D", NOW - 7 * 24 * H],
    ["2026-11-30T00:00:00Z", Date.parse("2026-11-30T00:00:00Z")], ["2026-11-30T10:00", Date.parse("2026-11-30T10:00:00Z")], ["1764547200", 1764547200000],
  ];
  for (const [v, ms] of ok) expect({ v, ms: timeFilter(v, NOW) }).toEqual({ v, ms });
  for (const v of ["yesterday", "1y", "h", "-1h", "2026-13-45", "1h; drop"]) expect({ v, ms: timeFilter(v, NOW) }).toEqual({ v, ms: null });
});
