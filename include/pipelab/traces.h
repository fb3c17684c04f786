/*
 * traces.h: what leaves the engine or the executor: Chrome / Perfetto trace
 * files, the result JSON and CSV that `simulate` and `run` print, result
 * files (--save), the import of PyTorch profiler (Kineto) traces, and the
 * predicted-versus-real comparison.
 *
 * Formats: docs/trace-format.md (Chrome trace, Kineto naming) and
 * docs/result-format.md (result files, compare output).
 *
 * Ownership: functions that return json_t* return a new reference the caller
 * releases with json_decref. pl_buf outputs are appended to the caller's
 * buffer. Result structs filled here follow sim.h's rules: initialise with
 * PL_RESULT_INIT, free with pl_result_free. Nothing here keeps global state;
 * every function is thread-safe for distinct arguments.
 */
#ifndef PIPELAB_TRACES_H
#define PIPELAB_TRACES_H

#include <stdio.h>

#include <jansson.h>

#include "pipelab/pipelab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------- Chrome ----- */

/*
 * Writes a Chrome Trace Event JSON file (object form, docs/trace-format.md) for a
 * result that has ops recorded (and memory when recorded):
 * - one "X" event per op: pid = rank, tid 1 "compute", name "F3" / "B3" /
 *   "W3" / "BW3" / "F3+B1" (microbatch numbers), cat by kind, cname colour
 *   hint, args {rank, index, kind, stage, chunk, microbatch, start, end}
 *   (start/end in the result's time unit, exact);
 * - one flow pair ("s" inside the producer slice, "f" with "bp":"e" inside
 *   the consumer slice) per cross-rank data edge;
 * - when c is given and the P2P time is > 0, each transfer as a slice on a
 *   "p2p send" track of the producer rank (tids 2, 3, ... so that
 *   overlapping transfers never share a track);
 * - activation memory as "C" counter events named "activations" per rank;
 * - "M" metadata: process_name "rank 00 (stage 0)", process_sort_index,
 *   thread_name, thread_sort_index; otherData with the run parameters.
 * s (stage->rank map and chunk numbers) and c (P2P slices) may be NULL.
 * time_scale_us converts one result time unit to µs (> 0; 1 for "us").
 * Returns PL_EINVAL when r has no ops, a time is not finite or the scale is
 * not > 0. Written atomically (path.tmp then rename); "-" = stdout.
 */
int pl_trace_write_chrome(const pl_result *r, const pl_sched *s,
                          const pl_costs *c, double time_scale_us,
                          const char *path, struct pl_errbuf *eb);
/* Same into a buffer (appends to out; on error out is reset). */
int pl_trace_chrome_buf(const pl_result *r, const pl_sched *s,
                        const pl_costs *c, double time_scale_us,
                        struct pl_buf *out, struct pl_errbuf *eb);

/*
 * One cross-rank data edge of a result: the producer op's output consumed on
 * another rank (forward activation F(g) -> F(g+1), gradient B/BW(g) ->
 * B/BW(g-1)). from/to index r->ops.
 */
typedef struct pl_trace_edge {
  size_t from, to;
  int stage;    /* producer's stage */
  int mb;       /* microbatch */
  int backward; /* 0 activation, 1 gradient */
} pl_trace_edge;
/*
 * Lists every cross-rank data edge of r (which needs ops). *edges is
 * pl_malloc'ed (caller frees with pl_free; NULL when *n is 0).
 */
int pl_trace_edges(const pl_result *r, pl_trace_edge **edges, size_t *n,
                   struct pl_errbuf *eb);

/* ----------------------------------------------------------- results ---- */

/* Result summary as JSON (the `simulate --format json` contract: schedule,
 * stages, microbatches, chunks, time_unit, makespan, max_rank_span,
 * bubble_ratio, bubble_ratio_span, ranks[]). New reference. */
json_t *pl_result_to_json(const pl_result *r);
/* The jitter trials of a run (pl_sim_trials) as the JSON outputs'
 * "trials" object: n, jitter, seed, deterministic, mean, p10, p50, p90.
 * New reference (caller decrefs), NULL when out of memory. */
