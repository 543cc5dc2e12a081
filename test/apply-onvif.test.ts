/**
 * The `onvif` method of a settings change end to end, in the real runtime (this process): the
 * apply action the web page and the control socket use (`actions.applySettings`), the
 * supervisor's `apply:<id>` actor with the runtime's wiring, the camera's ONVIF login from the
 * config file (or stored from the page), the real `onvif` npm client (src/onvif/device.ts) over
 * real HTTP, and loopback ONVIF devices (test/helpers/onvifDevice.ts, the outermost boundary,
 * speaking the SOAP messages of the ONVIF Media WSDL):
 *
 * - the stream is sent (SetVideoEncoderConfiguration) and read back as asked: the device holds
 *   it, the change goes on to be verified by measuring the recordings, and the inventory's
 *   "main stream now" is what the device read back;
 * - a device that clamps the frame rate (test/helpers/onvifDevice.ts `frameRateCap`) reads back
 *   something else: `partial` with what differs;
 * - a device that refuses: `failed` with its fault string, nothing changed;
 * - a wrong password: `failed` with the device's refusal in plain words;
 * - a camera without an ONVIF login: `failed` with "ONVIF is not configured for this camera",
 *   until a login is entered on the page (it counts at once).
 *
 * Those cameras record nothing (`record = false`): ONVIF is the only thing they do. One more
 * camera records a real RTSP stream (rtsp-server-perl fed by ffmpeg, ./helpers/rtsp.ts) that its
 * ONVIF device restarts with whatever encoder configuration is set, as a camera does: its change
 * is read back, measured on the following recordings, and ends `success`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";
import { startFakeOnvifDevice, type FakeOnvifDevice } from "./helpers/onvifDevice.ts";
import { startRtspCamera, type RtspCamera } from "./helpers/rtsp.ts";
import { applyById } from "../src/db/optimize.ts";
import { cameraIdByKey } from "../src/db/cameras.ts";
import { inventoryOf, setOnvifCredentials } from "../src/db/inventory.ts";
import { loadSecretKey } from "../src/secrets.ts";
import { applyActorId } from "../src/machines/supervisor.ts";
import { ONVIF_NOT_CONFIGURED, fromOnvif, toOnvif } from "../src/actors/applyConfig.ts";
import type { RuntimeHandle } from "../src/runtime.ts";

const fx = new RuntimeFixture("dashcam-apply-onvif-");
const LOGIN = { user: "admin", password: "secret-pass" };
let gate: FakeOnvifDevice;
let capped: FakeOnvifDevice;
let locked: FakeOnvifDevice;
let rt: RuntimeHandle;
let dataDir: string;

beforeAll(async () => {
  gate = startFakeOnvifDevice(LOGIN);
  capped = startFakeOnvifDevice({ ...LOGIN, frameRateCap: 15 });
  locked = startFakeOnvifDevice(LOGIN);
  dataDir = fx.tempDir();
  const camera = (key: string, onvif?: { url: string; user: string; password: string }) => ({
    key,
    source: `rtsp://127.0.0.1:9/${key}`,
    record: false,
    ...(onvif ? { inventory: { onvif } } : {}),
  });
  const config = fx.config(dataDir, {
    cameras: [
      camera("gate", { url: gate.url, ...LOGIN }),
      camera("yard", { url: capped.url, ...LOGIN }),
      camera("door", { url: locked.url, user: "admin", password: "WrongPass123" }),
      camera("shed"),
    ],
    health: { enabled: false },
  });
  rt = await fx.start(config);
});
afterAll(async () => {
  await fx.cleanup();
  for (const d of [gate, capped, locked]) d?.stop();
});

const row = (id: number) => queryDb(dataDir, (db) => applyById(db, id));
/** Waits until apply `id` was pushed (in progress, `applied_at` set) or ended; returns its row. */
const settled = (id: number) =>
  waitUntil(`apply ${id} to be pushed or to end`, () => {
    const r = row(id);
    return r && (r.applied_at !== null || (r.status !== "pending" && r.status !== "in_progress")) ? r : null;
  }, 20_000, 50);
