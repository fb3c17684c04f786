/*
 * runtime.c: the executor's shared op loop. Each rank walks its op list in
 * order (docs/architecture.md, the schedule IR): receive the op's input (a message keyed by
 * direction, stage and microbatch), compute on real tensors through the
 * backend, send the output. Activation stashes are allocated by F and freed
 * by B / W / BW through a tracking allocator, exactly as the simulator
 * accounts them (docs/executor.md). The calling thread watches the ranks: when every
 * local rank has been waiting (for a message or at the barrier) with no
 * progress anywhere for the watchdog timeout, or when the caller's stop
 * flag is raised, it aborts the run; every rank then unwinds and reports
 * the op it was blocked at.
 *
 * Messages move through the run's transport (transport.h: threads in one
 * process, MPI between processes) unless the backend moves device memory
 * itself (CUDA). With more than one process (multi), the calling thread of
 * every process runs watch_global instead of watch: each tick it sums
 * every process's state through the transport (progress, ranks not
 * waiting, ranks finished, stop, failure, watchdog decision, barrier
 * arrivals), so that the watchdog sees every rank, a failure or Ctrl-C on
 * one process aborts all of them, and the iteration barrier spans the
 * processes. After the ranks end, every process drains its sends and
 * sends its ranks' records, errors and gradients to process 0, which
 * builds the result and the error exactly as a one-process run does and
 * broadcasts the outcome.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "exec_int.h"
#include "pipelab/exec.h"
#include "transport.h"

/* A receive never gives up on its own: the watchdog (watch()) decides when
 * a wait is a hang and aborts the backend, which ends every receive. This is
 * only a backstop (about 11 days). */
#define RECV_BACKSTOP_US 1e12
/* How often the watchdog looks at the ranks and the stop flag. */
#define WATCH_TICK_NS 50000000L

enum { DIR_FWD = 0, DIR_BWD = 1 };

struct stash {
  double *wpart, *bpart;
};

struct rt;
struct rank_state {
  struct rt *rt;
  int rank;
  /* workspace (not activation) */
  double *xa, *xb, *da, *db, *scratch, *target;
  /* the local hand-offs (activation, gradient) the running op consumes,
   * freed after it (or at teardown when it fails) */
  double *held[2];
  /* tracking allocator */
  double live, peak;
  /* results */
  pl_op_rec *recs;   /* [n ops] */
  pl_mem_point *mem; /* [2 n ops] */
  size_t n_rec, n_mem;
  double busy;
  /* failure / blocked report */
  int rc;
  int blocked;           /* 1 while waiting in recv when the run aborted */
  char what[256];        /* "rank 1 blocked at B0s1 (position 2) waiting ..." */
  struct pl_errbuf eb;
};

struct rt {
  const pl_sched *s;
  pl_workload w;
  const pl_backend_vt *vt;
  void *be;
  pl__transport *tp; /* data plane when vt->send is NULL; control plane */
  int multi;         /* tp->world > 1: watch_global, gathered results */
  int ready_gen;     /* multi: barriers every local rank reached (mu) */
  const pl_exec_opts *o;
  int p, S, m, L; /* L = layers per virtual stage */
  size_t T, H, F, msg_n, wpart_n, bpart_n, lp;
  double **params, **grads; /* [S] on the stage's rank */
  struct stash *stash;      /* [S*m] */
  /* Local hand-offs (two stages on one rank: V placement's turn), by
   * msg_key: the producer's output buffer itself, taken out of its
   * workspace (no copy, no transport), until the consumer has run.
   * [2*S*m]; an entry is touched only by the rank that owns its stage. */
  double **loc;
  struct rank_state *rs;    /* [p] */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int arrived, gen; /* barrier(): ranks arrived, generation */
  atomic_int failed;
  int lo, hi; /* ranks run by this process */
  /* The watchdog's view (watch()): */
  atomic_ulong progress; /* bumped by every op end, send, receive, barrier */
  atomic_int waiting;    /* ranks blocked in a receive or at the barrier */
  int finished;          /* rank threads done (mu) */
  pthread_cond_t done_cv; /* signalled when a rank thread ends (monotonic) */
  int stopped, timed_out; /* why watch() aborted the run */
};

static long msg_key(const struct rt *r, int dir, int stage, int mb)
{
  return ((long)dir * r->S + stage) * r->m + mb;
}

static void fail_all(struct rt *r)
{
  pthread_mutex_lock(&r->mu);
  r->failed = 1;
  pthread_cond_broadcast(&r->cv); /* wakes barrier() */
  pthread_mutex_unlock(&r->mu);
  if (r->vt && r->vt->abort)
    r->vt->abort(r->be);
  if (r->tp)
    r->tp->vt->abort(r->tp);
}

static int act_alloc(struct rt *r, struct rank_state *st, int g, int mb)
{
  struct stash *sh = &r->stash[(size_t)g * r->m + mb];
  size_t wn = (size_t)r->L * r->wpart_n;
  size_t bn = (size_t)r->L * r->bpart_n + (g == r->S - 1 ? r->msg_n : 0);
  /* Not zeroed: F writes every element (kernels.h), the last stage's loss
   * gradient slot is written by the loss. */
  sh->wpart = r->vt->alloc(r->be, st->rank, wn * sizeof(double), 0);
  sh->bpart = r->vt->alloc(r->be, st->rank, bn * sizeof(double), 0);
  if (!sh->wpart || !sh->bpart)
    return pl_errf(&st->eb, PL_ENOMEM,
                   "rank %d: out of memory for the activations of stage %d",
                   st->rank, g);
  st->live += (double)((wn + bn) * sizeof(double));
  if (st->live > st->peak)
    st->peak = st->live;
  return PL_OK;
}

static void act_free_b(struct rt *r, struct rank_state *st, int g, int mb)
{
  struct stash *sh = &r->stash[(size_t)g * r->m + mb];
  size_t bn = (size_t)r->L * r->bpart_n + (g == r->S - 1 ? r->msg_n : 0);
  r->vt->free(r->be, st->rank, sh->bpart);
  sh->bpart = NULL;
  st->live -= (double)(bn * sizeof(double));
}

static void act_free_w(struct rt *r, struct rank_state *st, int g, int mb)
{
  struct stash *sh = &r->stash[(size_t)g * r->m + mb];
  r->vt->free(r->be, st->rank, sh->wpart);
  sh->wpart = NULL;
  st->live -= (double)((size_t)r->L * r->wpart_n * sizeof(double));
}

static void describe_wait(struct rt *r, struct rank_state *st, const pl_op *op,
                          size_t pos, int dir, int g, int mb, int src)
{
  char name[64];
  pl_op_format(op, name, sizeof name);
  snprintf(st->what, sizeof st->what,
           "rank %d blocked at %s (position %zu) waiting for %s of "
           "microbatch %d from stage %d on rank %d",
           st->rank, name, pos, dir == DIR_FWD ? "the activation" :
           "the gradient", mb, g, src);
}

static int do_recv(struct rt *r, struct rank_state *st, const pl_op *op,
                   size_t pos, int dir, int g_from, int mb, double *buf)
{
  int src = pl_sched_stage_rank(r->s, g_from);
  int to = dir == DIR_FWD ? g_from + 1 : g_from - 1;
  atomic_fetch_add(&r->waiting, 1);
  long key = msg_key(r, dir, to, mb);
  size_t bytes = r->msg_n * sizeof(double);
  int rc = r->vt->recv
               ? r->vt->recv(r->be, st->rank, src, key, buf, bytes,
                             RECV_BACKSTOP_US, &st->eb)
               : r->tp->vt->recv(r->tp, st->rank, src, key, buf, bytes,
                                 RECV_BACKSTOP_US, &st->eb);
  atomic_fetch_sub(&r->waiting, 1);
  if (!rc)
    atomic_fetch_add(&r->progress, 1);
  if (rc == PL_ETIMEDOUT || rc == PL_EINTR) {
    describe_wait(r, st, op, pos, dir, g_from, mb, src);
    st->blocked = 1;
  }
  return rc;
}

