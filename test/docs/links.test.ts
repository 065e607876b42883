// Every relative link and anchor in README.md and docs/*.md resolves: the file exists, and a
// #fragment names a heading of that file (GitHub's slugs, via github-slugger). Links inside code
// blocks and inline code are not links; absolute http(s)/mailto links are left to the reader.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import GithubSlugger from "github-slugger";

const ROOT = join(import.meta.dir, "..", "..");
const FILES = [
  join(ROOT, "README.md"),
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(ROOT, "docs", f)),
];

/** The text outside fenced code blocks, with inline code spans blanked. */
function prose(md: string): string[] {
  const out: string[] = [];
  let fence = false;
  for (const line of md.split("\n")) {
    if (/^\s*```/.test(line)) {
      fence = !fence;
      continue;
    }
    out.push(fence ? "" : line.replace(/`[^`]*`/g, (m) => " ".repeat(m.length)));
  }
  return out;
}

/** The anchors GitHub gives the headings of a markdown file. */
function anchors(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const set = new Set<string>();
  let fence = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (/^\s*```/.test(line)) fence = !fence;
    const m = !fence && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m) set.add(slugger.slug(m[1].replace(/`/g, "")));
  }
  return set;
}

const LINK = /!?\[(?:[^\]]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;

function links(file: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  prose(readFileSync(file, "utf8")).forEach((text, i) => {
    for (const m of text.matchAll(LINK)) found.push({ line: i + 1, target: m[1] });
  });
  return found;
}

test("README and every docs page link to files and headings that exist", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of FILES) {
    for (const { line, target } of links(file)) {
      if (/^(https?:|mailto:)/.test(target)) continue;
      checked++;
      const [path, frag] = target.split("#", 2);
      const dest = path === "" ? file : resolve(dirname(file), decodeURI(path));
      const where = `${relative(ROOT, file)}:${line} → ${target}`;
      if (!existsSync(dest)) {
        broken.push(`${where}: no such file`);
        continue;
      }
      if (frag !== undefined) {
        if (!dest.endsWith(".md") || statSync(dest).isDirectory()) broken.push(`${where}: anchor on a non-markdown target`);
        else if (!anchors(dest).has(decodeURIComponent(frag))) broken.push(`${where}: no heading #${frag}`);
      }
    }
  }
  expect(broken).toEqual([]);
  expect(checked).toBeGreaterThan(20); // the README's table of contents alone links every page
});

test("every docs page is linked from the README, and every screenshot linked exists", () => {
  const readme = links(join(ROOT, "README.md")).map((l) => l.target.split("#")[0]);
  for (const file of FILES.slice(1)) expect(readme).toContain(relative(ROOT, file));
  const images = FILES.flatMap((f) => links(f).map((l) => resolve(dirname(f), l.target.split("#")[0])))
    .filter((p) => p.endsWith(".png"));
  expect(images.length).toBeGreaterThan(3);
  for (const p of images) expect(existsSync(p)).toBe(true);
});

test("the checker itself finds a broken file, a broken anchor and a good anchor", () => {
  // Slugs of headings as they are written in these docs (backticks, punctuation, em dashes).
  const slugger = new GithubSlugger();
  expect(slugger.slug("Running on PostgreSQL (in progress)")).toBe("running-on-postgresql-in-progress");
  expect(slugger.slug("Heartbeats (dead-man's switches)")).toBe("heartbeats-dead-mans-switches");
  expect(anchors(join(ROOT, "docs", "operations.md")).has("layout")).toBe(true);
  expect(anchors(join(ROOT, "docs", "operations.md")).has("no-such-heading")).toBe(false);
  expect([...prose("a `[x](nope.md)` b\n```\n[y](nope.md)\n```\n[z](ok.md)").join("\n").matchAll(LINK)].map((m) => m[1])).toEqual(["ok.md"]);
});
