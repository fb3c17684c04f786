-- Schema version 6: costs learned from a measured profile (`pipelab
-- calibrate --from`, docs/learned-costs.md). A profile belongs to one
-- calibration run (device, host, date, pipelab version, method, notes) and
-- records where it came from (the profile files' SHA-256, the schedule it
-- ran, the workload key, the pipelab git revision) with the fitted
-- runtime overhead and P2P time; learned_costs holds the per-(stage, op
-- kind) medians. Applied inside the same BEGIN IMMEDIATE transaction as
-- every migration: all of it or none.

CREATE TABLE learned_profiles (
  id                INTEGER PRIMARY KEY,
  calibration_id    INTEGER NOT NULL
                    REFERENCES calibrations(id) ON DELETE CASCADE,
  source_sha256     TEXT NOT NULL CHECK (length(source_sha256) = 64),
  source_kind       TEXT NOT NULL,          -- 'cpu', 'cuda', 'kineto', ...
  schedule          TEXT NOT NULL,
  stages            INTEGER NOT NULL CHECK (stages > 0),
  virtual_stages    INTEGER NOT NULL CHECK (virtual_stages >= stages),
  chunks            INTEGER NOT NULL CHECK (chunks > 0),
  microbatches      INTEGER NOT NULL CHECK (microbatches > 0),
  iterations        INTEGER NOT NULL CHECK (iterations > 0),
  workload_key      TEXT NOT NULL CHECK (length(workload_key) > 0),
  git_rev           TEXT,
  time_unit         TEXT NOT NULL,          -- of every *_time column
  op_gap_time       REAL NOT NULL CHECK (op_gap_time >= 0),
  op_gap_dispersion REAL NOT NULL DEFAULT 0 CHECK (op_gap_dispersion >= 0),
  op_gap_count      INTEGER NOT NULL DEFAULT 0 CHECK (op_gap_count >= 0),
  p2p_time          REAL NOT NULL CHECK (p2p_time >= 0),
  p2p_dispersion    REAL NOT NULL DEFAULT 0 CHECK (p2p_dispersion >= 0),
  p2p_count         INTEGER NOT NULL DEFAULT 0 CHECK (p2p_count >= 0),
  p2p_latency_time  REAL NOT NULL CHECK (p2p_latency_time >= 0),
  p2p_bytes_per_time REAL CHECK (p2p_bytes_per_time > 0), -- NULL: all latency
  msg_bytes         REAL CHECK (msg_bytes > 0),           -- NULL: unknown
  b_frac            REAL CHECK (b_frac > 0 AND b_frac < 1), -- NULL: B, W measured or unknown
  have_split        INTEGER NOT NULL CHECK (have_split IN (0, 1)),
  measured_bw       INTEGER NOT NULL CHECK (measured_bw IN (0, 1))
) STRICT;
CREATE INDEX learned_profiles_key ON learned_profiles(workload_key, id);

CREATE TABLE learned_costs (
  profile_id        INTEGER NOT NULL
                    REFERENCES learned_profiles(id) ON DELETE CASCADE,
  stage             INTEGER NOT NULL CHECK (stage >= 0),
  op_kind           TEXT NOT NULL CHECK (op_kind IN ('F', 'B', 'W', 'BW')),
  median_time       REAL NOT NULL CHECK (median_time >= 0),
  dispersion        REAL NOT NULL DEFAULT 0 CHECK (dispersion >= 0),
  min_time          REAL NOT NULL DEFAULT 0,
  max_time          REAL NOT NULL DEFAULT 0,
  count             INTEGER NOT NULL CHECK (count >= 0), -- samples kept
  excluded          INTEGER NOT NULL DEFAULT 0 CHECK (excluded >= 0),
  derived           INTEGER NOT NULL CHECK (derived IN (0, 1)),
  PRIMARY KEY (profile_id, stage, op_kind)
) STRICT, WITHOUT ROWID;
