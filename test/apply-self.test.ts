/**
 * Applying settings to a camera dashcam encodes itself, in the real runtime (this process):
 * ffmpeg recording its test pattern (320x240, 10 frames/s, a keyframe a second, 2 s segments),
 * the supervisor's `apply:<id>` actor, the journal, real SQLite, and the verification measuring
 * the segments recorded after the change with ffmpeg.
 *
 * - a change of frame rate, bitrate and keyframe interval is applied (`self`): the recorder
 *   restarts with them without closing the trip, the runtime is restarted while the change is
 *   being verified (the actor is restored from the journal with its stored deadline), and the
 *   following segments measure as asked: `success`, with what was measured;
 * - a bitrate the encoder cannot reach on this picture ends `partial` with what differs;
 * - a keyframe interval longer than the segment, or H.265, ends `failed` with the reason;
 * - `manual` waits for the user's confirmation; `onvif` to a camera without an ONVIF login fails
 *   with "ONVIF is not configured for this camera" (ONVIF applies: test/apply-onvif.test.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";
import { applyById, encoderSettingsOf, failedApplies, type AppliedConfigRow } from "../src/db/optimize.ts";
import { cameraIdByKey } from "../src/db/cameras.ts";
import type { RuntimeHandle } from "../src/runtime.ts";
import type { Config } from "../src/config.ts";
import { listEvents } from "../src/db/views.ts";
import { eventSentence } from "../src/web/words.ts";

const fx = new RuntimeFixture("dashcam-apply-self-");
afterAll(() => fx.cleanup());

const CAMERA = { key: "front", source: "testsrc", segment_seconds: 2, width: 320, height: 240, fps: 10 };

async function start(dataDir: string): Promise<{ rt: RuntimeHandle; config: Config }> {
  const config = fx.config(dataDir, { cameras: [CAMERA], health: { enabled: false } });
  return { rt: await fx.start(config), config };
}

const applyRow = (dataDir: string, id: number) => queryDb(dataDir, (db) => applyById(db, id));
const ended = (dataDir: string, id: number, timeoutMs = 50_000) =>
  waitUntil(`apply ${id} to end`, () => {
    const r = applyRow(dataDir, id);
    return r && r.status !== "pending" && r.status !== "in_progress" ? r : null;
  }, timeoutMs, 200);

describe("applying settings to a camera dashcam encodes (testsrc)", () => {
  const dataDir = fx.tempDir();
  let rt: RuntimeHandle;
  let secondStartAt = 0;

  test("fps, bitrate and keyframe interval applied; verified on the next segments after a restart mid-verification: success", async () => {
    rt = (await start(dataDir)).rt;
    await waitUntil("first segment", () => queryDb(dataDir, (db) => db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 1, 30_000);
    const tripsBefore = queryDb(dataDir, (db) => db.query("SELECT id FROM trips").all());
    const { applyId } = await rt.actions.applySettings({ cameraKey: "front", settings: { stream: { fps: 15, bitrateKbps: 250, gopSeconds: 2 } }, by: "tester" });
    // pushed: the row is in progress and dashcam's own encoder settings are stored
    const pushed = await waitUntil("the settings to be pushed", () => {
      const r = applyRow(dataDir, applyId);
      return r?.applied_at ? r : null;
    }, 20_000);
    expect(pushed.status).toBe("in_progress");
    expect(pushed.apply_method).toBe("self");
    expect(pushed.applied_by).toBe("tester");
    const cameraId = queryDb(dataDir, (db) => cameraIdByKey(db, "front"))!;
    expect(queryDb(dataDir, (db) => encoderSettingsOf(db, cameraId))).toEqual({ width: null, height: null, fps: 15, bitrateKbps: 250, keyframeSeconds: 2 });

    // the recorder restarted with them and records on in the same trip (not closed by the restart)
    await waitUntil("a segment of the new run", () =>
      queryDb(dataDir, (db) => db.query("SELECT 1 AS x FROM segments WHERE start_utc >= ?").get(pushed.applied_at!)), 20_000);
    const trips = queryDb(dataDir, (db) => db.query("SELECT id, status, end_time_utc FROM trips").all());
    expect(trips).toEqual([{ ...(tripsBefore[0] as object), status: "open", end_time_utc: null }]);

    // the runtime goes down while the change is being verified, and comes back
    await rt.stop();
    secondStartAt = Date.now();
    rt = (await start(dataDir)).rt;
    const done = await ended(dataDir, applyId);
    expect(done.error_message).toBeNull();
    expect(done.status).toBe("success");
    const measured = (done.verification as { measured: Record<string, number | string> }).measured;
    expect(Math.abs((measured.fps as number) - 15)).toBeLessThanOrEqual(1.5);
    expect(Math.abs((measured.gopSeconds as number) - 2)).toBeLessThanOrEqual(0.2);
    expect(measured.bitrateKbps as number).toBeGreaterThan(125);
    expect(measured.bitrateKbps as number).toBeLessThanOrEqual(250 * 1.25);
    expect(measured.resolution).toBe("320x240");
    const events = queryDb(dataDir, (db) => db.query("SELECT kind, message FROM event_log WHERE kind = 'camera.apply'").all() as { kind: string; message: string }[]);
    expect(events.map((e) => e.message)).toEqual([`camera front: settings change ${applyId} (self) applied and verified`]);
  }, 90_000);

  test("a bitrate this picture cannot be squeezed into ends partial with what differs; the inventory shows the stream as measured", async () => {
    // the second start's inventory discovery (from the newest recording) has run, so what the
    // inventory shows after this change can only come from the change's measurement
    const discovered = () =>
      queryDb(dataDir, (db) => db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'inventory.discovered' AND at >= ?").get(secondStartAt) as { n: number }).n;
    await waitUntil("the second start's discovery", () => discovered() >= 1, 30_000);
    const { applyId } = await rt.actions.applySettings({ cameraKey: "front", settings: { stream: { bitrateKbps: 16 } }, by: "tester" });
    const done = await ended(dataDir, applyId);
    expect(done.status).toBe("partial");
    expect(done.error_message).toMatch(/^recorded \d+ kbit\/s, asked 16$/);
    const measured = (done.verification as { measured: { fps: number; bitrateKbps: number; gopSeconds: number } }).measured;
    const cameraId = queryDb(dataDir, (db) => cameraIdByKey(db, "front"))!;
    const caps = queryDb(dataDir, (db) => JSON.parse((db.query("SELECT capabilities FROM cameras WHERE id = ?").get(cameraId) as { capabilities: string }).capabilities));
    expect(caps.source).toBe("recording");
    expect(caps.currentStream).toEqual({
      width: 320, height: 240, codec: expect.any(String), fps: measured.fps, bitrateKbps: measured.bitrateKbps, gopFrames: Math.round(measured.fps * measured.gopSeconds),
    });
    expect(discovered()).toBe(1);
  }, 60_000);

  test("impossible for dashcam's encoder: failed with the reason, nothing stored, listed with the failed changes", async () => {
    const cameraId = queryDb(dataDir, (db) => cameraIdByKey(db, "front"))!;
    const before = queryDb(dataDir, (db) => encoderSettingsOf(db, cameraId));
    const gop = await rt.actions.applySettings({ cameraKey: "front", settings: { stream: { gopSeconds: 5 } }, by: "tester" });
    const codec = await rt.actions.applySettings({ cameraKey: "front", settings: { stream: { codec: "H.265" } }, by: "tester" });
    const a = await ended(dataDir, gop.applyId, 10_000);
    const b = await ended(dataDir, codec.applyId, 10_000);
    expect([a.status, a.error_message]).toEqual(["failed", "a keyframe every 5 s is longer than the camera's 2 s recordings: they could not be cut on time"]);
    expect([b.status, b.error_message]).toEqual(["failed", "dashcam encodes this camera in H.264 only; H.265 cannot be applied"]);
    expect(queryDb(dataDir, (db) => encoderSettingsOf(db, cameraId))).toEqual(before);
    // the events page says it in plain words
    const sentences = queryDb(dataDir, (db) => listEvents(db, { kind: "camera.apply", limit: 10 }).map((e) => eventSentence(e, "Front")));
    expect(sentences.slice(0, 4)).toEqual([
      "Front: settings change failed (dashcam encodes this camera in H.264 only; H.265 cannot be applied)",
      "Front: settings change failed (a keyframe every 5 s is longer than the camera's 2 s recordings: they could not be cut on time)",
      expect.stringMatching(/^Front: new settings applied in part \(recorded \d+ kbit\/s, asked 16\)$/),
      "Front: new settings applied and checked",
    ]);
    // the seed's sample query 2
    const failed = queryDb(dataDir, (db) => failedApplies(db));
    expect(failed.map((f) => [f.id, f.key, f.apply_method])).toEqual([
      [codec.applyId, "front", "self"],
      [gop.applyId, "front", "self"],
    ]);
  }, 30_000);

  test("manual waits for the user's confirmation; onvif without an ONVIF login fails clearly; bad requests are refused", async () => {
    const manual = await rt.actions.applySettings({ cameraKey: "front", method: "manual", settings: { stream: { fps: 15 }, exposure: { shutter: "1/500", wdr: "Off" } }, by: "tester" });
    await Bun.sleep(500);
    const waiting = applyRow(dataDir, manual.applyId) as AppliedConfigRow;
    expect(waiting.status).toBe("in_progress");
    expect(waiting.applied_at).toBeNull();
    // the whole recommendation is kept for a change by hand
    expect(waiting.settings).toEqual({ stream: { fps: 15 }, exposure: { shutter: "1/500", wdr: "Off" } });
    await rt.actions.confirmApply(manual.applyId, "ops", true);
    const cancelled = await ended(dataDir, manual.applyId, 10_000);
    expect([cancelled.status, cancelled.error_message]).toEqual(["failed", "cancelled by ops"]);

    const onvif = await rt.actions.applySettings({ cameraKey: "front", method: "onvif", settings: { stream: { fps: 15 } }, by: "tester" });
    const o = await ended(dataDir, onvif.applyId, 10_000);
    expect([o.status, o.error_message]).toEqual(["failed", "ONVIF is not configured for this camera"]);

    await expect(rt.actions.applySettings({ cameraKey: "nope", settings: { stream: { fps: 15 } }, by: "t" })).rejects.toThrow('no camera "nope" is configured');
    await expect(rt.actions.applySettings({ cameraKey: "front", settings: { stream: { fps: -1 } }, by: "t" })).rejects.toThrow("settings.stream.fps must be a positive number");
    await expect(rt.actions.confirmApply(onvif.applyId, "t")).rejects.toThrow(`settings change ${onvif.applyId} has ended (failed)`);
  }, 30_000);
});
