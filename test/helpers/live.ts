/**
 * Live view measurements for browser tests: frames carry their capture time as
 * src/media/timecode.ts's block strip, read back here from a page's live <video> (through a
 * canvas) or from a `frame.jpg`, and compared with the clock of this machine (the browser, the
 * runtime and the test share it).
 */
import { expect } from "bun:test";
import jpeg from "jpeg-js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { readTimecode } from "../../src/media/timecode.ts";

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** A 390 x 844 phone context holding the session cookies of `cookie` (a `Cookie` header value) for `base`. */
export async function phoneContext(browser: Browser, base: string, cookie: string): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  await ctx.addCookies(
    cookie.split("; ").map((kv) => {
      const i = kv.indexOf("=");
      return { name: kv.slice(0, i), value: kv.slice(i + 1), url: base };
    }),
  );
  return ctx;
}

/** In the page: draws the live <video> into a canvas and returns clock - capture time (ms), or null without a picture. */
export async function pageLatency(page: Page): Promise<number | null> {
  return page.evaluate((reader) => {
    const video = document.querySelector<HTMLVideoElement>("video[data-live]");
    if (!video || video.readyState < 2 || !video.videoWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const g = canvas.getContext("2d", { willReadFrequently: true })!;
    g.drawImage(video, 0, 0);
    const now = Date.now();
    const read = new Function(`return (${reader})`)() as (d: ArrayLike<number>, w: number, n: number) => number;
    return now - read(g.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, now);
  }, readTimecode.toString());
}

/**
 * Opens `url` (a camera page), returns ms from opening until its live <video> shows a moving
 * picture, then samples the shown picture's latency every 250 ms for `sampleMs`.
 */
export async function watchLive(page: Page, url: string, sampleMs: number): Promise<{ firstFrameMs: number; latencies: number[] }> {
  const opened = Date.now();
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const v = document.querySelector<HTMLVideoElement>("video[data-live]");
      return !!v && v.readyState >= 2 && v.currentTime > 0;
    },
    undefined,
    { polling: "raf", timeout: 15_000 },
  );
  const firstFrameMs = Date.now() - opened;
  const latencies: number[] = [];
  const end = Date.now() + sampleMs;
  while (Date.now() < end) {
    const l = await pageLatency(page);
    if (l !== null) latencies.push(l);
    await Bun.sleep(250);
  }
  return { firstFrameMs, latencies };
}

/** Fetches `url` (a frame.jpg) `n` times; returns each picture's age (clock - its timecode) and X-Frame-Time - timecode, ms. */
export async function frameAges(url: string, cookie: string, n: number): Promise<{ ages: number[]; stampErrors: number[] }> {
  const ages: number[] = [];
  const stampErrors: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(url, { headers: { cookie } });
    const now = Date.now();
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("image/jpeg");
    const stamp = Number(r.headers.get("x-frame-time"));
    const img = jpeg.decode(new Uint8Array(await r.arrayBuffer()), { useTArray: true });
    const captured = readTimecode(img.data, img.width, now);
    ages.push(now - captured);
    stampErrors.push(stamp - captured);
    await Bun.sleep(200);
  }
  return { ages, stampErrors };
}

/**
 * Prints and checks one `watchLive` result: a picture within 1.5 s of opening, at least
 * `minSamples` readable samples, median latency at most 2 s, none from the future (that would be
 * a misread strip).
 */
export function expectLive(label: string, r: { firstFrameMs: number; latencies: number[] }, minSamples = 40): void {
  const { firstFrameMs, latencies } = r;
  console.log(
    `${label}: first frame ${firstFrameMs} ms after opening; latency over ${latencies.length} samples: median ${median(latencies)} ms, p90 ${percentile(latencies, 0.9)} ms, max ${Math.max(...latencies)} ms`,
  );
  expect(firstFrameMs).toBeLessThanOrEqual(1500);
  expect(latencies.length).toBeGreaterThanOrEqual(minSamples);
  expect(median(latencies)).toBeLessThanOrEqual(2000);
  expect(Math.min(...latencies)).toBeGreaterThanOrEqual(0);
}
