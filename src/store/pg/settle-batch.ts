// The PostgreSQL settle in batches (issue 12: fewer statements per delivery). The worker commits
// every outcome that finished since its last commit in one settle; on PostgreSQL those outcomes are
// applied a run at a time with multi-row statements instead of ~9 statements per outcome:
//   - the jobs of the run: one UPDATE ... FROM unnest(...), each row fenced by its own lease token
//     (`WHERE id = u.id AND lease_token = u.token AND state = 'running'`: a job whose lease was
//     taken over changes nothing, and its effects are not applied);
//   - the effects of the held outcomes, in one savepoint: their attempts completed (one UPDATE) or
//     inserted (one INSERT), the failure streaks reset (one UPDATE), their deliveries marked (rows
//     locked in id order, one UPDATE, the backlog counters adjusted once per lane);
//   - the lanes the held outcomes free: one UPDATE per run, the lane rows locked in lane order —
//     last, so that a lane row is locked for as short a time as can be (the hot row of a busy
//     webhook: every claim, settle and enqueue of its messages goes through it).
// A run is a sequence of consecutive outcomes that only have these effects ("fast" outcomes) and do
// not share a job or a delivery; fast effects of distinct deliveries commute, so a run gives what
// applying its outcomes one by one gives. Any other outcome (an ordered lane's retry, a failure
// streak, a batch, a disable, an enrichment) is applied alone, as before, between the runs, so the
// order of effects that do not commute (a reset and a failure of one webhook) is kept. If the run's
// effects throw, the savepoint is rolled back and each outcome's effects are applied alone (as
// before: an effect that throws undoes only its own outcome's effects).
import { inSavepoint, type PgConn } from "../contract";
import type { AttemptResult, Effect, Outcome } from "../queue-contract";
import { isPgUnavailable } from "./errors";
import { pgApplyEffects } from "./queue-effects";

const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const FAST = new Set<Effect["type"]>(["completeAttempt", "insertAttempt", "markDelivery", "resetFailures"]);

/** An outcome the run can take: no ordered-lane question, only effects that batch. */
export function isFast(o: Outcome): boolean {
  if (o.action === "retry" && o.lane) return false; // an ordered lane holds its head: settled alone
  let marks = 0;
  for (const e of o.effects ?? []) {
    if (!FAST.has(e.type)) return false;
    if (e.type === "markDelivery" && ++marks > 1) return false;
  }
  return true;
}

/** The rows an outcome's effects change one by one (a run holds each once): its delivery, its attempt. */
function keysOf(o: Outcome): string[] {
  const out = [`j:${o.id}`];
  for (const e of o.effects ?? []) {
    if (e.type === "markDelivery") out.push(`d:${e.id}`);
    else if (e.type === "completeAttempt") out.push(`a:${e.attemptId}`);
  }
  return out;
}

/** Applies a run's job outcomes in one statement; which of them held their lease. */
async function settleJobs(tx: PgConn, run: Outcome[]): Promise<boolean[]> {
  const col = <T>(f: (o: Outcome) => T) => run.map(f);
  const rows = await tx.unsafe(
    `UPDATE jobs j SET
        state = CASE WHEN u.action = 'finish' THEN u.state ELSE 'available' END,
        finished_at = CASE WHEN u.action = 'finish' THEN t.now ELSE j.finished_at END,
        last_error = CASE WHEN u.action = 'snooze' THEN j.last_error ELSE u.error END,
        run_at = CASE WHEN u.action = 'finish' THEN j.run_at ELSE t.now + u.delay END,
        attempt = CASE WHEN u.action = 'snooze' THEN j.attempt - 1 ELSE j.attempt END,
        lease_token = NULL, lease_until = NULL, lease_owner = NULL
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(id, token, action, state, error, delay),
            (SELECT ${NOW_MS} AS now) t
      WHERE j.id = u.id AND j.lease_token = u.token AND j.state = 'running'
      RETURNING j.id`,
    [
      col((o) => o.id),
      col((o) => o.token),
      col((o) => o.action),
      col((o) => (o.action === "finish" ? o.state : null)),
      col((o) => (o.action === "snooze" ? null : (o.error ?? null))),
      col((o) => (o.action === "finish" ? 0 : o.delayMs)),
    ] as any[],
  );
  const held = new Set(rows.map((r) => Number(r.id)));
  return run.map((o) => held.has(o.id));
}

