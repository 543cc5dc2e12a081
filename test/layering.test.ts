/**
 * The import direction between the folders of src/ (DESIGN.md invariant 7, README "Layout").
 *
 * Every module under src/ is read and its imports are listed with TypeScript's own scanner
 * (`ts.preProcessFile`): static `import ... from`, side-effect `import "..."`, `import type`,
 * `export ... from` and dynamic `import("...")`; strings and comments that merely look like
 * imports are not imports. A relative specifier is resolved to the file it names, and the rules
 * below are checked on the folder it lands in:
 *
 * - `src/machines` imports only `xstate` and other machines modules (pure state machines, no I/O);
 * - `src/db` imports no `actors`, `web`, `vision`, `alpr`, `media` (the data layer is the bottom);
 * - `src/web` imports no `actors` (it reaches the runtime only through its `WebActions` port);
 * - `src/vision` imports no `db`, `actors`, `web`, `alpr` (a pure image and inference library);
 * - `src/onvif` imports only the `onvif` package and itself (the camera boundary).
 *
 * A violation is reported as `src/<file>:<line> imports <specifier> (<rule>)`.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dir, "..");
const SRC = join(ROOT, "src");

/** One import of a module: the specifier as written and its 1-based line. */
interface ImportRef {
  specifier: string;
  line: number;
}

/** Every import of a TypeScript/JavaScript source text (static, type-only, export-from, dynamic). */
function importsOf(text: string): ImportRef[] {
  const info = ts.preProcessFile(text, true, true);
  const lineOf = (pos: number) => text.slice(0, pos).split("\n").length;
  return info.importedFiles.map((f) => ({ specifier: f.fileName, line: lineOf(f.pos) }));
}

/** Source files below `dir`, as absolute paths. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|tsx|js|mjs)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out.sort();
}

/** The top-level part of src/ a path lies in: a folder name (`db`), or the file name for a root module (`config.ts`). */
const layerOf = (abs: string) => relative(SRC, abs).split("/")[0]!;

interface Rule {
  layer: string;
  /** Folders (or root modules) of src/ this layer must not import. */
  forbidden?: string[];
  /** When set, the only parts of src/ this layer may import (itself included). */
  onlyOurs?: string[];
  /** When set, the only packages (bare specifiers) this layer may import. */
  onlyPackages?: string[];
  why: string;
}

const RULES: Rule[] = [
  { layer: "machines", onlyOurs: ["machines"], onlyPackages: ["xstate"], why: "machines import only xstate and each other" },
  { layer: "db", forbidden: ["actors", "web", "vision", "alpr", "media"], why: "db imports no actors, web, vision, alpr, media" },
  { layer: "web", forbidden: ["actors"], why: "web imports no actors (it uses its WebActions port)" },
  { layer: "vision", forbidden: ["db", "actors", "web", "alpr"], why: "vision imports no db, actors, web, alpr" },
  { layer: "health", onlyOurs: ["health", "vision"], onlyPackages: [], why: "health (pure image metrics) imports only vision and itself" },
  { layer: "onvif", onlyOurs: ["onvif"], onlyPackages: ["onvif"], why: "onvif (the camera's ONVIF boundary) imports only the onvif package and itself" },
];

/** Checks one module's imports against the rules; returns one line per violation. */
function violationsOf(file: string, text: string): string[] {
  const rule = RULES.find((r) => r.layer === layerOf(file));
  if (!rule) return [];
  const out: string[] = [];
  for (const { specifier, line } of importsOf(text)) {
    const where = `${relative(ROOT, file)}:${line} imports ${specifier}`;
    if (specifier.startsWith(".")) {
      const target = resolve(dirname(file), specifier);
      const inside = !relative(SRC, target).startsWith("..");
      const layer = inside ? layerOf(target) : `outside src (${relative(ROOT, target)})`;
      if (rule.forbidden?.includes(layer)) out.push(`${where} (${rule.why})`);
      if (rule.onlyOurs && !rule.onlyOurs.includes(layer)) out.push(`${where} (${rule.why})`);
    } else if (rule.onlyPackages) {
      const pkg = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;
      if (!rule.onlyPackages.includes(pkg)) out.push(`${where} (${rule.why})`);
    }
  }
  return out;
}

describe("import scanner", () => {
  test("finds static, side-effect, type-only, export-from and dynamic imports, not look-alikes in strings or comments", () => {
    const text = [
      'import a from "./a.ts";',
      'import "./b.ts";',
      'import type { T } from "./c.ts";',
      'export { x } from "./d.ts";',
      'export * from "./e.ts";',
      'const m = await import("./f.ts");',
      'const s = `import z from "./not-an-import.ts"`;',
      '// import y from "./commented.ts"',
    ].join("\n");
    expect(importsOf(text)).toEqual([
      { specifier: "./a.ts", line: 1 },
      { specifier: "./b.ts", line: 2 },
      { specifier: "./c.ts", line: 3 },
      { specifier: "./d.ts", line: 4 },
      { specifier: "./e.ts", line: 5 },
      { specifier: "./f.ts", line: 6 },
    ]);
  });

  test("each rule catches what it forbids", () => {
    expect(violationsOf(join(SRC, "db/x.ts"), 'import "../actors/camera.ts";')).toHaveLength(1);
    expect(violationsOf(join(SRC, "db/x.ts"), 'const m = await import("../media/ffmpeg.ts");')).toHaveLength(1);
    expect(violationsOf(join(SRC, "db/x.ts"), 'import { y } from "./segments.ts";')).toEqual([]);
    expect(violationsOf(join(SRC, "web/routes/x.tsx"), 'export { s } from "../../actors/supervisor.ts";')).toHaveLength(1);
    expect(violationsOf(join(SRC, "vision/x.ts"), 'import type { R } from "../db/vehicles.ts";')).toHaveLength(1);
    expect(violationsOf(join(SRC, "machines/x.ts"), 'import { log } from "../log.ts";')).toHaveLength(1);
    expect(violationsOf(join(SRC, "machines/x.ts"), 'import { Database } from "bun:sqlite";')).toHaveLength(1);
    expect(violationsOf(join(SRC, "machines/x.ts"), 'import { setup } from "xstate";\nimport { t } from "./trip.ts";')).toEqual([]);
    expect(violationsOf(join(SRC, "onvif/x.ts"), 'import { logEvent } from "../db/eventLog.ts";')).toHaveLength(1);
    expect(violationsOf(join(SRC, "onvif/x.ts"), 'import { Cam } from "onvif";')).toEqual([]);
  });
});

describe("layering of src/", () => {
  const files = sourceFiles(SRC);

  test("every layer with a rule has modules with imports (the check is not vacuous)", () => {
    for (const rule of RULES) {
      const mine = files.filter((f) => layerOf(f) === rule.layer);
      const imports = mine.reduce((n, f) => n + importsOf(readFileSync(f, "utf8")).length, 0);
      expect({ layer: rule.layer, hasImports: imports > 0 }).toEqual({ layer: rule.layer, hasImports: true });
    }
  });

  test("no module imports against the direction of the layers", () => {
    const violations = files.flatMap((f) => violationsOf(f, readFileSync(f, "utf8")));
    expect(violations).toEqual([]);
  });
});
