/* costs.c: the cost table the engine consumes. Providers (constants from the
 * command line, the analytic model, the SQLite store) all fill this one
 * table, so the engine never calls back into a model during a run. */
#include <string.h>
#include <stdio.h>

#include "pipelab/pipelab.h"

double pl_time_unit_us(const char *u)
{
  if (!u)
    return 0;
  if (!strcmp(u, "us"))
    return 1;
  if (!strcmp(u, "ms"))
    return 1e3;
  if (!strcmp(u, "s"))
    return 1e6;
  if (!strcmp(u, "ns"))
    return 1e-3;
  return 0;
}

const char *pl_cost_source_name(int src)
{
  switch (src) {
  case PL_SRC_USER: return "user";
  case PL_SRC_ANALYTIC: return "analytic";
  case PL_SRC_MEASURED: return "measured";
  case PL_SRC_INTERPOLATED: return "interpolated";
  case PL_SRC_EXTRAPOLATED: return "extrapolated";
  case PL_SRC_LEARNED: return "learned";
  default: return "unknown";
  }
}

int pl_costs_create(int n_stages, int n_ranks, pl_costs **out)
{
  *out = NULL;
  if (n_stages < 1 || n_ranks < 1)
    return PL_EINVAL;
  pl_costs *c = pl_calloc(1, sizeof *c);
  if (!c)
    return PL_ENOMEM;
  c->n_stages = n_stages;
  c->n_ranks = n_ranks;
  c->stage = pl_calloc((size_t)n_stages, sizeof *c->stage);
  c->rank_speed = pl_calloc((size_t)n_ranks, sizeof *c->rank_speed);
  if (!c->stage || !c->rank_speed) {
    pl_costs_destroy(c);
    return PL_ENOMEM;
  }
  for (int r = 0; r < n_ranks; r++)
    c->rank_speed[r] = 1.0;
  snprintf(c->time_unit, sizeof c->time_unit, "unit");
  snprintf(c->mem_unit, sizeof c->mem_unit, "units");
  *out = c;
  return PL_OK;
}

void pl_costs_destroy(pl_costs *c)
{
  if (!c)
    return;
  pl_free(c->stage);
  pl_free(c->rank_speed);
  pl_free(c);
}

int pl_costs_uniform(pl_costs *c, int v, double tf, double tb, double tw,
                     double comm, double mem_w_frac)
{
  if (v < 1 || tf < 0 || tb < 0 || tw < 0 || comm < 0 || mem_w_frac < 0 ||
      mem_w_frac > 1)
    return PL_EINVAL;
  double dv = (double)v;
  for (int g = 0; g < c->n_stages; g++) {
    pl_stage_cost *sc = &c->stage[g];
    sc->t[PL_OP_F] = tf / dv;
    sc->t[PL_OP_B] = tb / dv;
    sc->t[PL_OP_W] = tw / dv;
    sc->t[PL_OP_BW] = (tb + tw) / dv;
    sc->t[PL_OP_FB] = 0;
    sc->mem_b = 1.0 / dv;
    sc->mem_w = mem_w_frac / dv;
    sc->msg_bytes = 0;
    sc->a2a = 0;
  }
  c->comm_latency = comm;
  c->comm_bandwidth = 0;
  for (int k = 0; k < PL_OP_NKINDS; k++)
    c->source[k] = PL_SRC_USER;
  return PL_OK;
}

int pl_costs_clone(const pl_costs *c, int free_transfers, pl_costs **out)
{
  pl_costs *n = NULL;
  *out = NULL;
  int rc = pl_costs_create(c->n_stages, c->n_ranks, &n);
  if (rc)
    return rc;
  memcpy(n->stage, c->stage, (size_t)c->n_stages * sizeof *n->stage);
  memcpy(n->rank_speed, c->rank_speed, (size_t)c->n_ranks * sizeof *n->rank_speed);
  n->comm_latency = c->comm_latency;
  n->comm_bandwidth = c->comm_bandwidth;
  n->fb_overlap = c->fb_overlap;
  n->p2p_mode = c->p2p_mode;
  n->op_gap = c->op_gap;
  memcpy(n->source, c->source, sizeof n->source);
  memcpy(n->time_unit, c->time_unit, sizeof n->time_unit);
  memcpy(n->mem_unit, c->mem_unit, sizeof n->mem_unit);
  if (free_transfers) {
    for (int i = 0; i < n->n_stages; i++) {
      n->stage[i].has_link = 0;
      n->stage[i].msg_bytes = 0;
    }
    n->comm_latency = 0;
    n->comm_bandwidth = 0;
  }
  *out = n;
  return PL_OK;
}

double pl_costs_comm(const pl_costs *c, int stage)
{
  if (stage >= 0 && stage < c->n_stages && c->stage[stage].has_link) {
    const pl_stage_cost *sc = &c->stage[stage];
    return sc->link_latency +
           (sc->link_bandwidth > 0 ? sc->msg_bytes / sc->link_bandwidth : 0);
  }
  double t = c->comm_latency;
  if (c->comm_bandwidth > 0 && stage >= 0 && stage < c->n_stages)
    t += c->stage[stage].msg_bytes / c->comm_bandwidth;
  return t;
}

void pl_costs_comm_parts(const pl_costs *c, int stage, double *latency,
                         double *transmit)
{
  double lat, x = 0;
  if (stage >= 0 && stage < c->n_stages && c->stage[stage].has_link) {
    const pl_stage_cost *sc = &c->stage[stage];
    lat = sc->link_latency;
    if (sc->link_bandwidth > 0)
      x = sc->msg_bytes / sc->link_bandwidth;
  } else {
    lat = c->comm_latency;
    if (c->comm_bandwidth > 0 && stage >= 0 && stage < c->n_stages)
      x = c->stage[stage].msg_bytes / c->comm_bandwidth;
  }
  *latency = lat;
  *transmit = x;
}

const char *pl_p2p_mode_name(int mode)
{
  switch (mode) {
  case PL_P2P_ASYNC: return "async";
  case PL_P2P_BLOCKING: return "blocking";
  case PL_P2P_BATCHED: return "batched";
  default: return "?";
  }
}

int pl_p2p_mode_parse(const char *s)
{
  for (int k = 0; s && k < PL_P2P_NMODES; k++)
    if (!strcmp(s, pl_p2p_mode_name(k)))
      return k;
  return -1;
}

double pl_costs_op_time(const pl_costs *c, const pl_op *op, int rank)
{
  double sp = (rank >= 0 && rank < c->n_ranks) ? c->rank_speed[rank] : 1.0;
  const pl_stage_cost *sc = &c->stage[op->stage];
  if (op->kind == PL_OP_FB) {
    const pl_stage_cost *sb = &c->stage[op->stage2];
    double a = sc->t[PL_OP_F], b = sb->t[op->kind2];
    double lo = a < b ? a : b;
    double busy = (a + b - c->fb_overlap * lo) * sp, comm = sc->a2a + sb->a2a;
    return busy > comm ? busy : comm;
  }
  return sc->t[op->kind] * sp + (op->kind == PL_OP_W ? 0 : sc->a2a);
}
