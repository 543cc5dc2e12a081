-- dashcam schema, current version (see src/db/upgrades.ts for the numbered history).
--
-- Every table of the five seed documents (../shared/seeds) adapted to SQLite as DESIGN.md says:
--   JSONB/JSON        -> TEXT checked with json_valid
--   TIMESTAMP(TZ)     -> INTEGER Unix milliseconds UTC (columns end in _at / _utc / ts)
--   SERIAL            -> INTEGER PRIMARY KEY
--   tsvector          -> FTS5 virtual table
-- plus the runtime tables (camera status, event log, gaps, garbage, actor journal, sessions).
-- Connection PRAGMAs (seed 000) are set by src/db/open.ts, not here.

----------------------------------------------------------------------
-- Cameras: one merged table (seed 000 key/name, seed 003 inventory, seed 004 timelapse/security)
----------------------------------------------------------------------
CREATE TABLE cameras (
  id                     INTEGER PRIMARY KEY,
  key                    TEXT NOT NULL UNIQUE,          -- seed 000 key; seed 003's string id
  name                   TEXT NOT NULL,
  -- seed 004 security: SHA-256 of the source URL; the URL itself only encrypted (AES-256-GCM)
  url_hash               TEXT UNIQUE,
  url_encrypted          TEXT,                           -- base64(iv || ciphertext || tag)
  encryption_key_ref     TEXT,                           -- names the key (env var or key file)
  -- seed 003 inventory
  ip                     TEXT,
  vendor                 TEXT,
  model                  TEXT,
  vms_system             TEXT,
  vms_camera_id          TEXT,
  location               TEXT,
  scene_type             TEXT,
  purpose                TEXT,
  capabilities           TEXT CHECK (capabilities IS NULL OR json_valid(capabilities)),
  credentials_encrypted  TEXT,
  -- seed 004 timelapse / health
  last_health_check      INTEGER,
  connection_failures    INTEGER NOT NULL DEFAULT 0,
  enabled                INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  rotation               TEXT NOT NULL DEFAULT 'none' CHECK (rotation IN ('none', 'left', 'right', 'invert')),
  day_counter_enabled    INTEGER NOT NULL DEFAULT 0 CHECK (day_counter_enabled IN (0, 1)),
  day_counter_start_date TEXT,                           -- YYYY-MM-DD
  metadata               TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  day_overlay_position   TEXT NOT NULL DEFAULT 'top-right'
                           CHECK (day_overlay_position IN ('top-left', 'top-right', 'bottom-left', 'bottom-right')),
  day_overlay_style      TEXT NOT NULL DEFAULT '{"font_size": 24, "font_color": "#FFFFFF", "background_color": "#000000", "background_opacity": 0.7, "font_family": "Arial"}'
                           CHECK (json_valid(day_overlay_style)),
  created_at             INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  updated_at             INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX idx_cameras_ip ON cameras(ip);
CREATE INDEX idx_cameras_vms ON cameras(vms_system, vms_camera_id);
CREATE INDEX idx_cameras_scene_purpose ON cameras(scene_type, purpose);

----------------------------------------------------------------------
-- Seed 000: ring state, counters, trips, saved trips, segments
----------------------------------------------------------------------
CREATE TABLE camera_state (
  camera_id          INTEGER PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
  segment_index      INTEGER NOT NULL,   -- ring slot of the next segment (0..ring_capacity-1)
  segment_generation INTEGER NOT NULL,   -- how many times the ring wrapped
  absolute_segments  INTEGER NOT NULL,   -- total segments ever finalised
  ring_capacity      INTEGER NOT NULL DEFAULT 1 CHECK (ring_capacity >= 1)  -- N the ring math uses
) STRICT;

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;

CREATE TABLE trips (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  camera_id          INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  boot_id            TEXT    NOT NULL,
  start_time_utc     INTEGER NOT NULL,
  end_time_utc       INTEGER,            -- NULL while open
  start_segment      INTEGER NOT NULL,   -- ring index (inclusive)
  final_segment      INTEGER,            -- ring index (inclusive); NULL while open
  start_clock_source TEXT,
  end_clock_source   TEXT,
  note               TEXT,
  start_gen          INTEGER NOT NULL DEFAULT 0,
  end_gen            INTEGER,            -- NULL while open
  fully_evicted      INTEGER NOT NULL DEFAULT 0 CHECK (fully_evicted IN (0, 1)),
  evicted_at_utc     INTEGER,
  -- runtime: absolute bounds (ring indexes repeat, absolute ones do not)
  start_absolute     INTEGER NOT NULL,
  last_absolute      INTEGER NOT NULL,   -- newest segment of the trip so far (inclusive)
  last_time_utc      INTEGER NOT NULL,   -- end of that segment
  status             TEXT NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'closed', 'saving', 'saved', 'evicted')),
  -- recording of the trip stopped before the drive ended (camera disk_full): why, when (ms)
  cut_reason         TEXT,
  cut_at_utc         INTEGER
) STRICT;
CREATE INDEX idx_trips_camera_open ON trips(camera_id, final_segment);
CREATE INDEX idx_trips_camera_range ON trips(camera_id, start_segment, final_segment);
CREATE INDEX idx_trips_camera_evicted ON trips(camera_id, fully_evicted, end_gen, final_segment);
CREATE INDEX idx_trips_status ON trips(status, camera_id);
CREATE INDEX idx_trips_start ON trips(start_time_utc);

