/* test_sim.c: the engine and the basic generators against closed forms and
 * the worked values of docs/zero-bubble.md (all exact in binary floating
 * point with integer or half-integer costs, so == is the right comparison). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h" /* pl__sched_reserve */

/* Generates and simulates a named schedule with uniform per-rank costs. */
static int sim(const char *name, int p, int m, int v, double tf, double tb,
               double tw, double comm, double wfrac, pl_result *res)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = m;
  gp.v = v;
  gp.tf = tf;
  gp.tb = tb;
  gp.tw = tw;
  gp.comm = comm;
  gp.mem_w_frac = wfrac;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_sched_gen(name, &gp, &s, &eb);
  if (rc)
    return rc;
  rc = pl_sched_validate(s, &eb);
  if (rc) {
    fprintf(stderr, "%s\n", eb.msg);
    pl_sched_destroy(s);
    return rc;
  }
  assert_int_equal(pl_costs_create(pl_sched_stages(s), p, &c), 0);
  assert_int_equal(pl_costs_uniform(c, pl_sched_chunks(s), tf, tb, tw, comm,
                                    wfrac), 0);
  *res = (pl_result)PL_RESULT_INIT;
  rc = pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM, res, &eb);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  return rc;
}

/* docs/zero-bubble.md (worked values): p=4, m=8, F=B=W=1, no comm, M_W = M_B/2. */
struct worked {
  const char *name;
  int v;
  double makespan, span;
  double first[4], last[4], peak[4];
};

static const struct worked worked_11_1[] = {
  {"gpipe", 1, 33, 33, {0, 1, 2, 3}, {33, 31, 29, 27}, {8, 8, 8, 8}},
  {"1f1b", 1, 33, 33, {0, 1, 2, 3}, {33, 31, 29, 27}, {4, 3, 2, 1}},
  {"interleaved", 2, 28.5, 28.5, {0, .5, 1, 1.5}, {28.5, 27.5, 26.5, 25.5},
   {5.5, 4.5, 3.5, 2.5}},
  {"interleaved", 4, 26.25, 26.25, {0, .25, .5, .75},
   {26.25, 25.75, 25.25, 24.75}, {4.75, 4.25, 3.75, 3.25}},
};

static void test_worked_values(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof worked_11_1 / sizeof worked_11_1[0]; i++) {
    const struct worked *w = &worked_11_1[i];
    pl_result r;
    assert_int_equal(sim(w->name, 4, 8, w->v, 1, 1, 1, 0, 0.5, &r), 0);
    assert_true(r.makespan == w->makespan);
    assert_true(r.max_rank_span == w->span);
    for (int k = 0; k < 4; k++) {
      assert_true(r.ranks[k].first_start == w->first[k]);
      assert_true(r.ranks[k].last_end == w->last[k]);
      assert_true(r.ranks[k].peak_mem == w->peak[k]);
      assert_true(r.ranks[k].end_mem == 0);
      assert_true(r.ranks[k].busy == 24);
    }
    pl_result_free(&r);
  }
}

/* The per-rank orders printed in §11.1 for 1F1B and interleaved v=2. */
static void check_order(const char *name, int v, int rank, const char *want)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 4;
  gp.m = 8;
  gp.v = v;
  pl_sched *s;
  assert_int_equal(pl_sched_gen(name, &gp, &s, NULL), 0);
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, rank, &n);
  char got[1024] = "";
  for (size_t i = 0; i < n; i++) {
    char one[32];
    int c = pl_sched_stage_chunk(s, ops[i].stage);
    if (v > 1)
      snprintf(one, sizeof one, "%s%s%dc%d", i ? " " : "",
               pl_op_kind_name(ops[i].kind), ops[i].mb, c);
    else
      snprintf(one, sizeof one, "%s%s%d", i ? " " : "",
               pl_op_kind_name(ops[i].kind), ops[i].mb);
    strncat(got, one, sizeof got - strlen(got) - 1);
  }
  assert_string_equal(got, want);
  pl_sched_destroy(s);
}

