/**
 * HLS over the ring: trip and live playlists built from segment rows, and the media route
 * serving the real ffmpeg-made .ts files (exact bytes, Range). Also played end to end by
 * ffmpeg's own HLS demuxer through the real server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createApp } from "../src/web/app.tsx";
import { startWebServer } from "../src/web/server.ts";
import { parseRange } from "../src/web/routes/media.ts";
import { buildPlaylist } from "../src/web/hls.ts";
import { dbFingerprint, makeFixture, type WebFixture } from "./web-fixture.ts";

let f: WebFixture;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  f = await makeFixture();
  app = createApp(f.deps);
});
afterAll(() => f?.cleanup());

interface Entry {
  uri: string;
  extinf: number;
  pdt: string;
  discontinuity: boolean;
}

/** Parses a media playlist into header tags and segment entries. */
function parse(text: string): { tags: string[]; entries: Entry[]; lines: string[] } {
  const lines = text.trimEnd().split("\n");
  const tags: string[] = [];
  const entries: Entry[] = [];
  let cur: Partial<Entry> = {};
  for (const line of lines) {
    if (line === "#EXT-X-DISCONTINUITY") cur.discontinuity = true;
    else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) cur.pdt = line.slice(25);
    else if (line.startsWith("#EXTINF:")) cur.extinf = Number(line.slice(8).replace(/,$/, ""));
    else if (!line.startsWith("#")) {
      entries.push({ uri: line, extinf: cur.extinf!, pdt: cur.pdt!, discontinuity: cur.discontinuity ?? false });
      cur = {};
    } else tags.push(line);
  }
  return { tags, entries, lines };
}

const playlist = async (path: string) => {
  const res = await f.request(app, path);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
  return parse(await res.text());
};

