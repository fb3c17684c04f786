/* costs.c: the cost table the engine consumes. Providers (constants from the
 * command line, the analytic model, the SQLite store) all fill this one
 * table, so the engine never calls back into a model during a run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

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

void pl_costs_set_runtime(pl_costs *c, int p2p_mode, double op_gap,
                          double send_overhead, double recv_overhead,
                          int local_overhead)
{
  c->p2p_mode = p2p_mode;
  c->op_gap = op_gap;
  c->send_overhead = send_overhead;
  c->recv_overhead = recv_overhead;
  c->local_overhead = local_overhead;
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

void pl__costs_copy_settings(pl_costs *dst, const pl_costs *src)
{
  pl_stage_cost *stage = dst->stage;
  double *speed = dst->rank_speed;
  int n_stages = dst->n_stages;
  *dst = *src; /* every scalar and inline array */
  dst->stage = stage;
  dst->n_stages = n_stages;
  dst->rank_speed = speed;
  memcpy(speed, src->rank_speed, (size_t)src->n_ranks * sizeof *speed);
}

int pl_costs_clone(const pl_costs *c, int free_transfers, pl_costs **out)
{
  pl_costs *n = NULL;
  *out = NULL;
  int rc = pl_costs_create(c->n_stages, c->n_ranks, &n);
  if (rc)
    return rc;
  memcpy(n->stage, c->stage, (size_t)c->n_stages * sizeof *n->stage);
  pl__costs_copy_settings(n, c);
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

/* ------------------------------------------------ per-stage costs file --- */

/* Parses one number field of a stage-costs row; 0 or PL_EPARSE. */
static int stage_field(const char *s, size_t n, double *out, int line,
                       int col, struct pl_errbuf *eb)
{
  char buf[64], *end;
  while (n && (*s == ' ' || *s == '\t')) {
    s++;
    n--;
  }
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
    n--;
  if (n == 0 || n >= sizeof buf)
    return pl_errf(eb, PL_EPARSE, "line %d, column %d: %s", line, col,
                   n ? "number too long" : "empty field");
  memcpy(buf, s, n);
  buf[n] = 0;
  double v = strtod(buf, &end);
  if (*end || !isfinite(v) || v < 0 || v > PL_TIME_MAX)
    return pl_errf(eb, PL_EPARSE,
                   "line %d, column %d: '%s' is not a finite number >= 0",
                   line, col, buf);
  *out = v;
  return 0;
}

int pl_costs_read_stage_csv(pl_costs *c, const char *text, size_t len,
                            struct pl_errbuf *eb)
{
  const int S = c->n_stages;
  unsigned char *seen = pl_calloc((size_t)(S > 0 ? S : 1), 1);
  if (!seen)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  int rc = 0, line = 0, rows = 0, with_p2p = -1;
  size_t at = 0;
  while (at < len && !rc) {
    size_t e = at;
    while (e < len && text[e] != '\n')
      e++;
    const char *row = text + at;
    size_t n = e - at;
    at = e + 1;
    line++;
    while (n && (row[n - 1] == '\r' || row[n - 1] == ' '))
      n--;
    size_t lead = 0;
    while (lead < n && (row[lead] == ' ' || row[lead] == '\t'))
      lead++;
    if (lead == n || row[lead] == '#')
      continue;
    /* A first row that does not start with a number is a header. */
    if (rows == 0 && with_p2p < 0 && !(row[lead] >= '0' && row[lead] <= '9')) {
      with_p2p = -2;
      continue;
    }
    double f[7];
    int nf = 0;
    size_t s0 = 0;
    for (size_t i = 0; i <= n && !rc; i++)
      if (i == n || row[i] == ',') {
        if (nf == 7) {
          rc = pl_errf(eb, PL_EPARSE, "line %d: more than 7 fields", line);
          break;
        }
        rc = stage_field(row + s0, i - s0, &f[nf], line, nf + 1, eb);
        nf++;
        s0 = i + 1;
      }
    if (rc)
      break;
    if (nf < 6) {
      rc = pl_errf(eb, PL_EPARSE,
                   "line %d: %d fields; a row is stage,F,B,W,activation "
                   "bytes,bytes kept until W[,P2P time]",
                   line, nf);
      break;
    }
    if (f[0] != (double)(int)f[0] || f[0] >= S) {
      rc = pl_errf(eb, PL_EPARSE,
                   "line %d: stage %g is not one of the schedule's stages "
                   "0..%d",
                   line, f[0], S - 1);
      break;
    }
    int g = (int)f[0];
    if (seen[g]) {
      rc = pl_errf(eb, PL_EPARSE, "line %d: stage %d is listed twice", line,
                   g);
      break;
    }
    if (f[5] > f[4]) {
      rc = pl_errf(eb, PL_EPARSE,
                   "line %d: stage %d keeps %g bytes until W, more than the "
                   "%g its forward allocates",
                   line, g, f[5], f[4]);
      break;
    }
    seen[g] = 1;
    rows++;
    pl_stage_cost *sc = &c->stage[g];
    sc->t[PL_OP_F] = f[1];
    sc->t[PL_OP_B] = f[2];
    sc->t[PL_OP_W] = f[3];
    sc->t[PL_OP_BW] = f[2] + f[3];
    sc->mem_b = f[4];
    sc->mem_w = f[5];
    if (nf == 7) {
      sc->has_link = 1;
      sc->link_latency = f[6];
      sc->link_bandwidth = 0;
      sc->msg_bytes = 0;
    }
  }
  for (int g = 0; g < S && !rc; g++)
    if (!seen[g])
      rc = pl_errf(eb, PL_EPARSE,
                   "stage %d has no row (the schedule has stages 0..%d; "
                   "every one needs its costs)",
                   g, S - 1);
  pl_free(seen);
  if (!rc) {
    snprintf(c->mem_unit, sizeof c->mem_unit, "bytes");
    for (int k = 0; k < PL_OP_NKINDS; k++)
      c->source[k] = PL_SRC_USER;
  }
  return rc;
}
