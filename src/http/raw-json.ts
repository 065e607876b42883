// Stored JSON text returned as it was stored. An event's raw payload is the sender's text, kept
// whole ("1e400", "12345678901234567891", "-0", key order, spacing, "\u00e9" escapes): parsing it
// to put it in a response would turn 1e400 into null and round big integers. A value that holds
// RawJson is answered by `rawJsonResponse`, which splices each text in where the value sits.

/** JSON text (already valid JSON) that goes into a response as it is. */
export class RawJson {
  constructor(readonly text: string) {}
  /** what JSON.stringify makes of it when it is not answered through rawJsonResponse: the parsed value */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/** `text` as RawJson, or null. */
export const rawJson = (text: string | null): RawJson | null => (text === null ? null : new RawJson(text));

/**
 * A JSON response of `value`, where every RawJson inside is written as its stored text, byte for
 * byte. The marker that stands for a RawJson while stringifying carries a random nonce, so no
 * string of the data can be mistaken for one.
 */
export function rawJsonResponse(value: unknown, status = 200): Response {
  const nonce = crypto.randomUUID();
  const texts: string[] = [];
  const body = JSON.stringify(value, function (this: unknown, _k, v) {
    // JSON.stringify calls toJSON before the replacer: look at the holder's own value instead
    const own = (this as Record<string, unknown>)[_k];
    if (own instanceof RawJson) {
      texts.push(own.text);
      return `\u0000raw:${nonce}:${texts.length - 1}`;
    }
    return v;
  });
  const marker = new RegExp(`"\\\\u0000raw:${nonce}:(\\d+)"`, "g");
  const out = texts.length ? body.replace(marker, (_m, i: string) => texts[Number(i)]) : body;
  return new Response(out, { status, headers: { "content-type": "application/json;charset=utf-8" } });
}