describe("trip playlist", () => {
  test("closed trip: VOD, EXTINF from rows, DISCONTINUITY exactly at the gap, ENDLIST", async () => {
    const { tags, entries, lines } = await playlist("/trips/2/playlist.m3u8");
    expect(lines[0]).toBe("#EXTM3U");
    expect(tags).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
    expect(lines.at(-1)).toBe("#EXT-X-ENDLIST");
    const rows = f.front.segments.filter((s) => s.abs >= 10 && s.abs <= 14);
    expect(entries.map((e) => e.uri)).toEqual(rows.map((r) => `/media/front/${r.abs}.ts`));
    expect(entries.map((e) => e.extinf)).toEqual(rows.map((r) => (r.end - r.start) / 1000));
    expect(entries.map((e) => e.pdt)).toEqual(rows.map((r) => new Date(r.start).toISOString()));
    // the only hole of this trip is between 12 and 13
    expect(entries.filter((e) => e.discontinuity).map((e) => e.uri)).toEqual(["/media/front/13.ts"]);
    const target = Number(tags.find((t) => t.startsWith("#EXT-X-TARGETDURATION:"))!.split(":")[1]);
    expect(target).toBe(Math.ceil(Math.max(...rows.map((r) => (r.end - r.start) / 1000))));
  });

  test("open trip: EVENT without ENDLIST; grows with new segments; ENDLIST once closed", async () => {
    const open = await playlist("/trips/3/playlist.m3u8");
    expect(open.tags).toContain("#EXT-X-PLAYLIST-TYPE:EVENT");
    expect(open.lines).not.toContain("#EXT-X-ENDLIST");
    expect(open.entries.map((e) => e.uri)).toEqual(["/media/front/15.ts", "/media/front/16.ts"]);
    expect(open.entries.some((e) => e.discontinuity)).toBe(false);

    f.db.exec("SAVEPOINT grow");
    try {
      const last = f.front.segments.at(-1)!;
      // the indexer appends segment 17 (2.345 s long, contiguous) and moves the trip's bound
      f.db
        .query(
          `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, bytes)
           VALUES (?, 7, 1, 17, ?, ?, 'recordings/front/000000017.ts', 1)`,
        )
        .run(f.front.id, last.end, last.end + 2345);
      f.db.query("UPDATE trips SET last_absolute = 17, last_time_utc = ? WHERE id = 3").run(last.end + 2345);
      const grown = await playlist("/trips/3/playlist.m3u8");
      expect(grown.entries.map((e) => e.uri)).toEqual(["/media/front/15.ts", "/media/front/16.ts", "/media/front/17.ts"]);
      expect(grown.entries.at(-1)!.extinf).toBe(2.345);
      expect(grown.tags).toContain("#EXT-X-TARGETDURATION:3");
      expect(grown.lines).not.toContain("#EXT-X-ENDLIST");

      f.db.query("UPDATE trips SET status = 'closed', end_time_utc = ?, final_segment = 7, end_gen = 1 WHERE id = 3").run(last.end + 2345);
      const closed = await playlist("/trips/3/playlist.m3u8");
      expect(closed.tags).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
      expect(closed.lines.at(-1)).toBe("#EXT-X-ENDLIST");
    } finally {
      f.db.exec("ROLLBACK TO grow; RELEASE grow");
    }
  });

  test("a trip saved while still recording (status saved, no end time) stays EVENT without ENDLIST until it closes", async () => {
    f.db.exec("SAVEPOINT savedopen");
    try {
      f.db.query("UPDATE trips SET status = 'saved' WHERE id = 3").run();
      const open = await playlist("/trips/3/playlist.m3u8");
      expect(open.tags).toContain("#EXT-X-PLAYLIST-TYPE:EVENT");
      expect(open.lines).not.toContain("#EXT-X-ENDLIST");
      const growing = await (await f.request(app, "/trips/3")).text();
      expect(growing).toContain("so far");
      expect(growing).toContain("Still recording");
      // the rebuild at close: saving with an end time is finished footage
      f.db.query("UPDATE trips SET status = 'saving', end_time_utc = last_time_utc WHERE id = 3").run();
      const closed = await playlist("/trips/3/playlist.m3u8");
      expect(closed.tags).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
      expect(closed.lines.at(-1)).toBe("#EXT-X-ENDLIST");
      const page = await (await f.request(app, "/trips/3")).text();
      expect(page).not.toContain("so far");
    } finally {
      f.db.exec("ROLLBACK TO savedopen; RELEASE savedopen");
    }
  });

  test("saved and evicted-but-partial trips are VOD; a missing middle segment is a discontinuity", async () => {
    f.db.exec("SAVEPOINT partial");
    try {
      f.db.query("UPDATE trips SET status = 'saved' WHERE id = 2").run();
      f.db.query("DELETE FROM segments WHERE camera_id = ? AND absolute_index = 11").run(f.front.id);
      const { tags, entries, lines } = await playlist("/trips/2/playlist.m3u8");
      expect(tags).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
      expect(lines.at(-1)).toBe("#EXT-X-ENDLIST");
      expect(entries.map((e) => e.uri)).toEqual(["/media/front/10.ts", "/media/front/12.ts", "/media/front/13.ts", "/media/front/14.ts"]);
      expect(entries.filter((e) => e.discontinuity).map((e) => e.uri)).toEqual(["/media/front/12.ts", "/media/front/13.ts"]);
    } finally {
      f.db.exec("ROLLBACK TO partial; RELEASE partial");
    }
  });

  test("every segment URI of the playlist returns the exact file bytes", async () => {
    const { entries } = await playlist("/trips/2/playlist.m3u8");
    for (const e of entries) {
      const res = await f.request(app, e.uri);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("video/mp2t");
      expect(res.headers.get("accept-ranges")).toBe("bytes");
      const abs = Number(/(\d+)\.ts$/.exec(e.uri)![1]);
      const spec = f.front.segments.find((s) => s.abs === abs)!;
      const disk = await Bun.file(join(f.dir, spec.rel)).bytes();
      const body = new Uint8Array(await res.arrayBuffer());
      expect(body.length).toBe(spec.bytes);
      expect(Bun.hash(body)).toBe(Bun.hash(disk));
      expect(body[0]).toBe(0x47); // MPEG-TS sync byte
      expect(res.headers.get("content-length")).toBe(String(spec.bytes));
    }
  });
});

