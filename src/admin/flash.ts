// One-time messages after a post/redirect/get: a new key, a rotated key, a new webhook secret, a
// URL token. The POST stores the message in its session row and answers 303; the next page the
// session renders shows it and clears it (src/store/sessions.ts takes it in one transaction), so
// a reload shows it no more and it never travels in a URL. The row holds it encrypted
// (AES-256-GCM) under a key derived from the cookie value, which the database does not hold
// (only its SHA-256), and it lapses after FLASH_TTL_MS even when never shown.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { Store } from "../store/contract";

export type OneTime = { note: string; items: { id: string; label: string; value: string }[] };

export const FLASH_TTL_MS = 10 * 60_000;

const keyOf = (token: string) => createHash("sha256").update("keepwatch admin flash\0").update(token).digest();

export async function putOneTime(store: Store, token: string, msg: OneTime, now: number): Promise<void> {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", keyOf(token), iv);
  const body = Buffer.concat([c.update(JSON.stringify({ ...msg, until: now + FLASH_TTL_MS }), "utf8"), c.final()]);
  await store.sessions.setSessionFlash(token, [iv, c.getAuthTag(), body].map((b) => b.toString("base64")).join("."));
}

/** The pending message (removed from the row), or null when none, lapsed or unreadable. */
export async function takeOneTime(store: Store, token: string, now: number): Promise<OneTime | null> {
  const sealed = await store.sessions.takeSessionFlash(token);
  if (!sealed) return null;
  try {
    const [iv, tag, body] = sealed.split(".").map((p) => Buffer.from(p, "base64"));
    const d = createDecipheriv("aes-256-gcm", keyOf(token), iv);
    d.setAuthTag(tag);
    const m = JSON.parse(Buffer.concat([d.update(body), d.final()]).toString("utf8")) as OneTime & { until: number };
    return m.until > now ? { note: m.note, items: m.items } : null;
  } catch {
    return null;
  }
}
