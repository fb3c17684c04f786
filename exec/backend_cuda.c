/*
 * backend_cuda.c: the CUDA backend under the shared runtime (runtime.c).
 *
 * Two transports:
 * - cuda-local (one process, world size 1): the p ranks are threads of this
 *   process; rank r uses device r mod ndev (so on one GPU all ranks share
 *   it). Each rank has its own compute stream, comm stream and cuBLAS
 *   handle. A send copies the output into a message buffer on the comm
 *   stream (after an event on the compute stream) and posts it with its
 *   completion event in the receiver's host mailbox; the receiver waits for
 *   the event and copies the message into its input buffer (device-to-device
 *   or peer copy). NCCL is not used: it forbids two ranks on one GPU.
 * - nccl (one rank per process, world size > 1 from the launcher's
 *   environment, pl_launch_detect, shared with the MPI transport): device
 *   local rank mod ndev; the NCCL unique id comes from
 *   NCCL_COMM_ID (every rank calls ncclGetUniqueId) or from the file named
 *   by PL_NCCL_ID_FILE, which rank 0 writes and the others poll. Sends are
 *   staged in message buffers and posted together with the next receives
 *   in one ncclGroupStart/End on the comm stream; receives are posted in
 *   the sender's send order (NCCL matches P2P per peer in order), buffering
 *   messages that arrive before they are needed. Waits poll the comm stream
 *   so that the watchdog can abort the communicator. When pipelab is
 *   built with MPI, the runtime's control plane (the watchdog across
 *   processes, failure propagation, the result gathered on process 0)
 *   runs over the MPI transport; NCCL only moves the activations.
 *
 * Timing: CUDA events bracket every op on the compute stream (duration);
 * op_end synchronises the end event and places the op on the host
 * monotonic clock (end = host time after the sync, start = end - duration).
 * Memory: cudaMallocAsync / cudaFreeAsync on the compute stream (no device
 * synchronisation), zero-filled with cudaMemsetAsync where asked.
 *
 * Built as the loadable module libpipelab-cuda.so (with kernels/workload.cu
 * and exec/plugin_shim.c; exec/plugin.h): the core library and the pipelab
 * tool link no CUDA library, and pl_backend_cuda_* / pl_cuda_devices load
 * this module on first use and call it through its table.
 *
 * Written without a GPU at hand: it compiles and links in CI; run it with
 * tests/test_gpu_exec.c on a GPU machine before trusting it.
 */
#define _POSIX_C_SOURCE 200809L
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <errno.h>
#include <nccl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipelab/exec.h"
#include "pl_config.h"
#include "plugin.h"

static int cuda_devices(const char **why)
{
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    if (why)
      *why = cudaGetErrorString(e);
    return 0;
  }
  if (n <= 0 && why)
    *why = "cudaGetDeviceCount found no CUDA device";
  return n > 0 ? n : 0;
}

struct cmsg {
  struct cmsg *next;
  long key;
  int src;
  size_t bytes;
  void *dev;        /* message buffer on the sender's device */
  cudaEvent_t done; /* copy into dev finished */
  int owner;        /* rank that allocated dev (frees it) */
};

struct cmailbox {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct cmsg *head;
};

struct crank {
  int dev;
  cudaStream_t comp, comm;
  cublasHandle_t blas;
  cudaEvent_t ev0, ev1, evx;
  double *loss_dev;
  double t_begin_host;
  /* message buffers the receiver is done with; the owner frees them */
  pthread_mutex_t gc_mu;
  struct cmsg *gc;
  /* nccl: staged sends, buffered receives, per-peer receive cursors */
  struct cmsg *pend;
  struct cmsg *rbuf;
  size_t *rcur; /* [p] next index into recv_order[src] */
  int ready;
};

struct cuda_be {
  int p, ndev;
  pl_workload w;
  int world, me; /* nccl mode when world > 1 */
  ncclComm_t comm;
  struct cmailbox *box; /* [p] (local mode) */
  struct crank *rk;     /* [p] */
  /* nccl: keys each rank sends to each other rank, in send order */
  long **order;         /* [src*p + dst] -> keys */
  size_t *order_n;
  volatile int aborted;
  double base;
};

