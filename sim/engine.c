/*
 * engine.c: the discrete-event core.
 *
 * Every op has exactly one data predecessor (two for a fused F&B), so the
 * simulation needs no global event queue: each rank runs its list in order
 * until its head op waits for something that does not exist yet, then parks
 * itself on that thing's key. When it comes into existence, the one rank
 * that can consume it is woken if it is parked on exactly that key. Each op
 * is therefore handled once, in O(1), and the pending set is a stack of
 * runnable ranks. A deadlock is the state where no rank is runnable and some
 * list is unfinished. Every time below is a max or a sum of times already
 * known, so the order in which ranks are run never changes a result.
 *
 * Async P2P (the default): start = max(rank free, predecessor end + P2P time
 * when the predecessor ran on another rank) + op gap; end = start +
 * duration. A message's transmission (bytes / bandwidth) occupies its link
 * (sending rank -> receiving rank); messages on one link are sent in the
 * order the sender produced them, which is also their time order, so the
 * link's queue is settled when the sender publishes the output. With no
 * transmission time (a pure-latency P2P cost) nothing queues, and the
 * engine is exactly the rule above.
 *
 * Blocking and batched P2P: between two ops a rank passes a "point" where it
 * sends the outputs of the op it just ran and receives the inputs of the op
 * it runs next. A transfer needs both ranks at their points: the first to
 * arrive posts its side and parks on the transfer's key; the second computes
 * start = max(both posts), end = start + P2P time, and wakes the first.
 * Blocking does a point's transfers one at a time (even ranks send first,
 * odd ranks receive first); batched posts them together and waits for all.
 *
 * Memory: F allocates at its start, B/W/BW release at their end; since ops
 * on a rank never overlap, the peak is the maximum prefix sum.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

/* The per-op helpers sit in the engine's inner loops. */
#if defined(__GNUC__)
#define PL_HOT_INLINE static inline __attribute__((always_inline))
#else
#define PL_HOT_INLINE static inline
#endif

/* Ops ahead of the current one that a rank's loop prefetches. */
#define PL_OP_PREFETCH 16
#if defined(__GNUC__)
#define PL_PREFETCH(addr) __builtin_prefetch(addr)
#else
#define PL_PREFETCH(addr) ((void)(addr))
#endif

/* The backward part of an op: the op itself, or a fused op's second part. */
PL_HOT_INLINE void bwd_part(const pl_op *op, int *bk, int *bg, int *bmb)
{
  if (op->kind == PL_OP_FB) {
    *bk = op->kind2;
    *bg = op->stage2;
    *bmb = op->mb2;
  } else {
    *bk = op->kind;
    *bg = op->stage;
    *bmb = op->mb;
  }
}

struct pl_sim {
  /* End time of F(g, mb) at [g*ms + mb] and of B/BW(g, mb) at
   * [S*ms + g*ms + mb]; -1 = not yet. The same index (the key) names the
   * message that output becomes. ms = key_stride(m) >= m: each stage's row
   * starts an odd number of cache lines after the previous one, so that the
   * rows of all stages (read and written together as ranks take turns) do
   * not compete for the same cache sets. */
  double *end;
  size_t end_cap;
  long ms; /* of the last run */
  /* Async with link queues: arrival of the message at the consumer. */
  double *arr;
  size_t arr_cap;
  /* Blocking / batched: sender's post, receiver's post, transfer end. */
  double *xp;  /* [2 * keys]: sender post at [k], receiver post at [keys+k] */
  double *xe;
  size_t x_cap, xe_cap;
  /* Per stage boundary g (stage g -> g+1): P2P time, transmission part and
   * the links it uses (forward, backward); -1 = same rank. */
  double *comm_t, *xmit_t;
  int *link_f, *link_b;
  double *link_free;
  long *hkey;       /* link dedup table: src * p + dst, -1 = empty */
  int *hval;
  int cap_s;
  size_t *pos;      /* [p] next op index */
  double *free_t;   /* [p] time the rank becomes free */
  long *parked;     /* [p] key the rank waits for, -1 = runnable */
  int *stack;       /* [p] runnable ranks */
  double *mem;      /* [p] live activation */
  size_t *first_b;  /* [p] blocking/batched: first B/BW, last F (or n) */
  size_t *last_f;
  int cap_p;
};

int pl_sim_create(pl_sim **out)
{
  *out = pl_calloc(1, sizeof **out);
  return *out ? PL_OK : PL_ENOMEM;
}

void pl_sim_destroy(pl_sim *sim)
{
  if (!sim)
    return;
  pl_free(sim->end);
  pl_free(sim->arr);
  pl_free(sim->xp);
  pl_free(sim->xe);
  pl_free(sim->comm_t);
  pl_free(sim->xmit_t);
  pl_free(sim->link_f);
  pl_free(sim->link_b);
  pl_free(sim->link_free);
  pl_free(sim->hkey);
  pl_free(sim->hval);
  pl_free(sim->pos);
  pl_free(sim->free_t);
  pl_free(sim->parked);
  pl_free(sim->stack);
  pl_free(sim->mem);
  pl_free(sim->first_b);
  pl_free(sim->last_f);
  pl_free(sim);
}

/* Keys per stage for m microbatches: m, padded when the table is large
 * enough for the stages' rows to evict each other (a row length that is a
 * multiple of 4 KiB maps every stage's current line to one cache set). */
static long key_stride(int m)
{
  if (m < 64)
    return m;
  long ms = ((long)m + 7) / 8 * 8; /* whole lines of doubles */
  if ((ms / 8) % 2 == 0)
    ms += 8;
  return ms;
}

/* Grows the array `field` to n elements; PL_ENOMEM leaves it as it was (a
 * later call grows what is still short). */
#define GROW(field, n)                                                      \
  do {                                                                      \
    void *grown_ = pl_realloc((field), (size_t)(n) * sizeof *(field));      \
    if (!grown_)                                                            \
      return PL_ENOMEM;                                                     \
    (field) = grown_;                                                       \
  } while (0)

/* Grows *buf to n doubles, recording the new capacity. The tables are
 * written whole on every run: a large one asks for huge pages. */
static int grow_d(double **buf, size_t *cap, size_t n)
{
  if (n > *cap) {
    GROW(*buf, n);
    *cap = n;
    pl_mem_hint_huge(*buf, n * sizeof **buf);
  }
  return PL_OK;
}

static int sim_reserve(pl_sim *sim, int p, int S, size_t keys)
{
  if (grow_d(&sim->end, &sim->end_cap, keys))
    return PL_ENOMEM;
  if (S > sim->cap_s) {
    size_t n = (size_t)S;
    GROW(sim->comm_t, n);
    GROW(sim->xmit_t, n);
    GROW(sim->link_f, n);
    GROW(sim->link_b, n);
    GROW(sim->link_free, 2 * n);
    GROW(sim->hkey, 4 * n);
    GROW(sim->hval, 4 * n);
    sim->cap_s = S;
  }
  if (p > sim->cap_p) {
    size_t n = (size_t)p;
    GROW(sim->pos, n);
    GROW(sim->free_t, n);
    GROW(sim->parked, n);
    GROW(sim->stack, n);
    GROW(sim->mem, n);
    GROW(sim->first_b, n);
    GROW(sim->last_f, n);
    sim->cap_p = p;
  }
  return PL_OK;
}

