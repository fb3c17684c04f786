/*
 * zb_auto.c: the Zero Bubble paper's automatic scheduler (ZB §3,
 * docs/zero-bubble.md): a greedy heuristic that places F, B and W per rank
 * under a per-rank activation limit. It is a C port of the logic of the
 * authors' Graph.manual_order (sail-sg zero-bubble-pipeline-parallelism,
 * auto_schedule.py / scheduler/zb.py): all eight combinations of the flags
 * (allow_bubble_before_first_b, prioritize_b, no_bubble_greedy) are run and
 * the order with the smallest longest per-rank span is kept (first one wins
 * a tie, in the upstream loop order).
 *
 * Memory is counted in units of M_B: F +1, B -(1 - w), W -w with w =
 * M_W/M_B. Like the upstream version with the assertion enabled, a flag
 * combination that would exceed the limit is dropped, so the result never
 * exceeds it. Comparisons with the limit use a 1e-9 relative tolerance so
 * that sums of fractional units behave like upstream's integer bytes.
 */
#include <math.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

enum { ZF = 0, ZB_ = 1, ZW = 2 };

struct zba {
  int p, m;
  double cost[3], mem[3], lim, comm, eps;
  const double *lims; /* [p] per-rank limits, or NULL (lim for all) */
  /* per-stage state */
  int *cnt;     /* [3*p]: placed F, B, W counts */
  int *o;       /* [p] ops placed */
  double *mcur; /* [p] live memory */
  double *e;    /* [p] end of the last op */
  double *bub;  /* [p] stage bubble (after the first F) */
  double *t;    /* [3*p*m] completion times (0 = not placed, as upstream) */
  /* per-stage orders: kind*m... encoded as kind << 24 | mb */
  int32_t *ord; /* [p * 3m] */
  int fail;
};

#define CNT(a, j, k) ((a)->cnt[3 * (j) + (k)])
#define TID(a, k, j, mb) (((size_t)(k) * (a)->p + (size_t)(j)) * (a)->m + (mb))

static double max_bubble(const struct zba *a)
{
  double mx = 0;
  for (int j = 0; j < a->p; j++)
    if (a->bub[j] > mx)
      mx = a->bub[j];
  return mx;
}

static int fits(const struct zba *a, int j, double v)
{
  return v <= (a->lims ? a->lims[j] : a->lim) + a->eps;
}

static void put(struct zba *a, int j, int k)
{
  if (a->fail)
    return;
  int i = CNT(a, j, k);
  if (i >= a->m || !fits(a, j, a->mcur[j] + a->mem[k])) {
    a->fail = 1;
    return;
  }
  double c = a->cost[k];
  double tmp = a->e[j] + c, nob = tmp;
  if (j > 0 && k == ZF) {
    double d = a->t[TID(a, ZF, j - 1, i)] + a->comm + c;
    if (d > tmp)
      tmp = d;
  }
  if (j < a->p - 1 && k == ZB_) {
    double d = a->t[TID(a, ZB_, j + 1, i)] + a->comm + c;
    if (d > tmp)
      tmp = d;
  }
  if (CNT(a, j, ZF) > 0)
    a->bub[j] += tmp - nob;
  a->e[j] = tmp;
  a->t[TID(a, k, j, i)] = tmp;
  a->mcur[j] += a->mem[k];
  a->ord[(size_t)j * 3 * a->m + a->o[j]] = (int32_t)((k << 24) | i);
  a->o[j]++;
  CNT(a, j, k)++;
}

/* Inserts pending Ws on stage j while they fit before `dep` (the arrival
 * of the next op's input), plus one more per the bubble rule. */
