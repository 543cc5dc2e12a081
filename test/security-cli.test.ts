/**
 * Bad input on the command line found by probing: each must print ONE line on stderr, exit 2 and
 * write nothing (no data directory, no database, no key), through the real CLI (`bun src/main.ts`):
 * - listen addresses with a port above 65535 or a host that is no address;
 * - a port already in use (by another program, or by another runtime with its own data directory);
 * - a data directory the user cannot write (run as `nobody`);
 * - a typo'd key (`sorce`) is named, a missing required key is called missing, a TOML syntax
 *   error gives its line and column.
 * Plus `dashcam user passwd` and `dashcam user unlock`, with and without a running runtime.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, parseConfigText } from "../src/config.ts";
import { BUN, MAIN, ROOT, makeTempDir, removeDir, runCli, startRuntime, writeConfig, TEST_CAMERA, type Runtime } from "./helpers/runtime.ts";
import { freeTcpPort, killAllStarted, spawnProc } from "./helpers/proc.ts";

const dirs: string[] = [];
const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const r of runtimes) await r.kill();
  killAllStarted();
  for (const d of dirs) removeDir(d);
});

function tempDir(): string {
  const d = makeTempDir("dashcam-sec-cli-");
  dirs.push(d);
  return d;
}

/** Runs `dashcam run` on a config body (data_dir set to `<dir>/data`); returns the result and the dir. */
async function runWith(body: string, opts: { dir?: string; dataDir?: string } = {}) {
  const dir = opts.dir ?? tempDir();
  const dataDir = opts.dataDir ?? join(dir, "data");
  const configPath = join(dir, "dashcam.toml");
  writeFileSync(configPath, `data_dir = ${JSON.stringify(dataDir)}\n${body}`);
  const r = await runCli(["run", "--config", configPath], { timeoutMs: 60_000 });
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  return { ...r, lines, dir, dataDir };
}

const CAMERA = '[[cameras]]\nkey = "cam"\nsource = "testsrc"\nsegment_seconds = 2\nwidth = 320\nheight = 240\nfps = 10\n';

describe("listen address", () => {
  for (const [listen, want] of [
    ["127.0.0.1:99999", /^dashcam run: http\.listen: port 99999 is out of range \(0-65535\)$/],
    ["999.1.1.1:8080", /^dashcam run: http\.listen: "999\.1\.1\.1" is not an IPv4\/IPv6 address or a host name$/],
    ["nonexistent.invalid:8080", /^dashcam run: http\.listen: cannot listen on nonexistent\.invalid:8080 \(is the host name known\?\) \([A-Z]+\)$/],
  ] as const) {
    test(`${listen}: one line, exit 2, nothing written`, async () => {
      const r = await runWith(`[http]\nlisten = "${listen}"\n${CAMERA}`);
      expect({ code: r.code, lines: r.lines }).toEqual({ code: 2, lines: [expect.stringMatching(want)] as unknown as string[] });
      expect(existsSync(r.dataDir)).toBe(false);
    });
  }

  test("valid forms: IPv4, [IPv6], host name, empty host, port 0", () => {
    for (const listen of ["0.0.0.0:80", "[::1]:8080", "[::]:0", "dashcam.local:8080", ":8080", "localhost:65535"])
      expect(parseConfigText(`[http]\nlisten = "${listen}"`, "/tmp").http.listen).toBe(listen);
    for (const listen of ["::1:8080", "[::1]", "host name:80", "1.2.3:80", "a..b:80", "-x:80", "[1.2.3.4]:80"])
      expect(() => parseConfigText(`[http]\nlisten = "${listen}"`, "/tmp")).toThrow(ConfigError);
  });
});

