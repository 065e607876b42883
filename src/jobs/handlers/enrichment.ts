// Alert enrichment on the job queue ("enrichment"): every new alert has a job, enqueued in the
// transaction that opened it (store/enrichment.ts, called by the ingest commit hooks). The job
// runs the offline enrichers (IP classification, tenant watchlists) and the tenant's HTTP lookup
// enrichers over the alert's indicators, then sets enrichment_status to `enriched`, or to `failed`
// with the reason once its retries are spent. It runs on the HTTP thread's worker, never inside an
// ingest commit, so a slow or dead lookup service cannot hold up ingest.
import { withDefaults } from "../../core/headers";
import type { Db } from "../../db/client";
import { backoffDelay, type RetryPolicy } from "../../core/backoff";
import {
  alertEffects,
  compileWatchlists,
  enricherApplies,
  lookupBody,
  lookupVerdict,
  offlineResults,
  renderTemplate,
  type EnricherDef,
  type OfflineResults,
  type WatchlistHit,
} from "../../core/enrich";
import type { Indicator } from "../../core/indicators";
import type { Cidr } from "../../core/netrange";
import type { Severity } from "../../core/severity";
import type { Logger } from "../../lib/log";
import { alertById, alertView } from "../../store/alerts";
import type { Store } from "../../store/contract";
import { sqliteStore } from "../../store/index";
import { alertIndicators, enrichTarget, saveEnrichment, type EnrichmentOutcome } from "../../store/enrichment";
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
  /** outbound `alert.updated` when enrichment changed the alert's tags or severity (same transaction) */
  emit?: (db: Db, tenantId: string, m: { type: string; data: unknown; severity?: Severity | null; source?: string | null; tags?: string[] }, now: number) => unknown;
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

  /** reads of the attempt go through the store contract (by default the one bound to `db`) */
  private store: Store;

  constructor(
    private db: Db,
    private o: EnrichmentOptions,
    store?: Store,
  ) {
    this.store = store ?? sqliteStore(db);
  }

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
      return { result: "fail", error, effects: (db, _f, now) => this.finish(db, alertId, [], [], { status: "failed", error: `${error} (after ${attempt} attempts)` }, now) };
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
      return { result: "fail", error, effects: (db, _f, now) => this.finish(db, alertId, rows, hits, { status: "failed", error, truncated, skipped }, now) };
    }
    return { result: "success", effects: (db, _f, now) => this.finish(db, alertId, rows, hits, { status: "enriched", error: null, truncated, skipped }, now) };
  }

  /** Writes the outcome (inside the worker's outcome transaction, only if the lease still held). */
  private finish(
    db: Db,
    alertId: string,
    rows: Row[],
    hits: WatchlistHit[],
    s: { status: "enriched" | "failed"; error: string | null; truncated?: boolean; skipped?: number },
    now: number,
  ): void {
    const cur = enrichTarget(db, alertId);
    if (!cur) return;
    const fx = alertEffects(hits, cur.severity);
    const outcome: EnrichmentOutcome = {
      status: s.status,
      error: s.error,
      results: rows.map((r) => ({
        type: r.ind.type,
        value: r.ind.value,
        results: { ...r.offline, ...(r.lookups.length ? { lookups: r.lookups } : {}) },
      })),
      addTags: fx.tags,
      raiseTo: fx.severity,
      summary: {
        indicators: rows.length,
        ...(s.truncated ? { indicators_left_out: true } : {}),
        ...(s.skipped ? { lookups_skipped: s.skipped } : {}),
        watchlist_hits: [...new Set(hits.map((h) => h.label))],
        lookups: rows.reduce((n, r) => n + r.lookups.length, 0),
        tags_added: fx.tags.filter((t) => !cur.tags.includes(t)),
      },
    };
    const { changed } = saveEnrichment(db, alertId, outcome, now);
    this.stats[s.status]++;
    if (changed && this.o.emit) {
      const after = alertById(db, alertId);
      if (after) this.o.emit(db, after.tenantId, { type: "alert.updated", data: alertView(after), severity: after.severity as Severity, source: after.source, tags: JSON.parse(after.tags) }, now);
    }
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