void pl_result_free(pl_result *r)
{
  if (!r)
    return;
  pl_free(r->ranks);
  pl_free(r->ops);
  pl_free(r->mem);
  pl_free(r->xfers);
  r->ranks = NULL;
  r->ops = NULL;
  r->mem = NULL;
  r->xfers = NULL;
  r->n_xfers = 0;
  r->n_ops = r->n_mem = 0;
  r->n_untrusted = 0;
}

void pl_result_untrust(pl_result *r, const char *reason)
{
  for (int i = 0; i < r->n_untrusted; i++)
    if (strncmp(r->untrusted[i], reason, PL_UNTRUSTED_LEN - 1) == 0)
      return;
  if (r->n_untrusted >= PL_UNTRUSTED_MAX)
    return;
  snprintf(r->untrusted[r->n_untrusted++], PL_UNTRUSTED_LEN, "%s", reason);
}

void pl_result_summarize(pl_result *r)
{
  int p = r->stages;
  double first = INFINITY, last = -INFINITY, span = 0, busy = 0, peak = 0;
  for (int i = 0; i < p; i++) {
    pl_rank_result *rr = &r->ranks[i];
    if (rr->n_ops == 0)
      continue;
    if (rr->first_start < first)
      first = rr->first_start;
    if (rr->last_end > last)
      last = rr->last_end;
    if (rr->last_end - rr->first_start > span)
      span = rr->last_end - rr->first_start;
    busy += rr->busy;
    if (rr->peak_mem > peak)
      peak = rr->peak_mem;
  }
  if (first == INFINITY) {
    first = last = 0;
  }
  /* Derived figures are rounded like the engine's times (pl_denoise), so
   * a difference or a mean of clean times stays clean. */
  double scale = fabs(last) > fabs(first) ? fabs(last) : fabs(first);
  r->makespan = pl_denoise(last - first, scale);
  r->max_rank_span = pl_denoise(span, scale);
  r->ideal = p > 0 ? pl_denoise(busy / p, scale) : 0;
  r->peak_mem = peak;
  r->bubble_ratio =
      r->makespan > 0 ? pl_denoise(1.0 - r->ideal / r->makespan, 1) : 0;
  r->bubble_ratio_span =
      r->max_rank_span > 0
          ? pl_denoise(1.0 - r->ideal / r->max_rank_span, 1)
          : 0;
  for (int i = 0; i < p; i++) {
    pl_rank_result *rr = &r->ranks[i];
    rr->bubble_ratio =
        r->makespan > 0 ? pl_denoise(1.0 - rr->busy / r->makespan, 1) : 0;
  }
}

double pl_iteration_time(const pl_result *r, int optimizer,
                         double optimizer_time)
{
  if (optimizer != PL_OPTIM_POST_VALIDATE)
    return r->makespan + optimizer_time;
  double span = 0;
  for (int i = 0; i < r->stages; i++) {
    const pl_rank_result *rr = &r->ranks[i];
    if (rr->n_ops && rr->last_end - rr->first_start + optimizer_time > span)
      span = rr->last_end - rr->first_start + optimizer_time;
  }
  return span;
}

/* Where a message key's producer sits: op text, stage, rank, position. */
static long find_producer(const pl_sched *s, long ms, long key,
                          const char **what, int *g_out, int *mb_out,
                          int *r_out)
{
  long Sm = (long)s->n_stages * ms;
  int isb = key >= Sm;
  long k = isb ? key - Sm : key;
  int g = (int)(k / ms), mb = (int)(k % ms);
  int r = s->stage_rank[g];
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, r, &n);
  long at = -1;
  *what = isb ? "B/BW" : "F";
  for (size_t i = 0; i < n && at < 0; i++) {
    const pl_op *o = &ops[i];
    if (!isb) {
      if ((o->kind == PL_OP_F || o->kind == PL_OP_FB) && o->stage == g &&
          o->mb == mb)
        at = (long)i;
    } else {
      if ((o->kind == PL_OP_B || o->kind == PL_OP_BW) && o->stage == g &&
          o->mb == mb) {
        at = (long)i;
        *what = pl_op_kind_name(o->kind);
      } else if (o->kind == PL_OP_FB && o->stage2 == g && o->mb2 == mb) {
        at = (long)i;
        *what = pl_op_kind_name(o->kind2);
      }
    }
  }
  *g_out = g;
  *mb_out = mb;
  *r_out = r;
  return at;
}

/* Describes, for a deadlock report, where the op producing `key` sits. */
static void describe_key(const pl_sched *s, const pl_sim *sim, long key,
                         struct pl_buf *b)
{
  const char *what;
  int g, mb, r;
  long at = find_producer(s, sim->ms, key, &what, &g, &mb, &r);
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, r, &n);
  pl_buf_addf(b, "%s%ds%d", what, mb, g);
  if (at < 0) {
    pl_buf_addf(b, ", which rank %d never runs", r);
    return;
  }
  size_t hp = sim->pos[r];
  if ((size_t)at < hp) {
    pl_buf_addf(b, " (done on rank %d)", r);
    return;
  }
  char head[64] = "";
  if (hp < n)
    pl_op_format(&ops[hp], head, sizeof head);
  if ((size_t)at == hp)
    pl_buf_addf(b, " on rank %d, which is itself blocked", r);
  else
    pl_buf_addf(b, ", position %ld on rank %d, behind %s at position %zu", at,
                r, head, hp);
}

/* Describes a blocked rendezvous: rank r waits in the transfer of message
 * key for its peer. */
static void describe_xfer(const pl_sched *s, const pl_sim *sim, int r,
                          long key, int mode, struct pl_buf *b)
{
  const char *what;
  int g, mb, pr;
  find_producer(s, sim->ms, key, &what, &g, &mb, &pr);
  long Sm = (long)s->n_stages * sim->ms;
  int isb = key >= Sm;
  int to = isb ? g - 1 : g + 1;
  int peer = pr == r ? s->stage_rank[to] : pr;
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, peer, &n);
  pl_buf_addf(b, "its %s %s of %s s%d->s%d mb%d %s rank %d",
              pl_p2p_mode_name(mode),
              mode == PL_P2P_BATCHED ? "exchange" : pr == r ? "send" : "receive",
              isb ? "grad" : "act", g, to, mb, pr == r ? "to" : "from", peer);
  size_t hp = sim->pos[peer];
  if (hp >= n) {
    pl_buf_addf(b, ", which has finished");
    return;
  }
  char head[64] = "";
  pl_op_format(&ops[hp], head, sizeof head);
  pl_buf_addf(b, ", which waits before %s (position %zu)", head, hp);
}

