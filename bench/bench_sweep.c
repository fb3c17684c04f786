/* bench_sweep.c: sweep throughput: configurations per second and
 * per minute for a sweep of small cases (p <= 16, m <= 64, every built-in
 * schedule) on 1 and 2 worker threads, constant costs. Prints figures only
 * (docs/performance.md); target 100,000 configurations per minute on 2
 * cores. */
#include <stdio.h>
#include <stdlib.h>

#include "pipelab/pipelab.h"

int main(int argc, char **argv)
{
  static const int stages[] = {1, 2, 4, 8, 16};
  static const int mbs[] = {1, 2, 4};
  static const int chunks[] = {2, 4};
  int reps = argc > 1 ? atoi(argv[1]) : 3;
  if (reps < 1)
    reps = 1;
  printf("pipelab %s sweep benchmark: 16 GPUs, p in {1,2,4,8,16}, m 4..64, "
         "mb in {1,2,4}, v in {2,4}, all schedules\n", pl_version());
  for (int jobs = 1; jobs <= 2; jobs++) {
    pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
    sp.gpus = 16;
    sp.stages = stages;
    sp.n_stages = 5;
    sp.m_lo = 4;
    sp.m_hi = 64;
    sp.m_step = 1;
    sp.mb_sizes = mbs;
    sp.n_mb = 3;
    sp.chunks = chunks;
    sp.n_chunks = 2;
    sp.tf = 16;
    sp.tb = 16;
    sp.tw = 12;
    sp.comm = 0.1;
    sp.jobs = jobs;
    double best = 0;
    size_t n = 0, ok = 0;
    for (int r = 0; r < reps; r++) {
      pl_sweep_point *pts;
      pl_sweep_eval *evs;
      struct pl_errbuf eb = PL_ERRBUF_INIT;
      if (pl_sweep_enumerate(&sp, &pts, &evs, &n, &eb)) {
        printf("error: %s\n", eb.msg);
        return 1;
      }
      double t0 = pl_now_us();
      if (pl_sweep_run(&sp, NULL, pts, evs, n, NULL, NULL, NULL, &eb)) {
        printf("error: %s\n", eb.msg);
        return 1;
      }
      double rate = (double)n / ((pl_now_us() - t0) / 1e6);
      if (rate > best)
        best = rate;
      ok = 0;
      for (size_t i = 0; i < n; i++)
        ok += evs[i].status == PL_SWEEP_OK;
      pl_free(pts);
      pl_free(evs);
    }
    printf("jobs=%d  %zu configurations (%zu simulated ok)  %.0f configs/s  "
           "%.0f configs/min (best of %d)\n",
           jobs, n, ok, best, best * 60, reps);
  }
  return 0;
}
