/* bench_sim.c: simulator speed: simulated ops per second for 1F1B
 * and interleaved at p=64, m=1024 and for a loop of small cases (p=8, m=32),
 * trace output off; and peak heap bytes per op, measured through the
 * allocator hook. Prints figures; asserts nothing (docs/performance.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"

/* Counting allocator: a header before each block holds its size. */
static size_t live, peak;
static void *cm(size_t n)
{
  size_t *p = malloc(n + 16);
  if (!p)
    return NULL;
  p[0] = n;
  live += n;
  if (live > peak)
    peak = live;
  return (char *)p + 16;
}
static void *cc(size_t n, size_t s)
{
  void *p = cm(n * s);
  if (p)
    memset(p, 0, n * s);
  return p;
}
static void cf(void *q)
{
  if (!q)
    return;
  size_t *p = (size_t *)((char *)q - 16);
  live -= p[0];
  free(p);
}
static void *cr(void *q, size_t n)
{
  if (!q)
    return cm(n);
  size_t *p = (size_t *)((char *)q - 16);
  size_t old = p[0];
  size_t *np = realloc(p, n + 16);
  if (!np)
    return NULL;
  np[0] = n;
  live = live - old + n;
  if (live > peak)
    peak = live;
  return (char *)np + 16;
}

/* Runtime of the P2P rows: -1 = the default table (async, latency only). */
static int p2p_mode = -1;

static void one(const char *name, int p, int m, int v, int reps, int small)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = m;
  gp.v = v;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sim *sim;
  pl_sim_create(&sim);
  pl_sched *s;
  size_t base = live;
  peak = live;
  if (pl_sched_gen(name, &gp, &s, &eb)) {
    printf("%-12s %s\n", name, eb.msg);
    return;
  }
  pl_costs *c;
  pl_costs_create(pl_sched_stages(s), p, &c);
  pl_costs_uniform(c, pl_sched_chunks(s), 1, 1, 1, 0.1, 0.5);
  char label[32];
  snprintf(label, sizeof label, "%s", name);
  if (p2p_mode >= 0) {
    /* Half of the P2P time on the link: async queues on it. */
    c->p2p_mode = p2p_mode;
    c->comm_latency = 0.05;
    c->comm_bandwidth = 1;
    for (int g = 0; g < c->n_stages; g++)
      c->stage[g].msg_bytes = 0.05;
    snprintf(label, sizeof label, "%s/%s", name, pl_p2p_mode_name(p2p_mode));
  }
  pl_result r = PL_RESULT_INIT;
  size_t ops = pl_sched_total_ops(s);
  /* Warm-up run also sizes the reusable engine tables. */
  pl_sim_run2(sim, s, c, 0, &r, &eb);
  size_t bytes = peak - base;
  double t0 = pl_now_us();
  for (int i = 0; i < reps; i++)
    if (pl_sim_run2(sim, s, c, 0, &r, &eb)) {
      printf("error: %s\n", eb.msg);
      exit(1);
    }
  double engine_us = pl_now_us() - t0;
  /* End to end: generate, simulate, free (what a sweep does per case). */
  t0 = pl_now_us();
  for (int i = 0; i < reps; i++) {
    pl_sched *s2;
    pl_sched_gen(name, &gp, &s2, &eb);
    pl_sim_run2(sim, s2, c, 0, &r, &eb);
    pl_sched_destroy(s2);
  }
  double e2e_us = pl_now_us() - t0;
  double n = (double)ops * reps;
  printf("%-20s p=%-3d m=%-5d v=%d %s ops/run=%-8zu engine %7.1f Mops/s  "
         "end-to-end %7.1f Mops/s  %6.1f us/run  heap %5.1f B/op\n",
         label, p, m, v, small ? "(loop)" : "      ", ops,
         n / engine_us, n / e2e_us, e2e_us / reps, (double)bytes / (double)ops);
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  pl_sim_destroy(sim);
}

int main(int argc, char **argv)
{
  int scale = argc > 1 ? atoi(argv[1]) : 1;
  if (scale < 1)
    scale = 1;
  pl_set_allocator(cm, cr, cc, cf);
  printf("pipelab %s simulator benchmark (one core, trace off; heap = peak "
         "bytes of schedule + engine tables per op)\n", pl_version());
  one("1f1b", 64, 1024, 1, 10 * scale, 0);
  one("interleaved", 64, 1024, 2, 5 * scale, 0);
  one("gpipe", 64, 1024, 1, 10 * scale, 0);
  one("1f1b", 8, 32, 1, 20000 * scale, 1);
  one("interleaved", 8, 32, 2, 10000 * scale, 1);
  const pl_gen_info *g;
  for (g = pl_gen_list(); g->name; g++)
    if (strcmp(g->name, "1f1b") && strcmp(g->name, "interleaved") &&
        strcmp(g->name, "gpipe"))
      one(g->name, 64, 1024, g->default_chunks, 2 * scale, 0);
  /* Transfers with a transmission time (docs/transfers.md): async with
   * link queues, and the rendezvous modes. */
  for (p2p_mode = PL_P2P_ASYNC; p2p_mode < PL_P2P_NMODES; p2p_mode++) {
    one("1f1b", 64, 1024, 1, 10 * scale, 0);
    one("interleaved", 64, 1024, 2, 5 * scale, 0);
  }
  return 0;
}
