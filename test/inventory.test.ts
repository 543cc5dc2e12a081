/**
 * Camera inventory (seed 003) end to end with the real `onvif` npm client over real HTTP against
 * a loopback ONVIF device (test/helpers/onvifDevice.ts, the outermost boundary):
 * - src/onvif/device.ts: discovery reads identity, options and the current encoder settings; an
 *   apply is read back and changes the device; a refused setting is an OnvifError carrying the
 *   device's fault reason and codes and changes nothing; a wrong password and a dead address are
 *   clear errors; H.265 is refused before anything is sent.
 * - `[cameras.inventory]` validation errors, one line naming the key.
 * - discovery into the database (src/actors/inventory.ts): vendor, model, capabilities; the
 *   login stored only encrypted; the config file's vendor wins; a failure is an event row;
 *   without ONVIF the capabilities come from a probe of the newest recorded segment.
 * - the camera page's Inventory section and its routes through `app.request()`: roles, CSRF,
 *   validation (400), fields set in the config file (409), the ONVIF login (never shown back),
 *   "Find out now" with the runtime action (real discovery against the device) and its failure.
 * - the runtime: `[cameras.inventory] onvif` is discovered a few seconds after start, and its
 *   `discoverInventory` action works; a new camera without ONVIF is measured at its first segment.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { applyOnvifStreamSettings, discoverOnvifInventory, OnvifError } from "../src/onvif/device.ts";
import { startFakeOnvifDevice, type FakeOnvifDevice } from "./helpers/onvifDevice.ts";
import { ConfigError, validateConfig, type Config } from "../src/config.ts";
import { createApp } from "../src/web/app.tsx";
import { inventoryOf, onvifCredentialsOf, setOnvifCredentials } from "../src/db/inventory.ts";
import { discoverInventory, syncConfigInventory } from "../src/actors/inventory.ts";
import { loadSecretKey } from "../src/secrets.ts";
import { makeFixture, type WebFixture } from "./web-fixture.ts";
import { eventSentence } from "../src/web/words.ts";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";

const LOGIN = { user: "admin", password: "secret-pass" };
let device: FakeOnvifDevice;
let f: WebFixture;

beforeAll(async () => {
  device = startFakeOnvifDevice(LOGIN);
  f = await makeFixture();
}, 60_000);

afterAll(() => {
  device?.stop();
  f?.cleanup();
});

const events = (kind: string) =>
  f.db.query("SELECT message, data FROM event_log WHERE kind = ? ORDER BY id").all(kind) as { message: string; data: string | null }[];

describe("ONVIF device module against a loopback device", () => {
  test("discovery reads identity, capabilities and the main stream's current settings", async () => {
    const before = device.unauthorized.length;
    const inv = await discoverOnvifInventory({ url: device.url, ...LOGIN });
    expect(inv.vendor).toBe("Acme Vision");
    expect(inv.model).toBe("AV-IPC4000");
    expect(inv.firmware).toBe("V5.7.3 build 230512");
    expect(inv.serial).toBe("AV4000-20230512-0042");
    expect(inv.capabilities.maxResolution).toEqual({ width: 2560, height: 1440 });
    expect(inv.capabilities.codecs).toEqual(["H264", "JPEG"]);
    expect(inv.capabilities.maxFps).toBe(30);
    expect(inv.capabilities.bitrateRangeKbps).toEqual({ min: 64, max: 16384 });
    expect(inv.capabilities.gopRangeFrames).toEqual({ min: 1, max: 300 });
    expect(inv.capabilities.wdr).toEqual({ modes: ["OFF", "ON"], levelRange: { min: 0, max: 100 } });
    expect(inv.current).toEqual({ width: 1920, height: 1080, codec: "H264", fps: 25, bitrateKbps: 4096, gopFrames: 50 });
    // every guarded request carried a valid UsernameToken digest
    expect(device.unauthorized.length).toBe(before);
    expect(device.requests).toContain("GetVideoEncoderConfigurationOptions");
  });

  test("an apply is read back and the device holds the new settings", async () => {
    const { readBack } = await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { width: 1280, height: 720, fps: 15, bitrateKbps: 2048, gopFrames: 30 });
    expect(readBack).toEqual({ width: 1280, height: 720, codec: "H264", fps: 15, bitrateKbps: 2048, gopFrames: 30 });
    expect(device.main).toMatchObject({ width: 1280, height: 720, fps: 15, bitrateKbps: 2048, gop: 30, encoding: "H264" });
    // a partial change keeps the rest
    const again = await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { bitrateKbps: 3000 });
    expect(again.readBack).toEqual({ width: 1280, height: 720, codec: "H264", fps: 15, bitrateKbps: 3000, gopFrames: 30 });
  });

  test("a refused setting is an OnvifError with the device's fault string and codes; nothing changes", async () => {
    const before = { ...device.main };
    const err = await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { fps: 60 }).catch((e) => e);
    expect(err).toBeInstanceOf(OnvifError);
    expect(err.message).toBe("The configuration parameters are not possible to set");
    expect(err.faultCodes).toEqual(["env:Sender", "ter:InvalidArgVal", "ter:ConfigModify"]);
    expect(device.main).toEqual(before);
    const badSize = await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { width: 1000, height: 1000 }).catch((e) => e);
    expect(badSize).toBeInstanceOf(OnvifError);
    expect(badSize.faultCodes).toContain("ter:ConfigModify");
  });

  test("numbers are sent whole; a non-positive one is refused before anything is sent", async () => {
    const { readBack } = await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { fps: 12.4, bitrateKbps: 2500.6 });
    expect(readBack).toMatchObject({ fps: 12, bitrateKbps: 2501 });
    const n = device.requests.length;
    const err = await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { fps: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(OnvifError);
    expect(err.message).toBe("fps must be a positive number, not 0");
    expect((await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { bitrateKbps: NaN }).catch((e) => e)).message).toBe("bitrateKbps must be a positive number, not NaN");
    expect(device.requests.length).toBe(n);
  });

  test("H.265 is refused before anything is sent (Media ver10 has no H.265)", async () => {
    const n = device.requests.length;
    const err = await applyOnvifStreamSettings({ url: device.url, ...LOGIN }, { codec: "H265" }).catch((e) => e);
    expect(err).toBeInstanceOf(OnvifError);
    expect(err.message).toMatch(/H\.265 cannot be set/);
    expect(device.requests.length).toBe(n);
  });

  test("a wrong password and a missing login are clear errors", async () => {
    const wrong = await discoverOnvifInventory({ url: device.url, user: "admin", password: "nope" }).catch((e) => e);
    expect(wrong).toBeInstanceOf(OnvifError);
    expect(wrong.message).toBe("the device refused the user name or password (Sender not Authorized)");
    expect(wrong.faultCodes).toEqual(["env:Sender", "ter:NotAuthorized"]);
    const none = await discoverOnvifInventory({ url: device.url }).catch((e) => e);
    expect(none).toBeInstanceOf(OnvifError);
    expect(none.message).toMatch(/refused the user name or password/);
    const apply = await applyOnvifStreamSettings({ url: device.url, user: "admin", password: "nope" }, { fps: 10 }).catch((e) => e);
    expect(apply.message).toMatch(/refused the user name or password/);
  });

  test("a Media2-only (Profile T) device is refused with a clear reason", async () => {
    const t = startFakeOnvifDevice({ ...LOGIN, media2Only: true });
    try {
      const err = await discoverOnvifInventory({ url: t.url, ...LOGIN }).catch((e) => e);
      expect(err).toBeInstanceOf(OnvifError);
      expect(err.message).toBe("the device offers no ONVIF Media service (ver10, Profile S); a Media2-only (Profile T) device is not supported");
    } finally {
      t.stop();
    }
  });

  test("nothing listening and a malformed address", async () => {
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const deadUrl = `http://127.0.0.1:${probe.port}/onvif/device_service`;
    probe.stop(true);
    const dead = await discoverOnvifInventory({ url: deadUrl, ...LOGIN, timeoutMs: 3000 }).catch((e) => e);
    expect(dead).toBeInstanceOf(OnvifError);
    expect(dead.message).toMatch(/nothing answers at the ONVIF address/);
    const bad = await discoverOnvifInventory({ url: "rtsp://camera/stream" }).catch((e) => e);
    expect(bad).toBeInstanceOf(OnvifError);
    expect(bad.message).toMatch(/must start with http:\/\/ or https:\/\//);
  });
});

describe("[cameras.inventory] in the config file", () => {
  const cam = (inventory: unknown) => ({ cameras: [{ key: "a", source: "testsrc", inventory }] });
  const bad = (inventory: unknown) => {
    try {
      validateConfig(cam(inventory), "/tmp");
      return "accepted";
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
  };

  test("a full inventory is accepted; scene and purpose are lower-cased words", () => {
    const config = validateConfig(
      cam({ location: "Windscreen, facing forward", scene_type: "Road", purpose: "plates", vendor: "Acme", model: "X1", vms_system: "milestone", vms_camera_id: "m-42", onvif: { url: "http://192.168.1.64/onvif/device_service", user: "admin", password: "pw" } }),
      "/tmp",
    );
    expect(config.cameras[0]!.inventory).toEqual({
      location: "Windscreen, facing forward", scene_type: "road", purpose: "plates", vendor: "Acme", model: "X1", vms_system: "milestone", vms_camera_id: "m-42",
      onvif: { url: "http://192.168.1.64/onvif/device_service", user: "admin", password: "pw" },
    });
  });

  test("bad values are one line naming the key", () => {
    expect(bad({ locaton: "x" })).toBe('cameras[0].inventory.locaton: unknown key (did you mean "location"?)');
    expect(bad({ scene_type: "two words" })).toMatch(/^cameras\[0\]\.inventory\.scene_type: must be one word/);
    expect(bad({ location: "   " })).toBe("cameras[0].inventory.location: must not be empty");
    expect(bad({ vendor: "x".repeat(101) })).toBe("cameras[0].inventory.vendor: must be at most 100 characters");
    expect(bad({ onvif: { url: "rtsp://cam/onvif" } })).toMatch(/^cameras\[0\]\.inventory\.onvif\.url: must be http:\/\/host/);
    expect(bad({ onvif: { url: "http://admin:pw@cam/onvif/device_service" } })).toMatch(/user and password go in user\/password/);
    expect(bad({ onvif: { url: "http://cam/onvif/device_service", password: "pw" } })).toBe("cameras[0].inventory.onvif.password: needs onvif.user as well");
    expect(bad({ onvif: { url: "http://cam/onvif/device_service", pass: "pw" } })).toMatch(/^cameras\[0\]\.inventory\.onvif\.pass: unknown key/);
  });
});

describe("discovery into the database", () => {
  /** The fixture's cameras with an inventory for `front` (ONVIF login + a config-set vendor). */
  function configWith(inventory: Record<string, unknown> | undefined): Config {
    return { ...f.config, cameras: f.config.cameras.map((c) => (c.key === "front" ? { ...c, inventory } : { ...c, inventory: undefined })) } as Config;
  }
  const ids = () => new Map([["front", f.front.id], ["rear", f.rear.id]]);

  test("ONVIF: vendor/model/capabilities stored, the login only encrypted, the config's vendor kept", async () => {
    const secret = loadSecretKey(f.dir, false)!;
    const config = configWith({ vendor: "Our Vendor", location: "Windscreen", onvif: { url: device.url, ...LOGIN } });
    syncConfigInventory(f.db, secret, config.cameras, ids());
    const raw = f.db.query("SELECT ip, credentials_encrypted FROM cameras WHERE id = ?").get(f.front.id) as { ip: string; credentials_encrypted: string };
    expect(raw.ip).toBe("192.0.2.7"); // from the rtsp source URL, not the ONVIF address
    expect(raw.credentials_encrypted).not.toContain(LOGIN.password);
    expect(Buffer.from(raw.credentials_encrypted, "base64").toString("latin1")).not.toContain(LOGIN.password);
    expect(onvifCredentialsOf(f.db, secret, f.front.id)).toEqual({ url: device.url, ...LOGIN, origin: "config" });
    // a second start with the same file does not rewrite the row
    syncConfigInventory(f.db, secret, config.cameras, ids());
    expect((f.db.query("SELECT credentials_encrypted FROM cameras WHERE id = ?").get(f.front.id) as { credentials_encrypted: string }).credentials_encrypted).toBe(raw.credentials_encrypted);

    const caps = await discoverInventory({ db: f.db, dataDir: f.dir, secret }, config.cameras.find((c) => c.key === "front")!, f.front.id);
    expect(caps.source).toBe("onvif");
    const inv = inventoryOf(f.db, f.front.id)!;
    expect(inv.vendor).toBe("Our Vendor"); // the config file wins over the device
    expect(inv.model).toBe("AV-IPC4000");
    expect(inv.location).toBe("Windscreen");
    expect(inv.has_credentials).toBe(true);
    expect(inv.capabilities).toMatchObject({ maxResolution: { width: 2560, height: 1440 }, codecs: ["H264", "JPEG"], maxFps: 30, firmware: "V5.7.3 build 230512", source: "onvif" });
    expect(inv.capabilities!.currentStream!.codec).toBe("H264");
    expect(events("inventory.discovered").at(-1)!.message).toBe("front: ONVIF reports 2560x1440, H264/JPEG, 30 fps");
  });

  test("a wrong login: discovery fails with the reason as an event row, capabilities kept, no password in the log", async () => {
    const secret = loadSecretKey(f.dir, false)!;
    const config = configWith({ onvif: { url: device.url, user: "admin", password: "WrongPass123" } });
    const before = inventoryOf(f.db, f.front.id)!.capabilities;
    const err = await discoverInventory({ db: f.db, dataDir: f.dir, secret }, config.cameras.find((c) => c.key === "front")!, f.front.id).catch((e) => e);
    expect(err).toBeInstanceOf(OnvifError);
    const ev = events("inventory.failed").at(-1)!;
    expect(ev.message).toBe("front: discovery failed: the device refused the user name or password (Sender not Authorized)");
    expect(JSON.parse(ev.data!)).toEqual({ faultCodes: ["env:Sender", "ter:NotAuthorized"] });
    const all = JSON.stringify(f.db.query("SELECT * FROM event_log").all());
    expect(all).not.toContain("WrongPass123");
    expect(all).not.toContain(LOGIN.password);
    expect(inventoryOf(f.db, f.front.id)!.capabilities).toEqual(before);
  });

  test("a login the config file drops is removed at the next start; one set in the UI is kept", async () => {
    const secret = loadSecretKey(f.dir, false)!;
    syncConfigInventory(f.db, secret, configWith({ onvif: { url: device.url, ...LOGIN } }).cameras, ids());
    expect(onvifCredentialsOf(f.db, secret, f.front.id)!.origin).toBe("config");
    syncConfigInventory(f.db, secret, configWith(undefined).cameras, ids());
    expect(onvifCredentialsOf(f.db, secret, f.front.id)).toBeNull();
    setOnvifCredentials(f.db, secret, f.front.id, { url: device.url, ...LOGIN });
    syncConfigInventory(f.db, secret, configWith(undefined).cameras, ids());
    expect(onvifCredentialsOf(f.db, secret, f.front.id)).toEqual({ url: device.url, ...LOGIN, origin: "ui" });
  });

  test("without ONVIF: capabilities measured from the newest recorded segment", async () => {
    const secret = loadSecretKey(f.dir, false)!;
    setOnvifCredentials(f.db, secret, f.front.id, null);
    const config = configWith(undefined);
    const caps = await discoverInventory({ db: f.db, dataDir: f.dir, secret }, config.cameras.find((c) => c.key === "front")!, f.front.id);
    // the fixture's segments: 320x240 H.264 at 10 fps
    expect(caps).toMatchObject({ maxResolution: { width: 320, height: 240 }, codecs: ["H264"], maxFps: 10, source: "recording" });
    expect(caps.currentStream!.bitrateKbps).toBeGreaterThan(0);
    // a camera with nothing recorded and no ONVIF says so
    const err = await discoverInventory({ db: f.db, dataDir: f.dir, secret }, config.cameras.find((c) => c.key === "rear")!, f.rear.id).catch((e) => e);
    expect(err.message).toMatch(/^nothing recorded yet and no ONVIF address/);
  });
});

