/*
 * test_schedules.c: the PyTorch-order generators of sim/gen_pt.c
 * (docs/pytorch-schedules.md): cell-for-cell equality with PyTorch's own schedule
 * CSVs, exact per-rank orders worked by hand from PyTorch's algorithms,
 * the constraint each generator states, and over a grid of (p, m, v):
 * validation, the CSV round trip and a simulation that ends with zero
 * activation. Also the pricing of fused F&B ops (--fb-overlap) and of the
 * expert-parallel all-to-all (--a2a) in closed form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "pl_test.h"

#define DATA PL_TEST_DATA "/pytorch/"

/* The schedule as compute-only CSV (NUL-terminated; caller frees). */
static char *csv_of(const pl_sched *s)
{
  struct pl_buf b;
  pl_buf_init(&b, PL_BUF_MAX_DEFAULT);
  assert_int_equal(pl_sched_write_csv(s, &b), 0);
  char *t = pl_buf_take(&b);
  assert_non_null(t);
  return t;
}

/* A PyTorch CSV with its idle cells removed, as pipelab writes it. */
static char *normalised_fixture(const char *path)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char *t = NULL;
  size_t len = 0;
  if (pl_read_file(path, &t, &len, &eb))
    fail_msg("cannot read %s: %s", path, eb.msg);
  char *o = malloc(len + 1);
  assert_non_null(o);
  size_t k = 0;
  int at_start = 1;
  for (size_t i = 0; i < len; i++) {
    char c = t[i];
    if (c == ',' && (at_start || (i + 1 < len && t[i + 1] == ',') ||
                     i + 1 == len || t[i + 1] == '\n'))
      continue; /* the comma of an empty cell */
    o[k++] = c;
    at_start = c == '\n';
  }
  o[k] = 0;
  pl_free(t);
  return o;
}

static void expect_fixture(const char *name, int p, int m, int v,
                           const char *path)
{
  pl_sched *s = pl_test_gen(name, p, m, v);
  char *got = csv_of(s);
  char *want = normalised_fixture(path);
  if (strcmp(got, want))
    fail_msg("%s p=%d m=%d v=%d differs from %s:\n%s\nwant:\n%s", name, p, m,
             v, path, got, want);
  pl_free(got);
  free(want);
  pl_sched_destroy(s);
}

/* ------------------------------------------------- PyTorch's artifacts --- */

static void test_dualpipev_fixture(void **state)
{
  (void)state;
  expect_fixture("dualpipev", 4, 10, 0, DATA "dualpipev_4rank_10mb.csv");
  /* The fused ops are real FB ops: rank 3 runs 11 of them, rank 0 9. */
  pl_sched *s = pl_test_gen("dualpipev", 4, 10, 0);
  size_t n, fused[4] = {0};
  for (int r = 0; r < 4; r++) {
    const pl_op *o = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++)
      if (o[i].kind == PL_OP_FB) {
        fused[r]++;
        assert_int_equal(o[i].kind2, PL_OP_BW);
      }
  }
  assert_int_equal(fused[0], 9);
  assert_int_equal(fused[3], 11);
  assert_int_equal(pl_sched_placement(s), PL_PLACE_V);
  pl_sched_destroy(s);
}

static void test_interleaved_zb_fixture(void **state)
{
  (void)state;
  expect_fixture("interleaved-zb", 2, 8, 2,
                 DATA "zb1p_2rank_2stagep_compute.csv");
}

/* ---------------------------------------------------- exact small orders --- */

static void expect_rows(const char *name, int p, int m, int v,
                        const char *want)
{
  pl_sched *s = pl_test_gen(name, p, m, v);
  char *got = csv_of(s);
  if (strcmp(got, want))
    fail_msg("%s p=%d m=%d v=%d:\n%s\nwant:\n%s", name, p, m, v, got, want);
  pl_free(got);
  pl_sched_destroy(s);
}

