// Types of the files src/web/assets.ts imports `with { type: "file" }`: each is its path
// (inside the compiled binary a `/$bunfs/root/...` path).
declare module "*.css" {
  const path: string;
  export default path;
}
declare module "htmx.org/dist/htmx.min.js" {
  const path: string;
  export default path;
}
declare module "htmx-ext-sse/dist/sse.min.js" {
  const path: string;
  export default path;
}
declare module "hls.js/dist/hls.min.js" {
  const path: string;
  export default path;
}
declare module "uplot/dist/uPlot.iife.min.js" {
  const path: string;
  export default path;
}
declare module "*/health.js" {
  const path: string;
  export default path;
}
declare module "mpegts.js/dist/mpegts.js" {
  const path: string;
  export default path;
}
declare module "*/client.js" {
  const path: string;
  export default path;
}
declare module "*.png" {
  const path: string;
  export default path;
}
