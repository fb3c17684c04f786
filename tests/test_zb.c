/* test_zb.c: the zero-bubble and V-shaped generators against the
 * exact per-rank orders, closed forms and worked values of
 * docs/zero-bubble.md. Integer and half-integer costs make every time
 * exact in binary floating point, so == is the right comparison; memory
 * with fractional M_W/M_B is compared to 1e-9. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"

static const char *const ALL[] = {"zb-h1", "zb-h2", "zb-auto",
                                  "zb-v",  "v-half", "v-min"};
#define NALL (sizeof ALL / sizeof ALL[0])

static pl_gen_params params(int p, int m, double tf, double tb, double tw,
                            double comm, double w, double lim)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = m;
  gp.tf = tf;
  gp.tb = tb;
  gp.tw = tw;
  gp.comm = comm;
  gp.mem_w_frac = w;
  gp.mem_limit = lim;
  return gp;
}

/* Generates (must succeed and validate) and simulates. */
static pl_sched *gen_ok(const char *name, const pl_gen_params *gp)
{
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_sched_gen(name, gp, &s, &eb);
  if (rc)
    fprintf(stderr, "%s p=%d m=%d: %s\n", name, gp->p, gp->m, eb.msg);
  assert_int_equal(rc, 0);
  rc = pl_sched_validate(s, &eb);
  if (rc)
    fprintf(stderr, "%s p=%d m=%d invalid: %s\n", name, gp->p, gp->m, eb.msg);
  assert_int_equal(rc, 0);
  return s;
}

static void simulate(const pl_sched *s, const pl_gen_params *gp,
                     pl_result *res)
{
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_costs_create(pl_sched_stages(s), gp->p, &c), 0);
  assert_int_equal(pl_costs_uniform(c, pl_sched_chunks(s), gp->tf, gp->tb,
                                    gp->tw, gp->comm, gp->mem_w_frac),
                   0);
  *res = (pl_result)PL_RESULT_INIT;
  int rc = pl_sim_run(s, c, 0, res, &eb);
  if (rc)
    fprintf(stderr, "sim: %s\n", eb.msg);
  assert_int_equal(rc, 0);
  pl_costs_destroy(c);
}

static void run(const char *name, const pl_gen_params *gp, pl_result *res)
{
  pl_sched *s = gen_ok(name, gp);
  simulate(s, gp, res);
  pl_sched_destroy(s);
}

/* ----------------------------------------------- §11.1 worked values --- */

struct worked {
  const char *name;
  double lim;
  double makespan, span;
  double first[4], last[4], peak[4];
};

static const struct worked worked_11_1[] = {
  {"zb-h1", 0, 27, 27, {0, 1, 2, 3}, {27, 27, 27, 27}, {4, 3.5, 3, 2.5}},
  {"zb-h2", 0, 27, 24, {0, 1, 2, 3}, {24, 25, 26, 27}, {7, 6, 5, 4}},
  {"zb-auto", 4, 27, 27, {0, 1, 2, 3}, {27, 27, 27, 27}, {4, 3.5, 3, 2.5}},
  {"zb-auto", 8, 27, 24, {0, 1, 2, 3}, {24, 25, 26, 27},
   {7.5, 6.5, 5.5, 4.5}},
  {"zb-v", 0, 25.5, 24, {0, .5, 1, 1.5}, {24, 24.5, 25, 25.5}, {4, 4, 4, 4}},
  {"v-half", 0, 26.5, 26.5, {0, .5, 1, 1.5}, {26.5, 26, 26.5, 26.5},
   {3, 3, 3, 3}},
  {"v-min", 0, 29.5, 29.5, {0, .5, 1, 1.5}, {29.5, 29, 28.5, 28.5},
   {2, 2, 2, 2}},
};

