/** `dashcam alpr` as a real process (`bun src/main.ts alpr ...`) on real photos read in place. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const US = join(ROOT, "../shared/data/alpr/us");
const tmp = mkdtempSync(join(tmpdir(), "vision-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function alpr(...args: string[]) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "src/main.ts"), "alpr", ...args], { cwd: tmp, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

test("one JSON line per image, in order; a broken image gets an error line and exit 1", async () => {
  const [file, , , , , plate] = readFileSync(join(US, "us10.txt"), "utf8").trim().split("\t");
  const good = join(US, file);
  const truncated = join(tmp, "truncated.jpg");
  writeFileSync(truncated, readFileSync(good).subarray(0, 5000));
  const empty = join(tmp, "empty.png");
  writeFileSync(empty, "");
  const missing = join(tmp, "missing.jpg");
  const r = await alpr("--json", good, truncated, empty, missing, good);
  expect(r.code).toBe(1);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((l) => l.file)).toEqual([good, truncated, empty, missing, good]);
  const first = lines[0];
  expect(Object.keys(first).sort()).toEqual(["file", "plates"]);
  expect(first.plates[0].text).toBe(plate);
  expect(Object.keys(first.plates[0]).sort()).toEqual(["box", "confidence", "text"]);
  expect(first.plates[0].box).toHaveLength(4);
  expect(first.plates[0].box.every((n: unknown) => Number.isInteger(n))).toBe(true);
  expect(first.plates[0].confidence).toBeGreaterThan(0);
  expect(first.plates[0].confidence).toBeLessThanOrEqual(1);
  expect(lines[1].error).toMatch(/truncated JPEG/);
  expect(lines[2].error).toMatch(/empty file/);
  expect(lines[3].error).toMatch(/not found/);
  expect(lines[4]).toEqual(first); // processing went on after the failures
}, 120_000);

test("bad usage exits 2 with one line on stderr", async () => {
  const none = await alpr();
  expect(none.code).toBe(2);
  expect(none.stdout).toBe("");
  expect(none.stderr.trim().split("\n")).toHaveLength(1);
  const badFlag = await alpr("--frobnicate", "x.jpg");
  expect(badFlag.code).toBe(2);
  const noModel = await alpr("--vehicle-model", join(tmp, "nope.onnx"), "x.jpg");
  expect(noModel.code).toBe(2);
  expect(noModel.stderr).toContain("nope.onnx");
  const badModel = join(tmp, "bad.onnx");
  writeFileSync(badModel, "garbage");
  const corrupt = await alpr("--vehicle-model", badModel, join(US, "us10.jpg"));
  expect(corrupt.code).toBe(2);
  expect(corrupt.stderr).toContain(badModel);
  // a dictionary that does not fit the recognition model is the user's input too
  const keys = join(tmp, "keys.txt");
  writeFileSync(keys, "A\nB\nC\n");
  const misfit = await alpr("--rec-dict", keys, join(US, "us10.jpg"));
  expect(misfit.code).toBe(2);
  expect(misfit.stderr.trim().split("\n")).toHaveLength(1);
  expect(misfit.stderr).toContain(keys);
  const noDict = await alpr("--rec-dict", join(tmp, "none.txt"), "x.jpg");
  expect(noDict.code).toBe(2);
  expect(noDict.stderr).toContain("none.txt");
}, 120_000);
