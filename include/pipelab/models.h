/*
 * models.h: cost models: the SQLite store with its embedded GPU and
 * model catalog, the analytic transformer cost model and the measured
 * (calibrated) cost lookup. docs/cost-model.md and docs/database.md describe
 * the formulas and the schema.
 *
 * Ownership summary:
 * - pl_db is an opaque handle: pl_db_open creates it, pl_db_close frees it.
 *   One handle must not be used by two threads at once.
 * - Spec structs (pl_gpu_spec, pl_model_spec) are plain values with inline
 *   strings; lists returned by pl_db_list_* are pl_malloc'ed arrays the
 *   caller frees with pl_free.
 * - pl_model_plan owns its arrays: filled by pl_cost_build, freed by
 *   pl_model_plan_free.
 * - Every SQL statement of the database lives in models/; other modules read
 *   through functions returning plain structs (pl_db_run_list rows, a
 *   pl_result from pl_db_run_load) or a pl_db_table filled by
 *   pl_db_view_read, which owns its strings and is freed with
 *   pl_db_table_free. Every SQLite error is mapped to a pl_err by one
 *   function, so one damaged file gives one message whatever reads it.
 */
#ifndef PIPELAB_MODELS_H
#define PIPELAB_MODELS_H

#include "pipelab/pipelab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ catalog --- */

/* One GPU of the catalog (table gpus). Rates are per second, sizes bytes. */
typedef struct pl_gpu_spec {
  char name[32];            /* key: "h100" */
  char full_name[64];       /* "NVIDIA H100 SXM5 80GB" */
  double bf16_flops;        /* dense BF16 FLOP/s */
  double hbm_bytes;         /* HBM capacity */
  double hbm_bandwidth;     /* bytes/s */
  double scaleup_bandwidth; /* bytes/s per direction (NVLink / xGMI) */
  double scaleout_bandwidth; /* bytes/s per direction per NIC */
  double mfu;               /* default achievable fraction of peak per op */
  double p2p_latency_us;    /* default latency of one P2P message */
  char source[256];
  int is_cpu;               /* kind 'cpu' (schema 3): the host CPU the CPU
                               backend calibrates; measured samples only,
                               never priced analytically */
  /* Schema 4 (docs/hardware.md): */
  double fp8_flops;         /* dense FP8 FLOP/s; 0 = not supported */
  double fp4_flops;         /* dense FP4 FLOP/s; 0 = not supported */
  double host_bandwidth;    /* bytes/s per direction (PCIe / C2C); 0 = unknown */
  int sm_count;             /* SMs / CUs: GEMM tiles per wave */
  double gemm_eff;          /* fraction of dense peak large GEMMs reach */
  double attn_eff;          /* fraction of dense peak flash attention's
                               forward reaches */
  double hbm_eff;           /* fraction of HBM bandwidth a stream reaches */
  double launch_us;         /* per-kernel floor (launch + tail) */
  int scaleup_domain;       /* GPUs per scale-up (NVLink/xGMI) domain */
  int gpus_per_node;        /* GPUs per node (per NIC group) */
  double scaleup_latency_us, scaleout_latency_us; /* per collective step */
  double scaleup_coll_eff;  /* NCCL bus bandwidth / scale-up link bandwidth */
  double scaleout_coll_eff; /* NCCL bus bandwidth / NIC bandwidth */
  char vendor[32];
  char aliases[128];        /* comma-separated other names */
  /* Schema 5: */
  double clock_ratio;       /* sustained clock under dense matrix load /
                               the clock of the datasheet peaks (0, 1] */
} pl_gpu_spec;

/* Architectures: GPT (LayerNorm with biases, GeLU FFN of width f, learned
 * positions, tied embeddings) and LLaMA (RMSNorm, GQA, SwiGLU of width f,
 * RoPE, untied embeddings). */
enum pl_arch { PL_ARCH_GPT = 0, PL_ARCH_LLAMA = 1 };

/* One model shape (table models). */
typedef struct pl_model_spec {
  char name[32];      /* key: "llama3-70b" */
  char full_name[64]; /* "Llama-3 70B" */
  int arch;           /* enum pl_arch */
  int layers, hidden, heads, kv_heads, ffn, vocab, seq_len;
  int tied_embeddings, learned_pos;
  double published_params; /* nominal size, 0 if none */
  char source[256];
} pl_model_spec;

/* ----------------------------------------------------------- database --- */

/* PRAGMA application_id of every pipelab database ("PLAB"). */
#define PL_DB_APPLICATION_ID 0x504C4142
/* PRAGMA user_version this binary creates and upgrades to. */
#define PL_DB_SCHEMA_VERSION 8
/* Default busy timeout of pl_db_open (ms). */
#define PL_DB_BUSY_TIMEOUT_MS 5000

typedef struct pl_db pl_db;

enum pl_db_flags {
  PL_DB_NO_CREATE = 1 << 0,       /* fail with PL_ENOTFOUND if missing */
  PL_DB_JOURNAL_DELETE = 1 << 1,  /* journal_mode=DELETE (network FS) */
  /* For commands that only read: SQLite refuses every change through the
   * handle (PRAGMA query_only); in a directory this process cannot write (a
   * shared database in a read-only directory, where SQLite could not create
   * its -shm file) a current file is opened read-only and immutable. A
   * missing file is still created unless PL_DB_NO_CREATE is given too; an
   * empty or older file is initialised or migrated first, as usual. */
  PL_DB_READ_ONLY = 1 << 2
};

/*
 * Writes the default database path into buf: $PIPELAB_DB if set and not
 * empty, else $XDG_DATA_HOME/pipelab/pipelab.db, else
 * $HOME/.local/share/pipelab/pipelab.db. Creates no directory. Returns
 * PL_EINVAL if no location can be derived or buf is too small.
 */
int pl_db_default_path(char *buf, size_t len, struct pl_errbuf *eb);

/*
 * Opens (creating if needed, with its parent directory) a pipelab database
 * at path (":memory:" works), in the order of docs/database.md: extended
 * result codes, busy timeout (busy_timeout_ms <= 0: $PIPELAB_DB_TIMEOUT_MS,
 * else the default),
 * foreign keys, identity check, WAL at creation, migrations in one
 * BEGIN IMMEDIATE transaction. Errors (every message names the file and the
 * file is never modified):
 *   PL_ENOTADB    not a SQLite database, corrupt, or another application's
 *   PL_EDBVERSION schema newer than this binary
 *   PL_EDBLOCKED  still locked by another process after the busy timeout
 *   PL_EIO        cannot create or write the location (read-only, missing)
 *   PL_EDB        any other SQLite error
 * *out is owned by the caller; close with pl_db_close.
 */
int pl_db_open(const char *path, unsigned flags, int busy_timeout_ms,
               pl_db **out, struct pl_errbuf *eb);
/* The busy timeout from $PIPELAB_DB_TIMEOUT_MS: *ms = 0 when unset or
 * empty (the default applies), else a whole number of milliseconds from 1
 * to PL_DB_TIMEOUT_MAX_MS; anything else is PL_EINVAL with a one-line
 * message. pl_db_open with busy_timeout_ms <= 0 uses it (and fails the
 * same way). */
#define PL_DB_TIMEOUT_MAX_MS 3600000
int pl_db_env_timeout(int *ms, struct pl_errbuf *eb);
void pl_db_close(pl_db *db);
/* Borrowed path as opened. */
const char *pl_db_path(const pl_db *db);
/* PRAGMA user_version of the open database. */
int pl_db_schema_version(pl_db *db);
/* Checks a database end to end: SQLite's PRAGMA integrity_check (every page,
 * index and constraint) and PRAGMA foreign_key_check. *problems receives the
 * number of problems found (0 = healthy) and report (may be NULL) a
 * NUL-terminated summary of the first ones, one per line, truncated to len.
 * Returns PL_OK when the checks ran (whatever they found), or an error when
 * they could not run (PL_EDB naming the file). Reads only. */
int pl_db_check(pl_db *db, int *problems, char *report, size_t len,
                struct pl_errbuf *eb);

/* Embedded SQL of migration `version` (1 .. PL_DB_SCHEMA_VERSION), a static
 * string, or NULL. Migration 1 creates the first schema and its seed. */
const char *pl_db_migration_sql(int version);

