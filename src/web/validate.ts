/**
 * Input validation for every route parameter and query string, with @hono/valibot-validator.
 * A failed check throws `HTTPException(400)` whose message names the field ("id: must be a
 * whole number"); the app's error handler renders it as a small HTML page, plain text (media,
 * playlists) or `{ "error": "..." }` (JSON routes). Nothing is read or written before the input
 * is valid.
 */
import { HTTPException } from "hono/http-exception";
import { vValidator } from "@hono/valibot-validator";
import type { ValidationTargets } from "hono";
import * as v from "valibot";

/** Same syntax as config.ts camera keys: 1-64 of a-z, 0-9, _ and -, not starting with _ or -. */
export const CAMERA_KEY_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A camera key in a URL. Unknown (but well-formed) keys are the route's 404. */
export const CameraKey = v.pipe(v.string(), v.regex(CAMERA_KEY_RE, "is not a valid camera key"));

/**
 * A non-negative integer id/index written in plain decimal digits (no sign, exponent or
 * fraction: "-1", "1e3", "abc", "1.0" are all refused), at most 15 digits (a safe integer).
 */
export const Id = v.pipe(
  v.string(),
  v.regex(/^\d{1,15}$/, "must be a whole number (digits only)"),
  v.transform(Number),
);

/** A Unix ms timestamp in a query string. */
export const Millis = v.pipe(v.string(), v.regex(/^\d{1,15}$/, "must be Unix milliseconds (digits only)"), v.transform(Number));

/** A 1-based page number. */
export const Page = v.pipe(
  v.string(),
  v.regex(/^[1-9]\d{0,5}$/, "must be a page number from 1"),
  v.transform(Number),
);

/** A calendar day, YYYY-MM-DD, that exists. */
export const Day = v.pipe(
  v.string(),
  v.regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD"),
  v.check((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, "is not a calendar date"),
);

/** A time-zone offset in minutes as `Date.getTimezoneOffset()` gives it (-840..840). */
export const TzOffset = v.pipe(
  v.string(),
  v.regex(/^-?\d{1,3}$/, "must be minutes"),
  v.transform(Number),
  v.minValue(-840, "is out of range"),
  v.maxValue(840, "is out of range"),
);

function describe(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  const key = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  if (issue.kind === "schema" && issue.expected === "never") return `${key}: unknown parameter`;
  if (issue.received === "undefined") return `${key}: is required`;
  return key ? `${key}: ${issue.message}` : issue.message;
}

/**
 * `vValidator` whose failure is a `HTTPException(400)` naming the field. Use one per target:
 * `valid("param", v.object({ id: Id }))`, then `c.req.valid("param").id`.
 */
export function valid<T extends v.GenericSchema, Target extends keyof ValidationTargets>(target: Target, schema: T) {
  return vValidator(target, schema, (result) => {
    if (!result.success) throw new HTTPException(400, { message: describe(result.issues) });
  });
}

/** Throws the 404 of a well-formed but unknown camera key. */
export function unknownCamera(key: string): never {
  throw new HTTPException(404, { message: `unknown camera "${key}"` });
}

/** A zone-less local date-time as `<input type="datetime-local">` sends it (seconds optional). */
const LOCAL_DT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;

/**
 * A time from a form or API body, as Unix ms UTC. Accepts Unix ms (digits), ISO 8601 with a
 * zone (`Z` / `+hh:mm`), or a zone-less `YYYY-MM-DDTHH:MM[:SS[.mmm]]` (datetime-local input)
 * together with `tzo`, the viewer's `Date.getTimezoneOffset()` in minutes (UTC = local + tzo).
 * Throws HTTPException(400) naming the field for anything else (also a zone-less time without
 * `tzo`, or a calendar date that does not exist such as 2024-02-30).
 */
export function parseClientTime(value: string | undefined, field: string, tzo?: number): number {
  const s = (value ?? "").trim();
  if (s === "") throw new HTTPException(400, { message: `${field}: is required` });
  if (/^\d{1,15}$/.test(s)) return Number(s);
  const local = LOCAL_DT_RE.exec(s);
  if (local) {
    if (tzo === undefined) throw new HTTPException(400, { message: `${field}: a time without a zone needs tzo (minutes)` });
    const [y, mo, d, h, mi, sec] = local.slice(1, 7).map((p) => (p === undefined ? 0 : Number(p)));
    const msPart = local[7] ? Number(local[7].padEnd(3, "0")) : 0;
    const t = Date.UTC(y!, mo! - 1, d!, h!, mi!, sec!, msPart);
    const back = new Date(t);
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d || h! > 23 || mi! > 59 || sec! > 59)
      throw new HTTPException(400, { message: `${field}: is not a valid date and time` });
    return t + tzo * 60_000;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t) && t >= 0) return t;
  }
  throw new HTTPException(400, {
    message: `${field}: expected a date and time, Unix milliseconds or ISO 8601 with a zone, got ${JSON.stringify(s.slice(0, 40))}`,
  });
}