#define CK(call)                                                           \
  do {                                                                     \
    cudaError_t e_ = (call);                                               \
    if (e_ != cudaSuccess)                                                 \
      return pl_errf(eb, PL_ECUDA, "%s: %s", #call, cudaGetErrorString(e_)); \
  } while (0)

static int nccl_unique_id(struct cuda_be *b, ncclUniqueId *id,
                          struct pl_errbuf *eb)
{
  const char *file = getenv("PL_NCCL_ID_FILE");
  if (getenv("NCCL_COMM_ID") || !file) {
    if (!getenv("NCCL_COMM_ID"))
      return pl_errf(eb, PL_EINVAL, "multi-process CUDA run needs "
                     "NCCL_COMM_ID=<host:port> or PL_NCCL_ID_FILE=<path on a "
                     "shared file system>");
    if (ncclGetUniqueId(id) != ncclSuccess)
      return pl_errf(eb, PL_ENCCL, "ncclGetUniqueId failed");
    return PL_OK;
  }
  if (b->me == 0) {
    if (ncclGetUniqueId(id) != ncclSuccess)
      return pl_errf(eb, PL_ENCCL, "ncclGetUniqueId failed");
    return pl_write_file_atomic(file, (const char *)id, sizeof *id, eb);
  }
  double dl = pl_now_us() + 120e6;
  for (;;) {
    char *data = NULL;
    size_t len = 0;
    struct pl_errbuf e2 = PL_ERRBUF_INIT;
    if (pl_read_file(file, &data, &len, &e2) == 0) {
      int ok = len == sizeof *id;
      if (ok)
        memcpy(id, data, sizeof *id);
      pl_free(data);
      if (ok)
        return PL_OK;
    }
    if (pl_now_us() > dl)
      return pl_errf(eb, PL_ETIMEDOUT, "no NCCL id in '%s' after 120 s (is "
                     "rank 0 running?)", file);
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
  }
}

static void cuda_close(void *be)
{
  struct cuda_be *b = be;
  if (!b)
    return;
  if (b->comm)
    ncclCommDestroy(b->comm);
  for (int i = 0; i < b->p; i++) {
    if (b->box) {
      struct cmsg *m = b->box[i].head;
      while (m) {
        struct cmsg *n = m->next;
        cudaSetDevice(b->rk[m->owner].dev);
        cudaFree(m->dev);
        cudaEventDestroy(m->done);
        pl_free(m);
        m = n;
      }
      pthread_mutex_destroy(&b->box[i].mu);
      pthread_cond_destroy(&b->box[i].cv);
    }
    if (b->rk) {
      pthread_mutex_destroy(&b->rk[i].gc_mu);
      pl_free(b->rk[i].rcur);
    }
  }
  if (b->order)
    for (int i = 0; i < b->p * b->p; i++)
      pl_free(b->order[i]);
  pl_free(b->order);
  pl_free(b->order_n);
  pl_free(b->box);
  pl_free(b->rk);
  pl_free(b);
}

static int cuda_open(int p, const pl_workload *w, void **out,
                         struct pl_errbuf *eb)
{
  *out = NULL;
  /* Refused before looking for a device: computing the MLP-only block
   * instead would silently run a different model than asked for. */
  if (w->attention)
    return pl_errf(eb, PL_EINVAL,
                   "attention is not implemented on the CUDA backend yet");
  const char *why;
  int ndev = cuda_devices(&why);
  if (ndev == 0)
    return pl_errf(eb, PL_ENODEV, "no GPU: %s", why);
  struct cuda_be *b = pl_calloc(1, sizeof *b);
  if (!b)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  b->p = p;
  b->ndev = ndev;
  b->w = *w;
  /* The same rank discovery as the MPI transport (pl_launch_detect). */
  pl_launch la;
  pl_launch_detect(&la);
  b->world = la.size;
  b->me = la.rank;
  b->box = pl_calloc((size_t)p, sizeof *b->box);
  b->rk = pl_calloc((size_t)p, sizeof *b->rk);
  if (!b->box || !b->rk) {
    cuda_close(b);
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  for (int i = 0; i < p; i++) {
    pthread_mutex_init(&b->box[i].mu, NULL);
    pthread_cond_init(&b->box[i].cv, &ca);
    pthread_mutex_init(&b->rk[i].gc_mu, NULL);
    b->rk[i].dev = i % ndev;
  }
  pthread_condattr_destroy(&ca);
  if (b->world > 1) {
    if (b->world != p) {
      int rc = pl_errf(eb, PL_EINVAL, "%d processes for a schedule of %d "
                       "ranks: start one process per rank", b->world, p);
      cuda_close(b);
      return rc;
    }
    if (b->me < 0 || b->me >= p) {
      int rc = pl_errf(eb, PL_EINVAL, "process rank %d out of range 0..%d",
                       b->me, p - 1);
      cuda_close(b);
      return rc;
    }
    b->rk[b->me].dev = la.local_rank % ndev;
    ncclUniqueId id;
    int rc = nccl_unique_id(b, &id, eb);
    if (!rc && cudaSetDevice(b->rk[b->me].dev) != cudaSuccess)
      rc = pl_errf(eb, PL_ECUDA, "cudaSetDevice(%d) failed", b->rk[b->me].dev);
    if (!rc && ncclCommInitRank(&b->comm, p, id, b->me) != ncclSuccess)
      rc = pl_errf(eb, PL_ENCCL, "ncclCommInitRank(rank %d of %d) failed",
                   b->me, p);
    if (rc) {
      cuda_close(b);
      return rc;
    }
  }
  *out = b;
  return PL_OK;
}

static void cuda_local_ranks(void *be, int *lo, int *hi)
{
  struct cuda_be *b = be;
  if (b->world > 1) {
    *lo = b->me;
    *hi = b->me + 1;
  } else {
    *lo = 0;
    *hi = b->p;
  }
}

static int cuda_prepare(void *be, const pl_sched *s)
{
  struct cuda_be *b = be;
  int p = b->p, S = pl_sched_stages(s), m = pl_sched_microbatches(s);
  b->order = pl_calloc((size_t)p * p, sizeof *b->order);
  b->order_n = pl_calloc((size_t)p * p, sizeof *b->order_n);
  if (!b->order || !b->order_n)
    return PL_ENOMEM;
  for (int r = 0; r < p; r++) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++) {
      const pl_op *op = &ops[i];
      int kinds[2] = {-1, -1}, st[2] = {0, 0}, mbs[2] = {0, 0};
      if (op->kind == PL_OP_F || op->kind == PL_OP_FB) {
        kinds[0] = PL_OP_F;
        st[0] = op->stage;
        mbs[0] = op->mb;
      }
      if (op->kind == PL_OP_B || op->kind == PL_OP_BW) {
        kinds[1] = op->kind;
        st[1] = op->stage;
        mbs[1] = op->mb;
      } else if (op->kind == PL_OP_FB) {
        kinds[1] = op->kind2;
        st[1] = op->stage2;
        mbs[1] = op->mb2;
      }
      for (int k = 0; k < 2; k++) {
        if (kinds[k] < 0)
          continue;
        int to = k == 0 ? st[k] + 1 : st[k] - 1;
        if (to < 0 || to >= S)
          continue;
        int dst = pl_sched_stage_rank(s, to);
        if (dst == r)
          continue;
        long key = ((long)k * S + to) * m + mbs[k];
        size_t idx = (size_t)r * p + dst;
        long *o = pl_realloc(b->order[idx], (b->order_n[idx] + 1) * sizeof *o);
        if (!o)
          return PL_ENOMEM;
        b->order[idx] = o;
        o[b->order_n[idx]++] = key;
      }
    }
  }
  return PL_OK;
}