/* Catalog lookups; name matching is case-insensitive on name or full_name.
 * PL_ENOTFOUND lists the known names in eb. */
int pl_db_get_gpu(pl_db *db, const char *name, pl_gpu_spec *out,
                  struct pl_errbuf *eb);
int pl_db_get_model(pl_db *db, const char *name, pl_model_spec *out,
                    struct pl_errbuf *eb);
/* Whole catalog in name order; *out pl_malloc'ed (caller pl_free's). */
int pl_db_list_gpus(pl_db *db, pl_gpu_spec **out, size_t *n,
                    struct pl_errbuf *eb);
int pl_db_list_models(pl_db *db, pl_model_spec **out, size_t *n,
                      struct pl_errbuf *eb);

/*
 * Adding to the catalog (`pipelab db add`, catalog imports; models/catalog.c).
 * The spec is copied; nothing is kept. Every field is checked before
 * anything is written (PL_EINVAL naming the column and what it allows,
 * nothing stored); the row is written in one BEGIN IMMEDIATE transaction.
 * A name that exists fails with PL_EDB ("already exists", nothing stored)
 * unless replace is set: then the row is updated in place and keeps its id
 * (calibrations keep referring to it). Names are 1 to 31 characters, not a
 * number, without commas; a GPU name or alias must not be another GPU's
 * name or alias.
 *
 * pl_db_add_gpu stores a GPU (kind 'gpu'; the CPU device cannot be
 * replaced). Required: name, bf16_flops, hbm_bytes (rounded to whole bytes),
 * hbm_bandwidth, scaleup_bandwidth, scaleout_bandwidth (> 0). Optional
 * fields take the table's default (docs/database.md) when 0: sm_count,
 * gemm_eff, attn_eff, hbm_eff, scaleup_domain, gpus_per_node,
 * scaleup_coll_eff, scaleout_coll_eff, clock_ratio; mfu 0 = 0.5; fp8_flops, fp4_flops,
 * host_bandwidth 0 = none / unknown (NULL). The times launch_us,
 * scaleup_latency_us, scaleout_latency_us and p2p_latency_us may be 0 and
 * take the default (4, 2, 6 and 10 µs) when negative. Empty full_name = name,
 * empty vendor = "unknown", empty source = "user-defined". aliases: comma-
 * separated, spaces around names dropped. is_cpu is ignored.
 *
 * pl_db_add_model stores a model: layers, hidden, heads, ffn, vocab, seq_len
 * > 0; kv_heads 0 = heads, else it must divide heads; hidden divisible by
 * heads; arch PL_ARCH_GPT or PL_ARCH_LLAMA; tied_embeddings and learned_pos
 * 0 or 1, or -1 for the default (tied for GPT, untied for LLaMA; no learned
 * positions); published_params 0 = none.
 *
 * Both: PL_EMISUSE while a calibration is open on db, PL_EDBLOCKED, PL_EDB.
 */
int pl_db_add_gpu(pl_db *db, const pl_gpu_spec *g, int replace,
                  struct pl_errbuf *eb);
int pl_db_add_model(pl_db *db, const pl_model_spec *m, int replace,
                    struct pl_errbuf *eb);
/*
 * Imports a catalog file (docs/database.md "Catalog files"): a CSV whose
 * header names gpus-table or models-table columns, or a JSON object
 * {"gpus": [...], "models": [...]} or array of objects whose keys are those
 * columns; values in the stored (SI) units. Every row goes through
 * pl_db_add_gpu / pl_db_add_model's checks and all rows are written in one
 * transaction: a bad row (PL_EPARSE naming the file, the CSV line or JSON
 * array index, and the column) stores nothing. *n_gpus and *n_models (may
 * be NULL) receive the numbers of rows stored.
 */
int pl_db_import_catalog(pl_db *db, const char *path, int replace,
                         size_t *n_gpus, size_t *n_models,
                         struct pl_errbuf *eb);
/* The same for catalog text already in memory (len bytes, not necessarily
 * NUL-terminated); name is what messages call it (a file name). */
int pl_db_import_catalog_text(pl_db *db, const char *name, const char *text,
                              size_t len, int replace, size_t *n_gpus,
                              size_t *n_models, struct pl_errbuf *eb);

/* -------------------------------------------------------- calibration --- */

/* Metadata of one calibration run. Strings are copied; NULL = unknown. */
typedef struct pl_calib_info {
  const char *gpu;            /* catalog name (required, must exist) */
  const char *device_name;    /* as reported by the driver; NULL = gpu */
  const char *host;           /* NULL = gethostname() */
  const char *driver_version, *cuda_version, *nccl_version;
  const char *pipelab_version; /* NULL = pl_version() */
  const char *method;         /* "synthetic", "import", ... (required) */
  const char *notes;
  int64_t created_at_ns;      /* 0 = now */
} pl_calib_info;
#define PL_CALIB_INFO_INIT {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}

/* One measured sample: the time of ONE layer of layer_kind for one
 * microbatch on one GPU, over `count` repetitions. */
typedef struct pl_sample {
  int op_kind;            /* PL_OP_F, PL_OP_B, PL_OP_W or PL_OP_BW */
  const char *layer_kind; /* "transformer", "lm_head", "embedding" */
  const char *model;      /* catalog model it was measured for; NULL = any
                             layer with this hidden size */
  int mb_size, seq_len, hidden, tp;
  const char *dtype;      /* "bf16", "fp16", "fp32", "fp8", "fp64" */
  double mean_us, stddev_us;
  int count;
} pl_sample;
#define PL_SAMPLE_INIT {PL_OP_F, "transformer", NULL, 1, 0, 0, 1, "bf16", 0, 0, 1}

/* Measured P2P cost of one link kind ("nvlink", "pcie", "ib", "roce",
 * "ethernet", "xgmi", "local"). */
typedef struct pl_link_cost {
  const char *link_kind;
  double latency_us;
  double bandwidth; /* bytes/s; PL_LINK_NO_BANDWIDTH = not size-dependent */
} pl_link_cost;
/* Stored as bytes_per_s (which must be > 0) when a link's time showed no
 * measurable dependence on the message size: all of it is latency. */
#define PL_LINK_NO_BANDWIDTH 1e18

/*
 * Writing a calibration run (used by `pipelab calibrate` and `db import`):
 *   pl_db_calibration_begin   BEGIN IMMEDIATE + the calibrations row; *id
 *                             receives its id (may be NULL)
 *   pl_db_calibration_add_sample / _add_link   rows of that run
 *   pl_db_calibration_commit  COMMIT (all rows or none)
 *   pl_db_calibration_rollback  abandons the run (safe to call anytime)
 * Only one calibration can be open per handle (PL_EMISUSE otherwise, and
 * for add/commit without begin). A failing add leaves the transaction open:
 * the caller rolls back. PL_EDBLOCKED if another writer holds the database
 * past the busy timeout.
 */
int pl_db_calibration_begin(pl_db *db, const pl_calib_info *info, int64_t *id,
                            struct pl_errbuf *eb);
int pl_db_calibration_add_sample(pl_db *db, const pl_sample *s,
                                 struct pl_errbuf *eb);
int pl_db_calibration_add_link(pl_db *db, const pl_link_cost *l,
                               struct pl_errbuf *eb);
int pl_db_calibration_commit(pl_db *db, struct pl_errbuf *eb);
void pl_db_calibration_rollback(pl_db *db);

/*
 * Imports a measured-samples CSV (docs/database.md "Import CSV format") as
 * one calibration run described by info (method defaults to "import"; the
 * GPU comes from info->gpu or the file's gpu column), in one transaction:
 * all rows or none. PL_EPARSE names the file and line on bad input,
 * PL_ENOTFOUND an unknown GPU. *n_rows and *calib_id (both may be NULL)
 * receive the number of samples stored and the new calibration id.
 */
int pl_db_import_csv(pl_db *db, const char *path, const pl_calib_info *info,
                     size_t *n_rows, int64_t *calib_id, struct pl_errbuf *eb);
/* The same for CSV text already in memory (len bytes, not necessarily
 * NUL-terminated); name is what messages call it (a file name). */
int pl_db_import_csv_text(pl_db *db, const char *name, const char *text,
                          size_t len, const pl_calib_info *info,
                          size_t *n_rows, int64_t *calib_id,
                          struct pl_errbuf *eb);

