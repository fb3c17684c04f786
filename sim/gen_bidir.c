/* gen_bidir.c: wave and bidirectional schedules (docs/bidirectional.md).
 *
 *   hanayo    Hanayo's wave-like pipeline (Liu et al., SC23): W waves, each
 *             rank holding 2W chunks in zig-zag placement
 *   chimera   Chimera (Li & Hoefler, SC21): two 1F1B pipelines in opposite
 *             directions merged slot by slot; every stage has a copy
 *   dualpipe  DeepSeek-V3's DualPipe: two pipelines in opposite directions
 *             with fused F&B ops; every stage has a copy
 *
 * Chimera and DualPipe place a copy of every stage on a second rank
 * (pl_sched_set_replica): rank r holds stage r of the "down" pipeline and
 * the copy of stage p-1-r, which belongs to the "up" pipeline; half of the
 * microbatches run down, half up (pl_sched_set_mb_pipe).
 */
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

static int oom(pl_sched *s, struct pl_errbuf *eb)
{
  pl_sched_destroy(s);
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

/* Stage g on rank g, its copy on rank p-1-g; microbatches [lo, hi) of each
 * unit listed in `up` run through the copies. */
static int mirror_replicas(pl_sched *s)
{
  int p = pl_sched_ranks(s), rc = 0;
  for (int g = 0; g < p && !rc; g++)
    rc = pl_sched_set_replica(s, g, p - 1 - g);
  return rc;
}

/* ---------------------------------------------------- list scheduling --- */

/*
 * The order both Hanayo and Chimera use, built by list scheduling on unit
 * slots (a forward takes 1 slot, a full backward bslots): at
 * every slot each idle rank runs, among its ready ops, a backward first,
 * else a forward while it holds fewer than `cap` activations (0 = no
 * limit); among several, the microbatch that entered its pipeline first,
 * then the deeper stage, then pipeline 0. Stage k of the expanded form
 * (pipeline k / L, stage k % L) lives on rank[k]; microbatch mb runs
 * through pipeline pipe[mb] (NULL: all through pipeline 0) and each stage
 * runs its microbatches in order. Should every rank stall on the limit, it
 * is lifted for that slot. Ops are pushed with the stage k % L.
 */
struct lsched {
  int p, n, L, m;   /* ranks, expanded stages, stages per pipeline, mbs */
  const int *rank;  /* [n] */
  const unsigned char *pipe; /* [m] or NULL */
  long cap;
  int base;         /* pushed microbatch = mb + base */
  int bslots;       /* slots of a backward (a forward takes 1) */
};

static int list_schedule(const struct lsched *q, pl_sched *s,
                         struct pl_errbuf *eb)
{
  const int p = q->p, n = q->n, L = q->L, m = q->m;
  int rc = 0;
  /* Microbatches of each pipeline in order; seq[k] = list of stage k. */
  int *list[2] = {NULL, NULL}, len[2] = {0, 0};
  size_t cells = (size_t)n * (size_t)m;
  long *fdone = pl_malloc(cells * sizeof *fdone);
  long *bdone = pl_malloc(cells * sizeof *bdone);
  int *nf = pl_calloc((size_t)n, sizeof *nf);
  int *nb = pl_calloc((size_t)n, sizeof *nb);
  long *busy = pl_calloc((size_t)p, sizeof *busy);
  long *held = pl_calloc((size_t)p, sizeof *held);
  list[0] = pl_malloc((size_t)m * sizeof(int));
  list[1] = pl_malloc((size_t)m * sizeof(int));
  if (!fdone || !bdone || !nf || !nb || !busy || !held || !list[0] ||
      !list[1]) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto done;
  }
  for (int mb = 0; mb < m; mb++) {
    int k = q->pipe ? q->pipe[mb] : 0;
    list[k][len[k]++] = mb;
  }
  for (size_t i = 0; i < cells; i++)
    fdone[i] = bdone[i] = -1;
  size_t left = 0;
  for (int k = 0; k < n; k++)
    left += 2 * (size_t)len[k / L];
  for (long t = 0; left > 0 && !rc; t++) {
    int started = 0, idle_all = 1;
    for (int relax = 0; relax < 2 && !started; relax++) {
      if (relax && !idle_all)
        break;
      for (int r = 0; r < p && !rc; r++) {
        if (busy[r] > t)
          continue;
        int best_b = -1, best_f = -1;
        for (int k = 0; k < n; k++) {
          if (q->rank[k] != r)
            continue;
          int pk = k / L, last = k % L == L - 1, first = k % L == 0;
          int b = nb[k];
          if (b < len[pk] && b < nf[k]) {
            int mb = list[pk][b];
            long fe = fdone[(size_t)k * m + mb];
            long de = last ? fe : bdone[(size_t)(k + 1) * m + mb];
            if (fe >= 0 && fe <= t && de >= 0 && de <= t &&
                (best_b < 0 || b < nb[best_b] ||
                 (b == nb[best_b] && k % L > best_b % L)))
              best_b = k;
          }
          int f = nf[k];
          if (f < len[pk]) {
            int mb = list[pk][f];
            long pe = first ? 0 : fdone[(size_t)(k - 1) * m + mb];
            if (pe >= 0 && pe <= t &&
                (best_f < 0 || f < nf[best_f] ||
                 (f == nf[best_f] && k % L > best_f % L)))
              best_f = k;
          }
        }
        int k, kind, mb;
        if (best_b >= 0) {
          k = best_b;
          mb = list[k / L][nb[k]++];
          bdone[(size_t)k * m + mb] = t + q->bslots;
          busy[r] = t + q->bslots;
          held[r]--;
          kind = PL_OP_BW;
        } else if (best_f >= 0 &&
                   (q->cap <= 0 || held[r] < q->cap || relax)) {
          k = best_f;
          mb = list[k / L][nf[k]++];
          fdone[(size_t)k * m + mb] = t + 1;
          busy[r] = t + 1;
          held[r]++;
          kind = PL_OP_F;
        } else {
          continue;
        }
        if (pl_sched_push3(s, r, kind, k % L, mb + q->base))
          rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        started = 1;
        left--;
      }
      for (int r = 0; r < p; r++)
        if (busy[r] > t)
          idle_all = 0;
    }
    if (!rc && !started && idle_all)
      rc = pl_errf(eb, PL_EINVAL, "%s: list scheduling stalled",
                   pl_sched_name(s)); /* cannot happen for a DAG */
  }
done:
  pl_free(fdone);
  pl_free(bdone);
  pl_free(nf);
  pl_free(nb);
  pl_free(busy);
  pl_free(held);
  pl_free(list[0]);
  pl_free(list[1]);
  return rc;
}

