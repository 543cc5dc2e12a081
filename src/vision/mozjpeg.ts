/**
 * JPEG decoding with mozjpeg (libjpeg-turbo's API) compiled to WebAssembly, from the npm package
 * `@jsquash/jpeg` (Apache-2.0, Google's Squoosh codecs). Measured on the 1280x720 benchmark
 * photos: ~7 ms per frame against ~24-39 ms for the pure-JS jpeg-js decoder, which is a few
 * percent of an ALPR frame.
 *
 * The WASM file is embedded with `import … with { type: "file" }` (one binary) and instantiated
 * synchronously on first use, so `decodeImage` stays synchronous. libjpeg reports problems
 * through its error/warning handlers, which this Emscripten build prints (and, for a fatal
 * error, exits the module); both are turned into a thrown `Error` here, and the module is
 * instantiated afresh after a fatal error. Warnings ("Corrupt JPEG data: …", "Premature end of
 * JPEG file") count as errors: a frame with damaged entropy data is not read.
 */
import { readFileSync } from "node:fs";
import moduleFactory from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
import wasmPath from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm" with { type: "file" };

interface MozjpegModule {
  decode(data: Uint8Array, preserveOrientation: boolean): { data: Uint8ClampedArray; width: number; height: number } | null;
}

let compiled: WebAssembly.Module | null = null;
let instance: MozjpegModule | null = null;
/** Messages libjpeg printed during the current decode. */
let messages: string[] = [];

function load(): MozjpegModule {
  compiled ??= new WebAssembly.Module(readFileSync(wasmPath));
  const mod = compiled;
  const arg: Record<string, unknown> = {
    noInitialRun: true,
    print: (s: string) => messages.push(String(s)),
    printErr: (s: string) => messages.push(String(s)),
    instantiateWasm: (imports: WebAssembly.Imports, done: (i: WebAssembly.Instance) => void) => {
      const inst = new WebAssembly.Instance(mod, imports);
      done(inst);
      return inst.exports;
    },
  };
  // With a synchronous instantiateWasm the module is ready when the factory returns.
  (moduleFactory as unknown as (a: object) => Promise<unknown>)(arg).catch(() => undefined);
  if (typeof arg.decode !== "function") throw new Error("mozjpeg WebAssembly module did not initialise");
  return arg as unknown as MozjpegModule;
}

/**
 * Decodes a JPEG to RGBA (4 bytes per pixel). Throws an Error whose message is libjpeg's
 * (e.g. "Corrupt JPEG data: premature end of data segment") when the data is damaged.
 */
export function decodeJpegRgba(bytes: Uint8Array): { data: Uint8ClampedArray; width: number; height: number } {
  instance ??= load();
  messages = [];
  let out: ReturnType<MozjpegModule["decode"]>;
  try {
    out = instance.decode(bytes, false);
  } catch (err) {
    instance = null; // a fatal libjpeg error exits the module: start a fresh one next time
    throw new Error(messages[0] ?? String((err as Error)?.message ?? err));
  }
  if (messages.length) throw new Error(messages[0]);
  if (!out) throw new Error("no image");
  return out;
}