json_t *pl_trials_to_json(const pl_trials *t, uint64_t seed);
/* Adds "ops" ([{rank, index, op, microbatch, stage, start, end} plus op2,
 * microbatch2, stage2 for fused ops]) and "memory" ([{rank, t, value}]) to
 * obj (the result-file detail). PL_ENOMEM on allocation failure. */
int pl_result_add_detail_json(json_t *obj, const pl_result *r);
/*
 * Reads a result (summary, and ops/memory when present) from a JSON object
 * written by pl_result_to_json + pl_result_add_detail_json. r must be
 * PL_RESULT_INIT or freed; on error it is left freed. Missing or mistyped
 * fields give PL_EPARSE naming the field ("ops[3].stage: expected an
 * integer").
 */
int pl_result_from_json(const json_t *obj, pl_result *r, struct pl_errbuf *eb);
/*
 * Reads a Chrome trace written by pl_trace_write_chrome back into a result:
 * ops from the compute "X" events' args, memory from the "activations"
 * counters, parameters from otherData; the summary is recomputed. PL_EPARSE
 * for anything else.
 */
int pl_result_from_chrome(const json_t *obj, pl_result *r,
                          struct pl_errbuf *eb);
/*
 * Loads a result from a file of any kind pipelab reads: a result file
 * (--save), a Chrome trace written by --trace, or a PyTorch profiler
 * (Kineto) trace (imported with default options, see pl_kineto_import).
 * Errors name the file: "x.json: ops[2].end: expected a number".
 */
int pl_result_load(const char *path, pl_result *r, struct pl_errbuf *eb);
/* Writes r as a result file (summary + detail), atomically. */
int pl_result_save(const pl_result *r, const char *path, struct pl_errbuf *eb);

/* Per-rank CSV: header line then one line per rank. */
int pl_result_to_csv(const pl_result *r, struct pl_buf *out);

/* Prints doubles in the C locale with up to 17 significant digits, and
 * integers without a fraction ("33", "28.5"). */
int pl_fmt_num(char *buf, size_t len, double x);
/* A finite double in its shortest form that reads back as the same double
 * ("36.3", not "36.299999999999997"); jansson's exponent style ("1e300").
 * PL_EINVAL for NaN/inf or a short buffer (32 bytes suffice). */
int pl_fmt_real(char *buf, size_t len, double x);
/* json_dumps / json_dumpf with every real in that shortest round-trip form
 * (the writers of every JSON output use these). pl_json_dumps returns a
 * string to free with pl_free, or NULL; pl_json_dumpf returns 0, PL_ENOMEM
 * or PL_EIO. */
char *pl_json_dumps(const json_t *j, size_t flags);
int pl_json_dumpf(const json_t *j, FILE *f, size_t flags);

/* ------------------------------------------------------------ Kineto ---- */

enum pl_kineto_track {
  PL_KINETO_AUTO = 0, /* GPU annotations when a file has them, else CPU */
  PL_KINETO_GPU = 1,  /* cat "gpu_user_annotation" */
  PL_KINETO_CPU = 2   /* cat "user_annotation" */
};

typedef struct pl_kineto_opts {
  int track;          /* enum pl_kineto_track */
  int dialect;        /* enum pl_csv_dialect; AUTO = current */
  int iteration;      /* which occurrence of each action to keep (0 = first) */
  const int *rank_map; /* pairs pid, rank (n_rank_map pairs); may be NULL */
  size_t n_rank_map;
  const char *schedule; /* name stored in the result; NULL = "kineto" */
} pl_kineto_opts;
#define PL_KINETO_OPTS_INIT {PL_KINETO_AUTO, 0, 0, NULL, 0, NULL}

/* Statistics of an import (may be NULL). */
typedef struct pl_kineto_info {
  size_t files;
  size_t events;       /* trace events seen */
  size_t actions;      /* PP: annotations on the chosen track */
  size_t comm_actions; /* SEND/RECV/... actions skipped */
  size_t repeated;     /* occurrences of other iterations skipped */
  int track;           /* track actually used */
} pl_kineto_info;

/*
 * Imports PyTorch profiler traces (one per rank, or one holding several
 * pids) whose pipelining actions are user annotations "PP:<action>"
 * ("PP:2F0", "PP:1I3", "PP:0W1", "PP:3B2", "PP:(0F7;7B3)OVERLAP_F_B").
 * Rank: distributedInfo.rank of the file, else the pid through rank_map,
 * else the pids of all files numbered densely in ascending order. Times:
 * µs, relative to the earliest action (files are aligned with
 * baseTimeNanoseconds when every file has it). docs/trace-format.md §Kineto.
 * names[i] is used in error messages. r is filled with source "kineto".
 */