describe("port in use", () => {
  test("taken by another program: one line naming the address, exit 2, no data directory", async () => {
    const port = freeTcpPort();
    const holder = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    try {
      const r = await runWith(`[http]\nlisten = "127.0.0.1:${port}"\n${CAMERA}`);
      expect(r.code).toBe(2);
      expect(r.lines).toEqual([`dashcam run: http.listen: 127.0.0.1:${port} is already in use (EADDRINUSE)`]);
      expect(existsSync(r.dataDir)).toBe(false);
    } finally {
      holder.stop(true);
    }
  });

  test("taken by a runtime with another data directory: the second is refused, writes nothing", async () => {
    const port = freeTcpPort();
    const a = tempDir();
    const first = await startRuntime(writeConfig(a, { data_dir: join(a, "data"), listen: `0.0.0.0:${port}`, cameras: [TEST_CAMERA] }), { label: "first" });
    runtimes.push(first);
    for (const host of ["0.0.0.0", "127.0.0.1"]) {
      const r = await runWith(`[http]\nlisten = "${host}:${port}"\n${CAMERA}`);
      expect(r.code).toBe(2);
      expect(r.lines).toEqual([`dashcam run: http.listen: ${host}:${port} is already in use (EADDRINUSE)`]);
      expect(existsSync(r.dataDir)).toBe(false);
    }
    // the same data directory: named as such (as before), not as a port in use
    const same = await runWith(`[http]\nlisten = "0.0.0.0:${port}"\n${CAMERA}`, { dir: tempDir(), dataDir: join(a, "data") });
    expect(same.lines).toEqual([expect.stringMatching(/^dashcam run: another dashcam runtime is already running with this data directory/)] as unknown as string[]);
    // the first still answers
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).headers.get("content-type")).toContain("json");
  });
});

describe("data directory modes", () => {
  test("data_dir and recordings/ are created 0750, the database and key 0600", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const rt = await startRuntime(writeConfig(dir, { data_dir: dataDir, cameras: [TEST_CAMERA] }), { label: "modes" });
    runtimes.push(rt);
    const ring = join(dataDir, "recordings", TEST_CAMERA.key);
    for (let i = 0; i < 200 && !existsSync(ring); i++) await Bun.sleep(100);
    await rt.terminate();
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect({ data: mode(dataDir), recordings: mode(join(dataDir, "recordings")), ring: mode(ring) }).toEqual({ data: "750", recordings: "750", ring: "750" });
    expect({ db: mode(join(dataDir, "dashcam.db")), key: mode(join(dataDir, "secret.key")) }).toEqual({ db: "600", key: "600" });
  });
});

const IS_ROOT = process.getuid?.() === 0;

describe.skipIf(!IS_ROOT || !Bun.which("runuser"))("data directory the user cannot write", () => {
  test("run as nobody: one line naming the path, exit 2, nothing written", async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { mode: 0o755 }); // root's, not writable by nobody
    const configPath = join(dir, "dashcam.toml");
    writeFileSync(configPath, `data_dir = ${JSON.stringify(dataDir)}\n[http]\nlisten = "127.0.0.1:0"\n${CAMERA}`, { mode: 0o644 });
    const p = spawnProc(["runuser", "-u", "nobody", "--", BUN, MAIN, "run", "--config", configPath], { cwd: ROOT, env: { NO_COLOR: "1", HOME: "/tmp" } });
    const t = setTimeout(() => p.signalGroup("SIGKILL"), 60_000);
    const code = await p.exited;
    clearTimeout(t);
    const lines = p.stderr.filter((l) => l.trim() !== "");
    expect(code).toBe(2);
    expect(lines).toEqual([`dashcam run: data_dir: cannot write ${dataDir} (EACCES)`]);
    expect(readdirSync(dataDir)).toEqual([]);
  });
});