static void test_orders(void **state)
{
  (void)state;
  check_order("1f1b", 1, 0,
              "F0 F1 F2 F3 BW0 F4 BW1 F5 BW2 F6 BW3 F7 BW4 BW5 BW6 BW7");
  check_order("1f1b", 1, 2,
              "F0 F1 BW0 F2 BW1 F3 BW2 F4 BW3 F5 BW4 F6 BW5 F7 BW6 BW7");
  check_order("interleaved", 2, 0,
              "F0c0 F1c0 F2c0 F3c0 F0c1 F1c1 F2c1 F3c1 F4c0 F5c0 F6c0 BW0c1 "
              "F7c0 BW1c1 F4c1 BW2c1 F5c1 BW3c1 F6c1 BW0c0 F7c1 BW1c0 BW2c0 "
              "BW3c0 BW4c1 BW5c1 BW6c1 BW7c1 BW4c0 BW5c0 BW6c0 BW7c0");
  check_order("interleaved", 2, 3,
              "F0c0 F1c0 F2c0 F3c0 F0c1 BW0c1 F1c1 BW1c1 F2c1 BW2c1 F3c1 "
              "BW3c1 F4c0 BW0c0 F5c0 BW1c0 F6c0 BW2c0 F7c0 BW3c0 F4c1 BW4c1 "
              "F5c1 BW5c1 F6c1 BW6c1 F7c1 BW7c1 BW4c0 BW5c0 BW6c0 BW7c0");
}

/* Closed forms over a grid, uniform costs, no comm (docs/architecture.md, docs/zero-bubble.md). */
static void test_closed_forms(void **state)
{
  (void)state;
  static const double costs[][3] = {{1, 1, 1}, {1, 2, 0.5}, {2, 3, 1}};
  for (int p = 1; p <= 8; p++)
    for (int m = 1; m <= 24; m++)
      for (size_t k = 0; k < 3; k++) {
        double tf = costs[k][0], tb = costs[k][1], tw = costs[k][2];
        double t = tf + tb + tw;
        pl_result r;
        /* GPipe and 1F1B: makespan (m+p-1)(tf+tb+tw); bubble rate
         * (p-1)/(m+p-1) for any costs. */
        assert_int_equal(sim("gpipe", p, m, 1, tf, tb, tw, 0, .5, &r), 0);
        assert_true(r.makespan == (m + p - 1) * t);
        assert_true(fabs(r.bubble_ratio - (double)(p - 1) / (m + p - 1)) <
                    1e-12);
        for (int i = 0; i < p; i++)
          assert_true(r.ranks[i].peak_mem == m);
        pl_result_free(&r);
        assert_int_equal(sim("1f1b", p, m, 1, tf, tb, tw, 0, .5, &r), 0);
        assert_true(r.makespan == (m + p - 1) * t);
        assert_true(r.max_rank_span == r.makespan);
        assert_true(fabs(r.bubble_ratio - (double)(p - 1) / (m + p - 1)) <
                    1e-12);
        for (int i = 0; i < p; i++)
          assert_true(r.ranks[i].peak_mem == (p - i < m ? p - i : m));
        pl_result_free(&r);
        /* Interleaved, m % p == 0: bubble time (p-1)(tf+tb+tw)/v, i.e.
         * makespan m*t + (p-1)*t/v; peak p + (p-1-2r)/v (uncapped). */
        if (m % p == 0)
          for (int v = 1; v <= 4; v++) {
            assert_int_equal(sim("interleaved", p, m, v, tf, tb, tw, 0, .5,
                                 &r), 0);
            double want = m * t + (p - 1) * t / v;
            assert_true(fabs(r.makespan - want) < 1e-9 * want);
            for (int i = 0; i < p; i++) {
              int w = 2 * (p - 1 - i) + (v - 1) * p;
              if (w + 1 <= m * v) /* the warm-up is not capped */
                assert_true(fabs(r.ranks[i].peak_mem -
                                 (p + (double)(p - 1 - 2 * i) / v)) < 1e-12);
            }
            pl_result_free(&r);
          }
      }
}

