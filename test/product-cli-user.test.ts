/**
 * `dashcam user add NAME --role R --password-stdin --config FILE` as a real process
 * (`bun src/main.ts`), the password piped on stdin; the result checked in the real database.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { verifyLogin } from "../src/db/users.ts";

const root = mkdtempSync(join(tmpdir(), "product-cli-user-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const MAIN = join(import.meta.dir, "..", "src", "main.ts");

function setup(name: string) {
  const dir = join(root, name);
  const dataDir = join(dir, "data");
  const config = join(dir, "dashcam.toml");
  mkdirSync(dir, { recursive: true });
  writeFileSync(config, `data_dir = "${dataDir}"\n`);
  return { dataDir, config, db: join(dataDir, "dashcam.db") };
}

async function cli(args: string[], stdin: string) {
  const p = Bun.spawn([process.execPath, MAIN, ...args], { stdin: new Blob([stdin]), stdout: "pipe", stderr: "pipe", env: { ...process.env } });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

describe("dashcam user add", () => {
  test("creates the user with an argon2id hash; the password came from stdin only", async () => {
    const s = setup("ok");
    const r = await cli(["user", "add", "alice", "--role", "admin", "--password-stdin", "--config", s.config], "s3cret pass phrase\nignored second line\n");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("alice");
    const db = openDatabase(s.db);
    try {
      const row = db.query("SELECT username, role, password_hash FROM users").get() as { username: string; role: string; password_hash: string };
      expect(row.username).toBe("alice");
      expect(row.role).toBe("admin");
      expect(row.password_hash).toStartWith("$argon2id$");
      expect(await verifyLogin(db, "alice", "s3cret pass phrase")).not.toBeNull();
      expect(db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'user.add'").get()).toEqual({ n: 1 });
    } finally {
      db.close();
    }
    // CRLF line ending (a Windows-made pipe) is stripped too
    const r2 = await cli(["user", "add", "bob", "--role", "viewer", "--password-stdin", "--config", s.config], "viewer pass\r\n");
    expect(r2.code).toBe(0);
    const db2 = openDatabase(s.db);
    expect(await verifyLogin(db2, "bob", "viewer pass")).not.toBeNull();
    db2.close();
  });

  test("duplicate name: one line, exit 2, nothing changed", async () => {
    const s = setup("dup");
    expect((await cli(["user", "add", "carol", "--role", "operator", "--password-stdin", "--config", s.config], "first password\n")).code).toBe(0);
    const r = await cli(["user", "add", "carol", "--role", "admin", "--password-stdin", "--config", s.config], "second password\n");
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain("already exists");
    const db = openDatabase(s.db);
    expect(db.query("SELECT role FROM users WHERE username = 'carol'").all()).toEqual([{ role: "operator" }]);
    expect(await verifyLogin(db, "carol", "first password")).not.toBeNull();
    db.close();
  });

  test("bad role, missing name, missing --password-stdin, short or empty password: one line, exit 2, no database written", async () => {
    const cases: [string[], string, RegExp][] = [
      [["user", "add", "dave", "--role", "root", "--password-stdin"], "long enough pw\n", /role must be one of admin, operator, viewer/],
      [["user", "add", "--role", "admin", "--password-stdin"], "long enough pw\n", /missing user NAME/],
      [["user", "add", "dave", "--password-stdin"], "long enough pw\n", /missing --role/],
      [["user", "add", "dave", "--role", "admin"], "long enough pw\n", /--password-stdin/],
      [["user", "add", "da ve", "--role", "admin", "--password-stdin"], "long enough pw\n", /username/],
      [["user", "add", "dave", "--role", "admin", "--password-stdin"], "short\n", /at least 8/],
      [["user", "add", "dave", "--role", "admin", "--password-stdin"], "", /empty password/],
      [["user", "add", "dave", "--role", "admin", "--password-stdin", "--bogus"], "long enough pw\n", /bogus/],
    ];
    for (const [i, [args, stdin, re]] of cases.entries()) {
      const s = setup(`bad${i}`);
      const r = await cli([...args, "--config", s.config], stdin);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.err).toMatch(re);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(existsSync(s.db)).toBe(false);
    }
  });
});
