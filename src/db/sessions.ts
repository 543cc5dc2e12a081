/**
 * Login sessions (table `sessions`). The browser holds a random 32-byte token (base64url, 43
 * characters) in an HttpOnly cookie; the database stores only its SHA-256 (hex), so a copy of
 * the database cannot be replayed as a login. Each session has its own CSRF token (32 random
 * bytes, base64url) that state-changing requests must echo (src/web/auth/csrf.ts).
 *
 * Expiry is sliding: SESSION_TTL_MS (30 days) after the last use; to avoid a write on every
 * request the expiry is pushed forward at most once per SESSION_REFRESH_MS (1 day).
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import type { Role } from "./users.ts";

export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
export const SESSION_REFRESH_MS = 24 * 3600 * 1000;

export interface SessionInfo {
  tokenHash: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  user: { id: number; username: string; role: Role };
}

export interface NewSession {
  /** The cookie value; never stored. */
  token: string;
  csrfToken: string;
  expiresAt: number;
}

/** 32 random bytes as base64url (no padding). */
export function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/** SHA-256 of a token, hex. */
export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

const stmts = perDatabase((db) => ({
  insert: db.prepare(
    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($hash, $user_id, $csrf, $now, $expires)",
  ),
  lookup: db.prepare(
    `SELECT s.token_hash, s.csrf_token, s.created_at, s.expires_at, u.id AS user_id, u.username, u.role
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $hash`,
  ),
  extend: db.prepare("UPDATE sessions SET expires_at = $expires WHERE token_hash = $hash"),
  del: db.prepare("DELETE FROM sessions WHERE token_hash = $hash"),
  delUser: db.prepare("DELETE FROM sessions WHERE user_id = $user_id"),
  delUserExcept: db.prepare("DELETE FROM sessions WHERE user_id = $user_id AND token_hash <> $keep"),
  purge: db.prepare("DELETE FROM sessions WHERE expires_at <= $now"),
}));

/** Starts a session for a user; returns the cookie token (shown once) and the CSRF token. */
export function createSession(db: Database, userId: number, now = Date.now()): NewSession {
  const token = randomToken();
  const csrfToken = randomToken();
  const expiresAt = now + SESSION_TTL_MS;
  stmts(db).insert.run({ hash: hashToken(token), user_id: userId, csrf: csrfToken, now, expires: expiresAt });
  return { token, csrfToken, expiresAt };
}

/**
 * Looks a cookie token up. Returns null for an unknown or expired session (an expired row is
 * deleted). Slides the expiry when it is more than SESSION_REFRESH_MS old; `refreshed` tells
 * the caller to re-send the cookie with the new lifetime.
 */
export function lookupSession(db: Database, token: string, now = Date.now()): (SessionInfo & { refreshed: boolean }) | null {
  if (!token || token.length > 128) return null;
  const s = stmts(db);
  const hash = hashToken(token);
  const row = s.lookup.get({ hash }) as {
    token_hash: string;
    csrf_token: string;
    created_at: number;
    expires_at: number;
    user_id: number;
    username: string;
    role: Role;
  } | null;
  if (!row) return null;
  if (row.expires_at <= now) {
    s.del.run({ hash });
    return null;
  }
  let expiresAt = row.expires_at;
  let refreshed = false;
  if (now + SESSION_TTL_MS - expiresAt >= SESSION_REFRESH_MS) {
    expiresAt = now + SESSION_TTL_MS;
    s.extend.run({ hash, expires: expiresAt });
    refreshed = true;
  }
  return {
    tokenHash: row.token_hash,
    csrfToken: row.csrf_token,
    createdAt: row.created_at,
    expiresAt,
    refreshed,
    user: { id: row.user_id, username: row.username, role: row.role },
  };
}

/** Ends one session (logout). */
export function deleteSession(db: Database, token: string): void {
  stmts(db).del.run({ hash: hashToken(token) });
}

/** Ends every session of a user (password or role change, deletion). Returns the count. */
export function deleteUserSessions(db: Database, userId: number): number {
  return stmts(db).delUser.run({ user_id: userId }).changes;
}

/**
 * Ends every session of a user but one (`keepTokenHash`, the SHA-256 hex of the session making
 * the change: changing your own password logs out your other devices, not you). Returns the count.
 */
export function deleteOtherUserSessions(db: Database, userId: number, keepTokenHash: string): number {
  return stmts(db).delUserExcept.run({ user_id: userId, keep: keepTokenHash }).changes;
}

/** Deletes expired sessions; returns the count. */
export function purgeExpiredSessions(db: Database, now = Date.now()): number {
  return stmts(db).purge.run({ now }).changes;
}
