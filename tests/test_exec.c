/* test_exec.c: the executor on the CPU backend. For every schedule of the
 * generator table at p = 2 and p = 4 (default v, and v = 4 where the
 * schedule takes chunks): loss and every weight gradient equal the plain
 * sequential run within 1e-9 (normwise relative, double precision: only the
 * summation order of the microbatch accumulation differs), the measured
 * per-rank peak activation bytes equal the simulator's prediction for the
 * same workload exactly, every rank ends at 0 bytes, and the executed op
 * order per rank equals the schedule's. The same for 1f1b, zb-h1,
 * interleaved (v = 2) and zb-v at p = 2 and 4 with the causal attention
 * sub-block in every layer. Plus the watchdog on a deadlocking hand-built
 * schedule (and not on a rank waiting for a slow producer), the stop flag
 * of the run, the reference and the calibration, untrusted measurements
 * (oversubscription, calibration spread), and error paths. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipelab/exec.h"
#include "pl_test.h"
#include "../exec/transport.h"

static pl_workload small_workload(int layers, int m)
{
  pl_workload w = PL_WORKLOAD_INIT;
  w.layers = layers;
  w.hidden = 8;
  w.seq = 3;
  w.mb_size = 2;
  w.microbatches = m;
  w.seed = 7;
  return w;
}

/* Runs one generated schedule and checks gradients, memory and order.
 * Returns 1 if the schedule was generated and checked, 0 if the generator
 * refused the shape. */
static int check_schedule_wl(const pl_gen_info *gi, int p, int m, int v,
                             int attention)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = m;
  gp.v = v;
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_sched_gen(gi->name, &gp, &s, &eb) != 0)
    return 0;
  if (pl_sched_validate(s, &eb) != 0) {
    fprintf(stderr, "%s p=%d m=%d v=%d does not validate: %s\n", gi->name, p,
            m, v, eb.msg);
    pl_sched_destroy(s);
    fail();
  }
  int S = pl_sched_stages(s);
  pl_workload w = small_workload(S * (S <= 4 ? 2 : 1), m);
  w.attention = attention;

  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.flags = PL_EXEC_RECORD_OPS | PL_EXEC_RECORD_MEM;
  o.timeout_s = 30;
  /* Every other case runs a warm-up iteration first: the gradients, loss,
   * op records and peaks below must still be those of one iteration. */
  static int calls;
  o.warmup = calls++ % 2;
  pl_result res = PL_RESULT_INIT;
  pl_exec_grads g = PL_EXEC_GRADS_INIT, ref = PL_EXEC_GRADS_INIT;
  int rc = pl_exec_run(s, &w, &o, &res, &g, &eb);
  if (pl_sched_replicated(s)) {
    /* Stage copies (chimera, dualpipe): the executor refuses, one line. */
    assert_int_equal(rc, PL_ENOTSUP);
    assert_non_null(strstr(eb.msg, "copies of its stages"));
    pl_sched_destroy(s);
    return 1;
  }
  if (rc)
    fprintf(stderr, "%s p=%d m=%d v=%d: %s\n", gi->name, p, m, v, eb.msg);
  assert_int_equal(rc, 0);
  assert_string_equal(res.source, "cpu");
  assert_string_equal(res.mem_unit, "bytes");
  assert_int_equal(pl_exec_reference(&w, &ref, NULL, &eb), 0);
  pl_grad_check gc;
  assert_int_equal(pl_exec_grads_compare(&g, &ref, PL_GRAD_TOL, &gc, &eb), 0);
  if (!gc.passed)
    fprintf(stderr, "%s p=%d m=%d v=%d: max_abs %g max_rel %g\n", gi->name, p,
            m, v, gc.max_abs_error, gc.max_rel_error);
  assert_true(gc.passed);
  assert_true(ref.loss > 0);

  /* Predicted memory: the engine on the workload's cost table. */
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(S, p, &c), 0);
  pl_costs_uniform(c, pl_sched_chunks(s), 1, 1, 1, 0, 0.5);
  assert_int_equal(pl_wl_apply_mem_costs(&w, c, &eb), 0);
  pl_result sim = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &sim, &eb), 0);
  for (int r = 0; r < p; r++) {
    if (res.ranks[r].peak_activation_bytes != sim.ranks[r].peak_mem)
      fprintf(stderr, "%s p=%d v=%d rank %d: measured %.0f predicted %.0f\n",
              gi->name, p, v, r, res.ranks[r].peak_activation_bytes,
              sim.ranks[r].peak_mem);
    assert_true(res.ranks[r].peak_activation_bytes == sim.ranks[r].peak_mem);
    assert_true(res.ranks[r].peak_mem == sim.ranks[r].peak_mem);
    assert_true(res.ranks[r].end_mem == 0);
    assert_true(res.ranks[r].peak_mem > 0);
  }
  /* Executed order per rank equals the schedule's. */
  size_t k = 0;
  assert_int_equal(res.n_ops, pl_sched_total_ops(s));
  for (int r = 0; r < p; r++) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++, k++) {
      assert_int_equal(res.ops[k].rank, r);
      assert_int_equal(res.ops[k].index, (int)i);
      assert_memory_equal(&res.ops[k].op, &ops[i], sizeof ops[i]);
      assert_true(res.ops[k].end >= res.ops[k].start);
      if (i > 0)
        assert_true(res.ops[k].start >= res.ops[k - 1].end);
    }
  }
  pl_costs_destroy(c);
  pl_result_free(&res);
  pl_exec_grads_free(&g);
  pl_exec_grads_free(&ref);
  fprintf(stderr, "checked %s p=%d m=%d v=%d (%d layers%s): rel err %.2g, "
          "peak bytes rank 0 %.0f\n", gi->name, p, m, pl_sched_chunks(s),
          w.layers, attention ? ", attention" : "", gc.max_rel_error,
          sim.ranks[0].peak_mem);
  pl_result_free(&sim);
  pl_sched_destroy(s);
  return 1;
}

