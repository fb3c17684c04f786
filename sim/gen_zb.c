/* gen_zb.c: the hand-crafted zero-bubble schedules ZB-H1 and ZB-H2
 * (docs/zero-bubble.md; the ZB paper §2 and the authors'
 * efficiency.get_hand_schedule). The automatic scheduler is in zb_auto.c,
 * the V-shaped schedules in gen_v.c. */
#include "pipelab/pipelab.h"
#include "sched_int.h"

int pl__zb_check_chunks(const pl_gen_params *gp, int want, const char *name,
                        struct pl_errbuf *eb)
{
  if (gp->v != want)
    return pl_errf(eb, PL_EINVAL,
                   "%s runs %d chunk%s per rank, got --chunks %d (drop "
                   "--chunks or pass --chunks %d)",
                   name, want, want == 1 ? "" : "s", gp->v, want);
  if (gp->p < 1 || gp->m < 1)
    return pl_errf(eb, PL_EINVAL,
                   "%s needs at least 1 stage and 1 microbatch, got p=%d m=%d",
                   name, gp->p, gp->m);
  if (gp->m > (1 << 22))
    return pl_errf(eb, PL_EINVAL,
                   "%s: at most %d microbatches, got %d", name, 1 << 22,
                   gp->m);
  if ((long)gp->p * want > 32767)
    return pl_errf(eb, PL_EINVAL, "%s: too many stages (p=%d, at most %d)",
                   name, gp->p, 32767 / want);
  return 0;
}

/*
 * Rank i: warm-up min(c*(p-1-i), m) forwards; then for k = 0..m-1 the next F
 * (if any is left), B(k), and once k >= c*i the oldest pending W; then the
 * remaining Ws in microbatch order. c = 1 is ZB-H1, c = 2 ZB-H2.
 */
static int zb_hand(const pl_gen_params *gp, int c, const char *name,
                   pl_sched **out, struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, rc;
  pl_sched *s = NULL;
  *out = NULL;
  if ((rc = pl__zb_check_chunks(gp, 1, name, eb)) != 0)
    return rc;
  if ((rc = pl_sched_create(p, p, m, PL_PLACE_SINGLE, &s, eb)) != 0)
    return rc;
  rc = pl__sched_reserve(s, 3 * (size_t)m); /* F, B and W of each mb */
  for (int r = 0; r < p && rc == 0; r++) {
    int warm = c * (p - 1 - r);
    if (warm > m)
      warm = m;
    int nf = 0, nw = 0;
    for (; nf < warm && rc == 0; nf++)
      rc = pl__sched_push_op(s, r, PL_OP_F, r, nf);
    for (int k = 0; k < m && rc == 0; k++) {
      if (nf < m)
        rc = pl__sched_push_op(s, r, PL_OP_F, r, nf++);
      if (rc == 0)
        rc = pl__sched_push_op(s, r, PL_OP_B, r, k);
      if (rc == 0 && k >= c * r)
        rc = pl__sched_push_op(s, r, PL_OP_W, r, nw++);
    }
    while (rc == 0 && nw < m)
      rc = pl__sched_push_op(s, r, PL_OP_W, r, nw++);
  }
  if (rc) {
    pl_sched_destroy(s);
    return pl_errf(eb, rc, "out of memory");
  }
  *out = s;
  return 0;
}

int pl_gen_zb_h1(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb)
{
  return zb_hand(gp, 1, "zb-h1", out, eb);
}

/* Upstream asserts m >= 2p; docs/zero-bubble.md (worked values) shows that the clamped
 * warm-up still gives a valid (if bubbly) schedule for any m, so pipelab
 * simulates it instead of refusing. */
int pl_gen_zb_h2(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb)
{
  return zb_hand(gp, 2, "zb-h2", out, eb);
}
