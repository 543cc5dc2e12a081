/** @jsxImportSource hono/jsx */
/**
 * Login, logout and first-run setup (mounted at `/`).
 *
 * - `GET /login`, `POST /login` (form: username, password, next): rate limited per client IP
 *   and per username (src/web/auth/rateLimit.ts: 429 + Retry-After), success -> session cookie
 *   and 303 to `next` (a local path only) or `/`; failure -> 401 "wrong username or password"
 *   (the same text for an unknown name). With no user at all, `/login` redirects to `/setup`.
 * - `POST /logout`: ends the session, 303 to `/login`.
 * - `GET /setup`, `POST /setup` (username, password, confirm): exist only while the users
 *   table is empty (404 afterwards); creates the first admin and logs them in.
 *
 * Every outcome is written to the event log (`auth.login`, `auth.login_failed`,
 * `auth.rate_limited`, `auth.logout`, `user.add`). Pages render through `c.render` so the
 * app's layout wraps them. CSRF and the permission table are enforced by the middleware the
 * app mounts (src/web/auth/index.ts), not here.
 */
import { Hono, type Context } from "hono";
import type { Child } from "hono/jsx";
import * as v from "valibot";
import { vValidator } from "@hono/valibot-validator";
import { logEvent } from "../../db/eventLog.ts";
import { countUsers, createUser, UserExistsError, UserInputError, verifyLogin, PASSWORD_MIN } from "../../db/users.ts";
import { CsrfField } from "../auth/csrf.ts";
import { endSession, startSession } from "../auth/middleware.ts";
import { clientIp } from "../auth/rateLimit.ts";
import type { WebEnv } from "../env.ts";

/** Origin the redirect targets are resolved against; any fixed origin works, only equality matters. */
const SELF_ORIGIN = "http://dashcam.invalid";

/**
 * A redirect target from user input: a path on this site, else "/". Browsers drop tabs and
 * newlines from URLs and read a backslash as a slash, so `/\t/evil.example` and `/\evil.example`
 * lead to another host: control characters and backslashes are refused outright, and what is
 * left must start with "/" and, parsed as a URL against this origin (WHATWG URL, as a browser
 * does), stay on it. Returns the target as given (path, query and fragment).
 */
export function safeNext(next: string | undefined | null): string {
  if (!next || !next.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(next)) return "/";
  let url: URL;
  try {
    url = new URL(next, SELF_ORIGIN);
  } catch {
    return "/";
  }
  return url.origin === SELF_ORIGIN ? next : "/";
}

function Message(props: { error?: string | null }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error}
    </p>
  ) : null;
}

export function LoginPage(props: { csrf: string; next?: string; error?: string | null; username?: string }) {
  return (
    <section class="auth card">
      <h1>Log in</h1>
      <Message error={props.error} />
      <form method="post" action="/login" class="stack">
        <CsrfField token={props.csrf} />
        <input type="hidden" name="next" value={props.next ?? "/"} />
        <label>
          Username
          <input name="username" autocomplete="username" required maxlength={64} value={props.username ?? ""} autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required maxlength={1024} />
        </label>
        <button type="submit" class="big">
          Log in
        </button>
      </form>
    </section>
  );
}

export function SetupPage(props: { csrf: string; error?: string | null; username?: string }) {
  return (
    <section class="auth card">
      <h1>Set up the dashcam</h1>
      <p>No account exists yet. Create the first administrator.</p>
      <Message error={props.error} />
      <form method="post" action="/setup" class="stack">
        <CsrfField token={props.csrf} />
        <label>
          Username
          <input name="username" autocomplete="username" required maxlength={64} value={props.username ?? ""} autofocus />
        </label>
        <label>
          Password (at least {PASSWORD_MIN} characters)
          <input name="password" type="password" autocomplete="new-password" required minlength={PASSWORD_MIN} maxlength={1024} />
        </label>
        <label>
          Repeat password
          <input name="confirm" type="password" autocomplete="new-password" required minlength={PASSWORD_MIN} maxlength={1024} />
        </label>
        <button type="submit" class="big">
          Create admin
        </button>
      </form>
    </section>
  );
}

const LoginForm = v.object({
  username: v.pipe(v.string(), v.trim(), v.minLength(1, "enter a username"), v.maxLength(64, "username too long")),
  password: v.pipe(v.string(), v.minLength(1, "enter a password"), v.maxLength(1024, "password too long")),
  next: v.optional(v.string()),
});

const SetupForm = v.object({
  username: v.pipe(v.string(), v.trim(), v.minLength(1, "enter a username"), v.maxLength(64, "username too long")),
  password: v.pipe(v.string(), v.maxLength(1024, "password too long")),
  confirm: v.pipe(v.string(), v.maxLength(1024, "password too long")),
});

const firstIssue = (issues: readonly { message: string }[]) => issues[0]?.message ?? "invalid input";

