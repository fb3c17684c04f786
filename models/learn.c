/*
 * learn.c: costs learned from a measured iteration (docs/learned-costs.md).
 * pl_learn_fit turns the per-op rows of one or more measured iterations of
 * one schedule (a result of `pipelab run`, an imported Kineto trace) into a
 * per-(stage, op kind) cost table: the median over microbatches with its
 * robust spread, outliers excluded; the per-op runtime overhead (the gap
 * between an op that was ready and the previous op on its rank) and the P2P
 * time (the wait of an op whose input came from another rank while its rank
 * was idle). pl_learned_apply prices any schedule with the same number of
 * ranks from it: chunked schedules get the layers each chunk holds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/models.h"

#define MAD_SIGMA 1.4826 /* MAD of a normal sample -> standard deviation */

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median_sorted(const double *x, size_t n)
{
  if (!n)
    return 0;
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Robust statistics of x[n] (reordered): the median of the samples within
 * k * 1.4826 * MAD of the first median (all of them when MAD is 0), their
 * relative spread 1.4826 * MAD / median, min and max. */
static void robust_stat(double *x, size_t n, double k, pl_learned_stat *st)
{
  memset(st, 0, sizeof *st);
  if (!n)
    return;
  qsort(x, n, sizeof *x, cmp_double);
  double med = median_sorted(x, n);
  double *dev = pl_malloc(n * sizeof *dev);
  if (!dev) { /* keep every sample */
    st->median = med;
    st->min = x[0];
    st->max = x[n - 1];
    st->count = (int)n;
    return;
  }
  for (size_t i = 0; i < n; i++)
    dev[i] = fabs(x[i] - med);
  qsort(dev, n, sizeof *dev, cmp_double);
  double mad = median_sorted(dev, n);
  size_t lo = 0, hi = n; /* kept: x[lo .. hi) (x is sorted) */
  if (mad > 0) {
    double lim = k * MAD_SIGMA * mad;
    while (lo < n && med - x[lo] > lim)
      lo++;
    while (hi > lo && x[hi - 1] - med > lim)
      hi--;
  }
  size_t m = hi - lo;
  st->median = median_sorted(x + lo, m);
  for (size_t i = 0; i < m; i++)
    dev[i] = fabs(x[lo + i] - st->median);
  qsort(dev, m, sizeof *dev, cmp_double);
  double mad2 = median_sorted(dev, m);
  st->dispersion = st->median > 0 ? MAD_SIGMA * mad2 / st->median : 0;
  st->min = x[lo];
  st->max = x[hi - 1];
  st->count = (int)m;
  st->excluded = (int)(n - m);
  pl_free(dev);
}

/* A growable list of doubles. */
struct vec {
  double *x;
  size_t n, cap;
};

static int vec_push(struct vec *v, double x)
{
  if (v->n == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 16;
    double *nx = pl_realloc(v->x, cap * sizeof *nx);
    if (!nx)
      return PL_ENOMEM;
    v->x = nx;
    v->cap = cap;
  }
  v->x[v->n++] = x;
  return PL_OK;
}

void pl_learned_free(pl_learned *l)
{
  if (!l)
    return;
  pl_free(l->stage);
  pl_free(l);
}

int pl_learned_alloc(int stages, pl_learned **out)
{
  *out = NULL;
  if (stages < 1 || stages > 32768)
    return PL_EINVAL;
  pl_learned *l = pl_calloc(1, sizeof *l);
  if (!l)
    return PL_ENOMEM;
  l->stage = pl_calloc((size_t)stages, sizeof *l->stage);
  if (!l->stage) {
    pl_free(l);
    return PL_ENOMEM;
  }
  l->stages = stages;
  *out = l;
  return PL_OK;
}

/* Index of an op's output among the iteration's ops: key (class, stage,
 * mb) -> position in the result's op array. class 0 = F, 1 = B or BW (the
 * input gradient), 2 = W. */
struct opidx {
  int S, M;
  long *at; /* [3][S][M], -1 = none */
};

static long *opidx_slot(struct opidx *ix, int cls, int g, int mb)
{
  if (g < 0 || g >= ix->S || mb < 0 || mb >= ix->M)
    return NULL;
  return &ix->at[((size_t)cls * ix->S + g) * ix->M + mb];
}

static int op_class(int kind)
{
  return kind == PL_OP_F ? 0 : kind == PL_OP_W ? 2 : 1;
}

/* The op that produced the input of op o (its data predecessor), or NULL:
 * F(g) <- F(g-1); B/BW(g) <- B/BW(g+1), the last stage's <- its F; W <- B. */
static const pl_op_rec *producer(const pl_result *r, struct opidx *ix,
                                 const pl_op *o)
{
  long *p = NULL;
  int S = ix->S;
  switch (o->kind) {
  case PL_OP_F:
    p = o->stage > 0 ? opidx_slot(ix, 0, o->stage - 1, o->mb) : NULL;
    break;
  case PL_OP_B:
  case PL_OP_BW:
    p = o->stage < S - 1 ? opidx_slot(ix, 1, o->stage + 1, o->mb)
                         : opidx_slot(ix, 0, o->stage, o->mb);
    break;
  case PL_OP_W:
    p = opidx_slot(ix, 1, o->stage, o->mb);
    break;
  default:
    return NULL;
  }
  return p && *p >= 0 ? &r->ops[*p] : NULL;
}

/* Messages op o (run on rank r) sends to another rank: F to the next
 * stage, B or BW to the previous one (srank: the rank of each stage). */
static int sent_cross(const pl_op *o, int S, const int *srank, int r)
{
  int g = o->stage;
  if (o->kind == PL_OP_F)
    return g + 1 < S && srank[g + 1] >= 0 && srank[g + 1] != r;
  if (o->kind == PL_OP_B || o->kind == PL_OP_BW)
    return g > 0 && srank[g - 1] >= 0 && srank[g - 1] != r;
  return 0;
}

static int check_iteration(const pl_result *r, const pl_result *first,
                           size_t i, struct pl_errbuf *eb)
{
  if (!r->ops || !r->n_ops)
    return pl_errf(eb, PL_EPARSE, "profile %zu (%s) has no per-op rows: "
                   "save it with --save (run) or import a trace", i + 1,
                   r->schedule);
  if (r->stages < 1 || r->virtual_stages < r->stages || r->microbatches < 1)
    return pl_errf(eb, PL_EPARSE, "profile %zu: bad shape p=%d, %d virtual "
                   "stages, m=%d", i + 1, r->stages, r->virtual_stages,
                   r->microbatches);
  if (first && (r->stages != first->stages ||
                r->virtual_stages != first->virtual_stages ||
                strcmp(r->time_unit, first->time_unit)))
    return pl_errf(eb, PL_EPARSE, "profile %zu is of another shape (p=%d, "
                   "%d virtual stages, %s) than the first (p=%d, %d, %s): "
                   "learn from iterations of one schedule", i + 1, r->stages,
                   r->virtual_stages, r->time_unit, first->stages,
                   first->virtual_stages, first->time_unit);
  return PL_OK;
}

/* PL_JITTER_Q equally spaced quantiles of x[n] (sorted here), linear
 * between order statistics; *nq 0 for fewer than 3 samples. */
static void quantiles(double *x, size_t n, double *q, int *nq)
{
  *nq = 0;
  if (n < 3)
    return;
  qsort(x, n, sizeof *x, cmp_double);
  for (int k = 0; k < PL_JITTER_Q; k++) {
    double pos = (double)k / (PL_JITTER_Q - 1) * (double)(n - 1);
    size_t i = (size_t)pos;
    q[k] = i + 1 < n ? x[i] + (pos - (double)i) * (x[i + 1] - x[i]) : x[n - 1];
    if (q[k] > 5) /* the engine's range: a factor of e^5 at most */
      q[k] = 5;
    if (q[k] < -5)
      q[k] = -5;
  }
  *nq = PL_JITTER_Q;
}

/* 1.4826 * MAD of x[n] (reordered); 0 for an empty sample. */
static double robust_sigma(double *x, size_t n)
{
  if (!n)
    return 0;
  qsort(x, n, sizeof *x, cmp_double);
  double med = median_sorted(x, n);
  for (size_t i = 0; i < n; i++)
    x[i] = fabs(x[i] - med);
  qsort(x, n, sizeof *x, cmp_double);
  return MAD_SIGMA * median_sorted(x, n);
}

/* Pushes ln(duration / median of its (stage, kind) in this iteration) of
 * every op of r whose group has at least 3 samples (fused rows left out):
 * the within-iteration variability, free of the drift between
 * iterations. */
static int push_log_ratios(const pl_result *r, int S, struct vec *out)
{
  struct vec *g = pl_calloc((size_t)S * 4, sizeof *g);
  int rc = g ? PL_OK : PL_ENOMEM;
  for (size_t i = 0; i < r->n_ops && !rc; i++) {
    const pl_op *op = &r->ops[i].op;
    double d = r->ops[i].end - r->ops[i].start;
    if (op->kind != PL_OP_FB && d > 0)
      rc = vec_push(&g[op->stage * 4 + op->kind], d);
  }
  for (int k = 0; k < S * 4 && !rc; k++) {
    if (g[k].n < 3)
      continue;
    double *y = pl_malloc(g[k].n * sizeof *y);
    if (!y) {
      rc = PL_ENOMEM;
      break;
    }
    memcpy(y, g[k].x, g[k].n * sizeof *y);
    qsort(y, g[k].n, sizeof *y, cmp_double);
    double med = median_sorted(y, g[k].n);
    pl_free(y);
    for (size_t i = 0; i < g[k].n && !rc; i++)
      rc = vec_push(out, log(g[k].x[i] / med));
  }
  for (int k = 0; g && k < S * 4; k++)
    pl_free(g[k].x);
  pl_free(g);
  return rc;
}

int pl_learn_fit(const pl_result *const *iters, size_t n_iters,
                 const pl_learn_opts *opts, pl_learned **out,
                 struct pl_errbuf *eb)
{
  static const pl_learn_opts defaults = PL_LEARN_OPTS_INIT;
  if (out)
    *out = NULL;
  if (!iters || !n_iters || !out)
    return pl_errf(eb, PL_EINVAL, "learn: no profile given");
  const pl_learn_opts *o = opts ? opts : &defaults;
  int min_samples = o->min_samples > 0 ? o->min_samples : PL_LEARN_MIN_SAMPLES;
  double k = o->outlier_mads > 0 ? o->outlier_mads : PL_LEARN_OUTLIER_MADS;
  if (!(o->b_frac >= 0 && o->b_frac < 1))
    return pl_errf(eb, PL_EINVAL, "learn: the B share of a full backward "
                   "must be in (0, 1), got %g", o->b_frac);
  if (!(o->msg_bytes >= 0) || !(o->bandwidth >= 0) || !isfinite(o->msg_bytes)
      || !isfinite(o->bandwidth))
    return pl_errf(eb, PL_EINVAL, "learn: message bytes and bandwidth must "
                   "be finite and >= 0");
  const pl_result *r0 = iters[0];
  int rc;
  for (size_t i = 0; i < n_iters; i++)
    if ((rc = check_iteration(iters[i], i ? r0 : NULL, i, eb)))
      return rc;
  const int S = r0->virtual_stages, P = r0->stages;
  struct vec *smp = pl_calloc((size_t)S * 4, sizeof *smp);
  struct vec gap = {0}, comm = {0}, jit = {0};
  /* ready gaps next to messages: the gap and the messages copied in it */
  struct vec ogap = {0}, omsg = {0};
  size_t n_fused = 0;
  rc = smp ? PL_OK : PL_ENOMEM;
  for (size_t it = 0; it < n_iters && !rc; it++) {
    const pl_result *r = iters[it];
    int M = 0;
    for (size_t i = 0; i < r->n_ops; i++) {
      const pl_op_rec *q = &r->ops[i];
      if (q->op.stage < 0 || q->op.stage >= S || q->rank < 0 ||
          q->rank >= P || q->op.mb < 0 || !(q->end >= q->start)) {
        rc = pl_errf(eb, PL_EPARSE, "profile %zu: op row %zu is out of "
                     "range", it + 1, i);
        break;
      }
      if (q->op.mb >= M)
        M = q->op.mb + 1;
      if (q->op.kind == PL_OP_FB && q->op.mb2 >= M)
        M = q->op.mb2 + 1;
    }
    if (rc)
      break;
    struct opidx ix = {S, M, NULL};
    ix.at = pl_malloc((size_t)3 * S * M * sizeof *ix.at);
    if (!ix.at) {
      rc = PL_ENOMEM;
      break;
    }
    for (size_t i = 0; i < (size_t)3 * S * M; i++)
      ix.at[i] = -1;
    for (size_t i = 0; i < r->n_ops; i++) {
      const pl_op *op = &r->ops[i].op;
      if (op->kind == PL_OP_FB) {
        n_fused++;
        continue;
      }
      long *slot = opidx_slot(&ix, op_class(op->kind), op->stage, op->mb);
      if (slot)
        *slot = (long)i;
      double d = r->ops[i].end - r->ops[i].start;
      if ((rc = vec_push(&smp[op->stage * 4 + op->kind], d)))
        break;
    }
    if (!rc)
      rc = push_log_ratios(r, S, &jit);
    /* Which rank runs each stage (for the messages an op sends). */
    int *srank = pl_malloc((size_t)S * sizeof *srank);
    if (!srank) {
      pl_free(ix.at);
      rc = PL_ENOMEM;
      break;
    }
    for (int g = 0; g < S; g++)
      srank[g] = -1;
    for (size_t i = 0; i < r->n_ops; i++)
      srank[r->ops[i].op.stage] = r->ops[i].rank;
    /* Gaps and waits: consecutive ops of a rank (rows are in rank order,
     * then list order). */
    struct vec waits = {0};
    for (size_t i = 0; i < r->n_ops && !rc; i++) {
      const pl_op_rec *q = &r->ops[i];
      if (q->op.kind == PL_OP_FB)
        continue;
      const pl_op_rec *prev = i > 0 && r->ops[i - 1].rank == q->rank
                                  ? &r->ops[i - 1] : NULL;
      const pl_op_rec *src = producer(r, &ix, &q->op);
      int remote = src && src->rank != q->rank;
      if (prev && (!remote || src->end <= prev->start)) {
        /* ready when its rank became free: all of the gap is host time,
         * the per-op overhead plus the copies of the messages prev sent
         * and q received (cross-rank ones) */
        int nm = remote + sent_cross(&prev->op, S, srank, prev->rank);
        if (!nm)
          rc = vec_push(&gap, q->start - prev->end);
        else if (!(rc = vec_push(&ogap, q->start - prev->end)))
          rc = vec_push(&omsg, nm);
      } else if (remote && (!prev || prev->end <= src->end))
        /* its rank waited for the message: P2P time + overhead */
        rc = vec_push(&waits, q->start - src->end);
    }
    /* comm = wait - overhead, once the overhead of all iterations is known:
     * keep the waits, shifted below */
    for (size_t i = 0; i < waits.n && !rc; i++)
      rc = vec_push(&comm, waits.x[i]);
    pl_free(waits.x);
    pl_free(ix.at);
    pl_free(srank);
  }
  pl_learned *l = NULL;
  if (!rc && pl_learned_alloc(S, &l))
    rc = PL_ENOMEM;
  if (rc) {
    for (int i = 0; smp && i < S * 4; i++)
      pl_free(smp[i].x);
    pl_free(smp);
    pl_free(gap.x);
    pl_free(comm.x);
    pl_free(jit.x);
    pl_free(ogap.x);
    pl_free(omsg.x);
    return rc == PL_ENOMEM ? pl_errf(eb, rc, "out of memory") : rc;
  }
  /* Which kinds the profile holds, and enough of each on every stage. */
  int has[4] = {0, 0, 0, 0};
  for (int g = 0; g < S; g++)
    for (int kk = 0; kk < 4; kk++)
      if (smp[g * 4 + kk].n)
        has[kk] = 1;
  rc = PL_OK;
  for (int g = 0; g < S && !rc; g++) {
    if (!smp[g * 4 + PL_OP_F].n)
      rc = pl_errf(eb, PL_EPARSE, "missing op kind: stage %d has no F ops",
                   g);
    else if (!smp[g * 4 + PL_OP_BW].n &&
             !(smp[g * 4 + PL_OP_B].n && smp[g * 4 + PL_OP_W].n))
      rc = pl_errf(eb, PL_EPARSE, "missing op kind: stage %d has %s", g,
                   smp[g * 4 + PL_OP_B].n
                       ? "B but no W (and no BW): its weight gradient is "
                         "not in the profile"
                   : n_fused ? "only fused F&B ops: their parts cannot be "
                               "told apart"
                             : "no backward ops (B and W, or BW)");
    for (int kk = 0; kk < 4 && !rc; kk++) {
      size_t n = smp[g * 4 + kk].n;
      if (has[kk] && !n)
        rc = pl_errf(eb, PL_EPARSE, "missing op kind: stage %d has no %s "
                     "ops while other stages have them", g,
                     pl_op_kind_name(kk));
      else if (has[kk] && n < (size_t)min_samples)
        rc = pl_errf(eb, PL_EPARSE, "too few samples: stage %d has %zu %s "
                     "op%s, at least %d needed (profile more microbatches or "
                     "iterations)", g, n, pl_op_kind_name(kk),
                     n == 1 ? "" : "s", min_samples);
    }
  }
  for (int g = 0; g < S && !rc; g++) {
    pl_learned_stage *ls = &l->stage[g];
    for (int kk = 0; kk < 4; kk++)
      robust_stat(smp[g * 4 + kk].x, smp[g * 4 + kk].n, k, &ls->t[kk]);
    pl_learned_stat *b = &ls->t[PL_OP_B], *w = &ls->t[PL_OP_W],
                    *bw = &ls->t[PL_OP_BW];
    if (!bw->count) { /* a zero-bubble profile: BW = B + W */
      bw->median = b->median + w->median;
      bw->derived = 1;
    } else if (!b->count && o->b_frac > 0) { /* split BW by the given share */
      b->median = o->b_frac * bw->median;
      w->median = (1 - o->b_frac) * bw->median;
      b->derived = w->derived = 1;
    }
  }
  for (int i = 0; smp && i < S * 4; i++)
    pl_free(smp[i].x);
  pl_free(smp);
  if (!rc) {
    robust_stat(gap.x, gap.n, k, &l->gap);
    if (l->gap.median < 0)
      l->gap.median = 0;
    /* Per-message host time: what a ready gap holds beyond the per-op
     * overhead, per message copied in it (one figure for both ends: the
     * send and the receive copy the same bytes). */
    for (size_t i = 0; i < ogap.n; i++)
      ogap.x[i] = fmax(0, ogap.x[i] - l->gap.median) / omsg.x[i];
    robust_stat(ogap.x, ogap.n, k, &l->msg);
    /* Too few gaps for the outlier rule (a 1F1B profile at p = 2 has two
     * an iteration): the smallest, since interference (a descheduled
     * thread, a page fault) only ever lengthens a copy. */
    if (ogap.n && ogap.n < 3)
      l->msg.median = l->msg.min;
    for (size_t i = 0; i < comm.n; i++)
      comm.x[i] = fmax(0, comm.x[i] - l->gap.median);
    robust_stat(comm.x, comm.n, k, &l->comm);
    l->msg_bytes = o->msg_bytes;
    double wire = pl_learned_wire(l);
    double xfer = o->bandwidth > 0 && o->msg_bytes > 0
                      ? o->msg_bytes / o->bandwidth : 0;
    if (xfer > 0 && xfer <= wire) {
      l->latency = wire - xfer;
      l->bandwidth = o->bandwidth;
    } else { /* one message size, no known bandwidth: all of it latency */
      l->latency = wire;
      l->bandwidth = 0;
    }
    l->b_frac = has[PL_OP_B] ? 0 : o->b_frac;
    l->have_split = has[PL_OP_B] || o->b_frac > 0;
    l->measured_bw = has[PL_OP_BW];
    l->ranks = P;
    l->chunks = r0->chunks > 0 ? r0->chunks : S / P;
    l->microbatches = r0->microbatches;
    l->iterations = (int)n_iters;
    l->fused_skipped = (int)n_fused;
    quantiles(jit.x, jit.n, l->jitter_q, &l->n_jitter_q);
    l->jitter = robust_sigma(jit.x, jit.n);
    snprintf(l->schedule, sizeof l->schedule, "%s", r0->schedule);
    snprintf(l->source, sizeof l->source, "%s", r0->source);
    snprintf(l->time_unit, sizeof l->time_unit, "%s", r0->time_unit);
  }
  pl_free(gap.x);
  pl_free(comm.x);
  pl_free(jit.x);
  pl_free(ogap.x);
  pl_free(omsg.x);
  if (rc) {
    pl_learned_free(l);
    return rc;
  }
  *out = l;
  return PL_OK;
}

/* Does the schedule run op kind `kind` (as an op or a fused op's part)? */
static int sched_uses(const pl_sched *s, int kind)
{
  for (int r = 0; r < pl_sched_ranks(s); r++) {
    size_t n = 0;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++)
      if (ops[i].kind == kind ||
          (ops[i].kind == PL_OP_FB && ops[i].kind2 == kind))
        return 1;
  }
  return 0;
}