int pl_kineto_import(json_t *const *docs, const char *const *names,
                     size_t n_docs, const pl_kineto_opts *o, pl_result *r,
                     pl_kineto_info *info, struct pl_errbuf *eb);
/* Same from files. */
int pl_kineto_load(const char *const *paths, size_t n_paths,
                   const pl_kineto_opts *o, pl_result *r,
                   pl_kineto_info *info, struct pl_errbuf *eb);
/*
 * Parses one PyTorch action ("2F0", "1I3", "(0F7;7B3)OVERLAP_F_B") of the
 * given dialect: exactly pl_action_parse (sim.h), the grammar the schedule
 * CSV reader uses, so both accept and reject the same strings (AUTO decides
 * from the action itself). Returns 1 for a compute op, 0 for a comm/other
 * action, PL_EPARSE for anything else (an empty string included).
 */
int pl_trace_parse_action(const char *s, size_t len, int dialect, pl_op *op,
                          struct pl_errbuf *eb);

/* ----------------------------------------------------------- compare ---- */

/*
 * The one definition of a signed error, used by compare (iteration, op
 * times, peak memory) and by plot compare: 100 * (real - pred) / pred, in
 * percent of the prediction (positive: the real run was slower or larger
 * than predicted). 0 when both are equal (0 against 0 included); NaN (an
 * unknown error, never printed as a number) when pred is not above 0 or
 * either value is not finite. Rounded like pl_denoise, so 36.3 against 33
 * is exactly 10.
 */
double pl_error_pct(double pred, double real);

/* Mean durations of one (rank, op kind) over matched ops. */
typedef struct pl_compare_kind {
  int rank;
  int kind;           /* enum pl_op_kind */
  size_t n;           /* matched ops */
  double pred_mean, real_mean;
  double error;       /* real_mean - pred_mean (time unit) */
  double error_pct;   /* pl_error_pct(pred_mean, real_mean) */
  double mean_abs_error; /* mean |real - pred| per op */
} pl_compare_kind;

typedef struct pl_compare_rank {
  int rank;
  double pred_peak, real_peak; /* NaN when unknown */
  double peak_diff;            /* real - pred (NaN when either is unknown) */
  double pred_bubble, real_bubble; /* ratios */
} pl_compare_rank;

#define PL_COMPARE_LIST 5 /* missing / extra ops listed */

typedef struct pl_compare {
  char time_unit[8];
  char mem_unit[8];     /* "" when the two units differ */
  double time_factor;   /* real times were multiplied by this to match */
  double pred_iter, real_iter; /* makespans */
  double iter_error_pct;       /* pl_error_pct(pred, real) */
  double pred_bubble, real_bubble;
  double bubble_diff_points;   /* 100 * (real - pred) */
  pl_compare_rank *ranks;      /* [n_ranks] */
  int n_ranks;
  pl_compare_kind *kinds;      /* [n_kinds], by rank then kind */
  size_t n_kinds;
  size_t pred_ops, real_ops, matched;
  size_t missing, extra;       /* in predicted only / in real only */
  pl_op_rec missing_ops[PL_COMPARE_LIST]; /* first few (rank, op) */
  pl_op_rec extra_ops[PL_COMPARE_LIST];
  int per_op;                  /* 1 when both results have ops */
} pl_compare;
/* pl_compare_results overwrites every field; free with pl_compare_free. */
#define PL_COMPARE_INIT                                                     \
  {{0}, {0}, 1, 0, 0, 0, 0, 0, 0, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, {{0}}, {{0}}, 0}

/*
 * Compares a predicted and a real result. Ops are matched by (rank, kind,
 * microbatch, stage) (plus the second part of fused ops); ops in only one of
 * them are counted and the first PL_COMPARE_LIST listed. Times in us, ms, s
 * and ns are converted to the predicted result's unit; other differing
 * units are PL_EINVAL. Fill *out (PL_COMPARE_INIT); free with
 * pl_compare_free.
 */
