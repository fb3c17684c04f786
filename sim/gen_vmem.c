/*
 * gen_vmem.c: V-Half and V-Min, the controllable-memory building blocks of
 * the PPCM paper (docs/zero-bubble.md). A C port of the logic of the authors'
 * greedy reordering (sail-sg zero-bubble-pipeline-parallelism,
 * scheduler/zbv_greedy.py):
 *
 * 1. a 6-slot repeating pattern per rank places F c0, F c1, B (second half,
 *    "B c1" in model terms) and b (first half) of microbatch k at
 *    slot + 6k;
 * 2. pending Ws fill empty slots; ops are moved to the earliest free slot
 *    after their dependencies that does not raise the rank's peak, in the
 *    warm-up (first pass only) and in the cool-down (both passes);
 *    between the passes each pass is "squeezed" with unit costs;
 * 3. Ws are re-inserted per chunk and the result is timed with the real
 *    costs; the per-rank order is the slot order.
 *
 * Slot types: 0 = F chunk 0 (stage s), 1 = F chunk 1 (stage 2p-1-s),
 * 2 = B of stage 2p-1-s, 3 = B of stage s, 4 = W (both chunks, or of type
 * 2 when split), 5 = W of type 3 (split only).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

struct vm {
  int p, m;
  int cap;          /* slot capacity per stage */
  int *slot;        /* [p][6][2m] current slots */
  int *cnt;         /* [p][6] list lengths (0 or m) */
  int *map_t;       /* [p][cap] type at slot, -1 = empty */
  int *map_mb;      /* [p][cap] */
  double *endt;     /* [p][6][2m] */
  int fail;
};

/* Lists have room for 2m entries: the unsplit W list holds both chunks. */
#define SL(z, s, t, k) ((z)->slot[((size_t)(s) * 6 + (t)) * 2 * (z)->m + (k)])
#define LN(z, s, t) ((z)->cnt[(size_t)(s) * 6 + (t)])
#define MT(z, s, i) ((z)->map_t[(size_t)(s) * (z)->cap + (i)])
#define MB(z, s, i) ((z)->map_mb[(size_t)(s) * (z)->cap + (i)])

/* Largest slot used on stage s, -1 if none. */
static int stage_bound(const struct vm *z, int s)
{
  int b = -1;
  for (int t = 0; t < 6; t++)
    if (LN(z, s, t) > 0 && SL(z, s, t, LN(z, s, t) - 1) > b)
      b = SL(z, s, t, LN(z, s, t) - 1);
  return b;
}

/* Rebuilds stage s's slot map from the lists; fails on a collision or an
 * out-of-range slot. */
static void build_map(struct vm *z, int s)
{
  for (int i = 0; i < z->cap; i++)
    MT(z, s, i) = -1;
  for (int t = 0; t < 6; t++)
    for (int k = 0; k < LN(z, s, t); k++) {
      int x = SL(z, s, t, k);
      if (x < 0 || x >= z->cap || MT(z, s, x) >= 0) {
        z->fail = 1;
        return;
      }
      MT(z, s, x) = t;
      MB(z, s, x) = k;
    }
}

/* Appends W lists (4, or 4 and 5 when split) into the empty slots. */
static void put_w(struct vm *z, int s, int split)
{
  LN(z, s, 4) = 0;
  LN(z, s, 5) = 0;
  build_map(z, s);
  if (z->fail)
    return;
  int bound = stage_bound(z, s);
  int wc[2] = {0, 0};
  int i;
  for (i = 0; i <= bound; i++) {
    int t = MT(z, s, i);
    if (t >= 0) {
      if (t == 2 || t == 3)
        wc[split ? t - 2 : 0]++;
    } else {
      for (int w = 0; w < 2; w++)
        if (wc[w]) {
          SL(z, s, 4 + w, LN(z, s, 4 + w)++) = i;
          wc[w]--;
          break;
        }
    }
  }
  i = bound;
  for (int w = 0; w < 2; w++)
    while (wc[w] > 0) {
      i++;
      SL(z, s, 4 + w, LN(z, s, 4 + w)++) = i;
      wc[w]--;
    }
  if (LN(z, s, 4) > 2 * z->m || LN(z, s, 5) > z->m || i >= z->cap)
    z->fail = 1;
}

/* Peak of the stage in chunk activations (F +1, W -1, B 0); without W
 * lists a pending W runs in every empty slot. Uses the slot map. */
/* The running activation count of one stage, slot by slot: F (types 0, 1)
 * allocates, W (4, 5) frees; without explicit Ws a B (2, 3) leaves a W
 * pending that the next empty slot runs. res is the peak so far. */
struct mstate {
  int cur, res, wc;
};