double pl_learned_wire(const pl_learned *l)
{
  /* a waited-for message paid both copies and the latency */
  return fmax(0, l->comm.median - 2 * l->msg.median);
}

int pl_learned_apply(const pl_learned *l, const pl_sched *s, pl_costs *c,
                     int *split, struct pl_errbuf *eb)
{
  if (split)
    *split = 0;
  if (!l || !s || !c || !l->stage)
    return pl_errf(eb, PL_EINVAL, "learned costs: bad arguments");
  int S = pl_sched_stages(s), P = pl_sched_ranks(s);
  if (c->n_stages != S)
    return pl_errf(eb, PL_EINVAL, "learned costs: the table has %d stages, "
                   "the schedule %d", c->n_stages, S);
  if (P != l->ranks)
    return pl_errf(eb, PL_EINVAL, "learned costs: the profile ran on %d "
                   "ranks, this schedule on %d; profile a schedule at p = %d",
                   l->ranks, P, P);
  if (S % l->stages)
    return pl_errf(eb, PL_EINVAL, "learned costs: %d virtual stages cannot "
                   "be cut from the profile's %d (each profile stage must "
                   "hold a whole number of chunks)", S, l->stages);
  if (!l->have_split && (sched_uses(s, PL_OP_B) || sched_uses(s, PL_OP_W)))
    return pl_errf(eb, PL_EINVAL, "learned costs: the profile (%s) has only "
                   "full backward (BW) ops, and this schedule splits them "
                   "into B and W; learn with a B share (calibrate --from "
                   "... --b-frac X) or from a zero-bubble profile",
                   l->schedule);
  int f = S / l->stages; /* chunks cut from one profile stage */
  for (int g = 0; g < S; g++) {
    const pl_learned_stage *ls = &l->stage[g / f];
    for (int kk = 0; kk < 4; kk++)
      c->stage[g].t[kk] = ls->t[kk].median / f;
  }
  c->op_gap = l->gap.median;
  /* a local hand-off passes a pointer (pipelab's executor, the runtimes
   * profiled): free, whatever a message costs */
  c->send_overhead = c->recv_overhead = l->msg.median;
  c->local_overhead = 0;
  c->comm_latency = l->latency;
  c->comm_bandwidth = l->bandwidth;
  for (int g = 0; g < S; g++)
    c->stage[g].msg_bytes = l->msg_bytes;
  for (int kk = 0; kk < PL_OP_NKINDS; kk++)
    c->source[kk] = PL_SRC_LEARNED;
  snprintf(c->time_unit, sizeof c->time_unit, "%s", l->time_unit);
  if (split)
    *split = f;
  return PL_OK;
}

