/*
 * calibrate.c: measures what the simulator needs from a backend: one
 * layer's F, B, W and BW, the first stage's input load and the last stage's
 * loss (warm-up, then repetitions: mean, standard deviation, minimum), and
 * P2P latency and bandwidth between two ranks (ping-pong of an 8-byte and
 * of an activation-sized message, one-way time = round trip / 2). Each
 * repetition of B, W and BW runs an untimed F first so that it works on a
 * fresh activation stash. Timing uses the backend's own op clock (host
 * monotonic clock on the CPU, CUDA events on the GPU). Every repetition
 * polls the caller's stop flag; pl_calib_trust says which figures are too
 * noisy (or were taken on too few cores) to be trusted.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "exec_int.h"
#include "pipelab/exec.h"
#include "transport.h"
#include "pipelab/models.h"

struct cal {
  const pl_backend_vt *vt;
  void *be;
  pl__transport *tp; /* moves host buffers when the backend has no P2P */
  pl_workload w;
  int warmup, reps;
  volatile const int *stop;
  pl_calib *out;
  int rc;
  struct pl_errbuf eb;
};

static void stat_of(const double *v, int n, pl_calib_stat *s)
{
  double sum = 0, mn = INFINITY;
  for (int i = 0; i < n; i++) {
    sum += v[i];
    if (v[i] < mn)
      mn = v[i];
  }
  s->reps = n;
  s->mean = n ? sum / n : 0;
  double q = 0;
  for (int i = 0; i < n; i++)
    q += (v[i] - s->mean) * (v[i] - s->mean);
  s->stddev = n > 1 ? sqrt(q / (n - 1)) : 0;
  s->min = n ? mn : 0;
}

enum { M_F, M_B, M_W, M_BW, M_LOSS, M_INPUT, M_N };

/* Stashes the compute measurement rotates through. In a pipeline other
 * microbatches' ops run between a stash's F and its B / W, so an op finds
 * its stash (and the previous op's output) out of the core's cache; reusing
 * one stash would time every op hot in L2 and under-predict the run (about
 * 10 % at hidden 128 on a 2 MiB-L2 core). 4 stashes of the default shape
 * are 5 MiB. */
#define CAL_ROT 4

