/* sweepmodel.c: constant-cost pricing and the output rows of `sweep`. The
 * model-priced mode plugs the cost database in through sweepmodel_prepare:
 * a cost table per point, a cheap bound per point for pruning, and the
 * breakdown of the iteration. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweepmodel.h"

const char sweepmodel_help[] =
  "model (prices every point with the kernel-level cost model):\n"
  "  --model <name>        a catalog model ('pipelab db list models')\n"
  "  --gpu <name>          a catalog GPU ('pipelab db list gpus')\n"
  "  --seq <n>             sequence length (default: the model's)\n"
  "  --no-flash-attn       unfused attention (default: flash attention on)\n"
  "  --precision <p>       bf16 (default), fp16, fp8, fp4\n"
  "  --gpus-per-node <n>   GPUs per scale-up domain (default: the GPU's)\n"
  "  --overlap-grad-reduce, --overlap-param-gather, --tp-comm-overlap,\n"
  "  --no-sequence-parallel, --no-grad-accum-fusion, --grad-reduce-dtype <t>\n"
  "                        runtime knobs as in 'pipelab simulate --help'\n"
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

pl_train_cfg sweepmodel_cfg(const struct sweepmodel *sm,
                            const pl_sweep_point *pt)
{
  pl_train_cfg cfg = sm->mo.cfg;
  cfg.mb_size = pt->mb_size;
  cfg.dp = pt->dp;
  cfg.tp = pt->tp > 0 ? pt->tp : 1;
  cfg.cp = pt->cp > 0 ? pt->cp : 1;
  cfg.recompute = pt->recompute;
  cfg.distributed_optimizer = pt->dist_opt;
  cfg.flash_attn = !sm->no_flash;
  cfg.layers_per_stage = NULL;
  return cfg;
}

static int build(struct sweepmodel *sm, const pl_sweep_point *pt,
                 const pl_sched *s, pl_costs **out, pl_model_plan *plan,
                 struct pl_errbuf *eb)
{
  pl_train_cfg cfg = sweepmodel_cfg(sm, pt);
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_MODEL;
  rq.model = &sm->mo.m;
  rq.gpu = &sm->mo.g;
  rq.cfg = &cfg;
  rq.db = sm->price_db;
  return pl_cost_provide(&rq, s, out, plan, eb);
}

/* The database connection is shared by the worker threads; when it has
 * measurements for the GPU the builds are serialised (SQLite handle), else
 * the model runs without SQL and in parallel. The plan of the point a thread
 * works on travels from costs() to finish() in a thread-local. */
static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local pl_model_plan tl_plan;

static int sm_costs(void *ctx, const pl_sweep_point *pt, const pl_sched *s,
                    pl_costs **out, struct pl_errbuf *eb)
{
  struct sweepmodel *sm = ctx;
  if (sm->price_db)
    pthread_mutex_lock(&build_mu);
  pl_model_plan_free(&tl_plan);
  tl_plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
  int rc = build(sm, pt, s, out, &tl_plan, eb);
  if (sm->price_db)
    pthread_mutex_unlock(&build_mu);
  return rc;
}

/* A schedule with the generator's stage map and no ops: all the cost
 * builder needs. */
static int stage_map(const pl_sweep_point *pt, pl_sched **s,
                     struct pl_errbuf *eb)
{
  const pl_gen_info *gi = pl_gen_find(pt->schedule);
  int v = pt->v > 0 ? pt->v : 1;
  int place = v == 1 ? PL_PLACE_SINGLE : gi ? gi->placement : PL_PLACE_LOOP;
  if (place == PL_PLACE_SINGLE && v > 1)
    place = PL_PLACE_LOOP;
  return pl_sched_create(pt->p, pt->p * v, pt->m, place, s, eb);
}

/*
 * Bounds without simulating: every rank runs F and B + W of each of its
 * stages for every microbatch, then its fixed tail (optimizer, tied
 * embedding, at least the exposed part of the DP reduce): the iteration is
 * at least the largest such sum. Memory: static bytes plus the largest
 * activation one F of the rank allocates.
 */
