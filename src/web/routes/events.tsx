/** @jsxImportSource hono/jsx */
/**
 * `GET /events?kind=K&camera=KEY&level=L&q=TEXT&before=ID` — the event log, newest first, 50
 * per page (cursor paging by id). `q` matches text in the message or kind (case-insensitive,
 * at most 64 characters). Without filters, new events are prepended live over SSE.
 */
import { Hono } from "hono";
import * as v from "valibot";
import { eventKinds, listEvents } from "../../db/views.ts";
import { cameraByKey, listCameras } from "../../db/cameras.ts";
import { EventItem } from "../components/Events.tsx";
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
});

export function eventRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/", valid("query", EventsQuery), (c) => {
    const { db } = c.var.deps;
    const q = c.req.valid("query");
    const kind = q.kind || undefined;
    const level = q.level || undefined;
    const cam = q.camera ? (cameraByKey(db, q.camera) ?? unknownCamera(q.camera)) : null;
    const text = q.q || undefined;
    const rows = listEvents(db, { kind, level, cameraId: cam?.id, text, before: q.before, limit: EVENTS_PER_PAGE + 1 });
    const more = rows.length > EVENTS_PER_PAGE;
    const shown = rows.slice(0, EVENTS_PER_PAGE);
    const filtered = Boolean(kind || level || cam || text);
    const params = new URLSearchParams();
    if (kind) params.set("kind", kind);
    if (cam) params.set("camera", cam.key);
    if (level) params.set("level", level);
    if (text) params.set("q", text);
    const link = (before?: number) => {
      const p = new URLSearchParams(params);
      if (before !== undefined) p.set("before", String(before));
      const s = p.toString();
      return s ? `/events?${s}` : "/events";
    };
    const kinds = eventKinds(db);
    return c.render(
      <>
        <h1>Events</h1>
        <form class="filters card" method="get" action="/events">
          <label>
            Kind
            <select name="kind">
              <option value="">all</option>
              {kinds.map((k) => (
                <option value={k} selected={k === kind}>
                  {k}
                </option>
              ))}
            </select>
          </label>
          <CameraSelect cameras={listCameras(db)} selected={cam?.key} />
          <label>
            Level
            <select name="level">
              <option value="">all</option>
              {LEVELS.map((l) => (
                <option value={l} selected={l === level}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            Text
            <input type="search" name="q" value={text ?? ""} maxlength={64} placeholder="e.g. export" />
          </label>
          <button type="submit">Filter</button>
          {filtered ? (
            <a class="button" href="/events">
              Clear
            </a>
          ) : null}
        </form>
        {shown.length === 0 ? <p class="card">No events{filtered ? " match this filter" : ""}.</p> : null}
        <ol class="events" {...(!filtered && q.before === undefined ? { "sse-swap": "event-log", "hx-swap": "afterbegin" } : {})}>
          {shown.map((ev) => (
            <EventItem ev={ev} />
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