static int check_schedule(const pl_gen_info *gi, int p, int m, int v)
{
  return check_schedule_wl(gi, p, m, v, 0);
}

/* With attention: the zero-bubble split (B leaves dqkv and dx1 for W) and
 * the larger stash are exercised by schedules that defer W (zb-h1, zb-v)
 * and by chunked placements (interleaved, zb-v). */
static void test_attention_schedules(void **state)
{
  (void)state;
  static const char *const names[] = {"1f1b", "zb-h1", "interleaved", "zb-v"};
  int checked = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const pl_gen_info *gi = pl_gen_list();
    while (gi->name && strcmp(gi->name, names[i]))
      gi++;
    assert_non_null(gi->name);
    for (int p = 2; p <= 4; p += 2) {
      int v = gi->default_chunks > 1 ? 2 : 0;
      int ok = check_schedule_wl(gi, p, 2 * p, v, 1);
      assert_true(ok);
      checked += ok;
    }
  }
  assert_int_equal(checked, 8);
}

static void test_every_schedule(void **state)
{
  (void)state;
  int checked = 0;
  for (const pl_gen_info *gi = pl_gen_list(); gi->name; gi++) {
    for (int p = 2; p <= 4; p += 2) {
      int m = 2 * p;
      int ok = check_schedule(gi, p, m, 0);
      if (!ok)
        ok = check_schedule(gi, p, 3 * p, 0);
      if (!ok)
        fprintf(stderr, "note: %s does not generate at p=%d\n", gi->name, p);
      checked += ok;
      if (gi->default_chunks > 1 && gi->placement == PL_PLACE_LOOP)
        checked += check_schedule(gi, p, m, 4);
    }
  }
  /* gpipe, 1f1b, interleaved at least, at both p. */
  assert_true(checked >= 6);
}

/* The memory prediction formula, by hand: hidden 8, T = 6, F = 32, one
 * layer per stage: W-part 6*(16+64) = 480 doubles, B-part 6; the last stage
 * adds the loss gradient 6*8 = 48 doubles. */
