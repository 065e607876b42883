// Exponential backoff with jitter, pure: the caller passes the random source.

export type RetryPolicy = {
  /** attempts in all (the first included); 0 = until it succeeds */
  maxAttempts: number;
  /** delay before the first retry, ms */
  initialMs: number;
  /** cap on any one delay, ms */
  maxMs: number;
  /** ±fraction of jitter, 0..1 */
  jitter: number;
};

/**
 * The default outbound policy: 5 s doubling to a 10 min cap, 13 attempts, about an hour in all
 * (5+10+20+40+80+160+320+600×5 s ≈ 61 min before jitter).
 */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 13, initialMs: 5_000, maxMs: 600_000, jitter: 0.2 };

/** Delay after failed attempt number `attempt` (1-based): initial·2^(attempt-1), capped, ± jitter. */
export function backoffDelay(p: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(p.maxMs, p.initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  const j = p.jitter > 0 ? 1 + p.jitter * (2 * random() - 1) : 1;
  return Math.max(0, Math.round(Math.min(p.maxMs * (1 + p.jitter), base * j)));
}

/** True when attempt number `attempt` (1-based) was the last one the policy allows. */
export function isLastAttempt(p: Pick<RetryPolicy, "maxAttempts">, attempt: number): boolean {
  return p.maxAttempts > 0 && attempt >= p.maxAttempts;
}

/** Total nominal delay of a policy (no jitter), ms; Infinity when unbounded. */
export function totalDelay(p: RetryPolicy): number {
  if (p.maxAttempts <= 0) return Infinity;
  let s = 0;
  for (let a = 1; a < p.maxAttempts; a++) s += Math.min(p.maxMs, p.initialMs * 2 ** (a - 1));
  return s;
}

export const RETRY_AFTER_MIN_MS = 1_000;
export const RETRY_AFTER_MAX_MS = 3_600_000;

/**
 * Parses a Retry-After header (delta seconds or an HTTP date) into ms from `now`, clamped to
 * [1 s, 1 h]; null when absent or unparseable.
 */
export function parseRetryAfter(v: string | null | undefined, now: number): number | null {
  if (!v) return null;
  const s = v.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(s)) ms = Number(s) * 1000;
  else {
    const d = Date.parse(s);
    if (!Number.isFinite(d)) return null;
    ms = d - now;
  }
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, Math.round(ms)));
}
