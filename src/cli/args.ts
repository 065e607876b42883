// Small argument helpers for the CLI commands. Usage errors are CliError with code 2 and a
// one-line message; main.ts prints it with a pointer to the command's --help.
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

/** An unknown option (anything left that starts with "-") is a usage error. */
export function noUnknownFlags(args: string[]): void {
  const f = args.find((a) => a.startsWith("-") && a !== "-");
  if (f) throw new CliError(`unknown option ${f.split("=")[0]}`, 2);
}

/** Takes the next positional argument (`what` names it in the error), refusing options. */
export function takePositional(args: string[], what: string): string {
  noUnknownFlags(args);
  const v = args.shift();
  if (v === undefined || v === "") throw new CliError(`${what} is required`, 2);
  return v;
}

/** Nothing may be left. */
export function noExtra(args: string[]): void {
  noUnknownFlags(args);
  if (args.length) throw new CliError(`unexpected argument "${args[0]}"`, 2);
}
