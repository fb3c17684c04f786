/* gen_basic.c: GPipe, 1F1B and Megatron's interleaved 1F1B (docs/
 * architecture.md). The orders are written exactly as the reference
 * implementations emit them, so that simulated timings match theirs. */
#include "pipelab/pipelab.h"
#include "sched_int.h"

#define PUSH(s, r, k, g, mb)                                                \
  do {                                                                      \
    if ((rc = pl__sched_push_op((s), (r), (k), (g), (mb))) != 0)            \
      goto fail;                                                            \
  } while (0)

static int check_v1(const pl_gen_params *gp, const char *name,
                    struct pl_errbuf *eb)
{
  if (gp->v != 1)
    return pl_errf(eb, PL_EINVAL,
                   "%s has one chunk per rank, got --chunks %d (drop --chunks "
                   "or use 'interleaved')",
                   name, gp->v);
  return 0;
}

int pl_gen_gpipe(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, rc;
  pl_sched *s = NULL;
  if ((rc = check_v1(gp, "gpipe", eb)) != 0)
    return rc;
  if ((rc = pl_sched_create(p, p, m, PL_PLACE_SINGLE, &s, eb)) != 0)
    return rc;
  if ((rc = pl__sched_reserve(s, 2 * (size_t)m)) != 0) /* one F, one BW */
    goto fail;
  /* PyTorch's ScheduleGPipe runs the backwards in forward order. */
  for (int r = 0; r < p; r++) {
    for (int i = 0; i < m; i++)
      PUSH(s, r, PL_OP_F, r, i);
    for (int i = 0; i < m; i++)
      PUSH(s, r, PL_OP_BW, r, i);
  }
  *out = s;
  return 0;
fail:
  pl_sched_destroy(s);
  return pl_errf(eb, rc, "out of memory");
}

int pl_gen_1f1b(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, rc;
  pl_sched *s = NULL;
  if ((rc = check_v1(gp, "1f1b", eb)) != 0)
    return rc;
  if ((rc = pl_sched_create(p, p, m, PL_PLACE_SINGLE, &s, eb)) != 0)
    return rc;
  if ((rc = pl__sched_reserve(s, 2 * (size_t)m)) != 0) /* one F, one BW */
    goto fail;
  for (int r = 0; r < p; r++) {
    /* Warm-up clamped to m: with m < p the schedule still runs (PyTorch
     * refuses; we simulate and let the bubble speak). */
    int w = p - 1 - r < m ? p - 1 - r : m;
    for (int i = 0; i < w; i++)
      PUSH(s, r, PL_OP_F, r, i);
    for (int k = 0; k < m - w; k++) {
      PUSH(s, r, PL_OP_F, r, w + k);
      PUSH(s, r, PL_OP_BW, r, k);
    }
    for (int k = m - w; k < m; k++)
      PUSH(s, r, PL_OP_BW, r, k);
  }
  *out = s;
  return 0;
fail:
  pl_sched_destroy(s);
  return pl_errf(eb, rc, "out of memory");
}

/*
 * Megatron's virtual-microbatch table: microbatches go through the chunks in
 * groups of g (default p). Slot k of a rank's forward list runs (mb, chunk);
 * the backward list uses chunk v-1-c. A final partial group is allowed when it
 * still holds at least p microbatches (Megatron-Core's rule).
 */
static void vslot(int k, int m, int v, int g, int *mb, int *chunk)
{
  int full = m / g * g; /* microbatches in complete groups */
  int gv = g * v;
  if (k < full * v) {
    *chunk = (k % gv) / g;
    *mb = (k / gv) * g + (k % g);
  } else {
    int rem = m - full, kk = k - full * v;
    *chunk = kk / rem;
    *mb = full + kk % rem;
  }
}

int pl_gen_interleaved(const pl_gen_params *gp, pl_sched **out,
                       struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, v = gp->v, rc;
  int g = gp->group > 0 ? gp->group : p;
  pl_sched *s = NULL;
  if (v < 1 || v > 32767 / p)
    return pl_errf(eb, PL_EINVAL,
                   "interleaved needs --chunks between 1 and %d, got %d",
                   32767 / p, v);
  if (gp->group <= 0 && m % p != 0)
    return pl_errf(eb, PL_EINVAL,
                   "interleaved needs microbatches to be a multiple of stages "
                   "(Megatron's constraint m %% p == 0), got m=%d p=%d: use "
                   "--microbatches %d or %d",
                   m, p, m / p * p > 0 ? m / p * p : p, (m / p + 1) * p);
  if (gp->group > 0 && (g < p || g > m || (m % g != 0 && m % g < p)))
    return pl_errf(eb, PL_EINVAL,
                   "interleaved group size must satisfy p <= g <= m and "
                   "(m %% g == 0 or m %% g >= p), got g=%d p=%d m=%d",
                   g, p, m);
  if ((rc = pl_sched_create(p, p * v, m, PL_PLACE_LOOP, &s, eb)) != 0)
    return rc;
  if ((rc = pl__sched_reserve(s, 2 * (size_t)m * (size_t)v)) != 0)
    goto fail;
  int total = m * v;
  for (int r = 0; r < p; r++) {
    int w = 2 * (p - 1 - r) + (v - 1) * g;
    if (w > total)
      w = total;
    int mb, c;
    for (int k = 0; k < w; k++) {
      vslot(k, m, v, g, &mb, &c);
      PUSH(s, r, PL_OP_F, c * p + r, mb);
    }
    for (int k = 0; k < total - w; k++) {
      vslot(w + k, m, v, g, &mb, &c);
      PUSH(s, r, PL_OP_F, c * p + r, mb);
      vslot(k, m, v, g, &mb, &c);
      PUSH(s, r, PL_OP_BW, (v - 1 - c) * p + r, mb);
    }
    for (int k = total - w; k < total; k++) {
      vslot(k, m, v, g, &mb, &c);
      PUSH(s, r, PL_OP_BW, (v - 1 - c) * p + r, mb);
    }
  }
  *out = s;
  return 0;
fail:
  pl_sched_destroy(s);
  return pl_errf(eb, rc, "out of memory");
}
