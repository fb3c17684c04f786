/*
 * exec.h: the executor: runs a schedule IR for real, one rank per
 * thread (CPU backend with the threads transport, and the single-GPU CUDA
 * transport), one or more ranks per process (CPU backend with the MPI
 * transport) or one rank per process (CUDA + NCCL), on the
 * transformer-block workload of
 * pipelab/kernels.h, and fills the same pl_result the simulator fills
 * (source "cpu" or "cuda", time_unit "us", mem_unit "bytes").
 *
 * The runtime (exec/runtime.c) is shared: per rank it walks the op list in
 * order; an op first receives its inputs (the forward activation of the
 * previous stage or the gradient of the next one), then computes on real
 * tensors, then sends its output. F allocates the stage's activation stash
 * (M_B bytes, kernels.h), B frees its B-part (M_B - M_W) at its end, W frees
 * the W-part (M_W), BW frees both, a fused F&B does the F part first
 * (docs/executor.md, activation bytes). The tracking allocator records those bytes per rank.
 * Backends plug in under it through struct pl_backend_vt.
 *
 * Ownership: pl_exec_run fills *res (initialise with PL_RESULT_INIT, free
 * with pl_result_free) and *grads when not NULL (free with
 * pl_exec_grads_free). Backends and transports are opened and closed by
 * pl_exec_run. With more than one process (MPI transport), *res and
 * *grads are filled on process 0 only (gathered from every process);
 * other processes get an empty result and no gradients, and every process
 * returns the same code and message.
 */
#ifndef PIPELAB_EXEC_H
#define PIPELAB_EXEC_H

#include "pipelab/kernels.h"
#include "pipelab/pipelab.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pl_backend_kind { PL_BACKEND_CPU = 0, PL_BACKEND_CUDA = 1 };
/* "cpu" / "cuda" -> kind; -1 if unknown. */
int pl_backend_parse(const char *name);
const char *pl_backend_name(int kind);

/*
 * Number of usable CUDA devices: 0 when the CUDA backend plugin
 * (libpipelab-cuda.so) is not installed or does not load, or when
 * cudaGetDeviceCount fails (no driver, no device); *why (static storage,
 * valid until the next call) says why when it is 0: the loader's one line
 * ("the cuda plugin (libpipelab-cuda.so) is not installed (searched ...)",
 * "cannot load the cuda plugin: libcudart.so.13: cannot open shared object
 * file ...") or the CUDA runtime's. Loads the plugin on first call. Never
 * fails.
 */
int pl_cuda_devices(const char **why);

/*
 * Plugins: the CUDA + NCCL backend and the MPI transport are loadable
 * modules, libpipelab-<name>.so, loaded on first use, so that a process
 * that neither runs on a GPU nor across processes loads no CUDA and no
 * MPI library. Search path, first found wins: the ':'-separated
 * directories of PIPELAB_PLUGIN_DIR when it is set (and nothing else);
 * otherwise plugins/ and ../plugins next to the executable and next to
 * libpipelab.so (the build tree), then <libdir>/pipelab/plugins of the
 * install tree (found from bin/ and from <libdir>).
 */
typedef struct pl_plugin_info {
  char name[32];     /* "cuda", "mpi" */
  char kind[16];     /* "backend", "transport"; "" when it does not load */
  char version[32];  /* the pipelab version it was built from */
  char path[1100];   /* the module file */
  char detail[PL_ERRMSG_MAX]; /* what it was built against (e.g. "CUDA 13.0,
                        NCCL 2.27.3"), or why it does not load */
  int loaded;        /* 1 when it loads and speaks this pipelab's ABI */
} pl_plugin_info;
/* Every plugin in the search path (one per name: the one that would be
 * loaded), each loaded to read its table. *out is pl_malloc'ed (free with
 * pl_free; NULL when none), *n its length. PL_ENOMEM only. */
int pl_plugins_find(pl_plugin_info **out, size_t *n, struct pl_errbuf *eb);
/* The existing directories searched, ':'-separated, into buf (may be NULL);
 * returns how many there are. */
int pl_plugin_dirs(char *buf, size_t len);

/*
 * Transports: how the ranks of one run exchange activations and gradients
 * and agree on the run's state. THREADS: one process, one thread per rank.
 * MPI: the processes of an mpirun / srun job share the ranks (contiguous
 * blocks, one rank each when the job has p processes), CPU backend; a
 * plugin built when CMake found MPI. AUTO: MPI when the launcher's
 * environment (pl_launch_detect) says more than one process and the MPI
 * plugin loads, else
 * THREADS. The CUDA backend moves its own data (device copies or NCCL) and
 * uses the transport for the control plane (watchdog, failures, results).
 * MPI is a plugin (libpipelab-mpi.so, see "Plugins" above): "built" below
 * means that it is installed and loads.
 */
