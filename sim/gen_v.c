/*
 * gen_v.c: ZB-V (docs/zero-bubble.md), the greedy V-shaped zero-bubble
 * scheduler of the ZB paper's arXiv version. A C port of the logic of the
 * authors' PipelineGraph.try_v_schedule (sail-sg
 * zero-bubble-pipeline-parallelism, scheduler/zbv.py, same algorithm as
 * v0.1.0 v_schedule.py).
 *
 * Internal numbering follows upstream: F chunk 0 is the first half (stage
 * s), F chunk 1 the second half (stage 2p-1-s); the B/W "chunk 0" is the
 * backward of the second half (it runs first), B/W "chunk 1" the backward
 * of the first half. Costs are per chunk (T_x / 2), memory per chunk in
 * units of M_B (F +1/2, B -(1-w)/2, W -w/2), the limit p units (2p chunk
 * activations) unless gp->mem_limit says otherwise.
 */
#include <math.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

struct zbv {
  int p, m;
  double cost[3], mem[3], lim, eps, comm;
  size_t n_node;
  int *count;      /* [6p] index cat*2+chunk */
  double *end;     /* [n_node] end times, -1 = not placed */
  double *cur;     /* [p] */
  double *mem_now; /* [p] */
  double *bub;     /* [p] stage bubble */
  const double *appr; /* [p] approved bubble or NULL */
  double max_appr;
  int *pw;         /* [p * 2m] pending W ring: chunk */
  int *pw_head, *pw_len; /* [p] */
  int32_t *sched;  /* [p * 6m]: cat<<28 | chunk<<24 | mb */
  int *slen;       /* [p] */
  int *scratch;    /* [2p] */
  int fail;
};

#define VCNT(z, s, cat, ch) ((z)->count[6 * (s) + 2 * (cat) + (ch)])

static size_t vid(const struct zbv *z, int cat, int chunk, int stage, int mb)
{
  return (((size_t)cat * 2 + chunk) * z->p + stage) * z->m + mb;
}

static double stage_max_bubble(const struct zbv *z, int stage)
{
  double mx = 0;
  for (int j = 0; j < z->p; j++)
    if (z->bub[j] > mx)
      mx = z->bub[j];
  if (stage >= 0) {
    double a = z->appr ? z->max_appr - z->appr[stage] : 0;
    if (a > mx)
      mx = a;
  }
  return mx;
}

/* end_time[fa_id] with upstream's Python semantics for fa_id = -1 (the
 * last element of the array). */
static double end_at(const struct zbv *z, long fa)
{
  return fa >= 0 ? z->end[fa] : z->end[z->n_node - 1];
}

static void vput(struct zbv *z, int cat, int chunk, int stage)
{
  if (z->fail)
    return;
  double c = z->cost[cat];
  double tmp = z->cur[stage] + c, nob = tmp;
  int cnt = VCNT(z, stage, cat, chunk);
  if (cnt >= z->m || z->mem_now[stage] + z->mem[cat] > z->lim + z->eps) {
    z->fail = 1;
    return;
  }
  if (cat > 0 || chunk > 0) {
    int last = cat * 2 + chunk - 1;
    size_t id = cat < 2 ? vid(z, last / 2, last % 2, stage, cnt)
                        : vid(z, 1, chunk, stage, cnt);
    if (z->end[id] < 0) {
      z->fail = 1;
      return;
    }
  }
  if (cat < 2) {
    int nb = chunk == 1 ? stage + 1 : stage - 1;
    if (nb >= 0 && nb < z->p) {
      double e = z->end[vid(z, cat, chunk, nb, cnt)];
      if (e < 0) {
        z->fail = 1;
        return;
      }
      if (e + z->comm + c > tmp)
        tmp = e + z->comm + c;
    }
  }
  if (VCNT(z, stage, 0, 0) > 0)
    z->bub[stage] += tmp - nob;
  z->end[vid(z, cat, chunk, stage, cnt)] = tmp;
  z->cur[stage] = tmp;
  z->mem_now[stage] += z->mem[cat];
  z->sched[(size_t)stage * 6 * z->m + z->slen[stage]++] =
      (int32_t)(((unsigned)cat << 28) | ((unsigned)chunk << 24) |
                (unsigned)cnt);
  if (cat == 1) {
    int cap = 2 * z->m;
    z->pw[(size_t)stage * cap + (z->pw_head[stage] + z->pw_len[stage]) % cap] =
        chunk;
    z->pw_len[stage]++;
  }
  VCNT(z, stage, cat, chunk)++;
}