CREATE TABLE saved_trips (
  trip_id      INTEGER PRIMARY KEY REFERENCES trips(id) ON DELETE CASCADE,
  saved_dir    TEXT    NOT NULL,
  saved_at_utc INTEGER NOT NULL,
  mp4_path     TEXT,                    -- a legacy MP4 kept by the migration; NULL: made on download
  -- 'ring': the footage is the trip's evidence-locked ring segments (plus saved_trip_files);
  -- 'copies': written before upgrade 3, awaiting the start-up migration
  layout       TEXT    NOT NULL DEFAULT 'ring' CHECK (layout IN ('ring', 'copies'))
) STRICT;

-- copies under saved/trip-<id>/ that are the only copy of a segment (kept by the migration)
CREATE TABLE saved_trip_files (
  trip_id        INTEGER NOT NULL REFERENCES trips(id) ON DELETE CASCADE,
  absolute_index INTEGER NOT NULL,
  rel_path       TEXT    NOT NULL,   -- relative to data_dir
  bytes          INTEGER NOT NULL,
  duration_ms    INTEGER NOT NULL,
  PRIMARY KEY (trip_id, absolute_index)
) STRICT;

CREATE TABLE segments (
  id              INTEGER PRIMARY KEY,
  camera_id       INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  segment_index   INTEGER NOT NULL,    -- ring index at creation
  segment_gen     INTEGER NOT NULL,    -- generation at creation
  absolute_index  INTEGER NOT NULL,    -- copy of camera_state.absolute_segments
  start_utc       INTEGER NOT NULL,    -- ms
  end_utc         INTEGER NOT NULL,    -- ms
  rel_path        TEXT NOT NULL,       -- relative to data_dir
  codec           TEXT,
  width           INTEGER,
  height          INTEGER,
  fps             REAL,
  bytes           INTEGER,
  -- seed 002 locks
  locked          INTEGER NOT NULL DEFAULT 0 CHECK (locked >= 0),  -- transient read-lock count, cleared at start-up
  evidence_locked INTEGER NOT NULL DEFAULT 0 CHECK (evidence_locked IN (0, 1)),
  incident_id     TEXT,
  UNIQUE (camera_id, absolute_index)
) STRICT;
CREATE INDEX idx_segments_camera_time ON segments(camera_id, start_utc, end_utc);
CREATE INDEX idx_segments_camera_abs ON segments(camera_id, absolute_index);
CREATE INDEX idx_segments_incident ON segments(incident_id) WHERE incident_id IS NOT NULL;