static void test_worked_11_1(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof worked_11_1 / sizeof worked_11_1[0]; i++) {
    const struct worked *w = &worked_11_1[i];
    pl_gen_params gp = params(4, 8, 1, 1, 1, 0, 0.5, w->lim);
    pl_result r;
    run(w->name, &gp, &r);
    if (r.makespan != w->makespan || r.max_rank_span != w->span)
      fprintf(stderr, "%s: makespan %g span %g\n", w->name, r.makespan,
              r.max_rank_span);
    assert_true(r.makespan == w->makespan);
    assert_true(r.max_rank_span == w->span);
    for (int k = 0; k < 4; k++) {
      assert_true(r.ranks[k].first_start == w->first[k]);
      assert_true(r.ranks[k].last_end == w->last[k]);
      assert_true(r.ranks[k].peak_mem == w->peak[k]);
      assert_true(r.ranks[k].end_mem == 0);
    }
    pl_result_free(&r);
  }
}

/* Compares rank r's order with text like "F0 B0 W0" (single placement) or
 * "F0c0 B0c1" (V placement: chunk 1 of rank r is stage 2p-1-r; B/W are
 * labelled by model chunk). */
static void expect_order(const pl_sched *s, int r, const char *text)
{
  int p = pl_sched_ranks(s), v = pl_sched_chunks(s);
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, r, &n);
  size_t k = 0;
  const char *q = text;
  while (*q) {
    while (*q == ' ')
      q++;
    if (!*q)
      break;
    char kind = *q++;
    int mb = 0, chunk = 0;
    while (*q >= '0' && *q <= '9')
      mb = mb * 10 + (*q++ - '0');
    if (*q == 'c') {
      q++;
      chunk = *q++ - '0';
    }
    int want_kind = kind == 'F' ? PL_OP_F : kind == 'B' ? PL_OP_B : PL_OP_W;
    int want_stage = v == 1 ? r : chunk == 0 ? r : 2 * p - 1 - r;
    assert_true(k < n);
    if (ops[k].kind != want_kind || ops[k].mb != mb ||
        ops[k].stage != want_stage) {
      char buf[32];
      pl_op_format(&ops[k], buf, sizeof buf);
      fprintf(stderr, "rank %d position %zu: got %s, want %c%d stage %d\n", r,
              k, buf, kind, mb, want_stage);
    }
    assert_int_equal(ops[k].kind, want_kind);
    assert_int_equal(ops[k].mb, mb);
    assert_int_equal(ops[k].stage, want_stage);
    k++;
  }
  assert_int_equal(k, n);
}

static void test_orders_11_1(void **state)
{
  (void)state;
  pl_gen_params gp = params(4, 8, 1, 1, 1, 0, 0.5, 0);
  pl_sched *s = gen_ok("zb-h1", &gp);
  expect_order(s, 0, "F0 F1 F2 F3 B0 W0 F4 B1 W1 F5 B2 W2 F6 B3 W3 F7 B4 W4 "
                     "B5 W5 B6 W6 B7 W7");
  expect_order(s, 1, "F0 F1 F2 B0 F3 B1 W0 F4 B2 W1 F5 B3 W2 F6 B4 W3 F7 B5 "
                     "W4 B6 W5 B7 W6 W7");
  expect_order(s, 2, "F0 F1 B0 F2 B1 F3 B2 W0 F4 B3 W1 F5 B4 W2 F6 B5 W3 F7 "
                     "B6 W4 B7 W5 W6 W7");
  expect_order(s, 3, "F0 B0 F1 B1 F2 B2 F3 B3 W0 F4 B4 W1 F5 B5 W2 F6 B6 W3 "
                     "F7 B7 W4 W5 W6 W7");
  pl_sched_destroy(s);
  s = gen_ok("zb-h2", &gp);
  expect_order(s, 0, "F0 F1 F2 F3 F4 F5 F6 B0 W0 F7 B1 W1 B2 W2 B3 W3 B4 W4 "
                     "B5 W5 B6 W6 B7 W7");
  expect_order(s, 1, "F0 F1 F2 F3 F4 B0 F5 B1 F6 B2 W0 F7 B3 W1 B4 W2 B5 W3 "
                     "B6 W4 B7 W5 W6 W7");
  expect_order(s, 2, "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 F6 B4 W0 F7 B5 W1 B6 W2 "
                     "B7 W3 W4 W5 W6 W7");
  expect_order(s, 3, "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 W0 F7 B7 W1 "
                     "W2 W3 W4 W5 W6 W7");
  pl_sched_destroy(s);
  s = gen_ok("zb-v", &gp);
  expect_order(s, 0,
               "F0c0 F1c0 F2c0 F3c0 F4c0 F5c0 F6c0 F0c1 B0c1 W0c1 F1c1 B1c1 "
               "W1c1 F2c1 B2c1 W2c1 F3c1 B3c1 W3c1 F7c0 B0c0 W0c0 F4c1 B4c1 "
               "W4c1 B1c0 W1c0 F5c1 B5c1 W5c1 B2c0 W2c0 F6c1 B6c1 W6c1 B3c0 "
               "W3c0 F7c1 B7c1 B4c0 W7c1 B5c0 W4c0 B6c0 W5c0 B7c0 W6c0 W7c0");
  expect_order(s, 3,
               "F0c0 F0c1 F1c0 F1c1 F2c0 F2c1 F3c0 F3c1 B0c1 W0c1 F4c0 B0c0 "
               "W0c0 F4c1 B1c1 W1c1 F5c0 B1c0 W1c0 F5c1 B2c1 W2c1 F6c0 B2c0 "
               "W2c0 F6c1 B3c1 W3c1 F7c0 B3c0 W3c0 F7c1 B4c1 B4c0 B5c1 B5c0 "
               "B6c1 B6c0 B7c1 B7c0 W4c1 W4c0 W5c1 W5c0 W6c1 W6c0 W7c1 W7c0");
  pl_sched_destroy(s);
}