const apply = (cameraKey: string, stream: Record<string, unknown>) =>
  rt.actions.applySettings({ cameraKey, method: "onvif", settings: { stream }, by: "tester" }).then((r) => r.applyId);

describe("ONVIF settings changes through the runtime", () => {
  test("sent and read back as asked: the device holds it, verification by measuring follows, the inventory shows it", async () => {
    await rt.actions.discoverInventory("gate");
    const cameraId = queryDb(dataDir, (db) => cameraIdByKey(db, "gate"))!;
    expect(queryDb(dataDir, (db) => inventoryOf(db, cameraId))!.capabilities!.currentStream).toEqual({ width: 1920, height: 1080, codec: "H264", fps: 25, bitrateKbps: 4096, gopFrames: 50 });
    const stream = { resolution: "1280x720", codec: "H.264", fps: 20, bitrateKbps: 2048, gopSeconds: 2 };
    const sentAt = gate.requests.length;
    const id = await apply("gate", stream);
    const r = await settled(id);
    expect([r.status, r.error_message, r.apply_method, r.applied_by]).toEqual(["in_progress", null, "onvif", "tester"]);
    // set, then read back (the library asks for the configuration after a set)
    expect(gate.requests.slice(sentAt).filter((op) => /VideoEncoderConfiguration$/.test(op))).toEqual(["GetVideoEncoderConfiguration", "SetVideoEncoderConfiguration", "GetVideoEncoderConfiguration"]);
    expect(gate.unauthorized).toEqual([]);
    expect(gate.main).toMatchObject({ encoding: "H264", width: 1280, height: 720, fps: 20, bitrateKbps: 2048, gop: 40 });
    // the actor read it back as asked and waits to measure the recordings
    const actor = rt.supervisor.system.get(applyActorId(id))!;
    const snap = actor.getSnapshot() as { value: unknown; context: { readBack: unknown; verifyAtUtc: number | null } };
    expect(snap.value).toEqual({ in_progress: "verifying" });
    expect(snap.context.readBack).toEqual(stream);
    expect(snap.context.verifyAtUtc).toBeGreaterThan(r.applied_at!);
    // the inventory's "main stream now" is the read-back, not the discovery's
    expect(queryDb(dataDir, (db) => inventoryOf(db, cameraId))!.capabilities!.currentStream).toEqual({ width: 1280, height: 720, codec: "H264", fps: 20, bitrateKbps: 2048, gopFrames: 40 });
  }, 30_000);

  test("a device that clamps the frame rate reads back 15: partial with what differs, without measuring", async () => {
    const id = await apply("yard", { fps: 25, gopSeconds: 2 });
    const r = await settled(id);
    // it keeps a keyframe every 50 frames as asked, which at 15 frames/s is every 3.3 s
    expect([r.status, r.error_message]).toEqual(["partial", "the camera reports 15 frames/s, not 25; the camera reports a keyframe every 3.333 s, not 2"]);
    expect(capped.main.fps).toBe(15);
    expect((r.verification as { readBack: { fps: number } }).readBack.fps).toBe(15);
  }, 30_000);

  test("a device that refuses: failed with its fault string, nothing changed", async () => {
    const before = { ...gate.main };
    const id = await apply("gate", { resolution: "1000x1000" });
    const r = await settled(id);
    expect([r.status, r.error_message]).toEqual(["failed", "The configuration parameters are not possible to set"]);
    expect(gate.main).toEqual(before);
  }, 30_000);

  test("a wrong password: failed with the device's refusal in plain words", async () => {
    const id = await apply("door", { fps: 10 });
    const r = await settled(id);
    expect([r.status, r.error_message]).toEqual(["failed", "the device refused the user name or password (Sender not Authorized)"]);
    expect(locked.unauthorized).toContain("GetDeviceInformation");
    expect(locked.requests).not.toContain("SetVideoEncoderConfiguration");
  }, 30_000);

  test("no ONVIF login: failed with ONVIF_NOT_CONFIGURED; a login entered on the page counts at once", async () => {
    const before = gate.requests.length;
    const none = await settled(await apply("shed", { fps: 12 }));
    expect([none.status, none.error_message]).toEqual(["failed", ONVIF_NOT_CONFIGURED]);
    expect(gate.requests.length).toBe(before);
    // what the camera page's inventory form stores (encrypted with the data directory's key)
    const cameraId = queryDb(dataDir, (db) => cameraIdByKey(db, "shed"))!;
    setOnvifCredentials(rt.db, loadSecretKey(dataDir, false)!, cameraId, { url: gate.url, ...LOGIN, origin: "ui" });
    const r = await settled(await apply("shed", { fps: 12 }));
    expect([r.status, r.error_message]).toEqual(["in_progress", null]);
    expect(gate.main.fps).toBe(12);
  }, 30_000);

  test("toOnvif / fromOnvif: codec without the dot, GOP in frames, and back", () => {
    const stream = { resolution: "1920x1080", codec: "H.265", fps: 20, bitrateKbps: 2048, gopSeconds: 2 };
    expect(toOnvif(stream)).toEqual({ width: 1920, height: 1080, codec: "H265", fps: 20, bitrateKbps: 2048, gopFrames: 40 });
    expect(fromOnvif(toOnvif(stream))).toEqual(stream);
    expect(toOnvif({ fps: 10 })).toEqual({ fps: 10 });
  });
});

