/** @jsxImportSource hono/jsx */
/**
 * User management for admins (mounted at `/users`; every route also requires the admin role
 * here, on top of the permission table).
 *
 * - `GET /users`: the list with a role selector, password reset and delete per user, and an
 *   add form. htmx forms swap the `#users` fragment; plain forms get a 303 back to `/users`.
 * - `POST /users` (username, password, role), `POST /users/:id/role` (role),
 *   `POST /users/:id/password` (password), `POST /users/:id/delete`,
 *   `POST /users/:id/unlock` (lifts a login lockout: the user's failures and those of the
 *   addresses that failed for them are forgotten; shown only for a locked-out user).
 *
 * Errors are 4xx with a one-line reason: 400 bad input, 404 unknown id, 409 duplicate name or
 * a change that would leave no admin or delete your own account. (htmx swaps 4xx responses
 * only if the layout configures `htmx.config.responseHandling`; the fragment carries the
 * message either way.) Every change is logged (`user.add`, `user.role`, `user.password`,
 * `user.delete`, `user.unlock`); a password change ends that user's sessions (all but the current one when
 * admins change their own).
 */
import { Hono, type Context } from "hono";
import * as v from "valibot";
import { vValidator } from "@hono/valibot-validator";
import { logEvent } from "../../db/eventLog.ts";
import { deleteOtherUserSessions, deleteUserSessions } from "../../db/sessions.ts";
import {
  ROLES,
  LastAdminError,
  UserExistsError,
  UserInputError,
  createUser,
  deleteUser,
  listUsers,
  setUserPassword,
  setUserRole,
  userById,
  type Role,
  type User,
} from "../../db/users.ts";
import { CsrfField } from "../auth/csrf.ts";
import { requireRole } from "../auth/middleware.ts";
import type { WebEnv } from "../env.ts";
import { Time } from "../components/Time.tsx";