static int report_deadlock(const pl_sched *s, const pl_sim *sim, int mode,
                           struct pl_errbuf *eb)
{
  /* Each blocked rank gets one clause; when the message would overflow the
   * caller's buffer, the remaining ranks are counted instead of cut mid-word. */
  struct pl_buf b, part;
  pl_buf_init(&b, 0);
  pl_buf_init(&part, 0);
  pl_buf_addf(&b, "schedule deadlocks%s: ",
              mode == PL_P2P_ASYNC ? "" : mode == PL_P2P_BLOCKING
                                             ? " under blocking P2P"
                                             : " under batched P2P");
  const long keys = 2L * s->n_stages * sim->ms;
  int first = 1, more = 0;
  for (int r = 0; r < s->p; r++) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    long key = sim->parked[r];
    if (sim->pos[r] >= n && key < keys)
      continue;
    if (more) {
      more++;
      continue;
    }
    char opname[64] = "the end of its list";
    if (sim->pos[r] < n)
      pl_op_format(&ops[sim->pos[r]], opname, sizeof opname);
    pl_buf_reset(&part);
    if (key >= keys) {
      pl_buf_addf(&part, "%srank %d blocked before %s (position %zu) in ",
                  first ? "" : "; ", r, opname, sim->pos[r]);
      describe_xfer(s, sim, r, key - keys, mode, &part);
    } else {
      pl_buf_addf(&part, "%srank %d blocked at %s (position %zu) waiting for ",
                  first ? "" : "; ", r, opname, sim->pos[r]);
      describe_key(s, sim, key, &part);
    }
    if (b.len + part.len + 48 >= PL_ERRMSG_MAX) {
      more = 1;
      continue;
    }
    pl_buf_add(&b, part.buf, part.len);
    first = 0;
  }
  if (more)
    pl_buf_addf(&b, "; and %d more blocked rank%s", more, more > 1 ? "s" : "");
  int rc = pl_errf(eb, PL_EDEADLOCK, "%s",
                   b.len ? b.buf : "schedule deadlocks (out of memory)");
  pl_buf_free(&part);
  pl_buf_free(&b);
  return rc;
}

/* ------------------------------------------------------------- a run --- */

/* What one run shares between the loops. */
struct run {
  const pl_sched *s;
  const pl_costs *c;
  pl_sim *sim;
  pl_result *res;
  int p, S, m;
  int L;               /* stages per pipeline (S unless replicated) */
  long ms;             /* keys per stage (key_stride) */
  long Sm, keys;       /* S * ms, 2 * Sm */
  const int *srank;
  const pl_stage_cost *sc;
  const double *speed;
  double gap;
  int links;           /* some message has a transmission time */
  size_t *offset;      /* [p] first op of each rank in res->ops (records) */
  size_t *mem_n;       /* [p] memory points written (records) */
  pl_xfer_rec *xrec;   /* [keys] transfer of each message, or NULL */
  int pairs;           /* an F followed by a B runs between two exchanges */
  double jitter;       /* log-normal sigma of op times, 0 = none */
  uint64_t seed;       /* its seed */
  double o_s, o_r;     /* per-message host overheads (send, receive) */
  int o_local;         /* local hand-offs pay them too */
  int ovh;             /* some overhead is not 0 */
};

/* Whether stage g has a predecessor / successor in its pipeline (one
 * pipeline of S stages, or two of L in a replicated schedule's expanded
 * form). */
PL_HOT_INLINE int has_prev_in(int L, int S, int g)
{
  return L == S ? g > 0 : g % L != 0;
}

PL_HOT_INLINE int has_next_in(int L, int S, int g)
{
  return L == S ? g + 1 < S : g % L != L - 1;
}

PL_HOT_INLINE int has_prev(const struct run *R, int g)
{
  return has_prev_in(R->L, R->S, g);
}

PL_HOT_INLINE int has_next(const struct run *R, int g)
{
  return has_next_in(R->L, R->S, g);
}

/* The jitter factor of op i of rank r: exp(sigma * z) with z a standard
 * normal from two uniforms hashed (splitmix64) from (seed, rank, i), by the
 * Box-Muller transform; with measured quantiles q[nq] of ln(factor), exp of
 * their interpolation at the first uniform. A pure function of its inputs,
 * so that a trial does not depend on the order in which the engine visits
 * the ranks. */
static double jitter_factor(uint64_t seed, int r, size_t i, double sigma,
                            const double *q, int nq)
{
  uint64_t x = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(r + 1)) ^
               ((uint64_t)i * 0xD1B54A32D192ED03ull);
  double u[2];
  for (int k = 0; k < 2; k++) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    u[k] = ((double)(z >> 11) + 0.5) * 0x1.0p-53; /* (0, 1) */
  }
  if (nq >= 2) {
    double pos = u[0] * (nq - 1);
    int k = (int)pos;
    if (k >= nq - 1)
      k = nq - 2;
    return exp(q[k] + (pos - k) * (q[k + 1] - q[k]));
  }
  double n = sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
  return exp(sigma * n);
}

/* Runs op i of rank r from `start`: duration, busy time, memory, and (when
 * rec is not 0 and the run records) the records. sc is R->sc and spd the
 * rank's speed, R->speed[r], passed in so that a loop keeps them in
 * registers. Returns its end. */
PL_HOT_INLINE double exec_op_in(const struct run *R, int r, size_t i,
                                const pl_op *op, double start, double *mem,
                                pl_rank_result *rr,
                                const pl_stage_cost *sc, double spd,
                                const int rec)
{
  int kind = op->kind, g = op->stage;
  int bk = kind, bg = g;
  double dur;
  if (kind == PL_OP_FB) {
    bk = op->kind2;
    bg = op->stage2;
    double a = sc[g].t[PL_OP_F], b = sc[bg].t[bk];
    double comm = sc[g].a2a + sc[bg].a2a; /* hidden by the fused compute */
    dur = (a + b - R->c->fb_overlap * (a < b ? a : b)) * spd;
    if (comm > dur)
      dur = comm;
  } else {
    /* F, B, BW pay their expert all-to-all in the open; W has none. */
    dur = sc[g].t[kind] * spd + (kind == PL_OP_W ? 0 : sc[g].a2a);
  }
  if (rec && R->jitter > 0)
    dur *= jitter_factor(R->seed, r, i, R->jitter, R->c->jitter_q,
                         R->c->n_jitter_q);
  double fin = start + dur;
  if (start < rr->first_start)
    rr->first_start = start;
  rr->busy += dur;
  /* Memory: allocate at start, release at end. */
  if (kind == PL_OP_F || kind == PL_OP_FB) {
    *mem += sc[g].mem_b;
    if (*mem > rr->peak_mem)
      rr->peak_mem = *mem;
    if (rec && R->mem_n) {
      pl_mem_point *mp = &R->res->mem[2 * R->offset[r] + R->mem_n[r]++];
      mp->rank = r;
      mp->t = start;
      mp->value = *mem;
    }
  }
  if (kind != PL_OP_F) {
    double rel;
    if (bk == PL_OP_B)
      rel = sc[bg].mem_b - sc[bg].mem_w;
    else if (bk == PL_OP_W)
      rel = sc[bg].mem_w;
    else
      rel = sc[bg].mem_b;
    *mem -= rel;
    if (rec && R->mem_n) {
      pl_mem_point *mp = &R->res->mem[2 * R->offset[r] + R->mem_n[r]++];
      mp->rank = r;
      mp->t = fin;
      mp->value = *mem;
    }
  }
  if (rec && R->res->ops) {
    pl_op_rec *o = &R->res->ops[R->offset[r] + i];
    o->rank = r;
    o->index = (int32_t)i;
    o->op = *op;
    o->start = start;
    o->end = fin;
  }
  return fin;
}

PL_HOT_INLINE double exec_op(const struct run *R, int r, size_t i,
                             const pl_op *op, double start, double *mem,
                             pl_rank_result *rr)
{
  return exec_op_in(R, r, i, op, start, mem, rr, R->sc, R->speed[r], 1);
}