int pl_compare_results(const pl_result *pred, const pl_result *real,
                       pl_compare *out, struct pl_errbuf *eb);
void pl_compare_free(pl_compare *cmp);
/* JSON report (docs/result-format.md §compare). New reference. */
json_t *pl_compare_to_json(const pl_compare *cmp);
/* CSV report in long form: metric,rank,op,count,predicted,real,difference,
 * difference_pct,unit. */
int pl_compare_to_csv(const pl_compare *cmp, struct pl_buf *out);


/* ----------------------------------------------------------- history ---- */

/*
 * Run history in the pipelab database's runs, run_ranks and
 * run_ops tables (models/002_runs.sql; open the database with pl_db_open
 * from models.h). Thread safety: one pl_db per thread.
 */
struct pl_db;

/*
 * Opens the run database: path, or the default (pl_db_default_path) when
 * path is NULL. create = 0 (reading) fails with PL_ENOTFOUND when it does
 * not exist and opens an existing file read-only (PL_DB_READ_ONLY).
 * Close with pl_db_close (models.h).
 */
int pl_history_open(const char *path, int create, struct pl_db **db,
                    struct pl_errbuf *eb);
/* Loads "run:<id>" from the database (opened on demand with path, NULL =
 * default) or any file pl_result_load reads. */
int pl_result_load_any(const char *spec, const char *db_path, pl_result *r,
                       struct pl_errbuf *eb);

/* What a run record stores besides the result. Strings are copied; NULL
 * means unknown / default. */
typedef struct pl_history_params {
  const char *label;        /* free text */
  const char *cost_source;  /* user, analytic, measured, ...; default: "user"
                               for simulated runs, "executed" for real ones */
  const char *params_json;  /* run parameters as a JSON object; NULL = {} */
  const char *model_name, *gpu_name;
  double iteration_time;    /* < 0: not stored (NULL) */
} pl_history_params;
#define PL_HISTORY_PARAMS_INIT {NULL, NULL, NULL, NULL, NULL, -1}

/*
 * Stores r (summary, per-rank rows and per-op rows when present) as one run
 * in one BEGIN IMMEDIATE transaction; kind is "simulated" when r->source is
 * "sim", else "real"; host, time, pipelab version and git revision are
 * filled in. *id (may be NULL) receives the run id. PL_EDB / PL_EDBLOCKED
 * with SQLite's message on failure (nothing is written then).
 */
int pl_history_record(struct pl_db *db, const pl_result *r,
                      const pl_history_params *hp, int64_t *id,
                      struct pl_errbuf *eb);
/* Reads run id back into a result (ops included when stored). PL_ENOTFOUND
 * when there is no such run. */
int pl_history_load(struct pl_db *db, int64_t id, pl_result *r,
                    struct pl_errbuf *eb);

/* One row of the history list. */
typedef struct pl_history_run {
  int64_t id;
  int64_t created_at_ns;
  char kind[12];       /* simulated / real */
  char backend[16];
  char schedule[64];
  char label[64];
  char host[64];
  char version[16];
  char time_unit[8];
  int stages, microbatches, chunks;
  double makespan, bubble_ratio, peak_mem; /* NaN when NULL */
  int64_t baseline;    /* id of the run compared against, 0 = none */
  double drift_pct;    /* 100 * (makespan - baseline's) / baseline's */
  int flagged;         /* |drift_pct| > threshold */
} pl_history_run;

/* Filter for pl_history_list; zero / NULL fields do not filter. */
typedef struct pl_history_query {
  const char *schedule;
  int stages, microbatches;
  int64_t baseline;   /* compare every run with this one; 0 = per case, the
                         earliest run of the same (kind, backend, schedule,
                         stages, microbatches, chunks, time unit) */
  double threshold_pct; /* flag |drift| above this (default 5 when <= 0) */
  size_t limit;       /* newest N runs; 0 = all */
} pl_history_query;
#define PL_HISTORY_QUERY_INIT {NULL, 0, 0, 0, 0, 0}

/* Lists runs oldest first with their drift; *out is pl_malloc'ed (free with
 * pl_free), *n its length. */
int pl_history_list(struct pl_db *db, const pl_history_query *q,
                    pl_history_run **out, size_t *n, struct pl_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif
