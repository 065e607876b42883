// The raw payload is the sender's text, kept whole and returned byte for byte: on GET
// /v1/events/:id, GET /v1/alerts/:id and the admin pages of both, for a body that is one item
// and for every item of a batch. Numbers JSON.parse cannot keep (1e400, 12345678901234567891,
// -0, 0.1000000000000000055511151231257827), key order, duplicated spacing and \u escapes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers";

let s: TestServer;
let cookie = "";
beforeAll(async () => {
  s = await startTestServer();
  const r = await fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: s.url },
    body: new URLSearchParams({ key: s.keys.admin }).toString(),
  });
  expect(r.status).toBe(303);
  cookie = r.headers.get("set-cookie")!.split(";")[0];
});
afterAll(() => s.close());

// generic items (they open alerts), each text a valid item that re-serializing would change
const ITEMS = [
  `{"title":"big","big":1e400,"id64":12345678901234567891,"neg":-1e400}`,
  `{"title":"zero","z":-0,"f":0.1000000000000000055511151231257827,"e":1E+2,"tiny":5e-324}`,
  `{ "zeta" : 1 ,\n\t"title" : "order and spacing",   "alpha":[ 1 , 2 ],"m":{"b":1,"a":2} }`,
  `{"title":"escapes \\u00e9\\u0041\\/","s":"\\ud83d\\ude00 \\n\\t","raw":"é😀"}`,
  `{"title":"dup","k":1,"k":2}`,
  `{"title":"nested","d":{"e":[{"f":1.0},{"g":[]}],"h":{}},"n":null,"t":true}`,
];

const bytesOf = async (r: Response) => {
  const text = await r.text();
  const at = text.indexOf('"raw_payload":') + '"raw_payload":'.length;
  return text.slice(at);
};

/** The JSON text of the value that starts `rest` (as written). */
function valueText(rest: string): string {
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (inStr) {
      if (c === "\\") i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") if (--depth === 0) return rest.slice(0, i + 1);
  }
  throw new Error("no value in " + rest.slice(0, 80));
}

const decodeHtml = (h: string) => h.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#96;/g, "`").replace(/&amp;/g, "&");

async function checkEverywhere(eventId: string, expected: string) {
  const ev = await s.get(`/v1/events/${eventId}`);
  expect(ev.status).toBe(200);
  expect(ev.headers.get("content-type")).toBe("application/json;charset=utf-8");
  expect(valueText(await bytesOf(ev))).toBe(expected);
  const alertId = ((await (await s.get(`/v1/events/${eventId}`)).json()) as any).id && (await alertOf(eventId));
  const al = await s.get(`/v1/alerts/${alertId}`);
  expect(al.status).toBe(200);
  expect(valueText(await bytesOf(al))).toBe(expected);
  for (const path of [`/admin/events/${eventId}`, `/admin/alerts/${alertId}`]) {
    const page = await (await fetch(s.url + path, { headers: { cookie } })).text();
    const m = /<pre class="raw-payload">([\s\S]*?)<\/pre>/.exec(page);
    expect(m).not.toBeNull();
    expect(decodeHtml(m![1])).toBe(expected);
  }
}

async function alertOf(eventId: string): Promise<string> {
  const list = ((await (await s.get("/v1/alerts?limit=200")).json()) as any).items;
  for (const a of list) {
    const d = (await (await s.get(`/v1/alerts/${a.id}`)).json()) as any;
    if (d.events.some((e: any) => e.id === eventId)) return a.id;
  }
  throw new Error("no alert for " + eventId);
}

describe("raw payload byte for byte", () => {
  test("a body that is one item: the whole body as sent, on every read route", async () => {
    for (const item of ITEMS) {
      const body = `\n  ${item}  \n`;
      const r = await s.post("/v1/ingest/generic", body);
      expect(r.status).toBe(202);
      const id = ((await r.json()) as any).ids[0];
      await checkEverywhere(id, item);
    }
  });

  test("every item of a batch as sent, whatever the spacing between items", async () => {
    const body = "[ " + ITEMS.map((t, i) => t.replace('"title":', `"title":"batch ${i}",  "t0":`)).join(" ,\n  ") + "\n]";
    const r = await s.post("/v1/ingest/generic", body);
    expect(r.status).toBe(202);
    const ids = ((await r.json()) as any).ids as string[];
    expect(ids).toHaveLength(ITEMS.length);
    for (const [i, id] of ids.entries()) await checkEverywhere(id, ITEMS[i].replace('"title":', `"title":"batch ${i}",  "t0":`));
  });

  test("the other fields of the answer are still plain JSON (the event parses, its payload too)", async () => {
    const r = await s.post("/v1/ingest/generic", ITEMS[0]);
    const id = ((await r.json()) as any).ids[0];
    const e = (await (await s.get(`/v1/events/${id}`)).json()) as any;
    expect(e.title).toBe("big");
    expect(e.raw_payload.id64).toBe(12345678901234567891);
    expect(e.payload.title).toBe("big");
  });
});
