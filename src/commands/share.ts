/**
 * `dashcam share create --batch ID [--batch ID ...] [--type video_only|info_page|gallery]
 *   [--expires 7d|never] [--download] [--embed] [--title TEXT] [--description TEXT] [--config FILE]`
 *
 * Makes a public share link of one timelapse batch (several with `--type info_page`, shown in
 * the order given) and prints its path, `/share/<token>` (append it to the web UI's address).
 * Defaults: `--type video_only`, `--expires 7d` (`30m`, `12h`, `2w`, `never`), download and
 * embedding off, the title from the camera ("Front timelapse").
 * - With a runtime running on the data directory, the request goes through its control socket
 *   (src/control.ts `POST /shares`), so the runtime's process is the one that writes.
 * - With none, it is written in this process (src/media/shares.ts `createShare`, one transaction).
 * Exit codes: 0 made; 1 the runtime refused for another reason; 2 bad usage, an unknown batch,
 * or a batch that is not completed (one line on stderr naming the problem).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError, parseCommandArgs } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/open.ts";
import { SHARE_TYPES, type ShareType } from "../db/shares.ts";
import { dbPath } from "../paths.ts";
import { createShare, parseShareLifetime, ShareRequestError } from "../media/shares.ts";
import { controlRequest, liveControlSocket, NotRunningError } from "../control.ts";

export const USAGE =
  "usage: dashcam share create --batch ID [--batch ID ...] [--type video_only|info_page|gallery] [--expires 7d|never] [--download] [--embed] [--title TEXT] [--description TEXT] [--config FILE]";

/** What `share create` asks for; `expiresInMs` null = never. */
export interface ShareCreateArgs {
  batches: number[];
  type: ShareType;
  expiresInMs: number | null;
  download: boolean;
  embed: boolean;
  title: string | null;
  description: string | null;
}

/** Parses `share ...`; throws UsageError (exit 2) for anything malformed. */
export function parseShareArgs(argv: string[]): { create: ShareCreateArgs; config?: string } {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      config: { type: "string" },
      batch: { type: "string", multiple: true },
      type: { type: "string" },
      expires: { type: "string" },
      download: { type: "boolean" },
      embed: { type: "boolean" },
      title: { type: "string" },
      description: { type: "string" },
    },
    true,
  );
  const [sub, ...rest] = positionals;
  if (sub !== "create") throw new UsageError(sub === undefined ? `missing subcommand; ${USAGE}` : `unknown subcommand "${sub.slice(0, 40)}"; ${USAGE}`);
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]!.slice(0, 40)}"; ${USAGE}`);
  const raw = values.batch ?? [];
  if (raw.length === 0) throw new UsageError(`missing --batch; ${USAGE}`);
  const batches = raw.map((b) => {
    if (!/^\d{1,15}$/.test(b) || Number(b) === 0) throw new UsageError(`--batch must be a batch id (a positive whole number, see dashcam timelapse list), got "${b.slice(0, 20)}"`);
    return Number(b);
  });
  const type = (values.type ?? "video_only") as ShareType;
  if (!SHARE_TYPES.includes(type)) throw new UsageError(`--type must be video_only, info_page or gallery, got "${String(values.type).slice(0, 20)}"`);
  let expiresInMs: number | null;
  try {
    expiresInMs = parseShareLifetime(values.expires ?? "7d");
  } catch (e) {
    throw new UsageError(`--expires: ${(e as Error).message}`);
  }
  return {
    create: {
      batches,
      type,
      expiresInMs,
      download: values.download === true,
      embed: values.embed === true,
      title: values.title ?? null,
      description: values.description ?? null,
    },
    config: values.config,
  };
}

const out = (line: string) => process.stdout.write(line + "\n");

/** The JSON body of the control socket's `POST /shares` for these arguments. */
export const controlBody = (a: ShareCreateArgs) => ({
  batches: a.batches,
  type: a.type,
  expiresInMs: a.expiresInMs,
  download: a.download,
  embed: a.embed,
  title: a.title,
  description: a.description,
});

async function viaRuntime(socket: string, a: ShareCreateArgs): Promise<number> {
  const r = await controlRequest(socket, "POST", "/shares", controlBody(a));
  if (r.status >= 400 && r.status < 500) throw new UsageError(String(r.body.error ?? `runtime answered ${r.status}`));
  if (r.status !== 201) {
    process.stderr.write(`dashcam share: ${String(r.body.error ?? `runtime answered ${r.status}`)}\n`);
    return 1;
  }
  out(String(r.body.path));
  return 0;
}

function inProcess(dataDir: string, a: ShareCreateArgs): number {
  const file = dbPath(dataDir);
  if (!existsSync(file)) throw new UsageError(`no database in ${dataDir}: nothing has been recorded there`);
  const db = openDatabase(file);
  try {
    const now = Date.now();
    const made = createShare(
      db,
      dataDir,
      {
        type: a.type,
        title: a.title,
        description: a.description,
        items: a.batches.map((batchId) => ({ ref: { kind: "batch" as const, batchId } })),
        expiresAt: a.expiresInMs === null ? null : now + a.expiresInMs,
        downloadEnabled: a.download,
        embedEnabled: a.embed,
        by: "cli",
      },
      now,
    );
    out(made.path);
    return 0;
  } catch (e) {
    if (e instanceof ShareRequestError) throw new UsageError(e.message);
    throw e;
  } finally {
    db.close();
  }
}

/** `dashcam share ...` (see the module comment). */
export async function run(argv: string[]): Promise<number> {
  const args = parseShareArgs(argv);
  const config = loadConfig(args.config ?? process.env.DASHCAM_CONFIG);
  const dataDir = resolve(config.data_dir);
  const socket = await liveControlSocket(dataDir);
  if (socket) {
    try {
      return await viaRuntime(socket, args.create);
    } catch (e) {
      if (!(e instanceof NotRunningError)) throw e;
    }
  }
  return inProcess(dataDir, args.create);
}