describe("live playlist", () => {
  test("sliding window: MEDIA-SEQUENCE = first absolute index, DISCONTINUITY-SEQUENCE counts gaps slid out", async () => {
    const now = await playlist("/cameras/front/live.m3u8");
    expect(now.entries.map((e) => e.uri)).toEqual([11, 12, 13, 14, 15, 16].map((n) => `/media/front/${n}.ts`));
    expect(now.tags).toContain("#EXT-X-MEDIA-SEQUENCE:11");
    expect(now.tags).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:0");
    expect(now.tags.some((t) => t.startsWith("#EXT-X-PLAYLIST-TYPE"))).toBe(false);
    expect(now.lines).not.toContain("#EXT-X-ENDLIST");
    expect(now.entries.filter((e) => e.discontinuity).map((e) => e.uri)).toEqual(["/media/front/13.ts", "/media/front/15.ts"]);

    f.db.exec("SAVEPOINT slide");
    try {
      const last = f.front.segments.at(-1)!;
      const ins = f.db.query(
        `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, bytes)
         VALUES (?, ?, 1, ?, ?, ?, ?, 1)`,
      );
      ins.run(f.front.id, 7, 17, last.end, last.end + 2000, "recordings/front/000000017.ts");
      ins.run(f.front.id, 8, 18, last.end + 2000, last.end + 4000, "recordings/front/000000018.ts");
      const slid = await playlist("/cameras/front/live.m3u8");
      expect(slid.entries.map((e) => e.uri)).toEqual([13, 14, 15, 16, 17, 18].map((n) => `/media/front/${n}.ts`));
      expect(slid.tags).toContain("#EXT-X-MEDIA-SEQUENCE:13");
      // the gap before 13 is now outside the window: counted in the sequence, no tag on the first entry
      expect(slid.tags).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:1");
      expect(slid.entries.filter((e) => e.discontinuity).map((e) => e.uri)).toEqual(["/media/front/15.ts"]);
    } finally {
      f.db.exec("ROLLBACK TO slide; RELEASE slide");
    }
  });
});

describe("buildPlaylist", () => {
  test("target duration rounds up; a gap row at a segment start marks a discontinuity even without a time hole", () => {
    const segs = [
      { absolute_index: 1, start_utc: 0, end_utc: 1999 },
      { absolute_index: 2, start_utc: 1999, end_utc: 6100 },
      { absolute_index: 3, start_utc: 6100, end_utc: 8000 },
    ];
    const text = buildPlaylist({ kind: "vod", segments: segs, uri: (s) => `${s.absolute_index}.ts`, gapEnds: new Set([6100]) });
    const p = parse(text);
    expect(p.tags).toContain("#EXT-X-TARGETDURATION:5");
    expect(p.entries.map((e) => e.extinf)).toEqual([1.999, 4.101, 1.9]);
    expect(p.entries.map((e) => e.discontinuity)).toEqual([false, false, true]);
  });
});

describe("discontinuities", () => {
  const seg = (absolute_index: number, start_utc: number, end_utc: number) => ({ absolute_index, start_utc, end_utc });
  const marks = (kind: "vod" | "live", segs: ReturnType<typeof seg>[], gapEnds?: Set<number>) =>
    parse(buildPlaylist({ kind, segments: segs, uri: (s) => `${s.absolute_index}.ts`, gapEnds })).entries.map((e) => e.discontinuity);

  test("a quick restart (hole under 3 s, no gap row) still restarts timestamps: marked in VOD", () => {
    // run 1: 1-2 contiguous; ffmpeg restarted 1.2 s later: 3-4; 5 starts 40 ms early (jitter below RUN_BREAK_MS: same run)
    const segs = [seg(1, 0, 2000), seg(2, 2000, 4000), seg(3, 5200, 7200), seg(4, 7200, 9200), seg(5, 9160, 11000)];
    expect(marks("vod", segs)).toEqual([false, false, true, false, false]);
    const restartEarly = [seg(1, 0, 2000), seg(2, 1500, 3500)];
    expect(marks("vod", restartEarly)).toEqual([false, true]);
  });

  test("live windows mark only gap rows (their count is the discontinuity sequence)", () => {
    const segs = [seg(1, 0, 2000), seg(2, 2000, 4000), seg(3, 5200, 7200), seg(4, 17_200, 19_000)];
    expect(marks("live", segs, new Set([17_200]))).toEqual([false, false, false, true]);
  });
});