static int do_send(struct rt *r, struct rank_state *st, int dir, int g_to,
                   int mb, const double *buf)
{
  int dst = pl_sched_stage_rank(r->s, g_to);
  long key = msg_key(r, dir, g_to, mb);
  size_t bytes = r->msg_n * sizeof(double);
  int rc = r->vt->send ? r->vt->send(r->be, st->rank, dst, key, buf, bytes,
                                     &st->eb)
                       : r->tp->vt->send(r->tp, st->rank, dst, key, buf,
                                         bytes, &st->eb);
  if (!rc)
    atomic_fetch_add(&r->progress, 1);
  return rc;
}


/* Hands y (an output in the rank's workspace) to a stage on the same rank:
 * the buffer itself moves to r->loc and the workspace gets a fresh one
 * (the backend's allocator reuses freed blocks), as a runtime passes a
 * tensor between two local stages without a copy or a message. */
static int hand_local(struct rt *r, struct rank_state *st, int dir, int g_to,
                      int mb, double *y)
{
  double **slot = &r->loc[msg_key(r, dir, g_to, mb)];
  double **ws = dir == DIR_FWD ? (y == st->xa ? &st->xa : &st->xb)
                               : (y == st->da ? &st->da : &st->db);
  if (*ws != y || *slot)
    return pl_errf(&st->eb, PL_EINVALSCHED, "rank %d: local hand-off of "
                   "microbatch %d to stage %d out of order", st->rank, mb,
                   g_to);
  double *nb = r->vt->alloc(r->be, st->rank, r->msg_n * sizeof(double), 0);
  if (!nb)
    return pl_errf(&st->eb, PL_ENOMEM, "rank %d: out of memory for a "
                   "workspace buffer", st->rank);
  *slot = y;
  *ws = nb;
  atomic_fetch_add(&r->progress, 1);
  return PL_OK;
}

/* Takes the buffer a stage on this rank handed to stage g (NULL with an
 * error when it has not run yet: an order the schedule cannot have). */
static double *take_local(struct rt *r, struct rank_state *st, int dir, int g,
                          int mb)
{
  double **slot = &r->loc[msg_key(r, dir, g, mb)];
  double *b = *slot;
  *slot = NULL;
  if (!b)
    pl_errf(&st->eb, PL_EINVALSCHED, "rank %d: stage %d needs the %s of "
            "microbatch %d from a stage on this rank that has not run it "
            "yet", st->rank, g, dir == DIR_FWD ? "activation" : "gradient",
            mb);
  return b;
}

static double *other(struct rank_state *st, double *p, int bwd)
{
  if (bwd)
    return p == st->da ? st->db : st->da;
  return p == st->xa ? st->xb : st->xa;
}

/* Forward of stage g on input x (workspace); *outp = the output (workspace). */
static int fwd_part(struct rt *r, struct rank_state *st, int g, int mb,
                    double *x, double **outp)
{
  const pl_backend_vt *vt = r->vt;
  int rc = act_alloc(r, st, g, mb);
  if (rc)
    return rc;
  struct stash *sh = &r->stash[(size_t)g * r->m + mb];
  double *in = x;
  for (int l = 0; l < r->L && !rc; l++) {
    if (r->failed) /* aborted: do not finish a long stage */
      return PL_EINTR;
    double *out = other(st, in, 0);
    rc = vt->layer_fwd(r->be, st->rank, r->params[g] + (size_t)l * r->lp, in,
                       out, sh->wpart + (size_t)l * r->wpart_n,
                       sh->bpart + (size_t)l * r->bpart_n);
    in = out;
  }
  if (!rc && g == r->S - 1) {
    rc = vt->target(r->be, st->rank, mb, st->target);
    if (!rc)
      rc = vt->loss(r->be, st->rank, in, st->target,
                    sh->bpart + (size_t)r->L * r->bpart_n);
  }
  if (rc)
    return pl_errf(&st->eb, rc, "rank %d: forward of stage %d failed: %s",
                   st->rank, g, pl_strerror(rc));
  *outp = in;
  return PL_OK;
}

/* Backward (B, or BW when full) of stage g from gradient dout (workspace or
 * the last stage's stashed loss gradient); *dxp = the input gradient. */
static int bwd_part(struct rt *r, struct rank_state *st, int g, int mb,
                    const double *dout, int full, double **dxp)
{
  const pl_backend_vt *vt = r->vt;
  struct stash *sh = &r->stash[(size_t)g * r->m + mb];
  int rc = 0;
  const double *in = dout;
  double *out = st->da;
  for (int l = r->L - 1; l >= 0 && !rc; l--) {
    if (r->failed)
      return PL_EINTR;
    out = in == st->da ? st->db : st->da;
    double *wp = sh->wpart + (size_t)l * r->wpart_n;
    double *gr = r->grads[g] + (size_t)l * r->lp;
    rc = vt->layer_bwd_b(r->be, st->rank, r->params[g] + (size_t)l * r->lp,
                         in, out, wp, sh->bpart + (size_t)l * r->bpart_n, gr,
                         st->scratch);
    if (!rc && full)
      rc = vt->layer_bwd_w(r->be, st->rank, wp, gr, st->scratch);
    in = out;
  }
  if (rc)
    return pl_errf(&st->eb, rc, "rank %d: backward of stage %d failed: %s",
                   st->rank, g, pl_strerror(rc));
  act_free_b(r, st, g, mb);
  if (full)
    act_free_w(r, st, g, mb);
  *dxp = out;
  return PL_OK;
}

static int w_part(struct rt *r, struct rank_state *st, int g, int mb)
{
  struct stash *sh = &r->stash[(size_t)g * r->m + mb];
  int rc = 0;
  for (int l = r->L - 1; l >= 0 && !rc; l--) {
    if (r->failed)
      return PL_EINTR;
    rc = r->vt->layer_bwd_w(r->be, st->rank,
                            sh->wpart + (size_t)l * r->wpart_n,
                            r->grads[g] + (size_t)l * r->lp, st->scratch);
  }
  if (rc)
    return pl_errf(&st->eb, rc, "rank %d: W of stage %d failed: %s", st->rank,
                   g, pl_strerror(rc));
  act_free_w(r, st, g, mb);
  return PL_OK;
}

static int order_error(struct rank_state *st, size_t i, const char *what,
                       int g, int mb)
{
  return pl_errf(&st->eb, PL_EINVALSCHED,
                 "rank %d: op at position %zu runs %s of stage %d microbatch "
                 "%d out of order (schedule not validated?)",
                 st->rank, i, what, g, mb);
}

