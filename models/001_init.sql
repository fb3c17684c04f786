-- pipelab database, schema version 1: the GPU and model catalog, calibration
-- runs with their measured samples and P2P link costs. Applied by
-- models/db.c inside one BEGIN IMMEDIATE transaction together with
-- PRAGMA application_id and PRAGMA user_version. docs/database.md documents
-- every table. Units are in the column names; sizes are INTEGER bytes.

CREATE TABLE gpus (
  id                         INTEGER PRIMARY KEY,
  name                       TEXT NOT NULL UNIQUE COLLATE NOCASE
                             CHECK (length(name) BETWEEN 1 AND 31),
  full_name                  TEXT NOT NULL,
  vendor                     TEXT NOT NULL,
  bf16_dense_flops           REAL NOT NULL CHECK (bf16_dense_flops > 0),
  hbm_bytes                  INTEGER NOT NULL CHECK (hbm_bytes > 0),
  hbm_bytes_per_s            REAL NOT NULL CHECK (hbm_bytes_per_s > 0),
  scaleup_bytes_per_s        REAL NOT NULL CHECK (scaleup_bytes_per_s > 0),
  scaleout_bytes_per_s       REAL NOT NULL CHECK (scaleout_bytes_per_s > 0),
  host_link_bytes_per_s      REAL CHECK (host_link_bytes_per_s > 0),
  default_mfu                REAL NOT NULL
                             CHECK (default_mfu > 0 AND default_mfu <= 1),
  p2p_latency_us             REAL NOT NULL CHECK (p2p_latency_us >= 0),
  source                     TEXT NOT NULL
) STRICT;

CREATE TABLE models (
  id                INTEGER PRIMARY KEY,
  name              TEXT NOT NULL UNIQUE COLLATE NOCASE
                    CHECK (length(name) BETWEEN 1 AND 31),
  full_name         TEXT NOT NULL,
  arch              TEXT NOT NULL CHECK (arch IN ('gpt', 'llama')),
  layers            INTEGER NOT NULL CHECK (layers > 0),
  hidden            INTEGER NOT NULL CHECK (hidden > 0),
  heads             INTEGER NOT NULL CHECK (heads > 0),
  kv_heads          INTEGER NOT NULL CHECK (kv_heads > 0 AND kv_heads <= heads),
  ffn               INTEGER NOT NULL CHECK (ffn > 0),
  vocab             INTEGER NOT NULL CHECK (vocab > 0),
  seq_len           INTEGER NOT NULL CHECK (seq_len > 0),
  tied_embeddings   INTEGER NOT NULL CHECK (tied_embeddings IN (0, 1)),
  learned_pos       INTEGER NOT NULL CHECK (learned_pos IN (0, 1)),
  published_params  REAL CHECK (published_params > 0),
  source            TEXT NOT NULL
) STRICT;

CREATE TABLE calibrations (
  id                INTEGER PRIMARY KEY,
  gpu_id            INTEGER NOT NULL REFERENCES gpus(id),
  device_name       TEXT NOT NULL,
  host              TEXT NOT NULL,
  driver_version    TEXT,
  cuda_version      TEXT,
  nccl_version      TEXT,
  created_at_ns     INTEGER NOT NULL CHECK (created_at_ns >= 0),
  pipelab_version   TEXT NOT NULL,
  method            TEXT NOT NULL CHECK (length(method) > 0),
  notes             TEXT
) STRICT;
CREATE INDEX calibrations_gpu ON calibrations(gpu_id, id);

CREATE TABLE samples (
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
  dtype             TEXT NOT NULL CHECK (dtype IN ('bf16', 'fp16', 'fp32', 'fp8')),
  tp                INTEGER NOT NULL DEFAULT 1 CHECK (tp > 0),
  mean_us           REAL NOT NULL CHECK (mean_us > 0),
  stddev_us         REAL NOT NULL DEFAULT 0 CHECK (stddev_us >= 0),
  count             INTEGER NOT NULL DEFAULT 1 CHECK (count > 0)
) STRICT;
CREATE INDEX samples_key
  ON samples(layer_kind, hidden, dtype, tp, op_kind, calibration_id);

