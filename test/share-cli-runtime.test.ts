/**
 * `dashcam share create` while a runtime runs (in this process, real SQLite, real HTTP, its
 * control socket): the CLI asks the runtime over `<data_dir>/control.sock` (`POST /shares`),
 * prints `/share/<token>`, and the link plays and downloads from the runtime's web server
 * without a session; the control route refuses bad bodies with 400 and an unfinished batch with
 * 409, and the CLI turns those into one line and exit 2.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RuntimeFixture } from "./helpers/inprocess.ts";
import type { RuntimeHandle } from "../src/runtime.ts";
import { cameraIdByKey } from "../src/db/cameras.ts";
import { createBatch, markBatchCompleted } from "../src/db/timelapse.ts";
import { controlRequest } from "../src/control.ts";

const fx = new RuntimeFixture("dashcam-share-cli-");
let rt: RuntimeHandle;
let dataDir: string;
let configFile: string;
let done: number;
let pending: number;

beforeAll(async () => {
  dataDir = fx.tempDir();
  rt = await fx.start(fx.config(dataDir));
  configFile = join(dataDir, "cli.toml");
  writeFileSync(configFile, `data_dir = ${JSON.stringify(dataDir)}\n[[cameras]]\nkey = "front"\nsource = "testsrc"\n`);
  const cameraId = cameraIdByKey(rt.db, "front")!;
  const batch = { cameraId, cameraKey: "front", type: "manual" as const, generationMode: "manual_only" as const, frameRate: 10, overlay: false, now: Date.now() };
  done = createBatch(rt.db, batch, []);
  pending = createBatch(rt.db, batch, []);
  // a real 2 s H.264 MP4 as the finished batch's video
  const rel = `timelapse/videos/front/batch-${done}.mp4`;
  mkdirSync(join(dataDir, "timelapse/videos/front"), { recursive: true });
  const r = Bun.spawnSync(
    ["/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2",
      "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", join(dataDir, rel)],
    { stderr: "pipe" },
  );
  if (!r.success) throw new Error(r.stderr.toString());
  markBatchCompleted(rt.db, done, { at: Date.now(), relPath: rel, bytes: Bun.file(join(dataDir, rel)).size, frames: 20, durationSeconds: 2 });
}, 60_000);

afterAll(async () => {
  await fx.cleanup();
});

/** Runs the CLI without blocking this process (the runtime in it must answer the control socket meanwhile). */
const cli = async (args: string[]) => {
  const p = Bun.spawn([process.execPath, join(import.meta.dir, "../src/main.ts"), "share", ...args, "--config", configFile], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
};

describe("dashcam share create with a runtime running", () => {
  test("goes through the control socket; the printed link plays and downloads without a session", async () => {
    const r = await cli(["create", "--batch", String(done), "--download", "--expires", "1d"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const path = r.out.trim();
    expect(path).toMatch(/^\/share\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const page = await fetch(rt.url + path);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`src="${path}/video/1.mp4"`);
    const dl = await fetch(`${rt.url}${path}/download`);
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-disposition")).toStartWith("attachment;");
    expect((await dl.arrayBuffer()).byteLength).toBe(Bun.file(join(dataDir, `timelapse/videos/front/batch-${done}.mp4`)).size);
    expect((await fetch(`${rt.url}/embed/${path.slice(7)}`)).status).toBe(404); // embedding was not asked for
    // the runtime's process wrote it (not the CLI's): the event names the control socket path
    const ev = rt.db.prepare("SELECT message, data FROM event_log WHERE kind = 'share.create' ORDER BY id DESC LIMIT 1").get() as { message: string; data: string };
    expect(JSON.parse(ev.data).by).toBe("cli via the runtime");
    expect(ev.message).not.toContain(path.slice(7));
  });

  test("the control route answers bad bodies with 400, an unfinished batch with 409, an unknown one with 404; the CLI exits 2 with one line", async () => {
    const post = (body: unknown) => controlRequest(rt.controlSocket, "POST", "/shares", body);
    expect((await post({ batches: [], type: "video_only", expiresInMs: null })).status).toBe(400);
    expect((await post({ batches: [done], type: "poster", expiresInMs: null })).status).toBe(400);
    expect((await post({ batches: [done], type: "video_only", expiresInMs: -5 })).status).toBe(400);
    const notDone = await post({ batches: [pending], type: "video_only", expiresInMs: null });
    expect(notDone.status).toBe(409);
    expect(String(notDone.body.error)).toContain("is pending");
    expect((await post({ batches: [999999], type: "video_only", expiresInMs: null })).status).toBe(404);
    const ok = await post({ batches: [done], type: "video_only", expiresInMs: null, embed: true });
    expect(ok.status).toBe(201);
    expect((await fetch(`${rt.url}/embed/${String(ok.body.token)}`)).status).toBe(200);
    const r = await cli(["create", "--batch", String(pending)]);
    expect({ code: r.code, lines: r.err.trim().split("\n").length }).toEqual({ code: 2, lines: 1 });
    expect(r.err).toContain(`timelapse ${pending} is pending`);
  });
});
