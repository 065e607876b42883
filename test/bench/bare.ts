// The baseline for ingest benchmarks: Bun.serve that parses the same JSON body and answers 202.
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = (await req.json()) as unknown;
    const n = Array.isArray(body) ? body.length : 1;
    return new Response(JSON.stringify({ accepted: n, ids: [] }), { status: 202, headers: { "content-type": "application/json" } });
  },
});
console.log(`listening http://127.0.0.1:${server.port}`);
