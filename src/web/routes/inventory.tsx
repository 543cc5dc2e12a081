/** @jsxImportSource hono/jsx */
/**
 * Camera inventory (seed 003), shown on the camera page (components/Inventory.tsx):
 * - `GET /cameras/:key/inventory` — the `#inventory` section as an htmx fragment.
 * - `POST /cameras/:key/inventory` (admin) — sets the inventory fields (an empty field clears
 *   it) and the ONVIF login (address, user, password; an empty password keeps the stored one,
 *   `onvif_remove=on` removes the login). Fields the config file sets are refused with 409
 *   (change them in the file). The login is stored encrypted (src/secrets.ts key). Logs
 *   `inventory.edit` with the user and the names of the changed fields (never a password).
 * - `POST /cameras/:key/inventory/discover` (operator) — asks the runtime to discover the
 *   camera's capabilities now (`WebDeps.actions.discoverInventory`: ONVIF, else a probe of the
 *   newest recording); 503 without the runtime, 502 with the reason when it fails (the
 *   device's fault string, a wrong login, nothing recorded yet).
 * htmx gets the section; a plain form post 303 back to the camera page. Bad input is 400 with
 * the field named in plain words.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { cameraByKey } from "../../db/cameras.ts";
import { INVENTORY_FIELDS, inventoryOf, onvifCredentialsOf, setOnvifCredentials, updateInventory, type InventoryField, type InventoryFields } from "../../db/inventory.ts";
import { hasRole } from "../../db/users.ts";
import { logEvent } from "../../db/eventLog.ts";
import { inventoryText, inventoryWord, onvifUrl } from "../../config.ts";
import { loadSecretKey } from "../../secrets.ts";
import { InventorySection, INVENTORY_LABELS } from "../components/Inventory.tsx";
import type { WebEnv } from "../env.ts";
import { CameraKey, unknownCamera, valid } from "../validate.ts";
import { isHtmx, unavailable, userOf } from "../actions.ts";

/** A form field that may be empty (= clear it, null) or must pass `schema`. */
function clearable<T extends v.GenericSchema<string, string>>(schema: T) {
  return v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const s = dataset.value.trim();
        if (s === "") return null;
        const r = v.safeParse(schema, s);
        if (!r.success) {
          addIssue({ message: r.issues[0].message });
          return NEVER;
        }
        return r.output as string;
      }),
    ),
  );
}

const InventoryForm = v.object({
  location: clearable(inventoryText(200)),
  scene_type: clearable(inventoryWord),
  purpose: clearable(inventoryWord),
  vendor: clearable(inventoryText(100)),
  model: clearable(inventoryText(100)),
  vms_system: clearable(inventoryText(64)),
  vms_camera_id: clearable(inventoryText(128)),
  onvif_url: clearable(onvifUrl),
  onvif_user: clearable(v.pipe(v.string(), v.maxLength(100, "must be at most 100 characters"))),
  onvif_password: v.optional(v.pipe(v.string(), v.maxLength(200, "must be at most 200 characters"))),
  onvif_remove: v.optional(v.literal("on")),
});

const FORM_LABELS: Record<string, string> = { ...INVENTORY_LABELS, onvif_url: "ONVIF address", onvif_user: "ONVIF user", onvif_password: "ONVIF password", onvif_remove: "Remove the stored login" };

const KeyParam = v.object({ key: CameraKey });

/** The config file's inventory of a camera: which fields it sets, whether it sets the ONVIF login. */
function configInventory(c: Context<WebEnv>, key: string) {
  const inv = c.var.deps.config.cameras.find((cam) => cam.key === key)?.inventory;
  const fromConfig = new Set<InventoryField>(INVENTORY_FIELDS.filter((f) => inv?.[f] !== undefined));
  return { fromConfig, onvifFromConfig: inv?.onvif !== undefined };
}

/** The `#inventory` section of camera `cameraKey` for the request's user. */
export function CameraInventory({ c, cameraId, cameraKey, notice }: { c: Context<WebEnv>; cameraId: number; cameraKey: string; notice?: string }) {
  const inv = inventoryOf(c.var.deps.db, cameraId);
  if (!inv) return null;
  const role = c.var.user?.role;
  return (
    <InventorySection
      cameraKey={cameraKey}
      inv={inv}
      {...configInventory(c, cameraKey)}
      canEdit={Boolean(role && hasRole(role, "admin"))}
      canDiscover={Boolean(role && hasRole(role, "operator") && c.var.deps.actions?.discoverInventory)}
      csrf={c.var.csrfToken}
      notice={notice}
    />
  );
}