PL_HOT_INLINE void record_xfer(const struct run *R, long k, int src, int dst,
                               double ready, double start, double end)
{
  pl_xfer_rec *x = &R->xrec[k];
  int isb = k >= R->Sm;
  long kk = isb ? k - R->Sm : k;
  x->src = src;
  x->dst = dst;
  x->stage = (int32_t)(kk / R->ms);
  x->mb = (int32_t)(kk % R->ms);
  x->backward = isb;
  x->ready = ready;
  x->start = start;
  x->end = end;
}

/* Async: message k leaves its producer at `fin` over boundary b and link
 * `lk`; returns its arrival. Sent in the producer's order, so the link's
 * queue is the sender's order. */
PL_HOT_INLINE double async_send(const struct run *R, long k, int b, int lk,
                                int src, int dst, double fin)
{
  pl_sim *sim = R->sim;
  double xs = fin;
  if (lk >= 0) {
    if (sim->link_free[lk] > xs)
      xs = sim->link_free[lk];
    sim->link_free[lk] = xs + sim->xmit_t[b];
  }
  double at = xs + sim->comm_t[b];
  if (R->xrec)
    record_xfer(R, k, src, dst, fin, xs, at);
  return at;
}

/* Where rank r stopped (next op i of n, free at t_free, live activation
 * mem); a rank that finished its list gets its last end. Returns whether it
 * finished. */
PL_HOT_INLINE int save_rank(const struct run *R, int r, size_t i, size_t n,
                            double t_free, double mem, int finished)
{
  pl_sim *sim = R->sim;
  sim->pos[r] = i;
  sim->free_t[r] = t_free;
  sim->mem[r] = mem;
  if (!finished)
    return 0;
  pl_rank_result *rr = &R->res->ranks[r];
  rr->last_end = n ? t_free : 0;
  rr->end_mem = mem;
  rr->n_ops = n;
  return 1;
}

/* Runs every runnable rank under async P2P until none is left. Returns the
 * number of ranks that finished their list. `plain` (a constant at each
 * call) is 1 for the common run: one pipeline, no link queues, no records;
 * the compiler then drops those branches from the loop. Everything the
 * loop reads is copied into locals, which the stores to the tables could
 * otherwise alias. */
PL_HOT_INLINE int loop_async_in(const struct run *R, int top, const int plain)
{
  pl_sim *sim = R->sim;
  pl_result *res = R->res;
  const long ms = R->ms;
  const long Sm = R->Sm;
  const int S = R->S, L = plain ? R->S : R->L;
  const int *srank = R->srank;
  const double *comm_t = sim->comm_t;
  const pl_stage_cost *sc = R->sc;
  const double *speed = R->speed;
  const double gap = R->gap;
  const int links = plain ? 0 : R->links;
  const int sends = plain ? 0 : links || R->xrec;
  const int ovh = plain ? 0 : R->ovh;
  const int o_local = plain ? 0 : R->o_local;
  const struct pl_rank_list *lists = R->s->ranks;
  double *end = sim->end, *arr = sim->arr;
  long *parked = sim->parked;
  int *stack = sim->stack;
  int done_ranks = 0;

  while (top > 0) {
    const int r = stack[--top];
    const pl_op *ops = lists[r].ops;
    const size_t n = lists[r].n;
    size_t i = sim->pos[r];
    double t_free = sim->free_t[r];
    double mem = sim->mem[r];
    const double spd = speed[r];
    pl_rank_result *rr = &res->ranks[r];
    for (; i < n; i++) {
      const pl_op *op = &ops[i];
      /* Ranks take turns after an op or two, so the hardware prefetcher
       * cannot follow p op streams: fetch this rank's ops a few lines
       * ahead (its next visits then find them in cache). */
      if (i + PL_OP_PREFETCH < n)
        PL_PREFETCH(&ops[i + PL_OP_PREFETCH]);
      int kind = op->kind, g = op->stage, mb = op->mb;
      double ready = 0;
      long wait = -1;
      int n_in = 0; /* messages this op receives (overheads) */
      /* Data predecessor of the forward part (F or FB). */
      if (kind == PL_OP_F || kind == PL_OP_FB) {
        if (has_prev_in(L, S, g)) {
          long k = (long)(g - 1) * ms + mb;
          double e = end[k];
          if (e < 0)
            wait = k;
          else {
            if (srank[g - 1] != r) {
              e = links ? arr[k] : e + comm_t[g - 1];
              n_in++;
            } else if (o_local) {
              n_in++;
            }
            ready = e;
          }
        }
      }
      int bk, bg, bmb;
      bwd_part(op, &bk, &bg, &bmb);
      if (wait < 0 && (bk == PL_OP_B || bk == PL_OP_BW) && kind != PL_OP_F) {
        double e;
        if (!has_next_in(L, S, bg)) {
          long k = (long)bg * ms + bmb; /* the loss follows the last forward */
          e = end[k];
          if (e < 0)
            wait = k;
          else if (srank[bg] != r)
            e += comm_t[bg];
        } else {
          long k = Sm + (long)(bg + 1) * ms + bmb;
          e = end[k];
          if (e < 0)
            wait = k;
          else if (srank[bg + 1] != r) {
            e = links ? arr[k] : e + comm_t[bg];
            n_in++;
          } else if (o_local) {
            n_in++;
          }
        }
        if (wait < 0 && e > ready)
          ready = e;
      } else if (kind == PL_OP_W) {
        long k = Sm + (long)g * ms + mb;
        double e = end[k];
        if (e < 0)
          wait = k;
        else if (e > ready)
          ready = e;
      }
      if (wait >= 0) {
        parked[r] = wait;
        break;
      }
      double start = (ready > t_free ? ready : t_free) + gap;
      if (ovh)
        start += n_in * R->o_r;
      double fin = exec_op_in(R, r, i, op, start, &mem, rr, sc, spd, !plain);
      t_free = fin;
      /* Publish the op's outputs and wake the consumer if it waits. With
       * overheads a message leaves (end[] holds) when its copy is done. */
      if (kind == PL_OP_F || kind == PL_OP_FB) {
        long k = (long)g * ms + mb;
        int nx = has_next_in(L, S, g);
        int cr = nx ? srank[g + 1] : r;
        if (ovh && nx && (cr != r || o_local))
          t_free += R->o_s;
        end[k] = t_free;
        if (cr != r) {
          if (sends) {
            double at = async_send(R, k, g, sim->link_f[g], r, cr, t_free);
            if (links)
              arr[k] = at;
          }
          if (parked[cr] == k) {
            parked[cr] = -1;
            stack[top++] = cr;
          }
        }
      }
      if ((bk == PL_OP_B || bk == PL_OP_BW) && kind != PL_OP_F) {
        long k = Sm + (long)bg * ms + bmb;
        int pv = has_prev_in(L, S, bg);
        int cr = pv ? srank[bg - 1] : r;
        if (ovh && pv && (cr != r || o_local))
          t_free += R->o_s;
        end[k] = t_free;
        if (cr != r) {
          if (sends) {
            double at =
                async_send(R, k, bg - 1, sim->link_b[bg - 1], r, cr, t_free);
            if (links)
              arr[k] = at;
          }
          if (parked[cr] == k) {
            parked[cr] = -1;
            stack[top++] = cr;
          }
        }
      }
    }
    done_ranks += save_rank(R, r, i, n, t_free, mem, i == n);
  }
  return done_ranks;
}