describe("config messages", () => {
  const error = (text: string) => {
    try {
      parseConfigText(text, "/tmp");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error("no error");
  };

  test("a typo'd key is named (not the key it replaced); a missing required key is called missing", () => {
    expect(error('[[cameras]]\nkey = "a"\nsorce = "testsrc"')).toBe('cameras[0].sorce: unknown key (did you mean "source"?)');
    expect(error('[[cameras]]\nkey = "a"')).toBe("cameras[0].source: missing (required)");
    expect(error('[[cameras]]\nsource = "testsrc"')).toBe("cameras[0].key: missing (required)");
    expect(error('colour = "red"')).toBe("colour: unknown key");
    expect(error('[http]\nlistn = "127.0.0.1:80"')).toBe('http.listn: unknown key (did you mean "listen"?)');
  });

  test("a TOML syntax error gives line and column", () => {
    expect(error('data_dir = "/tmp/x"\n[[cameras]]\nkey = "a"\nring_segments = = 3\n')).toMatch(/^TOML syntax error at line 4, column 1\d: .+$/);
    expect(error('data_dir = "unterminated\n')).toMatch(/^TOML syntax error at line 1, column \d+: .+$/);
  });

  test("through the CLI: the typo is named, one line, exit 2, nothing written", async () => {
    const r = await runWith('[[cameras]]\nkey = "cam"\nsorce = "testsrc"\n');
    expect({ code: r.code, lines: r.lines }).toEqual({ code: 2, lines: ['dashcam run: cameras[0].sorce: unknown key (did you mean "source"?)'] });
    expect(readdirSync(r.dir)).toEqual(["dashcam.toml"]);
  });
});

/** `dashcam user ...` with the password on stdin. */
async function userCli(args: string[], stdin = "") {
  const p = Bun.spawn([BUN, MAIN, "user", ...args], { cwd: ROOT, stdin: new Blob([stdin]), stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

describe("dashcam user passwd / unlock", () => {
  test("passwd changes the password and ends the user's sessions; bad input exits 2", async () => {
    const dir = tempDir();
    const configPath = writeConfig(dir, { data_dir: join(dir, "data"), cameras: [] });
    expect((await userCli(["add", "vera", "--role", "viewer", "--password-stdin", "--config", configPath], "first-password-1\n")).code).toBe(0);
    const db = new Database(join(dir, "data", "dashcam.db"));
    const userId = (db.query("SELECT id FROM users WHERE username = 'vera'").get() as { id: number }).id;
    db.query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ('h1', ?1, 'c', 0, 9e15)").run(userId);
    const before = (db.query("SELECT password_hash FROM users WHERE id = ?").get(userId) as { password_hash: string }).password_hash;

    const r = await userCli(["passwd", "vera", "--password-stdin", "--config", configPath], "second-password-2\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("password of vera changed; 1 session(s) ended");
    const after = (db.query("SELECT password_hash FROM users WHERE id = ?").get(userId) as { password_hash: string }).password_hash;
    expect(after).not.toBe(before);
    expect(await Bun.password.verify("second-password-2", after)).toBe(true);
    expect((db.query("SELECT COUNT(*) AS n FROM sessions").get() as { n: number }).n).toBe(0);

    for (const [args, stdin, text] of [
      [["passwd", "nobody-here", "--password-stdin"], "whatever-password\n", 'no user "nobody-here"'],
      [["passwd", "vera", "--password-stdin"], "short\n", "at least"],
      [["passwd", "vera"], "", "--password-stdin"],
      [["unlock"], "", "NAME"],
      [["unlock", "nobody-here"], "", 'no user "nobody-here"'],
    ] as [string[], string, string][]) {
      const bad = await userCli([...args, "--config", configPath], stdin);
      expect({ args, code: bad.code }).toEqual({ args, code: 2 });
      expect(bad.stderr.trim().split("\n")).toHaveLength(1);
      expect(bad.stderr).toContain(text);
    }
    expect((db.query("SELECT password_hash FROM users WHERE id = ?").get(userId) as { password_hash: string }).password_hash).toBe(after);
    db.close();
  });

  test("unlock through the running runtime's control socket clears its login lockout", async () => {
    const dir = tempDir();
    const dataDir = join(dir, "data");
    const configPath = writeConfig(dir, { data_dir: dataDir, cameras: [] });
    expect((await userCli(["add", "vera", "--role", "viewer", "--password-stdin", "--config", configPath], "right-password-1\n")).code).toBe(0);
    const rt = await startRuntime(configPath, { label: "unlock" });
    runtimes.push(rt);
    const attempt = async (password: string) => {
      const page = await fetch(`${rt.url}/login`);
      const cookie = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
      const res = await fetch(`${rt.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ username: "vera", password, _csrf: csrf }),
      });
      return res.status;
    };
    for (let i = 0; i < 5; i++) expect(await attempt("wrong-password-x")).toBe(401);
    expect(await attempt("right-password-1")).toBe(429);

    const r = await userCli(["unlock", "vera", "--config", configPath]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("vera unlocked (the running runtime forgot its failed logins)");
    expect(await attempt("right-password-1")).toBe(303);

    const again = await userCli(["unlock", "vera", "--config", configPath]);
    expect(again.stdout.trim()).toBe("vera was not locked out");
    await rt.terminate();
    const offline = await userCli(["unlock", "vera", "--config", configPath]);
    expect(offline.code).toBe(0);
    expect(offline.stdout.trim()).toBe("vera is not locked out (no runtime is running; lockouts live in its memory)");
    expect(statSync(dataDir).isDirectory()).toBe(true);
  });
});
