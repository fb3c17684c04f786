/* trials.c: Monte Carlo over op-time jitter (pl_sim_trials; the jitter
 * itself is drawn in the engine, sim/engine.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v[n] (linear between order statistics). */
static double quantile(const double *v, int n, double q)
{
  double x = q * (n - 1);
  int i = (int)x;
  if (i >= n - 1)
    return v[n - 1];
  return v[i] + (x - i) * (v[i + 1] - v[i]);
}

int pl_sim_trials(const pl_sched *s, const pl_costs *c, int n, unsigned flags,
                  int optim_mode, double optimizer_time, pl_result *res,
                  pl_trials *st, struct pl_errbuf *eb)
{
  if (n < 1 || n > PL_TRIALS_MAX)
    return pl_errf(eb, PL_EINVAL, "trials must be between 1 and %d",
                   PL_TRIALS_MAX);
  if (!(c->jitter >= 0) || !(c->jitter <= PL_JITTER_MAX))
    return pl_errf(eb, PL_EINVAL, "jitter must be between 0 and %g",
                   PL_JITTER_MAX);
  pl_sim *sim = NULL;
  pl_costs *k = NULL;
  double *t = NULL;
  pl_result r = PL_RESULT_INIT;
  int rc = pl_sim_create(&sim);
  if (!rc)
    rc = pl_costs_clone(c, 0, &k);
  if (!rc && !(t = pl_malloc((size_t)n * sizeof *t)))
    rc = PL_ENOMEM;
  if (rc) {
    rc = pl_errf(eb, rc, "out of memory");
    goto out;
  }
  memset(st, 0, sizeof *st);
  st->n = n;
  st->jitter = c->jitter;
  st->n_quantiles = c->n_jitter_q;
  k->jitter = 0;
  k->n_jitter_q = 0;
  if ((rc = pl_sim_run2(sim, s, k, 0, &r, eb)))
    goto out;
  st->deterministic = pl_iteration_time(&r, optim_mode, optimizer_time);
  k->jitter = c->jitter;
  k->n_jitter_q = c->n_jitter_q;
  double sum = 0;
  for (int i = 0; i < n; i++) {
    k->jitter_seed = c->jitter_seed + (uint64_t)i;
    if ((rc = pl_sim_run2(sim, s, k, 0, &r, eb)))
      goto out;
    t[i] = pl_iteration_time(&r, optim_mode, optimizer_time);
    sum += t[i];
  }
  /* the median trial: the one whose time is the lower middle value */
  double *v = pl_malloc((size_t)n * sizeof *v);
  if (!v) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  memcpy(v, t, (size_t)n * sizeof *v);
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  st->mean = sum / n;
  st->p10 = quantile(v, n, 0.1);
  st->p50 = quantile(v, n, 0.5);
  st->p90 = quantile(v, n, 0.9);
  double mid = v[(n - 1) / 2];
  pl_free(v);
  int pick = 0;
  for (int i = 0; i < n; i++)
    if (t[i] == mid) {
      pick = i;
      break;
    }
  k->jitter_seed = c->jitter_seed + (uint64_t)pick;
  rc = pl_sim_run2(sim, s, k, flags, res, eb);
out:
  pl_result_free(&r);
  pl_free(t);
  pl_costs_destroy(k);
  pl_sim_destroy(sim);
  return rc;
}
