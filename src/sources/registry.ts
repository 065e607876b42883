// Every inbound source, by name. Adding a source: one file in this folder plus a line here.
import type { SourcePlugin } from "./types";
import { generic } from "./generic";
import { eventsEnvelope } from "./events";
import { alertmanager } from "./alertmanager";
import { syslog } from "./syslog";
import { grafana } from "./grafana";
import { sentinel } from "./sentinel";
import { elastic } from "./elastic";
import { splunk } from "./splunk";
import { jsonapiList } from "./jsonapi-list";

const all: SourcePlugin[] = [generic, eventsEnvelope, alertmanager, grafana, sentinel, elastic, splunk, syslog, jsonapiList];

const byName = new Map(all.map((s) => [s.name, s]));

// The catch-all shapes (generic: anything with a title) are guessed last, so that a vendor's
// payload that happens to carry a `title` is named as that vendor's.
const guessOrder = [...all.filter((s) => s !== generic), generic];

export function getSource(name: string): SourcePlugin | undefined {
  return byName.get(name);
}

/** Sources reachable on POST /v1/ingest/:source (alert sources). */
export function alertSourceNames(): string[] {
  return all.filter((s) => s.kind === "alert").map((s) => s.name);
}

export function connectorNames(): string[] {
  return all.filter((s) => s.kind === "connector").map((s) => s.name);
}

export function listSources(): SourcePlugin[] {
  return all;
}

/** The route for a source's payloads. */
export function routeOf(s: SourcePlugin): string {
  return s.kind === "alert" ? `/v1/ingest/${s.name}` : s.kind === "connector" ? `/api/v1/webhooks/${s.name}` : "/api/v1/events";
}

/** Another source whose shape an item has, to name the right route when it came to the wrong one. */
export function guessSource(item: unknown, not: string): SourcePlugin | undefined {
  if (!item || typeof item !== "object" || Array.isArray(item)) return undefined;
  return guessOrder.find((s) => s.name !== not && s.looksLike?.(item as Record<string, unknown>));
}
