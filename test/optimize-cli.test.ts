/**
 * `dashcam optimize --camera KEY [--keep-days N] [--json]` as a real process (`bun src/main.ts`),
 * against a data directory a runtime recorded its test pattern into (320x240, 10 frames/s, 2 s
 * segments): with the runtime stopped (the CLI gathers and stores in its own process) and with
 * it running (through its control socket). Bad input: one line, exit 2, nothing stored.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { runCli, TEST_CAMERA, writeConfig } from "./helpers/runtime.ts";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-optimize-cli-");
afterAll(() => fx.cleanup());

const dir = fx.tempDir();
const dataDir = join(dir, "data");
const cfg = writeConfig(dir, { data_dir: dataDir, cameras: [TEST_CAMERA] });
const cli = (args: string[]) => runCli(["optimize", ...args], { env: { DASHCAM_CONFIG: undefined } });
const rows = () => queryDb(dataDir, (db) => db.query("SELECT id, ai_provider, confidence, json_extract(recommended_settings, '$.stream.codec') AS codec FROM optimizations ORDER BY id").all());

describe("dashcam optimize", () => {
  test("bad usage or an unknown camera: one line on stderr, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["--config", cfg], /missing --camera/],
      [["--camera", "front", "--keep-days", "abc", "--config", cfg], /--keep-days must be a whole number of days 1\.\.3650, got "abc"/],
      [["--camera", "front", "extra", "--config", cfg], /unexpected argument "extra"/],
      [["--camera", "nope", "--config", cfg], /no camera "nope" in the configuration/],
      [["--camera", "front", "--config", cfg], /no database in .*: camera "front" has never recorded there/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").length).toBe(1);
      expect(r.stderr).toMatch(re);
    }
  }, 60_000);

  test("in its own process after recording: prints the recommendation and stores the row; --json prints the row", async () => {
    const rt = await fx.start(loadConfig(cfg));
    await waitUntil("two segments", () => queryDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2), 30_000);
    await rt.stop();
    const r = await cli(["--camera", "front", "--keep-days", "3", "--config", cfg]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^recommendation 1 for camera front \(heuristic, confidence 0\.\d\d, \d+ ms\)$/);
    // dashcam encodes the test pattern itself: H.264, a keyframe a second while the disk is ample
    expect(lines[1]).toMatch(/^stream: \d+x\d+ H\.264, \d+ frames\/s, \d+ kbit\/s, a keyframe every 1 s$/);
    expect(lines.some((l) => l.startsWith("exposure: shutter "))).toBe(true);
    expect(lines.some((l) => l.startsWith("why: "))).toBe(true);
    expect(rows()).toEqual([{ id: 1, ai_provider: "heuristic", confidence: expect.any(Number), codec: "H.264" }]);
    const stored = queryDb(dataDir, (db) => db.query("SELECT request_data FROM optimizations WHERE id = 1").get() as { request_data: string });
    const req = JSON.parse(stored.request_data);
    // the request carries what was measured: the recorded stream and the days asked for
    expect(req.currentSettings.stream.resolution).toBe("320x240");
    expect(req.currentSettings.stream.fps).toBe(10);
    expect(req.currentSettings.stream.gopSeconds).toBe(1);
    expect(req.context.storage.retentionDays).toBe(3);
    expect(req.context.encodedBy).toBe("self");

    const j = await cli(["--camera", "front", "--json", "--config", cfg]);
    expect(j.code).toBe(0);
    const row = JSON.parse(j.stdout);
    expect(row.id).toBe(2);
    expect(row.camera).toBe("front");
    expect(row.recommended_settings.stream.codec).toBe("H.264");
    expect(row.ai_provider).toBe("heuristic");
  }, 90_000);

  test("with a runtime running: through its control socket", async () => {
    await fx.start(loadConfig(cfg));
    const r = await cli(["--camera", "front", "--json", "--config", cfg]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).id).toBe(3);
    expect(rows().length).toBe(3);
    const bad = await cli(["--camera", "front", "--keep-days", "0", "--config", cfg]);
    expect(bad.code).toBe(2);
    expect(rows().length).toBe(3);
  }, 60_000);
});
