/* test_paper_table.c: the Zero Bubble paper's bubble-rate table
 * (docs/zero-bubble.md (the paper's bubble table); the authors' efficiency.iclr_bubble_rates on the arxiv
 * branch). For each of the 12 rows, the simulated bubble rates of 1F1B,
 * ZB-H1, ZB-H2, ZB-1p (zb-auto, limit p) and ZB-2p (zb-auto, limit 2p),
 * on the span metric of §6, must round to the published 4 decimals; the
 * exact iteration times of the derived table must match to the µs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "pipelab/pipelab.h"

struct row {
  const char *model;
  int p, m;
  double tf, tb, tw, comm;
  int h, a;                  /* hidden size, heads: M_W/M_B */
  double rate[5];            /* 1F1B, ZB-H1, ZB-H2, ZB-1p, ZB-2p */
  double t_1f1b, t_h1, t_h2; /* derived exact times (µs) */
};

static const struct row rows[] = {
  {"1.5B", 8, 24, 18522, 18086, 9337, 601, 2304, 24,
   {0.2431, 0.1585, 0.1083, 0.1585, 0.0433}, 1456749, 1310405, 1236632},
  {"1.5B", 8, 32, 18513, 18086, 9331, 626, 2304, 24,
   {0.1985, 0.1242, 0.0837, 0.1242, 0.0039}, 1833838, 1678164, 1604083},
  {"1.5B", 8, 64, 18546, 18097, 9321, 762, 2304, 24,
   {0.1240, 0.0674, 0.0444, 0.0674, 0.0026}, 3357932, 3154286, 3078371},
  {"6.2B", 8, 24, 29718, 29444, 19927, 527, 4096, 32,
   {0.2347, 0.1323, 0.0698, 0.1323, 0.0029}, 2480217, 2187537, 2040670},
  {"6.2B", 8, 32, 29802, 29428, 19530, 577, 4096, 32,
   {0.1898, 0.1045, 0.0559, 0.1045, 0.0022}, 3110876, 2814376, 2669588},
  {"6.2B", 8, 64, 29935, 29621, 19388, 535, 4096, 32,
   {0.1091, 0.0554, 0.0294, 0.0554, 0.0010}, 5671364, 5348572, 5205366},
  {"14.6B", 16, 48, 11347, 11248, 8132, 377, 5120, 40,
   {0.2552, 0.1397, 0.0672, 0.1397, 0.0066}, 1980287, 1714461, 1581171},
  {"14.6B", 16, 64, 11307, 11254, 8101, 379, 5120, 40,
   {0.2082, 0.1088, 0.0516, 0.1088, 0.0054}, 2478390, 2202008, 2069123},
  {"14.6B", 16, 128, 11325, 11308, 8109, 378, 5120, 40,
   {0.1251, 0.0576, 0.0266, 0.0576, 0.0028}, 4497410, 4175516, 4042541},
  {"28.3B", 32, 96, 10419, 10207, 7715, 408, 6144, 48,
   {0.2646, 0.1421, 0.0641, 0.1421, 0.0038}, 3699675, 3171569, 2907108},
  {"28.3B", 32, 128, 10408, 10204, 7703, 408, 6144, 48,
   {0.2168, 0.1106, 0.0490, 0.1106, 0.0029}, 4627749, 4075091, 3811002},
  {"28.3B", 32, 256, 10402, 10248, 7698, 460, 6144, 48,
   {0.1352, 0.0594, 0.0257, 0.0594, 0.0018}, 8391636, 7715640, 7448482},
};

/* M_W / M_B per layer with sequence 1024 (ZB Table 1). */
static double wfrac(const struct row *r)
{
  double s = 1024;
  return 32.0 * r->h / (34.0 * r->h + 5.0 * r->a * s);
}