/* §11.2 (latency), §11.3 (unequal costs), §11.4 (m < p), §11.6. */
static void test_latency_and_edges(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    int p, m, v;
    double tf, tb, tw, comm, makespan;
  } cases[] = {
    {"gpipe", 4, 8, 1, 1, 1, 1, 0.5, 36},
    {"gpipe", 4, 8, 1, 1, 1, 1, 1, 39},
    {"1f1b", 4, 8, 1, 1, 1, 1, 0.5, 41},
    {"1f1b", 4, 8, 1, 1, 1, 1, 1, 49},
    {"interleaved", 4, 8, 2, 1, 1, 1, 0.5, 35.5},
    {"interleaved", 4, 8, 2, 1, 1, 1, 1, 46},
    {"1f1b", 4, 8, 1, 1, 1, 0.5, 0, 27.5},
    {"interleaved", 4, 8, 2, 1, 1, 0.5, 0, 23.75},
    {"gpipe", 4, 1, 1, 1, 1, 1, 0, 12},
    {"gpipe", 4, 2, 1, 1, 1, 1, 0, 15},
    {"gpipe", 4, 3, 1, 1, 1, 1, 0, 18},
    {"1f1b", 4, 1, 1, 1, 1, 1, 0, 12},
    {"1f1b", 4, 2, 1, 1, 1, 1, 0, 15},
    {"1f1b", 4, 3, 1, 1, 1, 1, 0, 18},
    /* §11.6: T_F = 1, T_BW = 2 (B and W both 1). */
    {"1f1b", 8, 32, 1, 1, 1, 1, 0, 117},
    {"interleaved", 8, 32, 2, 1, 1, 1, 0, 106.5},
    /* §11.5: the ZB paper's measured 1.5B costs (us), with latency. */
    {"gpipe", 4, 8, 1, 18522, 18086, 9337, 601, 509001},
    {"1f1b", 4, 8, 1, 18522, 18086, 9337, 601, 515011},
    {"interleaved", 4, 8, 2, 18522, 18086, 9337, 601, 444891.5},
    {"1f1b", 8, 24, 1, 18522, 18086, 9337, 601, 1456749},
    {"interleaved", 8, 24, 2, 18522, 18086, 9337, 601, 1281517.5},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pl_result r;
    assert_int_equal(sim(cases[i].name, cases[i].p, cases[i].m, cases[i].v,
                         cases[i].tf, cases[i].tb, cases[i].tw, cases[i].comm,
                         .5, &r), 0);
    if (r.makespan != cases[i].makespan)
      fail_msg("case %zu (%s p=%d m=%d): makespan %.17g, want %.17g", i,
               cases[i].name, cases[i].p, cases[i].m, r.makespan,
               cases[i].makespan);
    pl_result_free(&r);
  }
  /* 1F1B with latency, m a multiple of p :
   * (m+p-1)t + comm(2(p-1)m/p + 2(p-2)). */
  for (int p = 2; p <= 8; p++)
    for (int k = 1; k <= 4; k++) {
      int m = k * p;
      for (double comm = 0.25; comm <= 1.0; comm += 0.25) {
        pl_result r;
        assert_int_equal(sim("1f1b", p, m, 1, 1, 1, 1, comm, .5, &r), 0);
        double want = (m + p - 1) * 3.0 +
                      comm * (2.0 * (p - 1) * m / p + 2.0 * (p - 2));
        assert_true(fabs(r.makespan - want) < 1e-9);
        pl_result_free(&r);
        assert_int_equal(sim("gpipe", p, m, 1, 1, 1, 1, comm, .5, &r), 0);
        assert_true(fabs(r.makespan - ((m + p - 1) * 3.0 +
                                       2 * (p - 1) * comm)) < 1e-9);
        pl_result_free(&r);
      }
    }
}

