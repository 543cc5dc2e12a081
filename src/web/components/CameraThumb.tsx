/** @jsxImportSource hono/jsx */
/**
 * A camera's still picture, linking to its page: by default its current picture as a JPEG
 * (`GET /cameras/<key>/snapshot.jpg`: the current frame, or the newest recorded one when the
 * camera does not record now), or `src`; refreshed by client.js every `data-refresh` seconds
 * while the page is visible. When no picture can be made (no footage yet: no request at all;
 * camera unreachable) client.js hides the image and the box shows "<camera>: no picture yet".
 * A recording camera's tile shows its live view instead (CameraTile.tsx).
 */
import type { FC } from "hono/jsx";

export const CameraThumb: FC<{ cameraKey: string; name: string; hasFootage: boolean; refreshSeconds?: number; src?: string; alt?: string }> = ({
  cameraKey,
  name,
  hasFootage,
  refreshSeconds = 15,
  src,
  alt,
}) => (
  <a class="cam-thumb-box" href={`/cameras/${cameraKey}`}>
    <span class="cam-thumb-empty">{name}: no picture yet</span>
    {hasFootage ? (
      <img
        class="cam-thumb"
        src={src ?? `/cameras/${cameraKey}/snapshot.jpg`}
        alt={alt ?? `${name}: latest picture`}
        width="320"
        height="180"
        data-hide-on-error
        data-refresh={String(refreshSeconds)}
      />
    ) : null}
  </a>
);
