-- Upgrade 0 -> 1: recording core (seeds 000 and 002) and runtime tables. Frozen: never edit.

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
                       CHECK (status IN ('open', 'closed', 'saving', 'saved', 'evicted'))
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
  mp4_path     TEXT
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