CREATE TABLE p2p_links (
  id                INTEGER PRIMARY KEY,
  calibration_id    INTEGER NOT NULL
                    REFERENCES calibrations(id) ON DELETE CASCADE,
  link_kind         TEXT NOT NULL CHECK (link_kind IN
                    ('nvlink', 'xgmi', 'pcie', 'ib', 'roce', 'ethernet', 'local')),
  latency_us        REAL NOT NULL CHECK (latency_us >= 0),
  bytes_per_s       REAL NOT NULL CHECK (bytes_per_s > 0),
  UNIQUE (calibration_id, link_kind)
) STRICT;

-- GPU catalog (docs/hardware.md). HBM "GB" of the datasheets
-- is stored as GiB (80 GB = 81920 MiB as nvidia-smi reports); B200 stores the
-- ~180 GB usable on HGX/DGX. scale-up = per direction; scale-out = one NIC
-- per GPU, per direction (HDR 25 GB/s on A100 systems, NDR 50 GB/s on
-- H100/H200/B200/MI300X systems). default_mfu is the per-op fraction of
-- peak of the large GEMMs (cost-model.md §2.3, rule of thumb [unverified]);
-- p2p_latency_us is a rule-of-thumb default [unverified].
INSERT INTO gpus (name, full_name, vendor, bf16_dense_flops, hbm_bytes,
  hbm_bytes_per_s, scaleup_bytes_per_s, scaleout_bytes_per_s,
  host_link_bytes_per_s, default_mfu, p2p_latency_us, source) VALUES
 ('a100', 'NVIDIA A100 SXM4 80GB', 'NVIDIA', 312e12, 85899345920,
  2.039e12, 300e9, 25e9, 32e9, 0.60, 10,
  'NVIDIA A100 datasheet via glennklockwood.com/garden/processors/A100; MFU: cost-model.md 2.3 rule of thumb'),
 ('h100', 'NVIDIA H100 SXM5 80GB', 'NVIDIA', 989.4e12, 85899345920,
  3.35e12, 450e9, 50e9, 64e9, 0.50, 10,
  'NVIDIA H100 datasheet via glennklockwood.com/garden/processors/h100; MFU: cost-model.md 2.3 rule of thumb'),
 ('h200', 'NVIDIA H200 SXM 141GB', 'NVIDIA', 989e12, 151397597184,
  4.8e12, 450e9, 50e9, 64e9, 0.50, 10,
  'NVIDIA H200 product page via aiwiki.ai/wiki/nvidia_h200 (dense figure; 1979 includes sparsity)'),
 ('b200', 'NVIDIA B200 HGX 1000W', 'NVIDIA', 2250e12, 193273528320,
  8e12, 900e9, 50e9, 128e9, 0.45, 10,
  'glennklockwood.com/garden/processors/B200; Vultr HGX B200 page (~180 GB usable); MFU unverified'),
 ('mi300x', 'AMD Instinct MI300X', 'AMD', 1307.4e12, 206158430208,
  5.3e12, 448e9, 50e9, 64e9, 0.40, 10,
  'AMD MI300X datasheet, recalled [unverified]; Infinity Fabric 896 GB/s aggregate both directions; MFU unverified');