describe("Inventory section and routes (app.request)", () => {
  const form = (fields: Record<string, string>) => ({ method: "POST", body: new URLSearchParams(fields), headers: { "HX-Request": "true" } });
  /** An app whose config sets rear's location, with a discovery action that runs the real discovery. */
  function appFor(config = f.config) {
    const secret = loadSecretKey(f.dir, false);
    return createApp({
      ...f.deps,
      config,
      actions: {
        ...f.deps.actions,
        async discoverInventory(key: string) {
          const camera = config.cameras.find((c) => c.key === key)!;
          await discoverInventory({ db: f.db, dataDir: f.dir, secret }, camera, key === "front" ? f.front.id : f.rear.id);
        },
      },
    });
  }
  const rearLocked = () => ({ ...f.config, cameras: f.config.cameras.map((c) => (c.key === "rear" ? { ...c, inventory: { location: "Boot lid" } } : c)) }) as Config;

  test("the camera page shows the section; viewers get no forms, admins the edit form", async () => {
    const app = appFor();
    const admin = await (await f.request(app, "/cameras/front")).text();
    expect(admin).toContain('id="inventory"');
    expect(admin).toContain('action="/cameras/front/inventory"');
    expect(admin).toContain('action="/cameras/front/inventory/discover"');
    const viewer = await (await f.request(app, "/cameras/front", {}, "viewer")).text();
    expect(viewer).toContain('id="inventory"');
    expect(viewer).not.toContain('action="/cameras/front/inventory"');
    expect(viewer).not.toContain("/inventory/discover");
    const operator = await (await f.request(app, "/cameras/front", {}, "operator")).text();
    expect(operator).toContain("/inventory/discover");
    expect(operator).not.toContain('action="/cameras/front/inventory"');
  });

  test("an admin sets fields; an empty field clears one; the change is logged", async () => {
    const app = appFor();
    const r = await f.request(app, "/cameras/rear/inventory", form({ location: " Rear window ", scene_type: "Parking", purpose: "evidence", vendor: "", model: "" }));
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain("Rear window");
    expect(html).toContain("Saved.");
    expect(inventoryOf(f.db, f.rear.id)).toMatchObject({ location: "Rear window", scene_type: "parking", purpose: "evidence", vendor: null });
    const cleared = await f.request(app, "/cameras/rear/inventory", form({ purpose: "" }));
    expect(cleared.status).toBe(200);
    expect(inventoryOf(f.db, f.rear.id)!.purpose).toBeNull();
    expect(events("inventory.edit").at(-1)!.message).toBe("ada changed the inventory of rear: Purpose");
    // a plain form post goes back to the camera page
    const plain = await f.request(app, "/cameras/rear/inventory", { method: "POST", body: new URLSearchParams({ location: "Rear window" }) });
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe("/cameras/rear#inventory");
  });

  test("the Events page tells inventory events in plain words", () => {
    const rows = f.db
      .query("SELECT e.id, e.at, e.level, e.kind, e.camera_id, c.key AS camera_key, e.message, e.data FROM event_log e LEFT JOIN cameras c ON c.id = e.camera_id WHERE e.kind LIKE 'inventory.%' ORDER BY e.id")
      .all() as Parameters<typeof eventSentence>[0][];
    const sentences = new Set(rows.map((r) => eventSentence(r, r.camera_key === "front" ? "Front camera" : "Rear")));
    expect(sentences).toContain("Front camera: camera details read from the camera");
    expect(sentences).toContain("Front camera: camera details read from its recording");
    expect(sentences).toContain("Front camera: camera details could not be read (the device refused the user name or password (Sender not Authorized))");
    expect(sentences).toContain("Rear: camera details changed (by ada)");
  });

  test("roles and CSRF: operators and viewers cannot edit; a missing token is refused", async () => {
    const app = appFor();
    expect((await f.request(app, "/cameras/rear/inventory", form({ location: "x" }), "operator")).status).toBe(403);
    expect((await f.request(app, "/cameras/rear/inventory", form({ location: "x" }), "viewer")).status).toBe(403);
    const noCsrf = await app.request("/cameras/rear/inventory", { method: "POST", body: new URLSearchParams({ location: "x" }), headers: { cookie: f.sessions.admin.cookie } });
    expect(noCsrf.status).toBe(403);
    expect(inventoryOf(f.db, f.rear.id)!.location).toBe("Rear window");
  });

  test("bad input is 400 naming the field in words; a field the config file sets is 409; nothing is written", async () => {
    const app = appFor(rearLocked());
    const before = JSON.stringify(inventoryOf(f.db, f.rear.id));
    const r1 = await f.request(app, "/cameras/rear/inventory", form({ scene_type: "car park", location: "ok" }));
    expect(r1.status).toBe(400);
    expect(await r1.text()).toContain("Scene: must be one word");
    const r2 = await f.request(app, "/cameras/rear/inventory", form({ onvif_url: "ftp://cam" }));
    expect(r2.status).toBe(400);
    expect(await r2.text()).toContain("ONVIF address: must be http://host");
    const r3 = await f.request(app, "/cameras/rear/inventory", form({ location: "Elsewhere", model: "Changed" }));
    expect(r3.status).toBe(409);
    expect(await r3.text()).toContain("Location is set in the config file; change it there");
    expect(JSON.stringify(inventoryOf(f.db, f.rear.id))).toBe(before);
    // the form shows that field as not editable
    const page = await (await f.request(app, "/cameras/rear/inventory")).text();
    expect(page).toContain("(set in the config file)");
    expect(page).toMatch(/name="location" value="Rear window" disabled/);
  });

  test("an ONVIF login set in the UI is stored encrypted, never shown back, kept when the password is left empty", async () => {
    const app = appFor();
    const secret = loadSecretKey(f.dir, false)!;
    const r = await f.request(app, "/cameras/front/inventory", form({ onvif_url: device.url, onvif_user: "admin", onvif_password: LOGIN.password }));
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain("login stored (encrypted)");
    expect(html).not.toContain(LOGIN.password);
    expect(onvifCredentialsOf(f.db, secret, f.front.id)).toEqual({ url: device.url, ...LOGIN, origin: "ui" });
    // a new address with the password left empty keeps the stored password
    await f.request(app, "/cameras/front/inventory", form({ onvif_url: device.url.replace("127.0.0.1", "localhost"), onvif_password: "" }));
    expect(onvifCredentialsOf(f.db, secret, f.front.id)).toEqual({ url: device.url.replace("127.0.0.1", "localhost"), ...LOGIN, origin: "ui" });
    await f.request(app, "/cameras/front/inventory", form({ onvif_url: device.url }));
    expect(JSON.stringify(f.db.query("SELECT * FROM event_log").all())).not.toContain(LOGIN.password);
  });

  test("Find out now runs discovery against the device; a failure is 502 with the device's reason", async () => {
    const app = appFor();
    f.db.query("UPDATE cameras SET model = NULL, capabilities = NULL WHERE id = ?").run(f.front.id);
    const r = await f.request(app, "/cameras/front/inventory/discover", { method: "POST", headers: { "HX-Request": "true" } }, "operator");
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain("AV-IPC4000");
    expect(html).toContain("Up to 2560×1440 pixels");
    expect(html).toContain("Asked the camera over ONVIF");
    expect(inventoryOf(f.db, f.front.id)!.capabilities!.source).toBe("onvif");

    const secret = loadSecretKey(f.dir, false)!;
    setOnvifCredentials(f.db, secret, f.front.id, { url: device.url, user: "admin", password: "wrong" });
    const bad = await f.request(app, "/cameras/front/inventory/discover", { method: "POST", headers: { "HX-Request": "true" } }, "operator");
    expect(bad.status).toBe(502);
    expect(await bad.text()).toContain("Could not find out: the device refused the user name or password");
    expect((await f.request(app, "/cameras/front/inventory/discover", { method: "POST" }, "viewer")).status).toBe(403);
    // without the runtime action: 503
    const noRuntime = createApp(f.deps);
    expect((await f.request(noRuntime, "/cameras/front/inventory/discover", { method: "POST" }, "operator")).status).toBe(503);
  });
});

