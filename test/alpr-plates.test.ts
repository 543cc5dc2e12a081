/**
 * The `/plates` sub-app through `app.request` on a real SQLite file: search by text (exact,
 * prefix, one-edit fuzzy), camera and date range; snapshots served from the row's path only;
 * footage links; the watchlist form (plain and htmx); bad input answered 400/404 with a reason.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { syncCameras } from "../src/db/cameras.ts";
import { insertVehicleTx, searchVehicles } from "../src/db/vehicles.ts";
import { listWatchlist } from "../src/db/watchlist.ts";
import { parseConfigText } from "../src/config.ts";
import { makeEnv, platesApp, type TestEnv } from "./alpr-helpers.ts";

let env: TestEnv;
let app: ReturnType<typeof platesApp>;
let cam2: number;
const DAY = 86_400_000;
const T = Date.UTC(2026, 2, 10, 12, 0, 0); // 2026-03-10 12:00 UTC
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

beforeAll(() => {
  env = makeEnv("alpr-plates-");
  const cfg = parseConfigText(`[[cameras]]\nkey = "cam1"\nsource = "testsrc"\n[[cameras]]\nkey = "rear"\nname = "Rear camera"\nsource = "testsrc"\n`, env.dir);
  cam2 = syncCameras(env.db, cfg.cameras, null).get("rear")!;
  const rows: [string, number, number][] = [
    ["ABC123", env.cameraId, T],
    ["ABC124", env.cameraId, T + 1000],
    ["ABC12", env.cameraId, T + 2000],
    ["ABC1234", env.cameraId, T + 3000],
    ["ABD124", env.cameraId, T + 4000], // two edits from ABC123
    ["XABC12", env.cameraId, T + 5000], // contains ABC but does not start with it
    ["ABCD99", cam2, T + DAY], // next day, other camera
    ["ZZZ999", cam2, T - DAY],
  ];
  env.db.transaction(() => {
    rows.forEach(([plate, cameraId, ts], i) => {
      const snapshotPath = i === 0 ? "plates/1/2026-03-10/1.jpg" : null;
      insertVehicleTx(env.db, {
        trackId: i + 1,
        videoId: `cam:${i}`,
        frameIdx: 0,
        ts,
        finalPlate: plate,
        plateConfidence: 0.9,
        carBbox: null,
        plateBbox: [1, 2, 3, 4],
        cameraId,
        snapshotPath,
      });
    });
  })();
  const snap = join(env.dataDir, "plates/1/2026-03-10/1.jpg");
  mkdirSync(dirname(snap), { recursive: true });
  writeFileSync(snap, JPEG);
  app = platesApp(env);
});
afterAll(() => env.cleanup());

/** Plates shown on a results page, in page order. */
async function platesOn(query: string): Promise<string[]> {
  const res = await app.request(`/plates${query}`);
  expect(res.status).toBe(200);
  const html = await res.text();
  const list = html.slice(html.indexOf('<ul class="grid plates">'), html.indexOf("</ul>", html.indexOf('<ul class="grid plates">')));
  return [...list.matchAll(/<strong class="plate-text">([A-Z0-9]+)<\/strong>/g)].map((m) => m[1]);
}

describe("search", () => {
  test("exact, ignoring case, spaces and dashes", async () => {
    expect(await platesOn("?q=ABC123")).toEqual(["ABC123"]);
    expect(await platesOn("?q=abc-12%203&mode=exact")).toEqual(["ABC123"]);
    expect(await platesOn("?q=NOPE00")).toEqual([]);
  });

  test("prefix", async () => {
    expect((await platesOn("?q=ABC&mode=prefix")).sort()).toEqual(["ABC12", "ABC123", "ABC1234", "ABC124", "ABCD99"]);
    expect((await platesOn("?q=abc12&mode=prefix")).sort()).toEqual(["ABC12", "ABC123", "ABC1234", "ABC124"]);
    expect(await platesOn("?q=Z&mode=prefix")).toEqual(["ZZZ999"]);
  });

  test("fuzzy: the plate and every plate one edit away", async () => {
    // substitution ABC124, deletion ABC12, insertion ABC1234; ABD124 is two edits away
    expect((await platesOn("?q=ABC123&mode=fuzzy")).sort()).toEqual(["ABC12", "ABC123", "ABC1234", "ABC124"]);
    expect((await platesOn("?q=ABD123&mode=fuzzy")).sort()).toEqual(["ABC123", "ABD124"]);
  });

  test("camera and date range (calendar days, UTC or the viewer's offset)", async () => {
    expect(await platesOn("?camera=rear")).toEqual(["ABCD99", "ZZZ999"]);
    expect(await platesOn("?q=ABC&mode=prefix&camera=rear")).toEqual(["ABCD99"]);
    expect((await platesOn("?from=2026-03-10&to=2026-03-10")).length).toBe(6);
    expect(await platesOn("?from=2026-03-11")).toEqual(["ABCD99"]);
    expect(await platesOn("?to=2026-03-09")).toEqual(["ZZZ999"]);
    // a viewer 13 h ahead of UTC (tzo = -780): their 2026-03-11 began at 2026-03-10 11:00 UTC
    expect((await platesOn("?from=2026-03-11&to=2026-03-11&tzo=-780")).length).toBe(6);
  });

  test("newest first, with snapshot and footage links", async () => {
    const res = await app.request("/plates?q=ABC123");
    const html = await res.text();
    expect(html).toContain(`href="/cameras/cam1?at=${T}"`);
    expect(html).toContain('src="/plates/snapshot/1.jpg"');
    expect(html).toContain("<title>Plates · dashcam</title>");
    const all = await platesOn("");
    expect(all[0]).toBe("ABCD99");
    expect(all[all.length - 1]).toBe("ZZZ999");
    // the query layer agrees with the page
    expect(searchVehicles(env.db, { text: "ABC123", mode: "fuzzy" }).total).toBe(4);
  });

  test("bad input is a 400 naming the field; an unknown camera is a 404", async () => {
    const cases: [string, number, RegExp][] = [
      ["?q=%3Cscript%3E", 400, /q: may contain only letters/],
      ["?mode=regex", 400, /mode: must be exact, prefix or fuzzy/],
      ["?from=2026-02-30", 400, /from: is not a calendar date/],
      ["?from=yesterday", 400, /from: must be a date/],
      ["?from=2026-03-11&to=2026-03-10", 400, /to: must not be before from/],
      ["?page=0", 400, /page/],
      ["?camera=Bad%20Key", 400, /camera/],
      ["?camera=nosuch", 404, /unknown camera "nosuch"/],
    ];
    for (const [q, status, re] of cases) {
      const res = await app.request(`/plates${q}`);
      expect({ q, status: res.status }).toEqual({ q, status });
      expect(await res.text()).toMatch(re);
    }
  });
});

