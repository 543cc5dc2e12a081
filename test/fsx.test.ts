/**
 * src/fsx.ts, the one crash-safe final-file writer, under a power cut: a child bun process
 * writes through `writeFileAtomic` (one large synchronous write), `writeFileAtomicFrom` (a
 * streamed body) and ffmpeg through `tempPathFor` + `commitTempFile` (the way exports and saved
 * trips are made), and its whole process group (ffmpeg included) is SIGKILLed while the temp
 * file is growing (its size is polled). Afterwards the final name does not exist, or still
 * holds the previous complete file, and `removeTempFiles` deletes the temp. The same child left
 * alone produces the complete file, so the absence of a final file is due to the kill.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitTempFile, removeTempFiles, syncPathAsync, tempPathFor, writeFileAtomic } from "../src/fsx.ts";
import { probe } from "./helpers/media.ts";
import { spawnProc, type Proc } from "./helpers/proc.ts";
import { BUN, makeTempDir, removeDir, ROOT } from "./helpers/runtime.ts";

const FSX = join(ROOT, "src/fsx.ts");
const FFMPEG_TS = join(ROOT, "src/media/ffmpeg.ts");
/** Size of the synchronous write (bytes): large enough that writing it takes many polls. */
const BIG = 256 * 1024 * 1024;
const CHUNK = 64 * 1024;

const root = makeTempDir("dashcam-fsx-");
let dir: string;
let n = 0;
beforeEach(() => {
  dir = join(root, `case-${++n}`);
  mkdirSync(dir);
});
afterAll(() => removeDir(root));

const temps = () => readdirSync(dir).filter((f) => f.startsWith(".tmp-"));

/** A child bun process running `code` (ES module, top-level await allowed) in its own process group. */
const child = (code: string): Proc => spawnProc([BUN, "--eval", code]);

/** JS of an endless (or `chunks` long) body: CHUNK bytes of `byte` every 2 ms. */
const slowBody = (byte: number, chunks = -1) => `
  let sent = 0;
  const body = new Response(new ReadableStream({
    async pull(c) {
      if (${chunks} >= 0 && sent === ${chunks}) return c.close();
      await Bun.sleep(2);
      c.enqueue(new Uint8Array(${CHUNK}).fill(${byte}));
      sent++;
    },
  }));`;

/** The byte at `offset` of `path` (-1 past the end or when unreadable). */
function byteAt(path: string, offset: number): number {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buf = new Uint8Array(1);
    return readSync(fd, buf, 0, 1, offset) === 1 ? buf[0]! : -1;
  } catch {
    return -1;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Size of `path`, -1 when it is gone. */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

/**
 * Polls `dir` until `midway(tempPath)` says a temp file is partly written, then SIGKILLs the
 * child's whole process group (a power cut, ffmpeg included). `pollMs` 0 polls as fast as the
 * event loop turns (for a write that takes only a few hundred ms). Throws when the final file
 * changes first (`previousSize`: its size before, -1 = absent), the writer exits, or nothing
 * happens in 60 s.
 */
async function killMidway(p: Proc, finalPath: string, previousSize: number, midway: (tmp: string) => boolean, pollMs: 0 | 1): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (temps().some((name) => midway(join(dir, name)))) {
      p.signalGroup("SIGKILL");
      await p.exited;
      return;
    }
    if (sizeOf(finalPath) !== previousSize) throw new Error(`${finalPath} changed before its temp file was seen partly written`);
    if (!p.alive()) throw new Error(`writer exited (${await p.exited}) before its temp file was seen partly written: ${p.stderr.join(" | ")}`);
    if (Date.now() > deadline) throw new Error("no partly written temp file within 60 s");
    await (pollMs === 0 ? new Promise((r) => setImmediate(r)) : Bun.sleep(pollMs));
  }
}

