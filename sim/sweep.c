/* sweep.c: what-if sweeps over (schedule, p, m, v, microbatch size). The
 * enumeration is a fixed nested order so that results are deterministic;
 * evaluation is spread over worker threads that take points from a shared
 * atomic counter and write only their own slots of evs[]. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"

const char *pl_sweep_why_name(int why)
{
  static const char *const n[PL_WHY_N] = {"none", "layout", "global batch",
                                          "schedule constraint",
                                          "out of memory", "cost model"};
  return why >= 0 && why < PL_WHY_N ? n[why] : "unknown";
}

static void reject(pl_sweep_eval *ev, int why, const char *fmt, long x,
                   long y, long z)
{
  ev->status = PL_SWEEP_REJECTED;
  ev->why = why;
  snprintf(ev->reason, sizeof ev->reason, fmt, x, y, z);
}

/* A knob list, or the single default value. */
struct axis {
  const int *v;
  int n;
  int def;
};

static int axis_at(const struct axis *a, int i)
{
  return a->v && a->n > 0 ? a->v[i] : a->def;
}

static int axis_len(const struct axis *a) { return a->v && a->n > 0 ? a->n : 1; }

int pl_sweep_enumerate(const pl_sweep_spec *spec, pl_sweep_point **pts,
                       pl_sweep_eval **evs, size_t *n, struct pl_errbuf *eb)
{
  *pts = NULL;
  *evs = NULL;
  *n = 0;
  if (spec->gpus < 1 || spec->n_stages < 1 || spec->n_mb < 1)
    return pl_errf(eb, PL_EINVAL, "a sweep needs gpus, stages and "
                                  "microbatch sizes");
  if (spec->global_batch <= 0 &&
      (spec->m_lo < 1 || spec->m_hi < spec->m_lo || spec->m_step < 1))
    return pl_errf(eb, PL_EINVAL, "microbatch range %d..%d (step %d) is "
                                  "empty", spec->m_lo, spec->m_hi,
                   spec->m_step);
  if (spec->shard_n > 1 && (spec->shard_k < 0 || spec->shard_k >= spec->shard_n))
    return pl_errf(eb, PL_EINVAL, "shard %d/%d: the shard number must be "
                                  "0 .. %d", spec->shard_k, spec->shard_n,
                   spec->shard_n - 1);
  /* Resolve the schedule list. */
  const pl_gen_info *all = pl_gen_list();
  size_t n_all = 0;
  while (all[n_all].name)
    n_all++;
  const pl_gen_info **gens = pl_calloc(n_all + (size_t)spec->n_schedules,
                                       sizeof *gens);
  size_t ng = 0;
  if (!gens)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  if (!spec->schedules) {
    for (size_t i = 0; i < n_all; i++)
      gens[ng++] = &all[i];
  } else {
    for (int i = 0; i < spec->n_schedules; i++) {
      const pl_gen_info *g = pl_gen_find(spec->schedules[i]);
      if (!g) {
        pl_free(gens);
        return pl_errf(eb, PL_EINVAL, "unknown schedule '%s'",
                       spec->schedules[i]);
      }
      gens[ng++] = g;
    }
  }
  struct axis tp = {spec->tps, spec->n_tps, 1}, cp = {spec->cps, spec->n_cps, 1};
  struct axis rc = {spec->recomputes, spec->n_recomputes, 0};
  struct axis dopt = {spec->dist_opts, spec->n_dist_opts, 0};
  int m_count = spec->global_batch > 0
                    ? 1
                    : (spec->m_hi - spec->m_lo) / spec->m_step + 1;
  int v_count = spec->n_chunks > 0 ? spec->n_chunks : 1;
  double capd = (double)ng * spec->n_stages * spec->n_mb * m_count * v_count *
                axis_len(&tp) * axis_len(&cp) * axis_len(&rc) *
                axis_len(&dopt);
  if (capd > 50e6) {
    pl_free(gens);
    return pl_errf(eb, PL_EINVAL, "the sweep has %.0f points; narrow it "
                                  "below 50 million", capd);
  }
  size_t cap = (size_t)capd;
  pl_sweep_point *P = pl_malloc((cap ? cap : 1) * sizeof *P);
  pl_sweep_eval *E = pl_calloc(cap ? cap : 1, sizeof *E);
  if (!P || !E) {
    pl_free(gens);
    pl_free(P);
    pl_free(E);
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  size_t k = 0;
  for (size_t gi = 0; gi < ng; gi++) {
    const pl_gen_info *g = gens[gi];
    int takes_chunks = g->placement == PL_PLACE_LOOP;
    for (int si = 0; si < spec->n_stages; si++) {
      int p = spec->stages[si];
      for (int ti = 0; ti < axis_len(&tp); ti++)
        for (int ci = 0; ci < axis_len(&cp); ci++) {
          int t = axis_at(&tp, ti), c = axis_at(&cp, ci);
          long tcp = (long)t * c * p;
          int dp = p > 0 && t > 0 && c > 0 && spec->gpus % tcp == 0
                       ? (int)(spec->gpus / tcp) : 0;
          for (int bi = 0; bi < spec->n_mb; bi++) {
            int mb = spec->mb_sizes[bi];
            for (int mi = 0; mi < m_count; mi++) {
              int m = spec->m_lo + mi * spec->m_step;
              int m_bad = 0;
              if (spec->global_batch > 0) {
                long per = (long)(dp > 0 ? dp : 1) * mb;
                m = (int)(spec->global_batch / per);
                m_bad = spec->global_batch % per != 0 || m < 1;
              }
              for (int vi = 0; vi < (takes_chunks ? v_count : 1); vi++)
                for (int ri = 0; ri < axis_len(&rc); ri++)
                  for (int di = 0; di < axis_len(&dopt); di++) {
                    pl_sweep_point *pt = &P[k];
                    pl_sweep_eval *ev = &E[k];
                    pt->schedule = g->name;
                    pt->p = p;
                    pt->m = m;
                    pt->mb_size = mb;
                    pt->dp = dp;
                    pt->tp = t;
                    pt->cp = c;
                    pt->recompute = axis_at(&rc, ri);
                    pt->dist_opt = axis_at(&dopt, di);
                    pt->v = takes_chunks ? (spec->n_chunks ? spec->chunks[vi] : 2)
                                         : g->default_chunks;
                    if (spec->shard_n > 1 &&
                        (long)(k % (size_t)spec->shard_n) != spec->shard_k)
                      ev->status = PL_SWEEP_SKIPPED;
                    else if (p < 1)
                      reject(ev, PL_WHY_LAYOUT,
                             "stages must be at least 1, got %ld", p, 0, 0);
                    else if (dp == 0)
                      reject(ev, PL_WHY_LAYOUT,
                             "%ld GPUs are not a multiple of tp x cp x p = %ld",
                             spec->gpus, tcp, 0);
                    else if (m_bad)
                      reject(ev, PL_WHY_BATCH,
                             "global batch %ld is not a multiple of dp x "
                             "mb-size = %ld",
                             spec->global_batch, (long)dp * mb, 0);
                    k++;
                  }
            }
          }
        }
    }
  }
  pl_free(gens);
  *pts = P;
  *evs = E;
  *n = k;
  return 0;
}

struct job {
  const pl_sweep_spec *spec;
  const pl_sweep_model *model;
  const pl_sweep_point *pts;
  pl_sweep_eval *evs;
  size_t n;
  const size_t *order; /* evaluation order (NULL = index order) */
  void (*fn)(struct job *j, pl_sim *sim, size_t i);
  atomic_size_t next, done;
  volatile const int *stop;
  atomic_int err;
  /* Pruning: the best top_n throughputs so far, ascending. */
  pthread_mutex_t mu;
  double *top;
  int n_top;
};

/* The throughput a point must beat to enter the top N (0 until N points
 * are in). */
static double threshold(struct job *j)
{
  pthread_mutex_lock(&j->mu);
  double t = j->n_top >= j->spec->top_n ? j->top[0] : 0;
  pthread_mutex_unlock(&j->mu);
  return t;
}

static void offer(struct job *j, double x)
{
  pthread_mutex_lock(&j->mu);
  int cap = j->spec->top_n, i;
  if (j->n_top < cap) {
    i = j->n_top++;
  } else if (x > j->top[0]) {
    i = 0;
    /* drop the smallest: shift the others down */
    for (; i + 1 < cap && j->top[i + 1] < x; i++)
      j->top[i] = j->top[i + 1];
    j->top[i] = x;
    pthread_mutex_unlock(&j->mu);
    return;
  } else {
    pthread_mutex_unlock(&j->mu);
    return;
  }
  /* insert at the end and bubble down into ascending order */
  while (i > 0 && j->top[i - 1] > x) {
    j->top[i] = j->top[i - 1];
    i--;
  }
  j->top[i] = x;
  pthread_mutex_unlock(&j->mu);
}

static void set_reason(pl_sweep_eval *ev, int why, const struct pl_errbuf *eb,
                       int rc)
{
  ev->status = PL_SWEEP_REJECTED;
  ev->why = why;
  snprintf(ev->reason, sizeof ev->reason, "%.*s", (int)sizeof ev->reason - 1,
           eb->msg[0] ? eb->msg : pl_strerror(rc));
}

/* Phase 1 with a bound callback: reject points whose memory lower bound is
 * over the limit, and record the throughput upper bound of the others. */
static void bound_one(struct job *j, pl_sim *sim, size_t i)
{
  (void)sim;
  const pl_sweep_spec *sp = j->spec;
  const pl_sweep_point *pt = &j->pts[i];
  pl_sweep_eval *ev = &j->evs[i];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  double t_lb = 0, m_lb = 0;
  int rc = j->model->bound(j->model->ctx, pt, &t_lb, &m_lb, &eb);
  if (rc) {
    /* the model refuses shapes it cannot lay out (layers, heads, sequence) */
    set_reason(ev, rc == PL_EINVAL ? PL_WHY_LAYOUT : PL_WHY_MODEL, &eb, rc);
    return;
  }
  if (sp->mem_limit > 0 && m_lb > sp->mem_limit) {
    ev->status = PL_SWEEP_REJECTED;
    ev->why = PL_WHY_MEMORY;
    ev->fits = 0;
    ev->peak_mem = m_lb;
    ev->over = m_lb / sp->mem_limit - 1;
    snprintf(ev->reason, sizeof ev->reason,
             "out of memory: static memory and one microbatch's activations "
             "already need %.6g > limit %.6g per GPU", m_lb, sp->mem_limit);
    return;
  }
  ev->bound = t_lb > 0 ? (double)pt->m * pt->mb_size * pt->dp / t_lb : 0;
}

/*
 * Generated schedules, per worker thread. A schedule depends on the
 * generator, p, m and v and on the sweep's constant generator costs (the
 * same for every point of one run): in a model-priced sweep the points that
 * differ only in tp, recomputation, the optimizer sharding or a microbatch
 * size that leaves m unchanged share it. The cache holds up to GC_SLOTS
 * schedules of at most GC_OPS ops together (least recently used out) and is
 * emptied when the thread's part of a run ends.
 */
#define GC_SLOTS 16
#define GC_OPS ((size_t)4 << 20)
struct gc_entry {
  const char *name;
  int p, m, v;
  pl_sched *s;
  size_t ops;
  unsigned long use;
};
struct gcache {
  struct gc_entry e[GC_SLOTS];
  size_t ops;
  unsigned long tick;
};
static _Thread_local struct gcache tl_gc;

static void gc_clear(void)
{
  for (int k = 0; k < GC_SLOTS; k++) {
    pl_sched_destroy(tl_gc.e[k].s);
    tl_gc.e[k].s = NULL;
  }
  tl_gc.ops = 0;
  tl_gc.tick = 0;
}

/* *s is the cache's (*owned = 0) or the caller's to destroy (*owned = 1). */
static int gen_cached(const char *name, const pl_gen_params *gp,
                      pl_sched **s, int *owned, struct pl_errbuf *eb)
{
  struct gcache *g = &tl_gc;
  for (int k = 0; k < GC_SLOTS; k++) {
    struct gc_entry *e = &g->e[k];
    if (e->s && e->p == gp->p && e->m == gp->m && e->v == gp->v &&
        (e->name == name || !strcmp(e->name, name))) {
      e->use = ++g->tick;
      *s = e->s;
      *owned = 0;
      return PL_OK;
    }
  }
  int rc = pl_sched_gen(name, gp, s, eb);
  *owned = 1;
  if (rc)
    return rc;
  size_t ops = pl_sched_total_ops(*s);
  if (ops > GC_OPS / 4)
    return PL_OK;
  /* make room: evict the least recently used until both limits hold */
  for (;;) {
    int lru = -1, empty = -1;
    for (int k = 0; k < GC_SLOTS; k++) {
      if (!g->e[k].s) {
        empty = k;
        continue;
      }
      if (lru < 0 || g->e[k].use < g->e[lru].use)
        lru = k;
    }
    if (empty >= 0 && g->ops + ops <= GC_OPS) {
      struct gc_entry *e = &g->e[empty];
      e->name = name;
      e->p = gp->p;
      e->m = gp->m;
      e->v = gp->v;
      e->s = *s;
      e->ops = ops;
      e->use = ++g->tick;
      g->ops += ops;
      *owned = 0;
      return PL_OK;
    }
    if (lru < 0)
      return PL_OK;
    g->ops -= g->e[lru].ops;
    pl_sched_destroy(g->e[lru].s);
    g->e[lru].s = NULL;
  }
}

static void eval_one(struct job *j, pl_sim *sim, size_t i)
{
  const pl_sweep_spec *sp = j->spec;
  const pl_sweep_point *pt = &j->pts[i];
  pl_sweep_eval *ev = &j->evs[i];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  /* Pruned: its upper bound cannot beat the N-th best found so far. The
   * bound is in sequences per time unit; the model's throughput is that
   * times the tokens per sequence, so compare ratios of the same kind. */
  if (sp->top_n > 0 && ev->bound > 0 && j->model && j->model->bound) {
    double th = threshold(j);
    /* a relative margin: the bound and the simulated rate are computed
     * differently, and a point that ties must still be simulated (ties
     * rank by memory) */
    if (th > 0 && ev->bound < th * (1 - 1e-9)) {
      ev->status = PL_SWEEP_PRUNED;
      snprintf(ev->reason, sizeof ev->reason,
               "pruned: cannot enter the top %d", sp->top_n);
      return;
    }
  }
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = pt->p;
  gp.m = pt->m;
  gp.v = pt->v;
  /* Constant sweep costs are for the whole model: each rank runs 1/p. */
  double dp_ = (double)pt->p;
  gp.tf = sp->tf / dp_;
  gp.tb = sp->tb / dp_;
  gp.tw = sp->tw / dp_;
  gp.comm = sp->comm;
  gp.mem_w_frac = sp->mem_w_frac;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_result r = PL_RESULT_INIT;
  int owned = 1;
  int rc = gen_cached(pt->schedule, &gp, &s, &owned, &eb);
  if (rc) {
    set_reason(ev, PL_WHY_SCHEDULE, &eb, rc);
    return;
  }
  if (j->model && j->model->costs) {
    if ((rc = j->model->costs(j->model->ctx, pt, s, &c, &eb))) {
      set_reason(ev, rc == PL_EINVAL ? PL_WHY_LAYOUT : PL_WHY_MODEL, &eb, rc);
      if (rc == PL_ENOMEM)
        atomic_store(&j->err, rc);
      goto out;
    }
  } else if ((rc = pl_costs_create(pl_sched_stages(s), pt->p, &c)) == 0) {
    pl_costs_uniform(c, pl_sched_chunks(s), gp.tf, gp.tb, gp.tw, sp->comm,
                     sp->mem_w_frac);
    /* Memory in units of one microbatch's activations over the whole
     * model, so that points with different p compare. */
    for (int g = 0; g < c->n_stages; g++) {
      c->stage[g].mem_b /= dp_;
      c->stage[g].mem_w /= dp_;
    }
  }
  if (!rc) {
    pl_sweep_spec_apply_runtime(sp, c);
    rc = pl_sim_run2(sim, s, c, 0, &r, &eb);
  }
  if (rc) {
    set_reason(ev, PL_WHY_SCHEDULE, &eb, rc);
    if (rc == PL_ENOMEM)
      atomic_store(&j->err, rc);
    goto out;
  }
  ev->status = PL_SWEEP_OK;
  ev->fits = 1;
  ev->iteration_time = r.makespan;
  ev->peak_mem = r.peak_mem;
  ev->bubble_ratio = r.bubble_ratio;
  ev->throughput = r.makespan > 0 ? (double)pt->m * pt->mb_size * pt->dp /
                                        r.makespan
                                  : 0;
  double seq_rate = ev->throughput; /* sequences per time unit */
  if (j->model && j->model->finish) {
    j->model->finish(j->model->ctx, pt, s, c, &r, ev);
    seq_rate = ev->iteration_time > 0
                   ? (double)pt->m * pt->mb_size * pt->dp / ev->iteration_time
                   : 0;
  }
  if (ev->status == PL_SWEEP_OK && sp->mem_limit > 0 &&
      ev->peak_mem > sp->mem_limit) {
    ev->fits = 0;
  }
  if (ev->status == PL_SWEEP_OK && !ev->fits) {
    ev->status = PL_SWEEP_REJECTED;
    ev->why = PL_WHY_MEMORY;
    if (sp->mem_limit > 0)
      ev->over = ev->peak_mem / sp->mem_limit - 1;
    if (!ev->reason[0])
      snprintf(ev->reason, sizeof ev->reason,
               "out of memory: peak %.6g > limit %.6g per rank", ev->peak_mem,
               sp->mem_limit);
  } else if (ev->status != PL_SWEEP_OK && !ev->why) {
    ev->why = PL_WHY_MODEL;
  }
  if (ev->status == PL_SWEEP_OK && sp->top_n > 0)
    offer(j, seq_rate);
out:
  pl_result_free(&r);
  pl_costs_destroy(c);
  if (owned)
    pl_sched_destroy(s);
}

static void *worker(void *arg)
{
  struct job *j = arg;
  pl_sim *sim;
  if (pl_sim_create(&sim)) {
    atomic_store(&j->err, PL_ENOMEM);
    return NULL;
  }
  for (;;) {
    if (j->stop && *j->stop)
      break;
    size_t k = atomic_fetch_add(&j->next, 1);
    if (k >= j->n)
      break;
    size_t i = j->order ? j->order[k] : k;
    if (j->evs[i].status == PL_SWEEP_OK)
      j->fn(j, sim, i);
    atomic_fetch_add(&j->done, 1);
  }
  gc_clear();
  pl_sim_destroy(sim);
  return NULL;
}

/* Runs fn over the points (in j->order) on spec->jobs threads; the calling
 * thread works too and reports progress. */
static void parallel(struct job *j, void (*progress)(void *, size_t, size_t),
                     void *pctx, size_t base, size_t total)
{
  int jobs = j->spec->jobs > 0 ? j->spec->jobs : 1;
  if (jobs > 256)
    jobs = 256;
  pthread_t th[256];
  int started = 0;
  atomic_store(&j->next, 0);
  atomic_store(&j->done, 0);
  for (int t = 1; t < jobs; t++) {
    if (pthread_create(&th[started], NULL, worker, j) != 0)
      break; /* fewer threads still finish the work */
    started++;
  }
  pl_sim *sim = NULL;
  if (pl_sim_create(&sim))
    atomic_store(&j->err, PL_ENOMEM);
  size_t step = j->n / 100 + 1, last = 0;
  while (sim) {
    if (j->stop && *j->stop)
      break;
    size_t k = atomic_fetch_add(&j->next, 1);
    if (k >= j->n)
      break;
    size_t i = j->order ? j->order[k] : k;
    if (j->evs[i].status == PL_SWEEP_OK)
      j->fn(j, sim, i);
    size_t d = atomic_fetch_add(&j->done, 1) + 1;
    if (progress && d - last >= step) {
      last = d;
      progress(pctx, base + d, total);
    }
  }
  gc_clear();
  pl_sim_destroy(sim);
  for (int t = 0; t < started; t++)
    pthread_join(th[t], NULL);
}

static const pl_sweep_eval *bound_evs;

static int cmp_bound(const void *a, const void *b)
{
  size_t i = *(const size_t *)a, k = *(const size_t *)b;
  double x = bound_evs[i].bound, y = bound_evs[k].bound;
  if (x != y)
    return x > y ? -1 : 1;
  return i < k ? -1 : i > k ? 1 : 0;
}

int pl_sweep_run(const pl_sweep_spec *spec, const pl_sweep_model *model,
                 const pl_sweep_point *pts, pl_sweep_eval *evs, size_t n,
                 void (*progress)(void *ctx, size_t done, size_t total),
                 void *progress_ctx, volatile const int *stop,
                 struct pl_errbuf *eb)
{
  static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
  struct job j;
  memset(&j, 0, sizeof j);
  j.spec = spec;
  j.model = model;
  j.pts = pts;
  j.evs = evs;
  j.n = n;
  atomic_init(&j.next, 0);
  atomic_init(&j.done, 0);
  atomic_init(&j.err, 0);
  j.stop = stop;
  pthread_mutex_init(&j.mu, NULL);
  size_t *order = NULL;
  int two = model && model->bound;
  size_t total = two ? 2 * n : n;
  if (spec->top_n > 0) {
    j.top = pl_calloc((size_t)spec->top_n, sizeof *j.top);
    if (!j.top) {
      pthread_mutex_destroy(&j.mu);
      return pl_errf(eb, PL_ENOMEM, "out of memory");
    }
  }
  if (two) {
    /* Phase 1: bounds; then evaluate the most promising points first so
     * that the top-N threshold rises fast and prunes the rest. */
    j.fn = bound_one;
    parallel(&j, progress, progress_ctx, 0, total);
    order = pl_malloc((n ? n : 1) * sizeof *order);
    if (!order)
      atomic_store(&j.err, PL_ENOMEM);
    else {
      for (size_t i = 0; i < n; i++)
        order[i] = i;
      pthread_mutex_lock(&sort_mu);
      bound_evs = evs;
      qsort(order, n, sizeof *order, cmp_bound);
      bound_evs = NULL;
      pthread_mutex_unlock(&sort_mu);
    }
  }
  if (!atomic_load(&j.err) && !(stop && *stop)) {
    j.fn = eval_one;
    j.order = order;
    parallel(&j, progress, progress_ctx, two ? n : 0, total);
  }
  if (progress)
    progress(progress_ctx, total, total);
  pl_free(order);
  pl_free(j.top);
  pthread_mutex_destroy(&j.mu);
  if (stop && *stop)
    return pl_errf(eb, PL_EINTR, "sweep interrupted");
  int err = atomic_load(&j.err);
  if (err)
    return pl_errf(eb, err, "out of memory during the sweep");
  return 0;
}

static const pl_sweep_eval *sort_evs;

static int cmp_rank(const void *a, const void *b)
{
  size_t i = *(const size_t *)a, k = *(const size_t *)b;
  const pl_sweep_eval *x = &sort_evs[i], *y = &sort_evs[k];
  if (x->status != y->status)
    return x->status == PL_SWEEP_OK ? -1 : 1;
  if (x->status == PL_SWEEP_OK && x->throughput != y->throughput)
    return x->throughput > y->throughput ? -1 : 1;
  if (x->status == PL_SWEEP_OK && x->peak_mem != y->peak_mem)
    return x->peak_mem < y->peak_mem ? -1 : 1;
  return i < k ? -1 : i > k ? 1 : 0;
}

void pl_sweep_spec_apply_runtime(const pl_sweep_spec *spec, pl_costs *c)
{
  pl_costs_set_runtime(c, spec->p2p_mode, spec->op_gap, spec->send_overhead,
                       spec->recv_overhead, spec->local_overhead);
}

int pl_sweep_rank(const pl_sweep_eval *evs, size_t n, size_t **order)
{
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  size_t *o = pl_malloc((n ? n : 1) * sizeof *o);
  if (!o)
    return PL_ENOMEM;
  for (size_t i = 0; i < n; i++)
    o[i] = i;
  /* qsort has no context argument in C11; the comparison reads a global
   * guarded by a mutex so concurrent callers stay correct. */
  pthread_mutex_lock(&mu);
  sort_evs = evs;
  qsort(o, n, sizeof *o, cmp_rank);
  sort_evs = NULL;
  pthread_mutex_unlock(&mu);
  *order = o;
  return 0;
}
