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

static void reject(pl_sweep_eval *ev, const char *fmt, const char *a, long x,
                   long y)
{
  ev->status = PL_SWEEP_REJECTED;
  snprintf(ev->reason, sizeof ev->reason, fmt, a, x, y);
}

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
  int m_count = spec->global_batch > 0
                    ? 1
                    : (spec->m_hi - spec->m_lo) / spec->m_step + 1;
  int v_count = spec->n_chunks > 0 ? spec->n_chunks : 1;
  size_t cap = ng * (size_t)spec->n_stages * (size_t)spec->n_mb *
               (size_t)m_count * (size_t)v_count;
  if (cap > (size_t)50 * 1000 * 1000) {
    pl_free(gens);
    return pl_errf(eb, PL_EINVAL, "the sweep has %zu points; narrow it "
                                  "below 50 million", cap);
  }
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
      for (int bi = 0; bi < spec->n_mb; bi++) {
        int mb = spec->mb_sizes[bi];
        for (int mi = 0; mi < m_count; mi++) {
          int m = spec->m_lo + mi * spec->m_step;
          int dp = p > 0 && spec->gpus % p == 0 ? spec->gpus / p : 0;
          int m_bad = 0;
          if (spec->global_batch > 0) {
            long per = (long)(dp > 0 ? dp : 1) * mb;
            m = (int)(spec->global_batch / per);
            m_bad = spec->global_batch % per != 0 || m < 1;
          }
          for (int vi = 0; vi < (takes_chunks ? v_count : 1); vi++) {
            pl_sweep_point *pt = &P[k];
            pl_sweep_eval *ev = &E[k];
            k++;
            pt->schedule = g->name;
            pt->p = p;
            pt->m = m;
            pt->mb_size = mb;
            pt->dp = dp;
            pt->v = takes_chunks ? (spec->n_chunks ? spec->chunks[vi] : 2)
                                 : g->default_chunks;
            if (p < 1)
              reject(ev, "%sstages must be at least 1, got %ld", "", p, 0);
            else if (dp == 0)
              reject(ev, "%s%ld GPUs are not a multiple of %ld stages", "",
                     spec->gpus, p);
            else if (m_bad)
              reject(ev, "%sglobal batch %ld is not a multiple of dp x "
                         "mb-size = %ld",
                     "", spec->global_batch, (long)dp * mb);
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
  atomic_size_t next, done;
  volatile const int *stop;
  atomic_int err;
};

static void eval_one(struct job *j, pl_sim *sim, size_t i)
{
  const pl_sweep_spec *sp = j->spec;
  const pl_sweep_point *pt = &j->pts[i];
  pl_sweep_eval *ev = &j->evs[i];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
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
  int rc = pl_sched_gen(pt->schedule, &gp, &s, &eb);
  if (rc) {
    ev->status = PL_SWEEP_REJECTED;
    snprintf(ev->reason, sizeof ev->reason, "%.*s",
             (int)sizeof ev->reason - 1, eb.msg);
    return;
  }
  if (j->model && j->model->costs) {
    rc = j->model->costs(j->model->ctx, pt, s, &c, &eb);
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
  if (!rc)
    rc = pl_sim_run2(sim, s, c, 0, &r, &eb);
  if (rc) {
    ev->status = PL_SWEEP_REJECTED;
    snprintf(ev->reason, sizeof ev->reason, "%.*s",
             (int)sizeof ev->reason - 1, eb.msg[0] ? eb.msg : pl_strerror(rc));
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
  if (j->model && j->model->finish)
    j->model->finish(j->model->ctx, pt, s, c, &r, ev);
  if (ev->status == PL_SWEEP_OK && sp->mem_limit > 0 &&
      ev->peak_mem > sp->mem_limit) {
    ev->fits = 0;
  }
  if (ev->status == PL_SWEEP_OK && !ev->fits) {
    ev->status = PL_SWEEP_REJECTED;
    if (!ev->reason[0])
      snprintf(ev->reason, sizeof ev->reason,
               "out of memory: peak %.6g > limit %.6g per rank", ev->peak_mem,
               sp->mem_limit);
  }
out:
  pl_result_free(&r);
  pl_costs_destroy(c);
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
    size_t i = atomic_fetch_add(&j->next, 1);
    if (i >= j->n)
      break;
    if (j->evs[i].status != PL_SWEEP_REJECTED)
      eval_one(j, sim, i);
    atomic_fetch_add(&j->done, 1);
  }
  pl_sim_destroy(sim);
  return NULL;
}

int pl_sweep_run(const pl_sweep_spec *spec, const pl_sweep_model *model,
                 const pl_sweep_point *pts, pl_sweep_eval *evs, size_t n,
                 void (*progress)(void *ctx, size_t done, size_t total),
                 void *progress_ctx, volatile const int *stop,
                 struct pl_errbuf *eb)
{
  struct job j;
  j.spec = spec;
  j.model = model;
  j.pts = pts;
  j.evs = evs;
  j.n = n;
  atomic_init(&j.next, 0);
  atomic_init(&j.done, 0);
  atomic_init(&j.err, 0);
  j.stop = stop;
  int jobs = spec->jobs > 0 ? spec->jobs : 1;
  if (jobs > 256)
    jobs = 256;
  pthread_t th[256];
  int started = 0;
  for (int t = 1; t < jobs; t++) {
    if (pthread_create(&th[started], NULL, worker, &j) != 0)
      break; /* fewer threads still finish the work */
    started++;
  }
  /* The calling thread works too, and reports progress between points. */
  pl_sim *sim = NULL;
  if (pl_sim_create(&sim))
    atomic_store(&j.err, PL_ENOMEM);
  size_t step = n / 100 + 1, last = 0;
  while (sim) {
    if (stop && *stop)
      break;
    size_t i = atomic_fetch_add(&j.next, 1);
    if (i >= n)
      break;
    if (evs[i].status != PL_SWEEP_REJECTED)
      eval_one(&j, sim, i);
    size_t d = atomic_fetch_add(&j.done, 1) + 1;
    if (progress && d - last >= step) {
      last = d;
      progress(progress_ctx, d, n);
    }
  }
  pl_sim_destroy(sim);
  for (int t = 0; t < started; t++)
    pthread_join(th[t], NULL);
  if (progress)
    progress(progress_ctx, atomic_load(&j.done), n);
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
  return i < k ? -1 : i > k ? 1 : 0;
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