static void test_stage_mem_formula(void **state)
{
  (void)state;
  pl_workload w = small_workload(4, 1);
  double mb, mw;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_wl_stage_mem(&w, 4, 0, &mb, &mw, &eb), 0);
  assert_true(mw == 8.0 * 480);
  assert_true(mb == 8.0 * 486);
  assert_int_equal(pl_wl_stage_mem(&w, 4, 3, &mb, &mw, &eb), 0);
  assert_true(mw == 8.0 * 480);
  assert_true(mb == 8.0 * (486 + 48));
  assert_int_equal(pl_wl_stage_mem(&w, 2, 1, &mb, &mw, &eb), 0);
  assert_true(mb == 8.0 * (2 * 486 + 48));
  assert_int_equal(pl_wl_stage_mem(&w, 3, 0, &mb, &mw, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "not divisible"));
}

/* Runs 1F1B at p = 2, m = 4 on the small workload and checks the measured
 * per-rank peaks against hand-computed byte counts. */
static void check_1f1b_peaks(int attention, double rank0, double rank1)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 2;
  gp.m = 4;
  pl_sched *s;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, &eb), 0);
  pl_workload w = small_workload(2, 4);
  w.attention = attention;
  pl_result res = PL_RESULT_INIT;
  assert_int_equal(pl_exec_run(s, &w, NULL, &res, NULL, &eb), 0);
  assert_true(res.ranks[0].peak_activation_bytes == rank0);
  assert_true(res.ranks[1].peak_activation_bytes == rank1);
  assert_true(res.peak_mem == rank0);
  assert_true(res.makespan > 0);
  assert_true(res.bubble_ratio >= 0 && res.bubble_ratio < 1);
  pl_result_free(&res);
  pl_sched_destroy(s);
}

/* 1F1B at p = 2, m = 4 by hand: rank 0 holds at most p = 2 microbatches of
 * stage 0 (M_B0 = 8*486 = 3888 bytes each), rank 1 one microbatch of the
 * last stage (8*534 = 4272 bytes). */
static void test_1f1b_bytes(void **state)
{
  (void)state;
  check_1f1b_peaks(0, 2 * 3888.0, 4272.0);
}

/* The same with attention, by hand (hidden 8, seq 3, mb-size 2: T = 6,
 * F = 32): W-part 6*(8*8 + 2*32) = 768 doubles, B-part 6*(3+2) = 30, so
 * M_B0 = 8*798 = 6384 bytes; the last stage adds the loss gradient 48
 * doubles: 8*846 = 6768. Rank 0 holds 2 microbatches, rank 1 one. */
static void test_1f1b_bytes_attention(void **state)
{
  (void)state;
  check_1f1b_peaks(1, 2 * 6384.0, 6768.0);
  /* Attention changes the loss (the option is not ignored). */
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_workload w = small_workload(2, 4);
  w.attention = 1;
  pl_exec_grads a = PL_EXEC_GRADS_INIT, b = PL_EXEC_GRADS_INIT;
  assert_int_equal(pl_exec_reference(&w, &a, NULL, &eb), 0);
  w.attention = 0;
  assert_int_equal(pl_exec_reference(&w, &b, NULL, &eb), 0);
  assert_true(a.n > b.n);
  assert_true(a.loss != b.loss);
  pl_exec_grads_free(&a);
  pl_exec_grads_free(&b);
}

/* A hand-built deadlock, passed without validation: each rank's first op
 * waits for a message the other rank would only send later. The watchdog
 * must stop it and name both blocked ops. */