/* --------------------------------------------------------------- hanayo --- */

/*
 * Hanayo: S = p*v stages (v = 2W) in zig-zag placement (wave k runs down
 * the ranks when k is even, up when odd), ordered by the list scheduling
 * above on equal slots with at most p*v chunk activations per rank (1F1B's
 * p units). For F = B this gives the bubble (p-1)(F+B)/(2W).
 */
int pl_gen_hanayo(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, v = gp->v, rc;
  *out = NULL;
  if (v < 2 || v % 2 != 0 || (long)p * v > 32767)
    return pl_errf(eb, PL_EINVAL,
                   "hanayo needs an even number of chunks per rank, 2 per "
                   "wave (--waves W gives 2W chunks), got %d",
                   v);
  if (m > (1 << 16))
    return pl_errf(eb, PL_EINVAL, "hanayo: at most %d microbatches, got %d",
                   1 << 16, m);
  const int S = p * v;
  pl_sched *s;
  if ((rc = pl_sched_create(p, S, m, PL_PLACE_V, &s, eb)) != 0)
    return rc;
  pl_sched_set_name(s, "hanayo");
  struct lsched q = {p, S, S, m, s->stage_rank, NULL, (long)p * v, 0, 1};
  if ((rc = list_schedule(&q, s, eb)) != 0) {
    pl_sched_destroy(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* -------------------------------------------------------------- chimera --- */

/*
 * Chimera: p even, m even. Microbatches go in basic units of p (the last
 * unit may be smaller, still even): in each unit the first half runs down
 * (stage g on rank g), the second half up (the copy of g on rank p-1-g),
 * ordered by the list scheduling above without a memory limit (each
 * pipeline then runs 1F1B-like: a backward as soon as it is ready) on the
 * paper's slots, where a forward and a backward take one slot each; the
 * units are concatenated on every rank (the paper's direct concatenation).
 */
int pl_gen_chimera(const pl_gen_params *gp, pl_sched **out,
                   struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, rc;
  *out = NULL;
  if ((rc = pl__zb_check_chunks(gp, 1, "chimera", eb)) != 0)
    return rc;
  if (p < 2 || p % 2 != 0)
    return pl_errf(eb, PL_EINVAL,
                   "chimera needs an even number of stages (two pipelines "
                   "facing each other), got %d: use --stages %d",
                   p, p < 2 ? 2 : p + 1);
  if (m % 2 != 0)
    return pl_errf(eb, PL_EINVAL,
                   "chimera splits the microbatches evenly between its two "
                   "pipelines, got m=%d: use --microbatches %d",
                   m, m + 1);
  if (m > (1 << 20))
    return pl_errf(eb, PL_EINVAL, "chimera: at most %d microbatches, got %d",
                   1 << 20, m);
  pl_sched *s;
  if ((rc = pl_sched_create(p, p, m, PL_PLACE_SINGLE, &s, eb)) != 0)
    return rc;
  pl_sched_set_name(s, "chimera");
  int *rank = pl_malloc((size_t)(2 * p) * sizeof *rank);
  unsigned char *pipe = pl_malloc((size_t)p);
  if (!rank || !pipe || mirror_replicas(s)) {
    pl_free(rank);
    pl_free(pipe);
    return oom(s, eb);
  }
  for (int g = 0; g < p; g++) {
    rank[g] = g;
    rank[p + g] = p - 1 - g;
  }
  for (int base = 0; base < m && !rc; base += p) {
    int n = m - base < p ? m - base : p;
    for (int i = 0; i < n; i++) {
      pipe[i] = (unsigned char)(i >= n / 2);
      if (pipe[i] && pl_sched_set_mb_pipe(s, base + i, 1))
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    }
    struct lsched q = {p, 2 * p, p, n, rank, pipe, 0, base, 1};
    if (!rc)
      rc = list_schedule(&q, s, eb);
  }
  pl_free(rank);
  pl_free(pipe);
  if (rc) {
    pl_sched_destroy(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ------------------------------------------------------------- dualpipe --- */

/*
 * DualPipe (DeepSeek's dualpipe.py) on p ranks and m microbatches is the
 * DualPipeV order of p/2 ranks and m/2 microbatches played twice: rank r
 * and rank p-1-r both run the list of DualPipeV's rank h = min(r, p-1-r),
 * whose chunk 0 is stage h and chunk 1 stage p-1-h. On rank r an op of
 * stage g runs down (stage g lives on rank g) when g and r lie in the same
 * half of the pipeline, else up (the copy of g on rank p-1-g); up
 * microbatches are numbered m/2 .. m-1.
 */
int pl_gen_dualpipe(const pl_gen_params *gp, pl_sched **out,
                    struct pl_errbuf *eb)
{
  int p = gp->p, m = gp->m, rc;
  *out = NULL;
  if ((rc = pl__zb_check_chunks(gp, 1, "dualpipe", eb)) != 0)
    return rc;
  if (p < 2 || p % 2 != 0)
    return pl_errf(eb, PL_EINVAL,
                   "dualpipe needs an even number of stages (two halves "
                   "facing each other), got %d: use --stages %d",
                   p, p < 2 ? 2 : p + 1);
  if (m % 2 != 0 || m < 2 * p)
    return pl_errf(eb, PL_EINVAL,
                   "dualpipe needs an even number of microbatches, at least "
                   "2p = %d (DualPipe's rule), got m=%d: use --microbatches "
                   "%d",
                   2 * p, m, m < 2 * p ? 2 * p : m + 1);
  int ph = p / 2, half = m / 2;
  pl_gen_params q = *gp;
  q.p = ph;
  q.m = half;
  q.v = 2;
  pl_sched *v = NULL, *s = NULL;
  if ((rc = pl_gen_dualpipev(&q, &v, eb)) != 0)
    return rc;
  if ((rc = pl_sched_create(p, p, m, PL_PLACE_SINGLE, &s, eb)) != 0) {
    pl_sched_destroy(v);
    return rc;
  }
  if (mirror_replicas(s))
    goto nomem;
  for (int mb = half; mb < m; mb++)
    if (pl_sched_set_mb_pipe(s, mb, 1))
      goto nomem;
  for (int r = 0; r < p; r++) {
    int h = r < ph ? r : p - 1 - r;
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(v, h, &n);
    for (size_t i = 0; i < n; i++) {
      pl_op op = ops[i];
      if ((op.stage < ph) != (r < ph))
        op.mb += half;
      if (op.kind == PL_OP_FB && (op.stage2 < ph) != (r < ph))
        op.mb2 += half;
      if (pl_sched_push(s, r, op))
        goto nomem;
    }
  }
  pl_sched_destroy(v);
  *out = s;
  return 0;
nomem:
  pl_sched_destroy(v);
  return oom(s, eb);
}