static void test_exact_orders(void **state)
{
  (void)state;
  /* ScheduleLoopedBFS: chunk by chunk forwards, then backwards in reverse
   * chunk and microbatch order. */
  expect_rows("looped-bfs", 2, 2, 2,
              "0F0,0F1,2F0,2F1,2B1,2B0,0B1,0B0\n"
              "1F0,1F1,3F0,3F1,3B1,3B0,1B1,1B0\n");
  /* ScheduleZBVZeroBubble, p = 2, m = 4 (n = max(2p-1, m) = 4). */
  expect_rows("zbv-pytorch", 2, 4, 0,
              "0F0,0F1,0F2,3F0,3I0,3W0,3F1,3I1,3W1,0F3,0I0,0W0,3F2,3I2,3W2,"
              "0I1,0W1,3F3,3I3,3W3,0I2,0W2,0I3,0W3\n"
              "1F0,2F0,1F1,2F1,2I0,2W0,1F2,1I0,1W0,2F2,2I1,2W1,1F3,1I1,1W1,"
              "2F3,2I2,2W2,1I2,2I3,1I3,1W2,2W3,1W3\n");
  /* m = 2 < 2p - 1: the padding microbatches 2 and 3 are dropped. */
  expect_rows("zbv-pytorch", 2, 2, 0,
              "0F0,0F1,3F0,3I0,3W0,3F1,3I1,3W1,0I0,0W0,0I1,0W1\n"
              "1F0,2F0,1F1,2F1,2I0,2W0,1I0,1W0,2I1,2W1,1I1,1W1\n");
  /* ScheduleInterleaved1F1B, p = 4, m = 6: one round of 6 microbatches;
   * rank 3 warms up 6 forwards, rank 0 runs every forward first. */
  pl_sched *s = pl_test_gen("interleaved-relaxed", 4, 6, 2);
  char *got = csv_of(s);
  const char *r0 = "0F0,0F1,0F2,0F3,0F4,0F5,4F0,4F1,4F2,4F3,4F4,4F5,"
                   "4B0,4B1,4B2,4B3,4B4,4B5,0B0,0B1,0B2,0B3,0B4,0B5\n";
  const char *r3 = "3F0,3F1,3F2,3F3,3F4,3F5,7F0,7B0,7F1,7B1,7F2,7B2,7F3,"
                   "7B3,7F4,7B4,7F5,7B5,3B0,3B1,3B2,3B3,3B4,3B5\n";
  assert_true(strncmp(got, r0, strlen(r0)) == 0);
  assert_non_null(strstr(got, r3));
  pl_free(got);
  pl_sched_destroy(s);
  /* DualPipeV, p = 1, m = 2: the single rank's first pair is not fused. */
  expect_rows("dualpipev", 1, 2, 0,
              "0F0,1F0,0F1,1B0,(1F1;0B0)OVERLAP_F_B,1B1,0I1,0W1\n");
}

/* With m % p == 0, PyTorch's interleaved 1F1B is Megatron's, op for op. */
static void test_relaxed_equals_megatron(void **state)
{
  (void)state;
  int cases = 0;
  for (int p = 1; p <= 6; p++)
    for (int v = 1; v <= 4; v++)
      for (int m = p; m <= 4 * p; m += p) {
        pl_sched *a = pl_test_gen("interleaved", p, m, v);
        pl_sched *b = pl_test_gen("interleaved-relaxed", p, m, v);
        char *x = csv_of(a), *y = csv_of(b);
        if (strcmp(x, y))
          fail_msg("p=%d m=%d v=%d:\n%s\nvs\n%s", p, m, v, x, y);
        pl_free(x);
        pl_free(y);
        pl_sched_destroy(a);
        pl_sched_destroy(b);
        cases++;
      }
  assert_int_equal(cases, 6 * 4 * 4);
}

/* ------------------------------------------------------ constraints ----- */

static int rounds_ok(int p, int m)
{
  int rounds = m / p > 1 ? m / p : 1;
  return m % rounds == 0;
}

/* Whether the generator promises a schedule for (p, m, v). */
static int expected_ok(const char *name, int p, int m, int v)
{
  if (!strcmp(name, "dualpipev"))
    return v == 2 && m >= 2 * p;
  if (!strcmp(name, "zbv-pytorch"))
    return v == 2;
  if (!strcmp(name, "looped-bfs"))
    return 1;
  return rounds_ok(p, m); /* interleaved-zb, interleaved-relaxed */
}