export function UserList(props: { users: User[]; me: number; csrf: string; locked?: (username: string) => boolean; error?: string | null; notice?: string | null }) {
  return (
    <section id="users">
      {props.error ? (
        <p class="error" role="alert">
          {props.error}
        </p>
      ) : null}
      {props.notice ? <p class="notice">{props.notice}</p> : null}
      <ul class="cards">
        {props.users.map((u) => (
          <li class="card" id={`user-${u.id}`}>
            <h3>
              {u.username} {u.id === props.me ? <small>(you)</small> : null}
            </h3>
            <p>
              {u.role} · last login <Time ms={u.last_login} fmt="when" />
            </p>
            {props.locked?.(u.username) ? (
              <form method="post" action={`/users/${u.id}/unlock`} hx-post={`/users/${u.id}/unlock`} hx-target="#users" hx-swap="outerHTML" class="row">
                <CsrfField token={props.csrf} />
                <span class="error">locked out after too many failed logins</span>
                <button type="submit">Unlock</button>
              </form>
            ) : null}
            <form method="post" action={`/users/${u.id}/role`} hx-post={`/users/${u.id}/role`} hx-target="#users" hx-swap="outerHTML" class="row">
              <CsrfField token={props.csrf} />
              <select name="role" aria-label={`role of ${u.username}`}>
                {ROLES.map((r) => (
                  <option value={r} selected={r === u.role}>
                    {r}
                  </option>
                ))}
              </select>
              <button type="submit">Set role</button>
            </form>
            <form method="post" action={`/users/${u.id}/password`} hx-post={`/users/${u.id}/password`} hx-target="#users" hx-swap="outerHTML" class="row">
              <CsrfField token={props.csrf} />
              <input name="password" type="password" autocomplete="new-password" placeholder="new password" required minlength={8} />
              <button type="submit">Reset password</button>
            </form>
            {u.id === props.me ? null : (
              <form
                method="post"
                action={`/users/${u.id}/delete`}
                hx-post={`/users/${u.id}/delete`}
                hx-target="#users"
                hx-swap="outerHTML"
                hx-confirm={`Delete ${u.username}?`}
              >
                <CsrfField token={props.csrf} />
                <button type="submit" class="danger">
                  Delete
                </button>
              </form>
            )}
          </li>
        ))}
      </ul>
      <h2>Add a user</h2>
      <form method="post" action="/users" hx-post="/users" hx-target="#users" hx-swap="outerHTML" class="stack card">
        <CsrfField token={props.csrf} />
        <label>
          Username <input name="username" required maxlength={64} autocomplete="off" />
        </label>
        <label>
          Password <input name="password" type="password" required minlength={8} autocomplete="new-password" />
        </label>
        <label>
          Role
          <select name="role">
            {ROLES.map((r) => (
              <option value={r} selected={r === "viewer"}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="big">
          Add user
        </button>
      </form>
    </section>
  );
}

const RoleSchema = v.picklist(ROLES, "role must be admin, operator or viewer");
const AddForm = v.object({
  username: v.pipe(v.string(), v.trim(), v.minLength(1, "enter a username"), v.maxLength(64, "username too long")),
  password: v.pipe(v.string(), v.maxLength(1024, "password too long")),
  role: RoleSchema,
});
const RoleForm = v.object({ role: RoleSchema });
const PasswordForm = v.object({ password: v.pipe(v.string(), v.maxLength(1024, "password too long")) });
const IdParam = v.object({ id: v.pipe(v.string(), v.regex(/^\d{1,15}$/, "user id must be a number"), v.transform(Number)) });

type Status = 200 | 400 | 404 | 409;

/** Whether a username is locked out by the app's login rate limiter (`c.var.limiter`). */
const lockedIn = (c: Context<WebEnv>) => (username: string) => c.var.limiter.isLocked(username);

/** The user-management sub-app (mount at `/users`); reads the database from `c.var.deps.db` (src/web/env.ts). */
export function userRoutes() {
  const app = new Hono<WebEnv>();
  app.use("*", requireRole("admin"));

  /** Answers a change: the fragment for htmx, else the whole page (errors) or a 303 (success). */
  const respond = (c: Context<WebEnv>, status: Status, extra: { error?: string; notice?: string } = {}) => {
    const list = <UserList users={listUsers(c.var.deps.db)} me={c.get("user")!.id} csrf={c.get("csrfToken")} locked={lockedIn(c)} {...extra} />;
    c.status(status);
    if (c.req.header("hx-request")) return c.html(list);
    if (status === 200) return c.redirect("/users", 303);
    return c.render(
      <section>
        <h1>Users</h1>
        {list}
      </section>,
      { title: "Users", live: false },
    );
  };
  const invalid = (result: { success: boolean; issues?: readonly { message: string }[] }, c: Context) => {
    if (!result.success) return respond(c as Context<WebEnv>, 400, { error: result.issues?.[0]?.message ?? "invalid input" });
  };
  const idHook = (result: { success: boolean }, c: Context) => {
    if (!result.success) return respond(c as Context<WebEnv>, 404, { error: "no such user" });
  };

  app.get("/", (c) =>
    c.render(
      <section>
        <h1>Users</h1>
        <UserList users={listUsers(c.var.deps.db)} me={c.get("user")!.id} csrf={c.get("csrfToken")} locked={lockedIn(c)} />
      </section>,
      { title: "Users", nav: "users" },
    ),
  );

  app.post("/", vValidator("form", AddForm, invalid), async (c) => {
    const { db } = c.var.deps;
    const form = c.req.valid("form");
    try {
      const user = await createUser(db, { username: form.username, password: form.password, role: form.role as Role });
      logEvent(db, { kind: "user.add", message: `${c.get("user")!.username} added user "${user.username}" (${user.role})`, data: { userId: user.id, role: user.role } });
      return respond(c, 200, { notice: `Added ${user.username}.` });
    } catch (err) {
      if (err instanceof UserInputError) return respond(c, 400, { error: err.message });
      if (err instanceof UserExistsError) return respond(c, 409, { error: err.message });
      throw err;
    }
  });

  app.post("/:id/role", vValidator("param", IdParam, idHook), vValidator("form", RoleForm, invalid), (c) => {
    const { db } = c.var.deps;
    const { id } = c.req.valid("param");
    const { role } = c.req.valid("form");
    try {
      if (!setUserRole(db, id, role as Role)) return respond(c, 404, { error: "no such user" });
    } catch (err) {
      if (err instanceof LastAdminError) return respond(c, 409, { error: err.message });
      throw err;
    }
    const user = userById(db, id)!;
    logEvent(db, { kind: "user.role", message: `${c.get("user")!.username} set the role of "${user.username}" to ${role}`, data: { userId: id, role } });
    return respond(c, 200, { notice: `${user.username} is now ${role}.` });
  });

  app.post("/:id/password", vValidator("param", IdParam, idHook), vValidator("form", PasswordForm, invalid), async (c) => {
    const { db } = c.var.deps;
    const { id } = c.req.valid("param");
    try {
      if (!(await setUserPassword(db, id, c.req.valid("form").password))) return respond(c, 404, { error: "no such user" });
    } catch (err) {
      if (err instanceof UserInputError) return respond(c, 400, { error: err.message });
      throw err;
    }
    const user = userById(db, id)!;
    // a changed password ends the user's sessions; changing your own keeps the one you are using
    const session = c.get("session");
    if (id === c.get("user")!.id && session) deleteOtherUserSessions(db, id, session.tokenHash);
    else deleteUserSessions(db, id);
    logEvent(db, { kind: "user.password", message: `${c.get("user")!.username} reset the password of "${user.username}"`, data: { userId: id } });
    return respond(c, 200, { notice: `Password of ${user.username} changed.` });
  });

  app.post("/:id/unlock", vValidator("param", IdParam, idHook), (c) => {
    const { db } = c.var.deps;
    const user = userById(db, c.req.valid("param").id);
    if (!user) return respond(c, 404, { error: "no such user" });
    const wasLocked = c.var.limiter.unlockUser(user.username);
    logEvent(db, { kind: "user.unlock", message: `${c.get("user")!.username} unlocked the login of "${user.username}"`, data: { userId: user.id, wasLocked } });
    return respond(c, 200, { notice: wasLocked ? `${user.username} is unlocked.` : `${user.username} was not locked out.` });
  });

  app.post("/:id/delete", vValidator("param", IdParam, idHook), (c) => {
    const { db } = c.var.deps;
    const { id } = c.req.valid("param");
    if (id === c.get("user")!.id) return respond(c, 409, { error: "you cannot delete your own account" });
    const user = userById(db, id);
    try {
      if (!user || !deleteUser(db, id)) return respond(c, 404, { error: "no such user" });
    } catch (err) {
      if (err instanceof LastAdminError) return respond(c, 409, { error: err.message });
      throw err;
    }
    logEvent(db, { kind: "user.delete", message: `${c.get("user")!.username} deleted user "${user.username}"`, data: { userId: id } });
    return respond(c, 200, { notice: `Deleted ${user.username}.` });
  });

  return app;
}
