// GET /v1/sources: every source plugin with the fields it reads and what each becomes, so a
// sender can see how its payload will be mapped.
import { Elysia, t } from "elysia";
import type { Deps } from "../../deps";
import { listSources, routeOf } from "../../sources/registry";

const Source = t.Object({
  name: t.String(),
  describe: t.String(),
  kind: t.String({ description: "alert: every item opens an alert; event and connector: rules decide" }),
  route: t.String(),
  fields: t.Array(t.Object({ path: t.String(), maps_to: t.String(), note: t.Optional(t.String()) })),
});

export function sourcesModule(deps: Deps) {
  return new Elysia({ name: "sources" }).get(
    "/v1/sources",
    ({ request }) => {
      deps.auth.authorize(request.headers, "read");
      return {
        items: listSources().map((s) => ({
          name: s.name,
          describe: s.describe,
          kind: s.kind,
          route: routeOf(s),
          fields: s.fields,
        })),
      };
    },
    { response: t.Object({ items: t.Array(Source) }), detail: { summary: "Source plugins and the fields they read", tags: ["sources"] } },
  );
}
