// Files imported as text (`with { type: "text" }`) so that they are embedded in the compiled binary.
declare module "*.js" {
  const text: string;
  export default text;
}