static void fill_w(struct zba *a, int j, double dep, int nbg)
{
  while (!a->fail && CNT(a, j, ZW) < CNT(a, j, ZB_) &&
         a->e[j] + a->cost[ZW] <= dep)
    put(a, j, ZW);
  if (!a->fail && CNT(a, j, ZW) < CNT(a, j, ZB_) && a->e[j] < dep) {
    if (dep - a->e[j] <= max_bubble(a) - a->bub[j]) {
      if (nbg)
        put(a, j, ZW);
    } else {
      put(a, j, ZW);
    }
  }
}

/* Frees memory with Ws until an op adding `add` fits. */
static void make_room(struct zba *a, int j, double add)
{
  while (!a->fail && !fits(a, j, a->mcur[j] + add)) {
    if (CNT(a, j, ZW) >= CNT(a, j, ZB_)) {
      a->fail = 1;
      return;
    }
    put(a, j, ZW);
  }
}

/* One run of the heuristic; returns the longest span or -1 on failure. */
static double manual_order(struct zba *a, int allow_bubble, int prio_b,
                           int nbg, int *freq)
{
  const int p = a->p, m = a->m;
  const double tf = a->cost[ZF], tb = a->cost[ZB_], comm = a->comm;
  memset(a->cnt, 0, 3 * (size_t)p * sizeof *a->cnt);
  memset(a->o, 0, (size_t)p * sizeof *a->o);
  for (int j = 0; j < p; j++)
    a->mcur[j] = a->e[j] = a->bub[j] = 0;
  memset(a->t, 0, 3 * (size_t)p * m * sizeof *a->t);
  a->fail = 0;

  for (int i = 0; i < m && !a->fail; i++) {
    if (i == 0) {
      for (int j = 0; j < p; j++)
        put(a, j, ZF);
      if (a->fail)
        break;
      for (int j = 0; j < p; j++)
        freq[j] = 0;
      double last_t = 0;
      for (int j = p - 1; j >= 0; j--) {
        if (j == p - 1) {
          last_t = a->t[TID(a, ZF, j, 0)] + tb;
          continue;
        }
        double mem = a->mcur[j], cost = a->e[j];
        for (;;) {
          if (CNT(a, j, ZF) + freq[j] < m && fits(a, j, mem + a->mem[ZF])) {
            if (allow_bubble) {
              if (cost + tf > last_t + comm)
                break;
            } else if (cost >= last_t + comm) {
              break;
            }
            mem += a->mem[ZF];
            cost += tf;
            freq[j]++;
          } else {
            break;
          }
        }
        last_t = (cost > last_t + comm ? cost : last_t + comm) + tb;
      }
      for (int j = 1; j < p; j++)
        while (freq[j] > 0 && freq[j] >= freq[j - 1] &&
               CNT(a, j, ZF) + freq[j] < m)
          freq[j]--;
      for (int j = 0; j < p; j++)
        for (int r = 0; r < freq[j]; r++)
          put(a, j, ZF);
      for (int j = p - 1; j >= 0; j--)
        put(a, j, ZB_);
      continue;
    }
    for (int j = 0; j < p; j++) {
      freq[j] = 0;
      if (CNT(a, j, ZF) >= m)
        continue;
      if (j + 1 < p && CNT(a, j, ZF) >= CNT(a, j + 1, ZF) + 2 && prio_b) {
        double next_plus_fw = a->e[j + 1] + tf + tb + comm;
        if (a->e[j] >= next_plus_fw)
          continue;
        double w_cost = 0, mem_with_w = a->mcur[j] + a->mem[ZF];
        int w_cnt = 0;
        while (!fits(a, j, mem_with_w) &&
               CNT(a, j, ZW) + w_cnt < CNT(a, j, ZB_)) {
          w_cost += a->cost[ZW];
          mem_with_w += a->mem[ZW];
          w_cnt++;
        }
        if (a->e[j] + tf + w_cost <= next_plus_fw) {
          freq[j] = 1;
          continue;
        }
        if (next_plus_fw - a->e[j] <= max_bubble(a) - a->bub[j])
          continue;
      }
      freq[j] = 1;
    }
    for (int j = p - 2; j >= 0; j--)
      if (freq[j + 1] < freq[j])
        freq[j] = freq[j + 1];
    for (int j = 0; j < p && !a->fail; j++) {
      if (!freq[j])
        continue;
      make_room(a, j, a->mem[ZF]);
      if (j > 0)
        fill_w(a, j, a->t[TID(a, ZF, j - 1, CNT(a, j, ZF))] + comm, nbg);
      put(a, j, ZF);
    }
    for (int j = p - 1; j >= 0 && !a->fail; j--) {
      if (CNT(a, j, ZB_) != i) {
        a->fail = 1;
        break;
      }
      make_room(a, j, a->mem[ZB_]);
      if (j + 1 < p)
        fill_w(a, j, a->t[TID(a, ZB_, j + 1, i)] + comm, nbg);
      if (j == 0 && CNT(a, j, ZF) == m)
        while (!a->fail && CNT(a, j, ZW) < CNT(a, j, ZB_))
          put(a, j, ZW);
      put(a, j, ZB_);
    }
  }
  for (int j = 0; j < p && !a->fail; j++)
    while (!a->fail && CNT(a, j, ZW) < m)
      put(a, j, ZW);
  if (a->fail)
    return -1;
  for (int j = 0; j < p; j++)
    if (CNT(a, j, ZF) != m || CNT(a, j, ZB_) != m)
      return -1;
  double best = 0;
  for (int j = 0; j < p; j++) {
    double ti = a->t[TID(a, ZW, j, m - 1)] - a->t[TID(a, ZF, j, 0)] + tf;
    if (ti > best)
      best = ti;
  }
  return best;
}

