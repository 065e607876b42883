// /v1/watchlists: tenant watchlists for enrichment. Listing and reading need the read scope,
// changes need admin. Changes apply to alerts enriched afterwards (not retroactively).
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { Watchlist, WatchlistCreate, WatchlistList, WatchlistUpdate } from "./model";
import * as service from "./service";

const Id = t.Object({ id: t.String() });

export function watchlistsModule(deps: Deps) {
  const tenant = (request: Request, scope: "read" | "admin") => deps.auth.authorize(request.headers, scope).tenantId;
  const tags = ["watchlists"];
  return new Elysia({ name: "watchlists" })
    .post(
      "/v1/watchlists",
      ({ request, body, set }) => {
        const t = tenant(request, "admin");
        set.status = 201;
        return service.create(deps, t, body);
      },
      { body: WatchlistCreate, response: { 201: Watchlist }, detail: { summary: "Add a watchlist", tags } },
    )
    .get("/v1/watchlists", ({ request }) => service.list(deps, tenant(request, "read")), { response: WatchlistList, detail: { summary: "List watchlists", tags } })
    .get("/v1/watchlists/:id", ({ request, params }) => service.get(deps, tenant(request, "read"), params.id), {
      params: Id,
      response: Watchlist,
      detail: { summary: "One watchlist with its entries", tags },
    })
    .patch("/v1/watchlists/:id", ({ request, params, body }) => service.update(deps, tenant(request, "admin"), params.id, body), {
      params: Id,
      body: WatchlistUpdate,
      response: Watchlist,
      detail: { summary: "Change a watchlist (entries, when given, replace the list)", tags },
    })
    .delete(
      "/v1/watchlists/:id",
      async ({ request, params, set }) => {
        await service.remove(deps, tenant(request, "admin"), params.id);
        set.status = 204;
        return "";
      },
      { params: Id, detail: { summary: "Delete a watchlist", tags } },
    );
}