/* §11.6 peaks: 1F1B 8, interleaved v=2 11.5 at p=8, m=32. */
static void test_peaks_p8(void **state)
{
  (void)state;
  pl_result r;
  assert_int_equal(sim("1f1b", 8, 32, 1, 1, 1, 1, 0, .5, &r), 0);
  assert_true(r.peak_mem == 8);
  pl_result_free(&r);
  assert_int_equal(sim("interleaved", 8, 32, 2, 1, 1, 1, 0, .5, &r), 0);
  assert_true(r.peak_mem == 11.5);
  pl_result_free(&r);
}

/* Properties: every generated schedule validates, the makespan is at least
 * the busiest rank's work, memory returns to zero, op counts are exact. */
static void test_properties(void **state)
{
  (void)state;
  const pl_gen_info *gens = pl_gen_list();
  size_t checked = 0;
  for (const pl_gen_info *g = gens; g->name; g++)
    for (int p = 1; p <= 8; p++)
      for (int m = 1; m <= 16; m++)
        for (int v = 1; v <= 3; v++) {
          pl_gen_params gp = PL_GEN_PARAMS_INIT;
          gp.p = p;
          gp.m = m;
          gp.v = g->default_chunks > 1 ? v : 1;
          gp.tf = 1;
          gp.tb = 1.5;
          gp.tw = 0.5;
          gp.comm = 0.25;
          if (g->default_chunks == 1 && v > 1)
            continue;
          pl_sched *s = NULL;
          struct pl_errbuf eb = PL_ERRBUF_INIT;
          if (pl_sched_gen(g->name, &gp, &s, &eb) != 0)
            continue; /* a stated constraint (tested elsewhere) */
          int rc = pl_sched_validate(s, &eb);
          if (rc)
            fail_msg("%s p=%d m=%d v=%d: %s", g->name, p, m, gp.v, eb.msg);
          int S = pl_sched_stages(s);
          assert_int_equal(pl_sched_microbatches(s), m);
          size_t want_min = (size_t)S * (size_t)m * 2, parts = 0;
          for (int r = 0; r < p; r++) {
            size_t n; /* a fused F&B op is two of the ops counted */
            const pl_op *o = pl_sched_rank_ops(s, r, &n);
            for (size_t i = 0; i < n; i++)
              parts += o[i].kind == PL_OP_FB ? 2 : 1;
          }
          assert_true(parts >= want_min);
          pl_costs *c;
          assert_int_equal(pl_costs_create(S, p, &c), 0);
          pl_costs_uniform(c, pl_sched_chunks(s), gp.tf, gp.tb, gp.tw,
                           gp.comm, 0.5);
          pl_result r = PL_RESULT_INIT;
          assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), 0);
          double busiest = 0;
          for (int i = 0; i < p; i++) {
            if (r.ranks[i].busy > busiest)
              busiest = r.ranks[i].busy;
            assert_true(fabs(r.ranks[i].end_mem) < 1e-9);
            assert_true(r.ranks[i].last_end - r.ranks[i].first_start >=
                        r.ranks[i].busy - 1e-9);
          }
          assert_true(r.makespan >= busiest - 1e-9);
          assert_true(fabs(busiest - m * 3.0) < 1e-9);
          pl_result_free(&r);
          pl_costs_destroy(c);
          pl_sched_destroy(s);
          checked++;
        }
  assert_true(checked > 100);
}

static pl_sched *hand(int p, int m)
{
  pl_sched *s;
  assert_int_equal(pl_sched_create(p, p, m, PL_PLACE_SINGLE, &s, NULL), 0);
  return s;
}

/* Validation catches each kind of error with a message that names it. */
static void test_validation_errors(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  /* Missing W after a B. */
  pl_sched *s = hand(1, 1);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  pl_sched_push3(s, 0, PL_OP_B, 0, 0);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "never its W0s0"));
  pl_sched_destroy(s);
  /* Backward listed before its forward on the same rank. */
  s = hand(1, 1);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 0);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "before its forward"));
  pl_sched_destroy(s);
  /* Duplicate op. */
  s = hand(1, 2);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "appears twice"));
  pl_sched_destroy(s);
  /* Op on the wrong rank. */
  s = hand(2, 1);
  pl_sched_push3(s, 0, PL_OP_F, 1, 0);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "placed on rank 1"));
  pl_sched_destroy(s);
  /* Both BW and B/W for one microbatch. */
  s = hand(1, 1);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 0);
  pl_sched_push3(s, 0, PL_OP_B, 0, 0);
  pl_sched_push3(s, 0, PL_OP_W, 0, 0);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "both unsplit"));
  pl_sched_destroy(s);
  /* Microbatch out of range. */
  s = hand(1, 1);
  pl_sched_push3(s, 0, PL_OP_F, 0, 5);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "microbatch 5"));
  pl_sched_destroy(s);
}

