// Token buckets, pure: the caller passes the time. `rate` tokens per second, at most `burst`.
// A request costs one token of its key's request bucket, and as many tokens of its event bucket as
// it carries items, and of its byte bucket as its body has bytes (see Limits below).

export type Bucket = { tokens: number; at: number };

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

function refill(b: Bucket, now: number, rate: number, burst: number): void {
  const elapsed = Math.max(0, now - b.at) / 1000;
  b.tokens = Math.min(burst, b.tokens + elapsed * rate);
  b.at = now;
}

export function take(b: Bucket, now: number, rate: number, burst: number): TakeResult {
  const r = takeAll([{ bucket: b, rate, burst, cost: 1 }], now);
  return r.ok ? { ok: true } : { ok: false, retryAfterMs: r.retryAfterMs };
}

export function newBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now };
}

/** One bucket a request draws on, and what it costs there. rate <= 0 = unlimited. */
export type Draw = { bucket: Bucket; rate: number; burst: number; cost: number };

/**
 * Takes `cost` tokens from every bucket, or from none: when one of them is short, nothing is taken
 * and the answer says how long until all of them would have enough. A cost larger than the burst
 * is let through when that bucket is full, and leaves it in debt (a batch bigger than the burst is
 * never refused for ever; the rate over time still holds).
 */
export function takeAll(draws: Draw[], now: number): TakeResult & { short?: number } {
  let waitMs = 0;
  let short = -1;
  for (let i = 0; i < draws.length; i++) {
    const d = draws[i];
    if (d.rate <= 0) continue;
    refill(d.bucket, now, d.rate, d.burst);
    const need = Math.min(d.cost, d.burst);
    if (d.bucket.tokens < need) {
      const ms = Math.ceil(((need - d.bucket.tokens) / d.rate) * 1000);
      if (ms > waitMs || short < 0) {
        waitMs = Math.max(waitMs, ms);
        short = i;
      }
    }
  }
  if (short >= 0) return { ok: false, retryAfterMs: Math.max(1, waitMs), short };
  for (const d of draws) if (d.rate > 0) d.bucket.tokens -= d.cost;
  return { ok: true };
}

/** Rates per second (0 = unlimited) of the three buckets of a key or a tenant, with their bursts. */
export type Limits = {
  requests: { rate: number; burst: number };
  events: { rate: number; burst: number };
  bytes: { rate: number; burst: number };
};

/** The settings the limits derive from (Config's fields of the same names). */
export type LimitSettings = {
  rateLimit: number;
  rateBurst: number;
  maxItems: number;
  bodyLimit: number;
  /** events/s of a key at --rate-limit; undefined = 10 per request */
  eventRate?: number;
  /** bytes/s of a key at --rate-limit; undefined = --body-limit / 10 per request */
  byteRate?: number;
  /** caps on a whole tenant; undefined = 10 × a default key's figure */
  tenantRateLimit?: number;
  tenantEventRate?: number;
  tenantByteRate?: number;
};

/** Default events per request and bytes per request, when --event-rate / --byte-rate are not set. */
export const EVENTS_PER_REQUEST = 10;
export const BODY_FRACTION_PER_REQUEST = 10;
/** A tenant's default caps are this many default keys' worth. */
export const TENANT_KEYS_WORTH = 10;
/** Seconds of rate a derived burst holds (as --rate-burst 50 is 5 s of --rate-limit 10). */
export const BURST_SECONDS = 5;

/** A derived burst: 5 s of the rate, and at least one full request (so a full batch can pass). */
export const burstFor = (rate: number, oneRequest: number) => Math.max(oneRequest, Math.ceil(rate * BURST_SECONDS));

/**
 * A key's three buckets. Its event and byte rates scale with its request rate: a key at
 * --rate-limit gets --event-rate and --byte-rate, a key at twice that rate twice as much. A key
 * at rate 0 is unlimited on all three (its tenant's caps still hold).
 */
export function keyLimits(s: LimitSettings, keyRate: number | null, keyBurst: number | null): Limits | null {
  const rate = keyRate ?? s.rateLimit;
  if (rate <= 0) return null;
  const perRequest = (explicit: number | undefined, derived: number) =>
    explicit === undefined ? rate * derived : s.rateLimit > 0 ? (explicit / s.rateLimit) * rate : explicit;
  const events = perRequest(s.eventRate, EVENTS_PER_REQUEST);
  const bytes = perRequest(s.byteRate, s.bodyLimit / BODY_FRACTION_PER_REQUEST);
  return {
    requests: { rate, burst: keyBurst ?? s.rateBurst },
    events: { rate: events, burst: burstFor(events, s.maxItems) },
    bytes: { rate: bytes, burst: burstFor(bytes, s.bodyLimit) },
  };
}

/** A tenant's caps: the operator's figures for it (null = the server's), 0 = no cap. */
export function tenantLimits(s: LimitSettings, own: { rate?: number; events?: number; bytes?: number } | null): Limits {
  const dflt = keyLimits({ ...s }, null, null);
  const pick = (o: number | undefined, setting: number | undefined, derived: number | undefined) => o ?? setting ?? (derived ?? 0) * TENANT_KEYS_WORTH;
  const rate = pick(own?.rate, s.tenantRateLimit, dflt?.requests.rate);
  const events = pick(own?.events, s.tenantEventRate, dflt?.events.rate);
  const bytes = pick(own?.bytes, s.tenantByteRate, dflt?.bytes.rate);
  return {
    requests: { rate, burst: burstFor(rate, 1) },
    events: { rate: events, burst: burstFor(events, s.maxItems) },
    bytes: { rate: bytes, burst: burstFor(bytes, s.bodyLimit) },
  };
}

/**
 * One replica's share of a cluster's limits: every rate and burst divided by the number of live
 * replicas `n` (n <= 1: the limits themselves). Each replica enforces its share on the requests it
 * takes, so a client spread over the replicas gets about the whole limit, and one that talks to a
 * single replica gets 1/n of it (see docs/operations.md, "Limits with several replicas").
 */
export function shareOf(l: Limits, n: number): Limits {
  if (!(n > 1)) return l;
  const part = (x: { rate: number; burst: number }) => ({ rate: x.rate / n, burst: x.burst / n });
  return { requests: part(l.requests), events: part(l.events), bytes: part(l.bytes) };
}
