/* sweep_price.c: a sweep priced by the cost model. The pl_sweep_model
 * callbacks that build each point's cost table with pl_cost_provide, bound
 * its iteration time and memory without simulating (for pruning), and turn
 * the simulated result into the iteration time, throughput, MFU and peak
 * bytes per GPU; and the full re-evaluation of one point for --explain. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/models.h"

struct pl_sweep_pricer {
  pl_model_spec m;
  pl_gpu_spec g;
  pl_train_cfg base;
  pl_db *db;        /* borrowed; NULL = the pure model, no SQL per point */
  double limit;     /* bytes per GPU */
  pl_sweep_spec rt; /* explain's runtime (pl_sweep_pricer_set_runtime) */
  pthread_mutex_t mu; /* serialises builds that read db (one SQLite handle) */
  pl_sweep_model cb;
  /* Bounds already computed: a bound depends on the stage map (placement,
   * p, v), m and the model knobs, not on the schedule's order, so the
   * schedules of one placement share it. Open addressing, BOUND_SLOTS
   * entries; when full, new bounds are computed and not kept. */
  pthread_mutex_t bmu;
  struct bound_entry *bounds;
  size_t n_bounds;
};

#define BOUND_SLOTS 8192
struct bound_entry {
  int used;
  int place, p, v, m, mb, tp, cp, rc, dist_opt, recompute;
  double time_lb, mem_lb;
  char msg[sizeof(((struct pl_errbuf *)0)->msg)];
};

/* The plan of the point a worker thread prices travels from costs() to
 * finish() in a thread-local: the sweep calls them in that order on one
 * thread for one point. */
static _Thread_local pl_model_plan tl_plan;

pl_train_cfg pl_sweep_pricer_cfg(const pl_sweep_pricer *pr,
                                 const pl_sweep_point *pt)
{
  pl_train_cfg cfg = pr->base;
  cfg.mb_size = pt->mb_size;
  cfg.dp = pt->dp;
  cfg.tp = pt->tp > 0 ? pt->tp : 1;
  cfg.cp = pt->cp > 0 ? pt->cp : 1;
  cfg.recompute = pt->recompute;
  cfg.distributed_optimizer = pt->dist_opt;
  cfg.layers_per_stage = NULL;
  return cfg;
}

static int build(pl_sweep_pricer *pr, const pl_sweep_point *pt,
                 const pl_sched *s, pl_costs **out, pl_model_plan *plan,
                 struct pl_errbuf *eb)
{
  pl_train_cfg cfg = pl_sweep_pricer_cfg(pr, pt);
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_MODEL;
  rq.model = &pr->m;
  rq.gpu = &pr->g;
  rq.cfg = &cfg;
  rq.db = pr->db;
  if (pr->db)
    pthread_mutex_lock(&pr->mu);
  int rc = pl_cost_provide(&rq, s, out, plan, eb);
  if (pr->db)
    pthread_mutex_unlock(&pr->mu);
  return rc;
}

static int cb_costs(void *ctx, const pl_sweep_point *pt, const pl_sched *s,
                    pl_costs **out, struct pl_errbuf *eb)
{
  pl_model_plan_free(&tl_plan);
  tl_plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
  return build(ctx, pt, s, out, &tl_plan, eb);
}

/* The placement of a point's stages (the generator's, loop for chunks of a
 * single-placement generator) and its chunks per rank in *v. */
static int point_place(const pl_sweep_point *pt, int *v)
{
  *v = pt->v > 0 ? pt->v : 1;
  return pl_gen_placement(pt->schedule, *v);
}

/* A schedule with the point's stage map and no ops: all the cost builder
 * needs. */
static int stage_map(const pl_sweep_point *pt, pl_sched **s,
                     struct pl_errbuf *eb)
{
  int v, place = point_place(pt, &v);
  return pl_sched_create(pt->p, pt->p * v, pt->m, place, s, eb);
}