enum pl_transport_kind {
  PL_TRANSPORT_AUTO = 0,
  PL_TRANSPORT_THREADS = 1,
  PL_TRANSPORT_MPI = 2
};
/* "auto" / "threads" / "mpi" -> kind; -1 if unknown. */
int pl_transport_parse(const char *name);
/* Static string. */
const char *pl_transport_name(int kind);
/* 1 when kind can be used (MPI: its plugin loads; loaded here on first
 * call), else 0 and *why (static storage, may be NULL) says why in one
 * line, e.g. "the mpi plugin (libpipelab-mpi.so) is not installed ...". */
int pl_transport_built(int kind, const char **why);

/* Where this process sits in a multi-process job, from the launcher's
 * environment, first found of: PL_WORLD_SIZE / PL_RANK (explicit),
 * OMPI_COMM_WORLD_SIZE / _RANK (Open MPI's mpirun), PMI_SIZE / PMI_RANK
 * (MPICH, Intel MPI, srun --mpi=pmi2), SLURM_STEP_NUM_TASKS (or
 * SLURM_NTASKS) / SLURM_PROCID (srun). Local rank from LOCAL_RANK,
 * OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or SLURM_LOCALID. */
typedef struct pl_launch {
  int size;          /* processes of the job; 1 when not launched */
  int rank;          /* this process, 0..size-1 */
  int local_rank;    /* on this node; rank when unknown */
  const char *from;  /* static: "PL_RANK", "OMPI_COMM_WORLD", "PMI",
                        "SLURM" or "none" */
} pl_launch;
/* Never fails; malformed values count as absent. */
void pl_launch_detect(pl_launch *out);
/* The transport a run with `requested` (enum pl_transport_kind) uses on
 * this process: AUTO resolved as above, others unchanged. */
int pl_transport_resolve(int requested, const pl_launch *l);
/* Ends what the executor started process-wide (MPI_Finalize when
 * pl_exec_run initialised MPI). Call once before exiting, after the last
 * pl_exec_run; a later MPI run fails with PL_EMISUSE. */
void pl_exec_shutdown(void);

enum pl_exec_flags {
  PL_EXEC_RECORD_OPS = 1 << 0, /* fill res->ops */
  PL_EXEC_RECORD_MEM = 1 << 1  /* fill res->mem */
};

typedef struct pl_exec_opts {
  int backend;       /* enum pl_backend_kind */
  double timeout_s;  /* watchdog: how long every local rank may wait (for a
                        message or for the other ranks) with no progress
                        anywhere before the run aborts (default 60); a rank
                        waiting while its producer computes is not stuck */
  unsigned flags;    /* enum pl_exec_flags */
  int warmup;        /* iterations run and discarded before the measured one
                        (0..1000; same buffers, caches warm); the result,
                        loss and gradients are the measured iteration's */
  volatile const int *stop; /* NULL, or a flag (SIGINT): once non-zero the
                        ranks unwind within about 0.1 s and the run returns
                        PL_EINTR */
  int transport;     /* enum pl_transport_kind; default AUTO */
  int fail_rank;     /* fault injection for tests: this pipeline rank fails
                        (PL_EIO) when it reaches op position fail_op;
                        -1 (default): none */
  int fail_op;
  int fail_hang;     /* 1: instead of failing, that rank waits for a
                        message nobody sends (the watchdog's case) */
} pl_exec_opts;
#define PL_EXEC_OPTS_INIT                                                  \
  {PL_BACKEND_CPU, 60.0, 0, 0, NULL, PL_TRANSPORT_AUTO, -1, 0, 0}

/* Loss and all weight gradients of one iteration, on the host, laid out
 * layer after layer (pl_wl_layer_params doubles each). */
typedef struct pl_exec_grads {
  double loss;
  size_t n;
  double *g; /* [n] owned */
} pl_exec_grads;
#define PL_EXEC_GRADS_INIT {0, 0, NULL}
void pl_exec_grads_free(pl_exec_grads *g);

/*
 * Runs one iteration of schedule s on workload w (w->layers must be a
 * multiple of the schedule's virtual stages; w->microbatches is set from the
 * schedule). The schedule is NOT validated here (callers validate first);
 * a schedule that cannot finish is stopped by the watchdog: PL_ETIMEDOUT
 * with every blocked rank, the op it is at and the message it waits for.
 * PL_ENODEV when the backend's plugin is missing or has no device; PL_EINTR
 * when o->stop was raised (on any process). PL_ENOTSUP when o->transport
 * is MPI and its plugin is missing or does not load. With more than one process, a
 * failure on one rank aborts every process within the watchdog's tick
 * (0.05 s) and all return that rank's error; the watchdog sees every
 * rank of every process. On the CPU backend a run with more local ranks
 * than online cores is marked untrusted in *res ("oversubscribed: ...").
 */
