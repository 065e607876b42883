// Token bucket, pure: the caller passes the time. `rate` tokens per second, at most `burst`.

export type Bucket = { tokens: number; at: number };

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

export function take(b: Bucket, now: number, rate: number, burst: number): TakeResult {
  if (rate <= 0) return { ok: true }; // 0 = unlimited
  const elapsed = Math.max(0, now - b.at) / 1000;
  b.tokens = Math.min(burst, b.tokens + elapsed * rate);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return { ok: true };
  }
  return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / rate) * 1000) };
}

export function newBucket(burst: number, now: number): Bucket {
  return { tokens: burst, at: now };
}
