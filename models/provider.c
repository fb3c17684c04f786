/*
 * provider.c: the one cost provider (pl_cost_provide). Every cost table the
 * engine runs on comes from here: command-line constants, the analytic /
 * measured transformer model (pl_cost_build) or the executor's workload
 * priced from a stored calibration. pl_cost_from_calibration applies
 * measured per-layer figures of the workload to a table; exec's
 * pl_calib_apply_costs is a thin wrapper over it, so the dependency runs
 * exec -> models -> kernels and never back.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/kernels.h"
#include "pipelab/models.h"

int pl_cost_from_calibration(const pl_wl_costs *wc, double msg_bytes,
                             const pl_workload *w, pl_costs *c,
                             struct pl_errbuf *eb)
{
  if (!wc || !w || !c)
    return pl_errf(eb, PL_EINVAL, "cost from calibration: bad arguments");
  int S = c->n_stages;
  if (S < 1 || w->layers % S)
    return pl_errf(eb, PL_EINVAL,
                   "--layers %d is not divisible by the %d virtual stages",
                   w->layers, S);
  double L = (double)(w->layers / S);
  for (int g = 0; g < S; g++) {
    pl_stage_cost *sc = &c->stage[g];
    for (int k = PL_OP_F; k < PL_OP_FB; k++)
      sc->t[k] = L * wc->t[k];
    if (g == 0)
      sc->t[PL_OP_F] += wc->input_us;
    if (g == S - 1)
      sc->t[PL_OP_F] += wc->loss_us;
    sc->msg_bytes = msg_bytes;
  }
  c->comm_latency = wc->latency_us;
  /* no measurable size dependence (0, negative or NaN): all latency */
  c->comm_bandwidth = wc->bytes_per_us > 0 ? wc->bytes_per_us : 0;
  int worst = PL_SRC_MEASURED;
  for (int k = PL_OP_F; k < PL_OP_FB; k++) {
    c->source[k] = wc->source[k];
    if (k != PL_OP_BW && wc->source[k] > worst)
      worst = wc->source[k];
  }
  c->source[PL_OP_FB] = worst;
  snprintf(c->time_unit, sizeof c->time_unit, "us");
  return pl_wl_apply_mem_costs(w, c, eb);
}

static int nonneg(double x)
{
  return x >= 0 && isfinite(x); /* false for NaN */
}

static int constant_costs(const pl_cost_request *rq, const pl_sched *s,
                          pl_costs *c, struct pl_errbuf *eb)
{
  if (!nonneg(rq->tf) || !nonneg(rq->tb) || !nonneg(rq->tw) ||
      !nonneg(rq->comm))
    return pl_errf(eb, PL_EINVAL, "constant costs: tf, tb, tw and comm must "
                   "be finite and >= 0, got %g, %g, %g, %g", rq->tf, rq->tb,
                   rq->tw, rq->comm);
  if (!(rq->mem_w_frac >= 0 && rq->mem_w_frac <= 1))
    return pl_errf(eb, PL_EINVAL, "constant costs: mem_w_frac must be in "
                   "[0, 1], got %g", rq->mem_w_frac);
  if (!nonneg(rq->bandwidth) || !nonneg(rq->msg_bytes))
    return pl_errf(eb, PL_EINVAL, "constant costs: bandwidth and msg_bytes "
                   "must be finite and >= 0, got %g, %g", rq->bandwidth,
                   rq->msg_bytes);
  int rc = pl_costs_uniform(c, pl_sched_chunks(s), rq->tf, rq->tb, rq->tw,
                            rq->comm, rq->mem_w_frac);
  if (rc)
    return pl_errf(eb, rc, "constant costs: %d chunks per rank",
                   pl_sched_chunks(s));
  if (rq->bandwidth > 0) {
    c->comm_bandwidth = rq->bandwidth;
    for (int g = 0; g < c->n_stages; g++)
      c->stage[g].msg_bytes = rq->msg_bytes;
  }
  snprintf(c->time_unit, sizeof c->time_unit, "%s",
           rq->time_unit ? rq->time_unit : "unit");
  if (rq->workload)
    return pl_wl_apply_mem_costs(rq->workload, c, eb);
  return PL_OK;
}