static int sm_bound(void *ctx, const pl_sweep_point *pt, double *time_lb,
                    double *mem_lb, struct pl_errbuf *eb)
{
  struct sweepmodel *sm = ctx;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  int rc = stage_map(pt, &s, eb);
  if (rc)
    return rc;
  if (sm->price_db)
    pthread_mutex_lock(&build_mu);
  rc = build(sm, pt, s, &c, &plan, eb);
  if (sm->price_db)
    pthread_mutex_unlock(&build_mu);
  if (rc) {
    pl_sched_destroy(s);
    return rc;
  }
  double t_max = 0, m_max = 0;
  for (int r = 0; r < plan.n_ranks; r++) {
    double busy = 0, act = 0;
    for (int g = 0; g < c->n_stages; g++) {
      if (pl_sched_stage_rank(s, g) != r)
        continue;
      double f = c->stage[g].t[PL_OP_F], bw = c->stage[g].t[PL_OP_BW];
      double bw2 = c->stage[g].t[PL_OP_B] + c->stage[g].t[PL_OP_W];
      busy += (f + (bw < bw2 ? bw : bw2)) * pt->m;
      if (c->stage[g].mem_b > act)
        act = c->stage[g].mem_b;
    }
    double tail = 0;
    if (!plan.flat && plan.optim_us) {
      double dp = plan.dp_us[r], ex = dp;
      if (plan.dp_window_us[r] > 0)
        ex = plan.dp_bucket_us[r] < dp ? plan.dp_bucket_us[r] : dp;
      tail = plan.optim_us[r] + plan.embed_us[r] + ex;
    }
    if (busy + tail > t_max)
      t_max = busy + tail;
    if (plan.rank[r].static_bytes + act > m_max)
      m_max = plan.rank[r].static_bytes + act;
  }
  *time_lb = t_max / 1e6; /* seconds, the unit of iteration_time */
  *mem_lb = m_max;
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
  return PL_OK;
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
  double us = r->makespan;
  if (pl_model_breakdown(plan, s, r, NULL, &bd) == PL_OK) {
    us = bd.iteration_us;
    ev->t_compute = bd.compute_us / 1e6;
    ev->t_tp = (bd.tp_us + bd.cp_us) / 1e6;
    ev->t_idle = (bd.bubble_us + bd.pp_us) / 1e6;
    ev->t_dp = bd.dp_us / 1e6;
    ev->t_optim = bd.optimizer_us / 1e6;
  }
  double secs = us / 1e6;
  double peak = 0;
  for (int k = 0; k < r->stages; k++) {
    double b = modelopts_peak_bytes(plan, r, k);
    if (b > peak)
      peak = b;
  }
  ev->iteration_time = secs;
  ev->throughput = secs > 0 ? plan->tokens_per_iter / secs : 0;
  ev->bubble_ratio = us > 0 ? ev->t_idle * 1e6 / us : 0;
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

int sweepmodel_explain(struct sweepmodel *sm, const pl_sweep_point *pt,
                       pl_model_plan *plan, pl_result *r, pl_breakdown *bd,
                       struct pl_errbuf *eb)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = pt->p;
  gp.m = pt->m;
  gp.v = pt->v;
  pl_sched *s = NULL;
  pl_costs *c = NULL, *c0 = NULL;
  pl_result r0 = PL_RESULT_INIT;
  int rc = pl_sched_gen(pt->schedule, &gp, &s, eb);
  if (!rc)
    rc = build(sm, pt, s, &c, plan, eb);
  if (!rc)
    rc = pl_sim_run(s, c, 0, r, eb);
  if (!rc && !(rc = pl_costs_clone(c, 1, &c0)))
    rc = pl_sim_run(s, c0, 0, &r0, eb);
  if (!rc)
    rc = pl_model_breakdown(plan, s, r, &r0, bd);
  pl_result_free(&r0);
  pl_costs_destroy(c0);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  return rc;
}

int sweepmodel_prepare(struct sweepmodel *sm, const char *cmd,
                       const char *limit, pl_sweep_spec *sp)
{
  int rc;
  if (sm->mo.model || sm->mo.gpu || sm->mo.other_given) {
    if ((rc = modelopts_resolve(&sm->mo, cmd)))
      return rc;
    sm->active = 1;
    sm->limit = sm->mo.g.hbm_bytes;
    if (limit) {
      int is_bytes;
      if ((rc = cli_mem_limit(cmd, limit, &sm->limit, &is_bytes)))
        return rc; /* with a model a plain number is bytes too */
    }
    /* eval_one compares peak_mem with this too: same unit, bytes. */
    sp->mem_limit = sm->limit;
    int yes = 0;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    if ((rc = pl_db_has_measurements(sm->mo.db, sm->mo.g.name, &yes, &eb)))
      return cli_fail_eb(&eb, rc);
    sm->price_db = yes ? sm->mo.db : NULL;
    sm->cb.costs = sm_costs;
    sm->cb.finish = sm_finish;
    sm->cb.bound = sm_bound;
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
    json_object_set_new(o, "tokens_per_second_per_gpu",
                        json_real(ev->throughput /
                                  ((double)pt->tp * pt->cp * pt->p * pt->dp)));
    json_object_set_new(o, "iteration_seconds", json_real(ev->iteration_time));
    json_object_set_new(o, "peak_gib", json_real(ev->peak_mem / 1073741824.0));
    json_object_set_new(o, "peak_bytes", json_real(ev->peak_mem));
    json_object_set_new(o, "mfu", json_real(ev->mfu));
    json_t *b = json_object();
    json_object_set_new(b, "compute_s", json_real(ev->t_compute));
    json_object_set_new(b, "tp_cp_comm_s", json_real(ev->t_tp));
    json_object_set_new(b, "pipeline_idle_s", json_real(ev->t_idle));
    json_object_set_new(b, "dp_comm_s", json_real(ev->t_dp));
    json_object_set_new(b, "optimizer_s", json_real(ev->t_optim));
    json_object_set_new(o, "breakdown", b);
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
         "bubble_ratio,%s,mfu,fits,reason,tp,cp,recompute,"
         "distributed_optimizer,status,compute_s,tp_cp_comm_s,"
         "pipeline_idle_s,dp_comm_s,optimizer_s\n",
         sm->active ? "tokens_per_second" : "throughput",
         sm->active ? "iteration_seconds" : "iteration_time",
         sm->active ? "peak_gib" : "peak_activation_units");
}