/* ------------------------------------- §11.2-11.4 latency, unequal, m<p -- */

static void test_latency_11_2(void **state)
{
  (void)state;
  static const struct {
    double comm, h1, h2_span, h2_make;
  } t[] = {{0.5, 33, 27, 28.5}, {1, 41, 30, 30}};
  for (int i = 0; i < 2; i++) {
    pl_gen_params gp = params(4, 8, 1, 1, 1, t[i].comm, 0.5, 0);
    pl_result r;
    run("zb-h1", &gp, &r);
    assert_true(r.makespan == t[i].h1);
    assert_true(r.max_rank_span == t[i].h1);
    pl_result_free(&r);
    run("zb-h2", &gp, &r);
    assert_true(r.max_rank_span == t[i].h2_span);
    assert_true(r.max_rank_span == 24 + 6 * t[i].comm);
    assert_true(r.makespan == t[i].h2_make);
    pl_result_free(&r);
  }
  /* ZB-H1 closed form 27 + 12 comm holds while 2 comm <= T_W (0.5). */
  pl_gen_params gp = params(4, 8, 1, 1, 1, 0.5, 0.5, 0);
  pl_result r;
  run("zb-h1", &gp, &r);
  assert_true(r.makespan == 27 + 12 * 0.5);
  pl_result_free(&r);
}

static void test_unequal_11_3(void **state)
{
  (void)state;
  pl_gen_params gp = params(4, 8, 1, 1, 0.5, 0, 0.5, 0);
  pl_result r;
  run("zb-h1", &gp, &r);
  assert_true(r.makespan == 24.5);
  pl_result_free(&r);
  run("zb-h2", &gp, &r);
  assert_true(r.makespan == 23);
  assert_true(r.max_rank_span == 23);
  pl_result_free(&r);
}

static void test_degenerate_11_4(void **state)
{
  (void)state;
  static const double h1[] = {9, 11, 13}, h2m[] = {9, 11, 14},
                      h2s[] = {9, 11, 13};
  for (int m = 1; m <= 3; m++) {
    pl_gen_params gp = params(4, m, 1, 1, 1, 0, 0.5, 0);
    pl_result r;
    run("zb-h1", &gp, &r);
    assert_true(r.makespan == h1[m - 1]);
    pl_result_free(&r);
    run("zb-h2", &gp, &r);
    assert_true(r.makespan == h2m[m - 1]);
    assert_true(r.max_rank_span == h2s[m - 1]);
    pl_result_free(&r);
  }
}

