/**
 * `npm run bench`: runs every bench script in bench/ (`*.ts` except this one), one after the
 * other in name order, each as its own `bun` process with inherited output. Benches print
 * numbers and never assert; this runner exits 1 only when a bench script itself crashed.
 * `bun bench/index.ts healthz runtime` runs only the named ones.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const only = process.argv.slice(2);
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "index.ts" && !f.endsWith(".d.ts"))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.ts$/, "")))
  .sort();

const failed: string[] = [];
for (const script of scripts) {
  console.log(`\n=== bench/${script}`);
  const t0 = performance.now();
  const proc = Bun.spawn({ cmd: [process.execPath, join(dir, script)], stdout: "inherit", stderr: "inherit", stdin: "ignore" });
  const code = await proc.exited;
  console.log(`=== bench/${script}: exit ${code}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (code !== 0) failed.push(script);
}
if (failed.length) {
  console.log(`\ncrashed: ${failed.join(", ")}`);
  process.exitCode = 1;
}
