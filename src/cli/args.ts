// Small argument helpers for the CLI commands.
import { CliError } from "./ops";

/** Removes `--name value` or `--name=value` from args and returns the value. */
export function takeOpt(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(name + "="));
  if (i < 0) return undefined;
  const a = args[i];
  if (a.includes("=")) {
    args.splice(i, 1);
    return a.slice(a.indexOf("=") + 1);
  }
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new CliError(`${name} needs a value`, 2);
  args.splice(i, 2);
  return v;
}
