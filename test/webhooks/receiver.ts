// A real local receiver on 127.0.0.1 (port 0) that records what it gets and answers as told.
import type { Server } from "bun";

export type Received = { at: number; headers: Record<string, string>; body: string; json: any };

export type Receiver = {
  url: string;
  got: Received[];
  server: Server<unknown>;
  /** how to answer the n-th request (0-based) */
  answer: (n: number, req: Request) => Response | Promise<Response>;
  waitFor: (n: number, timeoutMs?: number) => Promise<Received[]>;
  stop: () => void;
};

export function startReceiver(answer: Receiver["answer"] = () => new Response("ok")): Receiver {
  const got: Received[] = [];
  let count = 0;
  const r: Receiver = {
    url: "",
    got,
    server: null as any,
    answer,
    waitFor: async (n, timeoutMs = 10_000) => {
      const end = Date.now() + timeoutMs;
      while (got.length < n) {
        if (Date.now() > end) throw new Error(`receiver got ${got.length} of ${n} requests`);
        await Bun.sleep(10);
      }
      return got;
    },
    stop: () => r.server.stop(true),
  };
  r.server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const body = await req.text();
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => (headers[k] = v));
      let json: any = null;
      try {
        json = JSON.parse(body);
      } catch {}
      const n = count++;
      got.push({ at: Date.now(), headers, body, json });
      return r.answer(n, req);
    },
  });
  r.url = `http://127.0.0.1:${r.server.port}/hook`;
  return r;
}

/** Polls until `f` returns a truthy value. */
export async function until<T>(f: () => T | Promise<T>, timeoutMs = 10_000, what = "condition"): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}
