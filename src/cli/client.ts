// keepwatch send | ping: small HTTP clients for shell scripts and cron.
import { noUnknownFlags, takeOpt, takePositional } from "./args";
import { CliError } from "./ops";

export const SEND_HELP = `usage: keepwatch send --type TYPE [--source NAME] [--severity S] [--summary TEXT]
                      [--module M] [--id ID] [--url URL] [--key KEY] [key=value ...]

Posts one event to a keepwatch server (POST /api/v1/events). TYPE is <system>.<verb> in lower
case (backup.completed, deploy.failed). Without --source the event's source is "keepwatch-cli",
and send says so on stderr. key=value pairs go into the
payload; values that are JSON numbers, true, false or null are sent as such, everything else as
text. The server and key come from --url/--key or KEEPWATCH_URL/KEEPWATCH_KEY
(default URL http://127.0.0.1:8080).

  keepwatch send --type backup.completed --severity info --source nightly-backup host=db-1 bytes=123456

Exit codes: 0 stored (prints the event id), 1 refused (4xx: bad key, bad event; prints why),
2 usage, 3 not stored for now (server unreachable, 5xx, 429): worth retrying later.
`;

export const PING_HELP = `usage: keepwatch ping URL [--timeout SECONDS] [--retries N] [--body TEXT]

Sends a heartbeat ping (GET, or POST with --body) to URL, retrying with backoff on network
errors and 5xx answers. For cron: keepwatch ping https://keepwatch.example/ping/<token>
Exit codes: 0 the server answered 2xx, 1 it refused (4xx), 2 usage, 3 unreachable or 5xx/429
after the retries.
`;

function scalar(v: string): unknown {
  if (v === "true") return true;
  if (v === "false") return false;
  if (v === "null") return null;
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(v)) return Number(v);
  return v;
}

/** What `send --type` takes: <system>.<verb>, lower case, like the trigger patterns webhooks match. */
export const EVENT_TYPE_RE = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
export const DEFAULT_SEND_SOURCE = "keepwatch-cli";

export async function send(args: string[], env: Record<string, string | undefined> = process.env, stderr: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number> {
  const type = takeOpt(args, "--type");
  const givenSource = takeOpt(args, "--source");
  const source = givenSource ?? DEFAULT_SEND_SOURCE;
  const severity = takeOpt(args, "--severity");
  const summary = takeOpt(args, "--summary");
  const module = takeOpt(args, "--module");
  const id = takeOpt(args, "--id");
  const url = (takeOpt(args, "--url") ?? env.KEEPWATCH_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  const key = takeOpt(args, "--key") ?? env.KEEPWATCH_KEY;
  noUnknownFlags(args);
  if (!type) throw new CliError("--type is required (such as --type backup.completed)", 2);
  if (!EVENT_TYPE_RE.test(type))
    throw new CliError(`--type ${JSON.stringify(type)} is not <system>.<verb> (lower-case words joined by dots, such as backup.completed or deploy.failed)`, 2);
  if (givenSource === "") throw new CliError("--source needs a name", 2);
  if (!key) throw new CliError("no API key: pass --key or set KEEPWATCH_KEY", 2);
  const payload: Record<string, unknown> = {};
  noUnknownFlags(args);
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq <= 0 || a.startsWith("--")) throw new CliError(`unexpected argument "${a}" (payload fields are key=value)`, 2);
    payload[a.slice(0, eq)] = scalar(a.slice(eq + 1));
  }
  const body = { type, source, payload, ...(severity && { severity }), ...(summary && { summary }), ...(module && { module }), ...(id && { id }) };
  let r: Response;
  try {
    r = await fetch(`${url}/api/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    throw new CliError(`cannot reach ${url}: ${(e as Error).message}`, 3);
  }
  const text = await r.text();
  if (r.status !== 202) {
    let msg = text;
    try {
      msg = JSON.parse(text).error.message;
    } catch {}
    // 5xx (store unavailable) and 429 (rate limit) pass: exit 3 tells a script to try again later
    throw new CliError(`the server answered ${r.status}: ${msg}`, r.status >= 500 || r.status === 429 ? 3 : 1);
  }
  if (givenSource === undefined) stderr(`keepwatch send: source "${DEFAULT_SEND_SOURCE}" (the default; --source NAME names the sender)\n`);
  process.stdout.write(`${JSON.parse(text).ids[0]}\n`);
  return 0;
}

export async function ping(args: string[]): Promise<number> {
  const timeout = Number(takeOpt(args, "--timeout") ?? 10);
  const retries = Number(takeOpt(args, "--retries") ?? 5);
  const body = takeOpt(args, "--body");
  if (!Number.isFinite(timeout) || timeout <= 0) throw new CliError("--timeout must be a number of seconds > 0", 2);
  if (!Number.isInteger(retries) || retries < 0) throw new CliError("--retries must be an integer ≥ 0", 2);
  const url = takePositional(args, "the ping URL");
  if (args.length) throw new CliError(`unexpected argument "${args[0]}"`, 2);
  if (!/^https?:\/\//.test(url)) throw new CliError(`not an http(s) URL: ${url}`, 2);
  let last = "";
  let temporary = true;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await Bun.sleep(Math.min(30_000, 500 * 2 ** (attempt - 1)));
    try {
      const r = await fetch(url, {
        method: body === undefined ? "GET" : "POST",
        body,
        signal: AbortSignal.timeout(timeout * 1000),
      });
      await r.arrayBuffer();
      if (r.ok) return 0;
      last = `HTTP ${r.status}`;
      if (r.status < 500 && r.status !== 429) {
        temporary = false;
        break; // a 4xx will not change by retrying
      }
    } catch (e) {
      last = (e as Error).message;
    }
  }
  process.stderr.write(`keepwatch: ping ${url} failed: ${last}\n`);
  return temporary ? 3 : 1;
}
