/**
 * The app icons (web app manifest, apple-touch-icon), drawn in code instead of committed as
 * binary files: a red recording dot inside a blue lens ring on the UI's dark background
 * (`#0f1216`), all inside the central 60 % so the icon also works as a maskable icon (the W3C
 * manifest's safe zone is the central 80 % circle). Square, `size` x `size` pixels, PNG (pngjs).
 */
import { PNG } from "pngjs";

/** RGB of the background, the ring and the dot. */
const BACKGROUND = [15, 18, 22] as const;
const RING = [78, 161, 255] as const;
const DOT = [239, 79, 79] as const;

/** Returns the icon as PNG bytes. Radii as fractions of `size`: dot 0.16, ring 0.25-0.30. */
export function renderAppIcon(size: number): Uint8Array {
  const data = new Uint8Array(size * size * 4);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - c, y - c);
      const rgb = r < size * 0.16 ? DOT : r < size * 0.3 && r > size * 0.25 ? RING : BACKGROUND;
      const i = (y * size + x) * 4;
      data[i] = rgb[0];
      data[i + 1] = rgb[1];
      data[i + 2] = rgb[2];
      data[i + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write({ width: size, height: size, data }));
}