static int loop_async(const struct run *R, int top)
{
  int plain = R->L == R->S && !R->links && !R->xrec && !R->res->ops &&
              !R->mem_n && !(R->jitter > 0) && !R->ovh;
  return plain ? loop_async_in(R, top, 1) : loop_async_in(R, top, 0);
}

/* One transfer of a point: message key, peer rank, boundary, link. */
struct xfer {
  long key;
  int send;  /* this rank sends */
  int peer;
  int b;     /* boundary (P2P time of stage b) */
  int link;  /* -1 without transmission time */
};

enum { X_SEND_NEXT, X_RECV_PREV, X_SEND_PREV, X_RECV_NEXT };

/* Adds the cross-rank outputs of op o (sends) to x[]. */
static void add_sends(const struct run *R, int r, const pl_op *o,
                      struct xfer *x, int *have)
{
  const long ms = R->ms;
  const int *srank = R->srank;
  const pl_sim *sim = R->sim;
  if (o->kind == PL_OP_F || o->kind == PL_OP_FB) {
    int g = o->stage;
    if (has_next(R, g) && srank[g + 1] != r) {
      x[X_SEND_NEXT] = (struct xfer){(long)g * ms + o->mb, 1, srank[g + 1], g,
                                     sim->link_f[g]};
      have[X_SEND_NEXT] = 1;
    }
  }
  int bk, bg, bmb;
  bwd_part(o, &bk, &bg, &bmb);
  if ((bk == PL_OP_B || bk == PL_OP_BW) && o->kind != PL_OP_F &&
      has_prev(R, bg) && srank[bg - 1] != r) {
    x[X_SEND_PREV] = (struct xfer){R->Sm + (long)bg * ms + bmb, 1,
                                   srank[bg - 1], bg - 1, sim->link_b[bg - 1]};
    have[X_SEND_PREV] = 1;
  }
}

/* Adds the cross-rank inputs of op o (receives) to x[]. */
static void add_recvs(const struct run *R, int r, const pl_op *o,
                      struct xfer *x, int *have)
{
  const long ms = R->ms;
  const int *srank = R->srank;
  const pl_sim *sim = R->sim;
  if (o->kind == PL_OP_F || o->kind == PL_OP_FB) {
    int g = o->stage;
    if (has_prev(R, g) && srank[g - 1] != r) {
      x[X_RECV_PREV] = (struct xfer){(long)(g - 1) * ms + o->mb, 0,
                                     srank[g - 1], g - 1, sim->link_f[g - 1]};
      have[X_RECV_PREV] = 1;
    }
  }
  int bk, bg, bmb;
  bwd_part(o, &bk, &bg, &bmb);
  if ((bk == PL_OP_B || bk == PL_OP_BW) && o->kind != PL_OP_F &&
      has_next(R, bg) && srank[bg + 1] != r) {
    x[X_RECV_NEXT] = (struct xfer){R->Sm + (long)(bg + 1) * ms + bmb, 0,
                                   srank[bg + 1], bg, sim->link_b[bg]};
    have[X_RECV_NEXT] = 1;
  }
}

/* Ops run between two exchanges. With one chunk per rank every op is its
 * own group (Megatron's 1F1B loop: send_forward_recv_backward after an F,
 * send_backward_recv_forward after a B). With several chunks a forward
 * followed by a backward is one group (Megatron's interleaved steady state:
 * F, B, then one exchange that also receives the next group's inputs),
 * except where the rank's forwards end and its backwards begin without any
 * steady state (a rank whose list is all forwards, then all backwards:
 * Megatron receives the first gradient only after the last forward). */
static inline int group_len(const struct run *R, int r, const pl_op *ops,
                            size_t n, size_t i)
{
  if (!R->pairs || i + 1 >= n || ops[i].kind != PL_OP_F ||
      (ops[i + 1].kind != PL_OP_B && ops[i + 1].kind != PL_OP_BW))
    return 1;
  const pl_sim *sim = R->sim;
  return sim->first_b[r] < i || sim->last_f[r] > i + 1 ? 2 : 1;
}

/* The transfers of the exchange before position i of rank r: the outputs of
 * the group that ends at i, the inputs of the group that starts at i; in
 * the order a blocking runtime runs them (Megatron's non-batched p2p ops:
 * even ranks send to the next stage, receive from the previous, send to the
 * previous, receive from the next; odd ranks receive first). Returns the
 * count (0 .. 4). */
static int point_xfers(const struct run *R, int r, const pl_op *ops, size_t n,
                       size_t i, struct xfer *out)
{
  struct xfer x[4];
  int have[4] = {0, 0, 0, 0};
  if (i > 0) {
    size_t a = i - 1;
    if (R->pairs && i >= 2 && group_len(R, r, ops, n, i - 2) == 2)
      a = i - 2;
    for (size_t j = a; j < i; j++)
      add_sends(R, r, &ops[j], x, have);
  }
  if (i < n) {
    int len = group_len(R, r, ops, n, i);
    for (int j = 0; j < len; j++)
      add_recvs(R, r, &ops[i + (size_t)j], x, have);
  }
  static const int even[4] = {X_SEND_NEXT, X_RECV_PREV, X_SEND_PREV,
                              X_RECV_NEXT};
  static const int odd[4] = {X_RECV_PREV, X_SEND_NEXT, X_RECV_NEXT,
                             X_SEND_PREV};
  const int *ord = r % 2 ? odd : even;
  int k = 0;
  for (int j = 0; j < 4; j++)
    if (have[ord[j]])
      out[k++] = x[ord[j]];
  return k;
}

/* Posts this rank's side of transfer x at time t (once) and, when the peer
 * has posted too, settles the transfer and wakes the peer. Returns the
 * transfer's end, or -1 while the peer has not posted. */
static double rendezvous(const struct run *R, int r, const struct xfer *x,
                         double t, int *top)
{
  pl_sim *sim = R->sim;
  const long k = x->key, keys = R->keys;
  double *mine = &sim->xp[x->send ? k : keys + k];
  double other = sim->xp[x->send ? keys + k : k];
  if (sim->xe[k] >= 0)
    return sim->xe[k];
  if (*mine < 0)
    *mine = t;
  if (other < 0)
    return -1;
  double sp = sim->xp[k], rp = sim->xp[keys + k];
  double start = sp > rp ? sp : rp, xs = start;
  if (x->link >= 0) {
    if (sim->link_free[x->link] > xs)
      xs = sim->link_free[x->link];
    sim->link_free[x->link] = xs + sim->xmit_t[x->b];
  }
  double fin = xs + sim->comm_t[x->b];
  sim->xe[k] = fin;
  if (R->xrec)
    record_xfer(R, k, x->send ? r : x->peer, x->send ? x->peer : r, sp, xs,
                fin);
  if (sim->parked[x->peer] == keys + k) {
    sim->parked[x->peer] = -1;
    sim->stack[(*top)++] = x->peer;
  }
  return fin;
}

/* Point i of rank r from time t: 0 with *done = when it is over, or 1 with
 * the rank parked on the transfer it waits for. */