static void vput_w(struct zbv *z, int stage)
{
  if (z->fail)
    return;
  if (z->pw_len[stage] == 0) {
    z->fail = 1;
    return;
  }
  int cap = 2 * z->m;
  int chunk = z->pw[(size_t)stage * cap + z->pw_head[stage]];
  z->pw_head[stage] = (z->pw_head[stage] + 1) % cap;
  z->pw_len[stage]--;
  vput(z, 2, chunk, stage);
}

/* Inserts Ws before the op whose input comes from fa (-1 = local), plus
 * one more when the gap exceeds the stage's bubble allowance and `extra`. */
static void vfill(struct zbv *z, int i, long fa, int extra)
{
  while (!z->fail && z->pw_len[i] > 0 && fa >= 0 &&
         z->end[fa] + z->comm >= z->cur[i] + z->cost[2])
    vput_w(z, i);
  if (!z->fail && z->pw_len[i] > 0 &&
      end_at(z, fa) + z->comm - z->cur[i] >
          stage_max_bubble(z, i) - z->bub[i] &&
      extra)
    vput_w(z, i);
}

static void vreset(struct zbv *z)
{
  const int p = z->p;
  memset(z->count, 0, 6 * (size_t)p * sizeof *z->count);
  for (size_t k = 0; k < z->n_node; k++)
    z->end[k] = -1;
  for (int j = 0; j < p; j++) {
    z->cur[j] = z->mem_now[j] = z->bub[j] = 0;
    z->pw_head[j] = z->pw_len[j] = z->slen[j] = 0;
  }
  z->fail = 0;
}

