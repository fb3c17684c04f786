/* test_jitter.c: op-time jitter (pl_costs.jitter, pl_sim_trials). One op
 * alone has a log-normal time: over many trials its median is the table's
 * time, its mean time * exp(sigma^2 / 2) and its p10 time * exp(-1.2816
 * sigma); the same seed reproduces a trial exactly and another seed does
 * not; jitter 0 is the deterministic run in every quantile; a pipeline's
 * median iteration is longer than its deterministic one (waits take the
 * later of two random ends); measured quantiles of ln(factor) give their
 * own distribution; bad arguments are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "pl_test.h"

static pl_costs *costs(const pl_sched *s, double tf, double tb, double tw,
                       double comm)
{
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(pl_sched_stages(s), pl_sched_ranks(s), &c),
                   PL_OK);
  assert_int_equal(pl_costs_uniform(c, pl_sched_chunks(s), tf, tb, tw, comm,
                                    0.5), PL_OK);
  return c;
}

/* p = 1, m = 1: the iteration is F + BW, each times its own factor; with
 * tb = tw = 0 it is the F alone: T exp(sigma z). */
static void test_lognormal_single_op(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("1f1b", 1, 1, 0);
  pl_costs *c = costs(s, 10, 0, 0, 0);
  c->jitter = 0.1;
  c->jitter_seed = 7;
  pl_result r = PL_RESULT_INIT;
  pl_trials t;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sim_trials(s, c, 4001, 0, PL_OPTIM_SYNC, 0, &r, &t, &eb),
                   PL_OK);
  assert_int_equal(t.n, 4001);
  assert_true(t.deterministic == 10);
  /* standard errors at n = 4001: median 0.2 %, mean 0.16 %, p10 0.3 % */
  assert_true(fabs(t.p50 / 10 - 1) < 0.008);
  assert_true(fabs(t.mean / (10 * exp(0.005)) - 1) < 0.006);
  assert_true(fabs(t.p10 / (10 * exp(-1.2816 * 0.1)) - 1) < 0.012);
  assert_true(fabs(t.p90 / (10 * exp(1.2816 * 0.1)) - 1) < 0.012);
  /* the result is the median trial */
  assert_true(r.makespan == t.p50);
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

static void test_reproducible(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("zb-h1", 4, 8, 0);
  pl_costs *c = costs(s, 2, 1.5, 1, 0.1);
  c->jitter = 0.05;
  c->jitter_seed = 42;
  pl_result a = PL_RESULT_INIT, b = PL_RESULT_INIT, d = PL_RESULT_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS, &a, &eb), PL_OK);
  assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS, &b, &eb), PL_OK);
  assert_int_equal(a.n_ops, b.n_ops);
  for (size_t i = 0; i < a.n_ops; i++) {
    assert_true(a.ops[i].start == b.ops[i].start);
    assert_true(a.ops[i].end == b.ops[i].end);
  }
  /* recording or not does not change a trial */
  assert_int_equal(pl_sim_run(s, c, 0, &d, &eb), PL_OK);
  assert_true(d.makespan == a.makespan);
  c->jitter_seed = 43;
  assert_int_equal(pl_sim_run(s, c, 0, &d, &eb), PL_OK);
  assert_true(d.makespan != a.makespan);
  /* every op's duration is its median times a factor: one op kind's
   * durations differ from each other */
  int differ = 0;
  for (size_t i = 1; i < a.n_ops; i++)
    if (a.ops[i].op.kind == a.ops[0].op.kind &&
        a.ops[i].end - a.ops[i].start != a.ops[0].end - a.ops[0].start)
      differ = 1;
  assert_true(differ);
  pl_result_free(&a);
  pl_result_free(&b);
  pl_result_free(&d);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

static void test_zero_is_deterministic(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("interleaved", 4, 8, 0);
  pl_costs *c = costs(s, 2, 1.5, 1, 0.1);
  pl_result r = PL_RESULT_INIT, d = PL_RESULT_INIT;
  pl_trials t;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &d, &eb), PL_OK);
  assert_int_equal(pl_sim_trials(s, c, 5, 0, PL_OPTIM_SYNC, 3, &r, &t, &eb),
                   PL_OK);
  /* sync: makespan + the optimizer time */
  assert_true(t.deterministic == d.makespan + 3);
  assert_true(t.p10 == t.deterministic && t.p50 == t.deterministic &&
              t.p90 == t.deterministic && t.mean == t.deterministic);
  assert_true(r.makespan == d.makespan);
  pl_result_free(&r);
  pl_result_free(&d);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

