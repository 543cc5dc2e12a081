/**
 * Seed 004's share tables: `shares` (one public link: token, title, type, expiry, switches),
 * `share_batches` (timelapse batches in it, in `display_order`), `share_customization` (theme
 * colour and display options), plus `share_footage` (upgrade 0005: a saved trip or a clip file
 * in it, in the same `display_order`), and the full-text index `shares_search` (FTS5, kept in
 * step with `shares` by the schema's triggers).
 *
 * Times are Unix ms UTC. A share with its items and customization is written in one
 * transaction. The token is made by the caller (`newShareToken`: a UUID v4, 122 random bits,
 * as the seed says). Nothing here checks files: src/media/shares.ts checks a request first.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { logEvent } from "./eventLog.ts";

export type ShareType = "video_only" | "info_page" | "gallery";
export const SHARE_TYPES: readonly ShareType[] = ["video_only", "info_page", "gallery"];

/** What one item of a share points at: a timelapse batch, a saved trip, or a clip file (relative to data_dir). */
export type ShareItemRef = { kind: "batch"; batchId: number } | { kind: "trip"; tripId: number } | { kind: "clip"; clipPath: string };

export interface NewShareItem {
  ref: ShareItemRef;
  customTitle?: string | null;
  showMetadata?: boolean;
}

/** Seed 004's `display_options` of `share_customization`. */
export interface DisplayOptions {
  show_camera_info: boolean;
  show_day_counter: boolean;
  show_date_range: boolean;
  show_technical_info: boolean;
  show_generation_time: boolean;
  layout: "grid" | "list";
}

export const DEFAULT_DISPLAY_OPTIONS: DisplayOptions = {
  show_camera_info: true,
  show_day_counter: true,
  show_date_range: true,
  show_technical_info: false,
  show_generation_time: false,
  layout: "grid",
};

/** Seed 004's default theme colour. */
export const DEFAULT_PRIMARY_COLOR = "#007bff";

export interface NewShare {
  title: string;
  description: string | null;
  type: ShareType;
  /** In display order (display_order 1, 2, ...). */
  items: readonly NewShareItem[];
  /** Unix ms; null = never. */
  expiresAt: number | null;
  downloadEnabled: boolean;
  embedEnabled: boolean;
  primaryColor?: string;
  displayOptions?: DisplayOptions;
}

export interface ShareRow {
  id: number;
  share_token: string;
  title: string;
  description: string | null;
  share_type: ShareType;
  is_active: number;
  download_enabled: number;
  embed_enabled: number;
  expires_at: number | null;
  view_count: number;
  created_at: number;
}

/** A share as the admin list shows it: the row, its item count and theme colour. */
export interface ShareListRow extends ShareRow {
  items: number;
  primary_color: string;
}

/** One item of a share with what the share page shows of it (camera name, times, video file). */
export interface ShareItem {
  display_order: number;
  kind: "batch" | "trip" | "clip";
  custom_title: string | null;
  show_metadata: number;
  /** batch: its id; trip: its id; clip: null. */
  ref_id: number | null;
  /** clip: its path relative to data_dir. */
  clip_path: string | null;
  camera_key: string | null;
  camera_name: string | null;
  /** batch: status; trip: trip status; clip: null. */
  status: string | null;
  /** batch: its MP4 relative to data_dir. */
  output_path: string | null;
  total_frames: number | null;
  frame_rate: number | null;
  duration_seconds: number | null;
  day_range_start: number | null;
  day_range_end: number | null;
  /** batch: its first image's capture time; trip: its start; clip: null. */
  start_utc: number | null;
  /** batch: its last image's capture time; trip: its end (null while open). */
  end_utc: number | null;
  /** batch: when its video was made (completed_at); else null. */
  made_at: number | null;
}

export interface ShareCustomization {
  primary_color: string;
  display_options: DisplayOptions;
}

/** A share token: a UUID v4 (122 random bits from the platform's CSPRNG). */
export const newShareToken = (): string => crypto.randomUUID();

/** What a share token looks like (a UUID v4, lower case). Anything else is no share. */
export const SHARE_TOKEN_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const SHARE_COLS = `s.id, s.share_token, s.title, s.description, s.share_type, s.is_active, s.download_enabled, s.embed_enabled,
  s.expires_at, s.view_count, s.created_at`;
const LIST_COLS = `${SHARE_COLS},
  (SELECT COUNT(*) FROM share_batches sb WHERE sb.share_id = s.id) + (SELECT COUNT(*) FROM share_footage sf WHERE sf.share_id = s.id) AS items,
  COALESCE((SELECT json_extract(theme_config, '$.primary_color') FROM share_customization sc WHERE sc.share_id = s.id), '${DEFAULT_PRIMARY_COLOR}') AS primary_color`;

