/**
 * Ctrl-C in a terminal (also under `npm start`) sends SIGINT to the whole foreground process
 * group. The runtime must be the only one to stop ffmpeg: a second SIGINT makes ffmpeg abandon
 * the segment it is writing. Real runtime process, real ffmpeg (test pattern), real SQLite.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { killAllStarted } from "./helpers/proc.ts";
import { makeTempDir, readDb, removeDir, startRuntime, TEST_CAMERA, writeConfig } from "./helpers/runtime.ts";
import { waitUntil } from "./helpers/wait.ts";

const dirs: string[] = [];
afterAll(() => {
  killAllStarted();
  dirs.forEach(removeDir);
});

test("SIGINT to the runtime's whole process group keeps the segment being written, indexed", async () => {
  const dir = makeTempDir();
  dirs.push(dir);
  const dataDir = join(dir, "data");
  const config = writeConfig(dir, { data_dir: dataDir, cameras: [{ ...TEST_CAMERA, segment_seconds: 4 }] });
  const rt = await startRuntime(config);
  const rows = () => readDb(dataDir, (db) => db.query("SELECT absolute_index, start_utc, end_utc, rel_path FROM segments ORDER BY absolute_index").all() as { absolute_index: number; start_utc: number; end_utc: number; rel_path: string }[]) ?? [];
  // the first segment is indexed, then 2.5 s into the second one the "terminal" sends SIGINT
  await waitUntil("the first segment indexed", () => rows().length >= 1, 40_000);
  await Bun.sleep(2500);
  process.kill(-rt.proc.pid, "SIGINT");
  expect(await rt.proc.exited).toBe(0);
  const indexed = rows();
  expect(indexed.length).toBeGreaterThanOrEqual(2);
  const last = indexed[indexed.length - 1];
  // the interrupted segment was finished by ffmpeg and indexed at power-down, not lost
  expect(last.end_utc - last.start_utc).toBeGreaterThanOrEqual(1500);
  const ringDir = join(dataDir, last.rel_path, "..");
  const files = readdirSync(ringDir).filter((f) => f.endsWith(".ts")).sort();
  expect(files).toEqual(indexed.map((r) => r.rel_path.split("/").pop()!).sort());
}, 90_000);
