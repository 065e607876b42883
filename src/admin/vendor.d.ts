// Scripts imported as text (`with { type: "text" }`) so that they are embedded in the compiled
// binary: uPlot's browser build and the on-call pages' own script (src/admin/overview.ts).
declare module "*.iife.min.js" {
  const text: string;
  export default text;
}
declare module "*/assets/overview.js" {
  const text: string;
  export default text;
}
