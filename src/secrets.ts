/**
 * Camera URL protection (seed 004 security): the SHA-256 `url_hash` identifies a URL without
 * revealing it; the URL itself is stored only encrypted with AES-256-GCM.
 *
 * The 32-byte key comes from `DASHCAM_SECRET_KEY` (64 hex chars or base64), else from
 * `<data_dir>/secret.key`, created 0600 on first use. `keyRef` names where it came from
 * (`env:DASHCAM_SECRET_KEY` or `file:secret.key`) and goes to `cameras.encryption_key_ref`.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, chmodSync } from "node:fs";
import { createFileAtomic } from "./fsx.ts";
import { join } from "node:path";
import { KEY_FILE } from "./paths.ts";

export interface SecretKey {
  key: Buffer;
  keyRef: string;
}

/** SHA-256 hex of a URL. */
export function urlHash(url: string): string {
  return createHash("sha256").update(url).digest("hex");
}

function decodeKey(text: string): Buffer {
  const t = text.trim();
  const buf = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (buf.length !== 32) throw new Error("secret key must be 32 bytes (64 hex characters or base64)");
  return buf;
}

/** Loads (or, with `create`, makes) the key. Throws when the key material is malformed. */
export function loadSecretKey(dataDir: string, create = true): SecretKey | null {
  const env = process.env.DASHCAM_SECRET_KEY;
  if (env) return { key: decodeKey(env), keyRef: "env:DASHCAM_SECRET_KEY" };
  const file = join(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    if (!create) return null;
    // never replaced once made: a second writer racing this one gets EEXIST and reads the winner's key
    try {
      createFileAtomic(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  chmodSync(file, 0o600);
  return { key: decodeKey(readFileSync(file, "utf8")), keyRef: `file:${KEY_FILE}` };
}

/** Encrypts to base64(iv[12] || ciphertext || tag[16]). */
export function encrypt(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64");
}

/** Decrypts what `encrypt` made. Throws on a wrong key or tampered data. */
export function decrypt(key: Buffer, encoded: string): string {
  const raw = Buffer.from(encoded, "base64");
  const iv = raw.subarray(0, 12);
  const tag = raw.subarray(raw.length - 16);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString("utf8");
}