static int measure_compute(struct cal *c)
{
  const pl_backend_vt *vt = c->vt;
  void *be = c->be;
  const pl_workload *w = &c->w;
  size_t T = pl_wl_tokens(w), H = (size_t)w->hidden;
  size_t lp = pl_wl_layer_params(w);
  size_t wn = pl_wl_layer_wpart(w), bn = pl_wl_layer_bpart(w) + T * H;
  double *params = vt->alloc(be, 0, lp * 8, 1), *grads = vt->alloc(be, 0, lp * 8, 1);
  double *x = vt->alloc(be, 0, T * H * 8, 1), *y = vt->alloc(be, 0, T * H * 8, 1);
  double *dx = vt->alloc(be, 0, T * H * 8, 1), *t = vt->alloc(be, 0, T * H * 8, 1);
  double *wps[CAL_ROT] = {NULL}, *bps[CAL_ROT] = {NULL};
  double *sc = vt->alloc(be, 0, pl_wl_scratch(w) * 8, 1);
  double *v = pl_malloc((size_t)c->reps * M_N * sizeof *v);
  int rc = PL_OK, have = params && grads && x && y && dx && t && sc && v;
  for (int i = 0; i < CAL_ROT; i++) {
    wps[i] = vt->alloc(be, 0, wn * 8, 1);
    bps[i] = vt->alloc(be, 0, bn * 8, 1);
    have = have && wps[i] && bps[i];
  }
  if (!have) {
    rc = pl_errf(&c->eb, PL_ENOMEM, "out of memory for the calibration");
    goto out;
  }
  rc = vt->init_layer(be, 0, 0, params);
  for (int it = 0; it < c->warmup + c->reps && !rc; it++) {
    double t0, t1, d[M_N];
    int keep = it >= c->warmup;
    if (c->stop && *c->stop) {
      rc = PL_EINTR;
      break;
    }
    /* Two stashes per repetition: one for F, B, W, one for BW. */
    double *wp = wps[(2 * it) % CAL_ROT], *bp = bps[(2 * it) % CAL_ROT];
    double *wp2 = wps[(2 * it + 1) % CAL_ROT], *bp2 = bps[(2 * it + 1) % CAL_ROT];
    double *dl = bp + pl_wl_layer_bpart(w); /* the loss gradient slot */
    double *dl2 = bp2 + pl_wl_layer_bpart(w);
    /* input */
    if ((rc = vt->op_begin(be, 0)) || (rc = vt->input(be, 0, it, x)) ||
        (rc = vt->op_end(be, 0, &t0, &t1)))
      break;
    d[M_INPUT] = t1 - t0;
    /* F */
    if ((rc = vt->op_begin(be, 0)) ||
        (rc = vt->layer_fwd(be, 0, params, x, y, wp, bp)) ||
        (rc = vt->op_end(be, 0, &t0, &t1)))
      break;
    d[M_F] = t1 - t0;
    /* loss (target + loss + gradient) */
    if ((rc = vt->op_begin(be, 0)) || (rc = vt->target(be, 0, it, t)) ||
        (rc = vt->loss(be, 0, y, t, dl)) ||
        (rc = vt->op_end(be, 0, &t0, &t1)))
      break;
    d[M_LOSS] = t1 - t0;
    /* BW's stash, filled untimed now so that B and W below run after it,
     * on a stash that is no longer the most recently written one */
    if ((rc = vt->layer_fwd(be, 0, params, x, y, wp2, bp2)) ||
        (rc = vt->loss(be, 0, y, t, dl2)))
      break;
    /* B then W on the first stash */
    if ((rc = vt->op_begin(be, 0)) ||
        (rc = vt->layer_bwd_b(be, 0, params, dl, dx, wp, bp, grads, sc)) ||
        (rc = vt->op_end(be, 0, &t0, &t1)))
      break;
    d[M_B] = t1 - t0;
    if ((rc = vt->op_begin(be, 0)) ||
        (rc = vt->layer_bwd_w(be, 0, wp, grads, sc)) ||
        (rc = vt->op_end(be, 0, &t0, &t1)))
      break;
    d[M_W] = t1 - t0;
    /* BW on the second */
    if ((rc = vt->op_begin(be, 0)) ||
        (rc = vt->layer_bwd_b(be, 0, params, dl2, dx, wp2, bp2, grads, sc)) ||
        (rc = vt->layer_bwd_w(be, 0, wp2, grads, sc)) ||
        (rc = vt->op_end(be, 0, &t0, &t1)))
      break;
    d[M_BW] = t1 - t0;
    if (keep)
      for (int k = 0; k < M_N; k++)
        v[(size_t)k * c->reps + (it - c->warmup)] = d[k];
  }
  if (rc) {
    if (rc == PL_EINTR)
      rc = pl_errf(&c->eb, rc, "calibration interrupted");
    else
      rc = pl_errf(&c->eb, rc, "calibration kernel failed: %s",
                   pl_strerror(rc));
    goto out;
  }
  stat_of(v + (size_t)M_F * c->reps, c->reps, &c->out->t[PL_OP_F]);
  stat_of(v + (size_t)M_B * c->reps, c->reps, &c->out->t[PL_OP_B]);
  stat_of(v + (size_t)M_W * c->reps, c->reps, &c->out->t[PL_OP_W]);
  stat_of(v + (size_t)M_BW * c->reps, c->reps, &c->out->t[PL_OP_BW]);
  stat_of(v + (size_t)M_LOSS * c->reps, c->reps, &c->out->loss);
  stat_of(v + (size_t)M_INPUT * c->reps, c->reps, &c->out->input);
out:
  pl_free(v);
  void *bufs[] = {params, grads, x, y, dx, t, sc};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i])
      vt->free(be, 0, bufs[i]);
  for (int i = 0; i < CAL_ROT; i++) {
    if (wps[i])
      vt->free(be, 0, wps[i]);
    if (bps[i])
      vt->free(be, 0, bps[i]);
  }
  return rc;
}

/* Ping-pong between ranks 0 and 1 (rank 0 records round trips) for an
 * 8-byte and an activation-sized message. Rank 1 is entered and left on its
 * own thread (CUDA binds the device per thread). */
struct pp {
  struct cal *c;
  int rank;
  size_t bytes[2];
  int n;
  double *rt; /* [2][n] round trips (rank 0) */
  int rc;
  struct pl_errbuf eb;
};

static int cal_send(struct cal *c, int rank, int dst, long key,
                    const void *buf, size_t bytes, struct pl_errbuf *eb)
{
  if (c->vt->send)
    return c->vt->send(c->be, rank, dst, key, buf, bytes, eb);
  return c->tp->vt->send(c->tp, rank, dst, key, buf, bytes, eb);
}

static int cal_recv(struct cal *c, int rank, int src, long key, void *buf,
                    size_t bytes, struct pl_errbuf *eb)
{
  if (c->vt->recv)
    return c->vt->recv(c->be, rank, src, key, buf, bytes, 30e6, eb);
  return c->tp->vt->recv(c->tp, rank, src, key, buf, bytes, 30e6, eb);
}