static void assert_same_ops(const pl_sched *a, const pl_sched *b,
                            const char *what)
{
  assert_int_equal(pl_sched_ranks(a), pl_sched_ranks(b));
  assert_int_equal(pl_sched_stages(a), pl_sched_stages(b));
  for (int g = 0; g < pl_sched_stages(a); g++)
    assert_int_equal(pl_sched_stage_rank(a, g), pl_sched_stage_rank(b, g));
  for (int r = 0; r < pl_sched_ranks(a); r++) {
    size_t na, nb;
    const pl_op *x = pl_sched_rank_ops(a, r, &na);
    const pl_op *y = pl_sched_rank_ops(b, r, &nb);
    if (na != nb)
      fail_msg("%s: rank %d has %zu ops vs %zu", what, r, na, nb);
    for (size_t i = 0; i < na; i++)
      if (memcmp(&x[i], &y[i], sizeof x[i]))
        fail_msg("%s: rank %d op %zu differs", what, r, i);
  }
}

static const char *const NEW[] = {"dualpipev", "interleaved-zb",
                                  "interleaved-relaxed", "looped-bfs",
                                  "zbv-pytorch"};
#define NNEW (sizeof NEW / sizeof NEW[0])

/* Every new generator over p 1..8, m 1..24, v 1..4: it generates exactly
 * when its constraint holds; then the schedule validates, reads back from
 * its CSV op for op, and simulates (unequal costs, a latency) to a makespan
 * no shorter than the busiest rank's work with all activation released.
 * Each op runs once: S*m forwards and S*m backward parts. */
static void test_grid(void **state)
{
  (void)state;
  for (size_t k = 0; k < NNEW; k++) {
    int made = 0;
    const pl_gen_info *gi = pl_gen_find(NEW[k]);
    assert_non_null(gi);
    assert_int_equal(gi->default_chunks, 2);
    for (int p = 1; p <= 8; p++)
      for (int m = 1; m <= 24; m++)
        for (int v = 1; v <= 4; v++) {
          char what[96];
          snprintf(what, sizeof what, "%s p=%d m=%d v=%d", NEW[k], p, m, v);
          pl_gen_params gp = PL_GEN_PARAMS_INIT;
          gp.p = p;
          gp.m = m;
          gp.v = v;
          pl_sched *s = NULL, *back = NULL;
          struct pl_errbuf eb = PL_ERRBUF_INIT;
          int rc = pl_sched_gen(NEW[k], &gp, &s, &eb);
          int want = expected_ok(NEW[k], p, m, v);
          if ((rc == 0) != want)
            fail_msg("%s: rc %d (%s), expected %s", what, rc, eb.msg,
                     want ? "a schedule" : "a refusal");
          if (rc) {
            assert_int_equal(rc, PL_EINVAL);
            continue;
          }
          made++;
          if (pl_sched_validate(s, &eb))
            fail_msg("%s: %s", what, eb.msg);
          int S = pl_sched_stages(s);
          assert_int_equal(S, p * v);
          size_t fparts = 0, bparts = 0;
          for (int r = 0; r < p; r++) {
            size_t n;
            const pl_op *o = pl_sched_rank_ops(s, r, &n);
            for (size_t i = 0; i < n; i++) {
              fparts += o[i].kind == PL_OP_F || o[i].kind == PL_OP_FB;
              bparts += o[i].kind == PL_OP_B || o[i].kind == PL_OP_BW ||
                        o[i].kind == PL_OP_FB;
            }
          }
          assert_true(fparts == (size_t)S * m);
          assert_true(bparts == (size_t)S * m);
          struct pl_buf b;
          pl_buf_init(&b, PL_BUF_MAX_DEFAULT);
          assert_int_equal(pl_sched_write_csv(s, &b), 0);
          if (pl_sched_read_csv(b.buf, b.len, PL_DIALECT_AUTO, &back, NULL,
                                &eb))
            fail_msg("%s: read back: %s", what, eb.msg);
          assert_same_ops(s, back, what);
          pl_buf_free(&b);
          pl_costs *c = NULL;
          assert_int_equal(pl_costs_create(S, p, &c), 0);
          pl_costs_uniform(c, v, 1, 1.5, 0.5, 0.25, 0.5);
          c->fb_overlap = 0.5;
          pl_result r = PL_RESULT_INIT;
          if (pl_sim_run(back, c, 0, &r, &eb))
            fail_msg("%s: simulate: %s", what, eb.msg);
          for (int i = 0; i < p; i++) {
            assert_true(fabs(r.ranks[i].end_mem) < 1e-9);
            assert_true(r.makespan >= r.ranks[i].busy - 1e-9);
          }
          pl_result_free(&r);
          pl_costs_destroy(c);
          pl_sched_destroy(back);
          pl_sched_destroy(s);
        }
    assert_true(made > 100);
  }
}