static inline void mem_step(struct mstate *q, int t, int has_w)
{
  if (t >= 0) {
    if (t <= 1)
      q->cur++;
    else if (t <= 3)
      q->wc++;
    else
      q->cur--;
  } else if (!has_w && q->wc) {
    q->cur--;
    q->wc--;
  }
  if (q->cur > q->res)
    q->res = q->cur;
}

static int mem_of_stage(const struct vm *z, int s, int has_w, int bound)
{
  struct mstate q = {0, 0, 0};
  for (int i = 0; i <= bound; i++)
    mem_step(&q, MT(z, s, i), has_w);
  return q.res;
}

/* The mb-th smallest slot among the B lists (types 2 and 3) of stage s. */
static int kth_b(const struct vm *z, int s, int k)
{
  int a = 0, b = 0, na = LN(z, s, 2), nb = LN(z, s, 3), v = -1;
  for (int n = 0; n <= k; n++) {
    if (b >= nb || (a < na && SL(z, s, 2, a) < SL(z, s, 3, b)))
      v = SL(z, s, 2, a++);
    else
      v = SL(z, s, 3, b++);
  }
  return v;
}

/* List-schedules the slot order with costs cost[t] and comm latency c;
 * then, if squeeze, replaces the slots by the start times (unit costs give
 * integer slots). */
static void eager(struct vm *z, int nt, const double *cost, double comm,
                  int squeeze)
{
  const int p = z->p, m = z->m;
  for (size_t k = 0; k < (size_t)p * 12 * m; k++)
    z->endt[k] = -1;
  int bound = -1;
  for (int s = 0; s < p && !z->fail; s++) {
    build_map(z, s);
    int b = stage_bound(z, s);
    if (b > bound)
      bound = b;
  }
  if (z->fail)
    return;
  double *last = pl_calloc((size_t)p, sizeof *last);
  if (!last) {
    z->fail = 1;
    return;
  }
#define ET(s, t, k) z->endt[((size_t)(s) * 6 + (t)) * 2 * m + (k)]
  for (int i = 0; i <= bound && !z->fail; i++)
    for (int s = 0; s < p; s++) {
      int t = MT(z, s, i);
      if (t < 0)
        continue;
      int k = MB(z, s, i);
      double d = 0, e;
      if ((t == 0 || t == 2) && s > 0) {
        if ((e = ET(s - 1, t, k)) < 0)
          goto bad;
        if (e + comm > d)
          d = e + comm;
      }
      if ((t == 1 || t == 3) && s + 1 < p) {
        if ((e = ET(s + 1, t, k)) < 0)
          goto bad;
        if (e + comm > d)
          d = e + comm;
      }
      if (t > 0 && t < 4) {
        if ((e = ET(s, t - 1, k)) < 0)
          goto bad;
        if (e > d)
          d = e;
      }
      if (k > 0) {
        if ((e = ET(s, t, k - 1)) < 0)
          goto bad;
        if (e > d)
          d = e;
      }
      if (last[s] > d)
        d = last[s];
      ET(s, t, k) = d + cost[t];
      last[s] = d + cost[t];
      continue;
    bad:
      z->fail = 1;
      break;
    }
  pl_free(last);
  if (z->fail || !squeeze)
    return;
  for (int s = 0; s < p; s++)
    for (int t = 0; t < nt; t++)
      for (int k = 0; k < LN(z, s, t); k++)
        SL(z, s, t, k) = (int)lround(ET(s, t, k) - cost[t]);
#undef ET
}

/* One reordering pass (upstream reorder()); consider_w: Ws are explicit
 * and the warm-up is reordered too. Ends with a unit-cost squeeze. */