static int run_ops(struct rt *r, struct rank_state *st)
{
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(r->s, st->rank, &n);
  const pl_backend_vt *vt = r->vt;
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    const pl_op *op = &ops[i];
    int kind = op->kind, g = op->stage, mb = op->mb;
    int bk = kind, bg = g, bmb = mb;
    if (kind == PL_OP_FB) {
      bk = op->kind2;
      bg = op->stage2;
      bmb = op->mb2;
    }
    int has_f = kind == PL_OP_F || kind == PL_OP_FB;
    int has_b = kind != PL_OP_F && bk != PL_OP_W;
    if (r->failed)
      return PL_EINTR;
    if (st->rank == r->o->fail_rank && (long)i == (long)r->o->fail_op) {
      if (!r->o->fail_hang)
        return pl_errf(&st->eb, PL_EIO, "rank %d: injected failure at op "
                       "position %zu", st->rank, i);
      /* Waits for a key no rank sends (direction 2): a hang the watchdog
       * must find. */
      size_t bytes = r->msg_n * sizeof(double);
      long key = msg_key(r, 2, 0, 0);
      atomic_fetch_add(&r->waiting, 1);
      rc = r->vt->recv ? r->vt->recv(r->be, st->rank, st->rank, key, st->xb,
                                     bytes, RECV_BACKSTOP_US, &st->eb)
                       : r->tp->vt->recv(r->tp, st->rank, st->rank, key,
                                         st->xb, bytes, RECV_BACKSTOP_US,
                                         &st->eb);
      atomic_fetch_sub(&r->waiting, 1);
      char name[64];
      pl_op_format(op, name, sizeof name);
      snprintf(st->what, sizeof st->what, "rank %d blocked at %s (position "
               "%zu) in an injected hang", st->rank, name, i);
      st->blocked = 1;
      return rc ? rc : PL_EINTR;
    }
    if (kind >= PL_OP_NKINDS || g < 0 || g >= r->S || mb < 0 ||
        mb >= r->m || bg < 0 || bg >= r->S || bmb < 0 || bmb >= r->m ||
        (kind == PL_OP_FB && bk != PL_OP_B && bk != PL_OP_BW) ||
        pl_sched_stage_rank(r->s, g) != st->rank ||
        pl_sched_stage_rank(r->s, bg) != st->rank)
      return pl_errf(&st->eb, PL_EINVALSCHED,
                     "rank %d: op at position %zu names a kind, stage or "
                     "microbatch this rank cannot run", st->rank, i);
    /* State checks (an unvalidated schedule must not crash the run). */
    struct stash *fs = &r->stash[(size_t)g * r->m + mb];
    struct stash *bs = &r->stash[(size_t)bg * r->m + bmb];
    if (has_f && (fs->wpart || fs->bpart))
      return order_error(st, i, "F", g, mb);
    if (has_b && !(bs->wpart && bs->bpart) &&
        !(kind == PL_OP_FB && bg == g && bmb == mb))
      return order_error(st, i, pl_op_kind_name(bk), bg, bmb);
    if (kind == PL_OP_W && !(fs->wpart && !fs->bpart))
      return order_error(st, i, "W", g, mb);
    /* Inputs first: waiting is not part of the op. A local input is the
     * producer's buffer itself, freed once this op has run. */
    double *x = st->xa, *dl = NULL;
    if (has_f && g > 0) {
      if (pl_sched_stage_rank(r->s, g - 1) == st->rank) {
        if (!(st->held[0] = x = take_local(r, st, DIR_FWD, g, mb)))
          return PL_EINVALSCHED;
      } else if ((rc = do_recv(r, st, op, i, DIR_FWD, g - 1, mb, x))) {
        return rc;
      }
    }
    if (has_b && bg < r->S - 1) {
      if (pl_sched_stage_rank(r->s, bg + 1) == st->rank) {
        if (!(st->held[1] = dl = take_local(r, st, DIR_BWD, bg, bmb)))
          return PL_EINVALSCHED;
      } else if ((rc = do_recv(r, st, op, i, DIR_BWD, bg + 1, bmb,
                               st->da))) {
        return rc;
      }
    }
    if ((rc = vt->op_begin(r->be, st->rank)))
      return pl_errf(&st->eb, rc, "rank %d: cannot time op %zu", st->rank, i);
    double *y = NULL, *dx = NULL;
    /* The first stage loads its microbatch inside F (the data loader is
     * part of the first stage's forward, as calibrate measures it). */
    if (has_f && g == 0 && (rc = vt->input(r->be, st->rank, mb, x)))
      return pl_errf(&st->eb, rc, "rank %d: input of microbatch %d failed",
                     st->rank, mb);
    if (has_f && (rc = fwd_part(r, st, g, mb, x, &y)))
      return rc;
    double after_f = st->live;
    if (has_b) {
      const double *dout = dl ? dl : st->da;
      if (bg == r->S - 1)
        dout = bs->bpart + (size_t)r->L * r->bpart_n;
      if ((rc = bwd_part(r, st, bg, bmb, dout, bk == PL_OP_BW, &dx)))
        return rc;
    } else if (kind == PL_OP_W) {
      if ((rc = w_part(r, st, g, mb)))
        return rc;
    }
    double t0, t1;
    if ((rc = vt->op_end(r->be, st->rank, &t0, &t1)))
      return pl_errf(&st->eb, rc, "rank %d: op at position %zu failed on "
                     "the device", st->rank, i);
    atomic_fetch_add(&r->progress, 1);
    pl_op_rec *rec = &st->recs[st->n_rec++];
    rec->rank = st->rank;
    rec->index = (int32_t)i;
    rec->op = *op;
    rec->start = t0;
    rec->end = t1;
    st->busy += t1 - t0;
    if (has_f) {
      pl_mem_point *mp = &st->mem[st->n_mem++];
      mp->rank = st->rank;
      mp->t = t0;
      mp->value = after_f;
    }
    if (kind != PL_OP_F) {
      pl_mem_point *mp = &st->mem[st->n_mem++];
      mp->rank = st->rank;
      mp->t = t1;
      mp->value = st->live;
    }
    for (int h = 0; h < 2; h++)
      if (st->held[h]) {
        vt->free(r->be, st->rank, st->held[h]);
        st->held[h] = NULL;
      }
    /* Outputs. */
    if (has_f && g < r->S - 1) {
      rc = pl_sched_stage_rank(r->s, g + 1) == st->rank
               ? hand_local(r, st, DIR_FWD, g + 1, mb, y)
               : do_send(r, st, DIR_FWD, g + 1, mb, y);
      if (rc)
        return rc;
    }
    if (has_b && bg > 0) {
      rc = pl_sched_stage_rank(r->s, bg - 1) == st->rank
               ? hand_local(r, st, DIR_BWD, bg - 1, bmb, dx)
               : do_send(r, st, DIR_BWD, bg - 1, bmb, dx);
      if (rc)
        return rc;
    }
  }
  return PL_OK;
}

static void *xalloc(struct rt *r, struct rank_state *st, size_t n_doubles,
                    int *bad)
{
  void *p = r->vt->alloc(r->be, st->rank, n_doubles * sizeof(double), 1);
  if (!p)
    *bad = 1;
  return p;
}

static int rank_setup(struct rt *r, struct rank_state *st)
{
  const pl_backend_vt *vt = r->vt;
  int rc = vt->rank_enter(r->be, st->rank, &st->eb);
  if (rc)
    return rc;
  int bad = 0;
  st->xa = xalloc(r, st, r->msg_n, &bad);
  st->xb = xalloc(r, st, r->msg_n, &bad);
  st->da = xalloc(r, st, r->msg_n, &bad);
  st->db = xalloc(r, st, r->msg_n, &bad);
  st->target = xalloc(r, st, r->msg_n, &bad);
  st->scratch = xalloc(r, st, pl_wl_scratch(&r->w), &bad);
  for (int g = 0; g < r->S && !bad; g++) {
    if (pl_sched_stage_rank(r->s, g) != st->rank)
      continue;
    r->params[g] = xalloc(r, st, (size_t)r->L * r->lp, &bad);
    r->grads[g] = xalloc(r, st, (size_t)r->L * r->lp, &bad);
    for (int l = 0; l < r->L && !bad && !rc; l++)
      rc = vt->init_layer(r->be, st->rank, g * r->L + l,
                          r->params[g] + (size_t)l * r->lp);
  }
  if (bad)
    return pl_errf(&st->eb, PL_ENOMEM,
                   "rank %d: out of memory for parameters and workspace",
                   st->rank);
  if (rc)
    return pl_errf(&st->eb, rc, "rank %d: parameter initialisation failed",
                   st->rank);
  return PL_OK;
}

