/** @jsxImportSource hono/jsx */
/**
 * Segment list rows (a `<tr>` per segment). `SegmentItem` is also the SSE fragment
 * `segment-<key>` that the camera page prepends to its recent-segments table. Each row's link
 * downloads the segment as an MP4 a phone plays (`/media/<key>/<index>.mp4`, remuxed on the fly;
 * client.js adds `?tzo=` for the file name).
 */
import type { FC } from "hono/jsx";
import type { SegmentRow } from "../../db/views.ts";
import { formatBytes, formatDuration } from "../format.ts";
import { Time } from "./Time.tsx";

export const SegmentItem: FC<{ seg: Pick<SegmentRow, "absolute_index" | "start_utc" | "end_utc" | "bytes" | "evidence_locked">; cameraKey: string }> = ({
  seg,
  cameraKey,
}) => (
  <tr>
    <td>
      <a href={`/media/${cameraKey}/${seg.absolute_index}.mp4`} download data-tzo>
        #{seg.absolute_index}
      </a>
      {seg.evidence_locked ? <span class="badge saved">locked</span> : null}
    </td>
    <td>
      <Time ms={seg.start_utc} fmt="time" />
    </td>
    <td>{formatDuration(seg.end_utc - seg.start_utc)}</td>
    <td>{formatBytes(seg.bytes)}</td>
  </tr>
);

export const SegmentTable: FC<{ segments: SegmentRow[]; cameraKey: string; live?: boolean }> = ({ segments, cameraKey, live }) => (
  <div class="table-wrap">
    <table class="list">
      <thead>
        <tr>
          <th>Segment</th>
          <th>Start</th>
          <th>Length</th>
          <th>Size</th>
        </tr>
      </thead>
      <tbody {...(live ? { "sse-swap": `segment-${cameraKey}`, "hx-swap": "afterbegin" } : {})}>
        {segments.map((s) => (
          <SegmentItem seg={s} cameraKey={cameraKey} />
        ))}
      </tbody>
    </table>
  </div>
);