/**
 * The auth sub-app. Reads the database (`c.var.deps.db`), the login rate limiter
 * (`c.var.limiter`) and `c.var.deps.trustProxy` from the request (src/web/env.ts).
 */
export function authRoutes() {
  const app = new Hono<WebEnv>();

  const render = (c: Context<WebEnv>, status: 200 | 400 | 401 | 409 | 429, page: Child, title = "Log in") => {
    c.status(status);
    return c.render(page as string | Promise<string>, { title: status === 429 ? "Too many attempts" : title, live: false, nav: "none" });
  };

  app.get("/login", (c) => {
    const { db } = c.var.deps;
    if (countUsers(db) === 0) return c.redirect("/setup", 303);
    if (c.get("user")) return c.redirect(safeNext(c.req.query("next")), 303);
    return render(c, 200, <LoginPage csrf={c.get("csrfToken")} next={safeNext(c.req.query("next"))} />);
  });

  app.post(
    "/login",
    vValidator("form", LoginForm, (result, c) => {
      if (!result.success)
        return render(c as Context<WebEnv>, 400, <LoginPage csrf={(c as Context<WebEnv>).get("csrfToken")} error={firstIssue(result.issues)} />);
    }),
    async (c) => {
      const { db, trustProxy } = c.var.deps;
      const limiter = c.var.limiter;
      const { username, password } = c.req.valid("form");
      const next = safeNext(c.req.valid("form").next);
      const ip = clientIp(c, trustProxy);
      const keys = [`ip:${ip}`, `user:${username.toLowerCase()}`];
      const decision = limiter.check(keys);
      if (!decision.allowed) {
        logEvent(db, {
          kind: "auth.rate_limited",
          level: "warn",
          message: `login refused for "${username}" from ${ip}: too many failures, retry in ${decision.retryAfterSeconds} s`,
          data: { username, ip, retryAfterSeconds: decision.retryAfterSeconds },
        });
        c.header("Retry-After", String(decision.retryAfterSeconds));
        return render(
          c,
          429,
          <LoginPage
            csrf={c.get("csrfToken")}
            next={next}
            username={username}
            error={`Too many failed logins. Try again in ${Math.ceil(decision.retryAfterSeconds / 60)} min.`}
          />,
        );
      }
      const user = await verifyLogin(db, username, password);
      if (!user) {
        limiter.fail(keys);
        logEvent(db, { kind: "auth.login_failed", level: "warn", message: `failed login for "${username}" from ${ip}`, data: { username, ip } });
        return render(c, 401, <LoginPage csrf={c.get("csrfToken")} next={next} username={username} error="Wrong username or password." />);
      }
      limiter.clear([`user:${username.toLowerCase()}`]);
      startSession(c, db, { id: user.id, username: user.username, role: user.role });
      logEvent(db, { kind: "auth.login", message: `${user.username} logged in from ${ip}`, data: { userId: user.id, ip } });
      return c.redirect(next, 303);
    },
  );

  app.post("/logout", (c) => {
    const { db } = c.var.deps;
    const user = c.get("user");
    endSession(c, db);
    if (user) logEvent(db, { kind: "auth.logout", message: `${user.username} logged out`, data: { userId: user.id } });
    if (c.req.header("hx-request")) {
      c.header("HX-Redirect", "/login");
      return c.body(null, 204);
    }
    return c.redirect("/login", 303);
  });

  app.get("/setup", (c) => {
    if (countUsers(c.var.deps.db) > 0) return c.notFound();
    return render(c, 200, <SetupPage csrf={c.get("csrfToken")} />, "Set up");
  });

  app.post(
    "/setup",
    async (c, next) => {
      if (countUsers(c.var.deps.db) > 0) return c.notFound();
      await next();
    },
    vValidator("form", SetupForm, (result, c) => {
      if (!result.success) return render(c as Context<WebEnv>, 400, <SetupPage csrf={(c as Context<WebEnv>).get("csrfToken")} error={firstIssue(result.issues)} />, "Set up");
    }),
    async (c) => {
      const { db } = c.var.deps;
      const { username, password, confirm } = c.req.valid("form");
      const again = (error: string, status: 400 | 409 = 400) => render(c, status, <SetupPage csrf={c.get("csrfToken")} username={username} error={error} />, "Set up");
      if (password !== confirm) return again("The passwords do not match.");
      let user;
      try {
        user = await createUser(db, { username, password, role: "admin" }, { onlyIfNoUsers: true });
      } catch (err) {
        if (err instanceof UserInputError) return again(err.message);
        if (err instanceof UserExistsError) return c.notFound(); // someone finished setup first
        throw err;
      }
      logEvent(db, { kind: "user.add", message: `first admin "${user.username}" created by the setup page`, data: { userId: user.id, role: "admin" } });
      startSession(c, db, { id: user.id, username: user.username, role: user.role });
      return c.redirect("/", 303);
    },
  );

  return app;
}
