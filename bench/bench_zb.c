/* bench_zb.c: the zero-bubble and V generators at p=64, m=1024:
 * the engine's simulated ops per second on their orders (pl_sim_run2 with
 * a reused pl_sim, trace off; target >= 10 M ops/s) and, separately, the
 * generators' own time (zb-auto runs its heuristic 8 times, zb-v its
 * greedy 4 times plus refinements). Prints figures; asserts nothing.
 * Usage: bench_zb [p] [m] */
#include <stdio.h>
#include <stdlib.h>

#include "pipelab/pipelab.h"

static void one(const char *name, int p, int m, double lim)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = m;
  gp.tf = 1;
  gp.tb = 1;
  gp.tw = 0.5;
  gp.comm = 0.1;
  gp.mem_w_frac = 0.5;
  gp.mem_limit = lim;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  double t0 = pl_now_us();
  int rc = pl_sched_gen(name, &gp, &s, &eb);
  double gen_us = pl_now_us() - t0;
  if (rc) {
    printf("%-8s p=%d m=%d: %s\n", name, p, m, eb.msg);
    return;
  }
  pl_costs *c = NULL;
  pl_sim *sim = NULL;
  pl_result r = PL_RESULT_INIT;
  if (pl_costs_create(pl_sched_stages(s), p, &c) || pl_sim_create(&sim)) {
    printf("%-8s out of memory\n", name);
    goto out;
  }
  pl_costs_uniform(c, pl_sched_chunks(s), gp.tf, gp.tb, gp.tw, gp.comm,
                   gp.mem_w_frac);
  size_t ops = pl_sched_total_ops(s);
  if (pl_sim_run2(sim, s, c, 0, &r, &eb)) { /* warm-up, sizes the tables */
    printf("%-8s %s\n", name, eb.msg);
    goto out;
  }
  int reps = 0;
  double t1 = pl_now_us(), el;
  do {
    pl_sim_run2(sim, s, c, 0, &r, &eb);
    reps++;
    el = pl_now_us() - t1;
  } while (el < 300000 && reps < 200);
  printf("%-8s p=%d m=%d ops=%zu  generator %.1f ms  engine %.2f M ops/s "
         "(%d runs)  span-bubble %.4f  peak %.2f units\n",
         name, p, m, ops, gen_us / 1000.0, ops * reps / el, reps,
         r.bubble_ratio_span, r.peak_mem);
out:
  pl_result_free(&r);
  pl_sim_destroy(sim);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

int main(int argc, char **argv)
{
  int p = argc > 1 ? atoi(argv[1]) : 64;
  int m = argc > 2 ? atoi(argv[2]) : 1024;
  if (p < 1 || m < 1) {
    fprintf(stderr, "usage: bench_zb [p] [m]\n");
    return 2;
  }
  one("zb-h1", p, m, 0);
  one("zb-h2", p, m, 0);
  one("zb-auto", p, m, p);
  one("zb-auto", p, m, 2.0 * p);
  one("zb-v", p, m, 0);
  one("v-half", p, m, 0);
  one("v-min", p, m, 0);
  return 0;
}
