/* transport_threads.c: the in-process transport: every pipeline rank is a
 * thread of this process. P2P through one mailbox per destination rank
 * (mutex + condition variable on CLOCK_MONOTONIC), messages keyed by
 * (source, key); a send copies the buffer. The control plane is trivial:
 * one process. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "transport.h"

struct msg {
  struct msg *next;
  long key;
  int src;
  size_t bytes;
  /* payload follows */
};

struct mailbox {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct msg *head;
};

struct thr_tp {
  pl__transport base; /* first: the runtime holds a pl__transport * */
  struct mailbox *box; /* [p] */
  volatile int aborted;
};

void pl__proc_ranks(int p, int world, int me, int *lo, int *hi)
{
  *lo = (int)((long)p * me / world);
  *hi = (int)((long)p * (me + 1) / world);
}

int pl__rank_proc(int p, int world, int r)
{
  for (int k = 0; k < world; k++) {
    int lo, hi;
    pl__proc_ranks(p, world, k, &lo, &hi);
    if (r >= lo && r < hi)
      return k;
  }
  return world - 1;
}

static void thr_close(pl__transport *t)
{
  struct thr_tp *b = (struct thr_tp *)t;
  if (!b)
    return;
  for (int i = 0; b->box && i < b->base.p; i++) {
    struct msg *m = b->box[i].head;
    while (m) {
      struct msg *n = m->next;
      pl_free(m);
      m = n;
    }
    pthread_mutex_destroy(&b->box[i].mu);
    pthread_cond_destroy(&b->box[i].cv);
  }
  pl_free(b->box);
  pl_free(b);
}

static int thr_send(pl__transport *t, int rank, int dst, long key,
                    const void *buf, size_t bytes, struct pl_errbuf *eb)
{
  struct thr_tp *b = (struct thr_tp *)t;
  struct msg *m = pl_malloc(sizeof *m + bytes);
  if (!m)
    return pl_errf(eb, PL_ENOMEM, "out of memory for a %zu-byte message",
                   bytes);
  m->key = key;
  m->src = rank;
  m->bytes = bytes;
  memcpy(m + 1, buf, bytes);
  struct mailbox *mb = &b->box[dst];
  pthread_mutex_lock(&mb->mu);
  m->next = mb->head;
  mb->head = m;
  pthread_cond_broadcast(&mb->cv);
  pthread_mutex_unlock(&mb->mu);
  return PL_OK;
}

static int thr_recv(pl__transport *t, int rank, int src, long key, void *buf,
                    size_t bytes, double timeout_us, struct pl_errbuf *eb)
{
  struct thr_tp *b = (struct thr_tp *)t;
  struct mailbox *mb = &b->box[rank];
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  double add = timeout_us < 0 ? 0 : timeout_us;
  time_t sec = (time_t)(add / 1e6);
  long ns = (long)((add - (double)sec * 1e6) * 1e3);
  dl.tv_sec += sec;
  dl.tv_nsec += ns;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  int rc = PL_OK;
  pthread_mutex_lock(&mb->mu);
  for (;;) {
    struct msg **pp = &mb->head, *m = NULL;
    for (; *pp; pp = &(*pp)->next)
      if ((*pp)->key == key && (*pp)->src == src) {
        m = *pp;
        *pp = m->next;
        break;
      }
    if (m) {
      pthread_mutex_unlock(&mb->mu);
      if (m->bytes != bytes)
        rc = pl_errf(eb, PL_EINVAL, "message of %zu bytes, expected %zu",
                     m->bytes, bytes);
      else
        memcpy(buf, m + 1, bytes);
      pl_free(m);
      return rc;
    }
    if (b->aborted) {
      rc = PL_EINTR;
      break;
    }
    int e = pthread_cond_timedwait(&mb->cv, &mb->mu, &dl);
    if (e == ETIMEDOUT) {
      rc = PL_ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock(&mb->mu);
  return rc;
}

static void thr_abort(pl__transport *t)
{
  struct thr_tp *b = (struct thr_tp *)t;
  b->aborted = 1;
  for (int i = 0; i < b->base.p; i++) {
    pthread_mutex_lock(&b->box[i].mu);
    pthread_cond_broadcast(&b->box[i].cv);
    pthread_mutex_unlock(&b->box[i].mu);
  }
}

static int thr_allreduce_sum(pl__transport *t, double *v, int n,
                             struct pl_errbuf *eb)
{
  (void)t;
  (void)v;
  (void)n;
  (void)eb;
  return PL_OK; /* one process: the sum is the value */
}

static int thr_drain(pl__transport *t, struct pl_errbuf *eb)
{
  (void)t;
  (void)eb;
  return PL_OK; /* sends never wait; close frees what nobody took */
}

static int thr_gather(pl__transport *t, const void *mine, size_t n,
                      void **all, size_t *counts, struct pl_errbuf *eb)
{
  (void)t;
  *all = counts ? pl_malloc(n ? n : 1) : NULL;
  if (!*all)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  if (n)
    memcpy(*all, mine, n);
  counts[0] = n;
  return PL_OK;
}

static int thr_bcast(pl__transport *t, void *buf, size_t n,
                     struct pl_errbuf *eb)
{
  (void)t;
  (void)buf;
  (void)n;
  (void)eb;
  return PL_OK;
}

static const pl__transport_vt thr_vt = {
  "threads",  thr_send,  thr_recv,   thr_abort, thr_allreduce_sum,
  thr_drain,  thr_gather, thr_bcast, thr_close};

int pl__transport_threads_open(int p, pl__transport **out,
                               struct pl_errbuf *eb)
{
  *out = NULL;
  struct thr_tp *b = pl_calloc(1, sizeof *b);
  if (!b)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  b->base.vt = &thr_vt;
  b->base.world = 1;
  b->base.me = 0;
  b->base.node_procs = 1;
  b->base.p = p;
  b->box = pl_calloc((size_t)p, sizeof *b->box);
  if (!b->box) {
    pl_free(b);
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  for (int i = 0; i < p; i++) {
    pthread_mutex_init(&b->box[i].mu, NULL);
    pthread_cond_init(&b->box[i].cv, &ca);
  }
  pthread_condattr_destroy(&ca);
  *out = &b->base;
  return PL_OK;
}