/**
 * A time of day on a 24 h clock as a driver types it: `08:12`, `8:12`, `08:12:30`, or digits
 * only (`0812`, `081230`: a phone's number pad has no colon). Groups: hours, minutes, seconds.
 */
const TIME_OF_DAY_RE = /^(?:([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?|([01]\d|2[0-3])([0-5]\d)([0-5]\d)?)$/;

/** The `pattern` attribute of a 24 h time input (the same language as `parseTimeOfDay`). */
export const TIME_OF_DAY_PATTERN = TIME_OF_DAY_RE.source.slice(1, -1);

/** A typed 24 h time of day as `HH:MM:SS`, or null when it is not one (`8:12 PM`, `24:00`, `12.30`). */
export function parseTimeOfDay(value: string): string | null {
  const m = TIME_OF_DAY_RE.exec(value.trim());
  if (!m) return null;
  const [h, mi, sec] = m[1] !== undefined ? [m[1], m[2], m[3]] : [m[4], m[5], m[6]];
  return `${h!.padStart(2, "0")}:${mi}:${sec ?? "00"}`;
}

/**
 * A time a form sends as two fields, `<field>_date` (YYYY-MM-DD, a date input) and
 * `<field>_time` (24 h, see `parseTimeOfDay`), in the viewer's zone `tzo` (minutes as
 * `Date.getTimezoneOffset()`), or else as one `<field>` value (`parseClientTime`: Unix ms, ISO
 * 8601 with a zone, ...). Returns Unix ms UTC; throws HTTPException(400) naming the field.
 */
export function formTime(form: Record<string, unknown>, field: string, tzo?: number): number {
  const date = form[`${field}_date`];
  const time = form[`${field}_time`];
  if (date === undefined && time === undefined) return parseClientTime(typeof form[field] === "string" ? (form[field] as string) : undefined, field, tzo);
  const d = typeof date === "string" ? date.trim() : "";
  const t = typeof time === "string" ? time.trim() : "";
  if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new HTTPException(400, { message: `${field}: the date must be YYYY-MM-DD${d ? `, got ${JSON.stringify(d.slice(0, 20))}` : " (it is empty)"}` });
  const hms = parseTimeOfDay(t);
  if (!hms)
    throw new HTTPException(400, {
      message: `${field}: the time must be HH:MM or HH:MM:SS on a 24 h clock (00:00 to 23:59:59)${t ? `, got ${JSON.stringify(t.slice(0, 20))}` : " (it is empty)"}`,
    });
  return parseClientTime(`${d}T${hms}`, field, tzo);
}

/** The value of a date input (UTC calendar day) for Unix ms; client.js rewrites it to the local day. */
export const toDateInput = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** The value of a 24 h time input (UTC wall clock, HH:MM:SS) for Unix ms; client.js rewrites it to local time. */
export const toTimeInput = (ms: number) => new Date(ms).toISOString().slice(11, 19);
