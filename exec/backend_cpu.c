/* backend_cpu.c: the CPU backend: one thread per local rank (created by
 * the runtime), host memory, the CBLAS kernels of kernels/workload.c and
 * the monotonic clock. Its buffers are host memory, so it has no P2P of
 * its own: the run's transport moves them (transport_threads.c between
 * threads, transport_mpi.c between processes). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/exec.h"

/* A freed buffer kept for reuse; the header sits in front of the data. */
struct blk {
  struct blk *next; /* in the rank's free list */
  size_t bytes;     /* usable size (the key: the runtime's sizes repeat) */
};
#define BLK_HDR 64 /* keeps the data 64-byte aligned (AVX-512 lines) */

struct cpu_rank {
  double loss;
  double t_begin;
  /* Caching allocator, as PyTorch's on a GPU: activation stashes are
   * allocated by every F and freed by every B / W, and at these sizes glibc
   * returns them to the kernel (mmap/munmap), so each op would pay page
   * faults that calibrate, working in place, never sees. Touched only from
   * the rank's own thread (pl_backend_vt contract). */
  struct blk *free_list;
};

struct cpu_be {
  int p;
  pl_workload w;
  struct cpu_rank *rk; /* [p] */
  double base;
};

int pl_backend_cpu_open(int p, const pl_workload *w, void **out)
{
  struct cpu_be *b = pl_calloc(1, sizeof *b);
  *out = NULL;
  if (!b)
    return PL_ENOMEM;
  b->p = p;
  b->w = *w;
  b->rk = pl_calloc((size_t)p, sizeof *b->rk);
  if (!b->rk) {
    pl_free(b);
    return PL_ENOMEM;
  }
  *out = b;
  return PL_OK;
}

void pl_backend_cpu_close(void *be)
{
  struct cpu_be *b = be;
  if (!b)
    return;
  for (int i = 0; i < b->p; i++) {
    struct blk *k = b->rk[i].free_list;
    while (k) {
      struct blk *n = k->next;
      pl_aligned_free(k);
      k = n;
    }
  }
  pl_free(b->rk);
  pl_free(b);
}

static int cpu_rank_enter(void *be, int rank, struct pl_errbuf *eb)
{
  (void)be;
  (void)rank;
  (void)eb;
  pl_kern_blas_single_thread();
  return PL_OK;
}

static void cpu_rank_leave(void *be, int rank)
{
  (void)be;
  (void)rank;
}

static void *cpu_alloc(void *be, int rank, size_t bytes, int zero)
{
  struct cpu_rank *rk = &((struct cpu_be *)be)->rk[rank];
  struct blk **pp = &rk->free_list, *k = NULL;
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->bytes == bytes) {
      k = *pp;
      *pp = k->next;
      break;
    }
  if (!k) {
    void *mem = NULL;
    if (bytes > SIZE_MAX - BLK_HDR ||
        !(mem = pl_aligned_alloc(BLK_HDR, BLK_HDR + (bytes ? bytes : 1))))
      return NULL;
    k = mem;
    k->bytes = bytes;
  }
  char *data = (char *)k + BLK_HDR;
  if (zero)
    memset(data, 0, bytes);
  return data;
}

static void cpu_free(void *be, int rank, void *p)
{
  if (!p)
    return;
  struct cpu_rank *rk = &((struct cpu_be *)be)->rk[rank];
  struct blk *k = (struct blk *)((char *)p - BLK_HDR);
  k->next = rk->free_list;
  rk->free_list = k;
}

static int cpu_to_host(void *be, int rank, void *dst, const void *src,
                       size_t n)
{
  (void)be;
  (void)rank;
  memcpy(dst, src, n);
  return PL_OK;
}

static int cpu_init_layer(void *be, int rank, int layer, double *params)
{
  (void)rank;
  pl_kern_init_layer(&((struct cpu_be *)be)->w, layer, params);
  return PL_OK;
}

static int cpu_input(void *be, int rank, int mb, double *x)
{
  (void)rank;
  pl_kern_input(&((struct cpu_be *)be)->w, mb, x);
  return PL_OK;
}

static int cpu_target(void *be, int rank, int mb, double *t)
{
  (void)rank;
  pl_kern_target(&((struct cpu_be *)be)->w, mb, t);
  return PL_OK;
}

static int cpu_fwd(void *be, int rank, const double *params, const double *x,
                   double *out, double *wpart, double *bpart)
{
  (void)rank;
  pl_kern_layer_fwd(&((struct cpu_be *)be)->w, params, x, out, wpart, bpart);
  return PL_OK;
}

static int cpu_bwd_b(void *be, int rank, const double *params,
                     const double *dout, double *dx, double *wpart,
                     const double *bpart, double *grads, double *scratch)
{
  (void)rank;
  pl_kern_layer_bwd_b(&((struct cpu_be *)be)->w, params, dout, dx, wpart,
                      bpart, grads, scratch);
  return PL_OK;
}

static int cpu_bwd_w(void *be, int rank, const double *wpart, double *grads,
                     double *scratch)
{
  (void)rank;
  (void)scratch;
  pl_kern_layer_bwd_w(&((struct cpu_be *)be)->w, wpart, grads);
  return PL_OK;
}

static int cpu_loss(void *be, int rank, const double *out, const double *t,
                    double *dout)
{
  struct cpu_be *b = be;
  b->rk[rank].loss += pl_kern_loss(&b->w, out, t, dout);
  return PL_OK;
}

static int cpu_loss_total(void *be, int rank, double *loss)
{
  *loss = ((struct cpu_be *)be)->rk[rank].loss;
  return PL_OK;
}

static void cpu_start(void *be) { ((struct cpu_be *)be)->base = pl_now_us(); }

static int cpu_op_begin(void *be, int rank)
{
  struct cpu_be *b = be;
  b->rk[rank].t_begin = pl_now_us() - b->base;
  return PL_OK;
}

static int cpu_op_end(void *be, int rank, double *t0, double *t1)
{
  struct cpu_be *b = be;
  *t1 = pl_now_us() - b->base;
  *t0 = b->rk[rank].t_begin;
  return PL_OK;
}

static const pl_backend_vt cpu_vt = {
  "cpu",        cpu_rank_enter, cpu_rank_leave, cpu_alloc,   cpu_free,
  cpu_to_host,  cpu_init_layer, cpu_input,      cpu_target,  cpu_fwd,
  cpu_bwd_b,    cpu_bwd_w,      cpu_loss,       cpu_loss_total, NULL,
  NULL,         NULL,           cpu_start,      cpu_op_begin, cpu_op_end};

const pl_backend_vt *pl_backend_cpu_vt(void) { return &cpu_vt; }
