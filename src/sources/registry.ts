// Every inbound source, by name. Adding a source: one file in this folder plus a line here.
import type { SourcePlugin } from "./types";
import { generic } from "./generic";
import { eventsEnvelope } from "./events";
import { alertmanager } from "./alertmanager";

const all: SourcePlugin[] = [generic, eventsEnvelope, alertmanager];

const byName = new Map(all.map((s) => [s.name, s]));

export function getSource(name: string): SourcePlugin | undefined {
  return byName.get(name);
}

/** Sources reachable on POST /v1/ingest/:source (alert sources). */
export function alertSourceNames(): string[] {
  return all.filter((s) => s.kind === "alert").map((s) => s.name);
}

export function listSources(): SourcePlugin[] {
  return all;
}
