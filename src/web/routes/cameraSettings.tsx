/** @jsxImportSource hono/jsx */
/**
 * A camera's recommended settings and their application (seed 003 `optimizations`,
 * `applied_configs`), mounted at `/cameras`; the parts on the camera page are in
 * src/web/components/CameraSettings.tsx.
 *
 * - `GET /cameras/:key/retention?days=N` (1..3650): the retention planner for N days (htmx
 *   fragment; a plain GET gets it as a page).
 * - `GET /cameras/:key/settings`: the "Recommended settings" section (the fragment it refreshes
 *   itself with while a change is under way).
 * - `POST /cameras/:key/optimize` (operator) `[days]`: runs the optimizer
 *   (`WebDeps.actions.optimizeCamera`) and stores the recommendation.
 * - `POST /cameras/:key/apply` (operator) `optimization=ID [method=self|onvif|manual]`: starts a
 *   settings change with that recommendation (`actions.applySettings`).
 * - `POST /cameras/:key/applies/:id/confirm` / `cancel` (operator): the user made the change by
 *   hand, or gives up on it (`actions.confirmApply`).
 * POSTs need the CSRF token like every form; htmx gets the refreshed section, a plain form post
 * 303 back to the camera page. 503 when the runtime does not offer the action, 409 with the
 * reason when it refuses, 404 for an unknown camera, 400 for malformed input.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { cameraIdByKey } from "../../db/cameras.ts";
import { applyById } from "../../db/optimize.ts";
import { hasRole } from "../../db/users.ts";
import { logEvent } from "../../db/eventLog.ts";
import { DEFAULT_KEEP_DAYS } from "../../optimize/request.ts";
import { CameraSettingsSection, RetentionPlanner, plannerProps, settingsSectionProps } from "../components/CameraSettings.tsx";
import type { WebEnv } from "../env.ts";
import { CameraKey, Id, unknownCamera, valid } from "../validate.ts";
import { isHtmx, unavailable, userOf } from "../actions.ts";

const KeyParam = v.object({ key: CameraKey });
const Days = v.pipe(v.string(), v.regex(/^\d{1,4}$/, "must be a whole number of days"), v.transform(Number), v.minValue(1), v.maxValue(3650));
const OptimizeForm = v.object({ days: v.optional(Days), _csrf: v.optional(v.string()) });
const ApplyForm = v.object({ optimization: Id, method: v.optional(v.picklist(["self", "onvif", "manual"])), _csrf: v.optional(v.string()) });
const ApplyParam = v.object({ key: CameraKey, id: Id });

/** The configured camera and its id, or a 404. */
function cameraOf(c: Context<WebEnv>, key: string) {
  const camera = c.var.deps.config.cameras.find((x) => x.key === key);
  const cameraId = cameraIdByKey(c.var.deps.db, key);
  if (!camera || cameraId === null) unknownCamera(key);
  return { camera, cameraId };
}

const isOperator = (c: Context<WebEnv>) => Boolean(c.var.user && hasRole(c.var.user.role, "operator"));

/** The answer to a POST: the section (htmx) with a notice, or 303 back to the camera page. */
function answer(c: Context<WebEnv>, key: string, notice: string) {
  if (!isHtmx(c)) return c.redirect(`/cameras/${key}#camera-settings`, 303);
  const { camera, cameraId } = cameraOf(c, key);
  return c.html(<CameraSettingsSection {...settingsSectionProps(c.var.deps, camera, cameraId, isOperator(c), c.var.csrfToken, notice)} />);
}

/** A refusal of the runtime as a 409 with its reason. */
const refused = (what: string, err: unknown): never => {
  throw new HTTPException(409, { message: `${what}: ${String((err as Error)?.message ?? err).split("\n")[0]!.slice(0, 300)}` });
};

export function cameraSettingsRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/:key/retention", valid("param", KeyParam), valid("query", v.object({ days: v.optional(Days) })), (c) => {
    const { camera, cameraId } = cameraOf(c, c.req.valid("param").key);
    const days = c.req.valid("query").days ?? DEFAULT_KEEP_DAYS;
    const planner = <RetentionPlanner {...plannerProps(c.var.deps, camera, cameraId, days)} />;
    if (isHtmx(c)) return c.html(planner);
    return c.render(
      <>
        <p class="crumbs">
          <a href="/">Home</a> › <a href={`/cameras/${camera.key}`}>{camera.name}</a> › Keeping footage
        </p>
        {planner}
      </>,
      { title: `${camera.name}: keeping footage`, nav: "dashboard" },
    );
  });

  app.get("/:key/settings", valid("param", KeyParam), (c) => {
    const { camera, cameraId } = cameraOf(c, c.req.valid("param").key);
    c.header("Cache-Control", "no-store");
    return c.html(<CameraSettingsSection {...settingsSectionProps(c.var.deps, camera, cameraId, isOperator(c), c.var.csrfToken)} />);
  });

  app.post("/:key/optimize", valid("param", KeyParam), valid("form", OptimizeForm), async (c) => {
    const { camera } = cameraOf(c, c.req.valid("param").key);
    const { actions, db } = c.var.deps;
    if (!actions?.optimizeCamera) unavailable("Recommending settings", "optimizeCamera");
    const user = userOf(c);
    let id = 0;
    try {
      id = (await actions.optimizeCamera(camera.key, { keepDays: c.req.valid("form").days })).optimizationId;
    } catch (err) {
      refused("cannot recommend settings", err);
    }
    logEvent(db, { kind: "camera.optimize", message: `${user.username} asked for recommended settings of camera ${camera.key} (recommendation ${id})`, data: { user: user.username, optimizationId: id } });
    return answer(c, camera.key, "New recommendation below.");
  });

  app.post("/:key/apply", valid("param", KeyParam), valid("form", ApplyForm), async (c) => {
    const { camera } = cameraOf(c, c.req.valid("param").key);
    const { actions } = c.var.deps;
    if (!actions?.applySettings) unavailable("Applying settings", "applySettings");
    const f = c.req.valid("form");
    const user = userOf(c);
    try {
      await actions.applySettings({ cameraKey: camera.key, optimizationId: f.optimization, method: f.method, by: user.username });
    } catch (err) {
      refused("cannot apply the settings", err);
    }
    const notice =
      f.method === "manual"
        ? "Change the camera on its own web page, then press \"Done, I changed it\" below; the next recordings are then measured."
        : "Applying: the next recordings are measured to check the change.";
    return answer(c, camera.key, notice);
  });

  for (const verb of ["confirm", "cancel"] as const) {
    app.post(`/:key/applies/:id/${verb}`, valid("param", ApplyParam), async (c) => {
      const { key, id } = c.req.valid("param");
      const { camera, cameraId } = cameraOf(c, key);
      const { actions, db } = c.var.deps;
      if (applyById(db, id)?.camera_id !== cameraId) throw new HTTPException(404, { message: `camera ${key} has no settings change ${id}` });
      if (!actions?.confirmApply) unavailable("Confirming a settings change", "confirmApply");
      const user = userOf(c);
      try {
        await actions.confirmApply(id, user.username, verb === "cancel");
      } catch (err) {
        refused(`cannot ${verb} settings change ${id}`, err);
      }
      return answer(c, camera.key, verb === "confirm" ? "Thanks: the next recordings are measured to check the change." : "Cancelled.");
    });
  }

  return app;
}
