/* sweepmodel.h: how `pipelab sweep` prices its points: constant costs, or a
 * model and GPU from the cost database (the pl_sweep_model callbacks), and
 * how each row is printed in either case. */
#ifndef PL_CLI_SWEEPMODEL_H
#define PL_CLI_SWEEPMODEL_H
#include <jansson.h>

#include "cli.h"
#include "modelopts.h"

/* The model options a sweep takes: the shape knobs (--mb-size, --dp,
 * --layers-per-stage) are the sweep's own axes, so they are not here. */
#define SWEEPMODEL_LONG                                                     \
  {"model", required_argument, NULL, OPT_MODEL},                            \
  {"gpu", required_argument, NULL, OPT_GPU},                                \
  {"seq", required_argument, NULL, OPT_SEQ},                                \
  {"tp", required_argument, NULL, OPT_TP},                                  \
  {"recompute", required_argument, NULL, OPT_RECOMPUTE},                    \
  {"flash-attn", no_argument, NULL, OPT_FLASH_ATTN},                        \
  {"distributed-optimizer", no_argument, NULL, OPT_DIST_OPT},               \
  {"mfu", required_argument, NULL, OPT_MFU},                                \
  {"db", required_argument, NULL, OPT_DB}

struct sweepmodel {
  struct model_opts mo; /* --model, --gpu and knobs; the database */
  int active;           /* a model prices the points */
  double limit;         /* bytes per GPU */
  pl_sweep_model cb;
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
