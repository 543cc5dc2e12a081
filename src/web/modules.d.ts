// Types of the files src/web/assets.ts imports `with { type: "text" }`: each is its text.
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "htmx.org/dist/htmx.min.js" {
  const text: string;
  export default text;
}
declare module "htmx-ext-sse/dist/sse.min.js" {
  const text: string;
  export default text;
}
declare module "hls.js/dist/hls.min.js" {
  const text: string;
  export default text;
}
declare module "*/client.js" {
  const text: string;
  export default text;
}