describe("power cut while writing a final file", () => {
  test("writeFileAtomic: killed mid-write, the final name does not exist; removeTempFiles deletes the temp", async () => {
    const final = join(dir, "big.bin");
    const p = child(`
      import { writeFileAtomic } from ${JSON.stringify(FSX)};
      writeFileAtomic(${JSON.stringify(final)}, new Uint8Array(${BIG}).fill(0x41));
      console.log("done");`);
    // Bun fallocates the whole size first, so the size tells nothing: partly written = its
    // first MiB holds the data while its last byte is still the fallocated zero
    let seen = { first: -1, last: -1 };
    await killMidway(p, final, -1, (tmp) => {
      seen = { first: byteAt(tmp, 1 << 20), last: byteAt(tmp, BIG - 1) };
      return seen.first === 0x41 && seen.last === 0;
    }, 0);
    expect(seen).toEqual({ first: 0x41, last: 0 });
    expect(existsSync(final)).toBe(false);
    expect(p.stdout).not.toContain("done");
    expect(temps()).toHaveLength(1);
    expect(removeTempFiles(dir)).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  }, 120_000);

  test("writeFileAtomic left alone: the complete file under the final name, no temp", async () => {
    const final = join(dir, "big.bin");
    const p = child(`
      import { writeFileAtomic } from ${JSON.stringify(FSX)};
      writeFileAtomic(${JSON.stringify(final)}, new Uint8Array(${BIG}).fill(0x41));
      console.log("done");`);
    expect(await p.exited).toBe(0);
    expect(statSync(final).size).toBe(BIG);
    expect(readdirSync(dir)).toEqual(["big.bin"]);
  }, 120_000);

  test("writeFileAtomicFrom: killed while the body streams in, the final name keeps the previous complete file", async () => {
    const final = join(dir, "frame.bin");
    const previous = new Uint8Array(3 * CHUNK).fill(0x50);
    writeFileAtomic(final, previous);
    const p = child(`
      import { writeFileAtomicFrom } from ${JSON.stringify(FSX)};
      ${slowBody(0x4e)}
      await writeFileAtomicFrom(${JSON.stringify(final)}, body);
      console.log("done");`);
    let at = 0;
    await killMidway(p, final, previous.length, (tmp) => (at = sizeOf(tmp)) > 4 * CHUNK, 1);
    expect(at).toBeGreaterThan(4 * CHUNK);
    expect(p.stdout).not.toContain("done");
    expect(Buffer.from(readFileSync(final)).equals(Buffer.from(previous))).toBe(true);
    expect(temps()).toHaveLength(1);
    expect(removeTempFiles(dir)).toBe(1);
    expect(readdirSync(dir)).toEqual(["frame.bin"]);
  }, 120_000);

  test("writeFileAtomicFrom left alone: the new body replaces the previous file whole", async () => {
    const final = join(dir, "frame.bin");
    writeFileAtomic(final, new Uint8Array(3 * CHUNK).fill(0x50));
    const p = child(`
      import { writeFileAtomicFrom } from ${JSON.stringify(FSX)};
      ${slowBody(0x4e, 20)}
      console.log(await writeFileAtomicFrom(${JSON.stringify(final)}, body));`);
    expect(await p.exited).toBe(0);
    expect(p.stdout).toEqual([String(20 * CHUNK)]);
    const bytes = readFileSync(final);
    expect(bytes.length).toBe(20 * CHUNK);
    expect(bytes.every((b) => b === 0x4e)).toBe(true);
    expect(temps()).toEqual([]);
  }, 120_000);

  /** A child that records `seconds` of test pattern with ffmpeg into a temp file, then commits it. */
  const ffmpegWriter = (final: string, seconds: number, realtime: boolean) =>
    child(`
      import { commitTempFile, tempPathFor } from ${JSON.stringify(FSX)};
      import { runFfmpeg } from ${JSON.stringify(FFMPEG_TS)};
      const final = ${JSON.stringify(final)};
      const tmp = tempPathFor(final, ".part");
      const run = await runFfmpeg([
        "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        ${realtime ? '"-re",' : ""} "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
        "-t", "${seconds}", "-c:v", "mpeg2video", "-q:v", "2", "-f", "mpegts", tmp,
      ]);
      if (run.code !== 0) { console.error(run.stderr); process.exit(1); }
      commitTempFile(tmp, final);
      console.log("done");`);

  test("ffmpeg output through tempPathFor + commitTempFile: killed mid-recording, no final file; left alone, a playable one", async () => {
    const final = join(dir, "clip.ts");
    const p = ffmpegWriter(final, 60, true);
    let at = 0;
    await killMidway(p, final, -1, (tmp) => (at = sizeOf(tmp)) > 32 * 1024, 1);
    expect(at).toBeGreaterThan(32 * 1024);
    expect(p.stdout).not.toContain("done");
    // ffmpeg died with the group: the temp file stops growing
    const size = statSync(join(dir, temps()[0]!)).size;
    await Bun.sleep(300);
    expect(statSync(join(dir, temps()[0]!)).size).toBe(size);
    expect(existsSync(final)).toBe(false);
    expect(removeTempFiles(dir)).toBe(1);
    expect(readdirSync(dir)).toEqual([]);

    const ok = ffmpegWriter(final, 2, false);
    expect(await ok.exited).toBe(0);
    expect(ok.stdout).toEqual(["done"]);
    expect(readdirSync(dir)).toEqual(["clip.ts"]);
    const info = await probe(final);
    expect(info.video?.codec).toBe("mpeg2video");
    expect(Math.abs(info.duration - 2)).toBeLessThan(0.2);
  }, 120_000);
});

