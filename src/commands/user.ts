/**
 * `dashcam user add NAME --role admin|operator|viewer --password-stdin [--config FILE]`
 * `dashcam user passwd NAME --password-stdin [--config FILE]`
 * `dashcam user unlock NAME [--config FILE]`
 * `dashcam user list [--config FILE]`
 *
 * `passwd` sets a new password (read from stdin like `add`) and ends every session of the user.
 * `unlock` lifts a login lockout (5 failed logins within 15 min lock the name and the address):
 * the lockout lives in the running runtime's memory, so the request goes to it over its control
 * socket (src/control.ts); with no runtime running nothing is locked out and it says so.
 *
 * `add` reads the password as ONE line from standard input (so it never appears in the
 * process list or shell history: `printf '%s\n' "$PW" | dashcam user add alice --role admin
 * --password-stdin`), hashes it with argon2id and inserts the user into the database of the
 * configured `data_dir`. Bad input — missing name or role, unknown role, bad name, short or
 * empty password, duplicate name — prints one line and exits 2 with nothing written.
 */
import { existsSync, mkdirSync } from "node:fs";
import { UsageError, parseCommandArgs } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { logEvent } from "../db/eventLog.ts";
import { openDatabase } from "../db/open.ts";
import { deleteUserSessions } from "../db/sessions.ts";
import {
  UserExistsError,
  UserInputError,
  createUser,
  listUsers,
  setUserPassword,
  userByName,
  validatePassword,
  validateRole,
  validateUsername,
  type User,
} from "../db/users.ts";
import { dbPath } from "../paths.ts";
import { controlRequest, liveControlSocket, NotRunningError } from "../control.ts";

const USAGE =
  "usage: dashcam user add NAME --role admin|operator|viewer --password-stdin | passwd NAME --password-stdin | unlock NAME | list  [--config FILE]";

/** Reads standard input up to the first newline (or end of input); strips the line ending. */
export async function readLine(stream: ReadableStream<Uint8Array> = Bun.stdin.stream()): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const nl = text.indexOf("\n");
      if (nl >= 0) {
        text = text.slice(0, nl);
        break;
      }
      if (text.length > 64 * 1024) throw new UsageError("password line longer than 64 KiB");
    }
  } finally {
    reader.releaseLock();
  }
  return text.replace(/\r$/, "");
}

/** Reads and checks the password line (`--password-stdin`); UsageError when empty or too short. */
async function readPassword(): Promise<string> {
  const password = await readLine();
  if (password.length === 0) throw new UsageError("empty password on standard input");
  try {
    validatePassword(password);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return password;
}

/** The one NAME argument of `passwd` / `unlock`. */
function oneName(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? `missing user NAME; usage: dashcam user ${command} NAME` : `expected one NAME, got ${positionals.length}`);
  return positionals[0]!;
}

/** Opens the existing database of `dataDir` and finds `name`; UsageError when either is missing. */
function openWithUser(dataDir: string, name: string, readonly = false): { db: ReturnType<typeof openDatabase>; user: User } {
  if (!existsSync(dbPath(dataDir))) throw new UsageError(`no user "${name}" (no database in ${dataDir} yet)`);
  const db = openDatabase(dbPath(dataDir), { readonly });
  const user = userByName(db, name);
  if (!user) {
    db.close();
    throw new UsageError(`no user "${name}"`);
  }
  return { db, user };
}

async function passwd(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { "password-stdin": { type: "boolean" }, config: { type: "string" } }, true);
  const name = oneName(positionals, "passwd NAME --password-stdin");
  if (!values["password-stdin"]) throw new UsageError("missing --password-stdin (the password is read from standard input, never from arguments)");
  const config = loadConfig(values.config);
  const password = await readPassword();
  const { db, user } = openWithUser(config.data_dir, name);
  try {
    await setUserPassword(db, user.id, password);
    const ended = deleteUserSessions(db, user.id);
    logEvent(db, { kind: "user.password", message: `password of "${user.username}" changed from the command line`, data: { userId: user.id, sessionsEnded: ended } });
    process.stdout.write(`password of ${user.username} changed; ${ended} session(s) ended\n`);
    return 0;
  } finally {
    db.close();
  }
}

async function unlock(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { config: { type: "string" } }, true);
  const name = oneName(positionals, "unlock NAME");
  const config = loadConfig(values.config);
  const { db, user } = openWithUser(config.data_dir, name, true);
  db.close();
  const socket = await liveControlSocket(config.data_dir);
  if (socket) {
    try {
      const r = await controlRequest(socket, "POST", "/users/unlock", { username: user.username });
      if (r.status !== 200) {
        process.stderr.write(`dashcam user unlock: ${String(r.body.error ?? `runtime answered ${r.status}`)}\n`);
        return 1;
      }
      process.stdout.write(r.body.wasLocked ? `${user.username} unlocked (the running runtime forgot its failed logins)\n` : `${user.username} was not locked out\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof NotRunningError)) throw err;
    }
  }
  process.stdout.write(`${user.username} is not locked out (no runtime is running; lockouts live in its memory)\n`);
  return 0;
}

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { role: { type: "string" }, "password-stdin": { type: "boolean" }, config: { type: "string" }, email: { type: "string" } },
    true,
  );
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? `missing user NAME; ${USAGE}` : `expected one NAME, got ${positionals.length}`);
  const name = positionals[0]!;
  if (values.role === undefined) throw new UsageError("missing --role admin|operator|viewer");
  if (!values["password-stdin"]) throw new UsageError("missing --password-stdin (the password is read from standard input, never from arguments)");
  try {
    validateUsername(name);
    validateRole(values.role);
  } catch (err) {
    if (err instanceof UserInputError) throw new UsageError(err.message);
    throw err;
  }
  const config = loadConfig(values.config);
  const password = await readPassword();
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const db = openDatabase(dbPath(config.data_dir));
  try {
    const user = await createUser(db, { username: name, password, role: values.role, email: values.email ?? null });
    logEvent(db, { kind: "user.add", message: `user "${user.username}" (${user.role}) added from the command line`, data: { userId: user.id, role: user.role } });
    process.stdout.write(`added user ${user.username} (${user.role})\n`);
    return 0;
  } catch (err) {
    if (err instanceof UserExistsError || err instanceof UserInputError) throw new UsageError(err.message);
    throw err;
  } finally {
    db.close();
  }
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: "string" } });
  const config = loadConfig(values.config);
  if (!existsSync(dbPath(config.data_dir))) return 0; // no database yet: no users
  const db = openDatabase(dbPath(config.data_dir), { readonly: true });
  try {
    for (const u of listUsers(db)) process.stdout.write(`${u.username}\t${u.role}\t${u.last_login ? new Date(u.last_login).toISOString() : "-"}\n`);
    return 0;
  } finally {
    db.close();
  }
}

/** Entry point from src/main.ts. */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "add") return add(rest);
  if (sub === "list") return list(rest);
  if (sub === "passwd") return passwd(rest);
  if (sub === "unlock") return unlock(rest);
  throw new UsageError(sub ? `unknown subcommand "${sub}"; ${USAGE}` : USAGE);
}
