/**
 * HLS media playlists (RFC 8216) over ring segments, without transcoding: the MPEG-TS files
 * the recorder wrote are the HLS segments.
 *
 * - `#EXT-X-TARGETDURATION` = ceil(longest segment in seconds) (RFC 8216 4.3.3.1: every
 *   EXTINF rounded to the nearest integer must be <= it).
 * - `#EXTINF` per segment = (end_utc - start_utc) / 1000 s, 3 decimals.
 * - `#EXT-X-PROGRAM-DATE-TIME` on every segment: its start_utc as ISO 8601, so players show
 *   wall-clock time and can seek by it.
 * - `#EXT-X-DISCONTINUITY` before a segment that starts a new ffmpeg run or follows missing
 *   footage, because each ffmpeg run restarts its timestamps and the player must reset its
 *   timestamp mapping there. VOD/EVENT playlists mark: a recording gap (more than 3 s between
 *   the previous segment's end and this start, or a `recording_gaps` row ending at this start),
 *   a missing absolute index, and any other mismatch of more than `RUN_BREAK_MS` between the
 *   previous end and this start (the recorder anchors all segments of one run to one clock
 *   reading, so segments of a run are contiguous to the millisecond; a mismatch means a quick
 *   restart). Live playlists mark only gap rows, so that `#EXT-X-DISCONTINUITY-SEQUENCE`
 *   (gap rows that slid out of the window) stays consistent from one reload to the next.
 * - kind "vod": `#EXT-X-PLAYLIST-TYPE:VOD` + `#EXT-X-ENDLIST` (a closed trip);
 *   kind "event": `#EXT-X-PLAYLIST-TYPE:EVENT`, no ENDLIST (an open trip, the player reloads);
 *   kind "live": sliding window, `#EXT-X-MEDIA-SEQUENCE` = absolute index of the first
 *   segment, `#EXT-X-DISCONTINUITY-SEQUENCE` given by the caller.
 */
import { GAP_THRESHOLD_MS } from "../db/views.ts";

export interface PlaylistSegment {
  absolute_index: number;
  start_utc: number;
  end_utc: number;
}

export interface PlaylistOptions {
  kind: "vod" | "event" | "live";
  segments: PlaylistSegment[];
  uri: (seg: PlaylistSegment) => string;
  /** `gap_end` values of recording_gaps rows: a segment starting at one follows a gap. */
  gapEnds?: Set<number>;
  /** live only: discontinuities that already slid out of the window. */
  discontinuitySequence?: number;
}

/** Segment duration in seconds (never below 1 ms, so a bad row cannot produce EXTINF:0). */
export const segmentSeconds = (s: PlaylistSegment) => Math.max(1, s.end_utc - s.start_utc) / 1000;

/** A start/end mismatch above this (ms) between consecutive segments means a new ffmpeg run. */
export const RUN_BREAK_MS = 250;

/**
 * True when `seg` needs `#EXT-X-DISCONTINUITY` after `prev` (see module doc); `gapRowsOnly`
 * (live playlists) considers only `gapEnds`.
 */
export function followsGap(prev: PlaylistSegment | undefined, seg: PlaylistSegment, gapEnds?: Set<number>, gapRowsOnly = false): boolean {
  if (!prev) return false;
  if (gapEnds?.has(seg.start_utc)) return true;
  if (gapRowsOnly) return false;
  return (
    seg.start_utc - prev.end_utc > GAP_THRESHOLD_MS ||
    Math.abs(seg.start_utc - prev.end_utc) > RUN_BREAK_MS ||
    seg.absolute_index !== prev.absolute_index + 1
  );
}

/** Builds the playlist text (LF line ends, trailing newline). */
export function buildPlaylist(o: PlaylistOptions): string {
  const maxSeconds = o.segments.reduce((m, s) => Math.max(m, segmentSeconds(s)), 0);
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(maxSeconds))}`];
  if (o.kind === "vod") lines.push("#EXT-X-PLAYLIST-TYPE:VOD");
  if (o.kind === "event") lines.push("#EXT-X-PLAYLIST-TYPE:EVENT");
  if (o.kind === "live") {
    lines.push(`#EXT-X-MEDIA-SEQUENCE:${o.segments[0]?.absolute_index ?? 0}`);
    lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${o.discontinuitySequence ?? 0}`);
  } else {
    lines.push("#EXT-X-MEDIA-SEQUENCE:0");
  }
  lines.push("#EXT-X-INDEPENDENT-SEGMENTS");
  let prev: PlaylistSegment | undefined;
  for (const seg of o.segments) {
    if (followsGap(prev, seg, o.gapEnds, o.kind === "live")) lines.push("#EXT-X-DISCONTINUITY");
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(seg.start_utc).toISOString()}`);
    lines.push(`#EXTINF:${segmentSeconds(seg).toFixed(3)},`);
    lines.push(o.uri(seg));
    prev = seg;
  }
  if (o.kind === "vod") lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

/** The playlist content type (RFC 8216 4). */
export const PLAYLIST_TYPE = "application/vnd.apple.mpegurl";
