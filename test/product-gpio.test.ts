/**
 * The GPIO save button (short press saves the trip, long press marks an incident). The actor runs inside a real XState parent and spawns
 * a real process: `test/fixtures/gpiomon` first on PATH, a stand-in that prints gpiomon's real
 * output formats (libgpiod 1.6 and 2.x) with crafted timestamps and contact bounce — the one
 * boundary that cannot run here (no GPIO chip). The missing-chip case also runs the real
 * Debian gpiomon (libgpiod 1.6.3) against a chip that does not exist.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assign, createActor, setup } from "xstate";
import { ButtonDecoder, createGpioButton, gpiomonArgs, parseGpiomonLine } from "../src/actors/gpio.ts";
import type { GpioConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/open.ts";
import type { GpioEvent } from "../src/machines/events.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const root = mkdtempSync(join(tmpdir(), "product-gpio-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const SETTINGS: GpioConfig = { chip: "gpiochip0", save_line: 17, active_low: true, debounce_ms: 50, long_press_ms: 1500 };

/** gpiomon 1.6's line: `event: %s offset: %u timestamp: [%8ld.%09ld]`, %s = " RISING EDGE" | "FALLING EDGE". */
const v1 = (edge: "r" | "f", ms: number, offset = 17) => {
  const sec = Math.floor(ms / 1000);
  const nsec = Math.round((ms - sec * 1000) * 1e6);
  return `event: ${edge === "r" ? " RISING EDGE" : "FALLING EDGE"} offset: ${offset} timestamp: [${String(sec).padStart(8)}.${String(nsec).padStart(9, "0")}]`;
};
/** gpiomon 2.x's line: `<sec>.<nsec>\t<rising|falling>\t<chip> <offset>`. */
const v2 = (edge: "r" | "f", ms: number) => {
  const sec = Math.floor(ms / 1000);
  const nsec = Math.round((ms - sec * 1000) * 1e6);
  return `${sec}.${String(nsec).padStart(9, "0")}\t${edge === "r" ? "rising" : "falling"}\tgpiochip0 17`;
};

interface Run {
  events: GpioEvent[];
  db: Database;
  dir: string;
  stop: () => void;
  waitFor: (pred: (evs: GpioEvent[]) => boolean, what: string) => Promise<void>;
}