static void rank_teardown(struct rt *r, struct rank_state *st)
{
  const pl_backend_vt *vt = r->vt;
  void *bufs[] = {st->xa,     st->xb,      st->da,      st->db,
                  st->target, st->scratch, st->held[0], st->held[1]};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i])
      vt->free(r->be, st->rank, bufs[i]);
  for (int g = 0; g < r->S; g++) {
    if (pl_sched_stage_rank(r->s, g) != st->rank)
      continue;
    for (int mb = 0; mb < r->m; mb++) {
      for (int dir = DIR_FWD; r->loc && dir <= DIR_BWD; dir++) {
        double **slot = &r->loc[msg_key(r, dir, g, mb)];
        if (*slot)
          vt->free(r->be, st->rank, *slot);
        *slot = NULL;
      }
      struct stash *sh = &r->stash[(size_t)g * r->m + mb];
      if (sh->wpart)
        vt->free(r->be, st->rank, sh->wpart);
      if (sh->bpart)
        vt->free(r->be, st->rank, sh->bpart);
      sh->wpart = sh->bpart = NULL;
    }
    if (r->params[g])
      vt->free(r->be, st->rank, r->params[g]);
    if (r->grads[g])
      vt->free(r->be, st->rank, r->grads[g]);
    r->params[g] = r->grads[g] = NULL;
  }
  vt->rank_leave(r->be, st->rank);
}

struct rank_arg {
  struct rank_state *st;
  pl_exec_grads *grads;
  double loss;
  int have_loss;
};

/* The one barrier of the local ranks, before every iteration: the last rank
 * to arrive (re)starts the backend's clock. A failure (rc here, or
 * r->failed from any rank or from pl_exec_run) releases everyone at once.
 * Returns rc, PL_EINTR when another party failed, or PL_OK. */
static void barrier_open(struct rt *r)
{
  r->arrived = 0;
  r->gen++;
  if (!r->failed)
    r->vt->start(r->be);
  pthread_cond_broadcast(&r->cv);
}

static int barrier(struct rt *r, int rc)
{
  pthread_mutex_lock(&r->mu);
  int gen = r->gen;
  if (rc)
    r->failed = 1;
  if (++r->arrived == r->hi - r->lo) {
    if (r->multi) { /* every process must arrive: watch_global opens it */
      r->ready_gen = gen + 1;
      pthread_cond_signal(&r->done_cv);
    } else {
      barrier_open(r);
    }
  }
  if (gen == r->gen && !r->failed) {
    atomic_fetch_add(&r->waiting, 1);
    while (gen == r->gen && !r->failed)
      pthread_cond_wait(&r->cv, &r->mu);
    atomic_fetch_sub(&r->waiting, 1);
  }
  atomic_fetch_add(&r->progress, 1);
  int failed = r->failed;
  pthread_mutex_unlock(&r->mu);
  return rc ? rc : failed ? PL_EINTR : PL_OK;
}

/* Between a warm-up iteration and the next: wait for every local rank to
 * finish (so that no message or time of one iteration leaks into the next),
 * clear the rank's records, zero its gradients (no optimizer step runs, so
 * every iteration computes the same ones), note the loss so far, and let the
 * last rank to arrive restart the backend's clock. Buffers stay in the
 * backend's cache: the measured iteration sees the steady state of a
 * training loop, not first-touch page faults and cold caches. */
static int next_iteration(struct rt *r, struct rank_state *st,
                          double *loss_before)
{
  const pl_backend_vt *vt = r->vt;
  int rc = PL_OK;
  for (int g = 0; g < r->S && !rc; g++) {
    if (pl_sched_stage_rank(r->s, g) != st->rank)
      continue;
    size_t bytes = (size_t)r->L * r->lp * sizeof(double);
    vt->free(r->be, st->rank, r->grads[g]);
    r->grads[g] = vt->alloc(r->be, st->rank, bytes, 1);
    if (!r->grads[g])
      rc = pl_errf(&st->eb, PL_ENOMEM, "rank %d: out of memory for the "
                   "gradients", st->rank);
  }
  if (!rc && pl_sched_stage_rank(r->s, r->S - 1) == st->rank &&
      (rc = vt->loss_total(r->be, st->rank, loss_before)))
    pl_errf(&st->eb, rc, "rank %d: cannot read the loss", st->rank);
  st->n_rec = st->n_mem = 0;
  st->busy = 0;
  st->peak = st->live; /* 0: a finished iteration frees every stash */
  return barrier(r, rc);
}

static void *rank_main(void *arg)
{
  struct rank_arg *ra = arg;
  struct rank_state *st = ra->st;
  struct rt *r = st->rt;
  /* Every local rank set up (or one failed) before the first op. */
  int rc = barrier(r, rank_setup(r, st));
  double loss_before = 0;
  for (int it = 0; !rc && it <= r->o->warmup; it++) {
    if (it > 0 && (rc = next_iteration(r, st, &loss_before)))
      break;
    rc = run_ops(r, st);
  }
  if (rc)
    fail_all(r);
  if (!rc && ra->grads) {
    for (int g = 0; g < r->S && !rc; g++)
      if (pl_sched_stage_rank(r->s, g) == st->rank)
        rc = r->vt->to_host(r->be, st->rank,
                            ra->grads->g + (size_t)g * r->L * r->lp,
                            r->grads[g], (size_t)r->L * r->lp * sizeof(double));
    if (!rc && pl_sched_stage_rank(r->s, r->S - 1) == st->rank) {
      rc = r->vt->loss_total(r->be, st->rank, &ra->loss);
      ra->loss -= loss_before; /* the backend sums over every iteration */
      ra->have_loss = 1;
    }
    if (rc && !st->eb.code)
      pl_errf(&st->eb, rc, "rank %d: cannot copy the gradients back",
              st->rank);
  }
  st->rc = rc;
  rank_teardown(r, st);
  pthread_mutex_lock(&r->mu);
  r->finished++;
  pthread_cond_signal(&r->done_cv);
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* The watchdog, on the calling thread while the started rank threads run:
 * every WATCH_TICK_NS it notes whether anything progressed (an op ended, a
 * message moved, the barrier opened), and aborts the run (fail_all: every
 * receive returns PL_EINTR, computing ranks stop at the next layer) when
 * the stop flag is up, or when every live rank is waiting and nothing has
 * progressed for the timeout. A rank that waits while another computes a
 * long op is not a hang: the computing rank is not waiting. */
static void watch(struct rt *r, int started)
{
  unsigned long seen = atomic_load(&r->progress);
  double quiet_since = pl_now_us();
  pthread_mutex_lock(&r->mu);
  while (r->finished < started) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += WATCH_TICK_NS;
    if (dl.tv_nsec >= 1000000000L) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&r->done_cv, &r->mu, &dl);
    if (r->finished >= started || r->stopped || r->timed_out)
      continue;
    double now = pl_now_us();
    unsigned long p = atomic_load(&r->progress);
    if (p != seen) {
      seen = p;
      quiet_since = now;
    }
    if (r->o->stop && *r->o->stop)
      r->stopped = 1;
    else if (atomic_load(&r->waiting) >= started - r->finished &&
             now - quiet_since >= r->o->timeout_s * 1e6)
      r->timed_out = 1;
    else
      continue;
    pthread_mutex_unlock(&r->mu);
    fail_all(r);
    pthread_mutex_lock(&r->mu);
  }
  pthread_mutex_unlock(&r->mu);
}