const statements = perDatabase((db) => ({
  insertShare: db.prepare(
    `INSERT INTO shares (share_token, title, description, share_type, download_enabled, embed_enabled, expires_at, created_at)
     VALUES ($token, $title, $description, $type, $download, $embed, $expires, $now) RETURNING id`,
  ),
  insertBatchItem: db.prepare(
    `INSERT INTO share_batches (share_id, timelapse_batch_id, display_order, custom_title, show_metadata, added_at)
     VALUES ($share, $batch, $order, $title, $meta, $now)`,
  ),
  insertFootageItem: db.prepare(
    `INSERT INTO share_footage (share_id, trip_id, clip_path, display_order, custom_title, show_metadata, added_at)
     VALUES ($share, $trip, $clip, $order, $title, $meta, $now)`,
  ),
  insertCustomization: db.prepare(
    "INSERT INTO share_customization (share_id, theme_config, display_options, created_at) VALUES ($share, $theme, $options, $now)",
  ),
  activeByToken: db.prepare(
    `SELECT ${SHARE_COLS} FROM shares s WHERE s.share_token = $token AND s.is_active = 1 AND (s.expires_at IS NULL OR s.expires_at > $now)`,
  ),
  byId: db.prepare(`SELECT ${LIST_COLS} FROM shares s WHERE s.id = $id`),
  list: db.prepare(`SELECT ${LIST_COLS} FROM shares s ORDER BY s.id DESC LIMIT $limit`),
  search: db.prepare(
    `SELECT ${LIST_COLS} FROM shares_search JOIN shares s ON s.id = shares_search.rowid
     WHERE shares_search MATCH $q ORDER BY shares_search.rank, s.id DESC LIMIT $limit`,
  ),
  batchItems: db.prepare(
    `SELECT sb.display_order, 'batch' AS kind, sb.custom_title, sb.show_metadata, b.id AS ref_id, NULL AS clip_path,
       c.key AS camera_key, c.name AS camera_name, b.status, b.output_path, b.total_frames, b.frame_rate, b.duration_seconds,
       b.day_range_start, b.day_range_end,
       (SELECT MIN(i.captured_at) FROM timelapse_images ti JOIN images i ON i.id = ti.image_id WHERE ti.timelapse_batch_id = b.id) AS start_utc,
       (SELECT MAX(i.captured_at) FROM timelapse_images ti JOIN images i ON i.id = ti.image_id WHERE ti.timelapse_batch_id = b.id) AS end_utc,
       b.completed_at AS made_at
     FROM share_batches sb JOIN timelapse_batches b ON b.id = sb.timelapse_batch_id JOIN cameras c ON c.id = b.camera_id
     WHERE sb.share_id = $share`,
  ),
  footageItems: db.prepare(
    `SELECT sf.display_order, CASE WHEN sf.trip_id IS NULL THEN 'clip' ELSE 'trip' END AS kind, sf.custom_title, sf.show_metadata,
       sf.trip_id AS ref_id, sf.clip_path, c.key AS camera_key, c.name AS camera_name, t.status, NULL AS output_path,
       NULL AS total_frames, NULL AS frame_rate, NULL AS duration_seconds, NULL AS day_range_start, NULL AS day_range_end,
       t.start_time_utc AS start_utc, t.end_time_utc AS end_utc, NULL AS made_at
     FROM share_footage sf LEFT JOIN trips t ON t.id = sf.trip_id LEFT JOIN cameras c ON c.id = t.camera_id
     WHERE sf.share_id = $share`,
  ),
  customization: db.prepare("SELECT theme_config, display_options FROM share_customization WHERE share_id = $share"),
  countView: db.prepare("UPDATE shares SET view_count = view_count + 1 WHERE id = $id"),
  setActive: db.prepare("UPDATE shares SET is_active = $active WHERE id = $id"),
  setExpiry: db.prepare("UPDATE shares SET expires_at = $expires WHERE id = $id"),
  deleteShare: db.prepare("DELETE FROM shares WHERE id = $id"),
  liveSharesOfBatches: db.prepare(
    `SELECT sb.timelapse_batch_id AS id, COUNT(*) AS n FROM share_batches sb JOIN shares s ON s.id = sb.share_id
     WHERE s.is_active = 1 AND (s.expires_at IS NULL OR s.expires_at > $now) GROUP BY sb.timelapse_batch_id`,
  ),
}));

/**
 * Writes a share, its items (batches to `share_batches`, trips and clips to `share_footage`,
 * `display_order` 1..n in the order given), its customization and a `share.create` event (who:
 * `by`; never the token) in one transaction; returns the new id. Throws SQLite's error (nothing written) for a token already used or an item
 * that does not exist (foreign keys).
 */
