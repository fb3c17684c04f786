-- Schema version 3: calibrations of the executor's CPU backend.
-- `pipelab calibrate --backend cpu` measures the executor's workload in fp64
-- on the host CPU and files it under a catalog device; versions 1-2 had no
-- such device and no fp64 dtype. Applied inside the same BEGIN IMMEDIATE
-- transaction as every migration: all of it or none.

-- Devices are GPUs or the host CPU. Analytic pricing (--model) needs a GPU;
-- a cpu device only carries measured samples.
ALTER TABLE gpus ADD COLUMN kind TEXT NOT NULL DEFAULT 'gpu'
  CHECK (kind IN ('gpu', 'cpu'));

-- The catalog row the CPU backend's calibrations are filed under. The rate
-- columns are NOT NULL in version 1; they hold nominal figures of a two-core
-- AVX2 host (2 cores x 3 GHz x 16 fp64 FLOP/cycle; DDR4 dual channel) and
-- are never used for pricing: modelopts refuses --model with a cpu device.
INSERT INTO gpus (name, full_name, vendor, bf16_dense_flops, hbm_bytes,
  hbm_bytes_per_s, scaleup_bytes_per_s, scaleout_bytes_per_s,
  host_link_bytes_per_s, default_mfu, p2p_latency_us, source, kind) VALUES
 ('cpu', 'Host CPU (pipelab CPU backend)', 'generic', 96e9, 17179869184,
  40e9, 10e9, 1.25e9, NULL, 0.5, 1,
  'placeholder row for pipelab calibrate --backend cpu; rates are nominal and unused (measured samples only)',
  'cpu');

-- samples.dtype gains fp64 (the CPU workload's precision). SQLite cannot
-- alter a CHECK constraint, so the table is rebuilt: new table, copy, drop,
-- rename, index. No table references samples, so foreign keys stay on.
CREATE TABLE samples_v3 (
  id                INTEGER PRIMARY KEY,
  calibration_id    INTEGER NOT NULL
                    REFERENCES calibrations(id) ON DELETE CASCADE,
  op_kind           TEXT NOT NULL CHECK (op_kind IN ('F', 'B', 'W', 'BW')),
  layer_kind        TEXT NOT NULL
                    CHECK (layer_kind IN ('transformer', 'lm_head', 'embedding')),
  model_name        TEXT,
  mb_size           INTEGER NOT NULL CHECK (mb_size > 0),
  seq_len           INTEGER NOT NULL CHECK (seq_len > 0),
  hidden            INTEGER NOT NULL CHECK (hidden > 0),
  dtype             TEXT NOT NULL
                    CHECK (dtype IN ('bf16', 'fp16', 'fp32', 'fp8', 'fp64')),
  tp                INTEGER NOT NULL DEFAULT 1 CHECK (tp > 0),
  mean_us           REAL NOT NULL CHECK (mean_us > 0),
  stddev_us         REAL NOT NULL DEFAULT 0 CHECK (stddev_us >= 0),
  count             INTEGER NOT NULL DEFAULT 1 CHECK (count > 0)
) STRICT;
INSERT INTO samples_v3 (id, calibration_id, op_kind, layer_kind, model_name,
  mb_size, seq_len, hidden, dtype, tp, mean_us, stddev_us, count)
  SELECT id, calibration_id, op_kind, layer_kind, model_name, mb_size,
         seq_len, hidden, dtype, tp, mean_us, stddev_us, count FROM samples;
DROP TABLE samples;
ALTER TABLE samples_v3 RENAME TO samples;
CREATE INDEX samples_key
  ON samples(layer_kind, hidden, dtype, tp, op_kind, calibration_id);
