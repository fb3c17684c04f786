/* sweepmodel.c: constant-cost pricing and the output rows of `sweep`. The
 * model-priced mode plugs the cost database in through sweepmodel_prepare. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweepmodel.h"

const char sweepmodel_help[] =
  "model (prices every point with the cost database: tokens/s, GiB, MFU):\n"
  "  --model <name>        a catalog model ('pipelab db list models')\n"
  "  --gpu <name>          a catalog GPU ('pipelab db list gpus')\n"
  "  --seq <n>             sequence length (default: the model's)\n"
  "  --tp <n>              tensor-parallel degree (GPUs = dp * p * tp)\n"
  "  --recompute <r>       none (default), selective or full\n"
  "  --flash-attn          no s^2 attention activations stored\n"
  "  --distributed-optimizer  optimizer state sharded over data parallel\n"
  "  --mfu <x>             flat model: every op at this fraction of peak, no\n"
  "                        communication (default: the kernel model)\n"
  "  --db <path>           cost database (default $PIPELAB_DB or XDG data dir)\n";

void sweepmodel_init(struct sweepmodel *sm)
{
  memset(sm, 0, sizeof *sm);
  modelopts_init(&sm->mo);
}

int sweepmodel_handle(struct sweepmodel *sm, const char *cmd, int opt,
                      const char *arg)
{
  return modelopts_handle(&sm->mo, cmd, opt, arg);
}

/* The cost database connection is shared by the worker threads; building a
 * cost table is cheap next to simulating, so it is simply serialised. The
 * plan of the point a thread is working on travels from costs() to
 * finish() in a thread-local. */
static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local pl_model_plan tl_plan;

static int sm_costs(void *ctx, const pl_sweep_point *pt, const pl_sched *s,
                    pl_costs **out, struct pl_errbuf *eb)
{
  struct sweepmodel *sm = ctx;
  pthread_mutex_lock(&build_mu);
  pl_train_cfg cfg = sm->mo.cfg;
  cfg.mb_size = pt->mb_size;
  cfg.dp = pt->dp;
  cfg.layers_per_stage = NULL;
  pl_model_plan_free(&tl_plan);
  tl_plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_MODEL;
  rq.model = &sm->mo.m;
  rq.gpu = &sm->mo.g;
  rq.cfg = &cfg;
  rq.db = sm->mo.db;
  int rc = pl_cost_provide(&rq, s, out, &tl_plan, eb);
  pthread_mutex_unlock(&build_mu);
  return rc;
}

static void sm_finish(void *ctx, const pl_sweep_point *pt, const pl_sched *s,
                      const pl_costs *c, const pl_result *r,
                      pl_sweep_eval *ev)
{
  struct sweepmodel *sm = ctx;
  const pl_model_plan *plan = &tl_plan;
  (void)pt;
  (void)c;
  /* The whole iteration: the pipeline, then each rank's exposed DP reduce,
   * tied-embedding reduce and optimizer step (model costs are in µs). */
  pl_breakdown bd;
  double us = pl_model_breakdown(plan, s, r, NULL, &bd) == PL_OK
                  ? bd.iteration_us : r->makespan;
  double secs = us / 1e6;
  double peak = 0;
  for (int k = 0; k < r->stages; k++) {
    double b = modelopts_peak_bytes(plan, r, k);
    if (b > peak)
      peak = b;
  }
  ev->iteration_time = secs;
  ev->throughput = secs > 0 ? plan->tokens_per_iter / secs : 0;
  ev->mfu = secs > 0 && plan->n_gpus > 0 && plan->peak_flops > 0
                ? plan->model_flops_iter /
                      (secs * plan->n_gpus * plan->peak_flops)
                : 0;
  ev->peak_mem = peak;
  ev->fits = peak <= sm->limit;
  if (!ev->fits)
    snprintf(ev->reason, sizeof ev->reason,
             "out of memory: peak %.1f GiB > limit %.1f GiB per GPU",
             peak / 1073741824.0, sm->limit / 1073741824.0);
  pl_model_plan_free(&tl_plan);
  tl_plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
}