/* A cross-rank cyclic wait: rank 0 wants BW0 (needs rank 1's BW0) before
 * sending F1; rank 1 wants F1 before running BW0. */
static void test_deadlock_report(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = hand(2, 2);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 0);
  pl_sched_push3(s, 0, PL_OP_F, 0, 1);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 1);
  pl_sched_push3(s, 1, PL_OP_F, 1, 0);
  pl_sched_push3(s, 1, PL_OP_F, 1, 1);
  pl_sched_push3(s, 1, PL_OP_BW, 1, 0);
  pl_sched_push3(s, 1, PL_OP_BW, 1, 1);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EDEADLOCK);
  /* Every blocked rank, the op it waits for, and what that op waits for. */
  assert_non_null(strstr(eb.msg, "rank 0 blocked at BW0s0"));
  assert_non_null(strstr(eb.msg, "rank 1 blocked at F1s1"));
  assert_non_null(strstr(eb.msg, "waiting for BW0s1"));
  assert_non_null(strstr(eb.msg, "waiting for F1s0"));
  assert_non_null(strstr(eb.msg, "behind"));
  pl_sched_destroy(s);
}

/* 64 blocked ranks: the report stays one bounded line and counts the rest. */
static void test_deadlock_many_ranks(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  const int p = 64;
  pl_sched *s = hand(p, 2);
  for (int r = 0; r < p; r++) {
    pl_sched_push3(s, r, PL_OP_F, r, 0);
    if (r == 0)
      pl_sched_push3(s, r, PL_OP_BW, r, 0);
    pl_sched_push3(s, r, PL_OP_F, r, 1);
    if (r != 0)
      pl_sched_push3(s, r, PL_OP_BW, r, 0);
    pl_sched_push3(s, r, PL_OP_BW, r, 1);
  }
  assert_int_equal(pl_sched_validate(s, &eb), PL_EDEADLOCK);
  assert_non_null(strstr(eb.msg, "rank 0 blocked at BW0s0"));
  assert_non_null(strstr(eb.msg, "more blocked ranks"));
  assert_null(strchr(eb.msg, '\n'));
  assert_true(strlen(eb.msg) < PL_ERRMSG_MAX);
  pl_sched_destroy(s);
}

/* Deadlock report past 64 microbatches, where the engine's keys are padded
 * per stage: the waited-for ops are still named by stage and microbatch. */
static void test_deadlock_report_padded_keys(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = hand(2, 100);
  pl_costs *c;
  pl_sched_push3(s, 0, PL_OP_F, 0, 70);
  pl_sched_push3(s, 0, PL_OP_BW, 0, 70);
  pl_sched_push3(s, 0, PL_OP_F, 0, 71);
  pl_sched_push3(s, 1, PL_OP_F, 1, 71);
  pl_sched_push3(s, 1, PL_OP_F, 1, 70);
  pl_sched_push3(s, 1, PL_OP_BW, 1, 70);
  assert_int_equal(pl_costs_create(2, 2, &c), 0);
  pl_costs_uniform(c, 1, 1, 1, 1, 0, .5);
  pl_result r = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), PL_EDEADLOCK);
  assert_non_null(strstr(eb.msg, "rank 0 blocked at BW70s0 (position 1) "
                                 "waiting for BW70s1, position 2 on rank 1, "
                                 "behind F71s1 at position 0"));
  assert_non_null(strstr(eb.msg, "rank 1 blocked at F71s1 (position 0) "
                                 "waiting for F71s0, position 2 on rank 0, "
                                 "behind BW70s0 at position 1"));
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