/* The DualPipe README's DualPipeV row, in chunk units with PP = 2p stages:
 * bubble (PP/2 - 1)(F&B + B - 3W), B the full backward of a chunk, F&B the
 * fused op; activation PP + 1 chunks = p + 1/2 units of M_B. For equal
 * F = I = W = t the bubble of the last rank (the largest) is exactly that,
 * (p - 1)(2 - x) t with fused ops priced at overlap x; with x = 0 every
 * rank has it and it does not grow with m. */
static void test_dualpipev_closed_form(void **state)
{
  (void)state;
  static const double xs[] = {0, 0.25, 0.5, 1};
  for (int p = 1; p <= 8; p++)
    for (int m = 2 * p; m <= 4 * p; m += p)
      for (size_t k = 0; k < 4; k++) {
        pl_sched *s = pl_test_gen("dualpipev", p, m, 0);
        pl_costs *c = NULL;
        assert_int_equal(pl_costs_create(2 * p, p, &c), 0);
        /* Rank times 2: one chunk op (F, I, W) costs t = 1. */
        pl_costs_uniform(c, 2, 2, 2, 2, 0, 0);
        c->fb_overlap = xs[k];
        pl_result r = PL_RESULT_INIT;
        struct pl_errbuf eb = PL_ERRBUF_INIT;
        assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), 0);
        double t = 1, fb = 3 * t - xs[k] * t, B = 2 * t, W = t;
        double want = (p - 1) * (fb + B - 3 * W), most = 0;
        for (int i = 0; i < p; i++) {
          double bub = r.makespan - r.ranks[i].busy;
          if (bub > most)
            most = bub;
          if (xs[k] == 0)
            assert_true(bub == want);
          assert_true(r.ranks[i].peak_mem == p + 0.5);
        }
        if (most != want)
          fail_msg("p=%d m=%d x=%g: bubble %g, want %g", p, m, xs[k], most,
                   want);
        assert_true(r.ranks[p - 1].busy + want == r.makespan);
        pl_result_free(&r);
        pl_costs_destroy(c);
        pl_sched_destroy(s);
      }
}

/* interleaved-relaxed, rank r: peak min(w_r + 1, v m) / v units with
 * w_r = 2(p-1-r) + (v-1) mpr, for every m PyTorch's rounds rule accepts. */
static void test_relaxed_peaks(void **state)
{
  (void)state;
  int cases = 0;
  for (int p = 1; p <= 6; p++)
    for (int v = 1; v <= 3; v++)
      for (int m = 1; m <= 16; m++) {
        if (!rounds_ok(p, m))
          continue;
        int rounds = m / p > 1 ? m / p : 1, mpr = m / rounds;
        pl_sched *s = pl_test_gen("interleaved-relaxed", p, m, v);
        pl_costs *c = NULL;
        assert_int_equal(pl_costs_create(p * v, p, &c), 0);
        pl_costs_uniform(c, v, 1, 1, 1, 0, 0.5);
        double peaks[6];
        assert_int_equal(pl_sched_mem_peaks(s, c, peaks), 0);
        for (int r = 0; r < p; r++) {
          int w = 2 * (p - 1 - r) + (v - 1) * mpr;
          double want = (double)(w + 1 < v * m ? w + 1 : v * m) / v;
          if (fabs(peaks[r] - want) > 1e-12)
            fail_msg("p=%d m=%d v=%d rank %d: peak %g want %g", p, m, v, r,
                     peaks[r], want);
        }
        pl_costs_destroy(c);
        pl_sched_destroy(s);
        cases++;
      }
  assert_true(cases > 200);
}

/* ------------------------------------------- fused ops and all-to-all --- */

