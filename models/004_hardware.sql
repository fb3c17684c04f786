-- Schema version 4: what an iteration's time depends on besides dense FLOPs.
-- Per-precision peaks, the SM count (GEMM wave quantization), the fractions
-- of peak that large GEMMs, flash attention, HBM streams and NCCL
-- collectives reach, the kernel launch floor, scale-up domain and node size,
-- link latencies, alias names, and a table of measured collective
-- performance (nccl-tests output imported by `pipelab db import`).
-- docs/hardware.md gives every figure with its source; figures marked
-- [estimated] there are not from a datasheet. Applied inside the same
-- BEGIN IMMEDIATE transaction as every migration: all of it or none.

ALTER TABLE gpus ADD COLUMN fp8_dense_flops REAL CHECK (fp8_dense_flops > 0);
ALTER TABLE gpus ADD COLUMN fp4_dense_flops REAL CHECK (fp4_dense_flops > 0);
ALTER TABLE gpus ADD COLUMN sm_count INTEGER NOT NULL DEFAULT 108
  CHECK (sm_count > 0);
ALTER TABLE gpus ADD COLUMN gemm_efficiency REAL NOT NULL DEFAULT 0.75
  CHECK (gemm_efficiency > 0 AND gemm_efficiency <= 1);
ALTER TABLE gpus ADD COLUMN attn_efficiency REAL NOT NULL DEFAULT 0.5
  CHECK (attn_efficiency > 0 AND attn_efficiency <= 1);
ALTER TABLE gpus ADD COLUMN hbm_efficiency REAL NOT NULL DEFAULT 0.85
  CHECK (hbm_efficiency > 0 AND hbm_efficiency <= 1);
ALTER TABLE gpus ADD COLUMN kernel_launch_us REAL NOT NULL DEFAULT 4
  CHECK (kernel_launch_us >= 0);
ALTER TABLE gpus ADD COLUMN scaleup_domain INTEGER NOT NULL DEFAULT 8
  CHECK (scaleup_domain > 0);
ALTER TABLE gpus ADD COLUMN gpus_per_node INTEGER NOT NULL DEFAULT 8
  CHECK (gpus_per_node > 0);
ALTER TABLE gpus ADD COLUMN scaleup_latency_us REAL NOT NULL DEFAULT 2
  CHECK (scaleup_latency_us >= 0);
ALTER TABLE gpus ADD COLUMN scaleout_latency_us REAL NOT NULL DEFAULT 6
  CHECK (scaleout_latency_us >= 0);
ALTER TABLE gpus ADD COLUMN scaleup_coll_efficiency REAL NOT NULL DEFAULT 0.8
  CHECK (scaleup_coll_efficiency > 0 AND scaleup_coll_efficiency <= 1);
ALTER TABLE gpus ADD COLUMN scaleout_coll_efficiency REAL NOT NULL DEFAULT 0.9
  CHECK (scaleout_coll_efficiency > 0 AND scaleout_coll_efficiency <= 1);
-- Comma-separated other names the GPU is known by ("a100-80gb,a100-sxm4").
ALTER TABLE gpus ADD COLUMN aliases TEXT NOT NULL DEFAULT '';

-- The seeded GPUs of version 1 (the CPU row keeps the defaults: it is never
-- priced analytically).
UPDATE gpus SET aliases = 'a100-80gb,a100-sxm4-80gb', sm_count = 108,
  gemm_efficiency = 0.859, attn_efficiency = 0.60, hbm_efficiency = 0.85,
  scaleup_coll_efficiency = 0.77, scaleout_coll_efficiency = 0.90,
  source = 'NVIDIA A100 Tensor Core GPU datasheet (2020): 312 TFLOP/s dense FP16/BF16, 2039 GB/s HBM2e, NVLink3 600 GB/s total; DGX A100: 8 HDR 200 Gb/s NICs'
  WHERE name = 'a100';
UPDATE gpus SET aliases = 'h100-sxm,h100-sxm5', fp8_dense_flops = 1978.9e12,
  sm_count = 132, gemm_efficiency = 0.801, attn_efficiency = 0.55,
  hbm_efficiency = 0.88, scaleup_coll_efficiency = 0.80,
  scaleout_coll_efficiency = 0.90,
  source = 'NVIDIA H100 Tensor Core GPU datasheet (SXM5): 989.4 TFLOP/s dense BF16, 1978.9 dense FP8, 3.35 TB/s HBM3, NVLink4 900 GB/s total; DGX H100: 8 ConnectX-7 NDR 400 Gb/s'
  WHERE name = 'h100';