/*
 * Imports an nccl-tests log (all_reduce_perf, reduce_scatter_perf,
 * all_gather_perf, sendrecv_perf output; models/nccl.c) as one calibration
 * run of info->gpu (required; method defaults to "nccl-tests", host, device
 * name and NCCL version to the log's) with one collectives row per message
 * size: nccl-tests' out-of-place time (µs), algbw and busbw (GB/s in the
 * log, stored in bytes/s). op is an enum pl_coll_op, or -1 to detect it from
 * the log ("# Collective test starting: all_reduce_perf" or the command
 * line). The rank count and the node count (distinct host names) come from
 * the log's rank lines; ranks / nodes > 0 override them. Both table layouts
 * of nccl-tests 2.x (with and without the redop and root columns) are read;
 * rows of size 0 are skipped. Everything is parsed before anything is
 * written, in one transaction: no data rows, a truncated or non-numeric row,
 * a size listed twice, two tests in one file, no rank lines and no override
 * fail with PL_EPARSE naming the file and line, and store nothing.
 * PL_EINVAL without info->gpu, PL_ENOTFOUND for an unknown GPU. *n_rows and
 * *calib_id (may be NULL) receive the rows stored and the calibration id.
 */
int pl_db_import_nccl(pl_db *db, const char *path, const pl_calib_info *info,
                      int op, int ranks, int nodes, size_t *n_rows,
                      int64_t *calib_id, struct pl_errbuf *eb);
/* The same for a log already in memory (len bytes, not necessarily
 * NUL-terminated); name is what messages call it (a file name). */
int pl_db_import_nccl_text(pl_db *db, const char *name, const char *text,
                           size_t len, const pl_calib_info *info, int op,
                           int ranks, int nodes, size_t *n_rows,
                           int64_t *calib_id, struct pl_errbuf *eb);

/* What `pipelab db import` reads from a file (pl_db_import_kind): a
 * measured-samples CSV (pl_db_import_csv), a catalog CSV or JSON file
 * (pl_db_import_catalog) or an nccl-tests log (pl_db_import_nccl). */
enum pl_import_kind {
  PL_IMPORT_SAMPLES = 0,
  PL_IMPORT_CATALOG = 1,
  PL_IMPORT_NCCL = 2
};
/* Decides the kind from the contents: JSON ('{' or '[' first), an
 * nccl-tests log (its rank lines, table header or test banner), a CSV whose
 * header names catalog columns; anything else is a samples CSV. PL_EIO when
 * the file cannot be read. */
int pl_db_import_kind(const char *path, int *kind, struct pl_errbuf *eb);

/* *yes = 1 when any calibration run (samples, links, collectives) is
 * filed under the GPU: whether pricing it can find measurements. */
int pl_db_has_measurements(pl_db *db, const char *gpu, int *yes,
                           struct pl_errbuf *eb);

/* Most recent measured P2P link cost for a GPU and link kind (from the
 * newest calibration that has one): PL_ENOTFOUND if none. */
int pl_db_link_cost(pl_db *db, const char *gpu, const char *link_kind,
                    double *latency_us, double *bandwidth,
                    struct pl_errbuf *eb);

/* Collective operations of the measured-collectives table (nccl-tests). */
enum pl_coll_op {
  PL_COLL_ALL_REDUCE = 0,
  PL_COLL_REDUCE_SCATTER = 1,
  PL_COLL_ALL_GATHER = 2,
  PL_COLL_SENDRECV = 3,
  PL_COLL_NOPS = 4
};
/* "all_reduce", "reduce_scatter", "all_gather", "sendrecv"; NULL if bad. */
const char *pl_coll_op_name(int op);

/*
 * Measured bus bandwidth (bytes/s, nccl-tests' busbw convention) of collective
 * op over n_ranks GPUs on n_nodes nodes for a buffer of size_bytes (nccl-tests'
 * "size"). From the newest calibration of gpu that has rows of op with the
 * same scope (one node, or several); among its runs the one whose rank count
 * is closest to n_ranks (ties: the larger); busbw interpolated linearly in
 * log2(size) between the neighbouring sizes and held beyond the measured
 * range. *n_used receives the rank count of the run used (may be NULL).
 * PL_ENOTFOUND when nothing matches.
 */
int pl_db_collective_busbw(pl_db *db, const char *gpu, int op, int n_ranks,
                           int n_nodes, double size_bytes, double *busbw,
                           int *n_used, struct pl_errbuf *eb);

/* Per-layer costs of the executor's workload (kernels/) measured by
 * `pipelab calibrate` and stored under a device: transformer samples give F,
 * B, W, BW per layer; an 'embedding' F sample the first stage's input load;
 * an 'lm_head' F sample the last stage's loss; the 'local' link the P2P
 * latency and bandwidth. */
typedef struct pl_wl_costs {
  double t[PL_OP_NKINDS];   /* per layer, us: [PL_OP_F .. PL_OP_BW] */
  int source[PL_OP_NKINDS]; /* PL_SRC_MEASURED / _INTERPOLATED / _EXTRAPOLATED */
  double input_us, loss_us; /* 0 when not stored */
  double latency_us;        /* one P2P message */
  double bytes_per_us;      /* 0 = size-independent (all latency) */
  int have_link;            /* a 'local' link row was found */
  int64_t calibration_id;   /* newest calibration the F samples came from */
} pl_wl_costs;

/* Looks up the workload costs for (device, dtype, hidden) at microbatch size
 * mb_size and sequence length seq. Each stored (mb_size, seq) point comes
 * from the newest calibration that measured it (one calibrate run measures
 * one point; several build the grid).
 * An exact (mb_size, seq) point is "measured"; otherwise the time per token
 * (us / (mb_size * seq)) is interpolated linearly between the stored points,
 * or held constant past them ("extrapolated"), because the workload's cost
 * is linear in tokens (no attention). hidden must match exactly.
 * PL_ENOTFOUND (naming the device, dtype and hidden) when no F sample exists;
 * a missing BW is B + W, a missing B or W fails with PL_ENOTFOUND. */
int pl_db_workload_costs(pl_db *db, const char *device, const char *dtype,
                         int hidden, int mb_size, int seq, pl_wl_costs *out,
                         struct pl_errbuf *eb);

/* --------------------------------------------------------------- runs --- */

/* What pl_db_run_save stores besides the result itself. Strings are copied;
 * NULL / 0 / negative values are stored as SQL NULL where the column allows
 * it (docs/database.md, table runs). */
typedef struct pl_run_info {
  const char *kind;        /* "simulated" (default) or "real" */
  const char *backend;     /* NULL = result->source ("sim", "cpu", ...) */
  const char *label;
  const char *host;        /* NULL = gethostname() */
  const char *model_name, *gpu_name;
  int mb_size, seq_len, tp, dp;
  const char *cost_source; /* "user" (default), "analytic", "measured", ... */
  int64_t calibration_id;
  const char *params_json; /* a JSON object of the options; NULL = "{}" */
  double iteration_time;   /* in result->time_unit; < 0 = unknown */
  double iteration_seconds, tokens_per_second, mfu; /* < 0 = unknown */
  const double *static_bytes; /* [stages] weights + grads + optimizer */
  const double *hbm_bytes;    /* [stages] capacity per rank */
  int64_t created_at_ns;   /* 0 = now */
} pl_run_info;
#define PL_RUN_INFO_INIT                                                     \
  {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, 0, NULL, -1, -1, -1, \
   -1, NULL, NULL, 0}

/*
 * Stores a simulated or executed run: one runs row, one run_ranks row per
 * rank and one run_ops row per op when r->ops is filled (PL_SIM_RECORD_OPS),
 * in one BEGIN IMMEDIATE transaction. *id (may be NULL) receives the run id.
 * PL_EINVAL (CHECK constraint, bad JSON) with the reason; PL_EDBLOCKED.
 */
int pl_db_run_save(pl_db *db, const pl_run_info *info, const pl_result *r,
                   int64_t *id, struct pl_errbuf *eb);

/*
 * Reads run id back into *r (summary recomputed from the rank rows, per-op
 * records when they were stored). *r is reset first and owned by the caller
 * (pl_result_free), also on failure. PL_ENOTFOUND when there is no such run.
 */