static int same_bits(double a, double b)
{
  return memcmp(&a, &b, sizeof a) == 0;
}

/* The engine's plain async loop (no records, no link queues) and its
 * general loop (taken when ops are recorded) give the same results to the
 * bit, on every generator, with uneven costs, P2P time, an op gap, rank
 * speeds, and microbatch counts on both sides of the key padding (64). */
static void test_plain_loop_matches_general(void **state)
{
  (void)state;
  static const int ms[] = {5, 64, 67, 130};
  const pl_gen_info *gens = pl_gen_list();
  size_t checked = 0;
  for (const pl_gen_info *g = gens; g->name; g++)
    for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
      pl_gen_params gp = PL_GEN_PARAMS_INIT;
      gp.p = 4;
      gp.m = ms[k];
      gp.v = g->default_chunks > 1 ? g->default_chunks : 1;
      gp.tf = 1.1;
      gp.tb = 2.3;
      gp.tw = 0.7;
      gp.comm = 0.3;
      pl_sched *s = NULL;
      if (pl_sched_gen(g->name, &gp, &s, NULL) != 0)
        continue; /* a stated constraint (tested elsewhere) */
      int S = pl_sched_stages(s);
      pl_costs *c;
      assert_int_equal(pl_costs_create(S, gp.p, &c), 0);
      pl_costs_uniform(c, pl_sched_chunks(s), gp.tf, gp.tb, gp.tw, gp.comm,
                       0.4);
      c->op_gap = 0.05;
      for (int r = 0; r < gp.p; r++)
        c->rank_speed[r] = 1 + 0.1 * r;
      pl_result a = PL_RESULT_INIT, b = PL_RESULT_INIT;
      struct pl_errbuf eb = PL_ERRBUF_INIT;
      if (pl_sim_run(s, c, 0, &a, &eb) != 0)
        fail_msg("%s m=%d: %s", g->name, gp.m, eb.msg);
      assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM,
                                  &b, &eb), 0);
      assert_true(same_bits(a.makespan, b.makespan));
      assert_true(same_bits(a.max_rank_span, b.max_rank_span));
      assert_true(same_bits(a.peak_mem, b.peak_mem));
      for (int r = 0; r < gp.p; r++) {
        const pl_rank_result *x = &a.ranks[r], *y = &b.ranks[r];
        assert_true(same_bits(x->first_start, y->first_start));
        assert_true(same_bits(x->last_end, y->last_end));
        assert_true(same_bits(x->busy, y->busy));
        assert_true(same_bits(x->peak_mem, y->peak_mem));
        assert_true(same_bits(x->end_mem, y->end_mem));
        assert_true(x->n_ops == y->n_ops);
      }
      pl_result_free(&a);
      pl_result_free(&b);
      pl_costs_destroy(c);
      pl_sched_destroy(s);
      checked++;
    }
  assert_true(checked > 40);
}

/* A reserved slab: pushes fill it, a list that outgrows its part moves to
 * its own block with its ops intact, and a clone or destroy is clean
 * (ASan builds check the frees). */
static void test_reserve_slab(void **state)
{
  (void)state;
  pl_sched *s = hand(3, 40), *c = NULL;
  assert_int_equal(pl__sched_reserve(s, 5), 0);
  assert_int_equal(pl__sched_reserve(s, 5), PL_EINVAL); /* once */
  for (int mb = 0; mb < 40; mb++) {
    assert_int_equal(pl__sched_push_op(s, 1, PL_OP_F, 1, mb), 0);
    if (mb < 3)
      assert_int_equal(pl_sched_push3(s, 2, PL_OP_F, 2, mb), 0);
  }
  size_t n;
  const pl_op *o = pl_sched_rank_ops(s, 1, &n);
  assert_int_equal(n, 40);
  for (int mb = 0; mb < 40; mb++)
    assert_true(o[mb].mb == mb && o[mb].stage == 1 && o[mb].kind == PL_OP_F &&
                o[mb].mb2 == -1);
  o = pl_sched_rank_ops(s, 2, &n);
  assert_int_equal(n, 3);
  assert_true(o[2].mb == 2 && o[2].stage == 2);
  pl_sched_rank_ops(s, 0, &n);
  assert_int_equal(n, 0);
  assert_int_equal(pl_sched_clone(s, &c), 0);
  assert_int_equal(pl_sched_total_ops(c), 43);
  pl_sched_destroy(c);
  pl_sched_destroy(s);
  /* A list with ops cannot take a slab. */
  s = hand(2, 2);
  pl_sched_push3(s, 0, PL_OP_F, 0, 0);
  assert_int_equal(pl__sched_reserve(s, 4), PL_EINVAL);
  pl_sched_destroy(s);
}

