/**
 * `dashcam alpr [--json] [--vehicle-model PATH] IMAGE...`: reads the licence plates of each
 * image (JPEG or PNG) and prints one JSON line per image, in argument order:
 *   {"file": "...", "plates": [{"text": "ABC123", "confidence": 0.93, "box": [x, y, w, h]}]}
 * plates best first, boxes in image pixels. An image that cannot be read or decoded prints
 * {"file": "...", "error": "..."} and the next image is processed. Output is JSON lines with or
 * without `--json` (the flag is accepted for scripts that pass it).
 * Exit: 0 all images processed; 1 at least one image failed, or an embedded model could not be
 * loaded (one line on stderr naming the file); 2 bad usage, including a `--vehicle-model` file
 * that is missing or not a loadable ONNX model.
 */
import { parseCommandArgs, UsageError } from "../cli.ts";
import { decodeImage } from "./image.ts";
import { configureVision, ModelLoadError, readPlates } from "./reader.ts";

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { json: { type: "boolean" }, "vehicle-model": { type: "string" }, help: { type: "boolean", short: "h" } },
    true,
  );
  if (values.help) {
    process.stdout.write("usage: dashcam alpr [--json] [--vehicle-model FILE.onnx] IMAGE...\n");
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("no image given (usage: dashcam alpr [--json] [--vehicle-model FILE] IMAGE...)");
  const vehicleModel = values["vehicle-model"];
  if (vehicleModel !== undefined) {
    if (!vehicleModel) throw new UsageError("--vehicle-model needs a file");
    if (!(await Bun.file(vehicleModel).exists())) throw new UsageError(`--vehicle-model: file not found: ${vehicleModel}`);
  }
  configureVision({ vehicleModelPath: vehicleModel ?? null });
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
        return err.file && err.file === vehicleModel ? 2 : 1;
      }
      failed++;
      line = { file, error: String((err as Error)?.message ?? err).split("\n")[0] };
    }
    process.stdout.write(JSON.stringify(line) + "\n");
  }
  return failed ? 1 : 0;
}
