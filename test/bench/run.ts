// `make bench`: every benchmark in turn. Each prints its figures as ratios against a baseline
// measured in the same run, with the machine it ran on.
import { existsSync } from "node:fs";
import { join } from "node:path";

const scripts = ["ingest.ts", "fairness.ts", "sources.ts", "deliveries.ts", "rules.ts", "heartbeats.ts", "soak.ts", "postgres.ts", "replicas.ts"].filter((f) =>
  existsSync(join(import.meta.dir, f)),
);
let failed = 0;
for (const s of scripts) {
  const p = Bun.spawn([process.execPath, join(import.meta.dir, s)], { stdout: "inherit", stderr: "inherit", env: process.env });
  const code = await p.exited;
  if (code !== 0) {
    console.error(`benchmark ${s} failed with exit code ${code}`);
    failed++;
  }
  console.log("");
}
process.exit(failed ? 1 : 0);