static int run_point(const struct run *R, int r, const pl_op *ops, size_t n,
                     size_t i, double t, int mode, double *done, int *top)
{
  struct xfer x[4];
  int nx = point_xfers(R, r, ops, n, i, x);
  pl_sim *sim = R->sim;
  if (mode == PL_P2P_BLOCKING) {
    /* A send is posted once its copy is done; a receive's copy follows
     * the transfer. */
    for (int j = 0; j < nx; j++) {
      if (x[j].send)
        t += R->o_s;
      double e = rendezvous(R, r, &x[j], t, top);
      if (e < 0) {
        sim->parked[r] = R->keys + x[j].key;
        return 1;
      }
      t = x[j].send ? e : e + R->o_r;
    }
    *done = t;
    return 0;
  }
  /* Batched: copy the sends, post everything, wait for all, copy the
   * receives out. */
  double e[4];
  int n_recv = 0;
  for (int j = 0; j < nx; j++)
    if (x[j].send)
      t += R->o_s;
    else
      n_recv++;
  for (int j = 0; j < nx; j++)
    e[j] = rendezvous(R, r, &x[j], t, top);
  double d = t;
  for (int j = 0; j < nx; j++) {
    if (e[j] < 0) {
      sim->parked[r] = R->keys + x[j].key;
      return 1;
    }
    if (e[j] > d)
      d = e[j];
  }
  *done = d + n_recv * R->o_r;
  return 0;
}

/* Runs every runnable rank under blocking or batched P2P. Returns the
 * number of ranks that finished their list (the point after their last op
 * included). */
static int loop_rendezvous(const struct run *R, int top, int mode)
{
  pl_sim *sim = R->sim;
  pl_result *res = R->res;
  const long ms = R->ms;
  const long Sm = R->Sm;
  const int *srank = R->srank;
  const double gap = R->gap;
  double *end = sim->end;
  int done_ranks = 0;

  while (top > 0) {
    const int r = sim->stack[--top];
    const pl_op *ops = R->s->ranks[r].ops;
    const size_t n = R->s->ranks[r].n;
    size_t i = sim->pos[r];
    double t_free = sim->free_t[r];
    double mem = sim->mem[r];
    pl_rank_result *rr = &res->ranks[r];
    int finished = 0;
    for (;;) {
      double done;
      if (run_point(R, r, ops, n, i, t_free, mode, &done, &top))
        break;
      if (i == n) {
        finished = 1;
        break;
      }
      int len = group_len(R, r, ops, n, i);
      int blocked = 0;
      for (int q = 0; q < len && !blocked; q++, i++) {
      const pl_op *op = &ops[i];
      int kind = op->kind, g = op->stage, mb = op->mb;
      /* Inputs from this rank (V turn, loss, B -> W); the cross-rank ones
       * arrived during the point. */
      double ready = done;
      long wait = -1;
      int n_local = 0; /* local hand-offs received (overheads) */
      if ((kind == PL_OP_F || kind == PL_OP_FB) && has_prev(R, g) &&
          srank[g - 1] == r) {
        long k = (long)(g - 1) * ms + mb;
        n_local++;
        if (end[k] < 0)
          wait = k;
        else if (end[k] > ready)
          ready = end[k];
      }
      int bk, bg, bmb;
      bwd_part(op, &bk, &bg, &bmb);
      if (wait < 0 && (bk == PL_OP_B || bk == PL_OP_BW) && kind != PL_OP_F) {
        long k = -1;
        if (!has_next(R, bg))
          k = (long)bg * ms + bmb;
        else if (srank[bg + 1] == r) {
          k = Sm + (long)(bg + 1) * ms + bmb;
          n_local++;
        }
        if (k >= 0) {
          if (end[k] < 0)
            wait = k;
          else if (end[k] > ready)
            ready = end[k];
        }
      } else if (kind == PL_OP_W) {
        long k = Sm + (long)g * ms + mb;
        if (end[k] < 0)
          wait = k;
        else if (end[k] > ready)
          ready = end[k];
      }
      if (wait >= 0) {
        /* Only ever produced later on this rank: a deadlock. */
        sim->parked[r] = wait;
        blocked = 1;
        break;
      }
      double start = (ready > t_free ? ready : t_free) + gap;
      if (R->o_local)
        start += n_local * R->o_r;
      double fin = exec_op(R, r, i, op, start, &mem, rr);
      t_free = fin;
      if (kind == PL_OP_F || kind == PL_OP_FB) {
        if (R->o_local && has_next(R, g) && srank[g + 1] == r)
          t_free += R->o_s;
        end[(long)g * ms + mb] = t_free;
      }
      if ((bk == PL_OP_B || bk == PL_OP_BW) && kind != PL_OP_F) {
        if (R->o_local && has_prev(R, bg) && srank[bg - 1] == r)
          t_free += R->o_s;
        end[Sm + (long)bg * ms + bmb] = t_free;
      }
      }
      if (blocked)
        break;
    }
    done_ranks += save_rank(R, r, i, n, t_free, mem, finished);
  }
  return done_ranks;
}

/* Per-boundary P2P times and, when some message has a transmission time,
 * one link per (sending rank, receiving rank) pair. Returns whether any
 * link can queue. */
static int setup_links(pl_sim *sim, const pl_sched *s, const pl_costs *c)
{
  const int S = s->n_stages, p = s->p, L = s->pipe_len;
  const int *srank = s->stage_rank;
  int any = 0;
  for (int g = 0; g < S; g++) {
    double lat, x;
    pl_costs_comm_parts(c, g, &lat, &x);
    sim->comm_t[g] = pl_costs_comm(c, g);
    sim->xmit_t[g] = x;
    sim->link_f[g] = sim->link_b[g] = -1;
    if (g + 1 < S && (g + 1) % L != 0 && srank[g] != srank[g + 1] && x > 0)
      any = 1;
  }
  if (!any)
    return 0;
  /* Open addressing over 4S slots; at most 2(S-1) distinct links. */
  size_t cap = 1;
  while (cap < 4 * (size_t)S)
    cap <<= 1;
  if (cap > 4 * (size_t)S)
    cap >>= 1;
  for (size_t h = 0; h < cap; h++)
    sim->hkey[h] = -1;
  int nl = 0;
  for (int g = 0; g + 1 < S; g++) {
    if (srank[g] == srank[g + 1] || (g + 1) % L == 0)
      continue;
    for (int dir = 0; dir < 2; dir++) {
      int src = dir ? srank[g + 1] : srank[g];
      int dst = dir ? srank[g] : srank[g + 1];
      long key = (long)src * p + dst;
      size_t h = ((size_t)key * 2654435761u) & (cap - 1);
      while (sim->hkey[h] >= 0 && sim->hkey[h] != key)
        h = (h + 1) & (cap - 1);
      if (sim->hkey[h] < 0) {
        sim->hkey[h] = key;
        sim->hval[h] = nl;
        sim->link_free[nl++] = 0;
      }
      if (dir)
        sim->link_b[g] = sim->hval[h];
      else
        sim->link_f[g] = sim->hval[h];
    }
  }
  return 1;
}

/* Sums of inexact costs (1.1, 1/3) leave float noise in the last bits of
 * every time (36.300000000000011 for 33 x 1.1): times are rounded to
 * PL_DENOISE_DIGITS significant digits of the latest time, memory to those
 * of the highest peak, before the summary is derived from them. */
