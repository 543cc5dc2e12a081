#!/usr/bin/env bun
/**
 * The arm64 ffmpeg that ships next to the dashcam binary in `dist/release-arm64/`.
 *
 * It comes from the npm package `@ffmpeg-installer/linux-arm64@4.1.4` (a static ffmpeg 4.1
 * build by johnvansickle.com, GPLv3). That package cannot be `npm install`ed on an x64 build
 * machine (its `cpu` field is arm64), so it is fetched with `npm pack` into the build cache and
 * `package/ffmpeg` is extracted. `bun deploy/fetch-arm64-ffmpeg.ts` prints the path.
 */
import { join } from "node:path";
import { cacheDir, elfArch, extractMember, npmPack } from "./npm-pack.ts";

/** Exact package pinned for releases. */
export const ARM64_FFMPEG_SPEC = "@ffmpeg-installer/linux-arm64@4.1.4";

/**
 * Returns the path of the extracted arm64 ffmpeg (cached). Throws when npm cannot fetch the
 * package or the file is not an AArch64 ELF executable.
 */
export function fetchArm64Ffmpeg(): string {
  const tgz = npmPack(ARM64_FFMPEG_SPEC);
  const dest = join(cacheDir(), "ffmpeg-linux-arm64-4.1.4");
  extractMember(tgz, "package/ffmpeg", dest);
  if (elfArch(dest) !== "arm64") throw new Error(`${dest} is not an arm64 executable`);
  return dest;
}

if (import.meta.main) console.log(fetchArm64Ffmpeg());