/* A fused op costs max(F, B) + (1 - x) min(F, B) = F + B - x min(F, B); its
 * parts' all-to-alls are hidden unless they alone outlast the compute;
 * unfused F, B and BW each pay theirs, W none. */
static void test_fused_op_price(void **state)
{
  (void)state;
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(2, 1, &c), 0);
  pl_costs_uniform(c, 1, 3, 5, 2, 0, 0.5); /* F 3, B 5, W 2, BW 7 */
  pl_op fb = PL_OP_INIT;
  fb.kind = PL_OP_FB;
  fb.stage = 0;
  fb.mb = 1;
  fb.stage2 = 1;
  fb.mb2 = 0;
  fb.kind2 = PL_OP_BW;
  assert_true(pl_costs_op_time(c, &fb, 0) == 10); /* x = 0: F + BW */
  c->fb_overlap = 1;
  assert_true(pl_costs_op_time(c, &fb, 0) == 7); /* max(3, 7) */
  c->fb_overlap = 0.5;
  assert_true(pl_costs_op_time(c, &fb, 0) == 8.5); /* 7 + 0.5 * 3 */
  fb.kind2 = PL_OP_B;
  c->fb_overlap = 1;
  assert_true(pl_costs_op_time(c, &fb, 0) == 5); /* max(3, 5) */
  c->stage[0].a2a = c->stage[1].a2a = 2;
  assert_true(pl_costs_op_time(c, &fb, 0) == 5); /* 2 + 2 hidden */
  c->stage[1].a2a = 4;
  assert_true(pl_costs_op_time(c, &fb, 0) == 6); /* comm-bound: 2 + 4 */
  pl_op f = PL_OP_INIT, b = PL_OP_INIT, w = PL_OP_INIT, bw = PL_OP_INIT;
  f.kind = PL_OP_F;
  b.kind = PL_OP_B;
  w.kind = PL_OP_W;
  bw.kind = PL_OP_BW;
  f.stage = b.stage = w.stage = bw.stage = 0;
  f.mb = b.mb = w.mb = bw.mb = 0;
  assert_true(pl_costs_op_time(c, &f, 0) == 5);
  assert_true(pl_costs_op_time(c, &b, 0) == 7);
  assert_true(pl_costs_op_time(c, &bw, 0) == 9);
  assert_true(pl_costs_op_time(c, &w, 0) == 2);
  c->rank_speed[0] = 2; /* compute slows down, the all-to-all does not */
  assert_true(pl_costs_op_time(c, &f, 0) == 8);
  pl_costs_destroy(c);
}

/* 1F1B with an all-to-all T per F and per BW: makespan
 * (m + p - 1)(F + BW + 2T), with and without it. */
static void test_a2a_1f1b_closed_form(void **state)
{
  (void)state;
  for (int p = 1; p <= 6; p++)
    for (int m = p; m <= 3 * p; m++)
      for (int k = 0; k < 3; k++) {
        double T = 0.5 * k, tf = 1, tb = 1.5, tw = 0.5;
        pl_gen_params gp = PL_GEN_PARAMS_INIT;
        gp.p = p;
        gp.m = m;
        pl_sched *s = NULL;
        struct pl_errbuf eb = PL_ERRBUF_INIT;
        assert_int_equal(pl_sched_gen("1f1b", &gp, &s, &eb), 0);
        pl_costs *c = NULL;
        assert_int_equal(pl_costs_create(p, p, &c), 0);
        pl_costs_uniform(c, 1, tf, tb, tw, 0, 0.5);
        for (int g = 0; g < p; g++)
          c->stage[g].a2a = T;
        pl_result r = PL_RESULT_INIT;
        assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), 0);
        double want = (m + p - 1) * (tf + tb + tw + 2 * T);
        if (r.makespan != want)
          fail_msg("p=%d m=%d T=%g: makespan %g want %g", p, m, T, r.makespan,
                   want);
        pl_result_free(&r);
        pl_costs_destroy(c);
        pl_sched_destroy(s);
      }
}

/* DualPipeV on one rank (p = 1, m = 2) runs F F F BW (F&B) BW I W without
 * waiting: the makespan is the sum of its op times, the fused one priced
 * F + BW - x min(F, BW) and hiding its all-to-alls; the engine times every
 * op exactly as pl_costs_op_time does. */