describe("media Range", () => {
  const spec = () => f.front.segments[0];
  const fileBytes = () => Bun.file(join(f.dir, spec().rel)).bytes();

  test("parseRange", () => {
    expect(parseRange(undefined, 100)).toBeNull();
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-1000", 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=50-5000", 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=9-3", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-1,5-6", 100)).toBeNull();
    expect(parseRange("items=0-1", 100)).toBeNull();
  });

  test("206 with the right slice, 416 past the end, multi-range gets the whole file", async () => {
    const disk = await fileBytes();
    const size = disk.length;
    const uri = `/media/front/${spec().abs}.ts`;
    const cases: [string, number, number][] = [
      ["bytes=100-1099", 100, 1099],
      ["bytes=0-0", 0, 0],
      [`bytes=${size - 188}-`, size - 188, size - 1],
      ["bytes=-376", size - 376, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await f.request(app, uri, { headers: { Range: range } });
      expect({ range, status: res.status }).toEqual({ range, status: 206 });
      expect(res.headers.get("content-range")).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.headers.get("content-length")).toBe(String(end - start + 1));
      expect(res.headers.get("content-type")).toBe("video/mp2t");
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(disk.slice(start, end + 1));
    }
    const past = await f.request(app, uri, { headers: { Range: `bytes=${size}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${size}`);
    const multi = await f.request(app, uri, { headers: { Range: "bytes=0-1,5-6" } });
    expect(multi.status).toBe(200);
    expect((await multi.arrayBuffer()).byteLength).toBe(size);
  });

  test("over real HTTP (Bun.serve): Range slices and full bodies are exact, HEAD has no body", async () => {
    const before = dbFingerprint(f.db);
    const web = startWebServer(f.deps);
    try {
      const disk = await fileBytes();
      const uri = `${web.url}/media/front/${spec().abs}.ts`;
      const full = await f.fetch(uri);
      expect(full.status).toBe(200);
      expect(Bun.hash(new Uint8Array(await full.arrayBuffer()))).toBe(Bun.hash(disk));
      const part = await f.fetch(uri, { headers: { Range: "bytes=1000-50999" } });
      expect(part.status).toBe(206);
      expect(part.headers.get("content-range")).toBe(`bytes 1000-50999/${disk.length}`);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(disk.slice(1000, 51000));
      const head = await f.fetch(uri, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(disk.length));
      expect((await head.arrayBuffer()).byteLength).toBe(0);
    } finally {
      await web.stop();
    }
    expect(dbFingerprint(f.db)).toBe(before);
  });

  test("ffmpeg's HLS demuxer plays the whole trip through the server (5 segments x 2 s x 10 fps = 100 frames)", async () => {
    const web = startWebServer(f.deps);
    try {
      const proc = Bun.spawn(
        ["/usr/bin/ffmpeg", "-hide_banner", "-nostdin", "-headers", `Cookie: ${f.sessions.viewer.cookie}\r\n`, "-i", `${web.url}/trips/2/playlist.m3u8`, "-map", "0:v", "-c", "copy", "-f", "null", "-"],
        { stdout: "ignore", stderr: "pipe" },
      );
      const err = await new Response(proc.stderr).text();
      expect(await proc.exited).toBe(0);
      const frames = [...err.matchAll(/frame=\s*(\d+)/g)].map((m) => Number(m[1])).at(-1);
      expect(frames).toBe(100);
      // every segment was fetched from the media route (ffmpeg logs each opened URL)
      for (const abs of [10, 11, 12, 13, 14]) expect(err).toContain(`/media/front/${abs}.ts`);
    } finally {
      await web.stop();
    }
  });
});
