/**
 * The `onvif` method of a settings change through the real `applyConfig` wiring
 * (src/actors/applyConfig.ts) on a real SQLite file with the journal: the ONVIF apply is the
 * injected effect with the signature of `applyOnvifStreamSettings` (src/onvif/device.ts), here a
 * stand-in at that boundary recording what it was asked; the protocol itself is tested with the
 * ONVIF client. It receives the stream in ONVIF's terms (codec without the dot, GOP in frames);
 * what the camera reads back decides (`partial` with what differs, without measuring); a refusal
 * fails with the camera's words; a camera without an ONVIF target fails with
 * "ONVIF is not configured for this camera".
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createActor } from "xstate";
import { validateConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { applyById } from "../src/db/optimize.ts";
import { Journal } from "../src/actors/journal.ts";
import { LiveBus } from "../src/events.ts";
import { createApply } from "../src/optimize/apply.ts";
import { fromOnvif, provideApplyConfig, toOnvif, type OnvifApply, type OnvifStreamSettings, type OnvifTarget } from "../src/actors/applyConfig.ts";
import { waitUntil } from "./helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "dashcam-apply-onvif-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = validateConfig({ data_dir: dir, cameras: [{ key: "gate", source: "rtsp://192.0.2.9:554/s1", segment_seconds: 4 }] }, dir);
const db = openDatabase(join(dir, "dashcam.db"));
syncCameras(db, config.cameras, null);
const journal = new Journal(db);
afterAll(() => {
  journal.close();
  db.close();
});
const cameras = new Map(config.cameras.map((c) => [c.key, c]));
const TARGET: OnvifTarget = { url: "http://192.0.2.9/onvif/device_service", user: "admin", password: "pw" };
const STREAM = { resolution: "1920x1080", codec: "H.265", fps: 20, bitrateKbps: 2048, gopSeconds: 2 };

/** Runs one onvif apply with `effect` to its end; returns the row. */
async function run(effect: OnvifApply, target: OnvifTarget | null = TARGET) {
  const input = createApply(db, cameras, { cameraKey: "gate", method: "onvif", settings: { stream: STREAM }, by: "admin" });
  const machine = provideApplyConfig({ db, dataDir: dir, bootId: "b", journal, bus: new LiveBus(), cameras, onvifApply: effect, onvifTargetOf: () => target });
  const actor = createActor(machine, { input, systemId: `apply:${input.applyId}`, inspect: journal.inspect });
  actor.start();
  await waitUntil("the apply to leave pushing", () => {
    const v = actor.getSnapshot().value;
    return actor.getSnapshot().status === "done" || (typeof v === "object" && (v as { in_progress?: string }).in_progress === "verifying");
  }, 10_000, 20);
  const state = actor.getSnapshot().value;
  actor.stop();
  // the journal commits the final transition's rows
  await waitUntil("the row", () => {
    const r = applyById(db, input.applyId)!;
    return r.status !== "pending" ? r : null;
  }, 5_000, 20);
  return { row: applyById(db, input.applyId)!, state };
}

describe("ONVIF apply through the injected effect", () => {
  test("the effect gets the stream in ONVIF's terms with the camera's target; a read-back that differs ends partial", async () => {
    const asked: [OnvifTarget, OnvifStreamSettings][] = [];
    const { row, state } = await run(async (t, s) => {
      asked.push([t, s]);
      // the camera caps the frame rate (and keeps a keyframe every 2 s)
      return { readBack: { ...s, fps: 15, gopFrames: 30 } };
    });
    expect(asked).toEqual([[TARGET, { width: 1920, height: 1080, codec: "H265", fps: 20, bitrateKbps: 2048, gopFrames: 40 }]]);
    expect(state).toBe("partial");
    expect([row.status, row.error_message]).toEqual(["partial", "the camera reports 15 frames/s, not 20"]);
    expect(row.applied_at).not.toBeNull();
    expect((row.verification as { readBack: unknown }).readBack).toEqual({ ...STREAM, fps: 15 });
  });

  test("a read-back as asked goes on to measure the recordings", async () => {
    const { row, state } = await run(async (_t, s) => ({ readBack: s }));
    expect(state).toEqual({ in_progress: "verifying" });
    expect(row.status).toBe("in_progress");
  });

  test("the camera refuses: failed with its words; no target: ONVIF is not configured", async () => {
    const refused = await run(async () => {
      throw new Error("ONVIF fault ter:InvalidArgVal: the encoder does not support H.265");
    });
    expect([refused.row.status, refused.row.error_message]).toEqual(["failed", "ONVIF fault ter:InvalidArgVal: the encoder does not support H.265"]);
    let called = 0;
    const none = await run(async (_t, s) => {
      called++;
      return { readBack: s };
    }, null);
    expect([none.row.status, none.row.error_message]).toEqual(["failed", "ONVIF is not configured for this camera"]);
    expect(called).toBe(0);
  });

  test("toOnvif / fromOnvif round trip", () => {
    expect(fromOnvif(toOnvif(STREAM))).toEqual(STREAM);
    expect(toOnvif({ fps: 10 })).toEqual({ fps: 10 });
  });
});