static void denoise_result(pl_result *res)
{
  double tmax = 0, mmax = 0;
  for (int r = 0; r < res->stages; r++) {
    pl_rank_result *rr = &res->ranks[r];
    if (fabs(rr->last_end) > tmax)
      tmax = fabs(rr->last_end);
    if (fabs(rr->peak_mem) > mmax)
      mmax = fabs(rr->peak_mem);
  }
  for (int r = 0; r < res->stages; r++) {
    pl_rank_result *rr = &res->ranks[r];
    rr->busy = pl_denoise(rr->busy, tmax);
    rr->first_start = pl_denoise(rr->first_start, tmax);
    rr->last_end = pl_denoise(rr->last_end, tmax);
    rr->peak_mem = pl_denoise(rr->peak_mem, mmax);
    rr->end_mem = pl_denoise(rr->end_mem, mmax);
  }
  for (size_t i = 0; i < res->n_ops; i++) {
    res->ops[i].start = pl_denoise(res->ops[i].start, tmax);
    res->ops[i].end = pl_denoise(res->ops[i].end, tmax);
  }
  for (size_t i = 0; i < res->n_xfers; i++) {
    res->xfers[i].ready = pl_denoise(res->xfers[i].ready, tmax);
    res->xfers[i].start = pl_denoise(res->xfers[i].start, tmax);
    res->xfers[i].end = pl_denoise(res->xfers[i].end, tmax);
  }
  for (size_t i = 0; i < res->n_mem; i++) {
    res->mem[i].t = pl_denoise(res->mem[i].t, tmax);
    res->mem[i].value = pl_denoise(res->mem[i].value, mmax);
  }
}

static int run_replicated(pl_sim *sim, const pl_sched *s, const pl_costs *c,
                          unsigned flags, pl_result *res,
                          struct pl_errbuf *eb);

