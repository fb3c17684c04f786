/*
 * transport_mpi.c: the MPI transport: the processes of an mpirun / srun job
 * run the pipeline ranks, in contiguous blocks (process k of W runs ranks
 * [k p / W, (k+1) p / W)), on the CPU backend.
 *
 * Data plane (rank threads, MPI_THREAD_MULTIPLE): a send copies the buffer
 * and posts MPI_Isend on a private duplicate of MPI_COMM_WORLD, tag = the
 * runtime's message key, which names the direction, stage and microbatch
 * and so the sending and receiving rank; a receive posts MPI_Irecv from
 * the source rank's process and polls it (yield, then sleeps growing to
 * 200 us), so that abort (the watchdog, a failure anywhere) ends it with
 * PL_EINTR after cancelling the request.
 *
 * Control plane (the calling thread only, on a second duplicate, every
 * process in the same order): the watchdog's status sum (MPI_Iallreduce,
 * polled with sleeps so that a waiting process leaves the core to the
 * ranks), drain (the non-blocking consensus: complete my sends while
 * receiving and discarding unmatched messages, then an MPI_Ibarrier that
 * ends once every process did), the result gather (MPI_Gather of sizes,
 * MPI_Gatherv of bytes) and the outcome broadcast. Blobs are raw structs:
 * every process runs the same pipelab binary on the same architecture.
 *
 * Built as the loadable module libpipelab-mpi.so (exec/plugin.h), the only
 * pipelab file that includes <mpi.h>: the core and the pipelab tool link
 * no MPI library, and a process loads it on first use (--transport mpi,
 * or a launcher's environment with more than one process).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pl_config.h"
#include "plugin.h"

struct pend {
  struct pend *next;
  MPI_Request req;
  /* payload follows */
};

struct mpi_tp {
  pl__transport base;
  MPI_Comm data, ctl;
  pthread_mutex_t mu; /* pending sends */
  struct pend *pending;
  atomic_int aborted;
  int tag_ub;
};

/* MPI initialised by us (finalised by pl__mpi_shutdown). */
static int we_initialised;

static void mpi_shutdown(void)
{
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (we_initialised && init && !fin)
    MPI_Finalize();
}

static int mpi_fail(struct pl_errbuf *eb, const char *what, int e)
{
  char s[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(e, s, &len) != MPI_SUCCESS)
    snprintf(s, sizeof s, "error %d", e);
  return pl_errf(eb, PL_EIO, "MPI: %s failed: %s", what, s);
}

static void nap(int *spins)
{
  if (*spins < 64) {
    ++*spins;
    sched_yield();
    return;
  }
  long us = *spins < 1064 ? 20 : 200;
  ++*spins;
  struct timespec ts = {0, us * 1000L};
  nanosleep(&ts, NULL);
}

/* Completed sends are freed by the sender's next send and by drain. */
static void reap(struct mpi_tp *b)
{
  struct pend **pp = &b->pending;
  while (*pp) {
    int done = 0;
    MPI_Test(&(*pp)->req, &done, MPI_STATUS_IGNORE);
    if (done) {
      struct pend *d = *pp;
      *pp = d->next;
      pl_free(d);
    } else {
      pp = &(*pp)->next;
    }
  }
}

static int mpi_send(pl__transport *t, int rank, int dst, long key,
                    const void *buf, size_t bytes, struct pl_errbuf *eb)
{
  struct mpi_tp *b = (struct mpi_tp *)t;
  (void)rank;
  if (key < 0 || key > b->tag_ub || bytes > INT_MAX)
    return pl_errf(eb, PL_ENOTSUP, "MPI: message key %ld or size %zu beyond "
                   "what MPI can tag (tag upper bound %d)", key, bytes,
                   b->tag_ub);
  struct pend *d = pl_malloc(sizeof *d + bytes);
  if (!d)
    return pl_errf(eb, PL_ENOMEM, "out of memory for a %zu-byte message",
                   bytes);
  memcpy(d + 1, buf, bytes);
  int proc = pl__rank_proc(t->p, t->world, dst);
  pthread_mutex_lock(&b->mu);
  reap(b);
  int e = MPI_Isend(d + 1, (int)bytes, MPI_BYTE, proc, (int)key, b->data,
                    &d->req);
  if (e == MPI_SUCCESS) {
    d->next = b->pending;
    b->pending = d;
  }
  pthread_mutex_unlock(&b->mu);
  if (e != MPI_SUCCESS) {
    pl_free(d);
    return mpi_fail(eb, "MPI_Isend", e);
  }
  return PL_OK;
}

