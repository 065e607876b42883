// The 422 of an ingest item names what is allowed too: walks the typebox schema of the sources
// with object-shaped items (every bounded number, string and array, every enum) and posts each bad
// value alone in an otherwise valid item to the source's route.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getSource, routeOf } from "../../src/sources/registry";
import { event, startTestServer, type TestServer } from "../helpers";
import { probesOf, type Probe } from "../schema-probes";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const fixture = (src: string, name: string) => JSON.parse(readFileSync(join(import.meta.dir, "..", "fixtures", src, name), "utf8"));

const BASES: Record<string, () => any> = {
  events: () => event(1),
  generic: () => ({ title: "t" }),
  syslog: () => ({ source: "s", message: "m" }),
  alertmanager: () => fixture("alertmanager", "firing.json"),
  grafana: () => fixture("grafana", "firing.json"),
  splunk: () => fixture("splunk", "brute-force.json"),
};

function withValue(base: any, pointer: string, value: unknown): any {
  const segs = pointer.split("/").slice(1);
  let x = base;
  segs.forEach((k, i) => {
    if (i === segs.length - 1) x[k] = value;
    else x = x[k] ??= segs[i + 1] === "0" ? [] : {};
  });
  return base;
}

test("every bounded or enumerated field of events, generic, syslog, alertmanager, grafana and splunk items: the detail names the bound", async () => {
  const failures: string[] = [];
  let checked = 0;
  for (const [name, base] of Object.entries(BASES)) {
    const plugin = getSource(name)!;
    const probes: Probe[] = [];
    probesOf(JSON.parse(JSON.stringify(plugin.schema)), "", probes);
    for (const p of probes.filter((x) => !x.pointer.endsWith("/zz_unknown_field"))) {
      let body = base();
      for (const [ptr, v] of p.also ?? []) body = withValue(body, ptr, v);
      body = withValue(body, p.pointer, p.value);
      const r = await s.post(routeOf(plugin), body);
      const label = `${name} ${p.pointer} = ${JSON.stringify(p.value).slice(0, 40)}`;
      if (r.status !== 422) {
        failures.push(`${label}: status ${r.status}`);
        continue;
      }
      const d = ((await r.json()) as any).error.details.find((x: any) => x.path === p.pointer);
      if (!d) failures.push(`${label}: no detail at the pointer`);
      else {
        const missing = p.mustName.filter((w) => !d.message.includes(w));
        if (missing.length) failures.push(`${label}: "${d.message}" does not name ${missing.join(", ")}`);
        if (/union value|expected /i.test(d.message)) failures.push(`${label}: "${d.message}" is the validator's sentence`);
      }
      checked++;
    }
  }
  expect(failures).toEqual([]);
  console.log(`ingest messages: ${checked} probes`);
  expect(checked).toBeGreaterThan(40);
});