static void test_watchdog(void **state)
{
  (void)state;
  pl_sched *s;
  assert_int_equal(pl_sched_create(2, 2, 1, PL_PLACE_SINGLE, &s, NULL), 0);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 0);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  pl_sched_push3(s, 1, PL_OP_F, 1, 0);
  pl_sched_push3(s, 1, PL_OP_BW, 1, 0);
  pl_workload w = small_workload(2, 1);
  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.timeout_s = 0.2;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result res = PL_RESULT_INIT;
  /* Rank 0's BW before its F is an order error caught before any wait. */
  int rc = pl_exec_run(s, &w, &o, &res, NULL, &eb);
  assert_int_equal(rc, PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "rank 0"));
  pl_sched_destroy(s);

  /* A genuine cyclic wait: p = 2, two microbatches; rank 1 runs
   * F1s1 first (needs F1s0, which rank 0 runs only after B0s0, which needs
   * B0s1 from rank 1). */
  assert_int_equal(pl_sched_create(2, 2, 2, PL_PLACE_SINGLE, &s, NULL), 0);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 0);
  pl_sched_push3(s, 0, PL_OP_F, 0, 1);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 1);
  pl_sched_push3(s, 1, PL_OP_F, 1, 1);
  pl_sched_push3(s, 1, PL_OP_F, 1, 0);
  pl_sched_push3(s, 1, PL_OP_BW, 1, 0);
  pl_sched_push3(s, 1, PL_OP_BW, 1, 1);
  double t0 = pl_now_us();
  rc = pl_exec_run(s, &w, &o, &res, NULL, &eb);
  double dt = pl_now_us() - t0;
  assert_int_equal(rc, PL_ETIMEDOUT);
  assert_non_null(strstr(eb.msg, "watchdog"));
  assert_non_null(strstr(eb.msg, "rank 0 blocked at BW0s0"));
  assert_non_null(strstr(eb.msg, "rank 1 blocked at F1s1"));
  assert_non_null(strstr(eb.msg, "from stage 1 on rank 1"));
  assert_true(dt < 30e6); /* bounded: never hangs (not a timing assertion) */
  pl_result_free(&res);
  pl_sched_destroy(s);
}

/* Ops of milliseconds: hidden 128, seq 256, one sequence per microbatch. */
static pl_workload ms_workload(int layers, int m)
{
  pl_workload w = small_workload(layers, m);
  w.hidden = 128;
  w.seq = 256;
  w.mb_size = 1;
  return w;
}

/* The watchdog judges progress anywhere, not one rank's wait: with GPipe
 * rank 1 waits for rank 0's first forward (two layers of hidden 128, seq
 * 256: milliseconds) far longer than a 0.1 ms timeout, yet the run ends. */
static void test_watchdog_slow_producer(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("gpipe", 2, 2, 0);
  pl_workload w = ms_workload(4, 2);
  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.timeout_s = 1e-4;
  pl_result res = PL_RESULT_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_exec_run(s, &w, &o, &res, NULL, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, 0);
  assert_true(res.ranks[1].first_start > 100); /* it did wait > timeout */
  pl_result_free(&res);
  pl_sched_destroy(s);
}

struct raiser {
  volatile int *flag;
  long delay_ns;
};

static void *raise_later(void *arg)
{
  struct raiser *a = arg;
  struct timespec ts = {a->delay_ns / 1000000000L, a->delay_ns % 1000000000L};
  nanosleep(&ts, NULL);
  *a->flag = 1;
  return NULL;
}

/* The stop flag: raised before, the run does not start; raised 0.2 s into
 * a run of many seconds, every rank unwinds (ASan: nothing leaks) and the
 * run returns PL_EINTR with no result; the sequential reference and the
 * calibration stop the same way. */
static void test_stop(void **state)
{
  (void)state;
  volatile int stop = 1;
  pl_sched *s = pl_test_gen("1f1b", 2, 64, 0);
  pl_workload w = ms_workload(8, 64);
  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.stop = &stop;
  o.warmup = 50;
  o.flags = PL_EXEC_RECORD_OPS | PL_EXEC_RECORD_MEM;
  pl_result res = PL_RESULT_INIT;
  pl_exec_grads g = PL_EXEC_GRADS_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_exec_run(s, &w, &o, &res, &g, &eb), PL_EINTR);
  assert_non_null(strstr(eb.msg, "interrupted"));

  stop = 0;
  struct raiser ra = {(volatile int *)&stop, 200000000L};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, raise_later, &ra), 0);
  int rc = pl_exec_run(s, &w, &o, &res, &g, &eb);
  pthread_join(th, NULL);
  assert_int_equal(rc, PL_EINTR);
  assert_non_null(strstr(eb.msg, "run interrupted"));
  assert_null(res.ranks);
  assert_null(res.ops);
  assert_null(g.g);

  stop = 1;
  assert_int_equal(pl_exec_reference(&w, &g, &stop, &eb), PL_EINTR);
  assert_null(g.g);
  pl_calib cal;
  assert_int_equal(pl_exec_calibrate(&w, PL_BACKEND_CPU, 0, 1000, &cal, &stop,
                                     &eb), PL_EINTR);
  assert_non_null(strstr(eb.msg, "calibration interrupted"));
  /* Raised during the measurement (thousands of repetitions). */
  stop = 0;
  assert_int_equal(pthread_create(&th, NULL, raise_later, &ra), 0);
  rc = pl_exec_calibrate(&w, PL_BACKEND_CPU, 0, 1000000, &cal, &stop, &eb);
  pthread_join(th, NULL);
  assert_int_equal(rc, PL_EINTR);
  pl_sched_destroy(s);
}