/* --------------------------------------------- §11.5 realistic costs --- */

#define W15 (73728.0 / 201216.0) /* 1.5B M_W / M_B */

static void test_realistic_11_5(void **state)
{
  (void)state;
  pl_gen_params gp = params(4, 8, 18522, 18086, 9337, 601, W15, 0);
  pl_result r;
  run("zb-h1", &gp, &r);
  assert_true(r.makespan == 456585);
  for (int i = 0; i < 4; i++)
    assert_true(fabs(r.ranks[i].peak_mem - ((4 - i) + i * W15)) < 1e-9);
  assert_true(fabs(r.ranks[1].peak_mem - 3.3664) < 1e-4);
  pl_result_free(&r);
  run("zb-h2", &gp, &r);
  assert_true(r.makespan == 424968);
  assert_true(r.max_rank_span == 424968);
  pl_result_free(&r);
  gp.mem_limit = 4;
  run("zb-auto", &gp, &r);
  assert_true(r.makespan == 456585);
  pl_result_free(&r);
  gp.mem_limit = 8;
  run("zb-auto", &gp, &r);
  assert_true(r.makespan == 424955);
  assert_true(r.max_rank_span == 415631);
  pl_result_free(&r);
  gp.mem_limit = 0;
  run("zb-2p", &gp, &r); /* the named setting = zb-auto at 2p */
  assert_true(r.makespan == 424955);
  assert_true(r.max_rank_span == 415631);
  pl_result_free(&r);
  gp.mem_limit = 8; /* a --mem-limit does not change the named settings */
  run("zb-1p", &gp, &r);
  assert_true(r.makespan == 456585);
  assert_true(r.peak_mem <= 4 + 1e-9);
  pl_result_free(&r);
  gp.mem_limit = 0;
  run("zb-v", &gp, &r);
  assert_true(r.makespan == 404358);
  assert_true(r.max_rank_span == 400610.5);
  pl_result_free(&r);
  run("v-half", &gp, &r);
  assert_true(r.makespan == 449831.5);
  pl_result_free(&r);
  run("v-min", &gp, &r);
  assert_true(r.makespan == 562140.5);
  pl_result_free(&r);

  /* p = 8, m = 24 */
  gp = params(8, 24, 18522, 18086, 9337, 601, W15, 0);
  run("zb-h1", &gp, &r);
  assert_true(r.makespan == 1310405);
  pl_result_free(&r);
  run("zb-h2", &gp, &r);
  assert_true(r.max_rank_span == 1236632);
  pl_result_free(&r);
  run("zb-v", &gp, &r);
  assert_true(r.max_rank_span == 1186022.5);
  pl_result_free(&r);
  /* §7.4: ZB-1p at m = p beats ZB-H1 (566871 vs 574083). */
  gp = params(8, 8, 18522, 18086, 9337, 601, W15, 8);
  run("zb-auto", &gp, &r);
  assert_true(r.makespan == 566871);
  pl_result_free(&r);
  run("zb-h1", &gp, &r);
  assert_true(r.makespan == 574083);
  pl_result_free(&r);
}

/* ------------------------------------------- closed forms over a grid --- */

static const double COSTS[][3] = {{1, 1, 1}, {1, 1, 0.5}, {2, 3, 1},
                                  {3, 2, 1}, {4, 4, 1},   {2, 2, 2}};
#define NCOSTS (sizeof COSTS / sizeof COSTS[0])
static const double WFRAC[] = {0.5, 0.25, 73728.0 / 201216.0};

