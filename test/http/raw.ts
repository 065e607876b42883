// A raw HTTP/1.1 client over a TCP socket on 127.0.0.1, for what fetch cannot do: a body that
// arrives slowly or never ends, a Content-Length the body never reaches, and watching whether the
// server closes the connection.
import net from "node:net";

export type RawAnswer = {
  /** 0 when no answer came */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from connecting to the answer's headers (-1 when none) */
  answeredMs: number;
  /** ms from connecting to the server closing the connection (-1 when it did not within the wait) */
  closedMs: number;
  /** bytes of body written before the answer came (or the wait ended) */
  sent: number;
};

export type RawRequest = {
  port: number;
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** sent right after the headers */
  body?: string | Uint8Array;
  /** then this many bytes, one every `dribbleMs` (a slow body) */
  dribble?: number;
  dribbleMs?: number;
  /** then chunks of this body (`Transfer-Encoding: chunked`) as fast as the socket takes them, up to `chunkedTotal` bytes */
  chunkedTotal?: number;
  /** how long to wait for the answer and the close (ms) */
  waitMs?: number;
  /** stop once the answer has come and the connection is closed (default), or wait the whole waitMs */
  untilClosed?: boolean;
};

export function rawRequest(o: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = net.connect(o.port, "127.0.0.1");
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let answeredMs = -1;
    let closedMs = -1;
    let sent = 0;
    let done = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = () => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t), clearInterval(t);
      sock.destroy();
      const text = buf.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      let status = 0;
      const headers: Record<string, string> = {};
      let body = "";
      if (end >= 0) {
        const lines = text.slice(0, end).split("\r\n");
        status = Number(lines[0].split(" ")[1]);
        for (const l of lines.slice(1)) {
          const i = l.indexOf(":");
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        body = Buffer.from(text.slice(end + 4), "latin1").toString("utf8");
        if (headers["transfer-encoding"] === "chunked") body = unchunk(body);
      }
      resolve({ status, headers, body, answeredMs, closedMs, sent });
    };
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, typeof d === "string" ? Buffer.from(d) : d]);
      if (answeredMs < 0 && buf.includes("\r\n\r\n")) answeredMs = performance.now() - t0;
    });
    sock.on("close", () => {
      closedMs = performance.now() - t0;
      if (o.untilClosed !== false) finish();
    });
    sock.on("error", () => {});
    const headers = { host: `127.0.0.1:${o.port}`, ...o.headers };
    const head = `${o.method} ${o.path} HTTP/1.1\r\n` + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
    sock.write(head);
    if (o.body !== undefined) {
      sock.write(o.body);
      sent += typeof o.body === "string" ? Buffer.byteLength(o.body) : o.body.byteLength;
    }
    if (o.dribble) {
      let left = o.dribble;
      const iv = setInterval(() => {
        if (left-- <= 0 || sock.destroyed || answeredMs >= 0) return clearInterval(iv);
        sock.write("1");
        sent++;
      }, o.dribbleMs ?? 200);
      timers.push(iv);
    }
    if (o.chunkedTotal) {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const frame = Buffer.concat([Buffer.from(chunk.length.toString(16) + "\r\n"), chunk, Buffer.from("\r\n")]);
      const pump = () => {
        while (!sock.destroyed && answeredMs < 0 && sent < o.chunkedTotal!) {
          sent += chunk.length;
          if (!sock.write(frame)) return void sock.once("drain", pump);
        }
        if (!sock.destroyed && answeredMs < 0) sock.write("0\r\n\r\n");
      };
      pump();
    }
    timers.push(setTimeout(finish, o.waitMs ?? 5000));
  });
}

function unchunk(s: string): string {
  let out = "";
  let i = 0;
  for (;;) {
    const nl = s.indexOf("\r\n", i);
    if (nl < 0) return out;
    const n = parseInt(s.slice(i, nl), 16);
    if (!n) return out;
    out += s.slice(nl + 2, nl + 2 + n);
    i = nl + 2 + n + 2;
  }
}
