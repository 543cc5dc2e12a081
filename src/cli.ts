/**
 * Shared CLI plumbing. A command module exports `run(argv): Promise<number>` returning the exit
 * code. `UsageError` (and `ConfigError`) print as one line and exit 2; nothing is written before
 * input is validated.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

export type Command = (argv: string[]) => Promise<number>;

/** `node:util` parseArgs that turns its errors into one-line UsageErrors. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(String((err as Error).message).split("\n")[0]);
  }
}
