// The normalized event: what every source plugin produces and the store keeps.
import type { Matchable } from "./filter";
import type { Indicator } from "./indicators";
import type { Severity } from "./severity";

export type IndicatorOrigin = "explicit" | "system" | "custom";

export type NormalizedEvent = {
  id: string;
  tenantId: string;
  receivedAt: number;
  occurredAt: number;
  /** the route's source plugin or connector */
  sourceName: string;
  /** the sender's own stable name */
  source: string;
  type: string;
  module: string;
  title: string;
  summary: string;
  severity: Severity;
  severityRaw: string | null;
  host: string | null;
  tags: string[];
  /** the sender's details, serialized (JSON) on the HTTP thread once */
  payloadJson: string;
  /** the original item, serialized (JSON); for a single-object body, the body's own text */
  rawJson: string;
  dedupKey: string | null;
  externalId: string | null;
  indicators: (Indicator & { origin: IndicatorOrigin })[];
  warnings: string[];
  /** the source said this alert is over (Alertmanager resolved, ...) */
  resolve: boolean;
  /** every item of an alert source (POST /v1/ingest/:source) opens or joins an alert */
  opensAlert: boolean;
};

/** The view of an event that filters and rules evaluate; the payload is parsed only if asked for. */
export function matchableOf(e: NormalizedEvent): Matchable {
  let payload: unknown;
  let parsed = false;
  return {
    type: e.type,
    source: e.source,
    sourceName: e.sourceName,
    module: e.module,
    title: e.title,
    summary: e.summary,
    severity: e.severity,
    host: e.host,
    tags: e.tags,
    get payload() {
      if (!parsed) {
        payload = JSON.parse(e.payloadJson);
        parsed = true;
      }
      return payload;
    },
  };
}