/* One greedy pass; returns the max stage bubble or -1 on failure. */
static double try_v(struct zbv *z, int fill_f, int fill_b)
{
  const int p = z->p, m = z->m;
  vreset(z);
  for (int i = 0; i < p; i++)
    vput(z, 0, 0, i);
  for (int i = p - 1; i >= 0 && !z->fail; i--) {
    if (i == p - 1) {
      vput(z, 0, 1, i);
      continue;
    }
    double tmp = z->end[vid(z, 0, 1, i + 1, 0)] + z->comm;
    while (!z->fail &&
           z->mem_now[i] + z->mem[0] * (2 + i * 2) <= z->lim + z->eps &&
           z->cur[i] + z->cost[0] <= tmp && VCNT(z, i, 0, 0) < m)
      for (int j = 0; j <= i; j++)
        vput(z, 0, 0, j);
    vput(z, 0, 1, i);
  }
  int it = 0;
  long guard = 0;
  for (int i = 1; i < p && !z->fail; i++) {
    for (;;) {
      int a0 = VCNT(z, i, 0, 0), a1 = VCNT(z, i, 0, 1);
      int b0 = VCNT(z, i - 1, 0, 0), b1 = VCNT(z, i - 1, 0, 1);
      if (!(a0 + a1 < b0 + b1 || (a1 <= b1 && b1 < m)))
        break;
      if (z->fail || ++guard > 4L * p * m + 16) {
        z->fail = 1;
        break;
      }
      for (int j = p - 1; j >= i; j--)
        if (VCNT(z, j, 0, it) < m)
          vput(z, 0, it, j);
      it = 1 - it;
    }
  }
  for (int round = 0; round < 2 * m && !z->fail; round++) {
    for (int i = 0; i < p; i++)
      while (!z->fail && z->mem_now[i] + z->mem[1] > z->lim + z->eps)
        vput_w(z, i);
    /* B: chunk-1 (first-half) backwards from the last rank up, then the
     * chunk-0 ones from rank 0 down. */
    int nb1 = 0;
    int *rr = z->scratch, *is_b1 = z->scratch + p;
    for (int i = 0; i < p; i++) {
      int c;
      if (VCNT(z, i, 1, 1) >= VCNT(z, i, 1, 0))
        c = 0;
      else if (i == p - 1)
        c = 1;
      else {
        size_t fa = vid(z, 1, 1, i + 1, VCNT(z, i, 1, 1));
        c = (z->end[fa] >= 0 || VCNT(z, i, 1, 0) >= m) ? 1 : 0;
      }
      is_b1[i] = c;
      nb1 += c;
    }
    int k = 0;
    for (int i = p - 1; i >= 0; i--)
      if (is_b1[i])
        rr[k++] = i;
    for (int i = 0; i < p; i++)
      if (!is_b1[i])
        rr[k++] = i;
    for (int q = 0; q < p && !z->fail; q++) {
      int i = rr[q], ch = q < nb1 ? 1 : 0;
      long fa = -1;
      if (ch == 1 && i < p - 1)
        fa = (long)vid(z, 1, 1, i + 1, VCNT(z, i, 1, 1));
      if (ch == 0 && i > 0)
        fa = (long)vid(z, 1, 0, i - 1, VCNT(z, i, 1, 0));
      vfill(z, i, fa, ch == 1 || fill_b);
      vput(z, 1, ch, i);
    }
    /* F */
    for (int i = 0; i < p && !z->fail; i++) {
      if (VCNT(z, i, 0, 1) >= m)
        continue;
      int item = -1;
      if (VCNT(z, i, 0, 1) >= VCNT(z, i, 0, 0))
        item = 0;
      else if (i == p - 1)
        item = 1;
      else if (z->end[vid(z, 0, 1, i + 1, VCNT(z, i, 0, 1))] >= 0)
        item = 1;
      else if (VCNT(z, i, 0, 0) < m) {
        if (i == 0 || z->end[vid(z, 0, 0, i - 1, VCNT(z, i, 0, 0))] >= 0)
          item = 0;
      }
      if (item < 0)
        continue;
      while (!z->fail && z->mem_now[i] + z->mem[0] > z->lim + z->eps)
        vput_w(z, i);
      long fa = -1;
      if (item == 0 && i > 0)
        fa = (long)vid(z, 0, 0, i - 1, VCNT(z, i, 0, 0));
      if (item == 1 && i < p - 1)
        fa = (long)vid(z, 0, 1, i + 1, VCNT(z, i, 0, 1));
      vfill(z, i, fa, fill_f);
      vput(z, 0, item, i);
    }
  }
  for (int i = 0; i < p && !z->fail; i++)
    while (!z->fail && z->pw_len[i] > 0)
      vput_w(z, i);
  if (z->fail)
    return -1;
  for (int i = 0; i < p; i++)
    if (z->slen[i] != 6 * m)
      return -1;
  return stage_max_bubble(z, -1);
}

struct vres {
  int32_t *sched; /* [p * 6m] */
  double *bub;    /* [p] */
  double max_bubble;
};

/* try_v_schedule with upstream's refinement: re-run with the per-rank
 * bubbles as the approved budget while the max bubble decreases. */