static int cu_rank_enter(void *be, int rank, struct pl_errbuf *eb)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  CK(cudaSetDevice(k->dev));
  CK(cudaStreamCreateWithFlags(&k->comp, cudaStreamNonBlocking));
  CK(cudaStreamCreateWithFlags(&k->comm, cudaStreamNonBlocking));
  CK(cudaEventCreate(&k->ev0));
  CK(cudaEventCreate(&k->ev1));
  CK(cudaEventCreateWithFlags(&k->evx, cudaEventDisableTiming));
  if (cublasCreate(&k->blas) != CUBLAS_STATUS_SUCCESS)
    return pl_errf(eb, PL_ECUDA, "rank %d: cublasCreate failed", rank);
  if (cublasSetStream(k->blas, k->comp) != CUBLAS_STATUS_SUCCESS)
    return pl_errf(eb, PL_ECUDA, "rank %d: cublasSetStream failed", rank);
  CK(cudaMalloc((void **)&k->loss_dev, sizeof(double)));
  CK(cudaMemset(k->loss_dev, 0, sizeof(double)));
  k->rcur = pl_calloc((size_t)b->p, sizeof *k->rcur);
  if (!k->rcur)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  k->ready = 1;
  return PL_OK;
}

static void free_msgs(struct crank *k, struct cmsg *m)
{
  while (m) {
    struct cmsg *n = m->next;
    if (m->dev)
      cudaFreeAsync(m->dev, k->comm);
    if (m->done)
      cudaEventDestroy(m->done);
    pl_free(m);
    m = n;
  }
}