UPDATE gpus SET aliases = 'h200-sxm', fp8_dense_flops = 1978.9e12,
  bf16_dense_flops = 989.4e12, sm_count = 132, gemm_efficiency = 0.801,
  attn_efficiency = 0.55, hbm_efficiency = 0.88,
  scaleup_coll_efficiency = 0.80, scaleout_coll_efficiency = 0.90,
  source = 'NVIDIA H200 datasheet (SXM): same GH100 compute as H100 SXM (989.4 TFLOP/s dense BF16, 1978.9 FP8), 141 GB HBM3e at 4.8 TB/s, NVLink4 900 GB/s total'
  WHERE name = 'h200';
UPDATE gpus SET aliases = 'b200-hgx', fp8_dense_flops = 4500e12,
  fp4_dense_flops = 9000e12, sm_count = 148, gemm_efficiency = 0.75,
  attn_efficiency = 0.50, hbm_efficiency = 0.85,
  scaleup_coll_efficiency = 0.80, scaleout_coll_efficiency = 0.90,
  source = 'NVIDIA HGX B200 datasheet (1000 W): 2.25 PFLOP/s dense BF16, 4.5 FP8, 9 FP4 per GPU; 8 TB/s HBM3e, ~180 GB usable; NVLink5 1.8 TB/s total; ConnectX-7 400 Gb/s'
  WHERE name = 'b200';
UPDATE gpus SET aliases = 'mi300', fp8_dense_flops = 2614.9e12,
  sm_count = 304, gemm_efficiency = 0.601, attn_efficiency = 0.35,
  hbm_efficiency = 0.80, scaleup_coll_efficiency = 0.70,
  scaleout_coll_efficiency = 0.85, kernel_launch_us = 6,
  source = 'AMD Instinct MI300X datasheet: 1307.4 TFLOP/s dense BF16, 2614.9 FP8, 192 GB HBM3 at 5.3 TB/s, 7 Infinity Fabric links x 64 GB/s per direction, 304 CUs'
  WHERE name = 'mi300x';