int pl_db_run_load(pl_db *db, int64_t id, pl_result *r, struct pl_errbuf *eb);

/* One runs row as pl_db_run_list returns it (plain values, inline strings). */
typedef struct pl_db_run_row {
  int64_t id;
  int64_t created_at_ns;
  char kind[12];       /* simulated / real */
  char backend[16];
  char schedule[64];
  char label[64];      /* "" when none */
  char host[64];
  char version[16];    /* pipelab version that stored it */
  char time_unit[8];
  int stages, microbatches, chunks;
  double makespan, bubble_ratio, peak_mem; /* NaN when NULL */
} pl_db_run_row;

/* Runs oldest first (by id), filtered by schedule (NULL = any), stages and
 * microbatches (0 = any). *out is pl_malloc'ed (caller pl_free's; NULL when
 * there are none), *n its length. */
int pl_db_run_list(pl_db *db, const char *schedule, int stages,
                   int microbatches, pl_db_run_row **out, size_t *n,
                   struct pl_errbuf *eb);

/* ------------------------------------------------------ catalog views --- */

/* Type of one cell of a pl_db_table. */
enum pl_db_cell_type {
  PL_DB_NULL = 0,
  PL_DB_INTEGER = 1,
  PL_DB_REAL = 2,
  PL_DB_TEXT = 3
};

/*
 * A query result as text: ncol named columns, nrow rows. cells[r * ncol + c]
 * is the cell's text (integers in decimal, reals with 10 significant digits,
 * NULL for SQL NULL) and types[] its pl_db_cell_type. The table owns every
 * array and string; free it with pl_db_table_free (which resets it to
 * PL_DB_TABLE_INIT and accepts a zeroed table).
 */
typedef struct pl_db_table {
  int ncol;
  char **names;
  size_t nrow, cap;
  char **cells;
  int *types;
} pl_db_table;
#define PL_DB_TABLE_INIT {0, NULL, 0, 0, NULL, NULL}
void pl_db_table_free(pl_db_table *t);

/*
 * The fixed read-only views behind `pipelab db list / show / export / init`
 * (docs/database.md): every SQL statement lives in models/, the caller only
 * formats the table. arg is the view's one parameter where it has one.
 */
typedef enum pl_db_view {
  PL_DB_VIEW_GPUS = 0,        /* db list gpus (display units) */
  PL_DB_VIEW_MODELS,          /* db list models */
  PL_DB_VIEW_CALIBRATIONS,    /* db list calibrations (with counts) */
  PL_DB_VIEW_COLLECTIVES,     /* db list collectives (one row per run/op) */
  PL_DB_VIEW_GPU,             /* arg: name, full name or alias; 0 or 1 row,
                                 every column in stored units */
  PL_DB_VIEW_MODEL,           /* arg: name or full name; 0 or 1 row, with the
                                 computed parameter count `params` */
  PL_DB_VIEW_CALIBRATION,     /* arg: calibration id; 0 or 1 row */
  PL_DB_VIEW_CALIBRATION_SAMPLES,     /* arg: calibration id */
  PL_DB_VIEW_CALIBRATION_LINKS,       /* arg: calibration id */
  PL_DB_VIEW_CALIBRATION_COLLECTIVES, /* arg: calibration id; op, ranks,
                                         nodes first */
  PL_DB_VIEW_SAMPLES_CSV,     /* every sample in the import CSV format plus
                                 calibration_id and gpu */
  PL_DB_VIEW_ALL_GPUS,        /* whole tables, every column, by id (the JSON */
  PL_DB_VIEW_ALL_MODELS,      /* export); calibrations add the gpu name */
  PL_DB_VIEW_ALL_CALIBRATIONS,
  PL_DB_VIEW_ALL_SAMPLES,
  PL_DB_VIEW_ALL_P2P_LINKS,
  PL_DB_VIEW_ALL_COLLECTIVES,
  PL_DB_VIEW_COUNTS,          /* one row: gpus, cpus, models, calibrations,
                                 runs */
  PL_DB_NVIEWS
} pl_db_view;

/* Runs view v into *out (reset first; caller frees with pl_db_table_free,
 * also on failure). PL_EINVAL for an unknown view or a missing arg; database
 * errors as every models/ function maps them (pl_db_open's table). */
int pl_db_view_read(pl_db *db, pl_db_view v, const char *arg,
                    pl_db_table *out, struct pl_errbuf *eb);

/* ------------------------------------------------------ analytic model --- */

enum pl_recompute {
  PL_RECOMPUTE_NONE = 0,
  PL_RECOMPUTE_SELECTIVE = 1, /* Korthikanti: attention core */
  PL_RECOMPUTE_FULL = 2       /* store the layer input only */
};
const char *pl_recompute_name(int r);

/* Training configuration the analytic model needs. */
typedef struct pl_train_cfg {
  int mb_size;        /* b (sequences per microbatch) */
  int seq_len;        /* s; 0 = the model's */
  int tp, dp;         /* tensor- and data-parallel degrees */
  int seq_parallel;   /* sequence parallelism with TP (Megatron default on) */
  int recompute;      /* enum pl_recompute */
  int flash_attn;     /* no s^2 activations stored */
  int distributed_optimizer; /* optimizer state sharded over dp */
  int fp32_grads;     /* 4-byte gradients (Megatron main grads); else 2 */
  double causal_discount; /* fraction of the s^2 FLOPs skipped (0..1) */
  double mfu;         /* per-op fraction of peak; 0 = the GPU's default */
  const int *layers_per_stage; /* [virtual stages] or NULL = balanced */
  int gpus_per_node;  /* GPUs per scale-up domain (which collectives and P2P
                         stay on NVLink/xGMI); 0 = the GPU's scaleup_domain */
  /* 3D layout and the kernel-level model (docs/cost-model.md): */
  int cp;             /* context-parallel degree; 0 or 1 = none */
  int pp;             /* pipeline ranks; 0 = the schedule's */
  int precision;      /* enum pl_precision of the GEMMs */
  int no_causal;      /* encoder: flash attention computes all of s^2 */
  int overlap_grad_reduce;  /* DP reduce in buckets during the backward */
  int overlap_param_gather; /* distributed optimizer's all-gather hidden
                               behind the next forward */
  int tp_comm_overlap;      /* TP collectives overlapped with the GEMMs */
  int grad_reduce_bytes;    /* 2 or 4 bytes per gradient element in the DP
                               reduce; 0 = 2 for fp16, else 4 (Megatron) */
  int no_grad_accum_fusion; /* the weight-gradient GEMM writes a 16-bit
                               gradient that a second kernel adds into the
                               fp32 main gradient (Megatron before its
                               gradient-accumulation fusion) */
} pl_train_cfg;
#define PL_TRAIN_CFG_INIT {1, 0, 1, 1, 1, PL_RECOMPUTE_NONE, 0, 0, 0, 0.0, 0.0, NULL, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}

/* Numeric precision of the GEMMs; everything else runs in 16 bits, as
 * Transformer Engine does. */
enum pl_precision {
  PL_PREC_BF16 = 0,
  PL_PREC_FP16 = 1,
  PL_PREC_FP8 = 2,
  PL_PREC_FP4 = 3
};
/* "bf16", "fp16", "fp8", "fp4"; pl_precision_parse returns -1 if unknown. */
const char *pl_precision_name(int p);
int pl_precision_parse(const char *s);
/* Dense peak of the GPU at a precision (FLOP/s); 0 when the part lacks it. */
double pl_gpu_peak(const pl_gpu_spec *g, int precision);

/* Where an op's time goes (docs/cost-model.md, "Where the time goes"). */
enum pl_part {
  PL_PART_GEMM = 0,  /* matrix multiplications */
  PL_PART_ATTN = 1,  /* attention core (flash kernel or bmm + softmax) */
  PL_PART_MEM = 2,   /* memory-bound kernels (norms, activations, ...) */
  PL_PART_TP = 3,    /* exposed tensor-parallel collectives */
  PL_PART_CP = 4,    /* exposed context-parallel KV exchange */
  PL_PART_N = 5
};
const char *pl_part_name(int part);

/* Priced ops of one transformer layer (or the LM head, or the embedding)
 * for one microbatch on one GPU: t[op][part] in µs; t[op] sums over parts. */
