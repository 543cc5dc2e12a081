#!/usr/bin/env bun
/**
 * `dashcam` command line. `bun src/main.ts <command>` from source; the compiled binary is the
 * same CLI. Exit codes: 0 ok, 1 a problem found or a runtime failure, 2 bad input (one line on
 * stderr naming what is wrong).
 */
import { ConfigError } from "./config.ts";
import { UsageError, type Command } from "./cli.ts";
import { VERSION, commit } from "./version.ts";

const HELP = `dashcam ${VERSION}: crash-safe dashcam and small-NVR runtime

usage: dashcam <command> [options]

commands:
  run    [--config FILE]           record every enabled camera and serve the web UI
  check  [--config FILE]           read-only consistency check of the database and ring
  user   add NAME --role R --password-stdin [--config FILE]
  user   passwd NAME --password-stdin | unlock NAME | list [--config FILE]
  trips  save [--current | ID] [--config FILE]
  timelapse create --camera KEY (--from TIME --to TIME | --from-day N --to-day M) [--frame-rate N] [--overlay] [--no-wait]
  timelapse list [--json]          timelapse batches
  optimize --camera KEY [--keep-days N] [--json]  recommended settings for a camera (stored)
  share  create --batch ID [--type video_only|info_page|gallery] [--expires 7d] [--download] [--embed]
  alpr   [--json] [--region R] IMAGE...  read licence plates in images (one JSON line per image)

options:
  --config FILE   TOML configuration (default: $DASHCAM_CONFIG, else built-in defaults)
  --version       print version and commit
  --help          this text
`;

/** Command modules load lazily so `--version` and `check` stay fast and small. */
const COMMANDS: Record<string, () => Promise<{ run: Command }>> = {
  run: () => import("./runtime.ts"),
  check: () => import("./check.ts"),
  user: () => import("./commands/user.ts"),
  trips: () => import("./commands/trips.ts"),
  timelapse: () => import("./commands/timelapse.ts"),
  optimize: () => import("./commands/optimize.ts"),
  share: () => import("./commands/share.ts"),
  alpr: () => import("./vision/cli.ts"),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`dashcam ${VERSION} (${await commit()})\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`dashcam: unknown command "${name}" (see dashcam --help)\n`);
    return 2;
  }
  try {
    const mod = await load();
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`dashcam ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
