/* bench_sweep.c: sweep throughput, configurations per second and per
 * minute on 1 and 2 worker threads, for
 *  1. constant costs: small cases (p <= 16, m <= 64, every built-in
 *     schedule); target 100,000 configurations per minute on 2 cores;
 *  2. model-priced: the default space of `pipelab sweep --model llama3-70b
 *     --gpu h100 --gpus 1024` (tp 1..8, p every divisor of 1024 up to the 80
 *     layers, mb 1,2,4, v 2,4, recompute none/full with flash attention,
 *     distributed optimizer off/on, global batch 4096, top 10 with pruning,
 *     every schedule); target 1,000,000 configurations per minute on 2
 *     cores. Also prints the rate per CPU-second (the wall rate is only
 *     meaningful on an otherwise idle machine).
 * Prints figures only (docs/performance.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pipelab/pipelab.h"
#include "pipelab/models.h"

static double cpu_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_model(int reps)
{
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_model_spec m;
  pl_gpu_spec g;
  if (pl_db_open(":memory:", 0, 0, &db, &eb) ||
      pl_db_get_model(db, "llama3-70b", &m, &eb) ||
      pl_db_get_gpu(db, "h100", &g, &eb)) {
    printf("error: %s\n", eb.msg);
    pl_db_close(db);
    return 1;
  }
  static const int tps[] = {1, 2, 4, 8}, cps[] = {1};
  static const int stages[] = {1, 2, 4, 8, 16, 32, 64};
  static const int mbs[] = {1, 2, 4}, chunks[] = {2, 4};
  static const int rcs[] = {PL_RECOMPUTE_NONE, PL_RECOMPUTE_FULL};
  static const int dos[] = {0, 1};
  pl_train_cfg base = PL_TRAIN_CFG_INIT;
  base.flash_attn = 1;
  printf("model-priced: llama3-70b on 1024 x h100, global batch 4096, "
         "default space, top 10 with pruning\n");
  for (int jobs = 1; jobs <= 2; jobs++) {
    double best = 0, best_cpu = 0;
    size_t n = 0, ok = 0, pruned = 0;
    for (int r = 0; r < reps; r++) {
      pl_sweep_pricer *pr = NULL;
      if (pl_sweep_pricer_open(&m, &g, &base, db, 0, &pr, &eb)) {
        printf("error: %s\n", eb.msg);
        pl_db_close(db);
        return 1;
      }
      pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
      sp.gpus = 1024;
      sp.stages = stages;
      sp.n_stages = 7;
      sp.mb_sizes = mbs;
      sp.n_mb = 3;
      sp.chunks = chunks;
      sp.n_chunks = 2;
      sp.tps = tps;
      sp.n_tps = 4;
      sp.cps = cps;
      sp.n_cps = 1;
      sp.recomputes = rcs;
      sp.n_recomputes = 2;
      sp.dist_opts = dos;
      sp.n_dist_opts = 2;
      sp.global_batch = 4096;
      sp.mem_limit = pl_sweep_pricer_limit(pr);
      sp.top_n = 10;
      sp.jobs = jobs;
      pl_sweep_point *pts;
      pl_sweep_eval *evs;
      if (pl_sweep_enumerate(&sp, &pts, &evs, &n, &eb)) {
        printf("error: %s\n", eb.msg);
        return 1;
      }
      double t0 = pl_now_us(), c0 = cpu_s();
      if (pl_sweep_run(&sp, pl_sweep_pricer_model(pr), pts, evs, n, NULL,
                       NULL, NULL, &eb)) {
        printf("error: %s\n", eb.msg);
        return 1;
      }
      double wall = (pl_now_us() - t0) / 1e6, cpu = cpu_s() - c0;
      if (n / wall > best)
        best = n / wall;
      if (cpu > 0 && n / cpu > best_cpu)
        best_cpu = n / cpu;
      ok = pruned = 0;
      for (size_t i = 0; i < n; i++) {
        ok += evs[i].status == PL_SWEEP_OK;
        pruned += evs[i].status == PL_SWEEP_PRUNED;
      }
      pl_free(pts);
      pl_free(evs);
      pl_sweep_pricer_close(pr);
    }
    printf("jobs=%d  %zu configurations (%zu ok, %zu pruned)  %.0f configs/s"
           "  %.0f configs/min  (%.0f per CPU-second; best of %d)\n",
           jobs, n, ok, pruned, best, best * 60, best_cpu, reps);
  }
  pl_db_close(db);
  return 0;
}

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
  return bench_model(reps);
}
