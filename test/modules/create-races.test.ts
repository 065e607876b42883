// Creates that race for one unique name (two replicas, or two requests a few awaits apart in one
// process): exactly one is created, every other answer is 409 naming the conflict, never a 500,
// on both stores. Each round sends RACERS identical creates at once; the class is every create
// whose name is unique per tenant (watchlists, enrichers).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ outboundAllow: "127.0.0.0/8" }); // the enricher template points at 127.0.0.1
});
afterAll(() => s?.close());

const RACERS = 12;
const ROUNDS = 5;
const creates: Record<string, (name: string) => unknown> = {
  "/v1/watchlists": (name) => ({ name, entries: [{ kind: "cidr", value: "203.0.113.0/24" }] }),
  "/v1/enrichers": (name) => ({ name, indicator_types: ["ip"], url_template: "http://127.0.0.1:9/ip/{{value}}", active: false }),
};

for (const [path, body] of Object.entries(creates)) {
  test(`POST ${path}: ${RACERS} identical creates at once, ${ROUNDS} rounds: one 201, the rest 409, one row`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `race-${round}`;
      const answers = await Promise.all(Array.from({ length: RACERS }, () => s.admin("POST", path, body(name))));
      const statuses = answers.map((r) => r.status).sort();
      expect({ round, statuses }).toEqual({ round, statuses: [201, ...Array(RACERS - 1).fill(409)] });
      for (const r of answers.filter((a) => a.status === 409)) expect(((await r.json()) as any).error.code).toBe("conflict");
      const list = ((await (await s.admin("GET", path)).json()) as any).items.filter((x: any) => x.name === name);
      expect(list).toHaveLength(1);
    }
  });
}
