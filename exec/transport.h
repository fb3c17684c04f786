/*
 * transport.h: how the pipeline ranks of one run exchange activations and
 * gradients, and how the processes of one run agree on its state
 * (library-internal; the runtime, the calibration and the transports
 * share it).
 *
 * A transport has two planes:
 * - data: send / recv of host buffers between pipeline ranks, keyed by
 *   (direction, stage, microbatch) as the runtime numbers them, and abort,
 *   which ends every receive with PL_EINTR. Called from the rank threads
 *   (and abort from any thread).
 * - control: a sum over processes of a few doubles (the watchdog's status
 *   exchange: progress, waiting ranks, failures, stop, barrier arrivals),
 *   drain (completes every send of the run once the rank threads ended),
 *   a gather of byte blobs to process 0 (the per-rank results) and a
 *   broadcast from process 0 (the outcome). Called only from the calling
 *   thread of pl_exec_run, in the same order on every process.
 *
 * Implementations: threads (one process; mailboxes, exec/transport_threads.c)
 * and mpi (one or more pipeline ranks per process, exec/transport_mpi.c,
 * built as the loadable module libpipelab-mpi.so when CMake finds MPI). A backend with its own P2P (CUDA: device
 * copies or NCCL) uses a transport for the control plane only.
 *
 * Ownership: *_open returns a transport that the caller closes with
 * t->vt->close(t). send copies buf; recv writes into the caller's buf.
 * gather's *all is pl_malloc'ed on process 0 (the caller pl_frees it) and
 * NULL elsewhere.
 */
#ifndef PL_EXEC_TRANSPORT_H
#define PL_EXEC_TRANSPORT_H

#include <stddef.h>

#include "pipelab/exec.h"

typedef struct pl__transport pl__transport;

typedef struct pl__transport_vt {
  const char *name; /* "threads", "mpi" */
  int (*send)(pl__transport *t, int rank, int dst, long key, const void *buf,
              size_t bytes, struct pl_errbuf *eb);
  /* Waits at most timeout_us: PL_ETIMEDOUT, or PL_EINTR once aborted. */
  int (*recv)(pl__transport *t, int rank, int src, long key, void *buf,
              size_t bytes, double timeout_us, struct pl_errbuf *eb);
  void (*abort)(pl__transport *t);
  /* v[i] = sum over processes of v[i] (n <= 16). */
  int (*allreduce_sum)(pl__transport *t, double *v, int n,
                       struct pl_errbuf *eb);
  /* After the rank threads ended: completes every pending send, receiving
   * and discarding messages that no rank took (an aborted run). */
  int (*drain)(pl__transport *t, struct pl_errbuf *eb);
  /* Process 0 gets every process's blob, in process order: *all holds
   * them back to back, counts[k] (world entries, caller's array) their
   * sizes; PL_ENOMEM on process 0 when counts is NULL (out of memory),
   * after taking part. */
  int (*gather)(pl__transport *t, const void *mine, size_t n, void **all,
                size_t *counts, struct pl_errbuf *eb);
  /* buf (n bytes) of process 0 to every process. */
  int (*bcast)(pl__transport *t, void *buf, size_t n, struct pl_errbuf *eb);
  void (*close)(pl__transport *t);
} pl__transport_vt;

struct pl__transport {
  const pl__transport_vt *vt;
  int world;      /* processes of the run */
  int me;         /* this process, 0..world-1 */
  int node_procs; /* processes of the run on this node (>= 1) */
  int p;          /* pipeline ranks */
};

/* Pipeline ranks of process me of world: [*lo, *hi), contiguous blocks
 * (world <= p). */
void pl__proc_ranks(int p, int world, int me, int *lo, int *hi);
/* The process that runs pipeline rank r. */
int pl__rank_proc(int p, int world, int r);

/* One process, p ranks as threads. */
int pl__transport_threads_open(int p, pl__transport **out,
                               struct pl_errbuf *eb);
/* Every process of the launcher's job (MPI_COMM_WORLD), p ranks split
 * over them in blocks: the MPI plugin (libpipelab-mpi.so, exec/plugin.h),
 * loaded on first use. Initialises MPI (MPI_THREAD_MULTIPLE) on first use;
 * pl_exec_shutdown finalises it. PL_ENOTSUP with one line when the plugin
 * is not installed or does not load (the loader's reason: libmpi missing)
 * or the MPI library lacks thread support, PL_EINVAL when there are more
 * processes than ranks. */
int pl__transport_mpi_open(int p, pl__transport **out, struct pl_errbuf *eb);
/* 1 when the MPI plugin loads (loading it on first call), else 0 and *why
 * (may be NULL; static storage, rewritten by the next failing call) the
 * loader's one line. pl__mpi_built() is pl__mpi_available(NULL). */
int pl__mpi_available(const char **why);
int pl__mpi_built(void);
/* MPI_Finalize when the plugin is loaded and initialised MPI. */
void pl__mpi_shutdown(void);

#endif