static int workload_costs(const pl_cost_request *rq, pl_costs *c,
                          struct pl_errbuf *eb)
{
  const pl_workload *w = rq->workload;
  const char *dtype = rq->dtype ? rq->dtype : "fp64";
  int rc = pl_wl_check(w, eb);
  if (rc)
    return rc;
  pl_gpu_spec g;
  if ((rc = pl_db_get_gpu(rq->db, rq->device, &g, eb)))
    return rc;
  pl_wl_costs wc;
  if ((rc = pl_db_workload_costs(rq->db, g.name, dtype, w->hidden,
                                 w->mb_size, w->seq, &wc, eb)))
    return rc;
  if (!wc.have_link) {
    /* no measured link: the device's default latency, size-independent */
    wc.latency_us = g.p2p_latency_us;
    wc.bytes_per_us = 0;
  }
  /* msg_bytes 0: pl_wl_apply_mem_costs sets the activation size */
  return pl_cost_from_calibration(&wc, 0, w, c, eb);
}

/* PL_COSTS_LEARNED: the learned table (given, or the newest stored one)
 * applied to the schedule; memory from the workload, else units. */
static int learned_costs(const pl_cost_request *rq, const pl_sched *s,
                         pl_costs *c, struct pl_errbuf *eb)
{
  pl_learned *own = NULL;
  const pl_learned *l = rq->learned;
  int rc;
  if (!l) {
    if ((rc = pl_db_learned_load(rq->db, rq->device, rq->workload_key, &own,
                                 NULL, eb)))
      return rc;
    l = own;
  }
  rc = pl_learned_apply(l, s, c, NULL, eb);
  pl_learned_free(own);
  if (rc)
    return rc;
  if (!(rq->mem_w_frac >= 0 && rq->mem_w_frac <= 1))
    return pl_errf(eb, PL_EINVAL, "learned costs: mem_w_frac must be in "
                   "[0, 1], got %g", rq->mem_w_frac);
  int v = pl_sched_chunks(s) > 0 ? pl_sched_chunks(s) : 1;
  for (int g = 0; g < c->n_stages; g++) {
    c->stage[g].mem_b = 1.0 / v;
    c->stage[g].mem_w = rq->mem_w_frac / v;
  }
  if (rq->workload) {
    double msg = c->stage[0].msg_bytes;
    if ((rc = pl_wl_apply_mem_costs(rq->workload, c, eb)))
      return rc;
    if (msg > 0) /* the profile's message size, when it knew one */
      for (int g = 0; g < c->n_stages; g++)
        c->stage[g].msg_bytes = msg;
  }
  return PL_OK;
}

/* PL_COSTS_MODEL with a db: costs learned for the GPU and the model's key
 * win over the analytic op times (memory stays the model's). Nothing
 * learned, or a profile that cannot price this schedule: the analytic
 * table stands. */
static void learned_over_model(const pl_cost_request *rq, const pl_sched *s,
                               pl_costs *c, pl_model_plan *plan)
{
  char key[128];
  pl_learned *l = NULL;
  struct pl_errbuf e2 = PL_ERRBUF_INIT;
  if (pl_learned_model_key(rq->model, rq->cfg, key, sizeof key) ||
      pl_db_learned_load(rq->db, rq->gpu->name, key, &l, NULL, &e2))
    return;
  if (!strcmp(l->time_unit, "us")) {
    pl_costs *t = NULL;
    if (!pl_costs_clone(c, 0, &t) && !pl_learned_apply(l, s, t, NULL, &e2)) {
      for (int g = 0; g < c->n_stages; g++)
        for (int k = 0; k < 4; k++)
          c->stage[g].t[k] = t->stage[g].t[k];
      c->op_gap = t->op_gap;
      c->send_overhead = t->send_overhead;
      c->recv_overhead = t->recv_overhead;
      c->local_overhead = t->local_overhead;
      c->comm_latency = t->comm_latency;
      c->comm_bandwidth = t->comm_bandwidth;
      for (int g = 0; g < c->n_stages; g++)
        c->stage[g].has_link = 0;
      for (int k = 0; k < PL_OP_NKINDS; k++) {
        c->source[k] = PL_SRC_LEARNED;
        if (plan)
          plan->source[k] = PL_SRC_LEARNED;
      }
    }
    pl_costs_destroy(t);
  }
  pl_learned_free(l);
}