int pl_gen_zb_auto(const pl_gen_params *gp, pl_sched **out,
                   struct pl_errbuf *eb)
{
  int rc;
  *out = NULL;
  if ((rc = pl__zb_check_chunks(gp, 1, "zb-auto", eb)) != 0)
    return rc;
  const int p = gp->p, m = gp->m;
  double lim = gp->mem_limit > 0 ? gp->mem_limit : (double)p;
  double w = gp->mem_w_frac;
  if (!(gp->mem_limit >= 0) || !isfinite(gp->mem_limit))
    return pl_errf(eb, PL_EINVAL, "zb-auto: memory limit must be >= 0, got %g",
                   gp->mem_limit);
  if (lim < 1.0)
    return pl_errf(eb, PL_EINVAL,
                   "zb-auto: a memory limit of %g units cannot hold one "
                   "microbatch's activation (1 unit = M_B); use --mem-limit "
                   ">= 1 (default p = %d)",
                   lim, p);
  for (int j = 0; gp->mem_limits && j < p; j++) {
    if (!(gp->mem_limits[j] >= 1.0) || !isfinite(gp->mem_limits[j]))
      return pl_errf(eb, PL_EINVAL,
                     "zb-auto: rank %d's memory limit %g units cannot hold "
                     "one microbatch's activation (1 unit = M_B); give every "
                     "rank at least 1",
                     j, gp->mem_limits[j]);
    if (gp->mem_limits[j] > lim || j == 0)
      lim = gp->mem_limits[j];
  }
  if (!(w >= 0 && w <= 1))
    return pl_errf(eb, PL_EINVAL,
                   "zb-auto: M_W/M_B must lie in [0, 1], got %g", w);
  if (!(gp->tf >= 0 && gp->tb >= 0 && gp->tw >= 0 && gp->comm >= 0) ||
      !isfinite(gp->tf + gp->tb + gp->tw + gp->comm))
    return pl_errf(eb, PL_EINVAL,
                   "zb-auto: times must be finite and >= 0 (tf=%g tb=%g "
                   "tw=%g comm=%g)",
                   gp->tf, gp->tb, gp->tw, gp->comm);

