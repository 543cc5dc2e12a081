/**
 * User accounts (seed 003 `users`): roles admin / operator / viewer, passwords stored only as
 * `Bun.password` argon2id hashes (PHC string, Bun's defaults: 64 MiB memory, time cost 2).
 *
 * Role order: viewer < operator < admin. Viewers watch; operators also save, lock, delete and
 * export footage; admins also manage users.
 *
 * Errors: `UserInputError` (bad name, role or password; the web layer answers 400, the CLI exits
 * 2), `UserExistsError` (duplicate name or e-mail; 409 / exit 2), `LastAdminError` (the change
 * would leave no admin; 409). Nothing is written when one is thrown.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Rank of a role: viewer 0, operator 1, admin 2. */
export const roleRank = (role: Role): number => ROLES.indexOf(role);

/** True when `role` is at least `required`. */
export const hasRole = (role: Role, required: Role): boolean => roleRank(role) >= roleRank(required);

export const isRole = (value: unknown): value is Role => typeof value === "string" && (ROLES as readonly string[]).includes(value);

/** Usernames: 1-64 characters of letters, digits, `.`, `_`, `-`, `@` (seed: VARCHAR(64)). */
export const USERNAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;
/** Password length bounds in characters (NIST SP 800-63B: at least 8, allow long passphrases). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

export class UserInputError extends Error {}
export class UserExistsError extends Error {}
export class LastAdminError extends Error {}

export interface User {
  id: number;
  username: string;
  email: string | null;
  role: Role;
  created_at: number;
  last_login: number | null;
}

const COLS = "id, username, email, role, created_at, last_login";

const stmts = perDatabase((db) => ({
  insert: db.prepare(
    `INSERT INTO users (username, email, password_hash, role, created_at) VALUES ($username, $email, $hash, $role, $now) RETURNING ${COLS}`,
  ),
  byName: db.prepare(`SELECT ${COLS} FROM users WHERE username = $username`),
  byId: db.prepare(`SELECT ${COLS} FROM users WHERE id = $id`),
  hashByName: db.prepare(`SELECT ${COLS}, password_hash FROM users WHERE username = $username`),
  list: db.prepare(`SELECT ${COLS} FROM users ORDER BY username`),
  count: db.prepare("SELECT COUNT(*) AS n FROM users"),
  countAdmins: db.prepare("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'"),
  setRole: db.prepare("UPDATE users SET role = $role WHERE id = $id"),
  setHash: db.prepare("UPDATE users SET password_hash = $hash WHERE id = $id"),
  del: db.prepare("DELETE FROM users WHERE id = $id"),
  touch: db.prepare("UPDATE users SET last_login = $now WHERE id = $id"),
}));

/** Throws UserInputError unless `username` matches USERNAME_RE. */
export function validateUsername(username: string): void {
  if (!USERNAME_RE.test(username))
    throw new UserInputError("username must be 1-64 characters of letters, digits, '.', '_', '-' or '@'");
}

/** Throws UserInputError unless the password is PASSWORD_MIN..PASSWORD_MAX characters. */
export function validatePassword(password: string): void {
  if (password.length < PASSWORD_MIN) throw new UserInputError(`password must be at least ${PASSWORD_MIN} characters`);
  if (password.length > PASSWORD_MAX) throw new UserInputError(`password must be at most ${PASSWORD_MAX} characters`);
}

/** Throws UserInputError unless `role` is admin, operator or viewer. */
export function validateRole(role: unknown): asserts role is Role {
  if (!isRole(role)) throw new UserInputError(`role must be one of admin, operator, viewer (got "${String(role)}")`);
}

/** argon2id hash (PHC string) of a password. */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

/** A fixed hash verified against when the username is unknown, so timing does not reveal names. */
let dummyHash: Promise<string> | null = null;

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  email?: string | null;
}

/**
 * Creates a user. Validates first, hashes, then inserts in one statement.
 * With `onlyIfNoUsers`, the insert happens only while the table is empty (first-run setup; the
 * check and insert are one transaction so two racing setups cannot both succeed) and
 * UserExistsError is thrown otherwise.
 */