describe("an ONVIF camera whose stream follows its encoder configuration", () => {
  const fx2 = new RuntimeFixture("dashcam-apply-onvif-rtsp-");
  let camera: RtspCamera;
  let device: FakeOnvifDevice;
  afterAll(async () => {
    await fx2.cleanup();
    device?.stop();
    await camera?.stop();
  });

  test("set over ONVIF, read back, measured on the next recordings: success", async () => {
    camera = await startRtspCamera({ reencode: { width: 320, height: 240, gop: 25 } });
    device = startFakeOnvifDevice({
      ...LOGIN,
      resolutions: [[640, 360], [320, 240]],
      // the camera's encoder restarts with the new settings (its stream drops for a moment)
      onMainConfigured: async (c) => {
        await camera.stop();
        camera.options.reencode = { width: c.width, height: c.height, gop: c.gop, fps: c.fps, bitrateKbps: c.bitrateKbps };
        await camera.start();
      },
    });
    const dir = fx2.tempDir();
    const config = fx2.config(dir, {
      cameras: [{ key: "road", source: camera.url, segment_seconds: 2, inventory: { onvif: { url: device.url, ...LOGIN } } }],
      health: { enabled: false },
    });
    const runtime = await fx2.start(config);
    await waitUntil("a first recording", () => queryDb(dir, (db) => db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 1, 30_000, 200);
    const stream = { resolution: "320x240", codec: "H.264", fps: 10, bitrateKbps: 200, gopSeconds: 1 };
    const { applyId } = await runtime.actions.applySettings({ cameraKey: "road", method: "onvif", settings: { stream }, by: "tester" });
    const done = await waitUntil("the change to be verified", () => {
      const r = queryDb(dir, (db) => applyById(db, applyId));
      return r && r.status !== "pending" && r.status !== "in_progress" ? r : null;
    }, 60_000, 250);
    expect(device.main).toMatchObject({ width: 320, height: 240, fps: 10, bitrateKbps: 200, gop: 10 });
    expect([done.status, done.error_message]).toEqual(["success", null]);
    const v = done.verification as { readBack: unknown; measured: { fps: number; gopSeconds: number; bitrateKbps: number; resolution: string; codec: string } };
    expect(v.readBack).toEqual(stream);
    expect(v.measured.resolution).toBe("320x240");
    expect(Math.abs(v.measured.fps - 10)).toBeLessThanOrEqual(1);
    expect(Math.abs(v.measured.gopSeconds - 1)).toBeLessThanOrEqual(0.1);
    expect(v.measured.bitrateKbps).toBeLessThanOrEqual(250);
  }, 90_000);
});
