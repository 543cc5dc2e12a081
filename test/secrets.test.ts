/**
 * Camera URL protection (seed 004): only a SHA-256 hash and AES-256-GCM ciphertext reach the
 * database; the key file is 0600; a wrong key or tampered ciphertext is refused.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decrypt, encrypt, loadSecretKey, urlHash } from "../src/secrets.ts";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { parseConfigText } from "../src/config.ts";

const dir = mkdtempSync(join(tmpdir(), "dashcam-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("camera URL secrets", () => {
  test("key file is created 0600 and reused", () => {
    const a = loadSecretKey(dir)!;
    expect(statSync(join(dir, "secret.key")).mode & 0o777).toBe(0o600);
    const b = loadSecretKey(dir)!;
    expect(b.key.equals(a.key)).toBe(true);
    expect(a.keyRef).toBe("file:secret.key");
  });

  test("encrypt/decrypt round trip; wrong key and tampering are refused", () => {
    const { key } = loadSecretKey(dir)!;
    const url = "rtsp://admin:hunter2@192.0.2.7:554/stream1";
    const enc = encrypt(key, url);
    expect(enc).not.toContain("hunter2");
    expect(decrypt(key, enc)).toBe(url);
    const other = Buffer.alloc(32, 7);
    expect(() => decrypt(other, enc)).toThrow();
    const raw = Buffer.from(enc, "base64");
    raw[14] ^= 1;
    expect(() => decrypt(key, raw.toString("base64"))).toThrow();
    expect(urlHash(url)).toMatch(/^[0-9a-f]{64}$/);
  });

  test("syncCameras stores no URL in clear, keeps ids stable and disables removed cameras", () => {
    const secret = loadSecretKey(dir)!;
    const db = openDatabase(join(dir, "dashcam.db"));
    const two = parseConfigText(
      '[[cameras]]\nkey = "front"\nsource = "rtsp://admin:hunter2@192.0.2.7/s"\n[[cameras]]\nkey = "rear"\nsource = "testsrc"\nring_segments = 10',
      dir,
    );
    const ids = syncCameras(db, two.cameras, secret);
    expect([...ids.keys()]).toEqual(["front", "rear"]);
    const again = syncCameras(db, two.cameras.slice(0, 1), secret);
    expect(again.get("front")).toBe(ids.get("front"));
    const rows = db.query("SELECT key, enabled FROM cameras ORDER BY key").all();
    expect(rows).toEqual([{ key: "front", enabled: 1 }, { key: "rear", enabled: 0 }]);
    expect(db.query("SELECT ring_capacity FROM camera_state WHERE camera_id = ?").get(ids.get("rear")!)).toEqual({ ring_capacity: 10 });
    db.close();
    for (const f of ["dashcam.db", "dashcam.db-wal"]) {
      expect(readFileSync(join(dir, f)).includes("hunter2")).toBe(false);
    }
  });
});