/* More ranks than online cores: the result says its timings include
 * waiting for a core. */
static void test_untrusted_oversubscribed(void **state)
{
  (void)state;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1 || cores > 63) {
    fprintf(stderr, "skipped: %ld cores\n", cores);
    return;
  }
  int p = (int)cores + 1;
  pl_sched *s = pl_test_gen("1f1b", p, p, 0);
  pl_workload w = small_workload(p, p);
  pl_result res = PL_RESULT_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_exec_run(s, &w, NULL, &res, NULL, &eb), 0);
  char want[96];
  snprintf(want, sizeof want, "oversubscribed: %d ranks on %ld core%s", p,
           cores, cores == 1 ? "" : "s");
  assert_int_equal(res.n_untrusted, 1);
  assert_string_equal(res.untrusted[0], want);
  pl_result_free(&res);
  pl_sched_destroy(s);
  /* As many ranks as cores: trusted. */
  s = pl_test_gen("1f1b", (int)cores, 2, 0);
  w = small_workload((int)cores, 2);
  assert_int_equal(pl_exec_run(s, &w, NULL, &res, NULL, &eb), 0);
  assert_int_equal(res.n_untrusted, 0);
  pl_result_free(&res);
  pl_sched_destroy(s);
}

/* pl_calib_trust on hand-made figures: F, B, W, BW judged by stddev/mean
 * against the threshold, the P2P pair by threads against cores; the
 * verdict is recomputed, not accumulated. */
static void test_calib_trust(void **state)
{
  (void)state;
  pl_calib cal;
  memset(&cal, 0, sizeof cal);
  for (int k = PL_OP_F; k <= PL_OP_BW; k++)
    cal.t[k] = (pl_calib_stat){100, 5, 90, 20};
  cal.loss = (pl_calib_stat){10, 9, 1, 20};     /* noisy but not judged */
  cal.p2p_small = (pl_calib_stat){5, 50, 1, 20}; /* likewise */
  cal.threads = 2;
  cal.cores = 2;
  assert_int_equal(pl_calib_trust(&cal, 0.10), 0);
  cal.t[PL_OP_B].stddev = 12.5;
  cal.t[PL_OP_BW].stddev = 30;
  assert_int_equal(pl_calib_trust(&cal, 0.10), 2);
  assert_string_equal(cal.untrusted[0], "B relative spread 12.5 % > 10 %");
  assert_string_equal(cal.untrusted[1], "BW relative spread 30.0 % > 10 %");
  assert_int_equal(pl_calib_trust(&cal, 0.20), 1);
  assert_string_equal(cal.untrusted[0], "BW relative spread 30.0 % > 20 %");
  cal.cores = 1;
  assert_int_equal(pl_calib_trust(&cal, 0.50), 1);
  assert_string_equal(cal.untrusted[0], "oversubscribed: 2 ranks on 1 core");
  cal.cores = 0; /* unknown (GPU backend): not judged */
  assert_int_equal(pl_calib_trust(&cal, 0.50), 0);
  assert_int_equal(pl_calib_trust(&cal, 0), 4); /* every nonzero spread */
}

