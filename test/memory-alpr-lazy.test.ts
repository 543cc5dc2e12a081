/**
 * The supervisor's `alprService` actor when the ALPR service module was not preloaded (the
 * runtime preloads it when `[alpr] enabled`, see save-services.test.ts; it is kept out of an
 * idle runtime so a dashcam without ALPR does not pay its memory): the actor loads src/actors/alpr.ts itself, then starts the real service on a
 * real SQLite database; stopped before the load finishes, it starts nothing.
 * In a full `bun test` run another file may have loaded the module already (the actor then
 * starts the service at once): either way a stop leaves no service running.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createActor } from "xstate";
import { createAlprActor, type SupervisorDeps } from "../src/actors/supervisor.ts";
import { openDatabase } from "../src/db/open.ts";
import { LiveBus } from "../src/events.ts";
import { dbPath } from "../src/paths.ts";
import { RuntimeFixture } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-memory-alpr-");
afterEach(() => fx.cleanup());

function depsFor(dataDir: string) {
  const db = openDatabase(dbPath(dataDir));
  const config = fx.config(dataDir, { cameras: [], alpr: { enabled: true, poll_ms: 200 } });
  const background = new Set<Promise<unknown>>();
  // createAlprActor reads only these fields of the supervisor's deps
  const deps = { db, dataDir, config, bus: new LiveBus(), background } as unknown as SupervisorDeps;
  return { db, background, deps };
}

const rows = (db: ReturnType<typeof openDatabase>, kind: string) =>
  (db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = ?").get(kind) as { n: number }).n;

describe("alprService actor without a preloaded module", () => {
  test("stopped at once (before or after the module has loaded): no service is left running, no error", async () => {
    const { db, background, deps } = depsFor(fx.tempDir());
    const errors: unknown[] = [];
    const actor = createActor(createAlprActor(deps), { input: {} });
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    actor.stop();
    expect(background.size).toBeGreaterThan(0); // the load is tracked for power-down
    await Promise.all(background);
    await Bun.sleep(300); // longer than poll_ms: a service started after the stop would have logged
    expect(rows(db, "alpr.start")).toBeLessThanOrEqual(1);
    expect(rows(db, "alpr.stop")).toBe(rows(db, "alpr.start"));
    expect(errors).toEqual([]);
    db.close();
  });

  test("loads the module, starts the real service (an ALPR.WAKE sent while it loads is accepted), stops it", async () => {
    const { db, background, deps } = depsFor(fx.tempDir());
    const actor = createActor(createAlprActor(deps), { input: {} });
    actor.start();
    actor.send({ type: "ALPR.WAKE" });
    await waitUntil("alpr.start", () => rows(db, "alpr.start") === 1 || null);
    actor.stop();
    await Promise.all(background);
    expect(rows(db, "alpr.stop")).toBe(1);
    db.close();
  });
});