/* What every process adds up each tick of watch_global. */
enum {
  WG_PROGRESS,    /* ops ended, messages moved, barriers opened */
  WG_NOT_WAITING, /* live ranks not blocked in a receive or the barrier */
  WG_FINISHED,    /* rank threads ended (or never started) */
  WG_STOP,        /* the stop flag is up */
  WG_FAILED,      /* a rank failed or the process aborted its ranks */
  WG_TIMED_OUT,   /* a process's watchdog fired */
  WG_READY,       /* barriers every local rank reached */
  WG_N
};

/* The watchdog of a multi-process run, on the calling thread of every
 * process, in lockstep through the transport's sum: every process sees
 * the same sums, so all take the same decisions on the same tick (a
 * timeout decided on one process's clock reaches the others the next tick
 * through WG_TIMED_OUT). A tick ends early when a local barrier fills or a
 * rank ends, so that a barrier opens within milliseconds. Returns when
 * every rank of every process has ended; rc only for a transport failure
 * (every process then aborts). */
static int watch_global(struct rt *r, int started, struct pl_errbuf *eb)
{
  double seen = -1, quiet_since = pl_now_us();
  int aborted = 0, local = r->hi - r->lo;
  for (;;) {
    double v[WG_N];
    pthread_mutex_lock(&r->mu);
    if (r->finished < started && r->ready_gen <= r->gen) {
      struct timespec dl;
      clock_gettime(CLOCK_MONOTONIC, &dl);
      dl.tv_nsec += WATCH_TICK_NS;
      if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&r->done_cv, &r->mu, &dl);
    }
    int live = started - r->finished, waiting = atomic_load(&r->waiting);
    v[WG_PROGRESS] = (double)atomic_load(&r->progress);
    v[WG_NOT_WAITING] = live > waiting ? live - waiting : 0;
    v[WG_FINISHED] = r->finished + (local - started);
    v[WG_STOP] = r->o->stop && *r->o->stop;
    v[WG_FAILED] = r->failed;
    v[WG_TIMED_OUT] = r->timed_out;
    v[WG_READY] = r->ready_gen;
    int gen = r->gen;
    pthread_mutex_unlock(&r->mu);
    int rc = r->tp->vt->allreduce_sum(r->tp, v, WG_N, eb);
    if (rc) {
      fail_all(r);
      return rc;
    }
    if (v[WG_FINISHED] >= r->p)
      return PL_OK;
    double now = pl_now_us();
    /* Every rank at the barrier is not a hang: it opens below. */
    int opens = v[WG_READY] >= (double)r->tp->world * (gen + 1);
    if (v[WG_PROGRESS] != seen || opens) {
      seen = v[WG_PROGRESS];
      quiet_since = now;
    }
    if (!aborted) {
      int why = 1;
      if (v[WG_STOP] > 0)
        r->stopped = 1;
      else if (v[WG_TIMED_OUT] > 0 ||
               (v[WG_NOT_WAITING] == 0 &&
                now - quiet_since >= r->o->timeout_s * 1e6))
        r->timed_out = 1;
      else if (v[WG_FAILED] == 0)
        why = 0;
      if (why) {
        aborted = 1;
        fail_all(r);
      }
    }
    pthread_mutex_lock(&r->mu);
    if (!r->failed && r->ready_gen > gen && opens)
      barrier_open(r);
    pthread_mutex_unlock(&r->mu);
  }
}

/* ------------------------------------- results of a multi-process run --- */

/* One rank's state as it travels to process 0 (the same binary on every
 * process, so raw structs), followed by its op records, memory points and
 * the gradients of its stages. */
struct rank_wire {
  int rank, rc, blocked, have_loss, eb_code;
  size_t n_rec, n_mem;
  double busy, peak, live, loss;
  char what[256];
  char msg[PL_ERRMSG_MAX];
};

struct rank_arg;
static int pack_ranks(struct rt *r, struct rank_arg *ra, pl_exec_grads *grads,
                      struct pl_buf *b);
static int unpack_ranks(struct rt *r, struct rank_arg *ra,
                        pl_exec_grads *grads, const char *p, size_t n);

int pl__online_cores(void)
{
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores > 0 && cores < 1 << 30 ? (int)cores : 0;
}

int pl__oversubscribed(int threads, int cores, char *why, size_t len)
{
  if (cores < 1 || threads <= cores)
    return 0;
  snprintf(why, len, "oversubscribed: %d ranks on %d core%s", threads, cores,
           cores == 1 ? "" : "s");
  return 1;
}

int pl_backend_parse(const char *name)
{
  if (!name)
    return -1;
  if (!strcasecmp(name, "cpu"))
    return PL_BACKEND_CPU;
  if (!strcasecmp(name, "cuda"))
    return PL_BACKEND_CUDA;
  return -1;
}

const char *pl_backend_name(int kind)
{
  return kind == PL_BACKEND_CUDA ? "cuda" : "cpu";
}

void pl_exec_grads_free(pl_exec_grads *g)
{
  if (!g)
    return;
  pl_free(g->g);
  g->g = NULL;
  g->n = 0;
  g->loss = 0;
}

/* Reports the interruption, the first failure or the watchdog. */
static int collect_error(struct rt *r, struct pl_errbuf *eb)
{
  int timed_out = r->timed_out, first = PL_OK;
  if (r->stopped)
    return pl_errf(eb, PL_EINTR, "run interrupted");
  const struct rank_state *firstst = NULL;
  for (int i = r->lo; i < r->hi; i++) {
    const struct rank_state *st = &r->rs[i];
    if (st->rc == PL_ETIMEDOUT)
      timed_out = 1;
    if (st->rc && st->rc != PL_EINTR && st->rc != PL_ETIMEDOUT && !first) {
      first = st->rc;
      firstst = st;
    }
  }
  if (first)
    return pl_errf(eb, first, "%s", firstst->eb.msg[0] ? firstst->eb.msg
                                                        : pl_strerror(first));
  if (!timed_out) {
    for (int i = r->lo; i < r->hi; i++)
      if (r->rs[i].rc)
        return pl_errf(eb, r->rs[i].rc, "rank %d: %s", i,
                       r->rs[i].eb.msg[0] ? r->rs[i].eb.msg
                                          : pl_strerror(r->rs[i].rc));
    return PL_OK;
  }
  struct pl_buf b;
  pl_buf_init(&b, PL_ERRMSG_MAX - 1);
  pl_buf_addf(&b, "watchdog: every rank waiting, no progress for %g s, run "
              "aborted: ", r->o->timeout_s);
  int n = 0;
  for (int i = r->lo; i < r->hi; i++)
    if (r->rs[i].blocked)
      pl_buf_addf(&b, "%s%s", n++ ? "; " : "", r->rs[i].what);
  int rc = pl_errf(eb, PL_ETIMEDOUT, "%s",
                   b.len ? b.buf : "watchdog: run aborted (report too long)");
  pl_buf_free(&b);
  return rc;
}