int pl_learned_model_key(const pl_model_spec *m, const pl_train_cfg *cfg,
                         char *buf, size_t len)
{
  if (!m || !cfg || !buf)
    return PL_EINVAL;
  int n = snprintf(buf, len, "model=%s,mb=%d,seq=%d,tp=%d", m->name,
                   cfg->mb_size > 0 ? cfg->mb_size : 1,
                   cfg->seq_len > 0 ? cfg->seq_len : m->seq_len,
                   cfg->tp > 0 ? cfg->tp : 1);
  return n < 0 || (size_t)n >= len ? PL_EINVAL : PL_OK;
}

/* ------------------------------------------------------------- SHA-256 --- */

static const uint32_t K256[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
  uint32_t w[64], a[8];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(a, h, sizeof a);
  for (int i = 0; i < 64; i++) {
    uint32_t S1 = ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25);
    uint32_t ch = (a[4] & a[5]) ^ (~a[4] & a[6]);
    uint32_t t1 = a[7] + S1 + ch + K256[i] + w[i];
    uint32_t S0 = ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22);
    uint32_t mj = (a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]);
    uint32_t t2 = S0 + mj;
    memmove(a + 1, a, 7 * sizeof *a);
    a[4] += t1;
    a[0] = t1 + t2;
  }
  for (int i = 0; i < 8; i++)
    h[i] += a[i];
}

void pl_sha256_init(pl_sha256 *c)
{
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, h0, sizeof h0);
  c->len = 0;
  c->n = 0;
}

void pl_sha256_update(pl_sha256 *c, const void *data, size_t len)
{
  const unsigned char *p = data;
  c->len += len;
  while (len) {
    size_t take = 64 - c->n < len ? 64 - c->n : len;
    memcpy(c->buf + c->n, p, take);
    c->n += take;
    p += take;
    len -= take;
    if (c->n == 64) {
      sha256_block(c->h, c->buf);
      c->n = 0;
    }
  }
}

void pl_sha256_hex(pl_sha256 *c, char hex[65])
{
  uint64_t bits = c->len * 8;
  unsigned char pad = 0x80, zero = 0, lenb[8];
  pl_sha256_update(c, &pad, 1);
  while (c->n != 56)
    pl_sha256_update(c, &zero, 1);
  for (int i = 0; i < 8; i++)
    lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
  pl_sha256_update(c, lenb, 8);
  for (int i = 0; i < 8; i++)
    snprintf(hex + 8 * i, 9, "%08x", (unsigned)c->h[i]);
}