static int check_request(const pl_cost_request *rq, const pl_sched *s,
                         pl_costs **costs, const pl_model_plan *plan,
                         struct pl_errbuf *eb)
{
  if (!rq || !s || !costs)
    return pl_errf(eb, PL_EINVAL, "cost provider: NULL request, schedule or "
                   "output");
  if (rq->time_unit && (!rq->time_unit[0] || strlen(rq->time_unit) > 7))
    return pl_errf(eb, PL_EINVAL, "cost provider: time unit must be 1 to 7 "
                   "characters, got '%s'", rq->time_unit);
  switch (rq->kind) {
  case PL_COSTS_CONSTANT:
    return PL_OK;
  case PL_COSTS_MODEL:
    if (!rq->model || !rq->gpu || !rq->cfg || !plan)
      return pl_errf(eb, PL_EINVAL, "cost provider: model costs need a "
                     "model, a GPU, a training configuration and a plan");
    return PL_OK;
  case PL_COSTS_WORKLOAD:
    if (!rq->workload || !rq->device || !rq->db)
      return pl_errf(eb, PL_EINVAL, "cost provider: workload costs need a "
                     "workload, a calibration device and a database");
    return PL_OK;
  case PL_COSTS_LEARNED:
    if (!rq->learned && !rq->db)
      return pl_errf(eb, PL_EINVAL, "cost provider: learned costs need a "
                     "learned table or a database");
    return PL_OK;
  default:
    return pl_errf(eb, PL_EINVAL, "cost provider: unknown cost kind %d "
                   "(constant %d, model %d, workload %d or learned %d)",
                   rq->kind, PL_COSTS_CONSTANT, PL_COSTS_MODEL,
                   PL_COSTS_WORKLOAD, PL_COSTS_LEARNED);
  }
}

int pl_cost_provide(const pl_cost_request *rq, const pl_sched *s,
                    pl_costs **costs, pl_model_plan *plan,
                    struct pl_errbuf *eb)
{
  if (costs)
    *costs = NULL;
  int rc = check_request(rq, s, costs, plan, eb);
  if (rc)
    return rc;
  pl_costs *c = NULL;
  if (rq->kind == PL_COSTS_MODEL) {
    rc = pl_cost_build(rq->db, rq->model, rq->gpu, rq->cfg, s, &c, plan, eb);
    if (rc) {
      pl_costs_destroy(c);
      return rc;
    }
    if (rq->db)
      learned_over_model(rq, s, c, plan);
  } else {
    rc = pl_costs_create(pl_sched_stages(s), pl_sched_ranks(s), &c);
    if (rc == PL_ENOMEM)
      return pl_errf(eb, rc, "out of memory");
    if (rc)
      return pl_errf(eb, rc, "cost provider: a schedule of %d stages on %d "
                     "ranks has no cost table", pl_sched_stages(s),
                     pl_sched_ranks(s));
    rc = rq->kind == PL_COSTS_CONSTANT   ? constant_costs(rq, s, c, eb)
         : rq->kind == PL_COSTS_LEARNED ? learned_costs(rq, s, c, eb)
                                        : workload_costs(rq, c, eb);
    if (rc) {
      pl_costs_destroy(c);
      return rc;
    }
  }
  if (rq->rank_speed) {
    for (int r = 0; r < c->n_ranks; r++) {
      if (!(rq->rank_speed[r] > 0) || !isfinite(rq->rank_speed[r])) {
        pl_costs_destroy(c);
        return pl_errf(eb, PL_EINVAL, "cost provider: rank %d's speed "
                       "multiplier must be > 0, got %g", r,
                       rq->rank_speed[r]);
      }
      c->rank_speed[r] = rq->rank_speed[r];
    }
  }
  *costs = c;
  return PL_OK;
}