static int fill_result(struct rt *r, pl_result *res, struct pl_errbuf *eb)
{
  const pl_sched *s = r->s;
  pl_result_free(res);
  snprintf(res->schedule, sizeof res->schedule, "%s", pl_sched_name(s));
  snprintf(res->source, sizeof res->source, "%s", r->vt->name);
  snprintf(res->time_unit, sizeof res->time_unit, "us");
  snprintf(res->mem_unit, sizeof res->mem_unit, "bytes");
  res->stages = r->p;
  res->virtual_stages = r->S;
  res->microbatches = r->m;
  res->chunks = r->S / r->p;
  res->ranks = pl_calloc((size_t)r->p, sizeof *res->ranks);
  if (!res->ranks)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  size_t nops = 0, nmem = 0;
  for (int i = 0; i < r->p; i++) {
    struct rank_state *st = &r->rs[i];
    pl_rank_result *rr = &res->ranks[i];
    rr->rank = i;
    rr->n_ops = st->n_rec;
    rr->busy = st->busy;
    rr->first_start = st->n_rec ? st->recs[0].start : 0;
    rr->last_end = st->n_rec ? st->recs[st->n_rec - 1].end : 0;
    rr->peak_mem = st->peak;
    rr->peak_activation_bytes = (i >= r->lo && i < r->hi) ? st->peak : -1;
    rr->end_mem = st->live;
    nops += st->n_rec;
    nmem += st->n_mem;
  }
  if (r->o->flags & PL_EXEC_RECORD_OPS) {
    res->ops = pl_malloc((nops ? nops : 1) * sizeof *res->ops);
    if (!res->ops)
      goto nomem;
    for (int i = 0; i < r->p; i++) {
      memcpy(res->ops + res->n_ops, r->rs[i].recs,
             r->rs[i].n_rec * sizeof *res->ops);
      res->n_ops += r->rs[i].n_rec;
    }
  }
  if (r->o->flags & PL_EXEC_RECORD_MEM) {
    res->mem = pl_malloc((nmem ? nmem : 1) * sizeof *res->mem);
    if (!res->mem)
      goto nomem;
    for (int i = 0; i < r->p; i++) {
      memcpy(res->mem + res->n_mem, r->rs[i].mem,
             r->rs[i].n_mem * sizeof *res->mem);
      res->n_mem += r->rs[i].n_mem;
    }
  }
  pl_result_summarize(res);
  return PL_OK;
nomem:
  pl_result_free(res);
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

static int pack_ranks(struct rt *r, struct rank_arg *ra, pl_exec_grads *grads,
                      struct pl_buf *b)
{
  size_t gn = (size_t)r->L * r->lp;
  for (int i = r->lo; i < r->hi; i++) {
    const struct rank_state *st = &r->rs[i];
    struct rank_wire h;
    memset(&h, 0, sizeof h);
    h.rank = i;
    h.rc = st->rc;
    h.blocked = st->blocked;
    h.have_loss = ra[i].have_loss;
    h.eb_code = st->eb.code;
    h.n_rec = st->n_rec;
    h.n_mem = st->n_mem;
    h.busy = st->busy;
    h.peak = st->peak;
    h.live = st->live;
    h.loss = ra[i].loss;
    memcpy(h.what, st->what, sizeof h.what);
    memcpy(h.msg, st->eb.msg, sizeof h.msg);
    int rc = pl_buf_add(b, &h, sizeof h);
    if (!rc && st->n_rec)
      rc = pl_buf_add(b, st->recs, st->n_rec * sizeof *st->recs);
    if (!rc && st->n_mem)
      rc = pl_buf_add(b, st->mem, st->n_mem * sizeof *st->mem);
    for (int g = 0; !rc && grads && g < r->S; g++)
      if (pl_sched_stage_rank(r->s, g) == i)
        rc = pl_buf_add(b, grads->g + (size_t)g * gn, gn * sizeof(double));
    if (rc)
      return PL_ENOMEM;
  }
  return PL_OK;
}

/* Process 0: one process's blob into r->rs, ra and grads. */
static int unpack_ranks(struct rt *r, struct rank_arg *ra,
                        pl_exec_grads *grads, const char *p, size_t n)
{
  size_t gn = (size_t)r->L * r->lp;
  while (n) {
    struct rank_wire h;
    if (n < sizeof h)
      return PL_EIO;
    memcpy(&h, p, sizeof h);
    p += sizeof h;
    n -= sizeof h;
    if (h.rank < 0 || h.rank >= r->p)
      return PL_EIO;
    struct rank_state *st = &r->rs[h.rank];
    size_t nops;
    pl_sched_rank_ops(r->s, h.rank, &nops);
    size_t need = h.n_rec * sizeof *st->recs + h.n_mem * sizeof *st->mem;
    if (h.n_rec > nops || h.n_mem > 2 * nops + 1 || n < need)
      return PL_EIO;
    memcpy(st->recs, p, h.n_rec * sizeof *st->recs);
    p += h.n_rec * sizeof *st->recs;
    memcpy(st->mem, p, h.n_mem * sizeof *st->mem);
    p += h.n_mem * sizeof *st->mem;
    n -= need;
    st->n_rec = h.n_rec;
    st->n_mem = h.n_mem;
    st->rc = h.rc;
    st->blocked = h.blocked;
    st->busy = h.busy;
    st->peak = h.peak;
    st->live = h.live;
    st->eb.code = h.eb_code;
    memcpy(st->what, h.what, sizeof st->what);
    st->what[sizeof st->what - 1] = 0;
    memcpy(st->eb.msg, h.msg, sizeof st->eb.msg);
    st->eb.msg[sizeof st->eb.msg - 1] = 0;
    ra[h.rank].loss = h.loss;
    ra[h.rank].have_loss = h.have_loss;
    for (int g = 0; grads && g < r->S; g++) {
      if (pl_sched_stage_rank(r->s, g) != h.rank)
        continue;
      if (n < gn * sizeof(double))
        return PL_EIO;
      memcpy(grads->g + (size_t)g * gn, p, gn * sizeof(double));
      p += gn * sizeof(double);
      n -= gn * sizeof(double);
    }
  }
  return PL_OK;
}

/* After the ranks of every process ended: drain, gather every rank's state
 * on process 0 (which then sees all p ranks, lo = 0, hi = p), and agree on
 * the outcome. Returns the run's code on every process, with the message
 * in eb. Every process makes the same transport calls in the same order,
 * whatever failed. */
static int multi_finish(struct rt *r, struct rank_arg *ra,
                        pl_exec_grads *grads, int rc, struct pl_errbuf *eb)
{
  pl__transport *tp = r->tp;
  struct pl_errbuf teb = PL_ERRBUF_INIT;
  int trc = tp->vt->drain(tp, &teb);
  struct pl_buf b;
  pl_buf_init(&b, 0);
  int prc = r->rs ? pack_ranks(r, ra, grads, &b) : PL_ENOMEM;
  if (prc)
    pl_buf_free(&b); /* an empty blob: process 0 reports the ranks missing */
  void *all = NULL;
  size_t *counts = pl_calloc((size_t)tp->world, sizeof *counts);
  struct pl_errbuf geb = PL_ERRBUF_INIT;
  int grc = tp->vt->gather(tp, b.buf, b.len, &all, counts, &geb);
  pl_buf_free(&b);
  struct outcome {
    int rc;
    char msg[PL_ERRMSG_MAX];
  } out;
  memset(&out, 0, sizeof out);
  if (tp->me == 0) {
    if (trc)
      out.rc = pl_errf(eb, trc, "%s", teb.msg);
    else if (grc || !counts || !r->rs)
      out.rc = pl_errf(eb, grc ? grc : PL_ENOMEM, "%s",
                       grc ? geb.msg : "out of memory for the results");
    if (!out.rc) {
      /* Ranks of processes that sent nothing (out of memory) fail. */
      for (int i = 0; i < r->p; i++)
        if (i < r->lo || i >= r->hi) {
          r->rs[i].rc = PL_ENOMEM;
          r->rs[i].n_rec = r->rs[i].n_mem = 0;
          snprintf(r->rs[i].eb.msg, sizeof r->rs[i].eb.msg, "rank %d: its "
                   "process sent no result (out of memory)", i);
        }
      const char *q = all;
      q += counts[0]; /* our own ranks are in place */
      for (int k = 1; k < tp->world && !out.rc; k++) {
        if (unpack_ranks(r, ra, grads, q, counts[k]))
          out.rc = pl_errf(eb, PL_EIO, "malformed result from process %d",
                           k);
        q += counts[k];
      }
    }
    if (!out.rc) {
      r->lo = 0;
      r->hi = r->p;
      out.rc = rc ? rc : collect_error(r, eb);
    }
    if (out.rc)
      snprintf(out.msg, sizeof out.msg, "%s",
               eb->msg[0] ? eb->msg : pl_strerror(out.rc));
  }
  pl_free(all);
  pl_free(counts);
  if (tp->vt->bcast(tp, &out, sizeof out, &teb) && tp->me != 0)
    return pl_errf(eb, PL_EIO, "%s", teb.msg);
  if (tp->me != 0 && out.rc)
    pl_errf(eb, out.rc, "%s", out.msg);
  return out.rc;
}

int pl_exec_run(const pl_sched *s, const pl_workload *w, const pl_exec_opts *o,
                pl_result *res, pl_exec_grads *grads, struct pl_errbuf *eb)
{
  pl_exec_opts defo = PL_EXEC_OPTS_INIT;
  if (!o)
    o = &defo;
  if (!s || !w || !res)
    return pl_errf(eb, PL_EINVAL, "pl_exec_run: NULL schedule, workload or "
                   "result");
  if (pl_sched_replicated(s))
    return pl_errf(eb, PL_ENOTSUP,
                   "schedule '%s' places copies of its stages on a second "
                   "rank; the executor runs one copy per stage (simulate it "
                   "instead)",
                   pl_sched_name(s));
  struct rt r;
  memset(&r, 0, sizeof r);
  r.s = s;
  r.o = o;
  r.w = *w;
  r.p = pl_sched_ranks(s);
  r.S = pl_sched_stages(s);
  r.m = pl_sched_microbatches(s);
  r.w.microbatches = r.m;
  int rc = pl_wl_check(&r.w, eb);
  if (rc)
    return rc;
  if (r.S < 1 || r.p < 1 || r.m < 1)
    return pl_errf(eb, PL_EINVAL, "empty schedule");
  if (r.w.layers % r.S)
    return pl_errf(eb, PL_EINVAL,
                   "--layers %d is not divisible by the %d virtual stages "
                   "(stages x chunks); use a multiple of %d",
                   r.w.layers, r.S, r.S);
  if (!(o->timeout_s > 0))
    return pl_errf(eb, PL_EINVAL, "watchdog timeout must be positive, got %g",
                   o->timeout_s);
  if (o->warmup < 0 || o->warmup > 1000)
    return pl_errf(eb, PL_EINVAL, "warm-up iterations must be 0 to 1000, "
                   "got %d", o->warmup);
  if (o->stop && *o->stop)
    return pl_errf(eb, PL_EINTR, "run interrupted");
  r.L = r.w.layers / r.S;
  r.T = pl_wl_tokens(&r.w);
  r.H = (size_t)r.w.hidden;
  r.F = pl_wl_ffn(&r.w);
  r.msg_n = r.T * r.H;
  r.wpart_n = pl_wl_layer_wpart(&r.w);
  r.bpart_n = pl_wl_layer_bpart(&r.w);
  r.lp = pl_wl_layer_params(&r.w);
  r.lo = 0;
  r.hi = r.p;

  /* The transport first: every process of a multi-process run must reach
   * watch_global and multi_finish from here on, whatever fails locally
   * (setup_rc), or the others would wait for it forever. */
  pl_launch la;
  pl_launch_detect(&la);
  int tk = pl_transport_resolve(o->transport, &la);
  if (tk == PL_TRANSPORT_MPI)
    rc = pl__transport_mpi_open(r.p, &r.tp, eb);
  else if (tk == PL_TRANSPORT_THREADS)
    rc = pl__transport_threads_open(r.p, &r.tp, eb);
  else
    rc = pl_errf(eb, PL_EINVAL, "unknown transport %d", o->transport);
  if (rc)
    return rc;
  r.multi = r.tp->world > 1;
  if (r.multi)
    pl__proc_ranks(r.p, r.tp->world, r.tp->me, &r.lo, &r.hi);

  int setup_rc = PL_OK;
  struct pl_errbuf seb = PL_ERRBUF_INIT;
  if (o->backend == PL_BACKEND_CPU) {
    r.vt = pl_backend_cpu_vt();
    if (pl_backend_cpu_open(r.p, &r.w, &r.be))
      setup_rc = pl_errf(&seb, PL_ENOMEM, "out of memory");
  } else if (o->backend == PL_BACKEND_CUDA) {
    /* Checked before the device so the answer does not depend on the
     * machine: running the MLP-only block instead would be a silent lie. */
    if (r.w.attention)
      setup_rc = pl_errf(&seb, PL_EINVAL, "attention is not implemented on "
                         "the CUDA backend yet");
    const char *why;
    /* Loads the plugin; its absence is the loader's line, as is. */
    if (!setup_rc && pl_cuda_devices(&why) == 0)
      setup_rc = pl_errf(&seb, PL_ENODEV, "%s%s",
                         pl_backend_cuda_vt() ? "no GPU: " : "", why);
    if (!setup_rc) {
      r.vt = pl_backend_cuda_vt();
      setup_rc = pl_backend_cuda_open(r.p, &r.w, &r.be, &seb);
    }
    if (!setup_rc) {
      int lo, hi;
      pl_backend_cuda_local_ranks(r.be, &lo, &hi);
      if (r.multi && (lo != r.lo || hi != r.hi))
        setup_rc = pl_errf(&seb, PL_EINVAL, "the CUDA backend runs ranks "
                           "%d..%d on this process but the %s transport "
                           "gives it %d..%d (one process per rank, same "
                           "launcher)", lo, hi - 1, r.tp->vt->name, r.lo,
                           r.hi - 1);
      r.lo = lo;
      r.hi = hi;
    }
    if (!setup_rc && pl_backend_cuda_set_order(r.be, s))
      setup_rc = pl_errf(&seb, PL_ENOMEM, "out of memory");
  } else {
    setup_rc = pl_errf(&seb, PL_EINVAL, "unknown backend %d", o->backend);
  }
  if (setup_rc && !r.multi) {
    rc = pl_errf(eb, setup_rc, "%s", seb.msg);
    goto close;
  }

  r.params = pl_calloc((size_t)r.S, sizeof *r.params);
  r.grads = pl_calloc((size_t)r.S, sizeof *r.grads);
  r.stash = pl_calloc((size_t)r.S * (size_t)r.m, sizeof *r.stash);
  r.loc = pl_calloc((size_t)2 * r.S * (size_t)r.m, sizeof *r.loc);
  r.rs = pl_calloc((size_t)r.p, sizeof *r.rs);
  pthread_t *th = pl_calloc((size_t)r.p, sizeof *th);
  struct rank_arg *ra = pl_calloc((size_t)r.p, sizeof *ra);
  int ok = r.params && r.grads && r.stash && r.loc && r.rs && th && ra;
  for (int i = 0; ok && i < r.p; i++) {
    size_t n;
    pl_sched_rank_ops(s, i, &n);
    r.rs[i].rt = &r;
    r.rs[i].rank = i;
    r.rs[i].recs = pl_malloc((n ? n : 1) * sizeof *r.rs[i].recs);
    r.rs[i].mem = pl_malloc((2 * n + 1) * sizeof *r.rs[i].mem);
    if (!r.rs[i].recs || !r.rs[i].mem)
      ok = 0;
    ra[i].st = &r.rs[i];
  }
  if (grads) {
    pl_exec_grads_free(grads);
    grads->n = (size_t)r.w.layers * r.lp;
    grads->g = pl_calloc(grads->n, sizeof *grads->g);
    if (!grads->g)
      ok = 0;
  }
  if (!ok && !setup_rc)
    setup_rc = pl_errf(&seb, PL_ENOMEM, "out of memory");
  if (setup_rc && !r.multi) {
    rc = pl_errf(eb, setup_rc, "%s", seb.msg);
    goto out;
  }
  if (!ok && r.rs) { /* multi: process 0 reports these ranks missing */
    for (int i = 0; i < r.p; i++) {
      pl_free(r.rs[i].recs);
      pl_free(r.rs[i].mem);
    }
    pl_free(r.rs);
    r.rs = NULL;
  }
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.cv, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r.done_cv, &ca);
  pthread_condattr_destroy(&ca);
  atomic_init(&r.failed, 0);
  atomic_init(&r.progress, 0);
  atomic_init(&r.waiting, 0);
  int started = 0;
  if (setup_rc) { /* multi only: the other processes learn it and stop */
    r.failed = 1;
    if (r.rs) {
      r.rs[r.lo].rc = setup_rc;
      snprintf(r.rs[r.lo].eb.msg, sizeof r.rs[r.lo].eb.msg, "%s", seb.msg);
    }
  }
  for (int i = r.lo; !setup_rc && i < r.hi; i++) {
    ra[i].grads = grads;
    if (pthread_create(&th[i], NULL, rank_main, &ra[i]) != 0) {
      /* Releases the started ones from the barrier with failed set. */
      fail_all(&r);
      rc = pl_errf(eb, PL_ENOMEM, "cannot start the thread of rank %d", i);
      r.rs[i].rc = rc;
      snprintf(r.rs[i].eb.msg, sizeof r.rs[i].eb.msg, "%s", eb->msg);
      break;
    }
    started++;
  }
  int local_threads = r.hi - r.lo;
  if (r.multi) {
    struct pl_errbuf web = PL_ERRBUF_INIT;
    int wrc = watch_global(&r, started, &web);
    for (int i = r.lo; i < r.lo + started; i++)
      pthread_join(th[i], NULL);
    if (wrc && !rc)
      rc = pl_errf(eb, wrc, "%s", web.msg);
    rc = multi_finish(&r, ra, grads, rc, eb);
  } else {
    watch(&r, started);
    for (int i = r.lo; i < r.lo + started; i++)
      pthread_join(th[i], NULL);
    if (!rc)
      rc = collect_error(&r, eb);
  }
  pthread_mutex_destroy(&r.mu);
  pthread_cond_destroy(&r.cv);
  pthread_cond_destroy(&r.done_cv);
  if (r.multi && r.tp->me != 0) { /* process 0 holds the result */
    if (grads)
      pl_exec_grads_free(grads);
    goto out;
  }
  if (!rc && grads) {
    for (int i = r.lo; i < r.hi; i++)
      if (ra[i].have_loss)
        grads->loss = ra[i].loss;
  }
  if (!rc)
    rc = fill_result(&r, res, eb);
  char why[PL_UNTRUSTED_LEN];
  /* Threads busy on this node: the local ranks, times the processes of
   * the run on the node when there are several. */
  if (!rc && o->backend == PL_BACKEND_CPU &&
      pl__oversubscribed(local_threads * r.tp->node_procs,
                         pl__online_cores(), why, sizeof why))
    pl_result_untrust(res, why);
out:
  if (rc && grads)
    pl_exec_grads_free(grads);
  for (int i = 0; r.rs && i < r.p; i++) {
    pl_free(r.rs[i].recs);
    pl_free(r.rs[i].mem);
  }
  pl_free(r.params);
  pl_free(r.grads);
  pl_free(r.stash);
  pl_free(r.loc);
  pl_free(r.rs);
  pl_free(th);
  pl_free(ra);
close:
  if (o->backend == PL_BACKEND_CUDA)
    pl_backend_cuda_close(r.be);
  else
    pl_backend_cpu_close(r.be);
  r.tp->vt->close(r.tp);
  return rc;
}