static int mpi_recv(pl__transport *t, int rank, int src, long key, void *buf,
                    size_t bytes, double timeout_us, struct pl_errbuf *eb)
{
  struct mpi_tp *b = (struct mpi_tp *)t;
  (void)rank;
  if (key < 0 || key > b->tag_ub || bytes > INT_MAX)
    return pl_errf(eb, PL_ENOTSUP, "MPI: message key %ld or size %zu beyond "
                   "what MPI can tag (tag upper bound %d)", key, bytes,
                   b->tag_ub);
  MPI_Request req;
  int proc = pl__rank_proc(t->p, t->world, src);
  int e = MPI_Irecv(buf, (int)bytes, MPI_BYTE, proc, (int)key, b->data, &req);
  if (e != MPI_SUCCESS)
    return mpi_fail(eb, "MPI_Irecv", e);
  double dl = pl_now_us() + (timeout_us < 0 ? 0 : timeout_us);
  int spins = 0;
  for (;;) {
    int done = 0;
    MPI_Status st;
    e = MPI_Test(&req, &done, &st);
    if (e != MPI_SUCCESS)
      return mpi_fail(eb, "MPI_Test", e);
    if (done) {
      int n = 0;
      MPI_Get_count(&st, MPI_BYTE, &n);
      if ((size_t)n != bytes)
        return pl_errf(eb, PL_EINVAL, "message of %d bytes, expected %zu", n,
                       bytes);
      return PL_OK;
    }
    int aborted = atomic_load(&b->aborted);
    if (aborted || pl_now_us() > dl) {
      MPI_Cancel(&req);
      MPI_Wait(&req, &st);
      int cancelled = 0;
      MPI_Test_cancelled(&st, &cancelled);
      if (!cancelled) /* it arrived meanwhile: take it */
        return PL_OK;
      return aborted ? PL_EINTR : PL_ETIMEDOUT;
    }
    nap(&spins);
  }
}

static void mpi_abort(pl__transport *t)
{
  atomic_store(&((struct mpi_tp *)t)->aborted, 1);
}

/* Waits for a control request, leaving the core to the rank threads. */
static int ctl_wait(MPI_Request *req, const char *what, struct pl_errbuf *eb)
{
  int spins = 64; /* sleep at once: the ranks need the cores */
  for (;;) {
    int done = 0;
    int e = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (e != MPI_SUCCESS)
      return mpi_fail(eb, what, e);
    if (done)
      return PL_OK;
    nap(&spins);
  }
}

static int mpi_allreduce_sum(pl__transport *t, double *v, int n,
                             struct pl_errbuf *eb)
{
  struct mpi_tp *b = (struct mpi_tp *)t;
  double in[16];
  if (n > 16)
    return pl_errf(eb, PL_EINVAL, "allreduce of %d values (at most 16)", n);
  memcpy(in, v, (size_t)n * sizeof *v);
  MPI_Request req;
  int e = MPI_Iallreduce(in, v, n, MPI_DOUBLE, MPI_SUM, b->ctl, &req);
  if (e != MPI_SUCCESS)
    return mpi_fail(eb, "MPI_Iallreduce", e);
  return ctl_wait(&req, "MPI_Iallreduce", eb);
}

static int mpi_drain(pl__transport *t, struct pl_errbuf *eb)
{
  struct mpi_tp *b = (struct mpi_tp *)t;
  MPI_Request bar = MPI_REQUEST_NULL;
  int in_barrier = 0, spins = 64;
  for (;;) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, b->data, &flag, &st);
    if (flag) { /* nobody will take it: the run was aborted */
      int n = 0;
      MPI_Get_count(&st, MPI_BYTE, &n);
      void *junk = pl_malloc(n > 0 ? (size_t)n : 1);
      if (!junk)
        return pl_errf(eb, PL_ENOMEM, "out of memory");
      MPI_Recv(junk, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, b->data,
               MPI_STATUS_IGNORE);
      pl_free(junk);
      continue;
    }
    if (!in_barrier) {
      pthread_mutex_lock(&b->mu);
      reap(b);
      int idle = b->pending == NULL;
      pthread_mutex_unlock(&b->mu);
      if (idle) {
        int e = MPI_Ibarrier(b->ctl, &bar);
        if (e != MPI_SUCCESS)
          return mpi_fail(eb, "MPI_Ibarrier", e);
        in_barrier = 1;
      }
    } else {
      int done = 0;
      int e = MPI_Test(&bar, &done, MPI_STATUS_IGNORE);
      if (e != MPI_SUCCESS)
        return mpi_fail(eb, "MPI_Ibarrier", e);
      if (done)
        return PL_OK;
    }
    nap(&spins);
  }
}

