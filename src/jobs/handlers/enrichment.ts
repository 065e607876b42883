// Alert enrichment on the job queue ("enrichment"): every new alert has a job, enqueued in the
// transaction that opened it (store/enrichment.ts, called by the ingest commit hooks). The job
// runs the offline enrichers (IP classification, tenant watchlists) and the tenant's HTTP lookup
// enrichers over the alert's indicators, then sets enrichment_status to `enriched`, or to `failed`
// with the reason once its retries are spent. It runs on the HTTP thread's worker, never inside an
// ingest commit, so a slow or dead lookup service cannot hold up ingest.
import { withDefaults } from "../../core/headers";
import { backoffDelay, type RetryPolicy } from "../../core/backoff";
import {
  compileWatchlists,
  enricherApplies,
  lookupBody,
  lookupVerdict,
  offlineResults,
  renderTemplate,
  type EnricherDef,
  type EnrichmentFinish,
  type OfflineResults,
  type WatchlistHit,
} from "../../core/enrich";
import type { Indicator } from "../../core/indicators";
import type { Cidr } from "../../core/netrange";
import type { Logger } from "../../lib/log";
import type { Store } from "../../store/contract";
import type { Handler, JobContext, Outcome } from "../worker";
import { send } from "./http";

export { ENRICHMENT_QUEUE } from "../../store/enrichment";

/** Indicators of one alert that are enriched at most (the rest are left out, and the timeline says so). */
export const MAX_INDICATORS = 100;
/** HTTP lookups of one job at most, and how many run at once. */
export const MAX_LOOKUPS = 100;
const LOOKUP_CONCURRENCY = 4;

export type EnrichmentOptions = {
  allow: Cidr[];
  /** attempts in all and the backoff between them */
  policy: RetryPolicy;
  leaseMs: number;
  log: Logger;
  random?: () => number;
};

export type LookupResult = {
  enricher: string;
  url: string;
  status: number | null;
  duration_ms: number;
  body: unknown;
  body_format: "json" | "text" | "none";
  error: string | null;
};

type Row = { ind: Indicator; offline: OfflineResults; lookups: LookupResult[] };

export class EnrichmentRunner {
  readonly stats = { enriched: 0, failed: 0, lookups: 0 };

  /**
   * `store`: what the attempt reads (the HTTP thread's store contract). Its outcome is written by
   * the worker's settle (a `finishEnrichment` effect): results, tags, severity raise, timeline, and
   * `alert.updated` through the outbox when the alert's tags or severity changed.
   */
  constructor(
    private store: Store,
    private o: EnrichmentOptions,
  ) {}

  handlers(): Record<string, Handler> {
    return { enrich: (ctx) => this.enrich(ctx) };
  }

  private isLast(attempt: number): boolean {
    return this.o.policy.maxAttempts > 0 && attempt >= this.o.policy.maxAttempts;
  }

  private async enrich(ctx: JobContext): Promise<Outcome> {
    const alertId = String(ctx.payload?.alert ?? "");
    const attempt = ctx.job.attempt;
    try {
      return await this.run(alertId, attempt);
    } catch (e) {
      // A bug or a busy store: retry like a failed lookup, and give up with the reason at the end.
      const error = `enrichment crashed: ${String((e as Error)?.message ?? e)}`;
      this.o.log.warn("enrichment attempt failed", { alert: alertId, attempt, error });
      if (!this.isLast(attempt)) return { result: "retry", error, delayMs: backoffDelay(this.o.policy, attempt, this.o.random) };
      return this.finish(error, alertId, [], [], { status: "failed", error: `${error} (after ${attempt} attempts)` });
    }
  }