int pl_exec_reference(const pl_workload *w0, pl_exec_grads *out,
                      volatile const int *stop, struct pl_errbuf *eb)
{
  pl_workload w = *w0;
  int rc = pl_wl_check(&w, eb);
  if (rc)
    return rc;
  size_t lp = pl_wl_layer_params(&w), L = (size_t)w.layers;
  size_t T = pl_wl_tokens(&w), H = (size_t)w.hidden;
  size_t wn = pl_wl_layer_wpart(&w), bn = pl_wl_layer_bpart(&w);
  pl_exec_grads_free(out);
  double *params = pl_malloc(L * lp * sizeof *params);
  double *wp = pl_malloc(L * wn * sizeof *wp);
  double *bp = pl_malloc(L * bn * sizeof *bp);
  double *xa = pl_malloc(T * H * sizeof *xa), *xb = pl_malloc(T * H * sizeof *xb);
  double *t = pl_malloc(T * H * sizeof *t), *dl = pl_malloc(T * H * sizeof *dl);
  double *sc = pl_malloc(pl_wl_scratch(&w) * sizeof *sc);
  out->g = pl_calloc(L * lp, sizeof *out->g);
  out->n = L * lp;
  out->loss = 0;
  if (!params || !wp || !bp || !xa || !xb || !t || !dl || !sc || !out->g) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory for the sequential reference");
    pl_exec_grads_free(out);
    goto done;
  }
  pl_kern_blas_single_thread();
  for (size_t l = 0; l < L; l++)
    pl_kern_init_layer(&w, (int)l, params + l * lp);
  for (int mb = 0; mb < w.microbatches; mb++) {
    double *in = xa, *o = xb;
    pl_kern_input(&w, mb, in);
    for (size_t l = 0; l < L; l++) {
      if (stop && *stop)
        goto stopped;
      pl_kern_layer_fwd(&w, params + l * lp, in, o, wp + l * wn, bp + l * bn);
      double *tmp = in;
      in = o;
      o = tmp;
    }
    pl_kern_target(&w, mb, t);
    out->loss += pl_kern_loss(&w, in, t, dl);
    const double *d = dl;
    for (size_t l = L; l-- > 0;) {
      if (stop && *stop)
        goto stopped;
      o = d == xa ? xb : xa;
      pl_kern_layer_bwd_b(&w, params + l * lp, d, o, wp + l * wn, bp + l * bn,
                          out->g + l * lp, sc);
      pl_kern_layer_bwd_w(&w, wp + l * wn, out->g + l * lp);
      d = o;
    }
  }
  goto done;
