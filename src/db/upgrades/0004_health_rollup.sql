-- Upgrade 0004: hourly aggregates of the camera health metrics (seed 003's retention policy:
-- raw health_metrics are kept 90 days, then only hourly summaries, which are kept a year).
-- Frozen: never edit.
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
CREATE INDEX idx_snapshots_camera_anomalous ON snapshots(camera_id, captured_at) WHERE anomalies IS NOT NULL AND anomalies <> '[]';
