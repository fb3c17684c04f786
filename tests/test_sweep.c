/* test_sweep.c: the sweep engine over constant costs: the best
 * point equals the best found by simulating every candidate on its own,
 * results do not depend on the thread count, and memory-limit rejections
 * are exact at the boundary. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pipelab/pipelab.h"

static const int stages[] = {1, 2, 4, 8};
static const int mbs[] = {1, 2};
static const int chunks[] = {2, 4};

static pl_sweep_spec small_spec(void)
{
  pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
  sp.gpus = 8;
  sp.stages = stages;
  sp.n_stages = 4;
  sp.m_lo = 4;
  sp.m_hi = 16;
  sp.m_step = 4;
  sp.mb_sizes = mbs;
  sp.n_mb = 2;
  sp.chunks = chunks;
  sp.n_chunks = 2;
  sp.tf = 1;
  sp.tb = 1;
  sp.tw = 0.5;
  sp.comm = 0.1;
  return sp;
}

static void run(const pl_sweep_spec *sp, pl_sweep_point **pts,
                pl_sweep_eval **evs, size_t *n)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sweep_enumerate(sp, pts, evs, n, &eb), 0);
  assert_int_equal(pl_sweep_run(sp, NULL, *pts, *evs, *n, NULL, NULL, NULL,
                                &eb), 0);
}

static void test_best_equals_brute_force(void **state)
{
  (void)state;
  pl_sweep_spec sp = small_spec();
  pl_sweep_point *pts;
  pl_sweep_eval *evs;
  size_t n, *order;
  run(&sp, &pts, &evs, &n);
  assert_int_equal(pl_sweep_rank(evs, n, &order), 0);
  /* Brute force: simulate every candidate on its own. */
  double best = -1;
  size_t best_i = 0, ok = 0;
  for (size_t i = 0; i < n; i++) {
    pl_gen_params gp = PL_GEN_PARAMS_INIT;
    gp.p = pts[i].p;
    gp.m = pts[i].m;
    gp.v = pts[i].v;
    /* Whole-model costs split over the p ranks. */
    gp.tf = 1.0 / pts[i].p;
    gp.tb = 1.0 / pts[i].p;
    gp.tw = 0.5 / pts[i].p;
    gp.comm = 0.1;
    pl_sched *s;
    if (8 % pts[i].p != 0 || pl_sched_gen(pts[i].schedule, &gp, &s, NULL)) {
      assert_int_equal(evs[i].status, PL_SWEEP_REJECTED);
      assert_true(evs[i].reason[0] != 0);
      continue;
    }
    pl_costs *c;
    assert_int_equal(pl_costs_create(pl_sched_stages(s), gp.p, &c), 0);
    pl_costs_uniform(c, pl_sched_chunks(s), gp.tf, gp.tb, gp.tw, 0.1, 0.5);
    pl_result r = PL_RESULT_INIT;
    assert_int_equal(pl_sim_run(s, c, 0, &r, NULL), 0);
    double thr = (double)gp.m * pts[i].mb_size * (8 / gp.p) / r.makespan;
    assert_int_equal(evs[i].status, PL_SWEEP_OK);
    assert_true(evs[i].throughput == thr);
    assert_true(evs[i].peak_mem == r.peak_mem / gp.p);
    if (thr > best) {
      best = thr;
      best_i = i;
    }
    ok++;
    pl_result_free(&r);
    pl_costs_destroy(c);
    pl_sched_destroy(s);
  }
  assert_true(ok > 20);
  assert_int_equal(order[0], best_i);
  /* Accepted first, in non-increasing throughput. */
  for (size_t i = 1; i < n; i++)
    if (evs[order[i]].status == PL_SWEEP_OK)
      assert_true(evs[order[i - 1]].status == PL_SWEEP_OK &&
                  evs[order[i - 1]].throughput >= evs[order[i]].throughput);
  pl_free(order);
  pl_free(pts);
  pl_free(evs);
}

