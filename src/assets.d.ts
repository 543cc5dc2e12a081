// Module declarations for assets embedded with `import x from "..." with { type: "file" | "text" }`.
// "text" imports give the file's contents; "file" imports give a path Bun.file() can open
// (inside the compiled binary, a $bunfs path).
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.onnx" {
  const path: string;
  export default path;
}
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.txt" {
  const content: string;
  export default content;
}
declare module "*.ttf" {
  const path: string;
  export default path;
}