static int mpi_gather(pl__transport *t, const void *mine, size_t n,
                      void **all, size_t *counts, struct pl_errbuf *eb)
{
  struct mpi_tp *b = (struct mpi_tp *)t;
  int W = t->world, root = t->me == 0;
  *all = NULL;
  if (n > INT_MAX)
    return pl_errf(eb, PL_ENOTSUP, "MPI: a %zu-byte result is too large", n);
  long long mine_n = (long long)n, *cnt = NULL;
  int *icnt = NULL, *disp = NULL;
  if (root) {
    cnt = pl_calloc((size_t)W, sizeof *cnt);
    icnt = pl_calloc((size_t)W, sizeof *icnt);
    disp = pl_calloc((size_t)W, sizeof *disp);
  }
  /* Every process takes part in both collectives, even out of memory. */
  int ok = !root || (cnt && icnt && disp);
  MPI_Request req;
  int e = MPI_Igather(&mine_n, 1, MPI_LONG_LONG, cnt, 1, MPI_LONG_LONG, 0,
                      b->ctl, &req);
  int rc = e != MPI_SUCCESS ? mpi_fail(eb, "MPI_Igather", e)
                            : ctl_wait(&req, "MPI_Igather", eb);
  size_t total = 0;
  if (!rc && root && ok) {
    for (int k = 0; k < W; k++) {
      if (cnt[k] < 0 || cnt[k] > INT_MAX || total + (size_t)cnt[k] > INT_MAX)
        ok = 0;
      else {
        icnt[k] = (int)cnt[k];
        disp[k] = (int)total;
        total += (size_t)cnt[k];
      }
    }
    *all = ok ? pl_malloc(total ? total : 1) : NULL;
    if (!*all) {
      ok = 0;
      memset(icnt, 0, (size_t)W * sizeof *icnt);
      memset(disp, 0, (size_t)W * sizeof *disp);
    }
  }
  if (!rc) {
    /* A root that cannot take the bytes receives nothing (counts 0). */
    char dummy;
    e = MPI_Igatherv(mine, (int)n, MPI_BYTE, *all ? *all : &dummy, icnt, disp,
                     MPI_BYTE, 0, b->ctl, &req);
    rc = e != MPI_SUCCESS ? mpi_fail(eb, "MPI_Igatherv", e)
                          : ctl_wait(&req, "MPI_Igatherv", eb);
  }
  if (!rc && root && (!ok || !counts))
    rc = pl_errf(eb, PL_ENOMEM, "out of memory for the gathered results");
  if (!rc && root)
    for (int k = 0; k < W; k++)
      counts[k] = (size_t)cnt[k];
  if (rc && root) {
    pl_free(*all);
    *all = NULL;
  }
  pl_free(cnt);
  pl_free(icnt);
  pl_free(disp);
  return rc;
}

static int mpi_bcast(pl__transport *t, void *buf, size_t n,
                     struct pl_errbuf *eb)
{
  struct mpi_tp *b = (struct mpi_tp *)t;
  if (n > INT_MAX)
    return pl_errf(eb, PL_ENOTSUP, "MPI: broadcast of %zu bytes", n);
  MPI_Request req;
  int e = MPI_Ibcast(buf, (int)n, MPI_BYTE, 0, b->ctl, &req);
  if (e != MPI_SUCCESS)
    return mpi_fail(eb, "MPI_Ibcast", e);
  return ctl_wait(&req, "MPI_Ibcast", eb);
}

static void mpi_close(pl__transport *t)
{
  struct mpi_tp *b = (struct mpi_tp *)t;
  if (!b)
    return;
  /* drain completed every send of a run that got that far; any left is
   * from a run that failed before it (out of memory): let MPI finish it. */
  while (b->pending) {
    struct pend *d = b->pending;
    b->pending = d->next;
    if (d->req != MPI_REQUEST_NULL) {
      int done = 0;
      MPI_Test(&d->req, &done, MPI_STATUS_IGNORE);
      if (!done) {
        MPI_Request_free(&d->req);
        continue; /* the buffer must outlive the send: leaked on purpose */
      }
    }
    pl_free(d);
  }
  if (b->data != MPI_COMM_NULL)
    MPI_Comm_free(&b->data);
  if (b->ctl != MPI_COMM_NULL)
    MPI_Comm_free(&b->ctl);
  pthread_mutex_destroy(&b->mu);
  pl_free(b);
}

