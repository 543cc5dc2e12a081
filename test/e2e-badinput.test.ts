/**
 * Bad input end to end.
 * - CLI: bad configs (TOML syntax, unknown key, wrong type, duplicate camera key, missing file
 *   source, bad listen address) given to `dashcam run` and `dashcam check` print exactly one
 *   stderr line naming the key, exit 2, and create neither the data directory nor a database.
 * - Web: against the real server of a runtime that has recorded a trip, unknown camera keys,
 *   non-numeric ids and path traversal in every file route get a 4xx (never the database or
 *   /etc/passwd), logged in or not, and the requests change nothing: the database (row counts and max ids of
 *   every table) and the data directory (every file and size) are the same before and after.
 *   Requests are sent raw over TCP so `..` and `%2F` reach the server as written.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import {
  makeTempDir, removeDir, writeConfig, startRuntime, runCli, segmentsOf, tripsOf, type Runtime,
} from "./helpers/runtime.ts";
import { killAllStarted, waitFor } from "./helpers/proc.ts";
import { rawRequest, webSession } from "./helpers/http.ts";
import { databaseFingerprint, fileListing } from "./helpers/invariants.ts";

const dirs: string[] = [];
let rt: Runtime | null = null;

afterAll(async () => {
  await rt?.kill();
  killAllStarted();
  for (const d of dirs) removeDir(d);
});

const GOOD_CAMERA = 'key = "cam"\nsource = "testsrc"\nsegment_seconds = 1';

/** [case name, config body after data_dir, text the one error line must contain] */
const BAD_CONFIGS: [string, string, string][] = [
  ["TOML syntax error", `[[cameras]]\n${GOOD_CAMERA}\nring_segments = = 3\n`, "TOML"],
  ["unknown camera key", `[[cameras]]\n${GOOD_CAMERA}\nbogus_option = 1\n`, "cameras[0].bogus_option"],
  ["unknown top-level key", `colour = "red"\n[[cameras]]\n${GOOD_CAMERA}\n`, "colour"],
  ["wrong type", `[[cameras]]\n${GOOD_CAMERA}\nring_segments = "lots"\n`, "cameras[0].ring_segments"],
  ["zero segment length", `[[cameras]]\nkey = "cam"\nsource = "testsrc"\nsegment_seconds = 0\n`, "cameras[0].segment_seconds"],
  ["duplicate camera key", `[[cameras]]\n${GOOD_CAMERA}\n[[cameras]]\n${GOOD_CAMERA}\n`, "cameras[1].key"],
  ["missing file source", `[[cameras]]\nkey = "cam"\nsource = "file:/nonexistent/dir/clip.mp4"\n`, "cameras[0].source"],
  ["unknown source scheme", `[[cameras]]\nkey = "cam"\nsource = "http://example.invalid/x"\n`, "cameras[0].source"],
  ["bad camera key", `[[cameras]]\nkey = "Cam One"\nsource = "testsrc"\n`, "cameras[0].key"],
  ["bad listen address", `[http]\nlisten = "localhost"\n[[cameras]]\n${GOOD_CAMERA}\n`, "http.listen"],
];

describe("bad configs: one line naming the key, exit 2, nothing written", () => {
  for (const [name, body, key] of BAD_CONFIGS) {
    for (const command of ["run", "check"]) {
      test(`${command}: ${name}`, async () => {
        const dir = makeTempDir("dashcam-e2e-badcfg-");
        dirs.push(dir);
        const dataDir = join(dir, "data");
        const configPath = join(dir, "bad.toml");
        writeFileSync(configPath, `data_dir = ${JSON.stringify(dataDir)}\n${body}`);
        const r = await runCli([command, "--config", configPath], { timeoutMs: 30_000 });
        const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
        expect({ code: r.code, lines: lines.length }).toEqual({ code: 2, lines: 1 });
        expect(lines[0]).toContain(key);
        expect(r.stdout.trim()).toBe("");
        expect(existsSync(dataDir)).toBe(false);
        expect(readdirSync(dir).sort()).toEqual(["bad.toml"]);
      });
    }
  }

  test("run: config file that does not exist", async () => {
    const dir = makeTempDir("dashcam-e2e-badcfg-");
    dirs.push(dir);
    const r = await runCli(["run", "--config", join(dir, "missing.toml")], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stderr).toContain("missing.toml");
    expect(readdirSync(dir)).toEqual([]);
  });

  test("run: unknown option", async () => {
    const r = await runCli(["run", "--no-such-option"], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stderr).toContain("no-such-option");
  });
});