static void cal_abort(struct cal *c)
{
  if (c->vt->abort)
    c->vt->abort(c->be);
  if (c->tp)
    c->tp->vt->abort(c->tp);
}

static void pingpong_size(struct pp *a, int which, void *buf)
{
  struct cal *c = a->c;
  int peer = 1 - a->rank;
  size_t bytes = a->bytes[which];
  for (int i = 0; i < a->n && !a->rc; i++) {
    long k = 2L * i + (long)which * 2L * a->n;
    if (c->stop && *c->stop) { /* pingpong() aborts the peer's receive */
      a->rc = PL_EINTR;
      break;
    }
    if (a->rank == 0) {
      double t0 = pl_now_us();
      a->rc = cal_send(c, 0, peer, k, buf, bytes, &a->eb);
      if (!a->rc)
        a->rc = cal_recv(c, 0, peer, k + 1, buf, bytes, &a->eb);
      a->rt[(size_t)which * a->n + i] = pl_now_us() - t0;
    } else {
      a->rc = cal_recv(c, 1, peer, k, buf, bytes, &a->eb);
      if (!a->rc)
        a->rc = cal_send(c, 1, peer, k + 1, buf, bytes, &a->eb);
    }
  }
}

static void *pingpong(void *arg)
{
  struct pp *a = arg;
  struct cal *c = a->c;
  const pl_backend_vt *vt = c->vt;
  if (a->rank == 1 && (a->rc = vt->rank_enter(c->be, 1, &a->eb))) {
    cal_abort(c);
    return NULL;
  }
  size_t mx = a->bytes[0] > a->bytes[1] ? a->bytes[0] : a->bytes[1];
  void *buf = vt->alloc(c->be, a->rank, mx, 1);
  if (!buf)
    a->rc = pl_errf(&a->eb, PL_ENOMEM, "out of memory");
  for (int which = 0; which < 2 && !a->rc; which++)
    pingpong_size(a, which, buf);
  if (a->rc)
    cal_abort(c);
  if (buf)
    vt->free(c->be, a->rank, buf);
  if (a->rank == 1)
    vt->rank_leave(c->be, 1);
  return NULL;
}

static int measure_p2p(struct cal *c, pl_calib_stat *small,
                       pl_calib_stat *msg)
{
  int n = c->warmup + c->reps;
  struct pp a[2];
  memset(a, 0, sizeof a);
  double *rt = pl_calloc(2 * (size_t)n, sizeof *rt);
  if (!rt)
    return pl_errf(&c->eb, PL_ENOMEM, "out of memory");
  pthread_t th;
  for (int r = 0; r < 2; r++) {
    a[r].c = c;
    a[r].rank = r;
    a[r].bytes[0] = 8;
    a[r].bytes[1] = pl_wl_msg_bytes(&c->w);
    a[r].n = n;
    a[r].rt = rt;
  }
  if (pthread_create(&th, NULL, pingpong, &a[1]) != 0) {
    pl_free(rt);
    return pl_errf(&c->eb, PL_ENOMEM, "cannot start a thread");
  }
  pingpong(&a[0]);
  pthread_join(th, NULL);
  int rc = a[0].rc ? a[0].rc : a[1].rc;
  if (c->stop && *c->stop && rc == PL_EINTR) {
    rc = pl_errf(&c->eb, rc, "calibration interrupted");
  } else if (rc) {
    rc = pl_errf(&c->eb, rc, "P2P measurement failed: %s",
                 a[0].rc ? a[0].eb.msg : a[1].eb.msg);
  } else {
    for (int i = 0; i < 2 * n; i++)
      rt[i] /= 2;
    stat_of(rt + c->warmup, c->reps, small);
    stat_of(rt + n + c->warmup, c->reps, msg);
  }
  pl_free(rt);
  return rc;
}

