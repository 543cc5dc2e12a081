/**
 * The runtime in THIS process (`startRuntime` of src/runtime.ts), for integration tests:
 *
 * - `RuntimeFixture`: temp data directories under `os.tmpdir()` and runtimes started through it,
 *   all stopped and removed by `cleanup()` (call it from `afterEach`); its configs record
 *   `TEST_CAMERA` (./runtime.ts) unless told otherwise;
 * - `queryDb`: a read-only connection to `<data_dir>/dashcam.db` for one callback.
 *
 * The runtime as a separate process (`bun src/main.ts run`) is in ./runtime.ts.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig, type Config } from "../../src/config.ts";
import { startRuntime, type RuntimeHandle, type RuntimeOptions } from "../../src/runtime.ts";
import { dbPath } from "../../src/paths.ts";
import { TEST_CAMERA } from "./runtime.ts";

/** Temp directories and in-process runtimes of one test file, cleaned up after each test. */
export class RuntimeFixture {
  private readonly dirs: string[] = [];
  private readonly handles: RuntimeHandle[] = [];

  /** `prefix`: name prefix of the temp directories (e.g. `dashcam-save-trip-`). */
  constructor(private readonly prefix: string) {}

  /** A fresh directory under `os.tmpdir()`, removed by `cleanup()`. */
  tempDir(): string {
    const d = mkdtempSync(join(tmpdir(), this.prefix));
    this.dirs.push(d);
    return d;
  }

  /**
   * A validated Config: `data_dir = dataDir`, the web server on an ephemeral loopback port,
   * `cameras = [TEST_CAMERA]`, then the top-level keys of `extra` (which may replace `cameras`).
   * Relative paths resolve against `baseDir` (default `dataDir`). Throws ConfigError like
   * `validateConfig`.
   */
  config(dataDir: string, extra: Record<string, unknown> = {}, baseDir = dataDir): Config {
    return validateConfig({ data_dir: dataDir, http: { listen: "127.0.0.1:0" }, cameras: [TEST_CAMERA], ...extra }, baseDir);
  }

  /** `startRuntime(config, opts)`; the runtime is stopped by `cleanup()` (a second `stop()` is a no-op). */
  async start(config: Config, opts?: RuntimeOptions): Promise<RuntimeHandle> {
    const h = await startRuntime(config, opts);
    this.handles.push(h);
    return h;
  }

  /** Stops every runtime started through the fixture (errors ignored), then removes every temp directory. */
  async cleanup(): Promise<void> {
    for (const h of this.handles.splice(0)) await h.stop().catch(() => {});
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/**
 * Opens `<dataDir>/dashcam.db` read-only, runs `fn`, closes it (so a test never holds a read
 * snapshot across the runtime's writes). Throws when the database cannot be opened.
 */
export function queryDb<T>(dataDir: string, fn: (db: Database) => T): T {
  const db = new Database(dbPath(dataDir), { readonly: true, strict: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