export function inventoryRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/:key/inventory", valid("param", KeyParam), (c) => {
    const cam = cameraByKey(c.var.deps.db, c.req.valid("param").key) ?? unknownCamera(c.req.valid("param").key);
    return c.html(<CameraInventory c={c} cameraId={cam.id} cameraKey={cam.key} />);
  });

  app.post("/:key/inventory", valid("param", KeyParam), async (c) => {
    const { db, dataDir } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    // the form is checked here (not with `valid`) so the message names the field in words
    const result = v.safeParse(InventoryForm, await c.req.parseBody());
    if (!result.success) {
      const name = String(result.issues[0].path?.[0]?.key ?? "");
      throw new HTTPException(400, { message: `${FORM_LABELS[name] ?? name}: ${result.issues[0].message}` });
    }
    const form = result.output;
    const { fromConfig, onvifFromConfig } = configInventory(c, cam.key);
    const current = inventoryOf(db, cam.id)!;
    const fields: InventoryFields = {};
    for (const f of INVENTORY_FIELDS) {
      const value = form[f];
      if (value === undefined || value === current[f]) continue;
      if (fromConfig.has(f)) throw new HTTPException(409, { message: `${INVENTORY_LABELS[f]} is set in the config file; change it there` });
      fields[f] = value;
    }
    const wantsLogin = form.onvif_url || form.onvif_user || form.onvif_password || form.onvif_remove;
    if (wantsLogin && onvifFromConfig) throw new HTTPException(409, { message: "the ONVIF login is set in the config file; change it there" });
    let loginChange: "set" | "removed" | null = null;
    let secret: ReturnType<typeof loadSecretKey> = null;
    if (wantsLogin) {
      secret = loadSecretKey(dataDir);
      if (!secret) throw new HTTPException(503, { message: "no encryption key: the ONVIF login cannot be stored" });
    }
    let login: { url: string; user?: string; password?: string } | null = null;
    if (form.onvif_remove) loginChange = "removed";
    else if (wantsLogin) {
      let stored: { url: string; user?: string; password?: string } | null = null;
      try {
        stored = onvifCredentialsOf(db, secret!, cam.id);
      } catch {
        stored = null; // undecryptable: replaced by what is entered now
      }
      const url = form.onvif_url ?? stored?.url;
      if (!url) throw new HTTPException(400, { message: "ONVIF address: enter the camera's address (http://camera/onvif/device_service)" });
      const user = form.onvif_user ?? stored?.user;
      const password = form.onvif_password ? form.onvif_password : stored?.password;
      if (password !== undefined && !user) throw new HTTPException(400, { message: "ONVIF user: enter the user the password belongs to" });
      login = { url, ...(user ? { user } : {}), ...(password !== undefined ? { password } : {}) };
      loginChange = "set";
    }
    // one transaction for fields and login together: nothing half-written
    db.transaction(() => {
      updateInventory(db, cam.id, fields);
      if (loginChange) setOnvifCredentials(db, secret!, cam.id, loginChange === "removed" ? null : login);
    })();
    const changed = [...Object.keys(fields), ...(loginChange ? ["onvif_login"] : [])];
    const user = userOf(c);
    if (changed.length > 0) {
      logEvent(db, {
        kind: "inventory.edit",
        cameraId: cam.id,
        message: `${user.username} changed the inventory of ${cam.key}: ${changed.map((f) => FORM_LABELS[f] ?? "ONVIF login").join(", ")}${loginChange === "removed" ? " (removed)" : ""}`,
        data: { user: user.username, fields: changed },
      });
    }
    if (!isHtmx(c)) return c.redirect(`/cameras/${cam.key}#inventory`, 303);
    return c.html(<CameraInventory c={c} cameraId={cam.id} cameraKey={cam.key} notice={changed.length ? "Saved." : "Nothing changed."} />);
  });

  app.post("/:key/inventory/discover", valid("param", KeyParam), async (c) => {
    const { db, actions } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    if (!actions?.discoverInventory) unavailable("Discovery", "discoverInventory");
    try {
      await actions.discoverInventory(cam.key);
    } catch (err) {
      throw new HTTPException(502, { message: `Could not find out: ${String((err as Error)?.message ?? err).split("\n")[0]!.slice(0, 300)}` });
    }
    if (!isHtmx(c)) return c.redirect(`/cameras/${cam.key}#inventory`, 303);
    return c.html(<CameraInventory c={c} cameraId={cam.id} cameraKey={cam.key} notice="Updated." />);
  });

  return app;
}