stopped:
  pl_exec_grads_free(out);
  rc = pl_errf(eb, PL_EINTR, "sequential reference interrupted");
done:
  pl_free(params);
  pl_free(wp);
  pl_free(bp);
  pl_free(xa);
  pl_free(xb);
  pl_free(t);
  pl_free(dl);
  pl_free(sc);
  return rc;
}

int pl_exec_grads_compare(const pl_exec_grads *a, const pl_exec_grads *ref,
                          double tol, pl_grad_check *out,
                          struct pl_errbuf *eb)
{
  memset(out, 0, sizeof *out);
  if (a->n != ref->n)
    return pl_errf(eb, PL_EINVAL, "gradient sizes differ: %zu vs %zu", a->n,
                   ref->n);
  double maxd = 0, maxr = 0;
  for (size_t i = 0; i < a->n; i++) {
    double d = fabs(a->g[i] - ref->g[i]);
    if (!(d <= maxd))
      maxd = d; /* also catches NaN */
    if (fabs(ref->g[i]) > maxr)
      maxr = fabs(ref->g[i]);
  }
  double dl = fabs(a->loss - ref->loss);
  out->loss_abs_error = dl;
  out->max_abs_error = isnan(dl) || dl > maxd ? dl : maxd;
  double rg = maxr > 0 ? maxd / maxr : maxd;
  double rl = ref->loss != 0 ? dl / fabs(ref->loss) : dl;
  out->max_rel_error = isnan(rl) || rl > rg ? rl : rg;
  out->passed = out->max_rel_error <= tol; /* false for NaN */
  return PL_OK;
}