static const pl__transport_vt mpi_vt = {
  "mpi",      mpi_send,   mpi_recv,  mpi_abort, mpi_allreduce_sum,
  mpi_drain,  mpi_gather, mpi_bcast, mpi_close};

/* Open MPI's components (dlopen'ed by libmpi) resolve libmpi's and
 * libopen-pal's symbols from the global scope; this module and so libmpi
 * were loaded with RTLD_LOCAL: promote libmpi to the global scope first. */
static void mpi_go_global(void)
{
  Dl_info di;
  void *sym = (void *)(size_t)&MPI_Init_thread;
  if (dladdr(sym, &di) && di.dli_fname)
    (void)dlopen(di.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

static int mpi_open(int p, pl__transport **out, struct pl_errbuf *eb)
{
  *out = NULL;
  int init = 0, fin = 0, prov = 0;
  MPI_Finalized(&fin);
  if (fin)
    return pl_errf(eb, PL_EMISUSE, "MPI was already finalised in this "
                   "process (pl_exec_shutdown ends MPI for good)");
  MPI_Initialized(&init);
  if (!init) {
    mpi_go_global();
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &prov) !=
        MPI_SUCCESS)
      return pl_errf(eb, PL_EIO, "MPI_Init_thread failed");
    we_initialised = 1;
  } else {
    MPI_Query_thread(&prov);
  }
  if (prov < MPI_THREAD_MULTIPLE)
    return pl_errf(eb, PL_ENOTSUP, "the MPI library does not support "
                   "MPI_THREAD_MULTIPLE, which the MPI transport needs (rank "
                   "threads and the watchdog call MPI at the same time)");
  int world = 1, me = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  if (world > p)
    return pl_errf(eb, PL_EINVAL, "%d MPI processes for a schedule of %d "
                   "ranks: start at most one process per rank", world, p);
  struct mpi_tp *b = pl_calloc(1, sizeof *b);
  if (!b)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  b->base.vt = &mpi_vt;
  b->base.world = world;
  b->base.me = me;
  b->base.p = p;
  b->base.node_procs = 1;
  b->data = b->ctl = MPI_COMM_NULL;
  pthread_mutex_init(&b->mu, NULL);
  atomic_init(&b->aborted, 0);
  MPI_Comm node = MPI_COMM_NULL;
  int e = MPI_Comm_dup(MPI_COMM_WORLD, &b->data);
  if (e == MPI_SUCCESS)
    e = MPI_Comm_dup(MPI_COMM_WORLD, &b->ctl);
  if (e == MPI_SUCCESS)
    e = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, me,
                            MPI_INFO_NULL, &node);
  if (e != MPI_SUCCESS) {
    int rc = mpi_fail(eb, "MPI_Comm_dup", e);
    mpi_close(&b->base);
    return rc;
  }
  MPI_Comm_size(node, &b->base.node_procs);
  MPI_Comm_free(&node);
  MPI_Comm_set_errhandler(b->data, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(b->ctl, MPI_ERRORS_RETURN);
  int *ub = NULL, flag = 0;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
  b->tag_ub = flag && ub ? *ub : 32767;
  *out = &b->base;
  return PL_OK;
}

static const char *mpi_detail(void)
{
  static char line[256];
  char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (!line[0]) {
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS)
      len = 0;
    v[len < (int)sizeof v ? len : (int)sizeof v - 1] = '\0';
    size_t n = strcspn(v, ",\n");
    snprintf(line, sizeof line, "MPI %d.%d, %.*s", MPI_VERSION,
             MPI_SUBVERSION, (int)n, v);
  }
  return line;
}

static const pl__plugin mpi_plugin = {
  .abi = PL_PLUGIN_ABI,
  .size = sizeof(pl__plugin),
  .kind = PL_PLUGIN_TRANSPORT,
  .name = "mpi",
  .version = PL_VERSION_STRING,
  .detail = mpi_detail,
  .transport_open = mpi_open,
  .shutdown = mpi_shutdown,
};

__attribute__((visibility("default"))) const pl__plugin *
PL_PLUGIN_ENTRY(const pl__plugin_host *h)
{
  return pl__shim_init(h) ? NULL : &mpi_plugin;
}