/* Per-rank speed multipliers: a 2x slower last rank in 1F1B. */
static void test_rank_speed(void **state)
{
  (void)state;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 2;
  gp.m = 2;
  pl_sched *s;
  pl_costs *c;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, NULL), 0);
  assert_int_equal(pl_costs_create(2, 2, &c), 0);
  pl_costs_uniform(c, 1, 1, 1, 1, 0, .5);
  c->rank_speed[1] = 2;
  pl_result r = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS, &r, NULL), 0);
  /* r0: F0[0,1] F1[1,2]; r1: F0[1,3] BW0[3,7] F1[7,9] BW1[9,13];
   * r0: BW0[7,9] BW1[13,15]. */
  assert_true(r.makespan == 15);
  assert_true(r.ranks[1].busy == 12);
  assert_true(r.ranks[0].busy == 6);
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

/* Bad generator arguments give a clear PL_EINVAL. */
static void test_gen_errors(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  pl_sched *s;
  gp.p = 4;
  gp.m = 6;
  gp.v = 2;
  assert_int_equal(pl_sched_gen("interleaved", &gp, &s, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "multiple of stages"));
  assert_non_null(strstr(eb.msg, "--microbatches 4 or 8"));
  gp.v = 3;
  gp.m = 8;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "one chunk per rank"));
  assert_int_equal(pl_sched_gen("nope", &gp, &s, &eb), PL_EINVAL);
  gp.v = 1;
  gp.m = 0;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, &eb), PL_EINVAL);
  /* Megatron's group table for PP=2, m=5, g=3, v=2 (docs/architecture.md (Megatron's interleaved groups)):
   * microbatch 0 1 2 0 1 2 3 4 3 4, chunk 0 0 0 1 1 1 0 0 1 1. */
  gp.p = 2;
  gp.m = 5;
  gp.v = 2;
  gp.group = 3;
  assert_int_equal(pl_sched_gen("interleaved", &gp, &s, &eb), 0);
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, 1, &n);
  static const int mb[] = {0, 1, 2, 0, 1, 2, 3, 4, 3, 4};
  static const int ch[] = {0, 0, 0, 1, 1, 1, 0, 0, 1, 1};
  int k = 0;
  for (size_t i = 0; i < n && k < 10; i++)
    if (ops[i].kind == PL_OP_F) {
      assert_int_equal(ops[i].mb, mb[k]);
      assert_int_equal(pl_sched_stage_chunk(s, ops[i].stage), ch[k]);
      k++;
    }
  assert_int_equal(k, 10);
  assert_int_equal(pl_sched_validate(s, &eb), 0);
  pl_sched_destroy(s);
}

/* The optional memory timeline ends at zero and its maximum is the peak. */
static void test_memory_timeline(void **state)
{
  (void)state;
  pl_result r;
  assert_int_equal(sim("1f1b", 4, 8, 1, 1, 1, 1, 0, .5, &r), 0);
  assert_int_equal(r.n_ops, 64);
  double mx[4] = {0};
  for (size_t i = 0; i < r.n_mem; i++) {
    const pl_mem_point *mp = &r.mem[i];
    if (mp->value > mx[mp->rank])
      mx[mp->rank] = mp->value;
    if (i > 0 && r.mem[i - 1].rank == mp->rank)
      assert_true(mp->t >= r.mem[i - 1].t);
  }
  for (int k = 0; k < 4; k++)
    assert_true(mx[k] == r.ranks[k].peak_mem);
  assert_true(r.mem[r.n_mem - 1].value == 0);
  /* Ops are recorded with their start and end. */
  for (size_t i = 0; i < r.n_ops; i++)
    assert_true(r.ops[i].end - r.ops[i].start ==
                (r.ops[i].op.kind == PL_OP_BW ? 2 : 1));
  pl_result_free(&r);
}


