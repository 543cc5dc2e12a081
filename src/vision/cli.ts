/**
 * `dashcam alpr [--json] [--region R] [--config FILE] [--vehicle-model PATH] [--det-model PATH]
 * [--rec-model PATH] [--rec-dict PATH] IMAGE...`: reads the licence plates of each
 * image (JPEG or PNG) and prints one JSON line per image, in argument order:
 *   {"file": "...", "plates": [{"text": "ABC123", "confidence": 0.93, "box": [x, y, w, h]}]}
 * plates best first, boxes in image pixels. Readings are fitted to the plate formats of
 * `--region` (formats.ts: us, br, eu, de, gb, a country code, an area such as us-mo, or a list;
 * "none" = no formats), else of the config's `[alpr] region` when a config is given
 * (`--config FILE` or $DASHCAM_CONFIG), else none. An image that cannot be read or decoded prints
 * {"file": "...", "error": "..."} and the next image is processed. Output is JSON lines with or
 * without `--json` (the flag is accepted for scripts that pass it).
 * Exit: 0 all images processed; 1 at least one image failed, or an embedded model could not be
 * loaded (one line on stderr naming the file); 2 bad usage (an unknown region included), a model or dictionary file
 * given on the command line that is missing or cannot be loaded (or does not fit its model).
 */
import { parseCommandArgs, UsageError } from "../cli.ts";
import { decodeImage } from "./image.ts";
import { configureVision, ModelLoadError, readPlates } from "./reader.ts";
import { regionFormats } from "./formats.ts";
import { loadConfig } from "../config.ts";

const USAGE = "usage: dashcam alpr [--json] [--region R] [--config FILE] [--vehicle-model FILE.onnx] [--det-model FILE.onnx] [--rec-model FILE.onnx] [--rec-dict FILE.txt] IMAGE...";

/** Model options: flag -> VisionOptions key. */
const MODEL_FLAGS = {
  "vehicle-model": "vehicleModelPath",
  "det-model": "detModelPath",
  "rec-model": "recModelPath",
  "rec-dict": "recKeysPath",
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      json: { type: "boolean" },
      "vehicle-model": { type: "string" },
      "det-model": { type: "string" },
      "rec-model": { type: "string" },
      "rec-dict": { type: "string" },
      region: { type: "string" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (positionals.length === 0) throw new UsageError(`no image given (${USAGE})`);
  const given = new Set<string>();
  const opts: Record<string, string | null> = {};
  for (const [flag, key] of Object.entries(MODEL_FLAGS)) {
    const path = values[flag as keyof typeof MODEL_FLAGS];
    if (path !== undefined) {
      if (!path) throw new UsageError(`--${flag} needs a file`);
      if (!(await Bun.file(path).exists())) throw new UsageError(`--${flag}: file not found: ${path}`);
      given.add(path);
    }
    opts[key] = path ?? null;
  }
  let region: string | null = null;
  if (values.region !== undefined) {
    if (!values.region) throw new UsageError("--region needs a region (e.g. us, br, de, or none)");
    region = values.region.toLowerCase() === "none" ? null : values.region;
  } else if (values.config ?? process.env.DASHCAM_CONFIG) {
    region = loadConfig(values.config).alpr?.region ?? null;
  }
  if (region) {
    try {
      regionFormats(region);
    } catch (err) {
      throw new UsageError(`--region: ${(err as Error).message}`);
    }
  }
  configureVision({ ...opts, region });
  let failed = 0;
  for (const file of positionals) {
    let line: Record<string, unknown>;
    try {
      const f = Bun.file(file);
      if (!(await f.exists())) throw new Error("file not found");
      const img = decodeImage(new Uint8Array(await f.arrayBuffer()));
      const plates = await readPlates(img);
      line = { file, plates: plates.map((p) => ({ text: p.text, confidence: p.confidence, box: p.box })) };
    } catch (err) {
      if (err instanceof ModelLoadError) {
        process.stderr.write(`dashcam alpr: ${err.message}\n`);
        return given.has(err.file) ? 2 : 1;
      }
      failed++;
      line = { file, error: String((err as Error)?.message ?? err).split("\n")[0] };
    }
    process.stdout.write(JSON.stringify(line) + "\n");
  }
  return failed ? 1 : 0;
}
