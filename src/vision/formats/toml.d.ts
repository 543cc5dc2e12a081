// Region files of plate formats, embedded by Bun's TOML loader (`import x from "./us.toml"`).
declare module "*.toml" {
  const data: Record<string, unknown>;
  export default data;
}
