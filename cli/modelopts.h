/* modelopts.h: the model / GPU options that simulate, whatif and (later)
 * sweep share: --model, --gpu, shape and parallelism knobs, --db.
 * With --model the cost table comes from the analytic model or measured
 * samples in the database instead of --tf/--tb/--tw. */
#ifndef PL_CLI_MODELOPTS_H
#define PL_CLI_MODELOPTS_H

#include <jansson.h>

#include "pipelab/models.h"
#include "simopts.h"

enum {
  OPT_MODEL = 1100, OPT_GPU, OPT_MB_SIZE, OPT_SEQ, OPT_TP, OPT_DP,
  OPT_RECOMPUTE, OPT_FLASH_ATTN, OPT_DIST_OPT, OPT_LAYERS_PER_STAGE, OPT_DB,
  OPT_MFU, OPT_NO_SEQ_PARALLEL, OPT_CP, OPT_GPUS_PER_NODE, OPT_PRECISION,
  OPT_NO_CAUSAL, OPT_OVERLAP_GRAD, OPT_OVERLAP_PARAM, OPT_TP_OVERLAP,
  OPT_NO_GA_FUSION, OPT_GRAD_REDUCE_DTYPE, OPT_MODELOPTS_END
};

#define MODELOPTS_LONG                                                      \
  {"model", required_argument, NULL, OPT_MODEL},                            \
  {"gpu", required_argument, NULL, OPT_GPU},                                \
  {"mb-size", required_argument, NULL, OPT_MB_SIZE},                        \
  {"seq", required_argument, NULL, OPT_SEQ},                                \
  {"tp", required_argument, NULL, OPT_TP},                                  \
  {"dp", required_argument, NULL, OPT_DP},                                  \
  {"recompute", required_argument, NULL, OPT_RECOMPUTE},                    \
  {"flash-attn", no_argument, NULL, OPT_FLASH_ATTN},                        \
  {"distributed-optimizer", no_argument, NULL, OPT_DIST_OPT},               \
  {"layers-per-stage", required_argument, NULL, OPT_LAYERS_PER_STAGE},      \
  {"mfu", required_argument, NULL, OPT_MFU},                                \
  {"no-sequence-parallel", no_argument, NULL, OPT_NO_SEQ_PARALLEL},         \
  {"cp", required_argument, NULL, OPT_CP},                                  \
  {"gpus-per-node", required_argument, NULL, OPT_GPUS_PER_NODE},            \
  {"precision", required_argument, NULL, OPT_PRECISION},                    \
  {"no-causal", no_argument, NULL, OPT_NO_CAUSAL},                          \
  {"overlap-grad-reduce", no_argument, NULL, OPT_OVERLAP_GRAD},             \
  {"overlap-param-gather", no_argument, NULL, OPT_OVERLAP_PARAM},           \
  {"tp-comm-overlap", no_argument, NULL, OPT_TP_OVERLAP},                   \
  {"no-grad-accum-fusion", no_argument, NULL, OPT_NO_GA_FUSION},            \
  {"grad-reduce-dtype", required_argument, NULL, OPT_GRAD_REDUCE_DTYPE},    \
  {"db", required_argument, NULL, OPT_DB}

struct model_opts {
  const char *model, *gpu, *db_path, *layers_per_stage;
  pl_train_cfg cfg;
  int other_given; /* a model knob was given (needs --model) */
  /* Resolved by modelopts_resolve: */
  pl_db *db;
  pl_model_spec m;
  pl_gpu_spec g;
  int *lps; /* parsed --layers-per-stage (per virtual stage) */
  int n_lps;
  /* Set by modelopts_costs (borrowed, for the breakdown of the run that
   * follows) or by the caller before modelopts_json / modelopts_print: */
  const pl_sched *sched;
  const pl_costs *costs;
  const pl_breakdown *bd;
};

