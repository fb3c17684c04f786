-- Schema version 2: simulated and real runs (the comparison / history
-- issue), their per-rank summaries and per-op rows. docs/database.md has
-- example queries.

CREATE TABLE runs (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT NOT NULL CHECK (kind IN ('simulated', 'real')),
  backend             TEXT NOT NULL,          -- 'sim', 'cpu', 'cuda', 'kineto'
  label               TEXT,                   -- free text from the user
  created_at_ns       INTEGER NOT NULL CHECK (created_at_ns >= 0),
  host                TEXT NOT NULL,
  pipelab_version     TEXT NOT NULL,
  git_rev             TEXT,
  schedule            TEXT NOT NULL,
  stages              INTEGER NOT NULL CHECK (stages > 0),
  virtual_stages      INTEGER NOT NULL CHECK (virtual_stages >= stages),
  microbatches        INTEGER NOT NULL CHECK (microbatches > 0),
  chunks              INTEGER NOT NULL CHECK (chunks > 0),
  model_name          TEXT,                   -- catalog model, NULL = none
  gpu_name            TEXT,                   -- catalog GPU, NULL = none
  mb_size             INTEGER CHECK (mb_size > 0),
  seq_len             INTEGER CHECK (seq_len > 0),
  tp                  INTEGER CHECK (tp > 0),
  dp                  INTEGER CHECK (dp > 0),
  cost_source         TEXT NOT NULL CHECK (cost_source IN
                      ('user', 'analytic', 'measured', 'interpolated',
                       'extrapolated', 'mixed', 'executed')),
  calibration_id      INTEGER REFERENCES calibrations(id) ON DELETE SET NULL,
  params_json         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params_json)),
  time_unit           TEXT NOT NULL,          -- unit of the *_time columns
  us_per_time_unit    REAL CHECK (us_per_time_unit > 0), -- NULL: unitless
  mem_unit            TEXT NOT NULL CHECK (mem_unit IN ('units', 'bytes')),
  makespan_time       REAL NOT NULL CHECK (makespan_time >= 0),
  iteration_time      REAL CHECK (iteration_time >= 0),
  bubble_ratio        REAL CHECK (bubble_ratio >= 0 AND bubble_ratio <= 1),
  peak_mem            REAL CHECK (peak_mem >= 0), -- activation, mem_unit
  iteration_seconds   REAL CHECK (iteration_seconds >= 0),
  tokens_per_second   REAL CHECK (tokens_per_second >= 0),
  mfu                 REAL CHECK (mfu >= 0)
) STRICT;
CREATE INDEX runs_created ON runs(created_at_ns);
CREATE INDEX runs_case ON runs(schedule, stages, microbatches);

CREATE TABLE run_ranks (
  run_id              INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  rank                INTEGER NOT NULL CHECK (rank >= 0),
  busy_time           REAL NOT NULL CHECK (busy_time >= 0),
  first_start_time    REAL NOT NULL,
  last_end_time       REAL NOT NULL,
  bubble_ratio        REAL,
  peak_mem            REAL CHECK (peak_mem >= 0),   -- activation, mem_unit
  static_bytes        INTEGER CHECK (static_bytes >= 0), -- weights+grads+optim
  peak_bytes          INTEGER CHECK (peak_bytes >= 0),   -- static + activation
  hbm_bytes           INTEGER CHECK (hbm_bytes > 0),
  ops                 INTEGER NOT NULL CHECK (ops >= 0),
  PRIMARY KEY (run_id, rank)
) STRICT, WITHOUT ROWID;

CREATE TABLE run_ops (
  run_id              INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  rank                INTEGER NOT NULL CHECK (rank >= 0),
  idx                 INTEGER NOT NULL CHECK (idx >= 0), -- position on rank
  op_kind             TEXT NOT NULL CHECK (op_kind IN ('F', 'B', 'W', 'BW', 'FB')),
  stage               INTEGER NOT NULL CHECK (stage >= 0),
  mb                  INTEGER NOT NULL CHECK (mb >= 0),
  op_kind2            TEXT CHECK (op_kind2 IN ('B', 'BW')),  -- FB only
  stage2              INTEGER,
  mb2                 INTEGER,
  start_time          REAL NOT NULL,
  end_time            REAL NOT NULL CHECK (end_time >= start_time),
  PRIMARY KEY (run_id, rank, idx)
) STRICT, WITHOUT ROWID;
