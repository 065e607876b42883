// Identifiers: ULIDs (time-ordered, so the primary key doubles as a "newest first" index)
// and random tokens. Imports nothing from the rest of keepwatch.
import { monotonicFactory, decodeTime } from "ulid";

const mono = monotonicFactory();

/** A new ULID; monotonic within one process even inside the same millisecond. */
export function newId(now: number = Date.now()): string {
  return mono(now);
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The smallest ULID whose time part is `ms` (for keyset ranges on time). */
export function ulidFloor(ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  let s = "";
  for (let i = 0; i < 10; i++) {
    s = CROCKFORD[t % 32] + s;
    t = Math.floor(t / 32);
  }
  return s + "0".repeat(16);
}

/** The largest ULID whose time part is `ms`. */
export function ulidCeil(ms: number): string {
  return ulidFloor(ms).slice(0, 10) + "Z".repeat(16);
}

export function isUlid(s: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(s);
}

export function ulidTime(id: string): number {
  return decodeTime(id);
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Buffer.from(b).toString("hex");
}

/** `bytes` random bytes as base64url without padding. */
export function randomB64url(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Buffer.from(b).toString("base64url");
}