/*
 * Bounds without simulating: every rank runs F and B + W of each of its
 * stages for every microbatch, then its fixed tail (optimizer, tied
 * embedding, at least the exposed part of the DP reduce): the iteration is
 * at least the largest such sum. Memory: static bytes plus the largest
 * activation one F of the rank allocates.
 */
static int bound_compute(pl_sweep_pricer *pr, const pl_sweep_point *pt,
                         double *time_lb, double *mem_lb,
                         struct pl_errbuf *eb);

static size_t bound_hash(const struct bound_entry *k)
{
  const int f[] = {k->place, k->p, k->v, k->m, k->mb, k->tp, k->cp,
                   k->dist_opt, k->recompute};
  size_t h = 1469598103934665603u;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    h = (h ^ (size_t)(unsigned)f[i]) * 1099511628211u;
  return h;
}

static int bound_same(const struct bound_entry *a, const struct bound_entry *b)
{
  return a->place == b->place && a->p == b->p && a->v == b->v &&
         a->m == b->m && a->mb == b->mb && a->tp == b->tp && a->cp == b->cp &&
         a->dist_opt == b->dist_opt && a->recompute == b->recompute;
}

static int cb_bound(void *ctx, const pl_sweep_point *pt, double *time_lb,
                    double *mem_lb, struct pl_errbuf *eb)
{
  pl_sweep_pricer *pr = ctx;
  struct bound_entry key;
  memset(&key, 0, sizeof key);
  key.place = point_place(pt, &key.v);
  key.p = pt->p;
  key.m = pt->m;
  key.mb = pt->mb_size;
  key.tp = pt->tp;
  key.cp = pt->cp;
  key.dist_opt = pt->dist_opt;
  key.recompute = pt->recompute;
  size_t h = bound_hash(&key) % BOUND_SLOTS;
  if (pr->bounds) {
    pthread_mutex_lock(&pr->bmu);
    for (size_t i = 0; i < BOUND_SLOTS; i++) {
      struct bound_entry *e = &pr->bounds[(h + i) % BOUND_SLOTS];
      if (!e->used)
        break;
      if (bound_same(e, &key)) {
        *time_lb = e->time_lb;
        *mem_lb = e->mem_lb;
        int rc = e->rc;
        if (rc)
          pl_errf(eb, rc, "%s", e->msg);
        pthread_mutex_unlock(&pr->bmu);
        return rc;
      }
    }
    pthread_mutex_unlock(&pr->bmu);
  }
  struct pl_errbuf mine = PL_ERRBUF_INIT;
  key.rc = bound_compute(pr, pt, &key.time_lb, &key.mem_lb, &mine);
  if (key.rc) {
    snprintf(key.msg, sizeof key.msg, "%s", mine.msg);
    pl_errf(eb, key.rc, "%s", mine.msg);
  } else {
    *time_lb = key.time_lb;
    *mem_lb = key.mem_lb;
  }
  /* PL_ENOMEM is not a property of the point: not kept */
  if (pr->bounds && key.rc != PL_ENOMEM) {
    pthread_mutex_lock(&pr->bmu);
    if (pr->n_bounds < BOUND_SLOTS / 2) {
      for (size_t i = 0; i < BOUND_SLOTS; i++) {
        struct bound_entry *e = &pr->bounds[(h + i) % BOUND_SLOTS];
        if (e->used && bound_same(e, &key))
          break;
        if (!e->used) {
          *e = key;
          e->used = 1;
          pr->n_bounds++;
          break;
        }
      }
    }
    pthread_mutex_unlock(&pr->bmu);
  }
  return key.rc;
}