INSERT INTO gpus (name, full_name, vendor, bf16_dense_flops, hbm_bytes,
  hbm_bytes_per_s, scaleup_bytes_per_s, scaleout_bytes_per_s,
  host_link_bytes_per_s, default_mfu, p2p_latency_us, source, kind,
  fp8_dense_flops, fp4_dense_flops, sm_count, gemm_efficiency,
  attn_efficiency, hbm_efficiency, kernel_launch_us, scaleup_domain,
  gpus_per_node, scaleup_latency_us, scaleout_latency_us,
  scaleup_coll_efficiency, scaleout_coll_efficiency, aliases) VALUES
 ('a100-40gb', 'NVIDIA A100 SXM4 40GB', 'NVIDIA', 312e12, 42949672960,
  1.555e12, 300e9, 25e9, 32e9, 0.60, 10,
  'NVIDIA A100 Tensor Core GPU datasheet (2020): 312 TFLOP/s dense FP16/BF16, 40 GB HBM2 at 1555 GB/s, NVLink3 600 GB/s total; DGX A100 8 HDR NICs',
  'gpu', NULL, NULL, 108, 0.859, 0.60, 0.85, 4, 8, 8, 2, 6, 0.77, 0.90,
  'a100-sxm4-40gb'),
 ('b300', 'NVIDIA B300 HGX (Blackwell Ultra)', 'NVIDIA', 2250e12,
  309237645312, 8e12, 900e9, 100e9, 64e9, 0.45, 10,
  'NVIDIA HGX B300 / Blackwell Ultra pages: 288 GB HBM3e at 8 TB/s, NVLink5 1.8 TB/s total, ConnectX-8 800 Gb/s; dense BF16/FP8 as B200, FP4 1.5x B200 [estimated per-GPU split]',
  'gpu', 4500e12, 13500e12, 148, 0.75, 0.50, 0.85, 4, 8, 8, 2, 6, 0.80,
  0.90, 'b300-hgx'),
 ('gb200', 'NVIDIA GB200 NVL72 (per GPU)', 'NVIDIA', 2500e12, 199715979264,
  8e12, 900e9, 50e9, 450e9, 0.45, 10,
  'NVIDIA GB200 NVL72 datasheet: per GPU 2.5 PFLOP/s dense BF16, 5 FP8, 10 FP4, 186 GB HBM3e at 8 TB/s, NVLink5 1.8 TB/s total in a 72-GPU domain, 4 GPUs per compute tray, NVLink-C2C 900 GB/s to Grace, ConnectX-7 400 Gb/s',
  'gpu', 5000e12, 10000e12, 148, 0.75, 0.50, 0.85, 4, 72, 4, 2.5, 6, 0.80,
  0.90, 'gb200-nvl72'),
 ('gb300', 'NVIDIA GB300 NVL72 (per GPU)', 'NVIDIA', 2500e12, 309237645312,
  8e12, 900e9, 100e9, 450e9, 0.45, 10,
  'NVIDIA GB300 NVL72 page: 288 GB HBM3e per GPU at 8 TB/s, NVLink5 1.8 TB/s total in a 72-GPU domain, ConnectX-8 800 Gb/s; BF16/FP8 as GB200, FP4 1.5x GB200 [estimated per-GPU split]',
  'gpu', 5000e12, 15000e12, 148, 0.75, 0.50, 0.85, 4, 72, 4, 2.5, 6, 0.80,
  0.90, 'gb300-nvl72'),
 ('mi325x', 'AMD Instinct MI325X', 'AMD', 1307.4e12, 274877906944, 6e12,
  448e9, 50e9, 64e9, 0.40, 10,
  'AMD Instinct MI325X datasheet: 1307.4 TFLOP/s dense BF16, 2614.9 FP8, 256 GB HBM3E at 6 TB/s, 7 Infinity Fabric links x 64 GB/s per direction, 304 CUs',
  'gpu', 2614.9e12, NULL, 304, 0.601, 0.35, 0.80, 6, 8, 8, 2.5, 6, 0.70,
  0.85, ''),
 ('mi355x', 'AMD Instinct MI355X', 'AMD', 2516.6e12, 309237645312, 8e12,
  537.6e9, 50e9, 64e9, 0.40, 10,
  'AMD Instinct MI355X datasheet: 2.5 PFLOP/s dense BF16, 5.0 FP8, 10 MXFP4, 288 GB HBM3E at 8 TB/s, 256 CUs; Infinity Fabric 7 x 76.8 GB/s per direction [estimated]',
  'gpu', 5033.2e12, 10066.3e12, 256, 0.60, 0.40, 0.80, 6, 8, 8, 2.5, 6,
  0.70, 0.85, '');

-- Measured collective performance: one row per message size of one
-- nccl-tests run (all_reduce_perf, reduce_scatter_perf, all_gather_perf,
-- sendrecv_perf), filed under a calibration run of the GPU. size_bytes is
-- nccl-tests' "size" column (the whole buffer: the all-reduce input, the
-- all-gather output, the reduce-scatter input); time_us and the bandwidths
-- are its out-of-place figures. n_ranks and n_nodes come from the log's
-- rank lines (distinct host names).
CREATE TABLE collectives (
  id                INTEGER PRIMARY KEY,
  calibration_id    INTEGER NOT NULL
                    REFERENCES calibrations(id) ON DELETE CASCADE,
  op                TEXT NOT NULL CHECK (op IN
                    ('all_reduce', 'reduce_scatter', 'all_gather', 'sendrecv')),
  n_ranks           INTEGER NOT NULL CHECK (n_ranks > 0),
  n_nodes           INTEGER NOT NULL CHECK (n_nodes > 0 AND n_nodes <= n_ranks),
  size_bytes        INTEGER NOT NULL CHECK (size_bytes > 0),
  time_us           REAL NOT NULL CHECK (time_us > 0),
  algbw_bytes_per_s REAL NOT NULL CHECK (algbw_bytes_per_s >= 0),
  busbw_bytes_per_s REAL NOT NULL CHECK (busbw_bytes_per_s >= 0)
) STRICT;
CREATE INDEX collectives_key ON collectives(op, n_nodes > 1, calibration_id);
