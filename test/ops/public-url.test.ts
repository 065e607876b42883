// The public URL (--public-url / KEEPWATCH_PUBLIC_URL) starts every URL keepwatch shows: heartbeat
// ping URLs (API and admin page) and source URL tokens (API and admin page). Without it, the
// request's scheme (X-Forwarded-Proto counts) and Host.
import { afterAll, describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config";
import { startTestServer, type TestServer } from "../helpers";

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function session(s: TestServer, headers: Record<string, string> = {}): Promise<string> {
  const r = await fetch(s.url + "/admin/login", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: s.url, ...headers },
    body: new URLSearchParams({ key: s.keys.admin }).toString(),
  });
  expect(r.status).toBe(303);
  return r.headers.get("set-cookie")!.split(";")[0];
}

/** Every URL shown, through the API and the admin page, with `headers` on each request. */
async function shownUrls(s: TestServer, headers: Record<string, string>) {
  const api = (method: string, path: string, body?: unknown) =>
    fetch(s.url + path, { method, headers: { "x-api-key": s.keys.admin, "content-type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.json() as any);
  const created = await api("POST", "/v1/heartbeats", { name: `hb-${crypto.randomUUID()}`, period: 60 });
  const urls: Record<string, string> = {
    "POST /v1/heartbeats": created.ping_url,
    "GET /v1/heartbeats/:id": (await api("GET", `/v1/heartbeats/${created.id}`)).ping_url,
    "GET /v1/heartbeats": (await api("GET", "/v1/heartbeats")).items.find((h: any) => h.id === created.id).ping_url,
    "PATCH /v1/heartbeats/:id": (await api("PATCH", `/v1/heartbeats/${created.id}`, { grace: 5 })).ping_url,
    "POST /v1/heartbeats/:id/pause": (await api("POST", `/v1/heartbeats/${created.id}/pause`)).ping_url,
  };
  const token = await api("POST", "/v1/sources/generic/tokens", { name: "t" });
  urls["POST /v1/sources/generic/tokens"] = token.url.replace(/\?token=.*$/, "");
  const cookie = await session(s, headers);
  const page = await (await fetch(`${s.url}/admin/heartbeats/${created.id}`, { headers: { cookie, ...headers } })).text();
  urls["admin heartbeat page"] = /id="ping-url"[^>]*>([^<]+)</.exec(page)![1];
  const list = await (await fetch(`${s.url}/admin/sources/generic`, { headers: { cookie, ...headers } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(list)![1];
  const made = await (
    await fetch(`${s.url}/admin/sources/generic/tokens`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: s.url, referer: `${s.url}/admin/sources/generic`, ...headers },
      body: new URLSearchParams({ csrf, name: "from admin" }).toString(),
    })
  ).text();
  urls["admin URL token"] = /id="new-token-url"[^>]*>([^<]+)</.exec(made)![1].replace(/\?token=.*$/, "");
  return { urls, token: created.ping_url.split("/ping/")[1] as string };
}

describe("public URL", () => {
  test("set: every URL shown starts with it (path prefix kept, trailing slash dropped), whatever the request says", async () => {
    const s = await startTestServer({ publicUrl: loadConfig(["--public-url", "https://kw.example.com/watch/"], {}).config.publicUrl });
    servers.push(s);
    const { urls, token } = await shownUrls(s, { "x-forwarded-proto": "http" });
    for (const [where, url] of Object.entries(urls))
      expect({ where, url }).toEqual({ where, url: where.includes("token") || where.includes("URL token") ? "https://kw.example.com/watch/v1/ingest/generic" : `https://kw.example.com/watch/ping/${token}` });
  });

  test("unset: the request's scheme (X-Forwarded-Proto: https from a TLS proxy) and host", async () => {
    const s = await startTestServer();
    servers.push(s);
    const host = new URL(s.url).host;
    const tls = await shownUrls(s, { "x-forwarded-proto": "https" });
    for (const [where, url] of Object.entries(tls.urls)) expect({ where, url: url.split("/").slice(0, 3).join("/") }).toEqual({ where, url: `https://${host}` });
    const plain = await shownUrls(s, {});
    for (const [where, url] of Object.entries(plain.urls)) expect({ where, url: url.split("/").slice(0, 3).join("/") }).toEqual({ where, url: `http://${host}` });
    // the ping URL shown works
    expect((await fetch(plain.urls["GET /v1/heartbeats/:id"])).status).toBe(200);
  });

  test("--public-url and KEEPWATCH_PUBLIC_URL; anything but an absolute http(s) URL stops start-up naming the setting", () => {
    expect(loadConfig([], { KEEPWATCH_PUBLIC_URL: "https://kw.example.com" }).config.publicUrl).toBe("https://kw.example.com");
    expect(loadConfig(["--public-url=http://10.0.0.5:8080/"], { KEEPWATCH_PUBLIC_URL: "https://x.example" }).config.publicUrl).toBe("http://10.0.0.5:8080");
    expect(loadConfig([], {}).config.publicUrl).toBe("");
    for (const bad of ["kw.example.com", "ftp://kw.example.com", "https://kw.example.com/?a=1", "https://kw.example.com/#x", "https://u:p@kw.example.com", "/relative"]) {
      expect(() => loadConfig(["--public-url", bad], {})).toThrow(ConfigError);
      expect(() => loadConfig([], { KEEPWATCH_PUBLIC_URL: bad })).toThrow(/KEEPWATCH_PUBLIC_URL/);
    }
  });
});