static void test_errors(void **state)
{
  (void)state;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 2;
  gp.m = 2;
  pl_sched *s;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, &eb), 0);
  pl_workload w = small_workload(3, 2);
  pl_result res = PL_RESULT_INIT;
  assert_int_equal(pl_exec_run(s, &w, NULL, &res, NULL, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "not divisible"));
  w.layers = 2;
  w.hidden = 0;
  assert_int_equal(pl_exec_run(s, &w, NULL, &res, NULL, &eb), PL_EINVAL);
  w.hidden = 8;
  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.backend = PL_BACKEND_CUDA;
  if (pl_cuda_devices(NULL) == 0) {
    assert_int_equal(pl_exec_run(s, &w, &o, &res, NULL, &eb), PL_ENODEV);
    /* No GPU, or no plugin: the loader's line. */
    assert_non_null(strstr(eb.msg, pl_backend_cuda_vt() ? "no GPU"
                                                        : "cuda plugin"));
  }
  /* Attention on CUDA is refused, GPU or not, rather than run as MLP. */
  w.attention = 1;
  assert_int_equal(pl_exec_run(s, &w, &o, &res, NULL, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "attention is not implemented on the CUDA"));
  w.attention = 0;
  assert_int_equal(pl_backend_parse("cpu"), PL_BACKEND_CPU);
  assert_int_equal(pl_backend_parse("CUDA"), PL_BACKEND_CUDA);
  assert_int_equal(pl_backend_parse("tpu"), -1);
  pl_sched_destroy(s);
}

/* The gradient check itself can fail: a perturbed gradient is caught. */
static void test_grad_compare(void **state)
{
  (void)state;
  pl_workload w = small_workload(2, 2);
  pl_exec_grads a = PL_EXEC_GRADS_INIT, b = PL_EXEC_GRADS_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_exec_reference(&w, &a, NULL, &eb), 0);
  assert_int_equal(pl_exec_reference(&w, &b, NULL, &eb), 0);
  pl_grad_check gc;
  assert_int_equal(pl_exec_grads_compare(&a, &b, PL_GRAD_TOL, &gc, &eb), 0);
  assert_true(gc.passed);
  assert_true(gc.max_abs_error == 0);
  a.g[a.n / 2] += 1e-3;
  assert_int_equal(pl_exec_grads_compare(&a, &b, PL_GRAD_TOL, &gc, &eb), 0);
  assert_false(gc.passed);
  assert_true(fabs(gc.max_abs_error - 1e-3) < 1e-12);
  pl_exec_grads_free(&a);
  pl_exec_grads_free(&b);
}

/* Rank discovery from the launcher's environment: the first complete
 * source wins, malformed or out-of-range values count as absent; the
 * block split of ranks over processes and its inverse; the transport
 * choice. */
