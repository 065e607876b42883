// Identity and configuration domains, once for both stores (SQLite and PostgreSQL): keys, tenants
// (with their units bootstrap and createTenantWithAdminKey), admin sessions and their one-time
// messages, source settings and URL tokens, watchlists, enrichment lookups, change counters; and
// the Authenticator on top of them: a key revoked, a tenant cap changed or a source setting changed
// through another connection (another process, the CLI, another replica) is seen within the
// store's bound, a change through its own connection at once, and a cached key costs no lookup.
// Every row a function returns is compared whole with what was written, so that both stores give
// back the same shapes (numbers, nulls, 0/1 flags). The keys walk is seeded (seed printed).
import { afterAll, describe, expect, test } from "bun:test";
import { parseKey } from "../../src/core/keys";
import { parseSourceToken } from "../../src/core/source-tokens";
import { openDatabase } from "../../src/db/client";
import { openPg } from "../../src/db/pg-client";
import { migratePg } from "../../src/db/pg-migrate";
import { Authenticator } from "../../src/http/auth";
import { newId } from "../../src/lib/ids";
import type { Severity } from "../../src/core/severity";
import type { Store } from "../../src/store/contract";
import type { EnricherRow } from "../../src/store/enrichment-lookups";
import { pgStore, sqliteStore } from "../../src/store/index";
import type { KeyRow } from "../../src/store/keys";
import { CHECK_MS } from "../../src/store/pg/config-versions";
import type { WatchlistRow } from "../../src/store/watchlists";
import { seededRandom } from "../helpers";
import { forEachStore, makeSqliteStore, sharedCluster } from "./both";

let seq = 0;
/** Two stores on one database, on two connections (pools): `b` plays another process. */
async function pair(kind: "sqlite" | "postgres"): Promise<{ a: Store; b: Store }> {
  if (kind === "sqlite") {
    const { store, db } = makeSqliteStore();
    const other = openDatabase(db.$client.filename);
    return { a: store, b: sqliteStore(other) };
  }
  const c = await sharedCluster();
  const url = await c.createDatabase(`identity_${process.pid}_${++seq}`);
  const one = openPg(url, { pool: 4 });
  await migratePg(one.$client);
  const two = openPg(url, { pool: 4 });
  return { a: pgStore(one.$client), b: pgStore(two.$client) };
}

/** How long a change by another connection may take to be seen: 2 ms (keys, caps) and 1 s (source settings) on SQLite, CHECK_MS on PostgreSQL. */
const staleness = (kind: "sqlite" | "postgres", what: "rows" | "settings") => (kind === "postgres" ? CHECK_MS : what === "rows" ? 2 : 1000);

/** Polls `f` until it is true, failing after `ms` (+ a scheduling margin). */
async function within(ms: number, f: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await f()) return performance.now() - t0;
    if (performance.now() - t0 > ms + 150) throw new Error(`not seen within ${ms} ms`);
    await Bun.sleep(5);
  }
}

const auth = (store: Store, clock: () => number = Date.now) => new Authenticator(store, { defaultRate: 0, defaultBurst: 0, clock, limits: undefined });
const bearer = (key: string) => new Headers({ authorization: `Bearer ${key}` });