/* pl_gen_info.uses says which parameters shape a generator's schedule: a
 * generator without PL_GEN_USES_COSTS (or _MEM_LIMIT, _GROUP) makes the same
 * op lists whatever the costs (limit, group), which is what lets the CLI
 * refuse those flags; zb-auto's order does depend on its limit. */
static int same_sched(const char *name, const pl_gen_params *a,
                      const pl_gen_params *b)
{
  pl_sched *sa = NULL, *sb = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen(name, a, &sa, &eb), 0);
  assert_int_equal(pl_sched_gen(name, b, &sb, &eb), 0);
  int same = pl_sched_ranks(sa) == pl_sched_ranks(sb);
  for (int r = 0; same && r < pl_sched_ranks(sa); r++) {
    size_t na, nb;
    const pl_op *oa = pl_sched_rank_ops(sa, r, &na);
    const pl_op *ob = pl_sched_rank_ops(sb, r, &nb);
    same = na == nb && memcmp(oa, ob, na * sizeof *oa) == 0;
  }
  pl_sched_destroy(sa);
  pl_sched_destroy(sb);
  return same;
}

static void test_gen_uses(void **state)
{
  (void)state;
  pl_gen_params a = PL_GEN_PARAMS_INIT;
  a.p = 4;
  a.m = 8;
  a.tf = a.tb = a.tw = 1;
  a.mem_w_frac = 0.5;
  int n = 0, costs = 0;
  for (const pl_gen_info *g = pl_gen_list(); g->name; g++, n++) {
    pl_gen_params b = a;
    b.tf = 1;
    b.tb = 3;
    b.tw = 0.25;
    b.comm = 2;
    b.mem_w_frac = 0.125;
    if (!(g->uses & PL_GEN_USES_COSTS))
      assert_true(same_sched(g->name, &a, &b));
    else
      costs++;
    b = a;
    b.mem_limit = 2 * a.p;
    if (!(g->uses & PL_GEN_USES_MEM_LIMIT))
      assert_true(same_sched(g->name, &a, &b));
    b = a;
    b.group = 8;
    if (!(g->uses & PL_GEN_USES_GROUP))
      assert_true(same_sched(g->name, &a, &b));
  }
  assert_int_equal(n, 19); /* the 11 of the first design + 5 PyTorch orders
                              + hanayo, chimera, dualpipe */
  assert_int_equal(costs, 4); /* zb-auto, zb-1p, zb-2p, zb-v */
  pl_gen_params b = a;
  b.mem_limit = 2 * a.p;
  assert_false(same_sched("zb-auto", &a, &b));
  assert_true(pl_gen_find("interleaved")->uses & PL_GEN_USES_GROUP);
  assert_true(pl_gen_find("zb-v")->uses & PL_GEN_USES_MEM_LIMIT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_worked_values),
    cmocka_unit_test(test_orders),
    cmocka_unit_test(test_closed_forms),
    cmocka_unit_test(test_latency_and_edges),
    cmocka_unit_test(test_peaks_p8),
    cmocka_unit_test(test_properties),
    cmocka_unit_test(test_validation_errors),
    cmocka_unit_test(test_deadlock_report),
    cmocka_unit_test(test_deadlock_many_ranks),
    cmocka_unit_test(test_rank_speed),
    cmocka_unit_test(test_gen_errors),
    cmocka_unit_test(test_memory_timeline),
    cmocka_unit_test(test_gen_uses),
    cmocka_unit_test(test_deadlock_report_padded_keys),
    cmocka_unit_test(test_plain_loop_matches_general),
    cmocka_unit_test(test_reserve_slab),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