static void test_launch_and_transport(void **state)
{
  (void)state;
  static const char *const vars[] = {
    "PL_WORLD_SIZE", "PL_RANK", "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_RANK", "PMI_SIZE", "PMI_RANK", "SLURM_STEP_NUM_TASKS",
    "SLURM_NTASKS", "SLURM_PROCID", "LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);
  pl_launch l;
  pl_launch_detect(&l);
  assert_int_equal(l.size, 1);
  assert_int_equal(l.rank, 0);
  assert_string_equal(l.from, "none");
  assert_int_equal(pl_transport_resolve(PL_TRANSPORT_AUTO, &l),
                   PL_TRANSPORT_THREADS);
  setenv("SLURM_NTASKS", "8", 1); /* a batch script: no SLURM_PROCID */
  pl_launch_detect(&l);
  assert_int_equal(l.size, 1);
  setenv("SLURM_PROCID", "5", 1);
  setenv("SLURM_LOCALID", "1", 1);
  pl_launch_detect(&l);
  assert_int_equal(l.size, 8);
  assert_int_equal(l.rank, 5);
  assert_int_equal(l.local_rank, 1);
  assert_string_equal(l.from, "SLURM");
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  setenv("OMPI_COMM_WORLD_RANK", "4", 1); /* out of range: ignored */
  pl_launch_detect(&l);
  assert_string_equal(l.from, "SLURM");
  setenv("OMPI_COMM_WORLD_RANK", "3", 1);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "2x", 1); /* malformed */
  pl_launch_detect(&l);
  assert_int_equal(l.size, 4);
  assert_int_equal(l.rank, 3);
  assert_int_equal(l.local_rank, 1); /* SLURM_LOCALID, the next found */
  assert_string_equal(l.from, "OMPI_COMM_WORLD");
  assert_int_equal(pl_transport_resolve(PL_TRANSPORT_AUTO, &l),
                   pl__mpi_built() ? PL_TRANSPORT_MPI : PL_TRANSPORT_THREADS);
  assert_int_equal(pl_transport_resolve(PL_TRANSPORT_THREADS, &l),
                   PL_TRANSPORT_THREADS);
  setenv("PL_WORLD_SIZE", "2", 1);
  setenv("PL_RANK", "1", 1);
  pl_launch_detect(&l);
  assert_int_equal(l.size, 2);
  assert_int_equal(l.rank, 1);
  assert_string_equal(l.from, "PL_RANK");
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);

  /* 6 ranks on 4 processes: [0,1) [1,3) [3,4) [4,6). */
  static const int lo_want[] = {0, 1, 3, 4}, hi_want[] = {1, 3, 4, 6};
  for (int k = 0; k < 4; k++) {
    int lo, hi;
    pl__proc_ranks(6, 4, k, &lo, &hi);
    assert_int_equal(lo, lo_want[k]);
    assert_int_equal(hi, hi_want[k]);
    for (int r = lo; r < hi; r++)
      assert_int_equal(pl__rank_proc(6, 4, r), k);
  }
  assert_int_equal(pl_transport_parse("MPI"), PL_TRANSPORT_MPI);
  assert_int_equal(pl_transport_parse("threads"), PL_TRANSPORT_THREADS);
  assert_int_equal(pl_transport_parse("nccl"), -1);
  const char *why = NULL;
  assert_int_equal(pl_transport_built(PL_TRANSPORT_MPI, &why),
                   pl__mpi_built());
  if (!pl__mpi_built())
    assert_non_null(strstr(why, "mpi plugin (libpipelab-mpi.so)"));
  assert_int_equal(pl_transport_built(PL_TRANSPORT_THREADS, NULL), 1);
}

/* The plugins of the build tree: found next to the test's directory
 * (build/plugins from build/tests), loaded through their table. */
static void test_plugins(void **state)
{
  (void)state;
  char dirs[4096];
  int nd = pl_plugin_dirs(dirs, sizeof dirs);
  char mpi[1024];
  snprintf(mpi, sizeof mpi, "%s/plugins/libpipelab-mpi.so", PL_BUILD_DIR);
  int have_mpi = access(mpi, F_OK) == 0;
  if (have_mpi) {
    assert_true(nd >= 1);
    assert_non_null(strstr(dirs, "/plugins"));
  }
  pl_plugin_info *pi = NULL;
  size_t n = 0;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_plugins_find(&pi, &n, &eb), PL_OK);
  int seen_mpi = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(pi[i].name, "mpi"))
      continue;
    seen_mpi = 1;
    assert_int_equal(pi[i].loaded, 1);
    assert_string_equal(pi[i].kind, "transport");
    assert_string_equal(pi[i].version, pl_version());
    assert_non_null(strstr(pi[i].detail, "MPI "));
    assert_non_null(strstr(pi[i].path, "/plugins/libpipelab-mpi.so"));
  }
  assert_int_equal(seen_mpi, have_mpi);
  assert_int_equal(pl__mpi_built(), have_mpi);
  pl_free(pi);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_stage_mem_formula),
    cmocka_unit_test(test_plugins),
    cmocka_unit_test(test_1f1b_bytes),
    cmocka_unit_test(test_every_schedule),
    cmocka_unit_test(test_1f1b_bytes_attention),
    cmocka_unit_test(test_attention_schedules),
    cmocka_unit_test(test_watchdog),
    cmocka_unit_test(test_launch_and_transport),
    cmocka_unit_test(test_watchdog_slow_producer),
    cmocka_unit_test(test_stop),
    cmocka_unit_test(test_untrusted_oversubscribed),
    cmocka_unit_test(test_calib_trust),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_grad_compare),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