/** Starts a parent machine that invokes the GPIO actor and records everything it sends back. */
function run(settings: GpioConfig, env: Record<string, string | undefined>, opts: { retryMs?: number; probeTimeoutMs?: number } = {}): Run {
  const dir = join(root, `run${n++}`);
  mkdirSync(dir);
  const db = openDatabase(join(dir, "dashcam.db"));
  const events: GpioEvent[] = [];
  const parent = setup({
    types: { context: {} as { count: number }, events: {} as GpioEvent },
    actors: { gpioButton: createGpioButton({ db, env, retryMs: opts.retryMs ?? 60_000, readyAfterMs: 200, probeTimeoutMs: opts.probeTimeoutMs }) },
  }).createMachine({
    context: { count: 0 },
    invoke: { src: "gpioButton", systemId: "gpio", input: settings },
    on: {
      SAVE: { actions: [assign({ count: ({ context }) => context.count + 1 }), ({ event }) => events.push(event)] },
      INCIDENT: { actions: ({ event }) => events.push(event) },
      "GPIO.STATUS": { actions: ({ event }) => events.push(event) },
    },
  });
  const actor = createActor(parent).start();
  const waitFor = async (pred: (evs: GpioEvent[]) => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!pred(events)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(events)}`);
      await Bun.sleep(10);
    }
  };
  return {
    events,
    db,
    dir,
    waitFor,
    stop: () => {
      actor.stop();
      db.close();
    },
  };
}

function fakeEnv(dir: string, lines: string[], extra: Record<string, string> = {}) {
  const eventsFile = join(dir, "events.txt");
  writeFileSync(eventsFile, lines.join("\n") + "\n");
  return {
    PATH: `${FIXTURES}:/usr/bin:/bin`,
    FAKE_GPIOMON_EVENTS: eventsFile,
    FAKE_GPIOMON_ARGS: join(dir, "args.txt"),
    FAKE_GPIOMON_PID: join(dir, "pid.txt"),
    ...extra,
  };
}

const actions = (evs: GpioEvent[]) => evs.filter((e) => e.type !== "GPIO.STATUS").map((e) => e.type);

describe("parser", () => {
  test("libgpiod 1.6 and 2.x default lines; anything else is ignored", () => {
    expect(parseGpiomonLine("event:  RISING EDGE offset: 17 timestamp: [    1234.567890123]")).toEqual({ edge: "rising", offset: 17, tsMs: 1234567.890123 });
    expect(parseGpiomonLine("event: FALLING EDGE offset: 4 timestamp: [1600099267.083712921]")).toEqual({ edge: "falling", offset: 4, tsMs: 1600099267083.712921 });
    expect(parseGpiomonLine("1234.500000000\trising\tgpiochip0 17")).toEqual({ edge: "rising", offset: 17, tsMs: 1234500 });
    expect(parseGpiomonLine('99.000000001\tfalling\t"button"')).toEqual({ edge: "falling", offset: null, tsMs: 99000.000001 });
    for (const junk of ["", "Monitoring line 'button'...", "gpiomon: error waiting for events: No such file or directory", "event: SIDEWAYS EDGE offset: 1 timestamp: [1.0]"])
      expect(parseGpiomonLine(junk)).toBeNull();
  });

  test("command line per libgpiod generation", () => {
    expect(gpiomonArgs(1, SETTINGS)).toEqual(["-b", "-l", "gpiochip0", "17"]);
    expect(gpiomonArgs(2, SETTINGS)).toEqual(["-l", "-e", "both", "-c", "gpiochip0", "17"]);
    expect(gpiomonArgs(1, { ...SETTINGS, active_low: false })).toEqual(["-b", "gpiochip0", "17"]);
  });

  test("decoder: bounce within debounce_ms is one press; short vs long by the hold", () => {
    const d = new ButtonDecoder(50, 1500);
    const seq = [
      ["rising", 0],
      ["falling", 2],
      ["rising", 4],
      ["falling", 6],
      ["rising", 9],
      ["falling", 400],
      ["rising", 402],
      ["falling", 405],
      ["rising", 5000],
      ["falling", 7000],
    ] as const;
    const out = seq.map(([edge, t]) => d.edge({ edge, offset: 17, tsMs: t })).filter(Boolean);
    expect(out).toEqual([{ kind: "press" }, { kind: "short", heldMs: 400 }, { kind: "press" }, { kind: "long", heldMs: 2000 }]);
  });
});

describe("actor with gpiomon on PATH", () => {
  test("libgpiod 1.6: a bouncing press saves once; a long press is an incident", async () => {
    const dir = join(root, "v1");
    mkdirSync(dir);
    const t = 5_000_000;
    const lines = [
      // press with contact bounce, released after 300 ms, release bounces too
      v1("r", t), v1("f", t + 2), v1("r", t + 4.1), v1("f", t + 7), v1("r", t + 9),
      v1("f", t + 300), v1("r", t + 302), v1("f", t + 305),
      // an edge on another line of the chip is not ours
      v1("r", t + 1000, 18), v1("f", t + 1100, 18),
      // long press: held 2 s by gpiomon's timestamps
      v1("r", t + 3000), v1("f", t + 3001), v1("r", t + 3003), v1("f", t + 5000),
      // sentinel: one more clean short press, after which nothing else is printed
      v1("r", t + 9000), v1("f", t + 9200),
    ];
    const r = run(SETTINGS, fakeEnv(dir, lines));
    try {
      await r.waitFor((evs) => actions(evs).length >= 3, "three button events");
      expect(actions(r.events)).toEqual(["SAVE", "INCIDENT", "SAVE"]);
      const save = r.events.find((e) => e.type === "SAVE")!;
      expect(save).toMatchObject({ type: "SAVE", source: "button" });
      expect(Math.abs((save as { at: number }).at - Date.now())).toBeLessThan(60_000);
      expect(readFileSync(join(dir, "args.txt"), "utf8").trim()).toBe("-b -l gpiochip0 17");
      expect(r.events.some((e) => e.type === "GPIO.STATUS" && e.status === "ready")).toBe(true);
      const rows = r.db.query("SELECT message FROM event_log WHERE kind = 'gpio.button' ORDER BY id").all() as { message: string }[];
      expect(rows.map((x) => x.message.split(" (")[0])).toEqual(["button short press: save trip", "button long press: incident clip", "button short press: save trip"]);
    } finally {
      r.stop();
    }
  });

  test("libgpiod 2.x format and command line", async () => {
    const dir = join(root, "v2");
    mkdirSync(dir);
    const lines = [v2("r", 100), v2("f", 101), v2("r", 103), v2("f", 250), v2("r", 1000), v2("f", 2600)];
    const r = run(SETTINGS, fakeEnv(dir, lines, { FAKE_GPIOMON_VERSION: "2.1.2" }));
    try {
      await r.waitFor((evs) => actions(evs).length >= 2, "two button events");
      expect(actions(r.events)).toEqual(["SAVE", "INCIDENT"]);
      expect(readFileSync(join(dir, "args.txt"), "utf8").trim()).toBe("-l -e both -c gpiochip0 17");
    } finally {
      r.stop();
    }
  });

  test("held down: the incident fires when the hold reaches long_press_ms, the late release adds nothing", async () => {
    const dir = join(root, "held");
    mkdirSync(dir);
    const lines = [v1("r", 10_000), "#sleep 0.6", v1("f", 10_900), v1("r", 20_000), v1("f", 20_100)];
    const r = run({ ...SETTINGS, long_press_ms: 150 }, fakeEnv(dir, lines));
    try {
      await r.waitFor((evs) => actions(evs).length >= 1, "the incident");
      expect(actions(r.events)).toEqual(["INCIDENT"]); // before the release was even printed
      await r.waitFor((evs) => actions(evs).length >= 2, "the sentinel save");
      expect(actions(r.events)).toEqual(["INCIDENT", "SAVE"]);
    } finally {
      r.stop();
    }
  });

  test("stopping the actor stops gpiomon", async () => {
    const dir = join(root, "stop");
    mkdirSync(dir);
    const r = run(SETTINGS, fakeEnv(dir, [v1("r", 1), v1("f", 100)]));
    await r.waitFor((evs) => actions(evs).length >= 1, "a save");
    const pid = Number(readFileSync(join(dir, "pid.txt"), "utf8"));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    r.stop();
    const deadline = Date.now() + 10_000;
    while (alive() && Date.now() < deadline) await Bun.sleep(20);
    expect(alive()).toBe(false);
  });
});

describe("unavailable button: a clear status and an event-log row, never a crash", () => {
  test("no gpiomon anywhere", async () => {
    const empty = join(root, "empty-bin");
    mkdirSync(empty);
    const r = run(SETTINGS, { PATH: empty });
    try {
      await r.waitFor((evs) => evs.some((e) => e.type === "GPIO.STATUS" && e.status === "unavailable"), "unavailable status");
      const st = r.events.find((e) => e.type === "GPIO.STATUS") as Extract<GpioEvent, { type: "GPIO.STATUS" }>;
      expect(st.reason).toMatch(/gpiomon not found: install the Debian package gpiod/);
      const row = r.db.query("SELECT level, message FROM event_log WHERE kind = 'gpio.unavailable'").get() as { level: string; message: string };
      expect(row.level).toBe("error");
      expect(row.message).toContain("gpiomon not found");
    } finally {
      r.stop();
    }
  });

  test("a gpiomon that hangs on --version never blocks the event loop; it is reported and retried", async () => {
    const dir = join(root, "hang");
    mkdirSync(dir);
    // the longest pause between two 20 ms timer ticks: a blocking probe shows up as one long gap
    let last = Date.now();
    let maxGapMs = 0;
    const tick = setInterval(() => {
      maxGapMs = Math.max(maxGapMs, Date.now() - last);
      last = Date.now();
    }, 20);
    const t0 = Date.now();
    const r = run(SETTINGS, fakeEnv(dir, [], { FAKE_GPIOMON_HANG: "3" }), { probeTimeoutMs: 500, retryMs: 60_000 });
    try {
      await r.waitFor((evs) => evs.some((e) => e.type === "GPIO.STATUS" && e.status === "unavailable"), "unavailable status");
      expect(Date.now() - t0).toBeLessThan(2_500);
      expect(maxGapMs).toBeLessThan(1_000); // timers kept running while the probe was pending
      const st = r.events.find((e) => e.type === "GPIO.STATUS" && e.status === "unavailable") as Extract<GpioEvent, { type: "GPIO.STATUS" }>;
      expect(st.reason).toMatch(/gpiomon --version did not answer within 0\.5 s/);
      expect(existsSync(join(dir, "args.txt"))).toBe(false); // the monitor itself was not started
    } finally {
      clearInterval(tick);
      r.stop();
    }
  });

  test("the real gpiomon (libgpiod 1.6.3) with a chip that does not exist", async () => {
    if (!existsSync("/usr/bin/gpiomon")) throw new Error("Debian package gpiod is required for this test");
    const r = run({ ...SETTINGS, chip: "gpiochip99" }, { PATH: "/usr/bin:/bin" });
    try {
      await r.waitFor((evs) => evs.some((e) => e.type === "GPIO.STATUS" && e.status === "unavailable"), "unavailable status");
      const st = r.events.find((e) => e.type === "GPIO.STATUS" && e.status === "unavailable") as Extract<GpioEvent, { type: "GPIO.STATUS" }>;
      expect(st.reason).toStartWith('GPIO chip "gpiochip99" not found');
      expect(st.reason).toContain("gpiomon:"); // the tool's own words are kept
      expect(r.db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'gpio.unavailable'").get()).toEqual({ n: 1 });
      expect(actions(r.events)).toEqual([]);
    } finally {
      r.stop();
    }
  });

  test("libgpiod 2.x missing chip and permission errors; retries log each reason once", async () => {
    const dir = join(root, "v2err");
    mkdirSync(dir);
    const r = run(
      SETTINGS,
      fakeEnv(dir, [], { FAKE_GPIOMON_VERSION: "2.1.2", FAKE_GPIOMON_STDERR: "gpiomon: cannot find GPIO chip character device 'gpiochip0'" }),
      { retryMs: 30 },
    );
    try {
      await r.waitFor((evs) => evs.filter((e) => e.type === "GPIO.STATUS" && e.status === "unavailable").length >= 3, "three failed attempts");
      const st = r.events.find((e) => e.type === "GPIO.STATUS" && e.status === "unavailable") as Extract<GpioEvent, { type: "GPIO.STATUS" }>;
      expect(st.reason).toBe(`GPIO chip "gpiochip0" not found (gpiomon: cannot find GPIO chip character device 'gpiochip0')`);
      expect(r.db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'gpio.unavailable'").get()).toEqual({ n: 1 });
    } finally {
      r.stop();
    }
    const dir2 = join(root, "perm");
    mkdirSync(dir2);
    const r2 = run(SETTINGS, fakeEnv(dir2, [], { FAKE_GPIOMON_STDERR: "gpiomon: error waiting for events: Permission denied" }));
    try {
      await r2.waitFor((evs) => evs.some((e) => e.type === "GPIO.STATUS" && e.status === "unavailable"), "unavailable status");
      const st = r2.events.find((e) => e.type === "GPIO.STATUS" && e.status === "unavailable") as Extract<GpioEvent, { type: "GPIO.STATUS" }>;
      expect(st.reason).toMatch(/^no permission to open GPIO chip "gpiochip0": add the service user to the gpio group/);
    } finally {
      r2.stop();
    }
  });
});