describe("fsx building blocks", () => {
  test("tempPathFor: beside the final file, starts with .tmp-, unique, keeps the suffix", () => {
    const final = join(dir, "a.mp4");
    const a = tempPathFor(final, ".part");
    const b = tempPathFor(final, ".part");
    expect(a).not.toBe(b);
    expect(a.startsWith(join(dir, ".tmp-a.mp4."))).toBe(true);
    expect(a.endsWith(".part")).toBe(true);
  });

  test("commitTempFile of a missing temp throws and leaves the final file as it was", () => {
    const final = join(dir, "keep.txt");
    writeFileSync(final, "previous");
    expect(() => commitTempFile(tempPathFor(final), final)).toThrow(/ENOENT/);
    expect(readFileSync(final, "utf8")).toBe("previous");
  });

  test("writeFileAtomic into a missing directory throws ENOENT and leaves nothing", () => {
    expect(() => writeFileAtomic(join(dir, "no-such-dir", "x.txt"), "x")).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("syncPathAsync: a file (fdatasync or fsync) and a directory resolve true, a missing path false, other errors throw", async () => {
    const file = join(dir, "segment.ts");
    writeFileSync(file, "x");
    expect(await syncPathAsync(file, true)).toBe(true);
    expect(await syncPathAsync(file)).toBe(true);
    expect(await syncPathAsync(dir)).toBe(true);
    expect(await syncPathAsync(join(dir, "not-yet.ts"), true)).toBe(false);
    await expect(syncPathAsync(join(file, "below-a-file"))).rejects.toThrow(/ENOTDIR/);
  });

  test("writeFileAtomic applies mode to the new file", () => {
    const final = join(dir, "secret.key");
    writeFileAtomic(final, "k", { mode: 0o600 });
    expect(statSync(final).mode & 0o777).toBe(0o600);
  });

  test("removeTempFiles: only .tmp-* files; with olderThanMs only those untouched that long; missing dir = 0", () => {
    writeFileSync(join(dir, ".tmp-old"), "x");
    writeFileSync(join(dir, ".tmp-new"), "x");
    writeFileSync(join(dir, "final.mp4"), "x");
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(dir, ".tmp-old"), hourAgo, hourAgo);
    expect(removeTempFiles(dir, 60_000)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([".tmp-new", "final.mp4"]);
    expect(removeTempFiles(dir)).toBe(1);
    expect(readdirSync(dir)).toEqual(["final.mp4"]);
    expect(removeTempFiles(join(dir, "missing"))).toBe(0);
  });
});