/** Frees the lanes of held outcomes (the `freed` of queue-pg.ts, once per lane), lane rows locked in lane order. */
async function freeLanes(tx: PgConn, lanes: string[]): Promise<void> {
  if (lanes.length === 0) return;
  await tx.unsafe(
    `UPDATE job_lanes SET "full" = 0, next_at = greatest(${NOW_MS}, ready_at)
      WHERE lane IN (SELECT lane FROM job_lanes WHERE lane = ANY($1::text[]) ORDER BY lane FOR UPDATE)
        AND ("full" = 1 OR next_at IS NULL OR next_at > greatest(${NOW_MS}, ready_at))`,
    [[...new Set(lanes)].sort()] as any[],
  );
}

const attemptCols = (a: AttemptResult) => [
  a.started_at,
  a.duration_ms,
  a.url,
  a.request_headers,
  a.request_body,
  a.response_status ?? null,
  a.response_headers ?? null,
  a.response_body ?? null,
  a.error ?? null,
  a.outcome,
  a.request_body_size ?? null,
  a.response_body_size ?? null,
  a.response_truncated ?? null,
];
const ATTEMPT_TYPES = "$2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::int[]";
const ATTEMPT_NAMES = "started_at, duration_ms, url, request_headers, request_body, response_status, response_headers, response_body, error, outcome, request_body_size, response_body_size, response_truncated";
/** column-major arrays of attempt results */
const columns = (rows: unknown[][], width: number) => Array.from({ length: width }, (_, c) => rows.map((r) => r[c]));

/** The fast effects of a run's held outcomes, as multi-row statements. */
async function applyFast(tx: PgConn, effects: Effect[], now: number): Promise<void> {
  const complete = effects.filter((e): e is Extract<Effect, { type: "completeAttempt" }> => e.type === "completeAttempt");
  const insert = effects.filter((e): e is Extract<Effect, { type: "insertAttempt" }> => e.type === "insertAttempt");
  const marks = effects.filter((e): e is Extract<Effect, { type: "markDelivery" }> => e.type === "markDelivery");
  const resets = [...new Set(effects.filter((e): e is Extract<Effect, { type: "resetFailures" }> => e.type === "resetFailures").map((e) => e.webhookId))];
  if (complete.length) {
    const set = ATTEMPT_NAMES.split(", ").map((c) => `${c} = u.${c}`).join(", ");
    await tx.unsafe(
      `UPDATE delivery_attempts a SET ${set}
         FROM unnest($1::bigint[], ${ATTEMPT_TYPES}) AS u(id, ${ATTEMPT_NAMES}) WHERE a.id = u.id`,
      [complete.map((e) => e.attemptId), ...columns(complete.map((e) => attemptCols(e.result)), 13)] as any[],
    );
  }
  if (insert.length) {
    // one statement; the rows get their ids in the outcomes' order, as one insert each would give
    await tx.unsafe(
      `INSERT INTO delivery_attempts (delivery_id, webhook_id, attempt, ${ATTEMPT_NAMES})
       SELECT u.delivery_id, u.webhook_id, u.attempt, ${ATTEMPT_NAMES.split(", ").map((c) => `u.${c}`).join(", ")}
         FROM unnest($1::text[], ${ATTEMPT_TYPES.replace(/\$(\d+)/g, (_, n) => `$${Number(n) + 2}`)}, $2::text[], $3::int[])
              WITH ORDINALITY AS u(delivery_id, ${ATTEMPT_NAMES}, webhook_id, attempt, ord)
        ORDER BY u.ord`,
      [
        insert.map((e) => e.attempt.delivery_id),
        insert.map((e) => e.attempt.webhook_id),
        insert.map((e) => e.attempt.attempt),
        ...columns(insert.map((e) => attemptCols(e.attempt)), 13),
      ] as any[],
    );
  }
  // the failure streaks before the marks: the lane rows (backlog) are locked last, as late as can be
  if (resets.length) await tx`UPDATE webhooks SET consecutive_failures = 0 WHERE id = ANY(${resets.sort()}::text[]) AND consecutive_failures <> 0`;
  if (marks.length) {
    // the rows locked in id order first (markDelivery of deliveries.ts, for all of them): the
    // backlog moves by what each status change does to `pending`, once per webhook
    const ids = marks.map((m) => m.id);
    const prior = await tx`SELECT id, webhook_id, kind, status FROM deliveries WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`;
    await tx.unsafe(
      `UPDATE deliveries d SET status = u.status, attempts = d.attempts + u.inc, last_status_code = coalesce(u.code, d.last_status_code),
         last_error = u.error, updated_at = $6::bigint
         FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[]) AS u(id, status, inc, code, error) WHERE d.id = u.id`,
      [ids, marks.map((m) => m.status), marks.map((m) => (m.attempted ? 1 : 0)), marks.map((m) => m.statusCode ?? null), marks.map((m) => m.error ?? null), now] as any[],
    );
    const to = new Map(marks.map((m) => [m.id, m.status]));
    const delta = new Map<string, number>();
    for (const p of prior) {
      if (p.kind !== "message") continue;
      const d = (to.get(p.id as string) === "pending" ? 1 : 0) - (p.status === "pending" ? 1 : 0);
      if (d) delta.set(p.webhook_id as string, (delta.get(p.webhook_id as string) ?? 0) + d);
    }
    if (delta.size) {
      const lanes = [...delta.keys()].sort();
      await tx.unsafe(
        `UPDATE job_lanes l SET backlog = greatest(0, l.backlog + u.n)
           FROM unnest($1::text[], $2::bigint[]) AS u(lane, n)
          WHERE l.lane = u.lane AND l.lane IN (SELECT lane FROM job_lanes WHERE lane = ANY($1::text[]) ORDER BY lane FOR UPDATE)`,
        [lanes, lanes.map((l) => delta.get(l)!)] as any[],
      );
    }
  }
}