describe("the runtime", () => {
  const rf = new RuntimeFixture("dashcam-inventory-");
  afterAll(() => rf.cleanup());

  test("a camera with an ONVIF login is discovered after start; the action discovers again", async () => {
    const dataDir = rf.tempDir();
    const camera = { key: "front", source: "testsrc", record: false, inventory: { location: "Dashboard", purpose: "evidence", onvif: { url: device.url, ...LOGIN } } };
    const h = await rf.start(rf.config(dataDir, { cameras: [camera], health: { enabled: false } }));
    const row = () => queryDb(dataDir, (db) => db.query("SELECT ip, vendor, model, location, purpose, capabilities, credentials_encrypted FROM cameras WHERE key = 'front'").get() as Record<string, string | null>);
    expect(row()).toMatchObject({ location: "Dashboard", purpose: "evidence", ip: "127.0.0.1" });
    await waitUntil("start-up discovery", () => row().capabilities !== null, 20_000);
    const r = row();
    expect(r).toMatchObject({ vendor: "Acme Vision", model: "AV-IPC4000" });
    expect(JSON.parse(r.capabilities!)).toMatchObject({ source: "onvif", maxFps: 30 });
    expect(r.credentials_encrypted).not.toContain(LOGIN.password);
    const n = device.requests.filter((op) => op === "GetDeviceInformation").length;
    await h.actions.discoverInventory("front");
    expect(device.requests.filter((op) => op === "GetDeviceInformation").length).toBe(n + 1);
    await expect(h.actions.discoverInventory("nope")).rejects.toThrow('no camera "nope" is configured');
    // the password is nowhere in the database files, in any encoding a page could show
    for (const file of [join(dataDir, "dashcam.db"), join(dataDir, "dashcam.db-wal")]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file).toString("latin1");
      expect(bytes.includes(LOGIN.password)).toBe(false);
      expect(bytes.includes(Buffer.from(LOGIN.password).toString("base64"))).toBe(false);
    }
  }, 60_000);

  test("a new camera without ONVIF is measured from its first recorded segment", async () => {
    const dataDir = rf.tempDir();
    // the first segment closes after the start-up discovery pass (5 s): it is found through the live bus
    const camera = { key: "cab", source: "testsrc", segment_seconds: 8, width: 320, height: 240, fps: 10 };
    await rf.start(rf.config(dataDir, { cameras: [camera], health: { enabled: false } }));
    const caps = () => queryDb(dataDir, (db) => (db.query("SELECT capabilities FROM cameras WHERE key = 'cab'").get() as { capabilities: string | null }).capabilities);
    const found = JSON.parse(await waitUntil("discovery at the first segment", caps, 40_000));
    expect(found).toMatchObject({ source: "recording", maxResolution: { width: 320, height: 240 }, codecs: ["H264"], maxFps: 10 });
  }, 60_000);
});