static void test_fused_in_engine(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("dualpipev", 1, 2, 0);
  static const double xs[] = {0, 0.5, 1};
  for (size_t k = 0; k < 3; k++)
    for (int a = 0; a < 2; a++) {
      pl_costs *c = NULL;
      assert_int_equal(pl_costs_create(2, 1, &c), 0);
      pl_costs_uniform(c, 2, 2, 3, 1, 0, 0.5); /* chunk F 1, I 1.5, W .5 */
      c->fb_overlap = xs[k];
      double T = a ? 0.25 : 0; /* per chunk op */
      c->stage[0].a2a = c->stage[1].a2a = T;
      double F = 1 + T, BW = 2 + T, I = 1.5 + T, W = 0.5;
      double fused = 1 + 2 - xs[k] * 1;
      double want = 3 * F + BW + fused + BW + I + W;
      pl_result r = PL_RESULT_INIT;
      struct pl_errbuf eb = PL_ERRBUF_INIT;
      assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS, &r, &eb), 0);
      if (r.makespan != want)
        fail_msg("x=%g T=%g: makespan %g want %g", xs[k], T, r.makespan,
                 want);
      for (size_t i = 0; i < r.n_ops; i++)
        assert_true(r.ops[i].end - r.ops[i].start ==
                    pl_costs_op_time(c, &r.ops[i].op, r.ops[i].rank));
      pl_result_free(&r);
      pl_costs_destroy(c);
    }
  pl_sched_destroy(s);
}

/* The what-if of docs/pytorch-schedules.md: p = 4, m = 16, rank times F 10,
 * I 10, W 8, latency 0.2. Dense (no all-to-all) ZB-V wins; with an
 * all-to-all of 4 per F and per B that only DualPipeV's fused ops hide,
 * DualPipeV wins by 600 / 528.6. */
static double whatif_makespan(const char *name, double a2a)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 4;
  gp.m = 16;
  gp.tf = 10;
  gp.tb = 10;
  gp.tw = 8;
  gp.comm = 0.2;
  gp.mem_w_frac = 0.366412;
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen(name, &gp, &s, &eb), 0);
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(8, 4, &c), 0);
  pl_costs_uniform(c, 2, 10, 10, 8, 0.2, 0.366412);
  for (int g = 0; g < 8; g++)
    c->stage[g].a2a = a2a / 2;
  pl_result r = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), 0);
  double t = r.makespan;
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  return t;
}

static void test_dualpipev_beats_zbv_with_a2a(void **state)
{
  (void)state;
  assert_true(fabs(whatif_makespan("zb-v", 0) - 466) < 1e-9);
  assert_true(fabs(whatif_makespan("dualpipev", 0) - 486.6) < 1e-9);
  assert_true(fabs(whatif_makespan("zb-v", 4) - 600) < 1e-9);
  assert_true(fabs(whatif_makespan("dualpipev", 4) - 528.6) < 1e-9);
}

/* The generators' refusals name the rule and a fix. */
static void test_refusals(void **state)
{
  (void)state;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  gp.p = 4;
  gp.m = 7;
  assert_int_equal(pl_sched_gen("dualpipev", &gp, &s, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "m >= 2p = 8"));
  gp.m = 9;
  assert_int_equal(pl_sched_gen("interleaved-relaxed", &gp, &s, &eb),
                   PL_EINVAL);
  assert_non_null(strstr(eb.msg, "--microbatches 8 or 10"));
  gp.m = 8;
  gp.v = 3;
  assert_int_equal(pl_sched_gen("zbv-pytorch", &gp, &s, &eb), PL_EINVAL);
  assert_null(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dualpipev_fixture),
    cmocka_unit_test(test_interleaved_zb_fixture),
    cmocka_unit_test(test_exact_orders),
    cmocka_unit_test(test_relaxed_equals_megatron),
    cmocka_unit_test(test_grid),
    cmocka_unit_test(test_dualpipev_closed_form),
    cmocka_unit_test(test_relaxed_peaks),
    cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_fused_op_price),
    cmocka_unit_test(test_a2a_1f1b_closed_form),
    cmocka_unit_test(test_fused_in_engine),
    cmocka_unit_test(test_dualpipev_beats_zbv_with_a2a),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