describe("bad web input against the real server", () => {
  test("unknown keys, non-numeric ids and path traversal get a 4xx and change nothing", async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const dataDir = join(dir, "data");
    const camera = { key: "cam", source: "testsrc", width: 320, height: 240, fps: 10, segment_seconds: 1, ring_segments: 100 };
    const configPath = writeConfig(dir, { data_dir: dataDir, cameras: [camera] });
    // record a little, then serve it with the camera disabled, so nothing else writes meanwhile
    rt = await startRuntime(configPath, { env: { DASHCAM_BOOT_ID: "e2e-bad-1" }, label: "bad" });
    await waitFor("3 segments", () => segmentsOf(dataDir, "cam").length >= 3, 60_000);
    expect(await rt.terminate()).toBe(0);
    writeConfig(dir, { data_dir: dataDir, cameras: [{ ...camera, enabled: false }] });
    rt = await startRuntime(configPath, { env: { DASHCAM_BOOT_ID: "e2e-bad-2" }, label: "bad-serve" });
    const port = rt.port;
    const trip = tripsOf(dataDir, "cam")[0];
    const seg = segmentsOf(dataDir, "cam")[0];

    // logged in (first-run setup form), so a 4xx below is about the input, not the session
    const auth = { cookie: await webSession(rt.url) };
    // the routes exist: the good requests work, so a 4xx below is the input's fault
    const good = [`/cameras/cam`, `/trips/${trip.id}`, `/trips/${trip.id}/playlist.m3u8`, `/media/cam/${seg.absolute_index}.ts`, "/healthz"];
    for (const path of good) expect({ path, status: (await rawRequest(port, path, auth)).status }).toEqual({ path, status: 200 });

    const dbBefore = databaseFingerprint(dataDir);
    const filesBefore = fileListing(dir);

    const bad = [
      // unknown camera key
      "/cameras/nope",
      "/cameras/nope/live.m3u8",
      "/media/nope/0.ts",
      `/trips?camera=nope`,
      // malformed keys and non-numeric ids
      "/cameras/NOT_A_KEY",
      "/trips/abc",
      "/trips/abc/playlist.m3u8",
      "/trips/-1/playlist.m3u8",
      "/trips/1e3/playlist.m3u8",
      "/trips/1.0/playlist.m3u8",
      "/trips/0x10/playlist.m3u8",
      "/trips/99999999/playlist.m3u8",
      "/trips/99999999",
      "/trips?page=abc",
      "/trips?page=0",
      "/media/cam/abc.ts",
      "/media/cam/-1.ts",
      "/media/cam/1e3.ts",
      "/media/cam/99999999.ts",
      `/media/cam/${seg.absolute_index}`,
      `/media/cam/${String(seg.absolute_index).padStart(9, "0")}.avi`,
      "/media/cam/99999999.mp4",
      // path traversal in every file route
      "/media/cam/..%2F..%2Fdashcam.db",
      "/media/cam/..%2f..%2fdashcam.db",
      "/media/cam/%2e%2e%2f%2e%2e%2fdashcam.db",
      "/media/cam/../../dashcam.db",
      "/media/../dashcam.db",
      "/media/..%2F..%2F/0.ts",
      "/media/cam/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
      "/media/%2e%2e/0.ts",
      `/media/cam/${seg.absolute_index}.ts%00.db`,
      "/media/cam/%2Fetc%2Fpasswd",
      "/trips/../../etc/passwd",
      "/trips/..%2F..%2Fetc%2Fpasswd",
      "/trips/1/..%2F..%2Fdashcam.db",
      "/trips/%2e%2e%2f%2e%2e%2fetc%2fpasswd/playlist.m3u8",
      "/cameras/..%2F..%2Fetc%2Fpasswd",
      "/cameras/cam/..%2Flive.m3u8",
      "/assets/..%2F..%2Fdashcam.db",
      "/assets/..%2f..%2fpackage.json",
      "/assets/%2e%2e%2fschema.sql",
      "/assets/../../etc/passwd",
      "/events?camera=nope",
      "/events?level=loud",
    ];
    const wrong: string[] = [];
    for (const path of bad) {
      const r = await rawRequest(port, path, auth);
      const text = r.body.toString("latin1");
      if (r.status < 400 || r.status >= 500) wrong.push(`${path} -> ${r.status}`);
      if (text.includes("SQLite format 3") || text.includes("root:x:0:0") || text.includes("CREATE TABLE")) wrong.push(`${path} -> leaked file content`);
    }
    expect(wrong).toEqual([]);
    // and without a session the same paths are refused too (nothing leaks to anonymous clients)
    for (const path of bad) {
      const r = await rawRequest(port, path);
      if (r.status < 300 || r.status >= 500 || r.body.toString("latin1").includes("SQLite format 3")) wrong.push(`anonymous ${path} -> ${r.status}`);
    }
    expect(wrong).toEqual([]);

    expect(databaseFingerprint(dataDir)).toEqual(dbBefore);
    expect(fileListing(dir)).toEqual(filesBefore);
    expect(await rt.terminate()).toBe(0);
    rt = null;
  }, 120_000);
});
