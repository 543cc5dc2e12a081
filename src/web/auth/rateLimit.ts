/**
 * Login rate limit: at most `maxFailures` failed logins per key within a sliding `windowMs`
 * (defaults 5 per 15 minutes, the figure of OWASP's Authentication Cheat Sheet examples), then
 * every attempt for that key is refused with 429 and `Retry-After` (seconds until the oldest
 * failure leaves the window) — without checking the password. Keys are the client IP
 * (`ip:<address>`) and the username (`user:<name>`), so spreading guesses over names or over
 * addresses does not help. A successful login clears the username's failures.
 *
 * In memory (a restart clears it); bounded to `maxKeys` keys, the stalest dropped first. An admin
 * lifts a lockout early with `unlockUser` (users page, `dashcam user unlock NAME` through the
 * control socket): it clears the username and the addresses that failed for it.
 */
import type { Context } from "hono";

export interface RateLimitOptions {
  maxFailures?: number;
  windowMs?: number;
  maxKeys?: number;
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class LoginRateLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** key -> failure times (ms), oldest first, at most maxFailures kept. */
  private readonly failures = new Map<string, number[]>();
  /** `user:<name>` -> the `ip:` keys that failed for that name (cleared with it by `unlockUser`). */
  private readonly addressesOf = new Map<string, Set<string>>();

  constructor(options: RateLimitOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 15 * 60 * 1000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  private recent(key: string, t: number): number[] {
    const list = this.failures.get(key);
    if (!list) return [];
    const kept = list.filter((at) => at > t - this.windowMs);
    if (kept.length === 0) this.failures.delete(key);
    else if (kept.length !== list.length) this.failures.set(key, kept);
    return kept;
  }

  /** Whether an attempt is allowed for all `keys`; when not, how long to wait. */
  check(keys: string[]): RateDecision {
    const t = this.now();
    let wait = 0;
    for (const key of keys) {
      const list = this.recent(key, t);
      if (list.length >= this.maxFailures) wait = Math.max(wait, list[list.length - this.maxFailures]! + this.windowMs - t);
    }
    return wait > 0 ? { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)) } : { allowed: true };
  }

  /** Records one failure for each key. */
  fail(keys: string[]): void {
    const t = this.now();
    for (const key of keys) {
      const list = this.recent(key, t);
      list.push(t);
      if (list.length > this.maxFailures) list.splice(0, list.length - this.maxFailures);
      this.failures.delete(key); // re-insert: Map order = staleness order
      this.failures.set(key, list);
    }
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
    const ips = keys.filter((k) => k.startsWith("ip:"));
    for (const key of keys) {
      if (!key.startsWith("user:")) continue;
      const set = this.addressesOf.get(key) ?? new Set<string>();
      for (const ip of ips) set.add(ip);
      this.addressesOf.delete(key);
      this.addressesOf.set(key, set);
    }
    while (this.addressesOf.size > this.maxKeys) this.addressesOf.delete(this.addressesOf.keys().next().value!);
  }

  /** True while logins as `username` are refused (case-insensitive). */
  isLocked(username: string): boolean {
    return !this.check([`user:${username.toLowerCase()}`]).allowed;
  }

  /**
   * Lifts the lockout of `username` (case-insensitive): forgets the failures of the name and of
   * every address that failed for it. Returns whether either was locked.
   */
  unlockUser(username: string): boolean {
    const userKey = `user:${username.toLowerCase()}`;
    const keys = [userKey, ...(this.addressesOf.get(userKey) ?? [])];
    const wasLocked = !this.check(keys).allowed;
    this.clear(keys);
    this.addressesOf.delete(userKey);
    return wasLocked;
  }

  /** Forgets the failures of `keys` (after a successful login). */
  clear(keys: string[]): void {
    for (const key of keys) this.failures.delete(key);
  }
}

/**
 * The client's IP address: the socket's remote address when the app runs under `Bun.serve`
 * (Hono passes the server as `c.env`); with `trustProxy`, the first `X-Forwarded-For` entry
 * (only behind a reverse proxy you run: the header is client-controlled otherwise).
 * "unknown" when neither is available (e.g. `app.request` in tests).
 */
export function clientIp(c: Context, trustProxy = false): string {
  if (trustProxy) {
    const fwd = c.req.header("x-forwarded-for");
    if (fwd) return fwd.split(",")[0]!.trim();
  }
  const env = c.env as { requestIP?: (r: Request) => { address: string } | null; server?: { requestIP?: (r: Request) => { address: string } | null } } | undefined;
  const server = env && typeof env.requestIP === "function" ? env : env?.server;
  try {
    const info = server?.requestIP?.(c.req.raw);
    if (info?.address) return info.address;
  } catch {
    /* not a Bun server */
  }
  return "unknown";
}
