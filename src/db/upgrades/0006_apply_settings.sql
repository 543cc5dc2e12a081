-- Upgrade 0006: applying recommended settings (seed 003 applied_configs).
-- - applied_configs.apply_method also allows 'self' (a camera dashcam encodes itself: testsrc,
--   v4l2, rpicam), and `verification` keeps what was read back and measured after an apply.
--   SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows carried over.
-- - encoder_settings: dashcam's own encoder settings of a camera, set by a 'self' apply; the
--   recorder starts its ffmpeg with them (they override the config's fps/width/height).
-- Frozen: never edit.
CREATE TABLE applied_configs_new (
  id              INTEGER PRIMARY KEY,
  camera_id       INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  optimization_id INTEGER REFERENCES optimizations(id) ON DELETE SET NULL,
  settings        TEXT NOT NULL CHECK (json_valid(settings)),
  apply_method    TEXT NOT NULL CHECK (apply_method IN ('onvif', 'vms', 'vendor', 'manual', 'self')),
  status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'in_progress', 'success', 'failed', 'partial')),
  applied_at      INTEGER,
  applied_by      TEXT,
  error_message   TEXT,
  created_at      INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  verification    TEXT CHECK (verification IS NULL OR json_valid(verification))
) STRICT;
INSERT INTO applied_configs_new (id, camera_id, optimization_id, settings, apply_method, status, applied_at, applied_by, error_message, created_at)
  SELECT id, camera_id, optimization_id, settings, apply_method, status, applied_at, applied_by, error_message, created_at FROM applied_configs;
DROP TABLE applied_configs;
ALTER TABLE applied_configs_new RENAME TO applied_configs;
CREATE INDEX idx_applied_camera ON applied_configs(camera_id);
CREATE INDEX idx_applied_status ON applied_configs(status);
CREATE INDEX idx_applied_created ON applied_configs(created_at DESC);

CREATE TABLE encoder_settings (
  camera_id         INTEGER PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
  width             INTEGER CHECK (width IS NULL OR width > 0),
  height            INTEGER CHECK (height IS NULL OR height > 0),
  fps               REAL CHECK (fps IS NULL OR fps > 0),
  bitrate_kbps      INTEGER CHECK (bitrate_kbps IS NULL OR bitrate_kbps > 0),
  keyframe_seconds  REAL CHECK (keyframe_seconds IS NULL OR keyframe_seconds > 0),
  applied_config_id INTEGER REFERENCES applied_configs(id) ON DELETE SET NULL,
  updated_at        INTEGER NOT NULL
) STRICT;