typedef struct pl_op_price {
  double part[PL_OP_NKINDS][PL_PART_N];
  double t[PL_OP_NKINDS];
  double flops[PL_OP_NKINDS]; /* executed FLOPs (recompute included) */
  int kernels[PL_OP_NKINDS];  /* kernel launches */
} pl_op_price;

/* Which collectives of the layout stay in a scale-up domain. Ranks are laid
 * out as Megatron does: tp fastest, then cp, dp, pp. */
typedef struct pl_layout {
  int tp, cp, dp, pp, domain;  /* domain: GPUs per scale-up domain */
  int tp_per_domain;           /* members of a TP group in one domain */
  int cp_per_domain, dp_per_domain; /* of a CP, DP (x CP) group */
  int pp_stride;               /* tp * cp * dp */
} pl_layout;
/* Fills l from the degrees and the domain size (members per domain:
 * the group's stride s = 1, tp, tp*cp; min(n, domain / s), at least 1). */
void pl_layout_make(int tp, int cp, int dp, int pp, int domain, pl_layout *l);
/* Whether the P2P link between pipeline ranks r1 and r2 (0 .. pp-1) stays
 * inside a scale-up domain. */
int pl_layout_pp_intra(const pl_layout *l, int r1, int r2);

/*
 * Time of one collective (µs) of `bytes` per rank (nccl-tests' size: the
 * all-reduce buffer, the all-gather output, the reduce-scatter input) over
 * n ranks of which k share each scale-up domain: alpha-beta ring model,
 * steps * latency + bytes * factor / busbw, with factor 2(n-1)/n for the
 * all-reduce and (n-1)/n for reduce-scatter / all-gather (NCCL's bus
 * bandwidth convention), busbw = scale-up link * efficiency inside one
 * domain, else min(that, k * NIC * efficiency). A measured busbw (> 0)
 * replaces the computed one.
 */
double pl_coll_time_us(const pl_gpu_spec *g, int op, double bytes, int n,
                       int k, double measured_busbw);

/* Prices one transformer layer, the LM head + loss (head) and the input
 * embedding (embed) with the kernel-level model; any may be NULL. db (may
 * be NULL) supplies measured collective bandwidths. */
int pl_price_layer(pl_db *db, const pl_model_spec *m, const pl_gpu_spec *g,
                   const pl_train_cfg *cfg, const pl_layout *l,
                   pl_op_price *layer, pl_op_price *head, pl_op_price *embed,
                   struct pl_errbuf *eb);

/* Per-layer analytic figures for one microbatch on one GPU (TP applied). */
typedef struct pl_layer_cost {
  double flops[PL_OP_NKINDS]; /* F, B, W, BW (B includes recompute) */
  double mem_b;    /* bytes allocated by F (M_B) */
  double mem_w;    /* bytes kept after B until W (M_W <= M_B) */
  double params;   /* parameters per GPU (divided by tp) */
} pl_layer_cost;

/* Transformer layer, LM head (+ final norm) and embedding for a config. */
int pl_cost_layer(const pl_model_spec *m, const pl_train_cfg *cfg,
                  pl_layer_cost *layer, pl_layer_cost *head,
                  pl_layer_cost *embed, struct pl_errbuf *eb);

/* Parameters of the whole model (no TP split). */
double pl_model_params(const pl_model_spec *m);

/* Model FLOPs of one iteration over all GPUs: 3 forward passes' worth per
 * token (6 * FLOPs per token, attention included, no recompute), for
 * `sequences` sequences of cfg->seq_len. */
double pl_model_flops_iter(const pl_model_spec *m, const pl_train_cfg *cfg,
                           double sequences);

/* Static memory and activation of one pipeline rank. */
typedef struct pl_rank_plan {
  int layers;           /* transformer layers on this rank */
  double params;        /* parameters on this GPU */
  double weight_bytes;  /* 2 per parameter */
  double grad_bytes;    /* 2 (or 4) per parameter */
  double optim_bytes;   /* 12 per parameter (/dp when distributed) */
  double static_bytes;  /* sum of the three */
} pl_rank_plan;

/* What pl_cost_build decided besides the cost table. */
typedef struct pl_model_plan {
  int n_stages, n_ranks;
  int *layers;          /* [n_stages] transformer layers per virtual stage */
  pl_rank_plan *rank;   /* [n_ranks] */
  double hbm_bytes;     /* capacity per GPU */
  double peak_flops;    /* dense BF16 FLOP/s per GPU */
  double mfu_op;        /* per-op efficiency used */
  double n_gpus;        /* p * tp * dp */
  double tokens_per_iter;  /* m * b * s * dp */
  double model_flops_iter; /* pl_model_flops_iter for the global batch */
  double params_total;
  double layer_mem_b, layer_mem_w; /* bytes per layer per microbatch */
  int link_scaleup;     /* P2P over the scale-up link (else scale-out) */
  int source[PL_OP_NKINDS]; /* enum pl_cost_source per op kind */
  /* Kernel-level model (zero with the flat --mfu model): */
  pl_layout layout;
  int precision;
  double (*part)[PL_OP_NKINDS][PL_PART_N]; /* [n_stages] µs per op and part */
  double *dp_us;        /* [n_ranks] DP gradient reduce (+ param gather), total */
  double *dp_window_us; /* [n_ranks] backward it can hide behind (overlap) */
  double *dp_bucket_us; /* [n_ranks] one bucket: never hidden */
  double *optim_us;     /* [n_ranks] optimizer step */
  double *embed_us;     /* [n_ranks] tied-embedding gradient all-reduce */
  double hw_flops_iter; /* executed FLOPs (recompute included), all GPUs */
  int flat;             /* priced by the flat --mfu model */
} pl_model_plan;

/* Where one iteration's time goes, on the rank that ends last (µs). The
 * parts add up to iteration_us. */
typedef struct pl_breakdown {
  int rank;               /* the critical rank */
  double iteration_us;
  double compute_us;      /* GEMMs + attention + memory-bound kernels */
  double gemm_us, attn_us, mem_us;
  double tp_us, cp_us;    /* exposed TP / CP communication */
  double pp_us;           /* how much P2P transfers lengthen the pipeline */
  double bubble_us;       /* pipeline idle time without transfers */
  double dp_us;           /* exposed DP communication (+ tied embedding) */
  double optimizer_us;
  double mfu, hfu;        /* model / hardware FLOPs utilisation */
  double tokens_per_s_gpu;
} pl_breakdown;

/*
 * The whole iteration from a pipeline simulation: each rank's last op end,
 * plus its exposed DP reduce (all of it, or with overlap_grad_reduce the
 * part its last microbatch's backward cannot hide, at least one bucket),
 * the tied-embedding all-reduce and the optimizer step; the iteration is
 * the latest rank. r is the run with the plan's costs, r0 (may be NULL) the
 * same schedule with free P2P transfers (to tell transfers from bubbles).
 */
int pl_model_breakdown(const pl_model_plan *plan, const pl_sched *s,
                       const pl_result *r, const pl_result *r0,
                       pl_breakdown *out);
#define PL_MODEL_PLAN_INIT {0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0}
void pl_model_plan_free(pl_model_plan *plan);

/*
 * A sweep priced by the cost model (pl_sweep_run's pl_sweep_model): each
 * point's cost table from pl_cost_provide (the analytic model, measured
 * samples of db when it holds any for the GPU), bounds on its iteration time
 * and peak bytes before simulating (for pruning), and from the simulated
 * result its iteration time (seconds: the pipeline plus the exposed DP
 * reduce, tied-embedding reduce and optimizer step), tokens/s, MFU and peak
 * bytes per GPU, out of memory above mem_limit bytes (<= 0: the GPU's HBM).
 * base holds the knobs the sweep does not vary (sequence, precision, flash
 * attention, overlaps, ...); a point sets mb_size, dp, tp, cp, recompute and
 * the distributed optimizer. m, g and base are copied; db is borrowed and
 * must outlive the pricer (its builds are then serialised: one SQLite
 * handle). *out is owned by the caller: pl_sweep_pricer_close. The
 * callbacks of pl_sweep_pricer_model (borrowed, valid until close) are
 * thread-safe.
 */
