// CSS is imported as text (`with { type: "text" }`) so it is embedded in the compiled binary.
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*.svg" {
  const text: string;
  export default text;
}