export function insertShare(db: Database, s: NewShare, token: string, now = Date.now(), by = "unknown"): number {
  const st = statements(db);
  return db.transaction(() => {
    const { id } = st.insertShare.get({
      token,
      title: s.title,
      description: s.description,
      type: s.type,
      download: s.downloadEnabled ? 1 : 0,
      embed: s.embedEnabled ? 1 : 0,
      expires: s.expiresAt,
      now,
    }) as { id: number };
    s.items.forEach((item, i) => {
      const common = { share: id, order: i + 1, title: item.customTitle ?? null, meta: item.showMetadata === false ? 0 : 1, now };
      if (item.ref.kind === "batch") st.insertBatchItem.run({ ...common, batch: item.ref.batchId });
      else st.insertFootageItem.run({ ...common, trip: item.ref.kind === "trip" ? item.ref.tripId : null, clip: item.ref.kind === "clip" ? item.ref.clipPath : null });
    });
    st.insertCustomization.run({
      share: id,
      theme: JSON.stringify({ primary_color: s.primaryColor ?? DEFAULT_PRIMARY_COLOR }),
      options: JSON.stringify(s.displayOptions ?? DEFAULT_DISPLAY_OPTIONS),
      now,
    });
    const n = s.items.length;
    logEvent(db, {
      kind: "share.create",
      at: now,
      message: `${by} made the share link "${s.title}" (${s.type.replace("_", " ")}, ${n} item${n === 1 ? "" : "s"})`,
      data: { shareId: id, type: s.type, items: n, by, expiresAt: s.expiresAt },
    });
    return id;
  })();
}

/** The share of `token` when it is active and not expired at `now`, else null (seed 004's validity query). */
export function activeShareByToken(db: Database, token: string, now = Date.now()): ShareRow | null {
  return (statements(db).activeByToken.get({ token, now }) as ShareRow | null) ?? null;
}

/** A share by id, whatever its state (admin). */
export function shareById(db: Database, id: number): ShareListRow | null {
  return (statements(db).byId.get({ id }) as ShareListRow | null) ?? null;
}

/**
 * The FTS5 query for what a user typed: each word as a quoted prefix term (`"word"*`), all
 * required, so quotes, operators and column names in the input are plain text, never syntax.
 * Null when nothing searchable is left.
 */
export function shareSearchQuery(text: string): string | null {
  const words = text
    .split(/[^\p{L}\p{N}_]+/u)
    .filter((w) => w.length > 0)
    .slice(0, 10);
  return words.length ? words.map((w) => `"${w}"*`).join(" ") : null;
}

/**
 * Shares, newest first, or when `text` has words the ones whose title or description matches
 * every word (as a prefix) through `shares_search`, best match first.
 */
export function listShares(db: Database, text = "", limit = 200): ShareListRow[] {
  const q = shareSearchQuery(text);
  const st = statements(db);
  return (q ? st.search.all({ q, limit }) : st.list.all({ limit })) as ShareListRow[];
}

/** The items of share `shareId` in display order (batches, trips and clips together). */
export function shareItems(db: Database, shareId: number): ShareItem[] {
  const st = statements(db);
  const rows = [...(st.batchItems.all({ share: shareId }) as ShareItem[]), ...(st.footageItems.all({ share: shareId }) as ShareItem[])];
  return rows.sort((a, b) => a.display_order - b.display_order);
}

/** Theme colour and display options of a share (seed 004 defaults when it has no row). */
export function shareCustomization(db: Database, shareId: number): ShareCustomization {
  const row = statements(db).customization.get({ share: shareId }) as { theme_config: string; display_options: string } | null;
  if (!row) return { primary_color: DEFAULT_PRIMARY_COLOR, display_options: DEFAULT_DISPLAY_OPTIONS };
  const theme = JSON.parse(row.theme_config) as { primary_color?: unknown };
  const options = JSON.parse(row.display_options) as Partial<DisplayOptions>;
  return {
    primary_color: typeof theme.primary_color === "string" ? theme.primary_color : DEFAULT_PRIMARY_COLOR,
    display_options: { ...DEFAULT_DISPLAY_OPTIONS, ...options },
  };
}

/** Counts one view of share `id` (seed 004's view_count). */
export function countShareView(db: Database, id: number): void {
  statements(db).countView.run({ id });
}

/** Turns share `id` on or off; false when there is no such share. */
export function setShareActive(db: Database, id: number, active: boolean): boolean {
  return statements(db).setActive.run({ id, active: active ? 1 : 0 }).changes > 0;
}

/** Sets share `id`'s expiry (Unix ms, null = never); false when there is no such share. */
export function setShareExpiry(db: Database, id: number, expiresAt: number | null): boolean {
  return statements(db).setExpiry.run({ id, expires: expiresAt }).changes > 0;
}

/** How many live (active, unexpired) share links hold each timelapse batch: batch id -> count (batches in none are absent). */
export function liveSharesOfBatches(db: Database, now = Date.now()): Map<number, number> {
  const rows = statements(db).liveSharesOfBatches.all({ now }) as { id: number; n: number }[];
  return new Map(rows.map((r) => [r.id, r.n]));
}

/** Deletes share `id` with its items and customization (the schema's cascade); false when there is none. */
export function deleteShare(db: Database, id: number): boolean {
  return statements(db).deleteShare.run({ id }).changes > 0;
}
