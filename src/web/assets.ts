/**
 * Static assets embedded in the program (and in the compiled binary): htmx 2, its SSE
 * extension, hls.js, uPlot (MIT, the camera health charts) with its stylesheet, the UI's
 * stylesheet, client script and health chart script, mpegts.js (the live view's player), the app
 * icons (PNG 192 and 512 px for the web app manifest, drawn on first use by src/web/icons.ts).
 * Nothing is read from disk at run
 * time and nothing comes from a CDN.
 *
 * Each asset is served from `/assets/<name>` with a content hash in its URL (`?v=<hash>`), a
 * one-year immutable cache header, an ETag, and a gzip copy (made once, on first request, with
 * `Bun.gzipSync`) for clients that accept it: hls.js is ~620 KB raw, ~190 KB gzipped.
 *
 * The files are embedded `with { type: "file" }` and read on first use (body and hash when a
 * page first names the asset, gzip when first requested): an idle runtime that serves no page
 * keeps none of them in memory (~1.3 MB for hls.js as a string and bytes), which keeps the idle RSS low.
 */
import { readFileSync } from "node:fs";
import htmxJsFile from "htmx.org/dist/htmx.min.js" with { type: "file" };
import sseJsFile from "htmx-ext-sse/dist/sse.min.js" with { type: "file" };
import hlsJsFile from "hls.js/dist/hls.min.js" with { type: "file" };
import mpegtsJsFile from "mpegts.js/dist/mpegts.js" with { type: "file" };
import styleCssFile from "./style.css" with { type: "file" };
import clientJsFile from "./client.js" with { type: "file" };
import uplotJsFile from "uplot/dist/uPlot.iife.min.js" with { type: "file" };
import uplotCssFile from "uplot/dist/uPlot.min.css" with { type: "file" };
import healthJsFile from "./health.js" with { type: "file" };
import { renderAppIcon } from "./icons.ts";

export interface Asset {
  name: string;
  type: string;
  /** The bytes served (read from the embedded file on first use). */
  readonly body: Uint8Array;
  /** gzip of the body, made on first use (keeps start-up fast: ~25 ms for hls.js on x86-64). */
  readonly gzip: Uint8Array;
  /** Bun.hash (wyhash, 64 bit) of the body as 16 hex digits: the cache-busting version. */
  readonly hash: string;
}

/** Drops a trailing `//# sourceMappingURL=` line: the map is not embedded, so the browser would 404 on it. */
const stripSourceMap = (text: string) => text.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");

/**
 * An asset read from `file` (a path: inside the compiled binary `/$bunfs/root/...`) on first use
 * of `body`, `hash` or `gzip`; `transform` maps the file's UTF-8 text to the text served.
 */
function make(name: string, type: string, file: string | (() => Uint8Array), transform: ((text: string) => string) | "binary" = (t) => t): Asset {
  let body: Uint8Array<ArrayBuffer> | null = null;
  let hash: string | null = null;
  let gzip: Uint8Array | null = null;
  const read = (): Uint8Array<ArrayBuffer> =>
    typeof file === "function"
      ? new Uint8Array(file())
      : transform === "binary"
        ? new Uint8Array(readFileSync(file))
        : new TextEncoder().encode(transform(readFileSync(file, "utf8")));
  const bytes = () => (body ??= read());
  return {
    name,
    type,
    get body() {
      return bytes();
    },
    get hash() {
      return (hash ??= Bun.hash(bytes()).toString(16).padStart(16, "0"));
    },
    get gzip() {
      return (gzip ??= Bun.gzipSync(bytes(), { level: 9 }));
    },
  };
}

const JS = "text/javascript; charset=utf-8";

/** Every embedded asset by file name. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map(
  [
    make("htmx.min.js", JS, htmxJsFile, stripSourceMap),
    make("sse.min.js", JS, sseJsFile, stripSourceMap),
    make("hls.min.js", JS, hlsJsFile, stripSourceMap),
    make("mpegts.js", JS, mpegtsJsFile, stripSourceMap),
    make("style.css", "text/css; charset=utf-8", styleCssFile),
    make("client.js", JS, clientJsFile),
    make("uplot.min.js", JS, uplotJsFile),
    make("uplot.min.css", "text/css; charset=utf-8", uplotCssFile),
    make("health.js", JS, healthJsFile),
    make("icon-192.png", "image/png", () => renderAppIcon(192)),
    make("icon-512.png", "image/png", () => renderAppIcon(512)),
  ].map((a) => [a.name, a]),
);

export type AssetName =
  | "htmx.min.js"
  | "sse.min.js"
  | "hls.min.js"
  | "mpegts.js"
  | "style.css"
  | "client.js"
  | "uplot.min.js"
  | "uplot.min.css"
  | "health.js"
  | "icon-192.png"
  | "icon-512.png";

/** The cache-busting URL of an asset: `/assets/htmx.min.js?v=<hash>`. */
export function assetUrl(name: AssetName): string {
  const asset = ASSETS.get(name);
  if (!asset) throw new Error(`unknown asset ${name}`);
  return `/assets/${name}?v=${asset.hash}`;
}