static void collect_garbage(struct crank *k)
{
  pthread_mutex_lock(&k->gc_mu);
  struct cmsg *m = k->gc;
  k->gc = NULL;
  pthread_mutex_unlock(&k->gc_mu);
  free_msgs(k, m);
}

static int nccl_flush(struct cuda_be *b, int rank, int src, long want,
                      double timeout_us, struct pl_errbuf *eb);

static void cu_rank_leave(void *be, int rank)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  cudaSetDevice(k->dev);
  if (b->world > 1 && k->pend && !b->aborted)
    nccl_flush(b, rank, -1, 0, 60e6, NULL);
  if (k->comp)
    cudaStreamSynchronize(k->comp);
  if (k->comm)
    cudaStreamSynchronize(k->comm);
  collect_garbage(k);
  free_msgs(k, k->pend);
  free_msgs(k, k->rbuf);
  k->pend = k->rbuf = NULL;
  if (k->comm)
    cudaStreamSynchronize(k->comm);
  if (k->loss_dev)
    cudaFree(k->loss_dev);
  if (k->blas)
    cublasDestroy(k->blas);
  if (k->ev0)
    cudaEventDestroy(k->ev0);
  if (k->ev1)
    cudaEventDestroy(k->ev1);
  if (k->evx)
    cudaEventDestroy(k->evx);
  if (k->comp)
    cudaStreamDestroy(k->comp);
  if (k->comm)
    cudaStreamDestroy(k->comm);
  k->comp = k->comm = NULL;
  k->blas = NULL;
  k->loss_dev = NULL;
}

static void *cu_alloc(void *be, int rank, size_t bytes, int zero)
{
  struct crank *k = &((struct cuda_be *)be)->rk[rank];
  void *p = NULL;
  if (bytes == 0)
    bytes = 8;
  if (cudaMallocAsync(&p, bytes, k->comp) != cudaSuccess) {
    (void)cudaGetLastError();
    return NULL;
  }
  if (zero && cudaMemsetAsync(p, 0, bytes, k->comp) != cudaSuccess) {
    cudaFreeAsync(p, k->comp);
    return NULL;
  }
  return p;
}

static void cu_free(void *be, int rank, void *p)
{
  struct crank *k = &((struct cuda_be *)be)->rk[rank];
  if (p)
    cudaFreeAsync(p, k->comp);
}

static int cu_to_host(void *be, int rank, void *dst, const void *src,
                      size_t n)
{
  struct crank *k = &((struct cuda_be *)be)->rk[rank];
  if (cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, k->comp) !=
          cudaSuccess ||
      cudaStreamSynchronize(k->comp) != cudaSuccess)
    return PL_ECUDA;
  return PL_OK;
}

static int cu_init_layer(void *be, int rank, int layer, double *params)
{
  struct cuda_be *b = be;
  return pl_cuk_init_layer(&b->w, layer, params, b->rk[rank].comp);
}

static int cu_input(void *be, int rank, int mb, double *x)
{
  struct cuda_be *b = be;
  return pl_cuk_input(&b->w, mb, x, b->rk[rank].comp);
}

static int cu_target(void *be, int rank, int mb, double *t)
{
  struct cuda_be *b = be;
  return pl_cuk_target(&b->w, mb, t, b->rk[rank].comp);
}

static int cu_fwd(void *be, int rank, const double *params, const double *x,
                  double *out, double *wpart, double *bpart)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  return pl_cuk_layer_fwd(&b->w, k->blas, k->comp, params, x, out, wpart,
                          bpart);
}