typedef struct pl_sweep_pricer pl_sweep_pricer;
int pl_sweep_pricer_open(const pl_model_spec *m, const pl_gpu_spec *g,
                         const pl_train_cfg *base, pl_db *db,
                         double mem_limit, pl_sweep_pricer **out,
                         struct pl_errbuf *eb);
const pl_sweep_model *pl_sweep_pricer_model(pl_sweep_pricer *pr);
double pl_sweep_pricer_limit(const pl_sweep_pricer *pr);
/* The training configuration of a point (base with the point's knobs). */
pl_train_cfg pl_sweep_pricer_cfg(const pl_sweep_pricer *pr,
                                 const pl_sweep_point *pt);
/* Re-evaluates one point in full (its schedule, costs, the simulation with
 * and without transfer times) for an explanation: plan (init with
 * PL_MODEL_PLAN_INIT), result r (PL_RESULT_INIT) and breakdown; the caller
 * frees plan and r. Returns a pl_err code with eb. */
int pl_sweep_pricer_explain(pl_sweep_pricer *pr, const pl_sweep_point *pt,
                            pl_model_plan *plan, pl_result *r,
                            pl_breakdown *bd, struct pl_errbuf *eb);
/* The runtime pl_sweep_pricer_explain prices under, as pl_sweep_run does:
 * the runtime fields of spec (p2p_mode, op_gap, send_overhead,
 * recv_overhead, local_overhead, times in µs; pl_sweep_spec_apply_runtime).
 * spec is copied; its pointers are not kept. Default async, no gaps. */
void pl_sweep_pricer_set_runtime(pl_sweep_pricer *pr,
                                 const pl_sweep_spec *spec);
void pl_sweep_pricer_close(pl_sweep_pricer *pr);


/*
 * Balanced layer partition: L layers over n virtual stages, accounting for
 * the LM head on the last and the embedding on the first stage (extra_first
 * and extra_last in layer equivalents). out[n].
 */
int pl_cost_partition(int layers, int n, double extra_first, double extra_last,
                      int *out);

/*
 * Builds the cost table of schedule s for model m on gpu g: per virtual stage
 * t[F], t[B], t[W], t[BW] in microseconds (FLOPs / (peak * mfu), or measured
 * times from db when it holds samples for this GPU and shape: measured wins,
 * interpolated over microbatch size and sequence length, flagged when
 * extrapolated), mem_b / mem_w in bytes (mem_unit "bytes"), msg_bytes, P2P
 * latency and bandwidth (measured link costs win). db may be NULL (analytic
 * only). *costs is owned by the caller (pl_costs_destroy); plan is filled
 * (init with PL_MODEL_PLAN_INIT, free with pl_model_plan_free).
 */
int pl_cost_build(pl_db *db, const pl_model_spec *m, const pl_gpu_spec *g,
                  const pl_train_cfg *cfg, const pl_sched *s, pl_costs **costs,
                  pl_model_plan *plan, struct pl_errbuf *eb);

/* Iteration seconds, tokens per second and model FLOPs utilisation
 * (model_flops_iter / (seconds * GPUs * peak)) for an iteration time in µs. */
void pl_model_throughput(const pl_model_plan *plan, double iteration_us,
                         double *iter_s, double *tokens_per_s, double *mfu);

/*
 * Measured time of one layer op (µs) for gpu / model / layer_kind at
 * (mb_size, seq_len), from the newest calibration that has samples for the
 * key (layer kind, hidden size, dtype "bf16", tp, op kind). Between samples
 * the ratio measured / analytic is interpolated linearly over microbatch
 * size, then sequence length; outside the measured range the nearest ratio
 * is used (source PL_SRC_EXTRAPOLATED). *source: MEASURED (exact point),
 * INTERPOLATED or EXTRAPOLATED. PL_ENOTFOUND when nothing is stored.
 * analytic_us is the analytic time at the requested point, used for the
 * ratio.
 */
int pl_cost_lookup(pl_db *db, const char *gpu, const pl_model_spec *m,
                   const char *layer_kind, int op_kind, const pl_train_cfg *cfg,
                   double (*analytic_us)(const pl_model_spec *m,
                                         const pl_train_cfg *cfg, int op_kind,
                                         void *ctx),
                   void *ctx, double *us, int *source, struct pl_errbuf *eb);

/* ------------------------------------------------------ learned costs --- */

/*
 * Costs learned from a measured iteration (models/learn.c, models/learned.c,
 * docs/learned-costs.md): a profile of one schedule (the per-op rows of a
 * `pipelab run` result or of an imported Kineto trace) is fitted into a
 * per-(stage, op kind) table, the per-op runtime overhead and the P2P time;
 * any schedule on the same number of ranks is then priced from it.
 */
#define PL_LEARN_MIN_SAMPLES 3    /* per (stage, op kind) */
#define PL_LEARN_OUTLIER_MADS 5.0 /* exclude |x - median| > 5 * 1.4826 MAD */

/* Robust statistics of one quantity, in the profile's time unit. */
typedef struct pl_learned_stat {
  double median;     /* median of the samples kept */
  double dispersion; /* 1.4826 * MAD / median of the samples kept */
  double min, max;   /* of the samples kept */
  int count;         /* samples kept (0: not in the profile) */
  int excluded;      /* outliers left out */
  int derived;       /* not measured: BW = B + W, or B and W split from BW */
} pl_learned_stat;

typedef struct pl_learned_stage {
  pl_learned_stat t[4]; /* [PL_OP_F .. PL_OP_BW] */
} pl_learned_stage;

/* A learned cost table. Owned by whoever created it (pl_learn_fit,
 * pl_learned_alloc, pl_db_learned_load); free with pl_learned_free. */
typedef struct pl_learned {
  char schedule[64];      /* the profiled schedule */
  char source[16];        /* "cpu", "cuda", "kineto", ... */
  char time_unit[8];      /* of every time below */
  int ranks, stages;      /* p and the virtual stages of the profile */
  int chunks, microbatches;
  pl_learned_stage *stage; /* [stages], owned */
  pl_learned_stat gap;    /* per-op runtime overhead (idle before an op) */
  pl_learned_stat comm;   /* one P2P message a consumer waited for: both
                             copies, latency and transmission */
  /* Host time per message at each end (pl_costs send_overhead and
   * recv_overhead, LogP's o): the idle time before an op that was ready,
   * beyond gap, per cross-rank message its rank sent after the previous op
   * or received for this one. count 0: the profile has no such gap. */
  pl_learned_stat msg;
  double latency;         /* comm less both copies, less transmission */
  double bandwidth;       /* bytes per time unit; 0 = all of comm is latency */
  double msg_bytes;       /* bytes per message; 0 = unknown */
  double b_frac;          /* B / (B + W) used to split BW; 0 = none used */
  int have_split;         /* B and W are known (measured or split) */
  int measured_bw;        /* the profile holds BW ops */
  int iterations;         /* iterations pooled */
  int fused_skipped;      /* fused F&B rows left out */
  /* Op-time variability within an iteration: the robust standard deviation
   * (1.4826 * MAD) of ln(duration / median of its stage and kind in its
   * iteration) over every op whose group has at least 3 samples; 0 when
   * none has. The jitter sigma (pl_costs.jitter) the profile measured. */
  double jitter;
  /* The same log ratios' PL_JITTER_Q equally spaced quantiles (0th to
   * 100th percentile; n_jitter_q 0 when there are fewer than 3 ratios):
   * the scatter's shape, heavy tail included (pl_costs.jitter_q). Both are
   * stored (schema 7); profiles stored before have 0 and none. */
  double jitter_q[PL_JITTER_Q];
  int n_jitter_q;
  /* Provenance (strings empty when unknown): */
  char workload_key[128]; /* what was profiled: "executor:layers=4,..." */
  char device[32];        /* catalog device it is filed under */
  char source_sha256[65]; /* SHA-256 of the profile file(s) */
  char git_rev[48];       /* pipelab revision that learned it */
  int64_t created_at_ns;
} pl_learned;

/* Fit options. min_samples <= 0: PL_LEARN_MIN_SAMPLES; outlier_mads <= 0:
 * PL_LEARN_OUTLIER_MADS; b_frac in (0, 1) splits a profile's BW into B =
 * b_frac * BW and W = the rest (0 = no split); msg_bytes (> 0) with
 * bandwidth (bytes per time unit, > 0) splits the P2P time into latency +
 * bytes / bandwidth (otherwise it is all latency). */
