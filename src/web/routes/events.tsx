/** @jsxImportSource hono/jsx */
/**
 * `GET /events?camera=KEY&level=L&q=TEXT&before=ID&details=1&kind=K` — what happened, newest
 * first, 50 per page (cursor paging by id), each event as a sentence in plain words
 * (../words.ts). Technical details are hidden by default: `debug`-level events are left out and
 * the recorder's bookkeeping kinds (`TECHNICAL_KINDS`: per-segment locks, retention, ...) are
 * left out and kind names are not shown; `details=1` (the "Show technical details" toggle)
 * shows all of them and the kind filter. `q` matches text in the message or kind (case-insensitive, at most 64
 * characters). Without filters, new events are prepended live over SSE.
 */
import { Hono } from "hono";
import * as v from "valibot";
import { eventKinds, listEvents } from "../../db/views.ts";
import { cameraByKey, listCameras } from "../../db/cameras.ts";
import { EventItem } from "../components/Events.tsx";
import { TECHNICAL_KINDS } from "../words.ts";
import { Pager } from "../components/Pager.tsx";
import type { WebEnv } from "../env.ts";
import { CameraKey, Id, unknownCamera, valid } from "../validate.ts";
import { CameraSelect } from "../components/CameraSelect.tsx";

export const EVENTS_PER_PAGE = 50;
const LEVELS = ["debug", "info", "warn", "error"] as const;

const EventsQuery = v.object({
  kind: v.optional(v.union([v.literal(""), v.pipe(v.string(), v.regex(/^[a-z0-9_.:-]{1,64}$/, "is not an event kind"))])),
  camera: v.optional(v.union([v.literal(""), CameraKey])),
  level: v.optional(v.picklist(["", ...LEVELS], "must be debug, info, warn or error")),
  q: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(64, "is too long (at most 64 characters)"))),
  before: v.optional(Id),
  details: v.optional(v.picklist(["", "0", "1"], "must be 0 or 1")),
});

const LEVEL_LABELS: Record<(typeof LEVELS)[number], string> = { debug: "details", info: "info", warn: "warnings", error: "problems" };

export function eventRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/", valid("query", EventsQuery), (c) => {
    const { db } = c.var.deps;
    const q = c.req.valid("query");
    const details = q.details === "1";
    const kind = (details && q.kind) || undefined;
    const level = q.level || undefined;
    const cam = q.camera ? (cameraByKey(db, q.camera) ?? unknownCamera(q.camera)) : null;
    const text = q.q || undefined;
    const rows = listEvents(db, { kind, level, cameraId: cam?.id, text, before: q.before, hideDebug: !details && level !== "debug", hideKinds: details ? undefined : TECHNICAL_KINDS, limit: EVENTS_PER_PAGE + 1 });
    const more = rows.length > EVENTS_PER_PAGE;
    const shown = rows.slice(0, EVENTS_PER_PAGE);
    const filtered = Boolean(kind || level || cam || text || details);
    const params = new URLSearchParams();
    if (kind) params.set("kind", kind);
    if (cam) params.set("camera", cam.key);
    if (level) params.set("level", level);
    if (text) params.set("q", text);
    if (details) params.set("details", "1");
    const link = (before?: number) => {
      const p = new URLSearchParams(params);
      if (before !== undefined) p.set("before", String(before));
      const s = p.toString();
      return s ? `/events?${s}` : "/events";
    };
    const toggleParams = new URLSearchParams(params);
    if (details) {
      toggleParams.delete("details");
      toggleParams.delete("kind");
    } else toggleParams.set("details", "1");
    const toggleDetails = toggleParams.size ? `/events?${toggleParams}` : "/events";
    const cameras = listCameras(db);
    const names = new Map(cameras.map((x) => [x.key, x.name]));
    return c.render(
      <>
        <h1>Events</h1>
        <form class="filters card" method="get" action="/events">
          {details ? (
            <label>
              Kind
              <select name="kind">
                <option value="">all</option>
                {eventKinds(db).map((k) => (
                  <option value={k} selected={k === kind}>
                    {k}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <CameraSelect cameras={cameras} selected={cam?.key} />
          <label>
            Show
            <select name="level">
              <option value="">everything</option>
              {LEVELS.filter((l) => details || l !== "debug").map((l) => (
                <option value={l} selected={l === level}>
                  {LEVEL_LABELS[l]}
                </option>
              ))}
            </select>
          </label>
          <label>
            Text
            <input type="search" name="q" value={text ?? ""} maxlength={64} placeholder="e.g. export" />
          </label>
          {details ? <input type="hidden" name="details" value="1" /> : null}
          <button type="submit">Filter</button>
          {filtered ? (
            <a class="button" href="/events">
              Clear
            </a>
          ) : null}
        </form>
        <p class="action-row">
          <a class="button" href={toggleDetails} aria-pressed={details ? "true" : "false"} role="button">
            {details ? "Hide technical details" : "Show technical details"}
          </a>
        </p>
        {shown.length === 0 ? <p class="card">No events{filtered ? " match this filter" : ""}.</p> : null}
        <ol class="events" {...(!filtered && q.before === undefined ? { "sse-swap": "event-log", "hx-swap": "afterbegin" } : {})}>
          {shown.map((ev) => (
            <EventItem ev={ev} cameraName={ev.camera_key ? names.get(ev.camera_key) : null} details={details} />
          ))}
        </ol>
        <Pager
          prev={q.before !== undefined ? link() : null}
          next={more ? link(shown[shown.length - 1].id) : null}
        />
      </>,
      { title: "Events", nav: "events" },
    );
  });
  return app;
}
