/* workloadopts.h: the workload flags (--layers --hidden --seq --mb-size
 * --seed --attention) shared by run, calibrate and simulate, so that simulate predicts
 * the activation bytes that run measures for the same flags. */
#ifndef PL_CLI_WORKLOADOPTS_H
#define PL_CLI_WORKLOADOPTS_H
#include "cli.h"
#include "pipelab/kernels.h"

enum {
  OPT_WL_LAYERS = 1100, OPT_WL_HIDDEN, OPT_WL_SEQ, OPT_WL_MB_SIZE,
  OPT_WL_SEED, OPT_WL_ATTENTION, OPT_WL_END
};

/* getopt_long rows (no terminator). */
#define WORKLOADOPTS_LONG                                                   \
  {"layers", required_argument, NULL, OPT_WL_LAYERS},                       \
  {"hidden", required_argument, NULL, OPT_WL_HIDDEN},                       \
  {"seq", required_argument, NULL, OPT_WL_SEQ},                             \
  {"mb-size", required_argument, NULL, OPT_WL_MB_SIZE},                     \
  {"seed", required_argument, NULL, OPT_WL_SEED},                           \
  {"attention", no_argument, NULL, OPT_WL_ATTENTION}

struct workload_opts {
  const char *cmd;   /* for usage lines */
  int layers;        /* 0 = one layer per virtual stage */
  int hidden, seq, mb_size;
  unsigned long long seed;
  int attention;     /* --attention: causal self-attention in every block */
  int given;         /* any workload flag was given */
};

/* Defaults: layers = one per virtual stage, hidden 256, seq 128,
 * mb-size 1, seed 1, no attention. */
void workloadopts_init(struct workload_opts *w, const char *cmd);
/* Handles one workload option: 0 handled, -1 not a workload option,
 * CLI_EXIT_USAGE after printing the usage line. */
int workloadopts_handle(struct workload_opts *w, int opt, const char *arg);
/* The workload for n_stages virtual stages and m microbatches; prints a
 * usage line and returns CLI_EXIT_USAGE when --layers is not a multiple of
 * n_stages. */
int workloadopts_get(const struct workload_opts *w, int n_stages, int m,
                     pl_workload *out);
/* (The workload's activation bytes in a cost table come from the library's
 * cost provider: pl_cost_provide with pl_cost_request.workload set.) */

extern const char workloadopts_help[];
#endif