int pl_exec_run(const pl_sched *s, const pl_workload *w, const pl_exec_opts *o,
                pl_result *res, pl_exec_grads *grads, struct pl_errbuf *eb);

/* The plain sequential reference on the CPU (one thread, every microbatch
 * forward then backward through all layers, no pipeline), with
 * w->microbatches microbatches. stop (may be NULL) is polled between
 * layers: PL_EINTR and nothing in *out once it is non-zero. */
int pl_exec_reference(const pl_workload *w, pl_exec_grads *out,
                      volatile const int *stop, struct pl_errbuf *eb);

/* Gradient check: max |a-b| over the loss and every gradient, and the
 * normwise relative error max|a-b| / max|b| (per tensor kind it would be
 * ill-conditioned for gradients near 0). */
typedef struct pl_grad_check {
  double max_abs_error;
  double max_rel_error;
  double loss_abs_error;
  int passed; /* max_rel_error <= tol and loss relative error <= tol */
} pl_grad_check;
/* Double precision tolerance used by run --verify and the tests. */
#define PL_GRAD_TOL 1e-9
int pl_exec_grads_compare(const pl_exec_grads *a, const pl_exec_grads *ref,
                          double tol, pl_grad_check *out,
                          struct pl_errbuf *eb);

/* ------------------------------------------------------ calibration --- */

typedef struct pl_calib_stat {
  double mean, stddev, min; /* microseconds */
  int reps;
} pl_calib_stat;

typedef struct pl_calib {
  char backend[8];
  pl_workload w;           /* shape measured (one layer) */
  pl_calib_stat t[PL_OP_NKINDS]; /* per layer: F, B, W, BW (FB unused) */
  pl_calib_stat loss;      /* target, loss and its gradient (last stage) */
  pl_calib_stat input;     /* loading a microbatch (first stage) */
  pl_calib_stat p2p_small; /* one 8-byte message between two ranks */
  pl_calib_stat p2p_msg;   /* one activation message (msg_bytes) */
  double p2p_latency_us;   /* from p2p_small */
  double p2p_bandwidth;    /* bytes per us, from p2p_msg */
  double msg_bytes;
  int warmup;
  int threads, cores;      /* threads the measurement ran (2: the P2P pair)
                              and the online cores (CPU backend; else 0) */
  /* Why the figures cannot be trusted (pl_calib_trust), e.g. "F relative
   * spread 14.2 % > 10 %" or "oversubscribed: 2 ranks on 1 core". */
  int n_untrusted;
  char untrusted[PL_UNTRUSTED_MAX][PL_UNTRUSTED_LEN];
} pl_calib;

/* Default largest relative spread (sample stddev / mean) of a per-layer F,
 * B, W or BW timing that pl_calib_trust accepts. */
#define PL_CALIB_MAX_SPREAD 0.10

/* Measures one layer's F, B, W and BW (warm-up, then reps repetitions) and
 * P2P latency and bandwidth between two ranks of the backend, then applies
 * pl_calib_trust(out, PL_CALIB_MAX_SPREAD). stop (may be NULL) is polled
 * every repetition: PL_EINTR once it is non-zero. */
int pl_exec_calibrate(const pl_workload *w, int backend, int warmup, int reps,
                      pl_calib *out, volatile const int *stop,
                      struct pl_errbuf *eb);
/* Recomputes cal->untrusted: oversubscription (more threads than cores)
 * and every per-layer F, B, W, BW timing whose stddev / mean exceeds
 * max_spread (the input load, the loss and the P2P figures are small and
 * noisy and are not judged). Returns cal->n_untrusted. */
int pl_calib_trust(pl_calib *cal, double max_spread);
/* Fills a cost table (time unit "us", memory in bytes) for c->n_stages
 * virtual stages from a calibration: stage time = layers per stage x
 * per-layer time, plus the input load on the first stage's F and the loss
 * on the last stage's F; comm = latency, bandwidth and msg_bytes (no
 * measurable bandwidth: the activation message's time is the latency).
 * A thin wrapper over pl_cost_from_calibration (pipelab/models.h), which
 * pl_cost_provide also uses for calibrations stored in a database. */
int pl_calib_apply_costs(const pl_calib *cal, const pl_workload *w,
                         pl_costs *c, struct pl_errbuf *eb);