typedef struct pl_learn_opts {
  int min_samples;
  double outlier_mads;
  double b_frac;
  double msg_bytes;
  double bandwidth;
} pl_learn_opts;
#define PL_LEARN_OPTS_INIT {0, 0, 0, 0, 0}

/*
 * Learns costs from n measured iterations (results with per-op rows) of one
 * schedule; iters and the results are borrowed. Per (stage, op kind): the
 * median over microbatches and iterations of the op durations, outliers
 * beyond opts->outlier_mads robust deviations excluded, the relative spread
 * reported. Per-op overhead: the idle time before an op whose input was
 * already there when its rank became free. P2P time: the idle time between
 * a remote producer's end and the consumer's start while the consumer's
 * rank waited, less the overhead. Fused F&B rows are left out. Errors
 * (nothing allocated): PL_EPARSE "too few samples" (a kind the profile holds
 * has fewer than min_samples rows on a stage), "missing op kind" (a stage
 * without F, or without BW and without B and W), no per-op rows, or
 * iterations of different shapes; PL_EINVAL for bad options; PL_ENOMEM.
 * *out is owned by the caller (pl_learned_free).
 */
int pl_learn_fit(const pl_result *const *iters, size_t n_iters,
                 const pl_learn_opts *opts, pl_learned **out,
                 struct pl_errbuf *eb);
/* A zeroed table of `stages` stages (*out owned by the caller). */
int pl_learned_alloc(int stages, pl_learned **out);
void pl_learned_free(pl_learned *l);

/*
 * Prices schedule s into c (c->n_stages == its virtual stages) from l:
 * s must run on l->ranks ranks and its virtual stages must be a multiple f
 * of the profile's; virtual stage g then holds 1/f of the layers of profile
 * stage g / f (the layers each chunk holds, with an even split), so each
 * op costs the profile stage's median / f. Sets op times, op_gap, the P2P
 * latency / bandwidth / message bytes, the time unit and source[] =
 * PL_SRC_LEARNED; memory is left alone. *split (may be NULL) receives f
 * (1: the profile's own stages). PL_EINVAL (with the reason) for another
 * rank count, a stage count that is not a multiple, or a schedule with B/W
 * ops when the profile has only BW ops and no split.
 */
int pl_learned_apply(const pl_learned *l, const pl_sched *s, pl_costs *c,
                     int *split, struct pl_errbuf *eb);

/* The time of a waited-for message on the wire: l->comm's median less the
 * host time at both ends (2 x l->msg's median), at least 0; the latency
 * plus transmission that pl_learned_apply sets. */
double pl_learned_wire(const pl_learned *l);

/* The workload key under which costs learned for a catalog model are
 * filed ("model=llama3-8b,mb=1,seq=8192,tp=1"): a model-priced request
 * (PL_COSTS_MODEL with a db) takes learned costs filed under its GPU and
 * this key over the analytic ones. PL_EINVAL when buf is too small. */
int pl_learned_model_key(const pl_model_spec *m, const pl_train_cfg *cfg,
                         char *buf, size_t len);

/*
 * Stores l as one calibration run (info: device, method, notes; strings
 * copied) plus its learned profile and per-(stage, op kind) rows, in one
 * transaction: all rows or none. l->device must name a catalog device
 * (PL_ENOTFOUND otherwise). *id (may be NULL) receives the profile id.
 */
int pl_db_learned_store(pl_db *db, const pl_learned *l,
                        const pl_calib_info *info, int64_t *id,
                        struct pl_errbuf *eb);
/*
 * The newest learned profile filed under device (NULL = any) and
 * workload_key (NULL = any). PL_ENOTFOUND when none matches. *out is owned
 * by the caller (pl_learned_free); *id (may be NULL) receives its id.
 */
int pl_db_learned_load(pl_db *db, const char *device,
                       const char *workload_key, pl_learned **out,
                       int64_t *id, struct pl_errbuf *eb);

/* SHA-256 of a byte stream (the provenance hash of a profile). */
typedef struct pl_sha256 {
  uint32_t h[8];
  uint64_t len;
  unsigned char buf[64];
  size_t n;
} pl_sha256;
void pl_sha256_init(pl_sha256 *c);
void pl_sha256_update(pl_sha256 *c, const void *data, size_t len);
/* Finishes and writes 64 lowercase hex digits and a NUL. */
void pl_sha256_hex(pl_sha256 *c, char hex[65]);

/* ------------------------------------------------------ cost provider --- */

/*
 * The one cost provider: every cost table the engine runs on is built by
 * pl_cost_provide from a request of one of three kinds.
 *   PL_COSTS_CONSTANT  per-rank constants as the CLI takes them (--tf --tb
 *                      --tw --comm --mem-w-frac --bandwidth --msg-bytes
 *                      --time-unit): a chunk op costs 1/v of them
 *                      (pl_costs_uniform); bandwidth > 0 adds msg_bytes /
 *                      bandwidth to every message. With a workload, memory
 *                      is in the bytes `pipelab run` measures
 *                      (pl_wl_apply_mem_costs) instead of units of M_B.
 *   PL_COSTS_MODEL     the analytic / measured transformer model: exactly
 *                      pl_cost_build(db, model, gpu, cfg, ...).
 *   PL_COSTS_WORKLOAD  the executor's workload priced from the newest
 *                      calibration stored under `device`
 *                      (pl_db_workload_costs, then pl_cost_from_calibration):
 *                      time unit "us", memory in bytes.
 *   PL_COSTS_LEARNED   costs learned from a measured profile
 *                      (pl_learned_apply): in memory, or the newest stored
 *                      one; every source is PL_SRC_LEARNED.
 * A MODEL request with a db takes costs learned for its GPU and model key
 * (pl_learned_model_key) over the analytic ones: op times, overhead and P2P
 * from the profile, memory from the model; source[] = PL_SRC_LEARNED.
 */
enum pl_cost_kind {
  PL_COSTS_CONSTANT = 0,
  PL_COSTS_MODEL = 1,
  PL_COSTS_WORKLOAD = 2,
  PL_COSTS_LEARNED = 3
};

struct pl_workload; /* pipelab/kernels.h */

typedef struct pl_cost_request {
  int kind;                     /* enum pl_cost_kind */
  /* PL_COSTS_CONSTANT: per-rank times (a chunk op costs 1/v), P2P latency,
   * fraction of M_B kept from B until W, bandwidth (bytes per time unit,
   * 0 = infinite) with the bytes of one message, and the time unit label
   * (NULL = "unit"; 1 to 7 characters). workload (may be NULL) switches the
   * memory to its bytes. */
  double tf, tb, tw, comm, mem_w_frac, bandwidth, msg_bytes;
  const char *time_unit;
  /* PL_COSTS_MODEL */
  const pl_model_spec *model;
  const pl_gpu_spec *gpu;
  const pl_train_cfg *cfg;
  /* PL_COSTS_WORKLOAD: the workload (layers a multiple of the schedule's
   * virtual stages), the calibration device (catalog name, e.g. "cpu") and
   * the samples' dtype (NULL = "fp64", what the executor computes in) */
  const struct pl_workload *workload;
  const char *device;
  const char *dtype;
  pl_db *db;                    /* borrowed; required for WORKLOAD; may be
                                   NULL for CONSTANT and for MODEL (analytic
                                   only) */
  const double *rank_speed;     /* [ranks of the schedule] time multipliers
                                   (> 0) copied into the table; NULL = 1 */
  /* PL_COSTS_LEARNED: the learned table (borrowed), or NULL to take the
   * newest profile stored in db under device (NULL = any) and workload_key
   * (NULL = any). Memory: the workload's bytes when workload is set, else
   * units of M_B with mem_w_frac (as CONSTANT). */
  const pl_learned *learned;
  const char *workload_key;
} pl_cost_request;
#define PL_COST_REQUEST_INIT                                                 \
  {PL_COSTS_CONSTANT, 1.0, 1.0, 1.0, 0.0, 0.5, 0.0, 0.0, NULL, NULL, NULL,   \
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}