/** Settles a run of fast outcomes: held[i] and errors[i] as applying them one by one gives. */
export async function settleRun(tx: PgConn, run: Outcome[], now: number): Promise<{ held: boolean[]; errors: (string | null)[] }> {
  const held = await settleJobs(tx, run);
  const errors: (string | null)[] = run.map(() => null);
  const effects = run.flatMap((o, i) => (held[i] ? (o.effects ?? []) : []));
  if (effects.length) {
    try {
      await inSavepoint(tx, (sp) => applyFast(sp, effects, now));
    } catch (e) {
      if (isPgUnavailable(e)) throw e;
      // one of them threw: each outcome's effects alone, so that only its own are undone
      for (let i = 0; i < run.length; i++) if (held[i]) errors[i] = await pgApplyEffects(tx, run[i]!.effects, now);
    }
  }
  // the lanes freed last (after the effects, which lock them only for their backlog at the end):
  // a lane row stays locked from here to the commit, during which claims pass over it and
  // enqueues wait for it
  await freeLanes(tx, run.filter((o, i) => held[i] && o.lane).map((o) => o.lane!));
  return { held, errors };
}

/** Splits outcomes into runs of fast outcomes (no job or delivery twice) and single slow ones, in order. */
export function runsOf(outcomes: Outcome[]): { fast: boolean; items: { o: Outcome; i: number }[] }[] {
  const out: { fast: boolean; items: { o: Outcome; i: number }[] }[] = [];
  let cur: { fast: boolean; items: { o: Outcome; i: number }[] } | null = null;
  let seen = new Set<string>();
  outcomes.forEach((o, i) => {
    if (!isFast(o)) {
      out.push({ fast: false, items: [{ o, i }] });
      cur = null;
      return;
    }
    const keys = keysOf(o);
    if (!cur || keys.some((k) => seen.has(k))) {
      cur = { fast: true, items: [] };
      out.push(cur);
      seen = new Set();
    }
    cur.items.push({ o, i });
    for (const k of keys) seen.add(k);
  });
  return out;
}