static int cu_bwd_b(void *be, int rank, const double *params,
                    const double *dout, double *dx, double *wpart,
                    const double *bpart, double *grads, double *scratch)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  return pl_cuk_layer_bwd_b(&b->w, k->blas, k->comp, params, dout, dx, wpart,
                            bpart, grads, scratch);
}

static int cu_bwd_w(void *be, int rank, const double *wpart, double *grads,
                    double *scratch)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  return pl_cuk_layer_bwd_w(&b->w, k->blas, k->comp, wpart, grads, scratch);
}

static int cu_loss(void *be, int rank, const double *out, const double *t,
                   double *dout)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  return pl_cuk_loss(&b->w, k->comp, out, t, dout, k->loss_dev);
}

static int cu_loss_total(void *be, int rank, double *loss)
{
  return cu_to_host(be, rank, loss, ((struct cuda_be *)be)->rk[rank].loss_dev,
                    sizeof(double));
}

/* Stages buf into a fresh message buffer on the comm stream, after the
 * compute stream's work so far. */
static int stage_msg(struct crank *k, int rank, long key, const void *buf,
                     size_t bytes, struct cmsg **out, struct pl_errbuf *eb)
{
  struct cmsg *m = pl_calloc(1, sizeof *m);
  if (!m)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  m->key = key;
  m->src = rank;
  m->owner = rank;
  m->bytes = bytes;
  *out = m;
  CK(cudaEventRecord(k->evx, k->comp));
  CK(cudaStreamWaitEvent(k->comm, k->evx, 0));
  CK(cudaMallocAsync(&m->dev, bytes, k->comm));
  CK(cudaMemcpyAsync(m->dev, buf, bytes, cudaMemcpyDeviceToDevice, k->comm));
  CK(cudaEventCreateWithFlags(&m->done, cudaEventDisableTiming));
  CK(cudaEventRecord(m->done, k->comm));
  return PL_OK;
}

static int cu_send(void *be, int rank, int dst, long key, const void *buf,
                   size_t bytes, struct pl_errbuf *eb)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  struct cmsg *m = NULL;
  collect_garbage(k);
  int rc = stage_msg(k, rank, key, buf, bytes, &m, eb);
  if (rc) {
    if (m)
      free_msgs(k, m);
    return rc;
  }
  if (b->world > 1 && dst != rank) {
    /* Posted with the next receives (or at the end) in one group. */
    struct cmsg **pp = &k->pend;
    while (*pp)
      pp = &(*pp)->next;
    m->src = dst; /* destination for a staged send */
    *pp = m;
    return PL_OK;
  }
  struct cmailbox *mb = &b->box[dst];
  pthread_mutex_lock(&mb->mu);
  m->next = mb->head;
  mb->head = m;
  pthread_cond_broadcast(&mb->cv);
  pthread_mutex_unlock(&mb->mu);
  return PL_OK;
}

/* Waits for the comm stream with the watchdog deadline. */
static int wait_stream(struct cuda_be *b, cudaStream_t s, double deadline)
{
  for (;;) {
    cudaError_t e = cudaStreamQuery(s);
    if (e == cudaSuccess)
      return PL_OK;
    if (e != cudaErrorNotReady)
      return PL_ECUDA;
    if (b->aborted)
      return PL_EINTR;
    if (pl_now_us() > deadline)
      return PL_ETIMEDOUT;
    struct timespec ts = {0, 20000L};
    nanosleep(&ts, NULL);
  }
}

/* NCCL: one group with every staged send and the receives from src up to
 * and including key want (in src's send order); src < 0 flushes sends. */