/* A pipeline's expected iteration grows with jitter: 1F1B p = 4, m = 8. */
static void test_pipeline_inflation(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("1f1b", 4, 8, 0);
  pl_costs *c = costs(s, 25, 25, 14, 0.2);
  pl_result r = PL_RESULT_INIT;
  pl_trials t3, t8;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  c->jitter = 0.03;
  c->jitter_seed = 1;
  assert_int_equal(pl_sim_trials(s, c, 801, 0, PL_OPTIM_SYNC, 0, &r, &t3, &eb),
                   PL_OK);
  c->jitter = 0.08;
  assert_int_equal(pl_sim_trials(s, c, 801, 0, PL_OPTIM_SYNC, 0, &r, &t8, &eb),
                   PL_OK);
  /* (m + p - 1)(T_F + T_BW) + (2 (p - 1) m / p + 2 (p - 2)) comm
   * (docs/transfers.md §2) */
  assert_true(fabs(t3.deterministic - (11 * 64 + 16 * 0.2)) < 1e-9);
  assert_true(t3.p50 > t3.deterministic);
  assert_true(t8.p50 > t3.p50);
  assert_true(t8.p10 < t8.p50 && t8.p50 < t8.p90);
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

/* Measured quantiles: q_k linear from a to b makes ln(factor) uniform on
 * [a, b], so one op's median is T e^((a+b)/2) and its p10 T e^(a + 0.1
 * (b - a)). */
static void test_quantiles(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("1f1b", 1, 1, 0);
  pl_costs *c = costs(s, 10, 0, 0, 0);
  const double a = -0.1, b = 0.3;
  c->n_jitter_q = PL_JITTER_Q;
  for (int k = 0; k < PL_JITTER_Q; k++)
    c->jitter_q[k] = a + (b - a) * k / (PL_JITTER_Q - 1);
  c->jitter = 0.1; /* on; the quantiles give the shape */
  c->jitter_seed = 11;
  pl_result r = PL_RESULT_INIT;
  pl_trials t;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sim_trials(s, c, 4001, 0, PL_OPTIM_SYNC, 0, &r, &t, &eb),
                   PL_OK);
  assert_int_equal(t.n_quantiles, PL_JITTER_Q);
  /* order statistics of a uniform at n = 4001: standard error 0.8 % of
   * the range at the median */
  assert_true(fabs(log(t.p50 / 10) - (a + b) / 2) < 0.01);
  assert_true(fabs(log(t.p10 / 10) - (a + 0.1 * (b - a))) < 0.01);
  assert_true(t.p10 >= 10 * exp(a) && t.p90 <= 10 * exp(b));
  /* descending or single quantiles are refused */
  c->jitter_q[3] = 0.5;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "quantiles"));
  c->jitter_q[3] = a + (b - a) * 3 / (PL_JITTER_Q - 1);
  c->n_jitter_q = 1;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), PL_EINVAL);
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

static void test_bad_arguments(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("1f1b", 2, 4, 0);
  pl_costs *c = costs(s, 1, 1, 1, 0);
  pl_result r = PL_RESULT_INIT;
  pl_trials t;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sim_trials(s, c, 0, 0, PL_OPTIM_SYNC, 0, &r, &t, &eb),
                   PL_EINVAL);
  assert_non_null(strstr(eb.msg, "trials"));
  c->jitter = -0.1;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "jitter"));
  c->jitter = NAN;
  assert_int_equal(pl_sim_trials(s, c, 3, 0, PL_OPTIM_SYNC, 0, &r, &t, &eb),
                   PL_EINVAL);
  c->jitter = PL_JITTER_MAX * 2;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), PL_EINVAL);
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lognormal_single_op),
    cmocka_unit_test(test_reproducible),
    cmocka_unit_test(test_zero_is_deterministic),
    cmocka_unit_test(test_pipeline_inflation),
    cmocka_unit_test(test_quantiles),
    cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