/*
 * Builds the cost table of schedule s (its virtual stages and ranks) for
 * the request. *costs is owned by the caller (pl_costs_destroy; NULL on
 * error). plan (may be NULL for CONSTANT and WORKLOAD) is filled for MODEL
 * (init with PL_MODEL_PLAN_INIT, free with pl_model_plan_free).
 * For WORKLOAD, source[F..BW] are the lookup's per op kind and
 * source[PL_OP_FB] the least exact of F, B and W (the table's summary);
 * without a stored 'local' link the device's catalog P2P latency is used.
 * Errors: PL_EINVAL (bad request, with the reason; an unknown kind, a
 * missing model / workload / device / db, layers not divisible by the
 * virtual stages), PL_ENOTFOUND (unknown device, listing the known ones;
 * or no calibration for the workload's shape: the message names the device
 * and says which `pipelab calibrate` command to run), PL_ENOMEM, and the
 * database errors of the lookups.
 */
int pl_cost_provide(const pl_cost_request *rq, const pl_sched *s,
                    pl_costs **costs, pl_model_plan *plan,
                    struct pl_errbuf *eb);

/*
 * Applies measured per-layer figures of the executor's workload w to c
 * (c->n_stages virtual stages, w->layers a multiple of them, else
 * PL_EINVAL): stage time = layers per stage x wc->t[k] for F, B, W, BW,
 * plus wc->input_us on the first stage's F and wc->loss_us on the last
 * stage's F; msg_bytes on every stage (0 = the workload's activation
 * message); comm latency wc->latency_us and bandwidth wc->bytes_per_us
 * (<= 0: none, all of it is latency); source[F..BW] = wc->source,
 * source[PL_OP_FB] = the least exact of F, B, W (at least MEASURED); time
 * unit "us"; memory in bytes (pl_wl_apply_mem_costs). wc->have_link and
 * wc->calibration_id are not read: the caller resolves the link.
 */
int pl_cost_from_calibration(const pl_wl_costs *wc, double msg_bytes,
                             const struct pl_workload *w, pl_costs *c,
                             struct pl_errbuf *eb);

/* --------------------------------------------------- simulate request --- */

/*
 * The simulate request: one case as `pipelab simulate` / `whatif` and
 * pl_api_call ("simulate", "whatif") take it, the schedule aside. The one
 * mapping from those options to the generator parameters and the constant
 * cost table: the CLI (cli/simopts.c) and the JSON API (api/api.c) fill
 * this struct and call the functions below. Every pointer is borrowed for
 * the duration of a call. Start from PL_SIM_REQUEST_INIT (the command's
 * defaults: tf = tb = tw = 1, mem_w_frac 0.5, time unit "unit", async P2P).
 */
typedef struct pl_sim_request {
  /* Shape: ranks, microbatches, chunks per rank (0 = the generator's
   * default), interleaved group size (0 = p). */
  int p, m, v, group;
  /* Activation limit per rank in units of M_B (0 = the generator's
   * default); mem_limits [n_mem_limits], one per rank (zb-auto), overrides
   * it when n_mem_limits == p. */
  double mem_limit;
  const double *mem_limits;
  int n_mem_limits;
  /* The constant costs, a PL_COSTS_CONSTANT cost request (the fields
   * pl_cost_provide reads for that kind): one microbatch through one
   * rank's layers (a chunk op costs 1/v): tf, tb, tw; comm, the P2P
   * latency; bandwidth (bytes per time unit, 0 = infinite) with msg_bytes,
   * the bytes of one message; mem_w_frac, the fraction of M_B kept from B
   * until W; time_unit (NULL = "unit"; 1 to 7 characters). The generators
   * read tf, tb, tw, mem_w_frac and comm + msg_bytes / bandwidth. */
  pl_cost_request costs;
  /* Per-stage costs CSV (pl_costs_read_stage_csv) over the constants, or
   * NULL. */
  const char *stage_costs;
  /* Runtime (docs/transfers.md): enum pl_p2p_mode, launch gap before every
   * op; fused F&B overlap 0..1 and the MoE all-to-all per F and per B on
   * one rank's layers (a2a / v per chunk op); the all-reduce of a stage
   * copy's gradients (schedules with copies) when have_replica_ar. */
  int p2p;
  double op_gap, fb_overlap, a2a, replica_ar;
  int have_replica_ar;
  /* Per-rank time multipliers for ranks 0 .. n_rank_speed-1 (the others
   * keep 1), or NULL. */
  const double *rank_speed;
  int n_rank_speed;
  /* Optimizer step: enum pl_optimizer_mode and its time on every rank. */
  int optimizer;
  double optimizer_time;
  /* Op-time jitter (pl_costs.jitter, pl_sim_trials): have_jitter 0 = the
   * deterministic run; else `trials` trials (0 = 200) of sigma `jitter`
   * from seed `jitter_seed` (default 1). */
  int have_jitter;
  double jitter;
  int trials;
  uint64_t jitter_seed;
  /* Measured quantiles of ln(op time / median) (pl_costs.jitter_q), or
   * NULL; borrowed. */
  const double *jitter_q;
  int n_jitter_q;
  /* Host time per P2P message at the sending and the receiving end, and
   * whether a local hand-off pays them (pl_costs.send_overhead,
   * recv_overhead, local_overhead); 0 = none. */
  double send_overhead, recv_overhead;
  int local_overhead;
} pl_sim_request;
#define PL_SIM_REQUEST_INIT                                                  \
  {0, 0, 0, 0, 0.0, NULL, 0, PL_COST_REQUEST_INIT, NULL, PL_P2P_ASYNC, 0.0,  \
   0.0, 0.0, 0.0, 0, NULL, 0, PL_OPTIM_SYNC, 0.0, 0, 0.0, 0, 1, NULL, 0,     \
   0.0, 0.0, 0}
#define PL_SIM_REQUEST_TRIALS 200 /* trials when have_jitter and trials 0 */

/* The generator parameters of the request (pl_sched_gen): the shape, the
 * constants a searching generator reads (comm plus msg_bytes / bandwidth),
 * the memory limits. */
pl_gen_params pl_sim_request_gen_params(const pl_sim_request *rq);

/*
 * The constant cost table of schedule s (*costs owned by the caller:
 * pl_costs_destroy; NULL on error): pl_cost_provide of rq->costs, then
 * the per-stage costs file (pl_sim_request_apply_stage_costs), the runtime
 * (pl_sim_request_apply_runtime) and the rank speeds. Errors: those of
 * pl_cost_provide (PL_EINVAL for a bad constant), the file's (PL_EIO,
 * PL_EPARSE naming the file and line), PL_EINVAL for more rank speeds than
 * ranks, PL_ENOMEM.
 */
int pl_sim_request_costs(const pl_sim_request *rq, const pl_sched *s,
                         pl_costs **costs, struct pl_errbuf *eb);

/* PL_EINVAL when the request pays a stage copy's all-reduce
 * (have_replica_ar) on a schedule without stage copies; else 0. */
int pl_sim_request_check_sched(const pl_sim_request *rq, const pl_sched *s,
                               struct pl_errbuf *eb);

/* Sets the request's runtime on a table from any provider: p2p mode, op
 * gap, fused-op overlap, a2a (a2a / v per chunk op) and, with
 * have_replica_ar, the stage copies' all-reduce. Call after every step that
 * replaces the table. */
void pl_sim_request_apply_runtime(const pl_sim_request *rq, pl_costs *c);

/* Reads rq->stage_costs into c's per-stage times and bytes (no-op without
 * it): 0, or PL_EIO / PL_ENOMEM / PL_EPARSE with the message naming the
 * file. */
int pl_sim_request_apply_stage_costs(const pl_sim_request *rq, pl_costs *c,
                                     struct pl_errbuf *eb);

/* Iteration time of a result under the request's optimizer mode and step
 * (pl_iteration_time). */
/* Runs s over c as the request says: pl_sim_run without jitter, else
 * pl_sim_trials (c->jitter and c->jitter_seed set from the request) whose
 * result is the median trial. *tr (may be NULL) receives the trials; its n
 * is 0 for a deterministic run. */
int pl_sim_request_run(const pl_sim_request *rq, const pl_sched *s,
                       pl_costs *c, unsigned flags, pl_result *res,
                       pl_trials *tr, struct pl_errbuf *eb);
double pl_sim_request_iteration_time(const pl_sim_request *rq,
                                     const pl_result *r);

#ifdef __cplusplus
}
#endif

#endif
