/** @jsxImportSource hono/jsx */
/**
 * Segment timeline of one camera over a window [from, to) ms: recorded spans (consecutive
 * segments merged while the hole between them is at most 3 s, DESIGN.md invariant 5), recorded
 * gaps from `recording_gaps` (red), hour ticks. Every recorded span is a link that plays the
 * footage from its start (`/cameras/<key>/play?at=MS`, which finds the drive holding it). Drawn as an SVG with percentage coordinates so
 * it fits any width; an optional `marker` instant is drawn as a vertical line (and needs no inline styles, which the Content-Security-Policy forbids),
 * followed by the same information as a list that is easy to read and tap on a phone.
 */
import type { FC } from "hono/jsx";
import type { GapRow, SegmentRow } from "../../db/views.ts";
import { GAP_THRESHOLD_MS } from "../../db/views.ts";
import { formatDuration } from "../format.ts";
import { Time } from "./Time.tsx";

export interface Run {
  start: number;
  end: number;
  segments: number;
  bytes: number;
  firstAbsolute: number;
  lastAbsolute: number;
}

/** Merges segments (oldest first) into continuous recorded runs. */
export function computeRuns(segments: Pick<SegmentRow, "start_utc" | "end_utc" | "bytes" | "absolute_index">[]): Run[] {
  const runs: Run[] = [];
  for (const s of segments) {
    const last = runs[runs.length - 1];
    if (last && s.start_utc - last.end <= GAP_THRESHOLD_MS) {
      last.end = Math.max(last.end, s.end_utc);
      last.segments++;
      last.bytes += s.bytes ?? 0;
      last.lastAbsolute = s.absolute_index;
    } else {
      runs.push({
        start: s.start_utc,
        end: s.end_utc,
        segments: 1,
        bytes: s.bytes ?? 0,
        firstAbsolute: s.absolute_index,
        lastAbsolute: s.absolute_index,
      });
    }
  }
  return runs;
}

const TICK_STEPS_MS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * 60_000);

/** Tick instants for a window: about 4-8 ticks on whole minutes/hours (UTC-aligned). */
export function ticks(from: number, to: number): number[] {
  const span = to - from;
  const step = TICK_STEPS_MS.find((s) => span / s <= 8) ?? 1440 * 60_000;
  const out: number[] = [];
  for (let t = Math.ceil(from / step) * step; t < to; t += step) out.push(t);
  return out;
}

/** The link that plays a camera's footage from instant `at` (ms UTC) in the drive holding it. */
export const playHref = (cameraKey: string, at: number) => `/cameras/${cameraKey}/play?at=${Math.round(at)}`;

const pct = (x: number) => `${(Math.round(x * 10000) / 100).toFixed(2)}%`;

export const Timeline: FC<{ from: number; to: number; segments: SegmentRow[]; gaps: GapRow[]; cameraKey: string; marker?: number }> = ({
  from,
  to,
  segments,
  gaps,
  cameraKey,
  marker,
}) => {
  const span = Math.max(1, to - from);
  const x = (t: number) => Math.min(1, Math.max(0, (t - from) / span));
  const runs = computeRuns(segments);
  const recordedMs = runs.reduce((a, r) => a + Math.min(r.end, to) - Math.max(r.start, from), 0);
  return (
    <section class="card timeline" aria-label="Recording timeline">
      <svg class="tl" width="100%" height="56" role="group" aria-label={`${runs.length} recordings, ${gaps.length} interruptions`}>
        <rect class="tl-bg" x="0" y="8" width="100%" height="28" />
        {gaps.map((g) => (
          <rect class="tl-gap" x={pct(x(g.gap_start))} y="4" width={pct(Math.max(0.004, x(g.gap_end) - x(g.gap_start)))} height="36" />
        ))}
        {runs.map((r) => (
          <a href={playHref(cameraKey, Math.max(r.start, from))} aria-label="Play this recording">
            {/* a transparent, taller hit area: the tap target is 44 px high, the bar 28 */}
            <rect class="tl-hit" x={pct(x(r.start))} y="0" width={pct(Math.max(0.02, x(r.end) - x(r.start)))} height="44" />
            <rect
              class="tl-rec"
              x={pct(x(r.start))}
              y="8"
              width={pct(Math.max(0.005, x(r.end) - x(r.start)))}
              height="28"
              data-first={String(r.firstAbsolute)}
            />
          </a>
        ))}
        {marker !== undefined ? <line class="tl-marker" x1={pct(x(marker))} x2={pct(x(marker))} y1="0" y2="44" /> : null}
        {ticks(from, to).map((t) => (
          <>
            <line class="tl-tick" x1={pct(x(t))} x2={pct(x(t))} y1="36" y2="42" />
            {/* labels too close to an edge would be cut off on a narrow screen */}
            {x(t) >= 0.06 && x(t) <= 0.94 ? (
              <text class="tl-label" x={pct(x(t))} y="54" text-anchor="middle" data-t={String(t)} data-fmt="hm">
                {new Date(t).toISOString().slice(11, 16)}
              </text>
            ) : null}
          </>
        ))}
      </svg>
      <p class="muted">
        {runs.length === 0 ? "Nothing recorded in this window." : `${formatDuration(recordedMs)} recorded`}
        {gaps.length > 0 ? `, ${gaps.length} interruption${gaps.length === 1 ? "" : "s"}` : ""}
        {runs.length > 0 ? ". Tap a recording to play it from there." : ""}
      </p>
      <ul class="spans">
        {mergeForList(runs, gaps).map((item) =>
          item.kind === "run" ? (
            <li class="span-rec">
              <a class="span-play" href={playHref(cameraKey, Math.max(item.run.start, from))}>
                <span class="dot rec"></span>
                <span>
                  <Time ms={item.run.start} fmt="hm" /> – <Time ms={item.run.end} fmt="hm" />
                </span>
                <span class="muted"> {formatDuration(item.run.end - item.run.start)}</span>
                <span class="play-word">Play ▶</span>
              </a>
            </li>
          ) : (
            <li class="span-gap">
              <span class="dot gap"></span>
              Not recording <Time ms={item.gap.gap_start} fmt="hm" /> – <Time ms={item.gap.gap_end} fmt="hm" />
              <span class="muted"> {formatDuration(item.gap.gap_end - item.gap.gap_start)}</span>
            </li>
          ),
        )}
      </ul>
    </section>
  );
};

type ListItem = { kind: "run"; at: number; run: Run } | { kind: "gap"; at: number; gap: GapRow };

function mergeForList(runs: Run[], gaps: GapRow[]): ListItem[] {
  const items: ListItem[] = [
    ...runs.map((run) => ({ kind: "run" as const, at: run.start, run })),
    ...gaps.map((gap) => ({ kind: "gap" as const, at: gap.gap_start, gap })),
  ];
  return items.sort((a, b) => b.at - a.at).slice(0, 200);
}
