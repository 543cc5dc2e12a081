/** `/assets/:name`: the embedded assets (see ../assets.ts), immutable-cached, gzip when accepted. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { ASSETS } from "../assets.ts";
import type { WebEnv } from "../env.ts";
import { valid } from "../validate.ts";

export function assetRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/:name", valid("param", v.object({ name: v.pipe(v.string(), v.regex(/^[a-z0-9.-]{1,40}$/, "is not an asset name")) })), (c) => {
    const asset = ASSETS.get(c.req.valid("param").name);
    if (!asset) throw new HTTPException(404, { message: "no such asset" });
    const etag = `"${asset.hash}"`;
    const headers: Record<string, string> = {
      "Content-Type": asset.type,
      "Cache-Control": "public, max-age=31536000, immutable",
      ETag: etag,
      Vary: "Accept-Encoding",
    };
    if (c.req.header("If-None-Match") === etag) return c.body(null, 304, headers);
    const gzip = /\bgzip\b/.test(c.req.header("Accept-Encoding") ?? "");
    if (gzip) headers["Content-Encoding"] = "gzip";
    return c.body((gzip ? asset.gzip : asset.body) as Uint8Array<ArrayBuffer>, 200, headers);
  });
  return app;
}
