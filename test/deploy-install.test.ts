/**
 * deploy/install.sh, run for real into a temporary root (`--destdir`), never touching the system:
 * the account tools write the temp root's etc/passwd, group, shadow, gshadow (shadow's
 * `--prefix`), files get their owners and modes, a second run changes nothing it should keep.
 * Also: the systemd unit's contract (and `systemd-analyze verify` when systemd is installed) and
 * the example configuration passes the program's own config validation.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EXAMPLE_CONFIG } from "../deploy/build.ts";
import { parseConfigText } from "../src/config.ts";

const REPO = resolve(import.meta.dir, "..");
const DEPLOY = join(REPO, "deploy");
const IS_ROOT = process.getuid?.() === 0;
const HAS_SHADOW_PREFIX = !!Bun.which("useradd") && /--prefix/.test(Bun.spawnSync(["useradd", "--help"]).stdout.toString());

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A release folder with the real install.sh, unit and guide, and stand-ins for the two binaries. */
function fakeRelease(version: string): string {
  const dir = mkdtempSync(join(tmpdir(), "dashcam-release-"));
  temps.push(dir);
  for (const f of ["install.sh", "dashcam.service", "GUIDE.md"]) copyFileSync(join(DEPLOY, f), join(dir, f));
  writeFileSync(join(dir, "dashcam"), `#!/bin/sh\necho "dashcam ${version} (test)"\n`, { mode: 0o755 });
  writeFileSync(join(dir, "ffmpeg"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(join(dir, "dashcam.toml.example"), EXAMPLE_CONFIG);
  return dir;
}

/** A temp root with minimal account files: root, and group `video` (gpio is missing on purpose). */
function fakeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "dashcam-root-"));
  temps.push(root);
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nvideo:x:44:\n");
  writeFileSync(join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\n", { mode: 0o640 });
  writeFileSync(join(root, "etc/gshadow"), "root:*::\nvideo:!::\n", { mode: 0o640 });
  return root;
}