static void test_deterministic_across_jobs(void **state)
{
  (void)state;
  pl_sweep_spec sp = small_spec();
  pl_sweep_point *p1, *p2;
  pl_sweep_eval *e1, *e2;
  size_t n1, n2;
  run(&sp, &p1, &e1, &n1);
  sp.jobs = 3;
  run(&sp, &p2, &e2, &n2);
  assert_int_equal(n1, n2);
  for (size_t i = 0; i < n1; i++) {
    assert_string_equal(p1[i].schedule, p2[i].schedule);
    assert_int_equal(e1[i].status, e2[i].status);
    assert_true(e1[i].throughput == e2[i].throughput);
    assert_string_equal(e1[i].reason, e2[i].reason);
  }
  pl_free(p1);
  pl_free(p2);
  pl_free(e1);
  pl_free(e2);
}

/* 1F1B p=4, m=8 peaks at 4 per-rank units on rank 0, i.e. exactly 1 unit of
 * the whole model's activation: a limit of 1 fits, a limit just below it is
 * rejected as out of memory. */
static void test_memory_boundary(void **state)
{
  (void)state;
  static const int p4[] = {4};
  static const int one[] = {1};
  static const char *const names[] = {"1f1b", "gpipe"};
  pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
  sp.gpus = 4;
  sp.stages = p4;
  sp.n_stages = 1;
  sp.m_lo = sp.m_hi = 8;
  sp.mb_sizes = one;
  sp.n_mb = 1;
  sp.schedules = names;
  sp.n_schedules = 2;
  for (int k = 0; k < 2; k++) {
    sp.mem_limit = k == 0 ? 1.0 : 0.999;
    pl_sweep_point *pts;
    pl_sweep_eval *evs;
    size_t n;
    run(&sp, &pts, &evs, &n);
    assert_int_equal(n, 2);
    assert_string_equal(pts[0].schedule, "1f1b");
    assert_int_equal(evs[0].status, k == 0 ? PL_SWEEP_OK : PL_SWEEP_REJECTED);
    if (k == 1)
      assert_non_null(strstr(evs[0].reason, "out of memory"));
    /* GPipe holds all 8 microbatches: always over. */
    assert_int_equal(evs[1].status, PL_SWEEP_REJECTED);
    assert_non_null(strstr(evs[1].reason, "out of memory"));
    pl_free(pts);
    pl_free(evs);
  }
}

/* Shape rejections are reported with their reason before simulation. */
static void test_shape_rejections(void **state)
{
  (void)state;
  static const int p3[] = {3};
  static const int one[] = {1};
  static const char *const names[] = {"1f1b"};
  pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
  sp.gpus = 8;
  sp.stages = p3;
  sp.n_stages = 1;
  sp.m_lo = sp.m_hi = 8;
  sp.mb_sizes = one;
  sp.n_mb = 1;
  sp.schedules = names;
  sp.n_schedules = 1;
  pl_sweep_point *pts;
  pl_sweep_eval *evs;
  size_t n;
  run(&sp, &pts, &evs, &n);
  assert_int_equal(n, 1);
  assert_int_equal(evs[0].status, PL_SWEEP_REJECTED);
  assert_non_null(strstr(evs[0].reason, "not a multiple of 3 stages"));
  pl_free(pts);
  pl_free(evs);
  /* Global batch 48 over dp = 2 and mb 1: m = 24; 49 does not divide. */
  static const int p4[] = {4};
  sp.stages = p4;
  sp.global_batch = 48;
  run(&sp, &pts, &evs, &n);
  assert_int_equal(pts[0].m, 24);
  assert_int_equal(evs[0].status, PL_SWEEP_OK);
  pl_free(pts);
  pl_free(evs);
  sp.global_batch = 49;
  run(&sp, &pts, &evs, &n);
  assert_int_equal(evs[0].status, PL_SWEEP_REJECTED);
  assert_non_null(strstr(evs[0].reason, "global batch 49"));
  pl_free(pts);
  pl_free(evs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_best_equals_brute_force),
    cmocka_unit_test(test_deterministic_across_jobs),
    cmocka_unit_test(test_memory_boundary),
    cmocka_unit_test(test_shape_rejections),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