static void reorder(struct vm *z, int consider_w)
{
  const int p = z->p, m = z->m;
  int nt = consider_w ? 5 : 4;
  for (int s = 0; s < p; s++) {
    LN(z, s, 4) = LN(z, s, 5) = 0;
    if (consider_w)
      put_w(z, s, 0);
  }
  if (z->fail)
    return;
  int cur_mem = 0, bound = -1;
  for (int s = 0; s < p && !z->fail; s++) {
    build_map(z, s);
    int b = stage_bound(z, s);
    int mm = mem_of_stage(z, s, consider_w, b);
    if (mm > cur_mem)
      cur_mem = mm;
    if (b > bound)
      bound = b;
  }
  if (z->fail)
    return;
  /* Original (slot -> op) maps give upstream's global processing order;
   * occupied[] marks the final slots of the processed ops. */
  size_t nmap = (size_t)p * z->cap;
  int *ot = pl_malloc(nmap * sizeof *ot), *omb = pl_malloc(nmap * sizeof *omb);
  unsigned char *occ = pl_calloc(nmap, 1);
  /* per-slot baseline counts of the stage being placed (see below) */
  size_t ncap = (size_t)z->cap + 2;
  int *bc = pl_malloc(4 * ncap * sizeof *bc);
  int *bw = bc ? bc + ncap : NULL, *br = bc ? bc + 2 * ncap : NULL;
  int *suf = bc ? bc + 3 * ncap : NULL;
  if (!ot || !omb || !occ || !bc) {
    z->fail = 1;
    goto out;
  }
  memcpy(ot, z->map_t, nmap * sizeof *ot);
  memcpy(omb, z->map_mb, nmap * sizeof *omb);
  int phase = 0;
  for (int nxt = 0; nxt <= bound && !z->fail; nxt++)
    for (int s = 0; s < p && !z->fail; s++) {
      int t = ot[(size_t)s * z->cap + nxt];
      if (t < 0)
        continue;
      int k = omb[(size_t)s * z->cap + nxt];
      if (t == 3 && s == 0 && phase == 0)
        phase = 1;
      if (phase == 1) {
        if (t == 0 && k == m - 1)
          phase = 2;
        occ[(size_t)s * z->cap + nxt] = 1;
        continue;
      }
      if (phase == 0 && !consider_w) {
        occ[(size_t)s * z->cap + nxt] = 1;
        continue;
      }
      int deps = -1;
      if ((t == 0 || t == 2) && s > 0 && SL(z, s - 1, t, k) > deps)
        deps = SL(z, s - 1, t, k);
      if ((t == 1 || t == 3) && s + 1 < p && SL(z, s + 1, t, k) > deps)
        deps = SL(z, s + 1, t, k);
      if (t > 0 && t < 4 && SL(z, s, t - 1, k) > deps)
        deps = SL(z, s, t - 1, k);
      if (t == 4) {
        int bt = kth_b(z, s, k);
        if (bt > deps)
          deps = bt;
      }
      if (k > 0 && SL(z, s, t, k - 1) > deps)
        deps = SL(z, s, t, k - 1);
      deps += 1;
      if (deps > nxt) {
        z->fail = 1;
        break;
      }
      int sb = stage_bound(z, s);
      int placed = nxt;
      MT(z, s, nxt) = -1;
      /* Try the free slots pt in [deps, nxt): the map holds processed ops
       * at their final slots and the unprocessed ones (all >= nxt) at their
       * original slots, so a free slot below nxt is empty. The count of the
       * map without this op (the baseline) is taken once, slot by slot
       * (bc: count, bw: pending Ws, after each slot; suf: the largest count
       * from a slot on). Putting t at pt changes the count from pt on only
       * until the pending Ws agree with the baseline's again (at once with
       * explicit Ws, where nothing is pending); from there on it is the
       * baseline's shifted by a constant, whose peak suf gives. Same answer
       * as mem_of_stage(map with t at pt) <= cur_mem. */
      if (deps < nxt && sb >= 0) {
        struct mstate q = {0, 0, 0};
        for (int i = 0; i <= sb; i++) {
          mem_step(&q, MT(z, s, i), consider_w);
          bc[i] = q.cur;
          bw[i] = q.wc;
          br[i] = q.res;
        }
        suf[sb + 1] = INT_MIN;
        for (int i = sb; i >= 0; i--)
          suf[i] = bc[i] > suf[i + 1] ? bc[i] : suf[i + 1];
      }
      for (int pt = deps; pt < nxt; pt++) {
        if (occ[(size_t)s * z->cap + pt])
          continue;
        int res;
        if (pt > sb) {
          /* past the stage's bound: not counted */
          res = sb >= 0 ? br[sb] : 0;
        } else {
          struct mstate q = {0, 0, 0};
          if (pt > 0)
            q = (struct mstate){bc[pt - 1], br[pt - 1], bw[pt - 1]};
          mem_step(&q, t, consider_w);
          int i = pt;
          for (;;) {
            if (consider_w || q.wc == bw[i]) {
              if (i < sb && suf[i + 1] + (q.cur - bc[i]) > q.res)
                q.res = suf[i + 1] + (q.cur - bc[i]);
              break;
            }
            if (++i > sb || q.res > cur_mem)
              break;
            mem_step(&q, MT(z, s, i), consider_w);
          }
          res = q.res;
        }
        if (res <= cur_mem) {
          placed = pt;
          break;
        }
      }
      MT(z, s, placed) = t;
      MB(z, s, placed) = k;
      SL(z, s, t, k) = placed;
      occ[(size_t)s * z->cap + placed] = 1;
    }
  if (z->fail)
    goto out;
  if (!consider_w) {
    for (int s = 0; s < p; s++)
      put_w(z, s, 0);
    nt = 5;
  }
  {
    static const double unit[6] = {1, 1, 1, 1, 1, 1};
    eager(z, nt, unit, 0, 1);
  }
out:
  pl_free(bc);
  pl_free(ot);
  pl_free(omb);
  pl_free(occ);
}

