// Probes of a JSON schema (typebox's, or an OpenAPI document's): for every bounded number, string
// and array, an out-of-range value; for every enum or tagged union, a value it does not allow; for
// every closed object, an unknown field. Each says what a 422 message about it must name.

/** a bad value at a pointer, what its message must name, and values the body needs around it (a union's tag) */
export type Probe = { pointer: string; value: unknown; mustName: string[]; also?: [string, unknown][] };

const CODED = new Set(["integer", "numeric", "boolean"]);

/** The probes of one schema at `pointer`: a bad value and what the message must name. */
export function probesOf(schema: any, pointer: string, out: Probe[], also: [string, unknown][] = []): void {
  if (!schema || typeof schema !== "object") return;
  const start = out.length;
  probesOf_(schema, pointer, out, also);
  for (const p of out.slice(start)) p.also = [...also, ...(p.also ?? [])];
}

function probesOf_(schema: any, pointer: string, out: Probe[], also: [string, unknown][]): void {
  const members: any[] = schema.anyOf ?? [schema];
  const real = members.filter((m) => !(m.type === "string" && CODED.has(m.format) && members.length > 1));
  const nums = real.filter((m) => m.type === "integer" || m.type === "number");
  for (const m of nums) {
    const min = m.minimum ?? schema.minimum;
    const max = m.maximum ?? schema.maximum;
    if (max !== undefined) out.push({ pointer, value: m.type === "integer" ? max + 1 : max * 2 + 1, mustName: [String(max), ...(min !== undefined ? [String(min)] : [])] });
    if (min !== undefined) out.push({ pointer, value: m.type === "integer" ? min - 1 : min - 1, mustName: [String(min)] });
    // a fraction where a whole number is wanted (limit=1.5 reached SQLite's LIMIT and was a 500)
    if (m.type === "integer" && !real.some((x) => x.type === "number")) out.push({ pointer, value: (min ?? 0) + 1.5, mustName: ["integer"] });
    if ((min !== undefined || max !== undefined) && !real.some((x) => x.type === "string")) out.push({ pointer, value: "not a number", mustName: [String(min ?? max)] });
    break;
  }
  const consts = real.filter((m) => m.const !== undefined).map((m) => m.const);
  const enums = real.flatMap((m) => (Array.isArray(m.enum) ? m.enum : []));
  const allowed = [...consts, ...enums];
  if (allowed.length && allowed.length === real.filter((m) => m.const !== undefined || m.enum).flatMap((m) => m.enum ?? [m.const]).length)
    if (real.every((m) => m.const !== undefined || m.enum || m.type === "null"))
      out.push({ pointer, value: "zz-not-allowed", mustName: allowed.map((v) => JSON.stringify(v)) });
  // a tagged union of objects: an unknown tag names every tag
  const objs = real.filter((m) => m.type === "object" && m.properties);
  if (objs.length > 1) {
    const tag = Object.keys(objs[0].properties).find((k) => objs.every((o) => o.properties[k]?.const !== undefined));
    if (tag) out.push({ pointer: `${pointer}/${tag}`, value: "zz-not-allowed", mustName: objs.map((o) => JSON.stringify(o.properties[tag].const)) });
  }
  for (const m of real) {
    if (m.type === "string" && !m.enum && m.const === undefined) {
      if (m.maxLength !== undefined && m.maxLength < 100_000) out.push({ pointer, value: "x".repeat(m.maxLength + 1), mustName: [String(m.maxLength)] });
      if (m.minLength !== undefined && m.minLength > 0) out.push({ pointer, value: "", mustName: [String(m.minLength)] });
    }
    if (m.type === "array") {
      if (m.maxItems !== undefined && m.maxItems <= 1000 && !m.items?.enum) out.push({ pointer, value: Array.from({ length: m.maxItems + 1 }, (_, i) => sampleOf(m.items, i)), mustName: [String(m.maxItems)] });
      if (m.minItems !== undefined && m.minItems > 0) out.push({ pointer, value: [], mustName: [String(m.minItems)] });
      probesOf(m.items, `${pointer}/0`, out);
    }
    if (m.type === "object" && m.properties) {
      // a member of a tagged union: the body carries its tag
      const tag = Object.entries<any>(m.properties).find(([, v]) => v.const !== undefined && real.length > 1);
      const tagged: [string, unknown][] = tag ? [[`${pointer}/${tag[0]}`, tag[1].const]] : [];
      for (const [k, sub] of Object.entries<any>(m.properties)) if (!tag || k !== tag[0]) probesOf(sub, `${pointer}/${k}`, out, tagged);
      if (m.additionalProperties === false) out.push({ pointer: `${pointer}/zz_unknown_field`, value: 1, mustName: Object.keys(m.properties), also: tagged });
    }
  }
}

/** A value that fits a schema (array items of a too-long array must be fine one by one). */
function sampleOf(s: any, i: number): unknown {
  if (!s) return i;
  if (s.enum) return s.enum[i % s.enum.length];
  if (s.type === "string") return `v${i}`;
  if (s.type === "integer" || s.type === "number") return s.minimum ?? 1;
  return {};
}