  struct zba a;
  memset(&a, 0, sizeof a);
  a.p = p;
  a.m = m;
  a.cost[ZF] = gp->tf;
  a.cost[ZB_] = gp->tb;
  a.cost[ZW] = gp->tw;
  a.mem[ZF] = 1.0;
  a.mem[ZB_] = -(1.0 - w);
  a.mem[ZW] = -w;
  a.lim = lim;
  a.lims = gp->mem_limits;
  a.eps = 1e-9 * (lim > 1 ? lim : 1);
  a.comm = gp->comm;
  size_t nops = 3 * (size_t)p * m;
  a.cnt = pl_calloc(3 * (size_t)p, sizeof *a.cnt);
  a.o = pl_calloc((size_t)p, sizeof *a.o);
  a.mcur = pl_calloc((size_t)p, sizeof *a.mcur);
  a.e = pl_calloc((size_t)p, sizeof *a.e);
  a.bub = pl_calloc((size_t)p, sizeof *a.bub);
  a.t = pl_calloc(nops, sizeof *a.t);
  a.ord = pl_calloc(nops, sizeof *a.ord);
  int32_t *best_ord = pl_calloc(nops, sizeof *best_ord);
  int *freq = pl_calloc((size_t)p, sizeof *freq);
  pl_sched *s = NULL;
  if (!a.cnt || !a.o || !a.mcur || !a.e || !a.bub || !a.t || !a.ord ||
      !best_ord || !freq) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto done;
  }
  double best = -1;
  for (int ab = 1; ab >= 0; ab--)
    for (int pb = 1; pb >= 0; pb--)
      for (int nb = 1; nb >= 0; nb--) {
        double tm = manual_order(&a, ab, pb, nb, freq);
        if (tm >= 0 && (best < 0 || tm < best)) {
          best = tm;
          memcpy(best_ord, a.ord, nops * sizeof *best_ord);
        }
      }
  if (best < 0) {
    rc = pl_errf(eb, PL_EINVAL,
                 "zb-auto: no schedule fits a memory limit of %g units%s "
                 "(p=%d m=%d); raise --mem-limit",
                 lim, gp->mem_limits ? " (the largest per-rank one)" : "",
                 p, m);
    goto done;
  }
  if ((rc = pl_sched_create(p, p, m, PL_PLACE_SINGLE, &s, eb)) != 0)
    goto done;
  for (int j = 0; j < p && rc == 0; j++)
    for (int k = 0; k < 3 * m && rc == 0; k++) {
      int32_t c = best_ord[(size_t)j * 3 * m + k];
      int kind = c >> 24, mb = c & 0xffffff;
      rc = pl_sched_push3(s, j, kind == ZF ? PL_OP_F
                                : kind == ZB_ ? PL_OP_B
                                              : PL_OP_W,
                          j, mb);
    }
  if (rc) {
    pl_sched_destroy(s);
    s = NULL;
    rc = pl_errf(eb, rc, "out of memory");
  }
done:
  pl_free(a.cnt);
  pl_free(a.o);
  pl_free(a.mcur);
  pl_free(a.e);
  pl_free(a.bub);
  pl_free(a.t);
  pl_free(a.ord);
  pl_free(best_ord);
  pl_free(freq);
  *out = s;
  return rc;
}

/* Named settings of the ZB paper (--zero-bubble-max-pending-backward p or
 * 2p): zb-auto with the limit fixed at p or 2p units. */
static int zb_named(const pl_gen_params *gp, int mult, pl_sched **out,
                    struct pl_errbuf *eb)
{
  pl_gen_params q = *gp;
  q.mem_limit = (double)mult * gp->p;
  q.mem_limits = NULL;
  return pl_gen_zb_auto(&q, out, eb);
}

int pl__gen_zb_1p(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb)
{
  return zb_named(gp, 1, out, eb);
}

int pl__gen_zb_2p(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb)
{
  return zb_named(gp, 2, out, eb);
}