static int try_v_refined(struct zbv *z, int fill_f, int fill_b,
                         struct vres *best, struct vres *tmp)
{
  size_t ns = (size_t)z->p * 6 * z->m;
  z->appr = NULL;
  z->max_appr = -1;
  double b = try_v(z, fill_f, fill_b);
  if (b < 0)
    return -1;
  memcpy(best->sched, z->sched, ns * sizeof *z->sched);
  memcpy(best->bub, z->bub, (size_t)z->p * sizeof *z->bub);
  best->max_bubble = b;
  for (int iter = 0; iter < 1000; iter++) {
    /* approved = best->bub (the last run, which is the best so far) */
    memcpy(tmp->bub, best->bub, (size_t)z->p * sizeof *tmp->bub);
    z->appr = tmp->bub;
    z->max_appr = -1;
    for (int j = 0; j < z->p; j++)
      if (tmp->bub[j] > z->max_appr)
        z->max_appr = tmp->bub[j];
    double nb = try_v(z, fill_f, fill_b);
    if (nb < 0 || !(nb < best->max_bubble))
      break;
    memcpy(best->sched, z->sched, ns * sizeof *z->sched);
    memcpy(best->bub, z->bub, (size_t)z->p * sizeof *z->bub);
    best->max_bubble = nb;
  }
  z->appr = NULL;
  return 0;
}

static int zbv_alloc(struct zbv *z, int p, int m)
{
  memset(z, 0, sizeof *z);
  z->p = p;
  z->m = m;
  z->n_node = 6 * (size_t)p * m;
  z->count = pl_calloc(6 * (size_t)p, sizeof *z->count);
  z->end = pl_calloc(z->n_node, sizeof *z->end);
  z->cur = pl_calloc((size_t)p, sizeof *z->cur);
  z->mem_now = pl_calloc((size_t)p, sizeof *z->mem_now);
  z->bub = pl_calloc((size_t)p, sizeof *z->bub);
  z->pw = pl_calloc((size_t)p * 2 * m, sizeof *z->pw);
  z->pw_head = pl_calloc((size_t)p, sizeof *z->pw_head);
  z->pw_len = pl_calloc((size_t)p, sizeof *z->pw_len);
  z->sched = pl_calloc(z->n_node, sizeof *z->sched);
  z->slen = pl_calloc((size_t)p, sizeof *z->slen);
  z->scratch = pl_calloc(2 * (size_t)p, sizeof *z->scratch);
  return z->count && z->end && z->cur && z->mem_now && z->bub && z->pw &&
                 z->pw_head && z->pw_len && z->sched && z->slen && z->scratch
             ? 0
             : PL_ENOMEM;
}

static void zbv_free(struct zbv *z)
{
  pl_free(z->count);
  pl_free(z->end);
  pl_free(z->cur);
  pl_free(z->mem_now);
  pl_free(z->bub);
  pl_free(z->pw);
  pl_free(z->pw_head);
  pl_free(z->pw_len);
  pl_free(z->sched);
  pl_free(z->slen);
  pl_free(z->scratch);
}

/* Stage of an upstream V op on rank s: F chunk 0 and B/W chunk 1 are the
 * first half (stage s); F chunk 1 and B/W chunk 0 the second (2p-1-s). */
static int v_stage(int p, int s, int cat, int chunk)
{
  int second = cat == 0 ? chunk == 1 : chunk == 0;
  return second ? 2 * p - 1 - s : s;
}

int pl__v_check(const pl_gen_params *gp, const char *name, double *lim,
                struct pl_errbuf *eb)
{
  int rc = pl__zb_check_chunks(gp, 2, name, eb);
  if (rc)
    return rc;
  if (!(gp->mem_w_frac >= 0 && gp->mem_w_frac <= 1))
    return pl_errf(eb, PL_EINVAL, "%s: M_W/M_B must lie in [0, 1], got %g",
                   name, gp->mem_w_frac);
  if (!(gp->tf >= 0 && gp->tb >= 0 && gp->tw >= 0 && gp->comm >= 0) ||
      !isfinite(gp->tf + gp->tb + gp->tw + gp->comm))
    return pl_errf(eb, PL_EINVAL,
                   "%s: times must be finite and >= 0 (tf=%g tb=%g tw=%g "
                   "comm=%g)",
                   name, gp->tf, gp->tb, gp->tw, gp->comm);
  if (!(gp->mem_limit >= 0) || !isfinite(gp->mem_limit))
    return pl_errf(eb, PL_EINVAL, "%s: memory limit must be >= 0, got %g",
                   name, gp->mem_limit);
  if (lim)
    *lim = gp->mem_limit > 0 ? gp->mem_limit : (double)gp->p;
  return 0;
}