export async function createUser(db: Database, u: NewUser, options: { onlyIfNoUsers?: boolean } = {}): Promise<User> {
  validateUsername(u.username);
  validateRole(u.role);
  validatePassword(u.password);
  if (u.email != null && !/^[^\s@]+@[^\s@]+$/.test(u.email)) throw new UserInputError("email is not an e-mail address");
  const hash = await hashPassword(u.password);
  const s = stmts(db);
  return db.transaction(() => {
    if (options.onlyIfNoUsers && (s.count.get() as { n: number }).n > 0) throw new UserExistsError("a user already exists");
    if (s.byName.get({ username: u.username })) throw new UserExistsError(`user "${u.username}" already exists`);
    try {
      return s.insert.get({ username: u.username, email: u.email ?? null, hash, role: u.role, now: Date.now() }) as User;
    } catch (err) {
      if (String((err as Error).message).includes("UNIQUE")) throw new UserExistsError("a user with that name or e-mail already exists");
      throw err;
    }
  })();
}

/**
 * Checks a username/password pair. Returns the user, or null for an unknown name or a wrong
 * password (the same work is done in both cases). Records `last_login` on success.
 */
export async function verifyLogin(db: Database, username: string, password: string): Promise<User | null> {
  const row = stmts(db).hashByName.get({ username }) as (User & { password_hash: string }) | null;
  if (!row) {
    dummyHash ??= hashPassword("not-a-real-password-0000");
    await Bun.password.verify(password, await dummyHash);
    return null;
  }
  let ok = false;
  try {
    ok = await Bun.password.verify(password, row.password_hash);
  } catch {
    ok = false; // a malformed stored hash never authenticates
  }
  if (!ok) return null;
  const now = Date.now();
  stmts(db).touch.run({ id: row.id, now });
  const { password_hash: _h, ...user } = row;
  return { ...user, last_login: now };
}

/** A user by id (no password hash), or null. */
export function userById(db: Database, id: number): User | null {
  return (stmts(db).byId.get({ id }) as User | null) ?? null;
}

/** A user by exact username (no password hash), or null. */
export function userByName(db: Database, username: string): User | null {
  return (stmts(db).byName.get({ username }) as User | null) ?? null;
}

/** Every user, ordered by username (no password hashes). */
export function listUsers(db: Database): User[] {
  return stmts(db).list.all() as User[];
}

/** Number of users (0 before the first one is created). */
export function countUsers(db: Database): number {
  return (stmts(db).count.get() as { n: number }).n;
}

/** Changes a user's role; refuses to demote the last admin (LastAdminError). Returns false for an unknown id. */
export function setUserRole(db: Database, id: number, role: Role): boolean {
  validateRole(role);
  const s = stmts(db);
  return db.transaction(() => {
    const user = s.byId.get({ id }) as User | null;
    if (!user) return false;
    if (user.role === "admin" && role !== "admin" && (s.countAdmins.get() as { n: number }).n <= 1)
      throw new LastAdminError("cannot demote the last admin");
    s.setRole.run({ id, role });
    return true;
  })();
}

/** Replaces a user's password. Returns false for an unknown id. */
export async function setUserPassword(db: Database, id: number, password: string): Promise<boolean> {
  validatePassword(password);
  const hash = await hashPassword(password);
  return stmts(db).setHash.run({ id, hash }).changes > 0;
}

/** Deletes a user (their sessions go with them: ON DELETE CASCADE); refuses the last admin. */
export function deleteUser(db: Database, id: number): boolean {
  const s = stmts(db);
  return db.transaction(() => {
    const user = s.byId.get({ id }) as User | null;
    if (!user) return false;
    if (user.role === "admin" && (s.countAdmins.get() as { n: number }).n <= 1) throw new LastAdminError("cannot delete the last admin");
    s.del.run({ id });
    return true;
  })();
}
