/*
 * bench_validate.c: does the simulator predict what the executor measures?
 * Calibrates the CPU backend (one layer: F, B, W, BW, input, loss, P2P),
 * builds the cost table from it, simulates every schedule of the generator
 * table at p = 2 and p = 4, runs each for real on the CPU backend (one
 * warm-up run, then the median of `runs` measured runs by makespan) and
 * prints the relative error of the iteration time (makespan) and the
 * absolute error of the bubble ratio. Also checks that the measured peak
 * activation bytes equal the prediction (they must, exactly).
 *
 * usage: bench_validate [hidden [seq [runs]]]   (defaults 128 128 3)
 * Not a test: timings depend on the machine and its load.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/exec.h"

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  int hidden = argc > 1 ? atoi(argv[1]) : 128;
  int seq = argc > 2 ? atoi(argv[2]) : 128;
  int runs = argc > 3 ? atoi(argv[3]) : 3;
  if (hidden < 1 || seq < 1 || runs < 1 || runs > 15) {
    fprintf(stderr, "usage: bench_validate [hidden [seq [runs 1..15]]]\n");
    return 2;
  }
  pl_workload w = PL_WORKLOAD_INIT;
  w.hidden = hidden;
  w.seq = seq;
  w.mb_size = 1;
  w.layers = 1;
  w.microbatches = 1;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_calib cal;
  if (pl_exec_calibrate(&w, PL_BACKEND_CPU, 5, 30, &cal, NULL, &eb)) {
    fprintf(stderr, "calibration failed: %s\n", eb.msg);
    return 1;
  }
  printf("calibration (cpu, hidden %d, seq %d, mb-size 1, fp64, per layer): "
         "F %.1f B %.1f W %.1f BW %.1f us; input %.1f loss %.1f us; "
         "p2p %.2f us + %.0f B at %.0f B/us\n",
         hidden, seq, cal.t[PL_OP_F].mean, cal.t[PL_OP_B].mean,
         cal.t[PL_OP_W].mean, cal.t[PL_OP_BW].mean, cal.input.mean,
         cal.loss.mean, cal.p2p_latency_us, cal.msg_bytes, cal.p2p_bandwidth);
  printf("%-12s %2s %3s %2s %6s | %11s %11s %7s | %7s %7s %7s | %s\n",
         "schedule", "p", "m", "v", "layers", "pred us", "meas us", "err %",
         "pred bub", "meas bub", "err pp", "mem");
  int bad_mem = 0;
  for (int p = 2; p <= 4; p += 2) {
    for (const pl_gen_info *gi = pl_gen_list(); gi->name; gi++) {
      pl_gen_params gp = PL_GEN_PARAMS_INIT;
      gp.p = p;
      gp.m = 2 * p;
      gp.tf = cal.t[PL_OP_F].mean;
      gp.tb = cal.t[PL_OP_B].mean;
      gp.tw = cal.t[PL_OP_W].mean;
      gp.comm = cal.p2p_msg.mean;
      pl_sched *s = NULL;
      if (pl_sched_gen(gi->name, &gp, &s, &eb) || pl_sched_validate(s, &eb)) {
        printf("%-12s %2d  -- not generated: %s\n", gi->name, p, eb.msg);
        pl_sched_destroy(s);
        continue;
      }
      int S = pl_sched_stages(s);
      pl_workload rw = w;
      rw.layers = S * (S <= 4 ? 2 : 1);
      rw.microbatches = pl_sched_microbatches(s);
      pl_costs *c = NULL;
      pl_result sim = PL_RESULT_INIT;
      if (pl_costs_create(S, p, &c) ||
          pl_calib_apply_costs(&cal, &rw, c, &eb) ||
          pl_sim_run(s, c, 0, &sim, &eb)) {
        printf("%-12s %2d  -- simulate failed: %s\n", gi->name, p, eb.msg);
        pl_costs_destroy(c);
        pl_sched_destroy(s);
        continue;
      }
      pl_exec_opts o = PL_EXEC_OPTS_INIT;
      o.warmup = 2; /* steady state: caches and the allocator warm */
      pl_result res[16];
      double ms[16];
      int ok = 1;
      for (int i = 0; i <= runs; i++) {
        pl_result tmp = PL_RESULT_INIT;
        res[i] = tmp;
        ms[i] = 0;
      }
      for (int i = 0; i <= runs && ok; i++) {
        if (pl_exec_run(s, &rw, &o, &res[i], NULL, &eb)) {
          printf("%-12s %2d  -- run failed: %s\n", gi->name, p, eb.msg);
          ok = 0;
        }
        ms[i] = res[i].makespan;
      }
      if (ok) {
        /* run 0 is the warm-up; pick the median of the others */
        double sorted[16];
        memcpy(sorted, ms + 1, (size_t)runs * sizeof *ms);
        qsort(sorted, (size_t)runs, sizeof *sorted, cmp_double);
        double med = sorted[runs / 2];
        int k = 1;
        for (int i = 1; i <= runs; i++)
          if (ms[i] == med)
            k = i;
        const pl_result *r = &res[k];
        int mem_ok = 1;
        for (int i = 0; i < p; i++)
          if (r->ranks[i].peak_activation_bytes != sim.ranks[i].peak_mem)
            mem_ok = 0;
        bad_mem += !mem_ok;
        printf("%-12s %2d %3d %2d %6d | %11.0f %11.0f %+7.1f | %7.3f %7.3f "
               "%+7.1f | %s\n",
               gi->name, p, pl_sched_microbatches(s), pl_sched_chunks(s),
               rw.layers, sim.makespan, r->makespan,
               100.0 * (r->makespan - sim.makespan) / sim.makespan,
               sim.bubble_ratio, r->bubble_ratio,
               100.0 * (r->bubble_ratio - sim.bubble_ratio),
               mem_ok ? "exact" : "DIFFERS");
      }
      for (int i = 0; i <= runs; i++)
        pl_result_free(&res[i]);
      pl_result_free(&sim);
      pl_costs_destroy(c);
      pl_sched_destroy(s);
    }
  }
  printf("err %% = (measured - predicted) / predicted iteration time (makespan);"
         " err pp = measured - predicted bubble ratio in percentage points\n");
  return bad_mem ? 1 : 0;
}
