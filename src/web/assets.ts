/**
 * Static assets embedded in the program (and in the compiled binary): htmx 2, its SSE
 * extension, hls.js, the UI's stylesheet and client script. Nothing is read from disk at run
 * time and nothing comes from a CDN.
 *
 * Each asset is served from `/assets/<name>` with a content hash in its URL (`?v=<hash>`), a
 * one-year immutable cache header, an ETag, and a gzip copy (made once, on first request, with
 * `Bun.gzipSync`) for clients that accept it: hls.js is ~620 KB raw, ~190 KB gzipped.
 */
import htmxJs from "htmx.org/dist/htmx.min.js" with { type: "text" };
import sseJs from "htmx-ext-sse/dist/sse.min.js" with { type: "text" };
import hlsJs from "hls.js/dist/hls.min.js" with { type: "text" };
import styleCss from "./style.css" with { type: "text" };
import clientJs from "./client.js" with { type: "text" };

export interface Asset {
  name: string;
  type: string;
  body: Uint8Array;
  /** gzip of the body, made on first use (keeps start-up fast: ~25 ms for hls.js on x86-64). */
  readonly gzip: Uint8Array;
  /** Bun.hash (wyhash, 64 bit) of the body as 16 hex digits: the cache-busting version. */
  hash: string;
}

/** Drops a trailing `//# sourceMappingURL=` line: the map is not embedded, so the browser would 404 on it. */
const stripSourceMap = (text: string) => text.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");

function make(name: string, type: string, text: string): Asset {
  const body = new TextEncoder().encode(text);
  const hash = Bun.hash(body).toString(16).padStart(16, "0");
  let gzip: Uint8Array | null = null;
  return {
    name,
    type,
    body,
    hash,
    get gzip() {
      return (gzip ??= Bun.gzipSync(body, { level: 9 }));
    },
  };
}

const JS = "text/javascript; charset=utf-8";

/** Every embedded asset by file name. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map(
  [
    make("htmx.min.js", JS, stripSourceMap(String(htmxJs))),
    make("sse.min.js", JS, stripSourceMap(String(sseJs))),
    make("hls.min.js", JS, stripSourceMap(String(hlsJs))),
    make("style.css", "text/css; charset=utf-8", String(styleCss)),
    make("client.js", JS, String(clientJs)),
  ].map((a) => [a.name, a]),
);

export type AssetName = "htmx.min.js" | "sse.min.js" | "hls.min.js" | "style.css" | "client.js";

/** The cache-busting URL of an asset: `/assets/htmx.min.js?v=<hash>`. */
export function assetUrl(name: AssetName): string {
  const asset = ASSETS.get(name);
  if (!asset) throw new Error(`unknown asset ${name}`);
  return `/assets/${name}?v=${asset.hash}`;
}
