// keepwatch's own records about a webhook (disabled, messages dropped): the event stored and the
// message sent to the tenant's other webhooks. Pure: the dispatcher builds them, and the stores
// build the `webhook.disabled` one inside the settle that disabled the webhook (queue effects).
import type { NormalizedEvent } from "./event";
import type { Severity } from "./severity";
import { newId } from "../lib/ids";
import { iso } from "../lib/time";

/** keepwatch's own record about a webhook. */
export type OwnRecord = { type: string; severity: Severity; title: string; summary: string; data: object };

/** What a record needs to know of its webhook. */
export type WebhookRef = { id: string; tenantId: string; name: string; url: string };

/** The `webhook.disabled` record. */
export function disabledRecord(w: WebhookRef, reason: string, now: number): OwnRecord {
  const data = { webhook_id: w.id, name: w.name, url: w.url, reason, disabled_at: iso(now) };
  return { type: "webhook.disabled", severity: "high", title: `Webhook ${w.name} disabled`, summary: `webhook ${w.name} (${w.url}) was disabled: ${reason}`, data };
}

/** The reason a failure streak gives for disabling a webhook. */
export function streakReason(streak: number, lastError: string): string {
  return `${streak} consecutive messages failed (last: ${lastError})`;
}

/** The message the tenant's other webhooks get about a record. */
export function ownMessage(r: OwnRecord) {
  return { type: r.type, data: r.data, severity: r.severity, source: "keepwatch", tags: ["webhook"] };
}

/** The event of keepwatch's own record about a webhook. */
export function ownEvent(w: Pick<WebhookRef, "tenantId">, r: OwnRecord, now: number): NormalizedEvent {
  return {
    id: newId(now),
    tenantId: w.tenantId,
    receivedAt: now,
    occurredAt: now,
    sourceName: "keepwatch",
    source: "keepwatch",
    type: r.type,
    module: "webhooks",
    title: r.title,
    summary: r.summary,
    severity: r.severity,
    severityRaw: null,
    host: null,
    tags: ["webhook"],
    payloadJson: JSON.stringify(r.data),
    rawJson: JSON.stringify(r.data),
    dedupKey: null,
    externalId: null,
    indicators: [],
    warnings: [],
    resolve: false,
    opensAlert: false,
  };
}