int sweepmodel_prepare(struct sweepmodel *sm, const char *cmd,
                       const char *limit, pl_sweep_spec *sp)
{
  int rc;
  if (sm->mo.model || sm->mo.gpu || sm->mo.other_given) {
    if ((rc = modelopts_resolve(&sm->mo, cmd)))
      return rc;
    int tp = sm->mo.cfg.tp > 0 ? sm->mo.cfg.tp : 1;
    if (sp->gpus % tp != 0)
      return cli_usage(cmd, "--gpus %d is not a multiple of --tp %d", sp->gpus,
                       tp);
    sp->gpus /= tp; /* the sweep spreads p * dp over the TP groups */
    sm->active = 1;
    sm->limit = sm->mo.g.hbm_bytes;
    if (limit && (rc = cli_bytes(cmd, "--mem-limit", limit, &sm->limit)))
      return rc;
    /* eval_one compares peak_mem with this too: same unit, bytes. */
    sp->mem_limit = sm->limit;
    sm->cb.costs = sm_costs;
    sm->cb.finish = sm_finish;
    sm->cb.ctx = sm;
    return 0;
  }
  if (limit) {
    double v;
    int is_bytes;
    if ((rc = cli_mem_limit(cmd, limit, &v, &is_bytes)))
      return rc;
    if (is_bytes)
      return cli_usage(cmd, "--mem-limit without --model is in activation "
                            "units (a plain number), got '%s'", limit);
    sp->mem_limit = v;
  }
  return 0;
}

const pl_sweep_model *sweepmodel_callbacks(struct sweepmodel *sm)
{
  return sm->active ? &sm->cb : NULL;
}

int sweepmodel_active(const struct sweepmodel *sm) { return sm->active; }

void sweepmodel_json(const struct sweepmodel *sm, json_t *o,
                     const pl_sweep_point *pt, const pl_sweep_eval *ev)
{
  (void)pt;
  if (sm->active) {
    json_object_set_new(o, "tokens_per_second", json_real(ev->throughput));
    json_object_set_new(o, "iteration_seconds", json_real(ev->iteration_time));
    json_object_set_new(o, "peak_gib", json_real(ev->peak_mem / 1073741824.0));
    json_object_set_new(o, "mfu", json_real(ev->mfu));
  } else {
    json_object_set_new(o, "throughput", json_real(ev->throughput));
    json_object_set_new(o, "iteration_time", json_real(ev->iteration_time));
    json_object_set_new(o, "peak_activation_units", json_real(ev->peak_mem));
  }
  json_object_set_new(o, "bubble_ratio", json_real(ev->bubble_ratio));
  json_object_set_new(o, "fits", json_boolean(ev->fits));
}

void sweepmodel_csv_header(const struct sweepmodel *sm)
{
  printf("rank,schedule,stages,microbatches,mb_size,chunks,dp,%s,%s,"
         "bubble_ratio,%s,mfu,fits,reason\n",
         sm->active ? "tokens_per_second" : "throughput",
         sm->active ? "iteration_seconds" : "iteration_time",
         sm->active ? "peak_gib" : "peak_activation_units");
}

void sweepmodel_csv_row(const struct sweepmodel *sm, size_t rank,
                        const pl_sweep_point *pt, const pl_sweep_eval *ev)
{
  double peak = sm->active ? ev->peak_mem / 1073741824.0 : ev->peak_mem;
  int ok = ev->status == PL_SWEEP_OK;
  printf("%zu,%s,%d,%d,%d,%d,%d,", rank, pt->schedule, pt->p, pt->m,
         pt->mb_size, pt->v, pt->dp);
  if (ok || ev->iteration_time > 0)
    printf("%.10g,%.10g,%.6g,%.6g,%.4g,%s,", ev->throughput,
           ev->iteration_time, ev->bubble_ratio, peak, ev->mfu,
           ev->fits ? "true" : "false");
  else
    printf(",,,,,false,");
  /* Reasons never contain quotes we did not put there; double any. */
  putchar('"');
  for (const char *c = ev->reason; *c; c++) {
    if (*c == '"')
      putchar('"');
    putchar(*c);
  }
  printf("\"\n");
}

void sweepmodel_table(const struct sweepmodel *sm, const char *unit,
                      const pl_sweep_point *pts, const pl_sweep_eval *evs,
                      const size_t *order, size_t rows)
{
  printf("%4s %-12s %3s %5s %3s %2s %4s %14s %12s %8s %12s %6s\n", "#",
         "schedule", "p", "m", "mb", "v", "dp", unit,
         sm->active ? "iter (s)" : "iteration", "bubble",
         sm->active ? "peak GiB" : "peak units", "MFU");
  for (size_t r = 0; r < rows; r++) {
    const pl_sweep_point *pt = &pts[order[r]];
    const pl_sweep_eval *ev = &evs[order[r]];
    printf("%4zu %-12s %3d %5d %3d %2d %4d ", r + 1, pt->schedule, pt->p,
           pt->m, pt->mb_size, pt->v, pt->dp);
    if (ev->status == PL_SWEEP_OK)
      printf("%14s %12s %7.2f%% %12s %5.1f%%\n", cli_num(ev->throughput),
             cli_num(ev->iteration_time), 100 * ev->bubble_ratio,
             cli_num(sm->active ? ev->peak_mem / 1073741824.0 : ev->peak_mem),
             100 * ev->mfu);
    else
      printf("rejected: %s\n", ev->reason);
  }
}

void sweepmodel_free(struct sweepmodel *sm) { modelopts_close(&sm->mo); }
