-- Upgrade 0005: a share can also hold a driver's own footage, not only timelapse batches (seed
-- 004's share_batches): a saved trip (its MP4 is made on the fly from the evidence-locked ring
-- segments) or an incident clip / exported clip (a file under exports/). This is the link a
-- driver sends to an insurer. Items of share_batches and share_footage share one display_order.
-- Frozen: never edit.
CREATE TABLE share_footage (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  share_id      INTEGER NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
  trip_id       INTEGER REFERENCES trips(id) ON DELETE CASCADE,  -- a saved trip
  clip_path     TEXT,                                            -- a clip file, relative to data_dir
  display_order INTEGER NOT NULL DEFAULT 1,
  custom_title  TEXT,
  show_metadata INTEGER NOT NULL DEFAULT 1 CHECK (show_metadata IN (0, 1)),
  added_at      INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  CHECK ((trip_id IS NULL) <> (clip_path IS NULL)),
  CHECK (clip_path IS NULL OR (clip_path NOT LIKE '/%' AND clip_path NOT LIKE '%..%'))
) STRICT;
CREATE INDEX idx_share_footage_share ON share_footage(share_id, display_order);
CREATE INDEX idx_share_footage_trip ON share_footage(trip_id) WHERE trip_id IS NOT NULL;