static const char *status_name(int st)
{
  switch (st) {
  case PL_SWEEP_OK: return "ok";
  case PL_SWEEP_PRUNED: return "pruned";
  case PL_SWEEP_SKIPPED: return "skipped";
  default: return "rejected";
  }
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
  printf("\",%d,%d,%s,%s,%s,%.6g,%.6g,%.6g,%.6g,%.6g\n", pt->tp, pt->cp,
         pl_recompute_name(pt->recompute), pt->dist_opt ? "true" : "false",
         status_name(ev->status), ev->t_compute, ev->t_tp, ev->t_idle,
         ev->t_dp, ev->t_optim);
}

void sweepmodel_table(const struct sweepmodel *sm, const char *unit,
                      const pl_sweep_point *pts, const pl_sweep_eval *evs,
                      const size_t *order, size_t rows)
{
  if (sm->active) {
    printf("%4s %-12s %2s %2s %3s %2s %4s %3s %5s %-9s %2s %12s %9s %8s %6s"
           " | %6s %6s %6s %6s %6s\n",
           "#", "schedule", "tp", "cp", "pp", "v", "dp", "mb", "m",
           "recompute", "do", "tokens/s/GPU", "iter (s)", "peak GiB", "MFU",
           "comp%", "TP%", "idle%", "DP%", "opt%");
    for (size_t r = 0; r < rows; r++) {
      const pl_sweep_point *pt = &pts[order[r]];
      const pl_sweep_eval *ev = &evs[order[r]];
      printf("%4zu %-12s %2d %2d %3d %2d %4d %3d %5d %-9s %2s ", r + 1,
             pt->schedule, pt->tp, pt->cp, pt->p, pt->v, pt->dp, pt->mb_size,
             pt->m, pl_recompute_name(pt->recompute),
             pt->dist_opt ? "y" : "n");
      if (ev->status == PL_SWEEP_OK) {
        double gpus = (double)pt->tp * pt->cp * pt->p * pt->dp;
        double it = ev->iteration_time > 0 ? ev->iteration_time : 1;
        printf("%12s %9.4g %8.1f %5.1f%% | %5.1f%% %5.1f%% %5.1f%% %5.1f%% "
               "%5.1f%%\n",
               cli_num(ev->throughput / gpus), ev->iteration_time,
               ev->peak_mem / 1073741824.0, 100 * ev->mfu,
               100 * ev->t_compute / it, 100 * ev->t_tp / it,
               100 * ev->t_idle / it, 100 * ev->t_dp / it,
               100 * ev->t_optim / it);
      } else {
        printf("%s: %s\n", status_name(ev->status), ev->reason);
      }
    }
    return;
  }
  printf("%4s %-12s %3s %5s %3s %2s %4s %14s %12s %8s %12s %6s\n", "#",
         "schedule", "p", "m", "mb", "v", "dp", unit, "iteration", "bubble",
         "peak units", "MFU");
  for (size_t r = 0; r < rows; r++) {
    const pl_sweep_point *pt = &pts[order[r]];
    const pl_sweep_eval *ev = &evs[order[r]];
    printf("%4zu %-12s %3d %5d %3d %2d %4d ", r + 1, pt->schedule, pt->p,
           pt->m, pt->mb_size, pt->v, pt->dp);
    if (ev->status == PL_SWEEP_OK)
      printf("%14s %12s %7.2f%% %12s %5.1f%%\n", cli_num(ev->throughput),
             cli_num(ev->iteration_time), 100 * ev->bubble_ratio,
             cli_num(ev->peak_mem), 100 * ev->mfu);
    else
      printf("%s: %s\n", status_name(ev->status), ev->reason);
  }
}

void sweepmodel_free(struct sweepmodel *sm)
{
  pl_model_plan_free(&tl_plan);
  tl_plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
  modelopts_close(&sm->mo);
}
