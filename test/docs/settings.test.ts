// Every setting is documented with the default the code has: docs/operations.md's configuration
// table lists every flag of src/config.ts (SETTINGS) with its variable and default, and every
// other table that lists a setting (the README's essentials, the settings tables of the other docs
// pages) gives the same default. A default changed in the code and not in the docs fails here.
import { describe, expect, test } from "bun:test";
import { ConfigSchema, parseSize, SETTINGS } from "../../src/config";

const root = `${import.meta.dir}/../..`;
const read = (p: string) => Bun.file(`${root}/${p}`).text();

/** `| a | b | c |` table rows of a markdown text, as cells (header and rule rows included) */
function rows(md: string): string[][] {
  return md
    .split("\n")
    .filter((l) => l.startsWith("|"))
    .map((l) =>
      l
        .slice(1, l.endsWith("|") ? -1 : undefined)
        .split("|")
        .map((c) => c.trim()),
    );
}

/** the first `code` span of a cell, or null */
const code = (cell: string) => /`([^`]*)`/.exec(cell)?.[1] ?? null;

/** the schema's default of a setting as documented: a size in bytes may be written 1MiB */
function sameDefault(doc: string, value: unknown): boolean {
  if (typeof value === "number") return Number(doc) === value || parseSize(doc) === value;
  return doc === String(value);
}

const schema = ConfigSchema.properties as Record<string, { default?: unknown }>;
const names = Object.keys(SETTINGS) as (keyof typeof SETTINGS)[];

describe("settings in the docs", () => {
  test("docs/operations.md lists every setting with its flag, its variable and the code's default", async () => {
    const table = rows(await read("docs/operations.md")).filter((r) => r.length >= 4);
    for (const name of names) {
      const { flag, env } = SETTINGS[name];
      const row = table.find((r) => code(r[0]!) === flag);
      expect({ name, row: row ? "found" : "missing" }).toEqual({ name, row: "found" });
      expect({ name, env: code(row![1]!) }).toEqual({ name, env });
      const d = schema[name]!.default;
      // a setting without a fixed default (none, or derived from another) says what it is in words
      if (d === undefined || d === "") continue;
      const doc = code(row![2]!);
      expect({ name, doc, same: doc !== null && sameDefault(doc, d) }).toEqual({ name, doc, same: true });
    }
  });

  test("every other table that names a setting (README, every docs page) gives the code's default", async () => {
    const files = ["README.md", ...[...new Bun.Glob("docs/*.md").scanSync(root)].filter((f) => f !== "docs/operations.md")];
    let seen = 0;
    for (const f of files) {
      for (const r of rows(await read(f))) {
        for (const name of names) {
          const { flag, env } = SETTINGS[name];
          // a settings row: | --flag | ENV | default | … | or | ENV | default | … | (a row that
          // only mentions a setting further on is not one)
          const at = r[0] === `\`${flag}\`` || r[0] === `\`${env}\`` ? 0 : -1;
          if (at < 0 || r.length < at + 2) continue;
          const next = code(r[at + 1]!) === env ? at + 2 : at + 1;
          if (next >= r.length) continue;
          const d = schema[name]!.default;
          const cell = r[next]!;
          const doc = code(cell) ?? cell.split(" ")[0]!;
          seen++;
          if (d === undefined || d === "") continue;
          expect({ file: f, name, doc, same: sameDefault(doc, d) }).toEqual({ file: f, name, doc, same: true });
        }
      }
    }
    // the README's essentials and the webhook settings of docs/notifications.md at least
    expect(seen).toBeGreaterThanOrEqual(8);
  });
});