static void test_zb_h1_closed_form(void **state)
{
  (void)state;
  for (int p = 2; p <= 8; p++)
    for (int k = 1; k <= 4; k++)
      for (size_t ci = 0; ci < NCOSTS; ci++)
        for (int wi = 0; wi < 3; wi++) {
          int m = k * p;
          double tf = COSTS[ci][0], tb = COSTS[ci][1], tw = COSTS[ci][2];
          double w = WFRAC[wi], ideal = m * (tf + tb + tw);
          pl_gen_params gp = params(p, m, tf, tb, tw, 0, w, 0);
          pl_result r;
          run("zb-h1", &gp, &r);
          /* T_W <= T_F here: the bubble is (p-1)(T_F + T_B - T_W) */
          assert_true(r.makespan == ideal + (p - 1) * (tf + tb - tw));
          assert_true(r.makespan == r.max_rank_span);
          for (int i = 0; i < p; i++)
            assert_true(fabs(r.ranks[i].peak_mem - ((p - i) + i * w)) < 1e-9);
          pl_result_free(&r);
          if (m >= 2 * p) {
            /* with latency, while 2 comm <= T_W */
            double comm = tw / 2;
            gp.comm = comm;
            run("zb-h1", &gp, &r);
            assert_true(r.makespan ==
                        ideal + (p - 1) * (tf + tb - tw + 4 * comm));
            pl_result_free(&r);
          }
        }
}

static void test_zb_h2_closed_form(void **state)
{
  (void)state;
  for (int p = 2; p <= 8; p++)
    for (int k = 2; k <= 4; k++)
      for (size_t ci = 0; ci < NCOSTS; ci++)
        for (int wi = 0; wi < 3; wi++) {
          int m = k * p; /* m >= 2p */
          double tf = COSTS[ci][0], tb = COSTS[ci][1], tw = COSTS[ci][2];
          double w = WFRAC[wi], ideal = m * (tf + tb + tw);
          double comm = wi == 0 ? 0 : (tf < tb ? tf : tb) / 2;
          pl_gen_params gp = params(p, m, tf, tb, tw, comm, w, 0);
          pl_result r;
          run("zb-h2", &gp, &r);
          /* T_F + T_B >= 2 T_W and comm <= min(T_F, T_B) on this grid */
          assert_true(r.max_rank_span ==
                      ideal + (p - 1) * (tf + tb + 2 * comm - 2 * tw));
          if (tf == tw && tb == tw && comm == 0)
            assert_true(r.max_rank_span == ideal); /* zero bubble */
          for (int i = 0; i < p; i++)
            assert_true(fabs(r.ranks[i].peak_mem -
                             ((2 * p - 1 - 2 * i) + 2 * i * w)) < 1e-9);
          pl_result_free(&r);
        }
}

static void test_zb_v_closed_form(void **state)
{
  (void)state;
  for (int p = 2; p <= 10; p++)
    for (int k = 2; k <= 4; k++)
      for (int wi = 0; wi < 3; wi++) {
        int m = k * p;
        for (int t = 1; t <= 2; t++) {
          pl_gen_params gp = params(p, m, t, t, t, 0, WFRAC[wi], 0);
          pl_result r;
          run("zb-v", &gp, &r);
          assert_true(r.max_rank_span == m * 3.0 * t); /* zero bubble */
          for (int i = 0; i < p; i++)
            assert_true(fabs(r.ranks[i].peak_mem - p) < 1e-9);
          pl_result_free(&r);
        }
      }
}

static void test_v_half_min_peaks(void **state)
{
  (void)state;
  for (int p = 2; p <= 10; p++)
    for (int k = 1; k <= 4; k++)
      for (int wi = 0; wi < 3; wi++) {
        int m = k * p;
        pl_gen_params gp = params(p, m, 1, 1, 1, 0, WFRAC[wi], 0);
        pl_result r;
        run("v-half", &gp, &r);
        assert_true(fabs(r.peak_mem - floor((p + 2) / 2.0)) < 1e-9);
        pl_result_free(&r);
        run("v-min", &gp, &r);
        if (p >= 3)
          assert_true(fabs(r.peak_mem - floor((p + 4) / 3.0)) < 1e-9);
        else /* p = 2: below the formula's 2 units */
          assert_true(fabs(r.peak_mem - 1.5) < 1e-9);
        /* both keep well under 1F1B's p units on the fullest rank */
        pl_result_free(&r);
      }
}

/* ---------------------------------------------------------- zb-auto --- */

static double span_of(const char *name, const pl_gen_params *gp)
{
  pl_result r;
  run(name, gp, &r);
  double s = r.max_rank_span;
  pl_result_free(&r);
  return s;
}

