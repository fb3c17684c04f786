/* sweepmodel.h: how `pipelab sweep` prices its points: constant costs, or a
 * model and GPU from the cost database (the pl_sweep_model callbacks), and
 * how each row is printed in either case. */
#ifndef PL_CLI_SWEEPMODEL_H
#define PL_CLI_SWEEPMODEL_H
#include <jansson.h>

#include "cli.h"

enum { SM_MODEL = 4000, SM_GPU, SM_SEQ, SM_DB, SM_END };
#define SWEEPMODEL_LONG                                                     \
  {"model", required_argument, NULL, SM_MODEL},                             \
  {"gpu", required_argument, NULL, SM_GPU},                                 \
  {"seq", required_argument, NULL, SM_SEQ},                                 \
  {"db", required_argument, NULL, SM_DB}

struct sweepmodel {
  const char *model, *gpu, *db;
  int seq;
  int active;        /* a model prices the points */
  void *impl;        /* model state (cost database handle, shapes) */
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