/* -------------------------------------------------- backend interface --- */

/*
 * A backend: memory, the workload kernels, P2P and a clock, per rank. Every
 * call with a rank argument is made from that rank's thread. Pointers from
 * alloc are device pointers (host pointers on the CPU backend).
 */
typedef struct pl_backend_vt {
  const char *name;
  /* Binds the calling thread to rank (device, BLAS threads, streams). */
  int (*rank_enter)(void *be, int rank, struct pl_errbuf *eb);
  void (*rank_leave)(void *be, int rank);
  /* A buffer, or NULL; zero-filled when zero != 0. Activation stashes are
   * allocated with zero = 0 (F writes all of them) so that F is timed as
   * calibrate times it, without a memset of M_B bytes. */
  void *(*alloc)(void *be, int rank, size_t bytes, int zero);
  void (*free)(void *be, int rank, void *p);
  int (*to_host)(void *be, int rank, void *dst, const void *src, size_t n);
  /* Workload (kernels.h semantics). */
  int (*init_layer)(void *be, int rank, int layer, double *params);
  int (*input)(void *be, int rank, int mb, double *x);
  int (*target)(void *be, int rank, int mb, double *t);
  int (*layer_fwd)(void *be, int rank, const double *params, const double *x,
                   double *out, double *wpart, double *bpart);
  int (*layer_bwd_b)(void *be, int rank, const double *params,
                     const double *dout, double *dx, double *wpart,
                     const double *bpart, double *grads, double *scratch);
  int (*layer_bwd_w)(void *be, int rank, const double *wpart, double *grads,
                     double *scratch);
  /* Adds the microbatch's loss to the rank's accumulator. */
  int (*loss)(void *be, int rank, const double *out, const double *t,
              double *dout);
  int (*loss_total)(void *be, int rank, double *loss);
  /* P2P of a backend that moves device memory itself (CUDA); NULL on a
   * backend whose buffers are host memory (CPU), which the run's transport
   * moves (threads or MPI). send copies buf (bytes) to rank dst under key;
   * recv copies the message with key from src into buf, waiting at most
   * timeout_us: PL_ETIMEDOUT, or PL_EINTR once abort was called. */
  int (*send)(void *be, int rank, int dst, long key, const void *buf,
              size_t bytes, struct pl_errbuf *eb);
  int (*recv)(void *be, int rank, int src, long key, void *buf, size_t bytes,
              double timeout_us, struct pl_errbuf *eb);
  void (*abort)(void *be);
  /* Clock: op_begin marks the start of an op, op_end its end and returns
   * both in microseconds since `start` (called before each iteration, every
   * local rank at the barrier, none inside an op). */
  void (*start)(void *be);
  int (*op_begin)(void *be, int rank);
  int (*op_end)(void *be, int rank, double *t0, double *t1);
} pl_backend_vt;

/* The CPU backend (host memory, CBLAS kernels; P2P by the transport):
 * its table and constructor. */
const pl_backend_vt *pl_backend_cpu_vt(void);
int pl_backend_cpu_open(int p, const pl_workload *w, void **be);
void pl_backend_cpu_close(void *be);

/* CUDA: single process with p ranks sharing the GPUs round-robin (per-rank
 * streams, device copies and events) when world == 1; otherwise one rank
 * per process, NCCL P2P, rank/world from pl_launch_detect and the NCCL
 * unique id from the file named by PL_NCCL_ID_FILE (rank 0 writes it) or
 * NCCL_COMM_ID. The backend lives in the plugin libpipelab-cuda.so
 * ("Plugins" above); these functions load it on first use and forward to
 * its table, so this header never depends on build options: when the
 * plugin is missing or does not load, pl_backend_cuda_vt returns NULL,
 * pl_backend_cuda_open returns PL_ENODEV with the loader's reason,
 * pl_backend_cuda_set_order PL_ENODEV, and the others do nothing. The
 * table is static storage of the plugin; the handle *be is owned by the
 * caller and freed with pl_backend_cuda_close. */
const pl_backend_vt *pl_backend_cuda_vt(void);
int pl_backend_cuda_open(int p, const pl_workload *w, void **be,
                         struct pl_errbuf *eb);
void pl_backend_cuda_close(void *be);
/* Ranks of this process: [*lo, *hi). */
void pl_backend_cuda_local_ranks(void *be, int *lo, int *hi);
/* Records every rank's send order (the NCCL transport posts receives in
 * the sender's order). Called by the runtime after open. */
int pl_backend_cuda_set_order(void *be, const pl_sched *s);

#ifdef __cplusplus
}
#endif

#endif