----------------------------------------------------------------------
-- Seed 002: camera status row, event log, recording gaps
----------------------------------------------------------------------
CREATE TABLE camera_status (
  camera_id        INTEGER PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
  state            TEXT NOT NULL DEFAULT 'stopped',
  pid              INTEGER,
  reconnect_count  INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  last_started_at  INTEGER,
  segment_count    INTEGER NOT NULL DEFAULT 0,
  last_segment_at  INTEGER,
  observed_bitrate INTEGER,            -- bits per second of the last segment
  updated_at       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE event_log (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,          -- ms
  level     TEXT NOT NULL DEFAULT 'info' CHECK (level IN ('debug', 'info', 'warn', 'error')),
  kind      TEXT NOT NULL,             -- e.g. camera.state, segment.gap, trip.open, reconcile
  camera_id INTEGER REFERENCES cameras(id) ON DELETE SET NULL,
  message   TEXT NOT NULL,
  data      TEXT CHECK (data IS NULL OR json_valid(data))
) STRICT;
CREATE INDEX idx_event_log_at ON event_log(at);
CREATE INDEX idx_event_log_kind ON event_log(kind, at);
CREATE INDEX idx_event_log_camera ON event_log(camera_id, at);

CREATE TABLE recording_gaps (
  id          INTEGER PRIMARY KEY,
  camera_id   INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  gap_start   INTEGER NOT NULL,        -- ms, end of the segment before the hole
  gap_end     INTEGER NOT NULL,        -- ms, start of the segment after it
  detected_at INTEGER NOT NULL,
  UNIQUE (camera_id, gap_start)
) STRICT;
CREATE INDEX idx_recording_gaps_camera_end ON recording_gaps(camera_id, gap_end);

----------------------------------------------------------------------
-- Runtime: crash-safe deletion (Moonfire NVR's garbage rows)
----------------------------------------------------------------------
CREATE TABLE garbage (
  id         INTEGER PRIMARY KEY,
  camera_id  INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  rel_path   TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
) STRICT;

----------------------------------------------------------------------
-- Runtime: actor journal (append-only transition log + current persisted snapshot)
----------------------------------------------------------------------
CREATE TABLE actor_transitions (
  id         INTEGER PRIMARY KEY,
  actor_id   TEXT NOT NULL,            -- systemId, e.g. camera:dashcam, trip:12
  from_state TEXT,
  event      TEXT NOT NULL,
  to_state   TEXT NOT NULL,
  at         INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_actor_transitions_actor ON actor_transitions(actor_id, id);

CREATE TABLE actor_snapshots (
  actor_id   TEXT PRIMARY KEY,
  machine    TEXT NOT NULL,            -- camera | trip | timelapseBatch | supervisor
  state      TEXT NOT NULL,            -- JSON of the state value, for humans and queries
  snapshot   TEXT NOT NULL CHECK (json_valid(snapshot)),
  updated_at INTEGER NOT NULL
) STRICT;

----------------------------------------------------------------------
-- Seed 001: ALPR pipeline (tasks, results) and final reads (vehicles)
----------------------------------------------------------------------
CREATE TABLE tasks (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  category     TEXT CHECK (category IN ('vehicle_detect', 'plate_detect', 'ocr', 'plate_smooth', 'summary')),
  payload      TEXT CHECK (payload IS NULL OR json_valid(payload)),
  priority     INTEGER,
  video_id     TEXT,
  frame_idx    INTEGER,
  track_id     INTEGER,
  meta         TEXT CHECK (meta IS NULL OR json_valid(meta)),
  dependencies TEXT CHECK (dependencies IS NULL OR json_valid(dependencies)),
  status       TEXT CHECK (status IN ('queued', 'running', 'done', 'failed'))
) STRICT;
CREATE INDEX idx_tasks_status ON tasks(status, category, priority);
CREATE INDEX idx_tasks_video_frame ON tasks(video_id, frame_idx);

CREATE TABLE results (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
  result  TEXT CHECK (result IS NULL OR json_valid(result)),
  handled INTEGER DEFAULT 0 CHECK (handled IN (0, 1))
) STRICT;
CREATE INDEX idx_results_unhandled ON results(handled, id);
CREATE INDEX idx_results_task ON results(task_id);

-- one row per (task, frame it depends on): the exact, indexed form of the seed's
-- "dependencies LIKE ?" cleanup query
CREATE TABLE task_dependencies (
  task_id     INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  payload_ref TEXT NOT NULL,
  PRIMARY KEY (payload_ref, task_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE vehicles (
  id               INTEGER PRIMARY KEY,
  track_id         INTEGER,
  video_id         TEXT NOT NULL,
  frame_idx        INTEGER NOT NULL,
  ts               INTEGER NOT NULL,    -- ms
  final_plate      TEXT NOT NULL,
  plate_confidence REAL NOT NULL,
  car_bbox         TEXT NOT NULL CHECK (json_valid(car_bbox)),
  plate_bbox       TEXT NOT NULL CHECK (json_valid(plate_bbox)),
  created_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  -- runtime
  camera_id        INTEGER REFERENCES cameras(id) ON DELETE SET NULL,
  snapshot_path    TEXT,                -- relative to data_dir
  pg_synced        INTEGER NOT NULL DEFAULT 0 CHECK (pg_synced IN (0, 1)),
  UNIQUE (video_id, frame_idx, track_id)
) STRICT;
CREATE INDEX idx_vehicles_plate ON vehicles(final_plate);
CREATE INDEX idx_vehicles_camera_ts ON vehicles(camera_id, ts);
CREATE INDEX idx_vehicles_ts ON vehicles(ts);
CREATE INDEX idx_vehicles_unsynced ON vehicles(pg_synced) WHERE pg_synced = 0;

CREATE TABLE watchlist (
  id         INTEGER PRIMARY KEY,
  plate      TEXT NOT NULL UNIQUE,      -- normalised: upper case, no spaces
  note       TEXT,
  created_at INTEGER NOT NULL
) STRICT;

----------------------------------------------------------------------
-- Seed 003: camera optimisation, health, users
----------------------------------------------------------------------
CREATE TABLE optimizations (
  id                   INTEGER PRIMARY KEY,
  camera_id            INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  request_data         TEXT NOT NULL CHECK (json_valid(request_data)),
  recommended_settings TEXT NOT NULL CHECK (json_valid(recommended_settings)),
  confidence           REAL CHECK (confidence >= 0 AND confidence <= 1),
  warnings             TEXT CHECK (warnings IS NULL OR json_valid(warnings)),
  explanation          TEXT,
  ai_provider          TEXT CHECK (ai_provider IN ('claude-sonnet-4-5', 'heuristic')),
  processing_time_ms   INTEGER,
  created_at           INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX idx_optimizations_camera ON optimizations(camera_id);
CREATE INDEX idx_optimizations_created ON optimizations(created_at DESC);
CREATE INDEX idx_optimizations_provider ON optimizations(ai_provider);

CREATE TABLE applied_configs (
  id              INTEGER PRIMARY KEY,
  camera_id       INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  optimization_id INTEGER REFERENCES optimizations(id) ON DELETE SET NULL,
  settings        TEXT NOT NULL CHECK (json_valid(settings)),
  -- 'self': a camera dashcam encodes itself (testsrc, v4l2, rpicam): its encoder_settings
  apply_method    TEXT NOT NULL CHECK (apply_method IN ('onvif', 'vms', 'vendor', 'manual', 'self')),
  status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'in_progress', 'success', 'failed', 'partial')),
  applied_at      INTEGER,
  applied_by      TEXT,
  error_message   TEXT,
  created_at      INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  -- what was read back and measured after the apply (JSON), null until verified
  verification    TEXT CHECK (verification IS NULL OR json_valid(verification))
) STRICT;
CREATE INDEX idx_applied_camera ON applied_configs(camera_id);
CREATE INDEX idx_applied_status ON applied_configs(status);
CREATE INDEX idx_applied_created ON applied_configs(created_at DESC);

-- dashcam's own encoder settings of a camera it encodes itself, set by a 'self' apply; the
-- recorder starts ffmpeg with them (they override the config's fps/width/height)
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

CREATE TABLE snapshots (
  id             INTEGER PRIMARY KEY,
  camera_id      INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  file_path      TEXT NOT NULL,
  captured_at    INTEGER NOT NULL,
  health_metrics TEXT CHECK (health_metrics IS NULL OR json_valid(health_metrics)),
  anomalies      TEXT CHECK (anomalies IS NULL OR json_valid(anomalies)),
  UNIQUE (camera_id, captured_at)
) STRICT;
CREATE INDEX idx_snapshots_camera ON snapshots(camera_id);
CREATE INDEX idx_snapshots_captured ON snapshots(captured_at DESC);
CREATE INDEX idx_snapshots_camera_anomalous ON snapshots(camera_id, captured_at) WHERE anomalies IS NOT NULL AND anomalies <> '[]';

CREATE TABLE health_metrics (
  id          INTEGER PRIMARY KEY,
  camera_id   INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  metric_type TEXT NOT NULL CHECK (metric_type IN (
                'brightness', 'noise_level', 'blur_score', 'bitrate_mbps',
                'fps_actual', 'frame_drops', 'latency_ms')),
  value       REAL NOT NULL,
  status      TEXT CHECK (status IN ('ok', 'warning', 'critical')),
  created_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX idx_health_camera_time ON health_metrics(camera_id, created_at DESC);
CREATE INDEX idx_health_metric_type ON health_metrics(metric_type, created_at DESC);

-- hourly aggregates of health_metrics (upgrade 0004): written with every raw row, kept a year
-- (raw rows 90 days, seed 003's retention policy); the charts read these (the seed's sample query 5)
CREATE TABLE health_metrics_hourly (
  camera_id   INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  metric_type TEXT NOT NULL CHECK (metric_type IN (
                'brightness', 'noise_level', 'blur_score', 'bitrate_mbps',
                'fps_actual', 'frame_drops', 'latency_ms')),
  hour_utc    INTEGER NOT NULL,          -- start of the UTC hour, ms
  samples     INTEGER NOT NULL CHECK (samples >= 1),
  sum_value   REAL NOT NULL,             -- AVG = sum_value / samples
  min_value   REAL NOT NULL,
  max_value   REAL NOT NULL,
  warnings    INTEGER NOT NULL DEFAULT 0, -- samples with status 'warning'
  criticals   INTEGER NOT NULL DEFAULT 0, -- samples with status 'critical'
  PRIMARY KEY (camera_id, metric_type, hour_utc)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_health_hourly_hour ON health_metrics_hourly(hour_utc);

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  email         TEXT UNIQUE,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL DEFAULT 'operator' CHECK (role IN ('admin', 'operator', 'viewer')),
  created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  last_login    INTEGER
) STRICT;

CREATE TABLE sessions (
  token_hash  TEXT PRIMARY KEY,          -- SHA-256 of the cookie value
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_sessions_expires ON sessions(expires_at);

----------------------------------------------------------------------
-- Seed 004: timelapse images, batches, shares
----------------------------------------------------------------------
CREATE TABLE images (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
  camera_id           INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  filename            TEXT NOT NULL,
  file_path           TEXT NOT NULL,
  file_size_bytes     INTEGER NOT NULL,
  width               INTEGER,
  height              INTEGER,
  format              TEXT NOT NULL,
  quality_score       INTEGER CHECK (quality_score BETWEEN 0 AND 100),
  file_hash           TEXT,
  captured_at         INTEGER NOT NULL,
  day_number          INTEGER,
  processing_metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(processing_metadata)),
  created_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX idx_images_camera_captured_desc ON images(camera_id, captured_at DESC);
CREATE INDEX idx_images_captured_at ON images(captured_at);
CREATE INDEX idx_images_camera_day ON images(camera_id, day_number);

CREATE TABLE timelapse_batches (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
  camera_id           INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  batch_type          TEXT NOT NULL CHECK (batch_type IN ('continuous', 'checkpoint', 'manual')),
  status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  output_filename     TEXT,
  output_path         TEXT,
  file_size_bytes     INTEGER,
  frame_rate          INTEGER NOT NULL DEFAULT 30,
  total_frames        INTEGER NOT NULL DEFAULT 0,
  duration_seconds    REAL,
  generation_mode     TEXT NOT NULL CHECK (generation_mode IN ('every_capture', 'periodic', 'manual_only')),
  day_overlay_applied INTEGER NOT NULL DEFAULT 0 CHECK (day_overlay_applied IN (0, 1)),
  day_range_start     INTEGER,
  day_range_end       INTEGER,
  started_at          INTEGER,
  completed_at        INTEGER,
  error_message       TEXT,
  created_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX idx_batches_pending ON timelapse_batches(status, created_at) WHERE status = 'pending';
CREATE INDEX idx_batches_camera ON timelapse_batches(camera_id, created_at);

CREATE TABLE timelapse_images (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  timelapse_batch_id INTEGER NOT NULL REFERENCES timelapse_batches(id) ON DELETE CASCADE,
  image_id           INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  sequence_order     INTEGER NOT NULL,
  included_at        INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  UNIQUE (timelapse_batch_id, image_id),
  UNIQUE (timelapse_batch_id, sequence_order)
) STRICT;
CREATE INDEX idx_timelapse_images_image ON timelapse_images(image_id);

CREATE TABLE capture_attempts (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  camera_id     INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
  attempted_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  status        TEXT NOT NULL CHECK (status IN ('success', 'failed', 'timeout', 'error')),
  image_id      INTEGER REFERENCES images(id) ON DELETE SET NULL,
  error_message TEXT,
  duration_ms   INTEGER,
  retry_count   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX idx_capture_attempts_camera ON capture_attempts(camera_id, attempted_at);

CREATE TABLE shares (
  id               INTEGER PRIMARY KEY,
  share_token      TEXT NOT NULL UNIQUE,  -- UUID v4 text
  title            TEXT NOT NULL,
  description      TEXT,
  share_type       TEXT NOT NULL CHECK (share_type IN ('video_only', 'info_page', 'gallery')),
  is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
  download_enabled INTEGER NOT NULL DEFAULT 0 CHECK (download_enabled IN (0, 1)),
  embed_enabled    INTEGER NOT NULL DEFAULT 0 CHECK (embed_enabled IN (0, 1)),
  expires_at       INTEGER,
  metadata         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  view_count       INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
CREATE INDEX idx_shares_active ON shares(is_active, expires_at);

-- tsvector -> FTS5, kept in step by triggers (seed 004's shares_search_vector_update)
CREATE VIRTUAL TABLE shares_search USING fts5(title, description, content='shares', content_rowid='id');
CREATE TRIGGER shares_search_ai AFTER INSERT ON shares BEGIN
  INSERT INTO shares_search(rowid, title, description) VALUES (new.id, new.title, COALESCE(new.description, ''));
END;
CREATE TRIGGER shares_search_ad AFTER DELETE ON shares BEGIN
  INSERT INTO shares_search(shares_search, rowid, title, description) VALUES ('delete', old.id, old.title, COALESCE(old.description, ''));
END;
CREATE TRIGGER shares_search_au AFTER UPDATE OF title, description ON shares BEGIN
  INSERT INTO shares_search(shares_search, rowid, title, description) VALUES ('delete', old.id, old.title, COALESCE(old.description, ''));
  INSERT INTO shares_search(rowid, title, description) VALUES (new.id, new.title, COALESCE(new.description, ''));
END;

CREATE TABLE share_batches (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  share_id           INTEGER NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
  timelapse_batch_id INTEGER NOT NULL REFERENCES timelapse_batches(id) ON DELETE CASCADE,
  display_order      INTEGER NOT NULL DEFAULT 1,
  custom_title       TEXT,
  show_metadata      INTEGER NOT NULL DEFAULT 1 CHECK (show_metadata IN (0, 1)),
  added_at           INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
  UNIQUE (share_id, timelapse_batch_id)
) STRICT;
CREATE INDEX idx_share_batches_share ON share_batches(share_id, display_order);

-- upgrade 0005: a saved trip or a clip file in a share (the link a driver sends to an insurer);
-- items of share_batches and share_footage share one display_order
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

CREATE TABLE share_customization (
  id              INTEGER PRIMARY KEY,
  share_id        INTEGER NOT NULL UNIQUE REFERENCES shares(id) ON DELETE CASCADE,
  theme_config    TEXT NOT NULL DEFAULT '{"primary_color": "#007bff"}' CHECK (json_valid(theme_config)),
  display_options TEXT NOT NULL DEFAULT '{"show_camera_info": true, "show_day_counter": true, "show_date_range": true, "show_technical_info": false, "show_generation_time": false, "layout": "grid"}'
                    CHECK (json_valid(display_options)),
  created_at      INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;

-- seed 004 triggers: cameras.updated_at, images.day_number
CREATE TRIGGER update_cameras_timestamp AFTER UPDATE ON cameras
  WHEN NEW.updated_at = OLD.updated_at
BEGIN
  UPDATE cameras SET updated_at = CAST(unixepoch('subsec') * 1000 AS INTEGER) WHERE id = NEW.id;
END;

CREATE TRIGGER calculate_day_number AFTER INSERT ON images
  WHEN NEW.day_number IS NULL
BEGIN
  UPDATE images
  SET day_number = (
    SELECT CASE
      WHEN c.day_counter_enabled = 1 AND c.day_counter_start_date IS NOT NULL
      THEN CAST(julianday(date(NEW.captured_at / 1000, 'unixepoch')) - julianday(c.day_counter_start_date) AS INTEGER) + 1
      ELSE NULL
    END
    FROM cameras c WHERE c.id = NEW.camera_id
  )
  WHERE id = NEW.id;
END;