forEachStore((kind, make) => {
  describe(`identity on ${kind}`, () => {
    test("tenants: create, get, get by name, list, count, limits; names are unique", async () => {
      const s = await make();
      expect(await s.tenants.countTenants()).toBe(0);
      expect(await s.tenants.listTenants()).toEqual([]);
      const a = await s.tenants.createTenant("alpha", 1_000);
      const b = await s.tenants.createTenant("beta", 2_000);
      expect(a).toEqual({ id: a.id, name: "alpha", createdAt: 1_000, limits: null });
      expect(await s.tenants.getTenant(a.id)).toEqual(a);
      expect(await s.tenants.getTenant("nope")).toBeUndefined();
      expect(await s.tenants.getTenantByName("beta")).toEqual(b);
      expect(await s.tenants.getTenantByName("gamma")).toBeUndefined();
      expect(await s.tenants.listTenants()).toEqual([a, b]);
      expect(await s.tenants.countTenants()).toBe(2);
      await expect(s.tenants.createTenant("alpha", 3_000)).rejects.toThrow();
      expect(await s.tenants.countTenants()).toBe(2);
      // limits: none, set, partial, cleared by null and by {}
      expect(await s.tenants.getTenantLimits(a.id)).toBeNull();
      await s.tenants.setTenantLimits(a.id, { rate: 5, bytes: 1024 });
      expect(await s.tenants.getTenantLimits(a.id)).toEqual({ rate: 5, bytes: 1024 });
      expect(await s.tenants.getTenantLimits(b.id)).toBeNull();
      expect((await s.tenants.getTenant(a.id))!.limits).toBe(JSON.stringify({ rate: 5, bytes: 1024 }));
      await s.tenants.setTenantLimits(a.id, {});
      expect(await s.tenants.getTenantLimits(a.id)).toBeNull();
      await s.tenants.setTenantLimits(a.id, { events: 0 });
      expect(await s.tenants.getTenantLimits(a.id)).toEqual({ events: 0 });
      await s.tenants.setTenantLimits(a.id, null);
      expect(await s.tenants.getTenantLimits(a.id)).toBeNull();
      expect(await s.tenants.getTenantLimits("nope")).toBeNull();
    });

    test("bootstrap: tenant default with an admin and an ingest key on an empty database, once; createTenantWithAdminKey", async () => {
      const s = await make();
      const keys = await s.tenants.bootstrap(5_000);
      expect(keys).not.toBeNull();
      expect(await s.tenants.bootstrap(6_000)).toBeNull();
      const [t] = await s.tenants.listTenants();
      expect(t).toMatchObject({ name: "default", createdAt: 5_000 });
      const admin = await s.keys.findKeyByPrefix(parseKey(keys!.admin)!.prefix);
      const ingest = await s.keys.findKeyByPrefix(parseKey(keys!.ingest)!.prefix);
      expect(admin).toMatchObject({ tenantId: t.id, name: "admin (first start)", scopes: '["admin"]', hash: parseKey(keys!.admin)!.hash });
      expect(ingest).toMatchObject({ tenantId: t.id, name: "ingest (first start)", scopes: '["ingest"]', hash: parseKey(keys!.ingest)!.hash });
      expect(await s.keys.listKeys()).toHaveLength(2);

      const made = await s.tenants.createTenantWithAdminKey("acme", "admin (tenant created)", 7_000);
      expect(made.tenant).toEqual({ id: made.tenant.id, name: "acme", createdAt: 7_000, limits: null });
      expect(await s.keys.findKeyByPrefix(parseKey(made.key)!.prefix)).toMatchObject({ tenantId: made.tenant.id, scopes: '["admin"]' });
      // one transaction: a name taken already leaves no key behind
      await expect(s.tenants.createTenantWithAdminKey("acme", "again", 8_000)).rejects.toThrow();
      expect(await s.keys.listKeys()).toHaveLength(3);
      expect(await s.tenants.countTenants()).toBe(2);
    });

    test("bootstrap from two connections at once: exactly one creates the tenant", async () => {
      const { a, b } = await pair(kind);
      const r = await Promise.all([a.tenants.bootstrap(), b.tenants.bootstrap(), a.tenants.bootstrap(), b.tenants.bootstrap()]);
      expect(r.filter((x) => x !== null)).toHaveLength(1);
      expect(await a.tenants.countTenants()).toBe(1);
      expect(await b.keys.listKeys()).toHaveLength(2);
    });

    test("keys: create, find by prefix, get (tenant-scoped), find by id or prefix, list, revoke, rotate, touch, update", async () => {
      const s = await make();
      const t1 = await s.tenants.createTenant("t1", 1);
      const t2 = await s.tenants.createTenant("t2", 1);
      const k1 = await s.keys.createKey({ tenantId: t1.id, name: "one", scopes: ["ingest", "read"], sources: ["grafana"], rateLimit: 2.5, rateBurst: 7, expiresAt: 90_000 }, 10_000);
      const k2 = await s.keys.createKey({ tenantId: t1.id, name: "two", scopes: ["admin"], sources: [] }, 11_000);
      const k3 = await s.keys.createKey({ tenantId: t2.id, name: "three", scopes: ["read"] }, 12_000);
      expect(k1.row).toEqual({
        id: k1.row.id, tenantId: t1.id, name: "one", prefix: parseKey(k1.key)!.prefix, hash: parseKey(k1.key)!.hash, scopes: '["ingest","read"]',
        sources: '["grafana"]', rateLimit: 2.5, rateBurst: 7, expiresAt: 90_000, revokedAt: null, lastUsedAt: null, rotatedFrom: null, createdAt: 10_000,
      });
      expect(k2.row.sources).toBeNull(); // an empty list means every source
      expect(await s.keys.findKeyByPrefix(k1.row.prefix)).toEqual(k1.row);
      expect(await s.keys.findKeyByPrefix("000000000000")).toBeUndefined();
      expect(await s.keys.getKey(t1.id, k1.row.id)).toEqual(k1.row);
      expect(await s.keys.getKey(t2.id, k1.row.id)).toBeUndefined();
      expect(await s.keys.findKey(k2.row.id)).toEqual(k2.row);
      expect(await s.keys.findKey(k2.row.prefix)).toEqual(k2.row);
      expect(await s.keys.findKey("nope")).toBeUndefined();
      expect(await s.keys.listKeys(t1.id)).toEqual([k1.row, k2.row]);
      expect(await s.keys.listKeys()).toEqual([k1.row, k2.row, k3.row]);

      expect(await s.keys.revokeKey(k3.row.id, 20_000)).toBe(true);
      expect(await s.keys.revokeKey(k3.row.id, 21_000)).toBe(false);
      expect((await s.keys.getKey(t2.id, k3.row.id))!.revokedAt).toBe(20_000);
      expect(await s.keys.revokeKey("nope", 1)).toBe(false);

      // rotation: same settings, old one until min(now + overlap, its own expiry)
      const r = await s.keys.rotateKey(k1.row, 100_000, 30_000);
      expect(r.row).toMatchObject({ tenantId: t1.id, name: "one", scopes: k1.row.scopes, sources: k1.row.sources, rateLimit: 2.5, rateBurst: 7, expiresAt: 90_000, rotatedFrom: k1.row.id, createdAt: 30_000 });
      expect(await s.keys.findKeyByPrefix(parseKey(r.key)!.prefix)).toEqual(r.row);
      expect((await s.keys.getKey(t1.id, k1.row.id))!.expiresAt).toBe(90_000);
      const r2 = await s.keys.rotateKey(k2.row, 5_000, 40_000);
      expect((await s.keys.getKey(t1.id, k2.row.id))!.expiresAt).toBe(45_000);
      expect(r2.row.expiresAt).toBeNull();

      // last-used: batched, never backwards, unknown ids ignored
      await s.keys.touchKeys(new Map([[k1.row.id, 50_000], [k2.row.id, 60_000], ["nope", 1]]));
      await s.keys.touchKeys(new Map([[k1.row.id, 40_000]]));
      await s.keys.touchKeys(new Map());
      expect((await s.keys.getKey(t1.id, k1.row.id))!.lastUsedAt).toBe(50_000);
      expect((await s.keys.getKey(t1.id, k2.row.id))!.lastUsedAt).toBe(60_000);

      // update: only the fields given
      await s.keys.updateKey(k2.row.id, { name: "renamed" });
      expect(await s.keys.getKey(t1.id, k2.row.id)).toMatchObject({ name: "renamed", sources: null, rateLimit: null, rateBurst: null });
      await s.keys.updateKey(k2.row.id, { sources: ["a", "b"], rateLimit: 0.5, rateBurst: 3 });
      expect(await s.keys.getKey(t1.id, k2.row.id)).toMatchObject({ name: "renamed", sources: '["a","b"]', rateLimit: 0.5, rateBurst: 3 });
      await s.keys.updateKey(k2.row.id, { sources: [], rateLimit: null });
      expect(await s.keys.getKey(t1.id, k2.row.id)).toMatchObject({ sources: null, rateLimit: null, rateBurst: 3 });
      await s.keys.updateKey(k2.row.id, {});
      expect((await s.keys.getKey(t1.id, k2.row.id))!.name).toBe("renamed");
    });

    test("keys: a seeded walk of creates, revokes, rotations, touches and updates matches a model", async () => {
      const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
      console.log(`identity keys walk on ${kind}: SEED=${seed}`);
      const rnd = seededRandom(seed);
      const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
      const s = await make();
      const tenants = [await s.tenants.createTenant("w1", 1), await s.tenants.createTenant("w2", 1)];
      const model = new Map<string, KeyRow>();
      let now = 1_000;
      for (let step = 0; step < 60; step++) {
        now += 1 + Math.floor(rnd() * 1000);
        const op = model.size === 0 ? 0 : Math.floor(rnd() * 5);
        if (op === 0) {
          const scopes = (["ingest", "read", "admin"] as const).filter(() => rnd() < 0.5);
          const { row } = await s.keys.createKey(
            {
              tenantId: pick(tenants).id,
              name: `k${step}`,
              scopes: scopes.length ? [...scopes] : ["read"],
              sources: rnd() < 0.4 ? ["grafana", "elastic"].slice(0, 1 + Math.floor(rnd() * 2)) : null,
              rateLimit: rnd() < 0.3 ? Math.round(rnd() * 1000) / 10 : null,
              rateBurst: rnd() < 0.3 ? 1 + Math.floor(rnd() * 50) : null,
              expiresAt: rnd() < 0.3 ? now + Math.floor(rnd() * 100_000) : null,
            },
            now,
          );
          model.set(row.id, row);
        } else if (op === 1) {
          const k = pick([...model.values()]);
          const changed = await s.keys.revokeKey(k.id, now);
          expect(changed).toBe(k.revokedAt === null);
          if (changed) k.revokedAt = now;
        } else if (op === 2) {
          const k = pick([...model.values()]);
          const overlap = Math.floor(rnd() * 50_000);
          const { row } = await s.keys.rotateKey({ ...k }, overlap, now);
          expect(row).toMatchObject({ tenantId: k.tenantId, scopes: k.scopes, sources: k.sources, rateLimit: k.rateLimit, rateBurst: k.rateBurst, expiresAt: k.expiresAt, rotatedFrom: k.id });
          k.expiresAt = Math.min(now + overlap, k.expiresAt ?? Infinity);
          model.set(row.id, row);
        } else if (op === 3) {
          const m = new Map<string, number>();
          for (const k of model.values()) if (rnd() < 0.5) m.set(k.id, now - Math.floor(rnd() * 3000));
          await s.keys.touchKeys(m);
          for (const [id, at] of m) {
            const k = model.get(id)!;
            if (k.lastUsedAt === null || k.lastUsedAt < at) k.lastUsedAt = at;
          }
        } else {
          const k = pick([...model.values()]);
          const ch: Parameters<Store["keys"]["updateKey"]>[1] = {};
          if (rnd() < 0.5) ch.name = `n${step}`;
          if (rnd() < 0.5) ch.sources = rnd() < 0.5 ? [] : ["splunk"];
          if (rnd() < 0.5) ch.rateLimit = rnd() < 0.3 ? null : Math.round(rnd() * 100) / 4;
          if (rnd() < 0.5) ch.rateBurst = rnd() < 0.3 ? null : 1 + Math.floor(rnd() * 9);
          await s.keys.updateKey(k.id, ch);
          if (ch.name !== undefined) k.name = ch.name;
          if (ch.sources !== undefined) k.sources = ch.sources && ch.sources.length ? JSON.stringify(ch.sources) : null;
          if (ch.rateLimit !== undefined) k.rateLimit = ch.rateLimit;
          if (ch.rateBurst !== undefined) k.rateBurst = ch.rateBurst;
        }
        if (step % 10 === 9 || step === 59) {
          const byCreation = (x: KeyRow[]) => [...x].sort((p, q) => p.createdAt - q.createdAt || (p.id < q.id ? -1 : 1));
          expect(await s.keys.listKeys()).toEqual(byCreation([...model.values()]));
          for (const t of tenants) expect(await s.keys.listKeys(t.id)).toEqual(byCreation([...model.values()].filter((k) => k.tenantId === t.id)));
        }
      }
    });

    test("sessions: create (sweeps expired ones), find while live, one-time message taken once, delete", async () => {
      const s = await make();
      const t = await s.tenants.createTenant("t", 1);
      const k = await s.keys.createKey({ tenantId: t.id, name: "admin", scopes: ["admin"] }, 1);
      const old = await s.sessions.createSession({ tenantId: t.id, keyId: k.row.id, ttlMs: 1_000 }, 10_000);
      const { token, row } = await s.sessions.createSession({ tenantId: t.id, keyId: k.row.id, ttlMs: 60_000 }, 10_500);
      expect(row).toEqual({ id: row.id, tenantId: t.id, keyId: k.row.id, csrfToken: row.csrfToken, createdAt: 10_500, expiresAt: 70_500 });
      expect(row.id).not.toBe(token); // only the hash is stored
      expect(await s.sessions.findSession(token, 20_000)).toEqual(row);
      expect(await s.sessions.findSession(token, 70_500)).toBeUndefined(); // expired
      expect(await s.sessions.findSession("nope", 20_000)).toBeUndefined();
      expect(await s.sessions.findSession(old.token, 10_999)).toEqual(old.row);
      // the next login sweeps the expired session
      await s.sessions.createSession({ tenantId: t.id, keyId: k.row.id, ttlMs: 60_000 }, 12_000);
      expect(await s.sessions.findSession(old.token, 10_999)).toBeUndefined();

      expect(await s.sessions.takeSessionFlash(token)).toBeNull();
      await s.sessions.setSessionFlash(token, "sealed-1");
      await s.sessions.setSessionFlash(token, "sealed-2"); // the newer replaces it
      expect(await s.sessions.takeSessionFlash(token)).toBe("sealed-2");
      expect(await s.sessions.takeSessionFlash(token)).toBeNull();
      await s.sessions.setSessionFlash(token, "sealed-3");
      await s.sessions.setSessionFlash(token, null);
      expect(await s.sessions.takeSessionFlash(token)).toBeNull();
      // many takers at once: the message is shown once
      await s.sessions.setSessionFlash(token, "once");
      const got = await Promise.all(Array.from({ length: 8 }, () => s.sessions.takeSessionFlash(token)));
      expect(got.filter((x) => x !== null)).toEqual(["once"]);

      await s.sessions.deleteSession(token);
      expect(await s.sessions.findSession(token, 20_000)).toBeUndefined();
      await s.sessions.deleteSession(token); // gone already: no error
    });

    test("source settings: put (insert, then replace), get, delete; URL tokens: create, find, list, get, revoke, touch", async () => {
      const s = await make();
      const t = await s.tenants.createTenant("t", 1);
      const u = await s.tenants.createTenant("u", 1);
      const row = { tenantId: t.id, source: "grafana", scheme: "grafana" as const, secret: "s3cret", header: null, timestampHeader: "X-Grafana-Timestamp", toleranceS: 300, updatedAt: 5 };
      expect(await s.sourceSettings.getSourceSetting(t.id, "grafana")).toBeUndefined();
      await s.sourceSettings.putSourceSetting(row);
      expect(await s.sourceSettings.getSourceSetting(t.id, "grafana")).toEqual(row);
      expect(await s.sourceSettings.getSourceSetting(u.id, "grafana")).toBeUndefined();
      const replaced = { ...row, scheme: "hmac-sha256-hex" as const, header: "X-Sig", timestampHeader: null, toleranceS: 60, updatedAt: 9 };
      await s.sourceSettings.putSourceSetting(replaced);
      expect(await s.sourceSettings.getSourceSetting(t.id, "grafana")).toEqual(replaced);
      expect(await s.sourceSettings.deleteSourceSetting(t.id, "grafana")).toBe(true);
      expect(await s.sourceSettings.deleteSourceSetting(t.id, "grafana")).toBe(false);
      expect(await s.sourceSettings.getSourceSetting(t.id, "grafana")).toBeUndefined();

      const a = await s.sourceSettings.createSourceToken(t.id, "grafana", "first", 100);
      const b = await s.sourceSettings.createSourceToken(t.id, "grafana", "second", 200);
      const c = await s.sourceSettings.createSourceToken(t.id, "elastic", "other source", 300);
      expect(a.row).toEqual({ id: a.row.id, tenantId: t.id, source: "grafana", name: "first", prefix: parseSourceToken(a.token)!.prefix, hash: parseSourceToken(a.token)!.hash, createdAt: 100, lastUsedAt: null, revokedAt: null });
      expect(await s.sourceSettings.findSourceTokenByPrefix(a.row.prefix)).toEqual(a.row);
      expect(await s.sourceSettings.findSourceTokenByPrefix("nope")).toBeUndefined();
      expect(await s.sourceSettings.listSourceTokens(t.id, "grafana")).toEqual([b.row, a.row]); // newest first
      expect(await s.sourceSettings.listSourceTokens(u.id, "grafana")).toEqual([]);
      expect(await s.sourceSettings.getSourceToken(t.id, "grafana", a.row.id)).toEqual(a.row);
      expect(await s.sourceSettings.getSourceToken(t.id, "elastic", a.row.id)).toBeUndefined();
      expect(await s.sourceSettings.getSourceToken(u.id, "grafana", a.row.id)).toBeUndefined();
      expect(await s.sourceSettings.revokeSourceToken(a.row.id, 400)).toBe(true);
      expect(await s.sourceSettings.revokeSourceToken(a.row.id, 500)).toBe(false);
      expect((await s.sourceSettings.getSourceToken(t.id, "grafana", a.row.id))!.revokedAt).toBe(400);
      await s.sourceSettings.touchSourceTokens(new Map([[b.row.id, 700], [c.row.id, 800]]));
      await s.sourceSettings.touchSourceTokens(new Map([[b.row.id, 600]]));
      expect((await s.sourceSettings.getSourceToken(t.id, "grafana", b.row.id))!.lastUsedAt).toBe(700);
      expect((await s.sourceSettings.getSourceToken(t.id, "elastic", c.row.id))!.lastUsedAt).toBe(800);
    });

    test("watchlists and enrichment lookups: insert, get, by name, list in byte order, update, delete, active ones", async () => {
      const s = await make();
      const t = await s.tenants.createTenant("t", 1);
      const u = await s.tenants.createTenant("u", 1);
      // names whose order differs between byte order and a linguistic collation
      const names = ["b-list", "B-list", "_x", "a list", "Zed"];
      const wl = (name: string, i: number): WatchlistRow => ({
        id: `wl_${newId(1000 + i)}`, tenantId: t.id, name, label: `l${i}`, severity: i % 2 ? "high" : null, active: i === 2 ? 0 : 1,
        entries: JSON.stringify([{ kind: "ip", value: `10.0.0.${i}` }]), createdAt: 1000 + i, updatedAt: 1000 + i,
      });
      const rows = names.map(wl);
      for (const r of rows) await s.watchlists.insertWatchlist(r);
      const sorted = [...rows].sort((p, q) => (p.name < q.name ? -1 : 1));
      expect(await s.watchlists.listWatchlists(t.id)).toEqual(sorted);
      expect(await s.watchlists.listWatchlists(u.id)).toEqual([]);
      expect(await s.watchlists.getWatchlist(t.id, rows[0].id)).toEqual(rows[0]);
      expect(await s.watchlists.getWatchlist(u.id, rows[0].id)).toBeNull();
      expect(await s.watchlists.watchlistByName(t.id, "Zed")).toEqual(rows[4]);
      expect(await s.watchlists.watchlistByName(t.id, "zed")).toBeNull();
      await expect(s.watchlists.insertWatchlist({ ...rows[0], id: "wl_dup" })).rejects.toThrow(); // (tenant, name) is unique
      expect(await s.watchlists.activeWatchlists(t.id)).toEqual(
        sorted.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name, label: r.label, severity: r.severity as Severity | null, entries: JSON.parse(r.entries) })),
      );
      const changed = { ...rows[2], name: "renamed", label: "nl", severity: "critical", active: 1, entries: "[]", updatedAt: 5000, createdAt: 1 };
      expect(await s.watchlists.updateWatchlist(changed)).toBe(true);
      expect(await s.watchlists.getWatchlist(t.id, rows[2].id)).toEqual({ ...changed, createdAt: rows[2].createdAt });
      expect(await s.watchlists.updateWatchlist({ ...changed, tenantId: u.id })).toBe(false);
      expect(await s.watchlists.deleteWatchlist(u.id, rows[1].id)).toBe(false);
      expect(await s.watchlists.deleteWatchlist(t.id, rows[1].id)).toBe(true);
      expect(await s.watchlists.deleteWatchlist(t.id, rows[1].id)).toBe(false);
      expect(await s.watchlists.listWatchlists(t.id)).toHaveLength(4);

      const en = (name: string, i: number): EnricherRow => ({
        id: `enr_${newId(2000 + i)}`, tenantId: t.id, name, indicatorTypes: JSON.stringify(["ip", "domain"]), urlTemplate: `https://intel.example/${i}/{{value}}`,
        headers: JSON.stringify({ "x-api-key": `k${i}` }), timeoutMs: 1500 + i, active: i === 1 ? 0 : 1, createdAt: 2000 + i, updatedAt: 2000 + i,
      });
      const es = names.map(en);
      for (const r of es) await s.enrichmentLookups.insertEnricher(r);
      const esorted = [...es].sort((p, q) => (p.name < q.name ? -1 : 1));
      expect(await s.enrichmentLookups.listEnrichers(t.id)).toEqual(esorted);
      expect(await s.enrichmentLookups.listEnrichers(u.id)).toEqual([]);
      expect(await s.enrichmentLookups.getEnricher(t.id, es[3].id)).toEqual(es[3]);
      expect(await s.enrichmentLookups.getEnricher(u.id, es[3].id)).toBeNull();
      expect(await s.enrichmentLookups.enricherByName(t.id, "_x")).toEqual(es[2]);
      expect(await s.enrichmentLookups.enricherByName(t.id, "nope")).toBeNull();
      await expect(s.enrichmentLookups.insertEnricher({ ...es[0], id: "enr_dup" })).rejects.toThrow();
      expect(await s.enrichmentLookups.activeEnrichers(t.id)).toEqual(
        esorted.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name, types: ["ip", "domain"], urlTemplate: r.urlTemplate, headers: JSON.parse(r.headers), timeoutMs: r.timeoutMs })),
      );
      const ech = { ...es[1], name: "x2", indicatorTypes: '["url"]', urlTemplate: "https://other/{{value}}", headers: "{}", timeoutMs: 9000, active: 1, updatedAt: 9999 };
      expect(await s.enrichmentLookups.updateEnricher(ech)).toBe(true);
      expect(await s.enrichmentLookups.getEnricher(t.id, es[1].id)).toEqual(ech);
      expect(await s.enrichmentLookups.updateEnricher({ ...ech, tenantId: u.id })).toBe(false);
      expect(await s.enrichmentLookups.deleteEnricher(t.id, es[1].id)).toBe(true);
      expect(await s.enrichmentLookups.deleteEnricher(t.id, es[1].id)).toBe(false);
    });

    test("change counters: a guarded map is emptied at once by this connection's bump, within the bound by another's", async () => {
      const { a, b } = await pair(kind);
      const m = a.guardedMap<string>("test_counter");
      // the first look reads the counter (and starts empty), as a cache is used: get, then set on a miss
      expect(await m.get("x")).toBeUndefined();
      m.set("x", "1");
      expect(await m.get("x")).toBe("1");
      await a.configVersions.bumpVersion("test_counter");
      expect(await m.get("x")).toBeUndefined(); // own change: at once
      m.set("x", "2");
      expect(await m.get("x")).toBe("2");
      await a.configVersions.bumpVersion("another_counter");
      await Bun.sleep(staleness(kind, "rows") + 5);
      expect(await m.get("x")).toBe("2"); // other counters do not empty it
      await b.configVersions.bumpVersion("test_counter");
      await within(staleness(kind, "rows"), async () => (await m.get("x")) === undefined);
      m.delete("x");
      expect(await m.get("x")).toBeUndefined();
    });

    test("Authenticator: a cached key costs no lookup; a key revoked by another connection is refused within the bound, by this one at once", async () => {
      const { a, b } = await pair(kind);
      const t = await a.tenants.createTenant("t", 1);
      let lookups = 0;
      const counted: Store = { ...a, keys: { ...a.keys, findKeyByPrefix: (p: string) => (lookups++, a.keys.findKeyByPrefix(p)) } };
      const au = auth(counted);
      const k1 = await a.keys.createKey({ tenantId: t.id, name: "k1", scopes: ["read"] });
      const k2 = await a.keys.createKey({ tenantId: t.id, name: "k2", scopes: ["admin"] });
      expect((await au.verify(k1.key)).principal).toEqual({ keyId: k1.row.id, tenantId: t.id, scopes: ["read"], sources: null });
      for (let i = 0; i < 20; i++) await au.verify(k1.key);
      expect(lookups).toBe(1);
      await expect(au.verify("kw_000000000000_" + "x".repeat(43))).rejects.toThrow("unknown API key");
      await expect(au.verify(k1.key.slice(0, -1) + (k1.key.endsWith("A") ? "B" : "A"))).rejects.toThrow("unknown API key");

      // revoked through another connection (the CLI, another replica)
      await au.verify(k2.key);
      expect(await b.keys.revokeKey(k2.row.id)).toBe(true);
      const took = await within(staleness(kind, "rows"), () => au.verify(k2.key).then(() => false, (e) => /revoked/.test(String(e))));
      expect(took).toBeLessThanOrEqual(staleness(kind, "rows") + 150);

      // revoked through this connection: refused on the next request, even when requests looked at
      // the counters while the revocation's transaction was still open
      await au.verify(k1.key);
      let busy = true;
      const meanwhile = (async () => {
        while (busy) {
          await au.verify(k1.key).catch(() => {});
          await Bun.sleep(0); // a cached key resolves without I/O: let the revocation's I/O run
        }
      })();
      expect(await a.keys.revokeKey(k1.row.id)).toBe(true);
      await expect(au.verify(k1.key)).rejects.toThrow("revoked");
      busy = false;
      await meanwhile;

      // an expired key
      const k3 = await a.keys.createKey({ tenantId: t.id, name: "k3", scopes: ["read"], expiresAt: Date.now() - 1 });
      await expect(au.verify(k3.key)).rejects.toThrow("expired");

      // last-used times are flushed in one batch
      const k4 = await a.keys.createKey({ tenantId: t.id, name: "k4", scopes: ["ingest"] });
      await au.verify(k4.key);
      await au.flushLastUsed();
      expect((await b.keys.getKey(t.id, k4.row.id))!.lastUsedAt).not.toBeNull();
    });

    test("Authenticator: scopes and sources; a tenant cap set by another connection applies within the bound", async () => {
      const { a, b } = await pair(kind);
      const t = await a.tenants.createTenant("t", 1);
      const au = new Authenticator(a, {
        defaultRate: 0,
        defaultBurst: 0,
        clock: Date.now,
        limits: { rateLimit: 0, rateBurst: 0, maxItems: 0, bodyLimit: 0, eventRate: 0, byteRate: 0, tenantRateLimit: 0, tenantEventRate: 0, tenantByteRate: 0 },
      });
      const k = await a.keys.createKey({ tenantId: t.id, name: "k", scopes: ["ingest"], sources: ["grafana"] });
      const h = () => bearer(k.key);
      const first = h();
      await au.authenticate(first);
      expect(au.authorize(first, "ingest", "grafana")).toMatchObject({ tenantId: t.id, sources: ["grafana"] });
      expect(() => au.authorize(first, "admin")).toThrow(/lacks the "admin" scope/);
      expect(() => au.authorize(first, "ingest", "elastic")).toThrow(/may not send to source "elastic"/);
      expect(() => au.authorize(h(), "ingest", "grafana")).toThrow(/before authenticate/);
      for (let i = 0; i < 5; i++) {
        const x = h();
        await au.authenticate(x);
        au.authorize(x, "ingest", "grafana"); // no cap yet
      }
      await b.tenants.setTenantLimits(t.id, { rate: 0.001 });
      // within the bound, a request beyond the cap's burst is refused (429)
      await within(staleness(kind, "rows"), async () => {
        const x = h();
        await au.authenticate(x);
        try {
          au.authorize(x, "ingest", "grafana");
          return false;
        } catch (e) {
          return (e as { status?: number }).status === 429;
        }
      });
    });

    test("Authenticator: URL tokens and signature settings; a setting changed by another connection applies within the bound", async () => {
      const { a, b } = await pair(kind);
      const t = await a.tenants.createTenant("t", 1);
      const au = auth(a);
      const tok = await a.sourceSettings.createSourceToken(t.id, "generic", "tok");
      const req = (token: string) => new Request(`http://x/v1/ingest/generic?token=${token}`, { method: "POST" });
      expect(await au.authorizeIngest(req(tok.token), "generic")).toEqual({ keyId: `token:${tok.row.id}`, tenantId: t.id, scopes: ["ingest"], sources: ["generic"] });
      await expect(au.authorizeIngest(req(tok.token), "grafana")).rejects.toThrow(/only send to source "generic"/);
      await b.sourceSettings.revokeSourceToken(tok.row.id, Date.now() - 1);
      await expect(au.authorizeIngest(req(tok.token), "generic")).rejects.toThrow(/revoked/); // tokens are not cached
      await au.flushLastUsed();
      expect((await b.sourceSettings.getSourceToken(t.id, "generic", tok.row.id))!.lastUsedAt).not.toBeNull();

      expect(await au.signatureSetting(t.id, "generic")).toBeUndefined();
      await b.sourceSettings.putSourceSetting({ tenantId: t.id, source: "generic", scheme: "hmac-sha256-hex", secret: "k", header: "X-Sig", timestampHeader: null, toleranceS: 300, updatedAt: 1 });
      await within(staleness(kind, "settings"), async () => (await au.signatureSetting(t.id, "generic"))?.scheme === "hmac-sha256-hex");
      await expect(au.checkSignature(t.id, "generic", new Headers(), new TextEncoder().encode("{}"))).rejects.toThrow(/signature refused/);
      // through this connection (the API invalidates the cache): at once
      await a.sourceSettings.deleteSourceSetting(t.id, "generic");
      au.sourceSettings.invalidate();
      expect(await au.signatureSetting(t.id, "generic")).toBeUndefined();
      await au.checkSignature(t.id, "generic", new Headers(), new TextEncoder().encode("{}"));
    });
  });
});