static int nccl_flush(struct cuda_be *b, int rank, int src, long want,
                      double timeout_us, struct pl_errbuf *eb)
{
  struct crank *k = &b->rk[rank];
  struct cmsg *recvd = NULL, **tail = &recvd;
  int rc = PL_OK;
  if (ncclGroupStart() != ncclSuccess)
    return pl_errf(eb, PL_ENCCL, "ncclGroupStart failed");
  for (struct cmsg *m = k->pend; m; m = m->next)
    if (ncclSend(m->dev, m->bytes, ncclChar, m->src, b->comm, k->comm) !=
        ncclSuccess)
      rc = PL_ENCCL;
  if (src >= 0) {
    size_t idx = (size_t)src * b->p + rank;
    size_t bytes = pl_wl_msg_bytes(&b->w);
    while (!rc && k->rcur[src] < b->order_n[idx]) {
      long key = b->order[idx][k->rcur[src]++];
      struct cmsg *m = pl_calloc(1, sizeof *m);
      if (!m) {
        rc = PL_ENOMEM;
        break;
      }
      m->key = key;
      m->src = src;
      m->owner = rank;
      m->bytes = bytes;
      *tail = m;
      tail = &m->next;
      if (cudaMallocAsync(&m->dev, bytes, k->comm) != cudaSuccess ||
          ncclRecv(m->dev, bytes, ncclChar, src, b->comm, k->comm) !=
              ncclSuccess)
        rc = PL_ENCCL;
      if (key == want)
        break;
    }
  }
  if (ncclGroupEnd() != ncclSuccess && !rc)
    rc = PL_ENCCL;
  if (!rc) {
    rc = wait_stream(b, k->comm, pl_now_us() + timeout_us);
    if (rc == PL_ETIMEDOUT || rc == PL_EINTR) {
      ncclCommAbort(b->comm);
      b->comm = NULL;
      b->aborted = 1;
    }
  }
  struct cmsg *sent = k->pend;
  k->pend = NULL;
  if (rc != PL_ETIMEDOUT && rc != PL_EINTR)
    free_msgs(k, sent);
  *tail = k->rbuf;
  k->rbuf = recvd;
  if (rc && rc != PL_ETIMEDOUT && rc != PL_EINTR)
    return pl_errf(eb, rc, "rank %d: NCCL send/receive failed", rank);
  return rc;
}

static int cu_recv(void *be, int rank, int src, long key, void *buf,
                   size_t bytes, double timeout_us, struct pl_errbuf *eb)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  struct cmsg *m = NULL;
  if (b->world > 1 && src != rank) {
    for (int pass = 0; pass < 2 && !m; pass++) {
      for (struct cmsg **pp = &k->rbuf; *pp; pp = &(*pp)->next)
        if ((*pp)->key == key && (*pp)->src == src) {
          m = *pp;
          *pp = m->next;
          break;
        }
      if (!m && pass == 0) {
        int rc = nccl_flush(b, rank, src, key, timeout_us, eb);
        if (rc)
          return rc;
      }
    }
    if (!m)
      return pl_errf(eb, PL_EINVALSCHED, "rank %d: rank %d never sends "
                     "message %ld", rank, src, key);
    cudaError_t e = cudaMemcpyAsync(buf, m->dev, bytes,
                                    cudaMemcpyDeviceToDevice, k->comp);
    if (e == cudaSuccess)
      e = cudaStreamSynchronize(k->comp);
    free_msgs(k, m);
    return e == cudaSuccess ? PL_OK
                            : pl_errf(eb, PL_ECUDA, "rank %d: %s", rank,
                                      cudaGetErrorString(e));
  }
  struct cmailbox *mb = &b->box[rank];
  double deadline = pl_now_us() + timeout_us;
  int rc = PL_OK;
  pthread_mutex_lock(&mb->mu);
  for (;;) {
    for (struct cmsg **pp = &mb->head; *pp; pp = &(*pp)->next)
      if ((*pp)->key == key && (*pp)->src == src) {
        m = *pp;
        *pp = m->next;
        break;
      }
    if (m || b->aborted)
      break;
    double left = deadline - pl_now_us();
    if (left <= 0) {
      rc = PL_ETIMEDOUT;
      break;
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    double add = left < 100e3 ? left : 100e3;
    dl.tv_nsec += (long)(add * 1e3);
    while (dl.tv_nsec >= 1000000000L) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&mb->cv, &mb->mu, &dl);
  }
  pthread_mutex_unlock(&mb->mu);
  if (!m)
    return rc ? rc : PL_EINTR;
  cudaError_t e = cudaEventSynchronize(m->done);
  if (e == cudaSuccess) {
    if (b->rk[m->owner].dev == k->dev)
      e = cudaMemcpyAsync(buf, m->dev, bytes, cudaMemcpyDeviceToDevice,
                          k->comp);
    else
      e = cudaMemcpyPeerAsync(buf, k->dev, m->dev, b->rk[m->owner].dev, bytes,
                              k->comp);
  }
  if (e == cudaSuccess)
    e = cudaStreamSynchronize(k->comp);
  /* The owner frees the buffer on its own stream. */
  struct crank *own = &b->rk[m->owner];
  pthread_mutex_lock(&own->gc_mu);
  m->next = own->gc;
  own->gc = m;
  pthread_mutex_unlock(&own->gc_mu);
  return e == cudaSuccess ? PL_OK
                          : pl_errf(eb, PL_ECUDA, "rank %d: receive: %s",
                                    rank, cudaGetErrorString(e));
}

