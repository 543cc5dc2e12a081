/** Minimal typing of the parts of `pngjs` (no bundled types) that src/vision uses. */
declare module "pngjs" {
  export const PNG: {
    sync: {
      read(buffer: Buffer, options?: { skipRescale?: boolean }): { width: number; height: number; data: Buffer };
      write(png: { width: number; height: number; data: Uint8Array | Buffer }, options?: Record<string, unknown>): Buffer;
    };
  };
}