static void simulate(const char *name, const struct row *rw, double lim,
                     pl_result *res)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = rw->p;
  gp.m = rw->m;
  gp.tf = rw->tf;
  gp.tb = rw->tb;
  gp.tw = rw->tw;
  gp.comm = rw->comm;
  gp.mem_w_frac = wfrac(rw);
  gp.mem_limit = lim;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_sched_gen(name, &gp, &s, &eb);
  if (rc)
    fprintf(stderr, "%s: %s\n", name, eb.msg);
  assert_int_equal(rc, 0);
  assert_int_equal(pl_sched_validate(s, &eb), 0);
  assert_int_equal(pl_costs_create(pl_sched_stages(s), rw->p, &c), 0);
  assert_int_equal(pl_costs_uniform(c, 1, rw->tf, rw->tb, rw->tw, rw->comm,
                                    wfrac(rw)),
                   0);
  *res = (pl_result)PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, res, &eb), 0);
  assert_true(res->ideal == rw->m * (rw->tf + rw->tb + rw->tw));
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

static long rate4(double x) { return lround(x * 10000.0); }

static void test_row(const struct row *rw)
{
  static const char *const names[5] = {"1f1b", "zb-h1", "zb-h2", "zb-auto",
                                       "zb-auto"};
  const double lims[5] = {0, 0, 0, rw->p, 2.0 * rw->p};
  for (int k = 0; k < 5; k++) {
    pl_result r;
    simulate(names[k], rw, lims[k], &r);
    double rate = r.bubble_ratio_span;
    if (rate4(rate) != rate4(rw->rate[k]))
      fprintf(stderr, "%s p=%d m=%d %s%s: rate %.6f, published %.4f\n",
              rw->model, rw->p, rw->m, names[k],
              k == 3 ? " (1p)" : k == 4 ? " (2p)" : "", rate, rw->rate[k]);
    assert_int_equal(rate4(rate), rate4(rw->rate[k]));
    if (k == 0 || k == 1) /* makespan = span for 1F1B and ZB-H1 */
      assert_true(r.makespan == r.max_rank_span);
    if (k == 0)
      assert_true(r.makespan == rw->t_1f1b);
    if (k == 1)
      assert_true(r.makespan == rw->t_h1);
    if (k == 2)
      assert_true(r.max_rank_span == rw->t_h2);
    if (k >= 3) /* never above the limit */
      assert_true(r.peak_mem <= lims[k] + 1e-9);
    if (k == 4 && rw->m == 24 && rw->tf == 18522) {
      assert_true(r.makespan == 1236567);
      assert_true(r.max_rank_span == 1152599);
    }
    pl_result_free(&r);
  }
}

static void test_rows_p8(void **state)
{
  (void)state;
  for (int i = 0; i < 6; i++)
    test_row(&rows[i]);
}

static void test_rows_p16(void **state)
{
  (void)state;
  for (int i = 6; i < 9; i++)
    test_row(&rows[i]);
}

static void test_rows_p32(void **state)
{
  (void)state;
  for (int i = 9; i < 12; i++)
    test_row(&rows[i]);
}

/* The closed forms that efficiency.py asserts for the same rows: ZB-H2 span
 * - ideal = (p-1)(T_F + T_B + 2 T_comm - 2 T_W); ZB-H1 without comm
 * (p-1)(T_F + T_B - T_W); 1F1B without comm (p-1)(T_F + T_B + T_W). */
static void test_asserted_forms(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const struct row *rw = &rows[i];
    double ideal = rw->m * (rw->tf + rw->tb + rw->tw);
    assert_true(rw->t_h2 - ideal == (rw->p - 1) * (rw->tf + rw->tb +
                                                   2 * rw->comm - 2 * rw->tw));
    struct row z = *rw;
    z.comm = 0;
    pl_result r;
    simulate("zb-h1", &z, 0, &r);
    assert_true(r.makespan - ideal == (rw->p - 1) * (rw->tf + rw->tb - rw->tw));
    pl_result_free(&r);
    simulate("1f1b", &z, 0, &r);
    assert_true(r.makespan - ideal == (rw->p - 1) * (rw->tf + rw->tb + rw->tw));
    pl_result_free(&r);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rows_p8),
    cmocka_unit_test(test_rows_p16),
    cmocka_unit_test(test_rows_p32),
    cmocka_unit_test(test_asserted_forms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