  private async run(alertId: string, attempt: number): Promise<Outcome> {
    const a = await this.store.enrichment.enrichTarget(alertId);
    // deleted (tenant removed), or already settled by an earlier run whose job outcome was lost
    if (!a || a.enrichmentStatus !== "pending") return { result: "success" };
    const inds = await this.store.enrichment.alertIndicators(alertId, MAX_INDICATORS + 1);
    const truncated = inds.length > MAX_INDICATORS;
    if (truncated) inds.length = MAX_INDICATORS;
    const lists = compileWatchlists(await this.store.watchlists.activeWatchlists(a.tenantId));
    const rows: Row[] = inds.map((ind) => ({ ind, offline: offlineResults(lists, ind), lookups: [] }));

    const enrichers = await this.store.enrichmentLookups.activeEnrichers(a.tenantId);
    const tasks: { row: Row; e: EnricherDef }[] = [];
    for (const row of rows) for (const e of enrichers) if (enricherApplies(e, row.ind)) tasks.push({ row, e });
    const skipped = Math.max(0, tasks.length - MAX_LOOKUPS);
    tasks.length = Math.min(tasks.length, MAX_LOOKUPS);
    const problems: { verdict: "retry" | "fail"; text: string }[] = [];
    // Every lookup ends before the job's lease does (else another claim would run it twice).
    const deadline = Date.now() + (this.o.leaseMs > 3000 ? this.o.leaseMs - 1000 : Infinity);
    await pool(tasks, LOOKUP_CONCURRENCY, async ({ row, e }) => {
      const url = renderTemplate(e.urlTemplate, row.ind);
      const timeoutMs = Math.min(e.timeoutMs, deadline - Date.now());
      if (timeoutMs < 100) {
        const error = "not attempted: the job's lease was running out";
        row.lookups.push({ enricher: e.name, url, status: null, duration_ms: 0, body: null, body_format: "none", error });
        problems.push({ verdict: "retry", text: `${e.name} (${row.ind.type} ${row.ind.value}): ${error}` });
        return;
      }
      const res = await send(url, withDefaults({ accept: "application/json", "user-agent": "keepwatch-enrichment/1" }, e.headers), "", { timeoutMs, allow: this.o.allow, method: "GET" });
      this.stats.lookups++;
      const verdict = lookupVerdict(res.status, res.error, !!res.refused);
      const error = res.error ?? (verdict === "ok" ? null : `HTTP ${res.status}`);
      row.lookups.push({ enricher: e.name, url, status: res.status, duration_ms: res.durationMs, ...lookupBody(res.body), error });
      if (verdict !== "ok") problems.push({ verdict, text: `${e.name} (${row.ind.type} ${row.ind.value}): ${error}` });
    });

    const hits = rows.flatMap((r) => r.offline.watchlists ?? []);
    if (problems.length) {
      const permanent = problems.some((p) => p.verdict === "fail");
      const reason = problems.map((p) => p.text).join("; ");
      if (!permanent && !this.isLast(attempt)) return { result: "retry", error: reason, delayMs: backoffDelay(this.o.policy, attempt, this.o.random) };
      const error = permanent ? reason : `${reason} (after ${attempt} attempt${attempt === 1 ? "" : "s"})`;
      // What was learned is still recorded (IP classes, watchlist hits, the last answers).
      return this.finish(error, alertId, rows, hits, { status: "failed", error, truncated, skipped });
    }
    return this.finish(null, alertId, rows, hits, { status: "enriched", error: null, truncated, skipped });
  }

  /**
   * The job's outcome (`jobError`: it failed with this error, else it succeeded) with its write,
   * applied by the worker's settle only if the lease still held.
   */
  private finish(
    jobError: string | null,
    alertId: string,
    rows: Row[],
    hits: WatchlistHit[],
    s: { status: "enriched" | "failed"; error: string | null; truncated?: boolean; skipped?: number },
  ): Outcome {
    const finish: EnrichmentFinish = {
      alertId,
      status: s.status,
      error: s.error,
      results: rows.map((r) => ({
        type: r.ind.type,
        value: r.ind.value,
        results: { ...r.offline, ...(r.lookups.length ? { lookups: r.lookups } : {}) },
      })),
      hits,
      lookups: rows.reduce((n, r) => n + r.lookups.length, 0),
      truncated: s.truncated,
      skipped: s.skipped,
    };
    const effects = [{ type: "finishEnrichment" as const, finish }];
    const settled = () => void this.stats[s.status]++;
    return jobError === null ? { result: "success", effects, settled } : { result: "fail", error: jobError, effects, settled };
  }
}

/** Runs `f` over `items` with at most `n` at once. */
async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const lanes = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await f(items[i++]);
  });
  await Promise.all(lanes);
}