describe("PostgreSQL only (SQLite's request-path maps keep their 2 ms pace on the process's monotonic time, unchanged)", () => {
  const pools: { end(o: { timeout: number }): Promise<void> }[] = [];
  afterAll(async () => {
    for (const p of pools.splice(0)) await p.end({ timeout: 5 });
  });

  test("the change counters are re-read on the store's injected clock: another connection's change is seen once that clock has moved CHECK_MS, at once when it stepped back", async () => {
    const c = await sharedCluster();
    const url = await c.createDatabase(`identity_clock_${process.pid}_${++seq}`);
    const one = openPg(url, { pool: 2 });
    await migratePg(one.$client);
    const two = openPg(url, { pool: 2 });
    pools.push(one.$client, two.$client);
    let now = 1_800_000_000_000;
    const a = pgStore(one.$client, () => now);
    const b = pgStore(two.$client); // another process
    const m = a.guardedMap<string>("clock_counter");
    const cached = async () => (await m.get("x")) !== undefined;
    expect(await m.get("x")).toBeUndefined(); // the first look reads the counters
    m.set("x", "1");
    for (let round = 0; round < 3; round++) {
      await b.configVersions.bumpVersion("clock_counter");
      // real time passes, the injected clock stands still: the snapshot is still young
      await Bun.sleep(CHECK_MS + 100);
      expect(await cached()).toBe(true);
      now += CHECK_MS / 4;
      expect(await cached()).toBe(true);
      if (round === 2) {
        // a clock that steps back (a wall-clock correction): the snapshot is stale at once
        now -= 3_600_000;
        expect(await cached()).toBe(false);
      } else {
        now += CHECK_MS; // past the bound on the injected clock: the next look waits for a read
        expect(await cached()).toBe(false);
      }
      m.set("x", String(round + 2));
    }
    // this connection's own bump is seen at once, whatever the clock does
    await a.configVersions.bumpVersion("clock_counter");
    expect(await cached()).toBe(false);
    // the stores bound to transactions (pgStore(tx), no clock) leave the database's clock alone
    pgStore(one.$client);
    m.set("x", "5");
    await b.configVersions.bumpVersion("clock_counter");
    await Bun.sleep(CHECK_MS + 100);
    expect(await cached()).toBe(true);
  });
});