/* Per-rank slot patterns (upstream stable_pattern_v_min / _v_half). */
static void pattern(int p, int half, int s, int out[4])
{
  if (!half) {
    int d = p % 3 == 0 ? 2 : 0;
    out[0] = s;
    out[1] = 2 * p - s - 1;
    out[2] = 2 * p + d + s;
    out[3] = 4 * p + d - s - 1;
  } else {
    int d = p % 2 == 0 ? 3 : 0;
    out[0] = 2 * s;
    out[1] = 3 * p - s - 2;
    out[2] = 3 * p + d + 2 * s - 1;
    out[3] = 6 * p + d - s - 2;
  }
}

static int gen_vmem(const pl_gen_params *gp, int half, pl_sched **out,
                    struct pl_errbuf *eb)
{
  const char *name = half ? "v-half" : "v-min";
  int rc;
  *out = NULL;
  if ((rc = pl__v_check(gp, name, NULL, eb)) != 0)
    return rc;
  /* The activation budget is fixed by the pattern (floor((p+2)/2) or
   * floor((p+4)/3) units); gp->mem_limit only steers zb-auto and zb-v. */
  const int p = gp->p, m = gp->m;
  if ((long)m * 8 + 12L * p + 64 > 100000000L / p)
    return pl_errf(eb, PL_EINVAL, "%s: p=%d m=%d is too large", name, p, m);
  struct vm z;
  memset(&z, 0, sizeof z);
  z.p = p;
  z.m = m;
  z.cap = 8 * m + 12 * p + 64;
  size_t nl = (size_t)p * 12 * m;
  z.slot = pl_calloc(nl, sizeof *z.slot);
  z.endt = pl_calloc(nl, sizeof *z.endt);
  z.cnt = pl_calloc((size_t)p * 6, sizeof *z.cnt);
  z.map_t = pl_calloc((size_t)p * z.cap, sizeof *z.map_t);
  z.map_mb = pl_calloc((size_t)p * z.cap, sizeof *z.map_mb);
  pl_sched *s = NULL;
  if (!z.slot || !z.endt || !z.cnt || !z.map_t || !z.map_mb) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto done;
  }
  for (int st = 0; st < p; st++) {
    int pat[4];
    pattern(p, half, st, pat);
    for (int t = 0; t < 4; t++) {
      LN(&z, st, t) = m;
      for (int k = 0; k < m; k++)
        SL(&z, st, t, k) = pat[t] + 6 * k;
    }
  }
  reorder(&z, 1);
  for (int st = 0; st < p; st++)
    LN(&z, st, 4) = LN(&z, st, 5) = 0;
  if (!z.fail)
    reorder(&z, 0);
  for (int st = 0; st < p && !z.fail; st++)
    put_w(&z, st, 1);
  if (z.fail) {
    rc = pl_errf(eb, PL_EINVAL,
                 "%s: the building-block reordering found no valid order for "
                 "p=%d m=%d",
                 name, p, m);
    goto done;
  }
  /* Per-rank order = slot order (the real-cost timing of upstream's last
   * step is what the engine computes from it). */
  if ((rc = pl_sched_create(p, 2 * p, m, PL_PLACE_V, &s, eb)) != 0)
    goto done;
  for (int st = 0; st < p && rc == 0; st++) {
    build_map(&z, st);
    int b = stage_bound(&z, st);
    for (int i = 0; i <= b && rc == 0; i++) {
      int t = MT(&z, st, i);
      if (t < 0)
        continue;
      int k = MB(&z, st, i);
      static const int kind[6] = {PL_OP_F, PL_OP_F, PL_OP_B,
                                  PL_OP_B, PL_OP_W, PL_OP_W};
      int second = t == 1 || t == 2 || t == 4;
      rc = pl_sched_push3(s, st, kind[t], second ? 2 * p - 1 - st : st, k);
    }
  }
  if (rc) {
    pl_sched_destroy(s);
    s = NULL;
    rc = pl_errf(eb, rc, "out of memory");
  }
done:
  pl_free(z.slot);
  pl_free(z.endt);
  pl_free(z.cnt);
  pl_free(z.map_t);
  pl_free(z.map_mb);
  *out = s;
  return rc;
}

int pl_gen_v_half(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb)
{
  return gen_vmem(gp, 1, out, eb);
}

int pl_gen_v_min(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb)
{
  return gen_vmem(gp, 0, out, eb);
}
