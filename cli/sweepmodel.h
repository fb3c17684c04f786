/* sweepmodel.h: how `pipelab sweep` prices its points: constant costs, or a
 * model and GPU from the cost database (the pl_sweep_model callbacks: cost
 * table, bounds for pruning, breakdown), and how each row is printed in
 * either case. */
#ifndef PL_CLI_SWEEPMODEL_H
#define PL_CLI_SWEEPMODEL_H
#include <jansson.h>

#include "cli.h"
#include "modelopts.h"

/* The model options a sweep takes. The layout knobs (--tp, --cp,
 * --recompute, the distributed optimizer) and --mb-size are the sweep's own
 * axes (lists), parsed by cmd_sweep.c. */
#define SWEEPMODEL_LONG                                                     \
  {"model", required_argument, NULL, OPT_MODEL},                            \
  {"gpu", required_argument, NULL, OPT_GPU},                                \
  {"seq", required_argument, NULL, OPT_SEQ},                                \
  {"flash-attn", no_argument, NULL, OPT_FLASH_ATTN},                        \
  {"mfu", required_argument, NULL, OPT_MFU},                                \
  {"gpus-per-node", required_argument, NULL, OPT_GPUS_PER_NODE},            \
  {"precision", required_argument, NULL, OPT_PRECISION},                    \
  {"no-causal", no_argument, NULL, OPT_NO_CAUSAL},                          \
  {"overlap-grad-reduce", no_argument, NULL, OPT_OVERLAP_GRAD},             \
  {"overlap-param-gather", no_argument, NULL, OPT_OVERLAP_PARAM},           \
  {"tp-comm-overlap", no_argument, NULL, OPT_TP_OVERLAP},                   \
  {"no-grad-accum-fusion", no_argument, NULL, OPT_NO_GA_FUSION},            \
  {"grad-reduce-dtype", required_argument, NULL, OPT_GRAD_REDUCE_DTYPE},    \
  {"no-sequence-parallel", no_argument, NULL, OPT_NO_SEQ_PARALLEL},         \
  {"db", required_argument, NULL, OPT_DB}

struct sweepmodel {
  struct model_opts mo; /* --model, --gpu and knobs; the database */
  int active;           /* a model prices the points */
  int no_flash;         /* --no-flash-attn: the sweep's default is on */
  double limit;         /* bytes per GPU */
  pl_sweep_pricer *pricer; /* owned: the library's model-priced sweep */
};

extern const char sweepmodel_help[];
void sweepmodel_init(struct sweepmodel *sm);
/* 0 handled, -1 not ours, else an exit code after a usage line. */
int sweepmodel_handle(struct sweepmodel *sm, const char *cmd, int opt,
                      const char *arg);
/* Opens what the model needs and sets sp->mem_limit from limit (NULL: the
 * GPU's HBM with a model, none otherwise). Returns an exit code. */
int sweepmodel_prepare(struct sweepmodel *sm, const char *cmd,
                       const char *limit, pl_sweep_spec *sp);
const pl_sweep_model *sweepmodel_callbacks(struct sweepmodel *sm);
int sweepmodel_active(const struct sweepmodel *sm);
/* The training configuration of a point (layout knobs applied). */
pl_train_cfg sweepmodel_cfg(const struct sweepmodel *sm,
                            const pl_sweep_point *pt);
/* Re-evaluates one point in full (schedule, costs, simulation with and
 * without transfers) for --explain: plan, result and breakdown. Returns a
 * pl_err code with eb. The caller frees plan and r. */
int sweepmodel_explain(struct sweepmodel *sm, const pl_sweep_point *pt,
                       pl_model_plan *plan, pl_result *r, pl_breakdown *bd,
                       struct pl_errbuf *eb);
void sweepmodel_json(const struct sweepmodel *sm, json_t *o,
                     const pl_sweep_point *pt, const pl_sweep_eval *ev);
void sweepmodel_csv_header(const struct sweepmodel *sm);
void sweepmodel_csv_row(const struct sweepmodel *sm, size_t rank,
                        const pl_sweep_point *pt, const pl_sweep_eval *ev);
void sweepmodel_table(const struct sweepmodel *sm, const char *unit,
                      const pl_sweep_point *pts, const pl_sweep_eval *evs,
                      const size_t *order, size_t rows);
void sweepmodel_free(struct sweepmodel *sm);
#endif
