// The built executable reads <SOURCE>_WEBHOOK_SECRET from its environment; a bad one stops it
// with one line (exit 2) that never prints the secret. A URL token never reaches its log.
import { afterAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { killSpawned, runBinary, startBinary, tempDir } from "../helpers";

const dirs: string[] = [];
const fresh = () => {
  const d = tempDir("kw-sig-bin-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  killSpawned();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test("GRAFANA_WEBHOOK_SECRET in the environment: unsigned Grafana notifications are refused, signed ones stored", async () => {
  const secret = "grafana-binary-secret-42";
  const s = await startBinary(fresh(), ["--log-level", "debug"], { GRAFANA_WEBHOOK_SECRET: secret });
  const body = readFileSync(join(import.meta.dir, "..", "fixtures", "grafana", "firing.json"), "utf8");
  const post = (headers: Record<string, string>) =>
    fetch(`${s.url}/v1/ingest/grafana`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": s.ingestKey, ...headers }, body });
  const unsigned = await post({});
  expect(unsigned.status).toBe(401);
  expect(((await unsigned.json()) as any).error.code).toBe("missing_signature");
  const sig = createHmac("sha256", secret).update(body).digest("hex");
  expect((await post({ "X-Grafana-Alerting-Signature": sig })).status).toBe(202);

  // a URL token used and refused: the log never holds it
  const created = (await (
    await fetch(`${s.url}/v1/sources/generic/tokens`, { method: "POST", headers: { "x-api-key": s.adminKey, "content-type": "application/json" }, body: "{}" })
  ).json()) as any;
  expect(created.url).toStartWith(`${s.url}/v1/ingest/generic?token=`);
  const sent = await fetch(created.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: "t" }) });
  expect(sent.status).toBe(202);
  expect((await fetch(`${s.url}/v1/ingest/grafana?token=${created.token}`, { method: "POST", headers: { "content-type": "application/json" }, body })).status).toBe(403);
  s.proc.kill("SIGTERM");
  expect(await s.proc.exited).toBe(0);
  const log = s.stdout() + (await new Response(s.proc.stderr).text());
  expect(log).toContain("keepwatch listening");
  expect(log).not.toContain(created.token);
  expect(log).not.toContain(secret);
});

test("a bad environment secret stops start-up: exit 2, one line naming the variable, no secret printed", async () => {
  const r = await runBinary(["serve", "--port", "0", "--data-dir", fresh()], { GENERIC_WEBHOOK_SECRET: "short-one" });
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n").length).toBe(1);
  expect(r.stderr).toContain("GENERIC_WEBHOOK_SECRET: must be at least 16 characters");
  expect(r.stderr).not.toContain("short-one");
});