int pl_gen_zb_v(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb)
{
  double lim;
  int rc;
  *out = NULL;
  if ((rc = pl__v_check(gp, "zb-v", &lim, eb)) != 0)
    return rc;
  const int p = gp->p, m = gp->m;
  double w = gp->mem_w_frac;
  if (lim < (double)p)
    return pl_errf(eb, PL_EINVAL,
                   "zb-v needs a memory limit of at least p = %d units (its "
                   "warm-up holds p*M_B like 1F1B), got %g; for less memory "
                   "use v-half (floor((p+2)/2) units) or v-min "
                   "(floor((p+4)/3) units)",
                   p, lim);
  struct zbv z;
  struct vres best = {0}, cand = {0}, tmp = {0};
  pl_sched *s = NULL;
  if (zbv_alloc(&z, p, m) != 0)
    goto nomem;
  z.cost[0] = gp->tf / 2;
  z.cost[1] = gp->tb / 2;
  z.cost[2] = gp->tw / 2;
  z.mem[0] = 0.5;
  z.mem[1] = -(1.0 - w) / 2;
  z.mem[2] = -w / 2;
  z.lim = lim;
  z.eps = 1e-9 * (lim > 1 ? lim : 1);
  z.comm = gp->comm;
  best.sched = pl_calloc(z.n_node, sizeof *best.sched);
  cand.sched = pl_calloc(z.n_node, sizeof *cand.sched);
  best.bub = pl_calloc((size_t)p, sizeof *best.bub);
  cand.bub = pl_calloc((size_t)p, sizeof *cand.bub);
  tmp.bub = pl_calloc((size_t)p, sizeof *tmp.bub);
  if (!best.sched || !cand.sched || !best.bub || !cand.bub || !tmp.bub)
    goto nomem;
  int have = 0;
  for (int fill_b = 1; fill_b >= 0; fill_b--)
    for (int fill_f = 1; fill_f >= 0; fill_f--) {
      if (try_v_refined(&z, fill_f, fill_b, &cand, &tmp) != 0)
        continue;
      if (!have || cand.max_bubble < best.max_bubble) {
        struct vres t = best;
        best = cand;
        cand = t;
        have = 1;
      }
    }
  if (!have) {
    rc = pl_errf(eb, PL_EINVAL,
                 "zb-v: the greedy V scheduler found no schedule for p=%d "
                 "m=%d within %g units of activation memory",
                 p, m, lim);
    goto out;
  }
  if ((rc = pl_sched_create(p, 2 * p, m, PL_PLACE_V, &s, eb)) != 0)
    goto out;
  for (int r = 0; r < p && rc == 0; r++)
    for (int k = 0; k < 6 * m && rc == 0; k++) {
      uint32_t c = (uint32_t)best.sched[(size_t)r * 6 * m + k];
      int cat = (int)(c >> 28), ch = (int)((c >> 24) & 0xf),
          mb = (int)(c & 0xffffff);
      rc = pl_sched_push3(s, r, cat == 0 ? PL_OP_F : cat == 1 ? PL_OP_B
                                                               : PL_OP_W,
                          v_stage(p, r, cat, ch), mb);
    }
  if (rc) {
    pl_sched_destroy(s);
    s = NULL;
    goto nomem;
  }
  goto out;
nomem:
  rc = pl_errf(eb, PL_ENOMEM, "out of memory");
out:
  zbv_free(&z);
  pl_free(best.sched);
  pl_free(cand.sched);
  pl_free(best.bub);
  pl_free(cand.bub);
  pl_free(tmp.bub);
  *out = s;
  return rc;
}