function install(release: string, args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(["/bin/sh", join(release, "install.sh"), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

const mode = (p: string) => statSync(p).mode & 0o777;
const owner = (p: string) => `${statSync(p).uid}:${statSync(p).gid}`;
const entry = (file: string, name: string) =>
  readFileSync(file, "utf8").split("\n").find((l) => l.startsWith(`${name}:`))?.split(":") ?? null;

describe.skipIf(!IS_ROOT || !HAS_SHADOW_PREFIX)("install.sh into a temporary root", () => {
  test("creates user, groups, folders and files with their owners and modes; a second run keeps them", () => {
    const root = fakeRoot();
    const release = fakeRelease("1.0.0");
    const first = install(release, ["--destdir", root, "--prefix", "/opt/dc"]);
    if (first.code !== 0) throw new Error(first.out);

    const user = entry(join(root, "etc/passwd"), "dashcam");
    expect(user).not.toBeNull();
    const [, , uid, gid, , home, shell] = user!;
    expect(home).toBe("/var/lib/dashcam");
    expect(shell).toMatch(/nologin|false$/);
    expect(entry(join(root, "etc/group"), "dashcam")![2]).toBe(gid);
    for (const g of ["video", "gpio"]) expect(entry(join(root, "etc/group"), g)![3].split(",")).toContain("dashcam");
    expect(entry(join(root, "etc/group"), "video")![2]).toBe("44"); // existing group kept

    const bin = join(root, "opt/dc/bin");
    expect(readFileSync(join(bin, "dashcam"), "utf8")).toContain("1.0.0");
    expect(mode(join(bin, "dashcam"))).toBe(0o755);
    expect(mode(join(bin, "ffmpeg"))).toBe(0o755);
    expect(owner(join(bin, "dashcam"))).toBe("0:0");
    expect(readlinkSync(join(root, "usr/local/bin/dashcam"))).toBe("/opt/dc/bin/dashcam");

    const cfg = join(root, "etc/dashcam/dashcam.toml");
    expect(readFileSync(cfg, "utf8")).toBe(EXAMPLE_CONFIG);
    expect(mode(cfg)).toBe(0o640);
    expect(owner(cfg)).toBe(`0:${gid}`);
    expect(mode(join(root, "etc/dashcam"))).toBe(0o750);

    const data = join(root, "var/lib/dashcam");
    expect(owner(data)).toBe(`${uid}:${gid}`);
    expect(mode(data)).toBe(0o750);
    const key = join(data, "secret.key");
    expect(readFileSync(key, "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    expect(mode(key)).toBe(0o600);
    expect(owner(key)).toBe(`${uid}:${gid}`);

    const unit = readFileSync(join(root, "etc/systemd/system/dashcam.service"), "utf8");
    expect(unit).toContain("ExecStart=/opt/dc/bin/dashcam run --config /etc/dashcam/dashcam.toml");
    expect(unit).not.toContain("/opt/dashcam/bin");
    expect(existsSync(join(root, "etc/udev/rules.d/60-dashcam-gpiochip.rules"))).toBe(true); // gpio group was created

    // Update: new binary, the user edited the config, the database exists with loose modes.
    const passwd = readFileSync(join(root, "etc/passwd"), "utf8");
    const group = readFileSync(join(root, "etc/group"), "utf8");
    const keyText = readFileSync(key, "utf8");
    writeFileSync(cfg, EXAMPLE_CONFIG.replace('source = "rpicam"', 'source = "v4l2:/dev/video0"'));
    for (const f of ["dashcam.db", "dashcam.db-wal"]) {
      writeFileSync(join(data, f), "x");
      chmodSync(join(data, f), 0o644);
    }
    const release2 = fakeRelease("1.1.0");
    const second = install(release2, ["--destdir", root, "--prefix", "/opt/dc"]);
    if (second.code !== 0) throw new Error(second.out);
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toBe(passwd);
    expect(readFileSync(join(root, "etc/group"), "utf8")).toBe(group);
    expect(readFileSync(join(bin, "dashcam"), "utf8")).toContain("1.1.0");
    expect(readFileSync(cfg, "utf8")).toContain('source = "v4l2:/dev/video0"');
    expect(readFileSync(key, "utf8")).toBe(keyText);
    for (const f of ["dashcam.db", "dashcam.db-wal"]) {
      expect(mode(join(data, f))).toBe(0o600);
      expect(owner(join(data, f))).toBe(`${uid}:${gid}`);
    }
    expect(lstatSync(join(root, "usr/local/bin/dashcam")).isSymbolicLink()).toBe(true);
  });
});

describe("install.sh arguments", () => {
  test("an unknown option and a relative prefix are refused with exit 2 before anything is written", () => {
    const release = fakeRelease("1.0.0");
    const root = mkdtempSync(join(tmpdir(), "dashcam-root-"));
    temps.push(root);
    const bad = install(release, ["--destdir", root, "--frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain("unknown option --frobnicate");
    const rel = install(release, ["--destdir", root, "--prefix", "opt/dashcam"]);
    expect(rel.code).toBe(2);
    expect(rel.out).toContain("absolute");
    expect(Bun.spawnSync(["find", root, "-mindepth", "1"]).stdout.toString()).toBe("");
  });
});

describe("systemd unit and example config", () => {
  const unit = readFileSync(join(DEPLOY, "dashcam.service"), "utf8");
  const value = (key: string) =>
    unit
      .split("\n")
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));

  test("restarts always, runs as dashcam with its state directory and config, stops by SIGTERM within its timeout", () => {
    expect(value("Restart")).toEqual(["always"]);
    expect(value("User")).toEqual(["dashcam"]);
    expect(value("StateDirectory")).toEqual(["dashcam"]);
    expect(value("Environment")).toContain("DASHCAM_CONFIG=/etc/dashcam/dashcam.toml");
    expect(value("ExecStart")[0]).toContain("--config /etc/dashcam/dashcam.toml");
    expect(value("KillSignal")).toEqual(["SIGTERM"]);
    expect(value("KillMode")).toEqual(["mixed"]);
    const stop = Number(/^(\d+)s?$/.exec(value("TimeoutStopSec")[0])![1]);
    expect(stop).toBeGreaterThan(5);
    expect(value("SupplementaryGroups")[0].split(" ").sort()).toEqual(["gpio", "video"]);
    // Devices must stay reachable and the JIT must be allowed to run.
    expect(value("PrivateDevices")).not.toContain("yes");
    expect(value("DevicePolicy")).not.toContain("closed");
    expect(value("MemoryDenyWriteExecute")).not.toContain("yes");
  });

  test("hardening: other users' processes hidden, no privilege gain, read-only system except the data directory, private /tmp, no home directories; devices stay reachable", () => {
    const one = (key: string) => {
      const v = value(key);
      expect({ key, count: v.length }).toEqual({ key, count: 1 });
      return v[0];
    };
    expect(one("ProtectProc")).toBe("invisible");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("ReadWritePaths").split(/\s+/)).toContain("/var/lib/dashcam");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("ProtectHome")).toBe("yes");
    expect(one("UMask")).toBe("0077");
    expect(one("StateDirectoryMode")).toBe("0750");
    for (const key of ["ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "RestrictSUIDSGID", "LockPersonality"]) expect(one(key)).toBe("yes");
    expect(one("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE");
    // the GPIO chip and the cameras are reached through these groups, not through a device allow-list
    expect(one("SupplementaryGroups").split(" ").sort()).toEqual(["gpio", "video"]);
  });

  test.skipIf(!Bun.which("systemd-analyze"))("systemd-analyze verify reports nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "dashcam-unit-"));
    temps.push(dir);
    // verify also checks that ExecStart exists: point it at a real executable.
    writeFileSync(join(dir, "dashcam.service"), unit.replaceAll("/opt/dashcam/bin/dashcam", "/bin/true"));
    const r = Bun.spawnSync(["systemd-analyze", "verify", join(dir, "dashcam.service")], { stdout: "pipe", stderr: "pipe" });
    const out = (r.stdout.toString() + r.stderr.toString()).trim();
    expect(out).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("the example config is valid for the program and records one camera into /var/lib/dashcam", () => {
    const cfg = parseConfigText(EXAMPLE_CONFIG, "/etc/dashcam", "/etc/dashcam/dashcam.toml");
    expect(cfg.data_dir).toBe("/var/lib/dashcam");
    expect(cfg.cameras.length).toBe(1);
    expect(cfg.http.listen).toBe("0.0.0.0:80");
    expect(cfg.gpio?.save_line).toBe(17);
    expect(cfg.gpio?.active_low).toBe(true);
  });
});
