-- Upgrade 2 -> 3: a saved trip is stored once. Frozen: never edit.
--
-- Until now a saved trip was kept three times: its segments evidence-locked in the ring, a copy
-- of each under saved/trip-<id>/, and an MP4 of the copies. From now on its footage is the
-- evidence-locked ring segments alone (layout 'ring') and the MP4 is made when it is downloaded.
-- Rows written before are marked 'copies'; the start-up migration (src/actors/savedMigration.ts)
-- deletes each copy whose ring file exists with the same size, keeps the others in
-- saved_trip_files, and then marks the row 'ring'.
ALTER TABLE saved_trips ADD COLUMN layout TEXT NOT NULL DEFAULT 'ring' CHECK (layout IN ('ring', 'copies'));
UPDATE saved_trips SET layout = 'copies';

-- A copy under saved/trip-<id>/ kept by the migration because the ring no longer holds that
-- segment with the same size: it is the only copy of that footage, part of the saved trip.
CREATE TABLE saved_trip_files (
  trip_id        INTEGER NOT NULL REFERENCES trips(id) ON DELETE CASCADE,
  absolute_index INTEGER NOT NULL,   -- the segment's absolute index (its file name)
  rel_path       TEXT    NOT NULL,   -- relative to data_dir
  bytes          INTEGER NOT NULL,
  duration_ms    INTEGER NOT NULL,
  PRIMARY KEY (trip_id, absolute_index)
) STRICT;

-- Recording of a trip stopped before the drive ended (the camera went disk_full): why and when.
ALTER TABLE trips ADD COLUMN cut_reason TEXT;
ALTER TABLE trips ADD COLUMN cut_at_utc INTEGER;