static int bound_compute(pl_sweep_pricer *pr, const pl_sweep_point *pt,
                         double *time_lb, double *mem_lb,
                         struct pl_errbuf *eb)
{
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  int rc = stage_map(pt, &s, eb);
  if (rc)
    return rc;
  if ((rc = build(pr, pt, s, &c, &plan, eb))) {
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

static void cb_finish(void *ctx, const pl_sweep_point *pt, const pl_sched *s,
                      const pl_costs *c, const pl_result *r,
                      pl_sweep_eval *ev)
{
  pl_sweep_pricer *pr = ctx;
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
  for (int k = 0; k < r->stages && k < plan->n_ranks; k++) {
    double b = plan->rank[k].static_bytes + r->ranks[k].peak_mem;
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
  ev->fits = peak <= pr->limit;
  if (!ev->fits)
    snprintf(ev->reason, sizeof ev->reason,
             "out of memory: peak %.1f GiB > limit %.1f GiB per GPU",
             peak / 1073741824.0, pr->limit / 1073741824.0);
  pl_model_plan_free(&tl_plan);
  tl_plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
}

int pl_sweep_pricer_open(const pl_model_spec *m, const pl_gpu_spec *g,
                         const pl_train_cfg *base, pl_db *db,
                         double mem_limit, pl_sweep_pricer **out,
                         struct pl_errbuf *eb)
{
  if (!m || !g || !base || !out)
    return pl_errf(eb, PL_EINVAL, "sweep pricer: no model, GPU, "
                                  "configuration or output");
  *out = NULL;
  pl_sweep_pricer *pr = pl_calloc(1, sizeof *pr);
  if (!pr)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  pr->m = *m;
  pr->g = *g;
  pr->base = *base;
  pr->base.layers_per_stage = NULL;
  pr->limit = mem_limit > 0 ? mem_limit : g->hbm_bytes;
  if (db) {
    int yes = 0;
    int rc = pl_db_has_measurements(db, g->name, &yes, eb);
    if (rc) {
      pl_free(pr);
      return rc;
    }
    pr->db = yes ? db : NULL;
  }
  if (pthread_mutex_init(&pr->mu, NULL)) {
    pl_free(pr);
    return pl_errf(eb, PL_ENOMEM, "cannot create a mutex");
  }
  if (pthread_mutex_init(&pr->bmu, NULL)) {
    pthread_mutex_destroy(&pr->mu);
    pl_free(pr);
    return pl_errf(eb, PL_ENOMEM, "cannot create a mutex");
  }
  /* without the table every bound is computed: slower, same answers */
  pr->bounds = pl_calloc(BOUND_SLOTS, sizeof *pr->bounds);
  pr->cb.costs = cb_costs;
  pr->cb.finish = cb_finish;
  pr->cb.bound = cb_bound;
  pr->cb.ctx = pr;
  *out = pr;
  return PL_OK;
}

const pl_sweep_model *pl_sweep_pricer_model(pl_sweep_pricer *pr)
{
  return pr ? &pr->cb : NULL;
}

double pl_sweep_pricer_limit(const pl_sweep_pricer *pr)
{
  return pr ? pr->limit : 0;
}

int pl_sweep_pricer_explain(pl_sweep_pricer *pr, const pl_sweep_point *pt,
                            pl_model_plan *plan, pl_result *r,
                            pl_breakdown *bd, struct pl_errbuf *eb)
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
    rc = build(pr, pt, s, &c, plan, eb);
  if (!rc) {
    pl_sweep_spec_apply_runtime(&pr->rt, c);
    rc = pl_sim_run(s, c, 0, r, eb);
  }
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

void pl_sweep_pricer_set_runtime(pl_sweep_pricer *pr,
                                 const pl_sweep_spec *spec)
{
  if (pr && spec)
    pr->rt = *spec; /* only its runtime fields are read */
}

void pl_sweep_pricer_close(pl_sweep_pricer *pr)
{
  if (!pr)
    return;
  pthread_mutex_destroy(&pr->mu);
  pthread_mutex_destroy(&pr->bmu);
  pl_free(pr->bounds);
  pl_free(pr);
  pl_model_plan_free(&tl_plan);
  tl_plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
}