int pl_sim_run2(pl_sim *sim, const pl_sched *s, const pl_costs *c,
                unsigned flags, pl_result *res, struct pl_errbuf *eb)
{
  const int p = s->p, S = s->n_stages, m = s->m;
  if (s->replica_rank && c && c->n_stages == S && c->n_ranks >= p)
    return run_replicated(sim, s, c, flags, res, eb);
  if (!c || c->n_stages != S || c->n_ranks < p)
    return pl_errf(eb, PL_EINVAL,
                   "cost table has %d stages and %d ranks, schedule needs %d and %d",
                   c ? c->n_stages : 0, c ? c->n_ranks : 0, S, p);
  const int mode = c->p2p_mode;
  if (mode < 0 || mode >= PL_P2P_NMODES)
    return pl_errf(eb, PL_EINVAL, "unknown P2P mode %d (async, blocking or "
                   "batched)", mode);
  if (!(c->op_gap >= 0) || !isfinite(c->op_gap))
    return pl_errf(eb, PL_EINVAL, "op gap must be a finite time >= 0");
  if (!(c->send_overhead >= 0) || !isfinite(c->send_overhead) ||
      !(c->recv_overhead >= 0) || !isfinite(c->recv_overhead))
    return pl_errf(eb, PL_EINVAL, "P2P send and receive overheads must be "
                   "finite times >= 0");
  if (!(c->jitter >= 0) || !(c->jitter <= PL_JITTER_MAX))
    return pl_errf(eb, PL_EINVAL, "jitter must be between 0 and %g",
                   PL_JITTER_MAX);
  if (c->n_jitter_q < 0 || c->n_jitter_q == 1 || c->n_jitter_q > PL_JITTER_Q)
    return pl_errf(eb, PL_EINVAL, "jitter quantiles: 0 or 2 to %d of them",
                   PL_JITTER_Q);
  for (int k = 0; k < c->n_jitter_q; k++)
    if (!(fabs(c->jitter_q[k]) <= 5) ||
        (k && c->jitter_q[k] < c->jitter_q[k - 1]))
      return pl_errf(eb, PL_EINVAL, "jitter quantiles must be ascending "
                     "logarithms within +-5");
  const long ms = key_stride(m);
  const long Sm = (long)S * ms;
  const size_t keys = (size_t)(2 * Sm);
  int rc = sim_reserve(sim, p, S, keys);
  if (rc)
    return pl_errf(eb, rc, "out of memory");

  pl_result_free(res);
  snprintf(res->schedule, sizeof res->schedule, "%s", s->name);
  snprintf(res->source, sizeof res->source, "sim");
  snprintf(res->time_unit, sizeof res->time_unit, "%s", c->time_unit);
  snprintf(res->mem_unit, sizeof res->mem_unit, "%s", c->mem_unit);
  res->stages = p;
  res->virtual_stages = S;
  res->microbatches = m;
  res->chunks = S / p;
  res->ranks = pl_calloc((size_t)p, sizeof *res->ranks);
  if (!res->ranks)
    return pl_errf(eb, PL_ENOMEM, "out of memory");

  struct run R;
  memset(&R, 0, sizeof R);
  R.s = s;
  R.c = c;
  R.sim = sim;
  R.res = res;
  R.p = p;
  R.S = S;
  R.L = s->pipe_len > 0 ? s->pipe_len : S;
  R.m = m;
  R.ms = ms;
  R.Sm = Sm;
  R.keys = (long)keys;
  sim->ms = ms;
  R.srank = s->stage_rank;
  R.sc = c->stage;
  R.speed = c->rank_speed;
  R.gap = c->op_gap;
  /* measured quantiles turn jitter on whatever the sigma */
  R.jitter = c->n_jitter_q >= 2 && !(c->jitter > 0) ? 1e-300 : c->jitter;
  R.seed = c->jitter_seed;
  R.o_s = c->send_overhead;
  R.o_r = c->recv_overhead;
  R.ovh = R.o_s > 0 || R.o_r > 0;
  R.o_local = R.ovh && c->local_overhead;
  R.links = setup_links(sim, s, c);
  R.pairs = mode != PL_P2P_ASYNC && S > p;
  if (R.pairs)
    for (int r = 0; r < p; r++) {
      const pl_op *ops = s->ranks[r].ops;
      size_t n = s->ranks[r].n, fb = n, lf = n;
      for (size_t i = 0; i < n; i++) {
        if (fb == n && (ops[i].kind == PL_OP_B || ops[i].kind == PL_OP_BW))
          fb = i;
        if (ops[i].kind == PL_OP_F)
          lf = i;
      }
      sim->first_b[r] = fb;
      sim->last_f[r] = lf;
    }
  if (R.links && mode == PL_P2P_ASYNC &&
      grow_d(&sim->arr, &sim->arr_cap, keys))
    goto nomem;
  if (mode != PL_P2P_ASYNC && (grow_d(&sim->xp, &sim->x_cap, 2 * keys) ||
                               grow_d(&sim->xe, &sim->xe_cap, keys)))
    goto nomem;

  size_t total = 0;
  if (flags & (PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM)) {
    R.offset = pl_malloc((size_t)p * sizeof *R.offset);
    if (!R.offset)
      goto nomem;
  }
  for (int r = 0; r < p; r++) {
    if (R.offset)
      R.offset[r] = total;
    total += s->ranks[r].n;
  }
  if (flags & PL_SIM_RECORD_OPS) {
    res->ops = pl_malloc(total * sizeof *res->ops);
    R.xrec = pl_malloc((keys ? keys : 1) * sizeof *R.xrec);
    if (!res->ops || !R.xrec)
      goto nomem;
    res->n_ops = total;
    for (size_t k = 0; k < keys; k++)
      R.xrec[k].src = -1;
  }
  if (flags & PL_SIM_RECORD_MEM) {
    /* At most two memory changes per op (a fused F&B makes two). */
    res->mem = pl_malloc((2 * total + 1) * sizeof *res->mem);
    R.mem_n = pl_calloc((size_t)p, sizeof *R.mem_n);
    if (!res->mem || !R.mem_n)
      goto nomem;
  }

  double *end = sim->end;
  for (size_t i = 0; i < keys; i++)
    end[i] = -1.0;
  if (mode != PL_P2P_ASYNC)
    for (size_t i = 0; i < keys; i++)
      sim->xp[i] = sim->xp[keys + i] = sim->xe[i] = -1.0;
  int top = 0;
  for (int r = 0; r < p; r++) {
    sim->pos[r] = 0;
    sim->free_t[r] = 0;
    sim->parked[r] = -1;
    sim->mem[r] = 0;
    res->ranks[r].rank = r;
    res->ranks[r].first_start = INFINITY;
    res->ranks[r].peak_activation_bytes = -1;
    sim->stack[top++] = p - 1 - r; /* rank 0 on top */
  }

  int done_ranks = mode == PL_P2P_ASYNC ? loop_async(&R, top)
                                        : loop_rendezvous(&R, top, mode);
  if (done_ranks != p) {
    rc = report_deadlock(s, sim, mode, eb);
    pl_free(R.offset);
    pl_free(R.mem_n);
    pl_free(R.xrec);
    pl_result_free(res);
    return rc;
  }
  for (int r = 0; r < p; r++)
    if (res->ranks[r].n_ops == 0)
      res->ranks[r].first_start = 0;
  if (R.mem_n) {
    /* Compact the per-rank regions into one array sorted by rank, time. */
    size_t w = 0;
    for (int r = 0; r < p; r++) {
      memmove(&res->mem[w], &res->mem[2 * R.offset[r]],
              R.mem_n[r] * sizeof *res->mem);
      w += R.mem_n[r];
    }
    res->n_mem = w;
  }
  if (R.xrec) {
    /* Keep the transfers that happened, in key order. */
    size_t w = 0;
    for (size_t k = 0; k < keys; k++)
      if (R.xrec[k].src >= 0)
        R.xrec[w++] = R.xrec[k];
    res->xfers = R.xrec;
    res->n_xfers = w;
    R.xrec = NULL;
  }
  pl_free(R.mem_n);
  pl_free(R.offset);
  denoise_result(res);
  pl_result_summarize(res);
  return PL_OK;

nomem:
  pl_free(R.offset);
  pl_free(R.mem_n);
  pl_free(R.xrec);
  pl_result_free(res);
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

int pl_sim_run(const pl_sched *s, const pl_costs *c, unsigned flags,
               pl_result *res, struct pl_errbuf *eb)
{
  pl_sim *sim;
  if (pl_sim_create(&sim))
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  int rc = pl_sim_run2(sim, s, c, flags, res, eb);
  pl_sim_destroy(sim);
  return rc;
}

int pl_sched_mem_peaks(const pl_sched *s, const pl_costs *c, double *peaks)
{
  if (c->n_stages != s->n_stages)
    return PL_EINVAL;
  for (int r = 0; r < s->p; r++) {
    double mem = 0, peak = 0;
    for (size_t i = 0; i < s->ranks[r].n; i++) {
      const pl_op *op = &s->ranks[r].ops[i];
      int bk = op->kind, bg = op->stage;
      if (op->kind == PL_OP_F || op->kind == PL_OP_FB) {
        mem += c->stage[op->stage].mem_b;
        if (mem > peak)
          peak = mem;
      }
      if (op->kind == PL_OP_FB) {
        bk = op->kind2;
        bg = op->stage2;
      }
      if (op->kind != PL_OP_F)
        mem -= bk == PL_OP_B ? c->stage[bg].mem_b - c->stage[bg].mem_w
               : bk == PL_OP_W ? c->stage[bg].mem_w
                               : c->stage[bg].mem_b;
    }
    peaks[r] = peak;
  }
  return PL_OK;
}

/*
 * A replicated schedule runs as its expanded form (two pipelines of S
 * stages, the copies' costs those of their stage); the records are mapped
 * back to the stage numbers of the schedule. Then the copies' gradients
 * are all-reduced: every rank holding a replicated stage waits for the
 * ranks it shares a stage with and adds the all-reduce time of each
 * replicated stage it holds (pl_stage_cost.allreduce) to its end.
 */
static int run_replicated(pl_sim *sim, const pl_sched *s, const pl_costs *c,
                          unsigned flags, pl_result *res,
                          struct pl_errbuf *eb)
{
  const int S = s->n_stages, p = s->p;
  pl_sched *e = NULL;
  pl_costs *ec = NULL;
  int rc = pl__sched_expand(s, &e);
  if (rc)
    return pl_errf(eb, rc, rc == PL_ENOMEM ? "out of memory"
                                           : "too many stages to replicate");
  if ((rc = pl_costs_create(2 * S, c->n_ranks, &ec)) != 0) {
    pl_sched_destroy(e);
    return pl_errf(eb, rc, "out of memory");
  }
  for (int g = 0; g < S; g++)
    ec->stage[g] = ec->stage[S + g] = c->stage[g];
  pl__costs_copy_settings(ec, c);
  rc = pl_sim_run2(sim, e, ec, flags, res, eb);
  pl_costs_destroy(ec);
  pl_sched_destroy(e);
  if (rc)
    return rc;
  res->virtual_stages = S;
  res->chunks = S / p;
  for (size_t i = 0; i < res->n_ops; i++) {
    pl_op *op = &res->ops[i].op;
    if (op->stage >= S)
      op->stage = (int16_t)(op->stage - S);
    if (op->kind == PL_OP_FB && op->stage2 >= S)
      op->stage2 = (int16_t)(op->stage2 - S);
  }
  for (size_t i = 0; i < res->n_xfers; i++)
    if (res->xfers[i].stage >= S)
      res->xfers[i].stage -= S;
  /* The copies' gradient all-reduce at the end. */
  double *end0 = pl_malloc((size_t)p * sizeof *end0);
  if (!end0) {
    pl_result_free(res);
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  int any = 0;
  for (int r = 0; r < p; r++)
    end0[r] = res->ranks[r].last_end;
  for (int r = 0; r < p; r++) {
    double start = end0[r], t = 0;
    for (int g = 0; g < S; g++) {
      int a = s->stage_rank[g], b = s->replica_rank[g];
      if (b < 0 || (a != r && b != r))
        continue;
      int peer = a == r ? b : a;
      if (end0[peer] > start)
        start = end0[peer];
      t += c->stage[g].allreduce;
    }
    if (t > 0) {
      res->ranks[r].last_end = start + t;
      any = 1;
    }
  }
  pl_free(end0);
  if (any)
    pl_result_summarize(res);
  return PL_OK;
}