describe("snapshots", () => {
  test("served from the row's path", async () => {
    const res = await app.request("/plates/snapshot/1.jpg");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/jpeg");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(JPEG);
  });

  test("no snapshot, unknown id, or anything but <id>.jpg", async () => {
    expect((await app.request("/plates/snapshot/2.jpg")).status).toBe(404);
    expect((await app.request("/plates/snapshot/999.jpg")).status).toBe(404);
    expect((await app.request("/plates/snapshot/..%2F..%2Fdashcam.db")).status).toBe(400);
    expect((await app.request("/plates/snapshot/1.png")).status).toBe(400);
  });

  test("a row whose path points outside the data dir is never served", async () => {
    env.db.query("UPDATE vehicles SET snapshot_path = '../../etc/passwd' WHERE id = 2").run();
    const res = await app.request("/plates/snapshot/2.jpg");
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("not in the data directory");
    env.db.query("UPDATE vehicles SET snapshot_path = NULL WHERE id = 2").run();
  });
});

describe("watchlist", () => {
  const form = (data: Record<string, string>) => ({ method: "POST", body: new URLSearchParams(data), headers: { "Content-Type": "application/x-www-form-urlencoded" } });

  test("add (normalised), list, remove — plain form and htmx", async () => {
    const res = await app.request("/plates/watchlist", form({ plate: "abc 123", note: "stolen" }));
    expect(res.status).toBe(303);
    expect(res.headers.get("Location")).toBe("/plates");
    expect(listWatchlist(env.db).map((w) => [w.plate, w.note])).toEqual([["ABC123", "stolen"]]);
    const page = await (await app.request("/plates")).text();
    expect(page).toMatch(/id="watchlist"[\s\S]*ABC123[\s\S]*stolen/);

    const hx = await app.request("/plates/watchlist", { ...form({ plate: "XYZ-789" }), headers: { "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true" } });
    expect(hx.status).toBe(200);
    const fragment = await hx.text();
    expect(fragment.startsWith('<section class="card" id="watchlist">')).toBe(true);
    expect(fragment).toContain("Watching XYZ789.");
    expect(listWatchlist(env.db).map((w) => w.plate)).toEqual(["ABC123", "XYZ789"]);

    const id = listWatchlist(env.db).find((w) => w.plate === "ABC123")!.id;
    const del = await app.request(`/plates/watchlist/${id}/delete`, { method: "POST" });
    expect(del.status).toBe(303);
    expect(listWatchlist(env.db).map((w) => w.plate)).toEqual(["XYZ789"]);
  });

  test("bad input: empty or invalid plate, long note, unknown id", async () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ plate: "" }, /plate: must have at least 2 letters or digits/],
      [{ plate: "A" }, /plate: must have at least 2/],
      [{ plate: "AB<1>" }, /plate: may contain only/],
      [{ plate: "AB12", note: "x".repeat(201) }, /note: is too long/],
      [{ note: "no plate" }, /plate: is required/],
    ];
    const before = listWatchlist(env.db).length;
    for (const [data, re] of bad) {
      const res = await app.request("/plates/watchlist", form(data));
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(re);
    }
    expect(listWatchlist(env.db).length).toBe(before);
    expect((await app.request("/plates/watchlist/99999/delete", { method: "POST" })).status).toBe(404);
    expect((await app.request("/plates/watchlist/abc/delete", { method: "POST" })).status).toBe(400);
  });
});