-- Model catalog (docs/cost-model.md, published shapes). GPT: FFN 4h, GPT-2 BPE
-- vocabulary 50257, context 2048, learned positions, tied embeddings.
-- LLaMA: SwiGLU, RMSNorm, RoPE, untied embeddings.
INSERT INTO models (name, full_name, arch, layers, hidden, heads, kv_heads,
  ffn, vocab, seq_len, tied_embeddings, learned_pos, published_params,
  source) VALUES
 ('gpt3-125m', 'GPT-3 Small', 'gpt', 12, 768, 12, 12, 3072, 50257, 2048, 1, 1, 125e6, 'Brown et al. 2020, Table 2.1'),
 ('gpt3-350m', 'GPT-3 Medium', 'gpt', 24, 1024, 16, 16, 4096, 50257, 2048, 1, 1, 350e6, 'Brown et al. 2020, Table 2.1'),
 ('gpt3-760m', 'GPT-3 Large', 'gpt', 24, 1536, 16, 16, 6144, 50257, 2048, 1, 1, 760e6, 'Brown et al. 2020, Table 2.1'),
 ('gpt3-1.3b', 'GPT-3 XL', 'gpt', 24, 2048, 24, 24, 8192, 50257, 2048, 1, 1, 1.3e9, 'Brown et al. 2020, Table 2.1'),
 ('gpt3-2.7b', 'GPT-3 2.7B', 'gpt', 32, 2560, 32, 32, 10240, 50257, 2048, 1, 1, 2.7e9, 'Brown et al. 2020, Table 2.1'),
 ('gpt3-6.7b', 'GPT-3 6.7B', 'gpt', 32, 4096, 32, 32, 16384, 50257, 2048, 1, 1, 6.7e9, 'Brown et al. 2020, Table 2.1'),
 ('gpt3-13b', 'GPT-3 13B', 'gpt', 40, 5140, 40, 40, 20560, 50257, 2048, 1, 1, 13e9, 'Brown et al. 2020, Table 2.1'),
 ('gpt3-175b', 'GPT-3 175B', 'gpt', 96, 12288, 96, 96, 49152, 50257, 2048, 1, 1, 175e9, 'Brown et al. 2020, Table 2.1'),
 ('llama2-7b', 'Llama-2 7B', 'llama', 32, 4096, 32, 32, 11008, 32000, 4096, 0, 0, 7e9, 'Touvron et al. 2023, arXiv 2307.09288; HF config.json'),
 ('llama2-13b', 'Llama-2 13B', 'llama', 40, 5120, 40, 40, 13824, 32000, 4096, 0, 0, 13e9, 'Touvron et al. 2023, arXiv 2307.09288; HF config.json'),
 ('llama2-70b', 'Llama-2 70B', 'llama', 80, 8192, 64, 8, 28672, 32000, 4096, 0, 0, 70e9, 'Touvron et al. 2023, arXiv 2307.09288; HF config.json'),
 ('llama3-8b', 'Llama-3 8B', 'llama', 32, 4096, 32, 8, 14336, 128256, 8192, 0, 0, 8e9, 'Dubey et al. 2024, arXiv 2407.21783, Table 3; HF config.json'),
 ('llama3-70b', 'Llama-3 70B', 'llama', 80, 8192, 64, 8, 28672, 128256, 8192, 0, 0, 70e9, 'Dubey et al. 2024, arXiv 2407.21783, Table 3; HF config.json'),
 ('llama3.1-405b', 'Llama-3.1 405B', 'llama', 126, 16384, 128, 8, 53248, 128256, 8192, 0, 0, 405e9, 'Dubey et al. 2024, arXiv 2407.21783, Table 3; HF config.json'),
 ('zb-1.5b', 'Zero Bubble 1.5B', 'gpt', 24, 2304, 24, 24, 9216, 50257, 1024, 1, 1, 1.5e9, 'sail-sg zero-bubble efficiency.py @ f68d3879 (script L; paper Table 3 lists 22); vocabulary assumed GPT-2'),
 ('zb-6.2b', 'Zero Bubble 6.2B', 'gpt', 32, 4096, 32, 32, 16384, 50257, 1024, 1, 1, 6.2e9, 'sail-sg zero-bubble efficiency.py @ f68d3879 (script L; paper Table 3 lists 30); vocabulary assumed GPT-2'),
 ('zb-14.6b', 'Zero Bubble 14.6B', 'gpt', 48, 5120, 40, 40, 20480, 50257, 1024, 1, 1, 14.6e9, 'sail-sg zero-bubble efficiency.py @ f68d3879 (script L; paper Table 3 lists 46); vocabulary assumed GPT-2'),
 ('zb-28.3b', 'Zero Bubble 28.3B', 'gpt', 64, 6144, 48, 48, 24576, 50257, 1024, 1, 1, 28.3e9, 'sail-sg zero-bubble efficiency.py @ f68d3879 (script L; paper Table 3 lists 62); vocabulary assumed GPT-2');
