// Identifiers: ULIDs (time-ordered, so the primary key doubles as a "newest first" index)
// and random tokens. Imports nothing from the rest of keepwatch.
import { monotonicFactory, decodeTime, encodeTime } from "ulid";

const mono = monotonicFactory();

/** A new ULID; monotonic within one process even inside the same millisecond. */
export function newId(now: number = Date.now()): string {
  return mono(now);
}

export function isUlid(s: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(s);
}

export function ulidTime(id: string): number {
  return decodeTime(id);
}

/** The smallest ULID of millisecond `ms`: ids >= it were made at `ms` or later (a time bound on an id index). */
export function ulidFloor(ms: number): string {
  return encodeTime(Math.max(0, Math.floor(ms)), 10) + "0".repeat(16);
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