static void cu_abort(void *be)
{
  struct cuda_be *b = be;
  b->aborted = 1;
  for (int i = 0; i < b->p; i++) {
    pthread_mutex_lock(&b->box[i].mu);
    pthread_cond_broadcast(&b->box[i].cv);
    pthread_mutex_unlock(&b->box[i].mu);
  }
}

static void cu_start(void *be)
{
  struct cuda_be *b = be;
  for (int i = 0; i < b->p; i++)
    if (b->rk[i].ready) {
      cudaSetDevice(b->rk[i].dev);
      cudaStreamSynchronize(b->rk[i].comp);
      /* A new iteration (warm-up): every receive of the last one was
       * posted and consumed, so each peer's send order starts over. */
      if (b->rk[i].rcur)
        memset(b->rk[i].rcur, 0, (size_t)b->p * sizeof *b->rk[i].rcur);
    }
  b->base = pl_now_us();
}

static int cu_op_begin(void *be, int rank)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  k->t_begin_host = pl_now_us() - b->base;
  return cudaEventRecord(k->ev0, k->comp) == cudaSuccess ? PL_OK : PL_ECUDA;
}

static int cu_op_end(void *be, int rank, double *t0, double *t1)
{
  struct cuda_be *b = be;
  struct crank *k = &b->rk[rank];
  float ms = 0;
  if (cudaEventRecord(k->ev1, k->comp) != cudaSuccess ||
      cudaEventSynchronize(k->ev1) != cudaSuccess ||
      cudaEventElapsedTime(&ms, k->ev0, k->ev1) != cudaSuccess)
    return PL_ECUDA;
  double end = pl_now_us() - b->base, dur = (double)ms * 1e3;
  double start = end - dur;
  if (start < k->t_begin_host)
    start = k->t_begin_host;
  *t0 = start;
  *t1 = end;
  return PL_OK;
}

static const pl_backend_vt cuda_vt = {
  "cuda",      cu_rank_enter, cu_rank_leave, cu_alloc,    cu_free,
  cu_to_host,  cu_init_layer, cu_input,      cu_target,   cu_fwd,
  cu_bwd_b,    cu_bwd_w,      cu_loss,       cu_loss_total, cu_send,
  cu_recv,     cu_abort,      cu_start,      cu_op_begin, cu_op_end};

static const char *cuda_detail(void)
{
  static char line[128];
  if (!line[0]) {
    int rt = 0, nc = 0;
    if (cudaRuntimeGetVersion(&rt) != cudaSuccess)
      rt = 0;
    if (ncclGetVersion(&nc) != ncclSuccess)
      nc = 0;
    /* NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch. */
    snprintf(line, sizeof line, "CUDA runtime %d.%d, NCCL %d.%d.%d",
             rt / 1000, rt % 1000 / 10, nc / 10000, nc % 10000 / 100,
             nc % 100);
  }
  return line;
}

static const pl__plugin cuda_plugin = {
  .abi = PL_PLUGIN_ABI,
  .size = sizeof(pl__plugin),
  .kind = PL_PLUGIN_BACKEND,
  .name = "cuda",
  .version = PL_VERSION_STRING,
  .detail = cuda_detail,
  .vt = &cuda_vt,
  .devices = cuda_devices,
  .open = cuda_open,
  .close = cuda_close,
  .local_ranks = cuda_local_ranks,
  .prepare = cuda_prepare,
};

__attribute__((visibility("default"))) const pl__plugin *
PL_PLUGIN_ENTRY(const pl__plugin_host *h)
{
  return pl__shim_init(h) ? NULL : &cuda_plugin;
}