void modelopts_init(struct model_opts *mo);
/* 0 handled, -1 not a model option, else an exit code (usage printed). */
int modelopts_handle(struct model_opts *mo, const char *cmd, int opt,
                     const char *arg);
/* Opens the database (--db, $PIPELAB_DB, XDG default) and looks the model
 * and GPU up. Prints errors; returns an exit code. No-op without --model. */
int modelopts_resolve(struct model_opts *mo, const char *cmd);
/*
 * Before simopts_check: fills o's per-rank tf/tb/tw/comm/mem_w_frac (µs) from
 * the model for the schedule generators and turns a byte --mem-limit into
 * activation units (the generators' unit). Rejects --tf etc. given together
 * with --model (user_costs != 0). Returns an exit code.
 */
int modelopts_apply(struct model_opts *mo, struct sim_opts *o,
                    const char *cmd, const char *schedule, int user_costs);
/* Replaces *c with the model's cost table for schedule s (keeps the rank
 * speeds of *c); plan is filled; o (may be NULL) gets the per-rank mean
 * times for display. Prints errors; returns an exit code. */
int modelopts_costs(struct model_opts *mo, const char *cmd, const pl_sched *s,
                    pl_costs **c, pl_model_plan *plan, struct sim_opts *o);
/* The same without printing: a pl_err code and eb (whatif keeps going). */
int modelopts_build_eb(struct model_opts *mo, const pl_sched *s, pl_costs **c,
                       pl_model_plan *plan, struct pl_errbuf *eb);
/*
 * Where the iteration's time goes (pl_model_breakdown): simulates s once
 * more with free P2P transfers to tell transfers from bubbles, and applies
 * the caller's iteration rule (iteration_us differs from the makespan under
 * --optimizer post-validate). Returns a pl_err code.
 */
int modelopts_breakdown(const pl_model_plan *plan, const pl_sched *s,
                        const pl_costs *c, const pl_result *r,
                        double iteration_us, pl_breakdown *bd);
/* Adds iteration_seconds, tokens_per_second, mfu, cost_sources, model and per
 * rank peak_bytes / hbm_bytes / fits (into j["ranks"]) to a result object. */
void modelopts_json(const struct model_opts *mo, const pl_model_plan *plan,
                    const pl_result *r, double iteration_us, json_t *j);
/* Prints the model section of the simulate table and the out-of-memory
 * warnings (stderr). Returns the number of ranks that do not fit. */
int modelopts_print(const struct model_opts *mo, const pl_model_plan *plan,
                    const pl_result *r, double iteration_us);
/* The per-rank memory table (weights, gradients, optimizer state,
 * activations at peak, total; with fit, the HBM and whether it fits), sizes
 * with two decimals in B/KiB/MiB/GiB/TiB. */
void modelopts_print_ranks(const pl_model_plan *plan, const pl_result *r,
                           int fit);
/* Warnings only. */
int modelopts_warn_fit(const struct model_opts *mo, const pl_model_plan *plan,
                       const pl_result *r);
/* Peak bytes of rank r (static + activation peak). */
double modelopts_peak_bytes(const pl_model_plan *plan, const pl_result *r,
                            int rank);
/* Human line "all by source" ("analytic", "measured", "mixed"). */
const char *modelopts_source_summary(const int *src);
void modelopts_close(struct model_opts *mo);

/* Opens a database for a CLI command: path NULL = default; prints the
 * error (naming the file) and returns an exit code. The busy timeout is
 * $PIPELAB_DB_TIMEOUT_MS when set (ms), else the library default. */
int cli_db_open(const char *path, unsigned flags, pl_db **db);
/* cli_db_open for a command that only reads (PL_DB_READ_ONLY): a path
 * given with --db must exist ("no such database", exit 3); the default
 * location (NULL: $PIPELAB_DB, else the XDG path) is created on first
 * use. */
int cli_db_open_read(const char *path, pl_db **db);

extern const char modelopts_help[];
#endif