int pl_exec_calibrate(const pl_workload *w, int backend, int warmup, int reps,
                      pl_calib *out, volatile const int *stop,
                      struct pl_errbuf *eb)
{
  memset(out, 0, sizeof *out);
  if (reps < 2 || warmup < 0)
    return pl_errf(eb, PL_EINVAL, "calibration needs at least 2 repetitions "
                   "and a non-negative warm-up, got %d and %d", reps, warmup);
  struct cal c;
  memset(&c, 0, sizeof c);
  c.w = *w;
  c.w.layers = 1;
  if (c.w.microbatches < 1)
    c.w.microbatches = 1;
  int rc = pl_wl_check(&c.w, eb);
  if (rc)
    return rc;
  c.warmup = warmup;
  c.reps = reps;
  c.stop = stop;
  c.out = out;
  if (backend == PL_BACKEND_CPU) {
    c.vt = pl_backend_cpu_vt();
    if (pl_backend_cpu_open(2, &c.w, &c.be))
      return pl_errf(eb, PL_ENOMEM, "out of memory");
    if ((rc = pl__transport_threads_open(2, &c.tp, eb))) {
      pl_backend_cpu_close(c.be);
      return rc;
    }
  } else {
    if (c.w.attention) /* see pl_exec_run: never time a different model */
      return pl_errf(eb, PL_EINVAL,
                     "attention is not implemented on the CUDA backend yet");
    const char *why;
    if (pl_cuda_devices(&why) == 0) /* the plugin's absence: as is */
      return pl_errf(eb, PL_ENODEV, "%s%s",
                     pl_backend_cuda_vt() ? "no GPU: " : "", why);
    c.vt = pl_backend_cuda_vt();
    if ((rc = pl_backend_cuda_open(2, &c.w, &c.be, eb)))
      return rc;
  }
  snprintf(out->backend, sizeof out->backend, "%s", c.vt->name);
  out->w = c.w;
  out->warmup = warmup;
  out->msg_bytes = (double)pl_wl_msg_bytes(&c.w);
  rc = c.vt->rank_enter(c.be, 0, &c.eb);
  if (!rc) {
    c.vt->start(c.be);
    rc = measure_compute(&c);
  }
  if (!rc)
    rc = measure_p2p(&c, &out->p2p_small, &out->p2p_msg);
  if (!rc) {
    out->p2p_latency_us = out->p2p_small.mean;
    double extra = out->p2p_msg.mean - out->p2p_small.mean;
    out->p2p_bandwidth = extra > 0 ? out->msg_bytes / extra : 0;
  }
  c.vt->rank_leave(c.be, 0);
  if (backend != PL_BACKEND_CPU)
    pl_backend_cuda_close(c.be);
  else
    pl_backend_cpu_close(c.be);
  if (c.tp)
    c.tp->vt->close(c.tp);
  if (rc)
    return pl_errf(eb, rc, "%s", c.eb.msg[0] ? c.eb.msg : pl_strerror(rc));
  out->threads = 2; /* rank 0 and the P2P partner */
  if (backend == PL_BACKEND_CPU)
    out->cores = pl__online_cores();
  pl_calib_trust(out, PL_CALIB_MAX_SPREAD);
  return PL_OK;
}

int pl_calib_trust(pl_calib *cal, double max_spread)
{
  static const char *names[] = {"F", "B", "W", "BW"};
  static const int kinds[] = {PL_OP_F, PL_OP_B, PL_OP_W, PL_OP_BW};
  cal->n_untrusted = 0;
  if (pl__oversubscribed(cal->threads, cal->cores, cal->untrusted[0],
                         PL_UNTRUSTED_LEN))
    cal->n_untrusted++;
  for (int i = 0; i < 4; i++) {
    const pl_calib_stat *st = &cal->t[kinds[i]];
    double spread = st->mean > 0 ? st->stddev / st->mean : 0;
    if (spread > max_spread)
      snprintf(cal->untrusted[cal->n_untrusted++], PL_UNTRUSTED_LEN,
               "%s relative spread %.1f %% > %g %%", names[i], 100 * spread,
               100 * max_spread);
  }
  return cal->n_untrusted;
}

int pl_calib_apply_costs(const pl_calib *cal, const pl_workload *w,
                         pl_costs *c, struct pl_errbuf *eb)
{
  /* The cost-applying logic lives in models/ (pl_cost_from_calibration,
   * shared with pl_cost_provide's stored calibrations); here only the
   * measurement is translated. A bandwidth that showed no size dependence
   * makes the activation-sized message's time the latency. */
  pl_wl_costs wc;
  memset(&wc, 0, sizeof wc);
  for (int k = PL_OP_F; k < PL_OP_FB; k++) {
    wc.t[k] = cal->t[k].mean;
    wc.source[k] = PL_SRC_MEASURED;
  }
  wc.input_us = cal->input.mean;
  wc.loss_us = cal->loss.mean;
  if (cal->p2p_bandwidth > 0) {
    wc.latency_us = cal->p2p_latency_us;
    wc.bytes_per_us = cal->p2p_bandwidth;
  } else {
    wc.latency_us = cal->p2p_msg.mean;
    wc.bytes_per_us = 0;
  }
  wc.have_link = 1;
  return pl_cost_from_calibration(&wc, cal->msg_bytes, w, c, eb);
}
