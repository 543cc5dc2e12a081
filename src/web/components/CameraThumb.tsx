/** @jsxImportSource hono/jsx */
/**
 * A camera's current picture, the one place the UI shows it (home screen tiles, camera page):
 * today the newest keyframe as a JPEG (`GET /cameras/<key>/snapshot.jpg`), refreshed by
 * client.js every `data-refresh` seconds while the page is visible; the live player or a
 * current-frame endpoint can replace the `<img>` here without touching the pages. When no
 * picture can be made (no footage yet: no request at all; camera unreachable) client.js hides the image and the
 * box shows "<camera>: no picture yet".
 */
import type { FC } from "hono/jsx";

export const CameraThumb: FC<{ cameraKey: string; name: string; hasFootage: boolean; refreshSeconds?: number }> = ({
  cameraKey,
  name,
  hasFootage,
  refreshSeconds = 15,
}) => (
  <a class="cam-thumb-box" href={`/cameras/${cameraKey}`}>
    <span class="cam-thumb-empty">{name}: no picture yet</span>
    {hasFootage ? (
      <img
        class="cam-thumb"
        src={`/cameras/${cameraKey}/snapshot.jpg`}
        alt={`${name}: latest picture`}
        width="320"
        height="180"
        data-hide-on-error
        data-refresh={String(refreshSeconds)}
      />
    ) : null}
  </a>
);