static void test_zb_auto_limit(void **state)
{
  (void)state;
  static const double comms[] = {0, 0.25, 1};
  for (int p = 1; p <= 8; p++)
    for (int m = 1; m <= 3 * p + 1; m += (p > 4 ? 3 : 1))
      for (size_t ci = 0; ci < NCOSTS; ci++)
        for (int cm = 0; cm < 3; cm++) {
          double lims[] = {1, 1.5, 2, 0.5 * p, p - 0.5, p, 1.5 * p, 2 * p,
                           3 * p};
          for (size_t li = 0; li < sizeof lims / sizeof lims[0]; li++) {
            if (lims[li] < 1)
              continue;
            double w = WFRAC[(ci + li) % 3];
            pl_gen_params gp = params(p, m, COSTS[ci][0], COSTS[ci][1],
                                      COSTS[ci][2], comms[cm], w, lims[li]);
            pl_result r;
            run("zb-auto", &gp, &r);
            for (int i = 0; i < p; i++)
              assert_true(r.ranks[i].peak_mem <= lims[li] + 1e-9);
            pl_result_free(&r);
          }
        }
}

static void test_zb_auto_vs_hand(void **state)
{
  (void)state;
  static const double comms[] = {0, 0.25};
  for (int p = 2; p <= 8; p++)
    for (int k = 1; k <= 4; k++)
      for (size_t ci = 0; ci < NCOSTS; ci++)
        for (int cm = 0; cm < 2; cm++)
          for (int wi = 0; wi < 3; wi++) {
            int m = k * p;
            pl_gen_params gp =
                params(p, m, COSTS[ci][0], COSTS[ci][1], COSTS[ci][2],
                       comms[cm], WFRAC[wi], 0);
            double h1 = span_of("zb-h1", &gp), h2 = span_of("zb-h2", &gp);
            gp.mem_limit = p;
            assert_true(span_of("zb-auto", &gp) <= h1);
            if (m >= 2 * p) {
              gp.mem_limit = 2 * p;
              assert_true(span_of("zb-auto", &gp) <= h2);
            }
          }
  /* the default limit is p */
  pl_gen_params a = params(4, 8, 1, 1, 1, 0, 0.5, 0);
  pl_gen_params b = a;
  b.mem_limit = 4;
  pl_result ra, rb;
  run("zb-auto", &a, &ra);
  run("zb-auto", &b, &rb);
  assert_true(ra.makespan == rb.makespan && ra.peak_mem == rb.peak_mem);
  pl_result_free(&ra);
  pl_result_free(&rb);
}

/* ------------------------------------------------ validity and errors --- */

static void test_all_validate(void **state)
{
  (void)state;
  static const double comms[] = {0, 0.5};
  for (size_t n = 0; n < NALL; n++)
    for (int p = 1; p <= 9; p++)
      for (int m = 1; m <= 20; m++)
        for (size_t ci = 0; ci < NCOSTS; ci++) {
          pl_gen_params gp =
              params(p, m, COSTS[ci][0], COSTS[ci][1], COSTS[ci][2],
                     comms[ci % 2], 0.5, 0);
          pl_sched *s = gen_ok(ALL[n], &gp); /* asserts validate() */
          assert_int_equal(pl_sched_microbatches(s), m);
          assert_int_equal(pl_sched_chunks(s), n >= 3 ? 2 : 1);
          assert_int_equal(pl_sched_placement(s),
                           n >= 3 ? PL_PLACE_V : PL_PLACE_SINGLE);
          /* every op of every (stage, mb) once: 3 ops per stage per mb */
          assert_int_equal(pl_sched_total_ops(s),
                           (size_t)3 * m * pl_sched_stages(s));
          pl_result r;
          simulate(s, &gp, &r);
          for (int i = 0; i < p; i++)
            assert_true(fabs(r.ranks[i].end_mem) < 1e-9);
          pl_result_free(&r);
          pl_sched_destroy(s);
        }
}

