/* gen_pt.c: the multi-stage schedules of PyTorch's
 * torch.distributed.pipelining, emitted in the order PyTorch builds its
 * per-rank action lists (idle slots left out: pipelab's engine times the
 * ops itself). docs/pytorch-schedules.md describes each one.
 *
 *   dualpipev            ScheduleDualPipeV (V placement, fused F&B ops)
 *   interleaved-zb       ScheduleInterleavedZeroBubble (ZB1P, loop placement)
 *   interleaved-relaxed  ScheduleInterleaved1F1B (rounds rule, m % p != 0)
 *   looped-bfs           ScheduleLoopedBFS (breadth first, loop placement)
 *   zbv-pytorch          ScheduleZBVZeroBubble (fixed ZB-V pattern)
 */
#include "pipelab/pipelab.h"
#include "sched_int.h"

#define PUSH(s, r, k, g, mb)                                                \
  do {                                                                      \
    if ((rc = pl_sched_push3((s), (r), (k), (g), (mb))) != 0)               \
      goto fail;                                                            \
  } while (0)

static int oom(pl_sched *s, struct pl_errbuf *eb)
{
  pl_sched_destroy(s);
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

static int check_shape(const pl_gen_params *gp, const char *name,
                       struct pl_errbuf *eb)
{
  if (gp->m > (1 << 22))
    return pl_errf(eb, PL_EINVAL, "%s: at most %d microbatches, got %d", name,
                   1 << 22, gp->m);
  if (gp->v < 1 || (long)gp->p * gp->v > 32767)
    return pl_errf(eb, PL_EINVAL,
                   "%s needs --chunks between 1 and %d, got %d", name,
                   32767 / gp->p, gp->v);
  return 0;
}

/* ------------------------------------------------------------ DualPipeV --- */

/*
 * Per-rank state of the DualPipeV builder: the next microbatch of each
 * (local chunk, F | backward) pair (a full backward and an input backward
 * share one count) and the FIFO of input backwards whose W is still owed.
 */
struct dpv {
  pl_sched *s;
  int r, st[2];
  int nf[2], nb[2];
  int *wq; /* pairs (chunk, mb) */
  size_t wq_head, wq_tail;
};

static int dpv_op(struct dpv *d, int c, int kind)
{
  int mb = kind == PL_OP_F ? d->nf[c]++ : d->nb[c]++;
  if (kind == PL_OP_B) {
    d->wq[2 * d->wq_tail] = c;
    d->wq[2 * d->wq_tail + 1] = mb;
    d->wq_tail++;
  }
  return pl_sched_push3(d->s, d->r, kind, d->st[c], mb);
}

/* The forward of chunk cf fused with the full backward of chunk cb. */
static int dpv_fused(struct dpv *d, int cf, int cb)
{
  pl_op op = PL_OP_INIT;
  op.kind = PL_OP_FB;
  op.stage = (int16_t)d->st[cf];
  op.mb = d->nf[cf]++;
  op.stage2 = (int16_t)d->st[cb];
  op.mb2 = d->nb[cb]++;
  op.kind2 = PL_OP_BW;
  return pl_sched_push(d->s, d->r, op);
}

/* The oldest owed W, if any. */
static int dpv_w(struct dpv *d)
{
  if (d->wq_head == d->wq_tail)
    return 0;
  int c = d->wq[2 * d->wq_head], mb = d->wq[2 * d->wq_head + 1];
  d->wq_head++;
  return pl_sched_push3(d->s, d->r, PL_OP_W, d->st[c], mb);
}

/*
 * Rank r of p, chunk 0 = stage r, chunk 1 = stage 2p-1-r, m >= 2p:
 *  1. 2(p-1-r) forwards of chunk 0;
 *  2. r+1 pairs F0, F1;
 *  3. p-1-r times: I1, the oldest owed W, F1;
 *  4. m-2p+r+1 times: (F0 & B1) then (F1 & B0), fused; the last rank runs
 *     its very first pair as plain F0, B1 (nothing to overlap yet);
 *  5. p-1-r times: B1, then (F1 & B0);
 *  6. r+1 pairs B1, B0, switching to input backwards (I) half-way: before
 *     the B1 of step (r+1)/2 on odd ranks, before its B0 on even ranks;
 *  7. p-1-r times: the oldest owed W, then the next chunk-0 backward
 *     (I if the switch happened, else B);
 *  8. r+1 times the oldest owed W.
 * B here is a full backward (pipelab BW); I an input backward (pipelab B).
 */
int pl_gen_dualpipev(const pl_gen_params *gp, pl_sched **out,
                     struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, rc;
  *out = NULL;
  if ((rc = pl__zb_check_chunks(gp, 2, "dualpipev", eb)) != 0)
    return rc;
  if (m < 2 * p)
    return pl_errf(eb, PL_EINVAL,
                   "dualpipev needs at least as many microbatches as stages "
                   "(m >= 2p = %d, PyTorch's rule), got m=%d: use "
                   "--microbatches %d",
                   2 * p, m, 2 * p);
  struct dpv d = {0};
  if ((rc = pl_sched_create(p, 2 * p, m, PL_PLACE_V, &d.s, eb)) != 0)
    return rc;
  d.wq = pl_malloc((size_t)m * 4 * sizeof *d.wq);
  if (!d.wq)
    return oom(d.s, eb);
  for (int r = 0; r < p; r++) {
    d.r = r;
    d.st[0] = r;
    d.st[1] = 2 * p - 1 - r;
    d.nf[0] = d.nf[1] = d.nb[0] = d.nb[1] = 0;
    d.wq_head = d.wq_tail = 0;
    for (int k = 0; k < 2 * (p - 1 - r); k++)
      if ((rc = dpv_op(&d, 0, PL_OP_F)) != 0)
        goto fail;
    for (int k = 0; k < r + 1; k++)
      if ((rc = dpv_op(&d, 0, PL_OP_F)) != 0 ||
          (rc = dpv_op(&d, 1, PL_OP_F)) != 0)
        goto fail;
    for (int k = 0; k < p - 1 - r; k++)
      if ((rc = dpv_op(&d, 1, PL_OP_B)) != 0 || (rc = dpv_w(&d)) != 0 ||
          (rc = dpv_op(&d, 1, PL_OP_F)) != 0)
        goto fail;
    for (int k = 0; k < m - 2 * p + r + 1; k++) {
      if (k == 0 && r == p - 1) {
        if ((rc = dpv_op(&d, 0, PL_OP_F)) != 0 ||
            (rc = dpv_op(&d, 1, PL_OP_BW)) != 0)
          goto fail;
      } else if ((rc = dpv_fused(&d, 0, 1)) != 0) {
        goto fail;
      }
      if ((rc = dpv_fused(&d, 1, 0)) != 0)
        goto fail;
    }
    for (int k = 0; k < p - 1 - r; k++)
      if ((rc = dpv_op(&d, 1, PL_OP_BW)) != 0 ||
          (rc = dpv_fused(&d, 1, 0)) != 0)
        goto fail;
    int split = 0, half = (r + 1) / 2;
    for (int k = 0; k < r + 1; k++) {
      if (k == half && r % 2 == 1)
        split = 1;
      if ((rc = dpv_op(&d, 1, split ? PL_OP_B : PL_OP_BW)) != 0)
        goto fail;
      if (k == half && r % 2 == 0)
        split = 1;
      if ((rc = dpv_op(&d, 0, split ? PL_OP_B : PL_OP_BW)) != 0)
        goto fail;
    }
    for (int k = 0; k < p - 1 - r; k++)
      if ((rc = dpv_w(&d)) != 0 ||
          (rc = dpv_op(&d, 0, split ? PL_OP_B : PL_OP_BW)) != 0)
        goto fail;
    for (int k = 0; k < r + 1; k++)
      if ((rc = dpv_w(&d)) != 0)
        goto fail;
  }
  pl_free(d.wq);
  *out = d.s;
  return 0;
fail:
  pl_free(d.wq);
  return oom(d.s, eb);
}

/* ------------------------------------- interleaved 1F1B / zero bubble --- */

/*
 * PyTorch's rounds rule: rounds = max(1, m / p) and mpr = m / rounds
 * microbatches per round; m must be a multiple of rounds. *mpr gets mpr.
 */
static int rounds_rule(const pl_gen_params *gp, const char *name, int *mpr,
                       struct pl_errbuf *eb)
{
  int rounds = gp->m / gp->p > 1 ? gp->m / gp->p : 1;
  if (gp->m % rounds != 0) {
    int lo = gp->m / rounds * rounds, hi = lo + rounds;
    return pl_errf(eb, PL_EINVAL,
                   "%s needs microbatches to be a multiple of the number of "
                   "rounds max(1, m/p) = %d (PyTorch's rule), got m=%d p=%d: "
                   "use --microbatches %d or %d",
                   name, rounds, gp->m, gp->p, lo, hi);
  }
  *mpr = gp->m / rounds;
  return 0;
}

/*
 * The shared builder of ScheduleInterleaved1F1B (factor 2, full backwards)
 * and ScheduleInterleavedZeroBubble (factor 1, input backwards, Ws): per
 * rank r, warm-up min((v-1)*mpr + factor*(p-1-r), v*m) forwards, then one
 * F and one backward per step, then the remaining backwards. Forward step k
 * runs local chunk (k / mpr) % v, backward step k chunk
 * v-1 - ((k - warmup) / mpr) % v; each chunk counts its own microbatches.
 * With zb, once r backwards have run, every backward is followed by the W of
 * the oldest backward still owing one; the rest are flushed at the end.
 */
static int interleaved_pt(const pl_gen_params *gp, int zb, const char *name,
                          pl_sched **out, struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, v = gp->v, mpr = 1, rc;
  pl_sched *s = NULL;
  *out = NULL;
  if ((rc = check_shape(gp, name, eb)) != 0 ||
      (rc = rounds_rule(gp, name, &mpr, eb)) != 0)
    return rc;
  if ((rc = pl_sched_create(p, p * v, m, PL_PLACE_LOOP, &s, eb)) != 0)
    return rc;
  int *cnt = pl_calloc((size_t)v * 3, sizeof *cnt);
  int *bq = pl_malloc((size_t)v * (size_t)m * sizeof *bq);
  if (!cnt || !bq) {
    pl_free(cnt);
    pl_free(bq);
    return oom(s, eb);
  }
  int *nf = cnt, *nb = cnt + v, *nw = cnt + 2 * v;
  int bkind = zb ? PL_OP_B : PL_OP_BW;
  int total = v * m;
  for (int r = 0; r < p; r++) {
    int warm = (v - 1) * mpr + (zb ? 1 : 2) * (p - 1 - r);
    if (warm > total)
      warm = total;
    for (int c = 0; c < 3 * v; c++)
      cnt[c] = 0;
    int nbq = 0, wdone = 0;
    for (int op = 0; op < total + warm; op++) {
      if (op < total) {
        int c = (op / mpr) % v;
        PUSH(s, r, PL_OP_F, c * p + r, nf[c]++);
      }
      if (op < warm)
        continue;
      int c = v - 1 - ((op - warm) / mpr) % v;
      PUSH(s, r, bkind, c * p + r, nb[c]++);
      bq[nbq++] = c;
      if (zb && op - warm >= r) {
        int wc = bq[wdone++];
        PUSH(s, r, PL_OP_W, wc * p + r, nw[wc]++);
      }
    }
    while (zb && wdone < nbq) {
      int wc = bq[wdone++];
      PUSH(s, r, PL_OP_W, wc * p + r, nw[wc]++);
    }
  }
  pl_free(cnt);
  pl_free(bq);
  *out = s;
  return 0;
fail:
  pl_free(cnt);
  pl_free(bq);
  return oom(s, eb);
}

int pl_gen_interleaved_zb(const pl_gen_params *gp, pl_sched **out,
                          struct pl_errbuf *eb)
{
  return interleaved_pt(gp, 1, "interleaved-zb", out, eb);
}

int pl_gen_interleaved_relaxed(const pl_gen_params *gp, pl_sched **out,
                               struct pl_errbuf *eb)
{
  return interleaved_pt(gp, 0, "interleaved-relaxed", out, eb);
}

/* ----------------------------------------------------------- looped BFS --- */

/* Rank r: every microbatch's forward through its chunks in stage order, then
 * the full backwards through the chunks in reverse order, each chunk's
 * microbatches last to first. */
int pl_gen_looped_bfs(const pl_gen_params *gp, pl_sched **out,
                      struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, v = gp->v, rc;
  pl_sched *s = NULL;
  *out = NULL;
  if ((rc = check_shape(gp, "looped-bfs", eb)) != 0)
    return rc;
  if ((rc = pl_sched_create(p, p * v, m, PL_PLACE_LOOP, &s, eb)) != 0)
    return rc;
  for (int r = 0; r < p; r++) {
    for (int c = 0; c < v; c++)
      for (int i = 0; i < m; i++)
        PUSH(s, r, PL_OP_F, c * p + r, i);
    for (int c = v - 1; c >= 0; c--)
      for (int i = m - 1; i >= 0; i--)
        PUSH(s, r, PL_OP_BW, c * p + r, i);
  }
  *out = s;
  return 0;
fail:
  return oom(s, eb);
}

/* ---------------------------------------------------------- ZBV (fixed) --- */

/* Appends op unless its microbatch is one of the padding ones (>= m). */
static int zbv_push(pl_sched *s, int r, int kind, int g, int mb, int m)
{
  return mb < m ? pl_sched_push3(s, r, kind, g, mb) : 0;
}

/*
 * ScheduleZBVZeroBubble, rank r, chunk 0 = stage r, chunk 1 = stage 2p-1-r,
 * over n = max(2p-1, m) microbatches (the padding ones are dropped):
 * warm-up 2(p-r)-1 F0; r pairs F1, F0; p-r triples F1, I1, W1; steady
 * state while chunk 1 lags chunk 0 or chunk 0 has forwards left: [F0], I0,
 * W0, F1, I1, W1; cool-down r pairs I0, I1; p-r pairs I0, W0; then the
 * owed W1s and W0s in microbatch order.
 */
int pl_gen_zbv_pytorch(const pl_gen_params *gp, pl_sched **out,
                       struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, rc;
  pl_sched *s = NULL;
  *out = NULL;
  if ((rc = pl__zb_check_chunks(gp, 2, "zbv-pytorch", eb)) != 0)
    return rc;
  if ((rc = pl_sched_create(p, 2 * p, m, PL_PLACE_V, &s, eb)) != 0)
    return rc;
  int n = 2 * p - 1 > m ? 2 * p - 1 : m;
  for (int r = 0; r < p; r++) {
    int s0 = r, s1 = 2 * p - 1 - r;
    int f0 = 0, f1 = 0, b0 = 0, b1 = 0;
#define Z(k, g, mb)                                                         \
  do {                                                                      \
    if ((rc = zbv_push(s, r, (k), (g), (mb), m)) != 0)                      \
      goto fail;                                                            \
  } while (0)
    for (int k = 0; k < 2 * (p - r) - 1; k++)
      Z(PL_OP_F, s0, f0++);
    for (int k = 0; k < r; k++) {
      Z(PL_OP_F, s1, f1++);
      Z(PL_OP_F, s0, f0++);
    }
    for (int k = 0; k < p - r; k++) {
      Z(PL_OP_F, s1, f1++);
      Z(PL_OP_B, s1, b1);
      Z(PL_OP_W, s1, b1++);
    }
    while (f1 < f0 || f0 < n) {
      if (f0 < n)
        Z(PL_OP_F, s0, f0++);
      Z(PL_OP_B, s0, b0);
      Z(PL_OP_W, s0, b0++);
      Z(PL_OP_F, s1, f1++);
      Z(PL_OP_B, s1, b1);
      Z(PL_OP_W, s1, b1++);
    }
    int w0 = b0, w1 = b1;
    for (int k = 0; k < r; k++) {
      Z(PL_OP_B, s0, b0++);
      Z(PL_OP_B, s1, b1++);
    }
    for (int k = 0; k < p - r; k++) {
      Z(PL_OP_B, s0, b0++);
      Z(PL_OP_W, s0, w0++);
    }
    while (w1 < b1)
      Z(PL_OP_W, s1, w1++);
    while (w0 < b0)
      Z(PL_OP_W, s0, w0++);
#undef Z
    if (f0 != n || f1 != n || b0 != n || b1 != n) {
      pl_sched_destroy(s);
      return pl_errf(eb, PL_EINVALSCHED,
                     "zbv-pytorch: rank %d ran %d/%d forwards and %d/%d "
                     "backwards of %d", r, f0, f1, b0, b1, n);
    }
  }
  *out = s;
  return 0;
fail:
  return oom(s, eb);
}