static void test_errors(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  for (size_t n = 0; n < NALL; n++) {
    pl_gen_params gp = params(4, 8, 1, 1, 1, 0, 0.5, 0);
    gp.v = n >= 3 ? 1 : 2; /* the wrong chunk count */
    assert_int_equal(pl_sched_gen(ALL[n], &gp, &s, &eb), PL_EINVAL);
    assert_null(s);
    assert_non_null(strstr(eb.msg, "chunk"));
    gp.v = 3;
    assert_int_equal(pl_sched_gen(ALL[n], &gp, &s, &eb), PL_EINVAL);
    gp.v = 0;
    gp.mem_w_frac = 1.5;
    assert_int_equal(pl_sched_gen(ALL[n], &gp, &s, &eb),
                     n < 2 ? 0 : PL_EINVAL);
    pl_sched_destroy(s);
    s = NULL;
    gp.mem_w_frac = 0.5;
    gp.tf = -1;
    assert_int_equal(pl_sched_gen(ALL[n], &gp, &s, &eb),
                     n < 2 ? 0 : PL_EINVAL);
    pl_sched_destroy(s);
    s = NULL;
  }
  pl_gen_params gp = params(4, 8, 1, 1, 1, 0, 0.5, 0.5);
  assert_int_equal(pl_sched_gen("zb-auto", &gp, &s, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "mem-limit"));
  gp.mem_limit = 3.9; /* zb-v needs p units */
  assert_int_equal(pl_sched_gen("zb-v", &gp, &s, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "v-half"));
  /* v-half / v-min have a fixed budget: a limit does not change them */
  for (int half = 0; half < 2; half++) {
    const char *nm = half ? "v-half" : "v-min";
    pl_gen_params a = params(6, 12, 1, 2, 1, 0.5, 0.5, 0), b = a;
    b.mem_limit = 2;
    pl_result ra, rb;
    run(nm, &a, &ra);
    run(nm, &b, &rb);
    assert_true(ra.makespan == rb.makespan && ra.peak_mem == rb.peak_mem);
    pl_result_free(&ra);
    pl_result_free(&rb);
  }
  gp.mem_limit = 3;
  pl_gen_params big = params(2, (1 << 22) + 1, 1, 1, 1, 0, 0.5, 0);
  assert_int_equal(pl_sched_gen("zb-h1", &big, &s, &eb), PL_EINVAL);
  assert_int_equal(pl_sched_gen("zb-v", &big, &s, &eb), PL_EINVAL);
  gp.mem_limit = NAN;
  assert_int_equal(pl_sched_gen("zb-auto", &gp, &s, &eb), PL_EINVAL);
  /* a larger zb-v limit is accepted and honoured */
  pl_result r;
  for (int lim = 4; lim <= 8; lim++) {
    gp = params(4, 8, 1, 2, 1, 0.5, 0.25, lim);
    run("zb-v", &gp, &r);
    assert_true(r.peak_mem <= lim + 1e-9);
    pl_result_free(&r);
  }
  /* named in the generator table with their placement and chunks */
  static const int chunks[] = {1, 1, 1, 2, 2, 2};
  for (size_t n = 0; n < NALL; n++) {
    const pl_gen_info *g = pl_gen_find(ALL[n]);
    assert_non_null(g);
    assert_int_equal(g->default_chunks, chunks[n]);
    assert_int_equal(g->placement, n >= 3 ? PL_PLACE_V : PL_PLACE_SINGLE);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_worked_11_1),
    cmocka_unit_test(test_orders_11_1),
    cmocka_unit_test(test_latency_11_2),
    cmocka_unit_test(test_unequal_11_3),
    cmocka_unit_test(test_degenerate_11_4),
    cmocka_unit_test(test_realistic_11_5),
    cmocka_unit_test(test_zb_h1_closed_form),
    cmocka_unit_test(test_zb_h2_closed_form),
    cmocka_unit_test(test_zb_v_closed_form),
    cmocka_unit_test(test_v_half_min_peaks),
    cmocka_unit_test(test_zb_auto_limit),
    cmocka_unit_test(test_zb_auto_vs_hand),
    cmocka_unit_test(test_all_validate),
    cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
