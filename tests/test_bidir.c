/*
 * test_bidir.c: the wave and bidirectional schedules of sim/gen_bidir.c
 * (docs/bidirectional.md) and the IR's replicated stages: over a grid of
 * (p, m) every schedule validates, simulates to zero activation and (where
 * PyTorch's CSV can express it) round-trips; the closed forms of Chimera
 * (bubble ratio (D-2)/(2N+D-2) for N = D), DualPipe ((PP/2-1)(F&B+B-3W))
 * and Hanayo ((p-1)(F+B)/(2W)); the copies' all-reduce at the end; the
 * per-stage costs file; per-rank zb-auto limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "pl_test.h"

/* Simulates s with uniform costs (chunk ops cost 1/v of the rank times). */
static pl_result run(const pl_sched *s, double tf, double tb, double tw,
                     double comm, double w, unsigned flags)
{
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(pl_sched_stages(s), pl_sched_ranks(s), &c),
                   0);
  pl_costs_uniform(c, pl_sched_chunks(s), tf, tb, tw, comm, w);
  pl_result r = PL_RESULT_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_sim_run(s, c, flags, &r, &eb))
    fail_msg("%s: %s", pl_sched_name(s), eb.msg);
  pl_costs_destroy(c);
  return r;
}

/* Every (stage, mb) runs once, on the rank of its pipeline's copy. */
static void check_ops(const pl_sched *s, const char *what)
{
  int p = pl_sched_ranks(s), S = pl_sched_stages(s),
      m = pl_sched_microbatches(s);
  size_t f = 0, b = 0;
  for (int r = 0; r < p; r++) {
    size_t n;
    const pl_op *o = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++) {
      if (o[i].kind == PL_OP_F || o[i].kind == PL_OP_FB) {
        f++;
        if (pl_sched_op_rank(s, o[i].stage, o[i].mb) != r)
          fail_msg("%s: F%ds%d on rank %d", what, o[i].mb, o[i].stage, r);
      }
      b += o[i].kind == PL_OP_B || o[i].kind == PL_OP_BW ||
           o[i].kind == PL_OP_FB;
    }
  }
  assert_true(f == (size_t)S * m);
  assert_true(b == (size_t)S * m);
}

static void test_grid(void **state)
{
  (void)state;
  int made = 0;
  for (int p = 1; p <= 8; p++)
    for (int m = 1; m <= 24; m++) {
      char what[96];
      /* Hanayo, 1-3 waves: round-trips through PyTorch's CSV. */
      for (int w = 1; w <= 3; w++) {
        snprintf(what, sizeof what, "hanayo p=%d m=%d W=%d", p, m, w);
        pl_sched *s = pl_test_gen("hanayo", p, m, 2 * w), *back = NULL;
        assert_int_equal(pl_sched_replicated(s), 0);
        assert_int_equal(pl_sched_placement(s), PL_PLACE_V);
        check_ops(s, what);
        struct pl_buf bf;
        struct pl_errbuf eb = PL_ERRBUF_INIT;
        pl_buf_init(&bf, PL_BUF_MAX_DEFAULT);
        assert_int_equal(pl_sched_write_csv(s, &bf), 0);
        if (pl_sched_read_csv(bf.buf, bf.len, PL_DIALECT_AUTO, &back, NULL,
                              &eb))
          fail_msg("%s: read back: %s", what, eb.msg);
        assert_int_equal(pl_sched_total_ops(back), pl_sched_total_ops(s));
        for (int r = 0; r < p; r++) {
          size_t n1, n2;
          const pl_op *a = pl_sched_rank_ops(s, r, &n1);
          const pl_op *b2 = pl_sched_rank_ops(back, r, &n2);
          assert_true(n1 == n2);
          for (size_t i = 0; i < n1; i++)
            assert_true(a[i].kind == b2[i].kind && a[i].stage == b2[i].stage &&
                        a[i].mb == b2[i].mb);
        }
        pl_buf_free(&bf);
        pl_result r = run(back, 1, 1.5, 0.5, 0.25, 0.5, 0);
        for (int i = 0; i < p; i++)
          assert_true(fabs(r.ranks[i].end_mem) < 1e-9);
        pl_result_free(&r);
        pl_sched_destroy(back);
        pl_sched_destroy(s);
        made++;
      }
      /* Chimera and DualPipe: copies, no CSV. */
      static const char *const bidir[] = {"chimera", "dualpipe"};
      for (int k = 0; k < 2; k++) {
        pl_gen_params gp = PL_GEN_PARAMS_INIT;
        gp.p = p;
        gp.m = m;
        pl_sched *s = NULL;
        struct pl_errbuf eb = PL_ERRBUF_INIT;
        int rc = pl_sched_gen(bidir[k], &gp, &s, &eb);
        int want = p % 2 == 0 && m % 2 == 0 && (k == 0 || m >= 2 * p);
        snprintf(what, sizeof what, "%s p=%d m=%d", bidir[k], p, m);
        if ((rc == 0) != want)
          fail_msg("%s: rc %d (%s)", what, rc, eb.msg);
        if (rc) {
          assert_int_equal(rc, PL_EINVAL);
          continue;
        }
        if (pl_sched_validate(s, &eb))
          fail_msg("%s: %s", what, eb.msg);
        assert_int_equal(pl_sched_replicated(s), 1);
        assert_int_equal(pl_sched_stages(s), p);
        for (int g = 0; g < p; g++) {
          assert_int_equal(pl_sched_stage_rank(s, g), g);
          assert_int_equal(pl_sched_replica_rank(s, g), p - 1 - g);
        }
        int up = 0;
        for (int mb = 0; mb < m; mb++)
          up += pl_sched_mb_pipe(s, mb);
        assert_int_equal(up, m / 2);
        check_ops(s, what);
        /* Each rank runs two stages: its own and a copy. */
        for (int r = 0; r < p; r++) {
          size_t n;
          const pl_op *o = pl_sched_rank_ops(s, r, &n);
          int own = 0, copy = 0;
          for (size_t i = 0; i < n; i++) {
            own += o[i].stage == r;
            copy += o[i].stage == p - 1 - r;
          }
          assert_true(own > 0 && copy > 0);
        }
        struct pl_buf bf;
        pl_buf_init(&bf, PL_BUF_MAX_DEFAULT);
        assert_int_equal(pl_sched_write_csv(s, &bf), PL_ENOTSUP);
        pl_buf_free(&bf);
        pl_pt_sched *pt = NULL;
        assert_int_equal(pl_pt_from_sched(s, &pt, &eb), PL_ENOTSUP);
        assert_non_null(strstr(eb.msg, "cannot express"));
        pl_sched *cl = NULL;
        assert_int_equal(pl_sched_clone(s, &cl), 0);
        assert_int_equal(pl_sched_validate(cl, &eb), 0);
        pl_result r = run(cl, 1, 1.5, 0.5, 0.25, 0.5, PL_SIM_RECORD_OPS);
        for (int i = 0; i < p; i++)
          assert_true(fabs(r.ranks[i].end_mem) < 1e-9);
        for (size_t i = 0; i < r.n_ops; i++)
          assert_true(r.ops[i].op.stage >= 0 && r.ops[i].op.stage < p);
        assert_int_equal(r.virtual_stages, p);
        pl_result_free(&r);
        pl_sched_destroy(cl);
        pl_sched_destroy(s);
        made++;
      }
    }
  assert_true(made > 600);
}

/* Chimera (Li & Hoefler, SC21, Table 1): for D stages and N = D
 * microbatches the bubble ratio is (D-2)/(2N+D-2), with a forward and a
 * backward of equal length: makespan (3D/2 - 1)(F + B). */
static void test_chimera_closed_form(void **state)
{
  (void)state;
  for (int d = 2; d <= 16; d += 2) {
    pl_sched *s = pl_test_gen("chimera", d, d, 0);
    pl_result r = run(s, 1, 1, 0, 0, 0, 0);
    assert_true(r.makespan == (3.0 * d / 2 - 1) * 2);
    double want = (double)(d - 2) / (2 * d + d - 2);
    if (fabs(r.bubble_ratio - want) > 1e-12)
      fail_msg("D=%d: bubble ratio %g, want %g", d, r.bubble_ratio, want);
    /* 1F1B over the same D microbatches: (D - 1)/(N + D - 1). */
    pl_sched *o = pl_test_gen("1f1b", d, d, 0);
    pl_result r1 = run(o, 1, 1, 0, 0, 0, 0);
    assert_true(r1.makespan == (2.0 * d - 1) * 2);
    assert_true(r.makespan <= r1.makespan);
    pl_result_free(&r1);
    pl_sched_destroy(o);
    pl_result_free(&r);
    pl_sched_destroy(s);
  }
}

/* DualPipe README: bubble (PP/2 - 1)(F&B + B - 3W), B a full backward, F&B
 * a fused op; with F = I = W = 1 every rank idles exactly that at overlap
 * 0 whatever m. */
static void test_dualpipe_closed_form(void **state)
{
  (void)state;
  for (int p = 2; p <= 10; p += 2)
    for (int m = 2 * p; m <= 4 * p; m += 2) {
      pl_sched *s = pl_test_gen("dualpipe", p, m, 0);
      pl_result r = run(s, 1, 1, 1, 0, 0, 0);
      double fb = 3, B = 2, W = 1, want = (p / 2 - 1) * (fb + B - 3 * W);
      for (int i = 0; i < p; i++) {
        double bub = r.makespan - r.ranks[i].busy;
        if (bub != want)
          fail_msg("p=%d m=%d rank %d: bubble %g, want %g", p, m, i, bub,
                   want);
        assert_true(r.ranks[i].busy == 3.0 * m);
      }
      pl_result_free(&r);
      pl_sched_destroy(s);
    }
}

/* Hanayo with W waves and F = B: bubble (p-1)(F+B)/(2W), i.e. ratio
 * (p-1)/(p-1+2Wm), the wave pipeline's; never above p units. */
static void test_hanayo_closed_form(void **state)
{
  (void)state;
  for (int p = 2; p <= 8; p++)
    for (int w = 1; w <= 3; w++)
      for (int m = p; m <= 4 * p; m += p) {
        pl_sched *s = pl_test_gen("hanayo", p, m, 2 * w);
        pl_result r = run(s, 1, 1, 0, 0, 0, 0);
        double want = 2.0 * m + (p - 1) * 2.0 / (2 * w);
        if (fabs(r.makespan - want) > 1e-9)
          fail_msg("p=%d m=%d W=%d: makespan %g, want %g", p, m, w,
                   r.makespan, want);
        for (int i = 0; i < p; i++)
          assert_true(r.ranks[i].peak_mem <= p + 1e-9);
        pl_result_free(&r);
        pl_sched_destroy(s);
      }
}

/* The copies' gradient all-reduce is paid at the end: each rank holds two
 * replicated stages, so with T per stage the last pair ends 2T later. */
static void test_replica_allreduce(void **state)
{
  (void)state;
  pl_sched *s = pl_test_gen("chimera", 4, 4, 0);
  pl_result base = run(s, 1, 1, 0, 0, 0, 0);
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(4, 4, &c), 0);
  pl_costs_uniform(c, 1, 1, 1, 0, 0, 0);
  for (int g = 0; g < 4; g++)
    c->stage[g].allreduce = 1.5;
  pl_result r = PL_RESULT_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), 0);
  assert_true(base.makespan == 10);
  assert_true(r.makespan == base.makespan + 3);
  for (int i = 0; i < 4; i++) {
    int peer = 3 - i;
    double e = base.ranks[i].last_end > base.ranks[peer].last_end
                   ? base.ranks[i].last_end
                   : base.ranks[peer].last_end;
    assert_true(r.ranks[i].last_end == e + 3);
    assert_true(r.ranks[i].busy == base.ranks[i].busy);
  }
  /* A schedule without copies ignores the field. */
  pl_sched *o = pl_test_gen("1f1b", 4, 4, 0);
  pl_result r1 = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(o, c, 0, &r1, &eb), 0);
  assert_true(r1.makespan == 14);
  pl_result_free(&r1);
  pl_sched_destroy(o);
  pl_result_free(&r);
  pl_result_free(&base);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

/* A microbatch of the copies' pipeline needs a copy of every stage; an op
 * on the wrong rank names the copy. */
static void test_replica_validation(void **state)
{
  (void)state;
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_create(2, 2, 2, PL_PLACE_SINGLE, &s, &eb), 0);
  assert_int_equal(pl_sched_set_replica(s, 0, 1), 0);
  assert_int_equal(pl_sched_set_mb_pipe(s, 1, 1), 0);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "stage 1 has no copy"));
  assert_int_equal(pl_sched_set_replica(s, 1, 0), 0);
  assert_int_equal(pl_sched_op_rank(s, 0, 1), 1);
  assert_int_equal(pl_sched_op_rank(s, 0, 0), 0);
  /* mb 0 down (rank 0 -> 1), mb 1 up (rank 1 -> 0). */
  assert_int_equal(pl_sched_push3(s, 0, PL_OP_F, 0, 0), 0);
  assert_int_equal(pl_sched_push3(s, 0, PL_OP_F, 1, 1), 0);
  assert_int_equal(pl_sched_push3(s, 0, PL_OP_BW, 1, 1), 0);
  assert_int_equal(pl_sched_push3(s, 0, PL_OP_BW, 0, 0), 0);
  assert_int_equal(pl_sched_push3(s, 1, PL_OP_F, 0, 1), 0);
  assert_int_equal(pl_sched_push3(s, 1, PL_OP_F, 1, 0), 0);
  assert_int_equal(pl_sched_push3(s, 1, PL_OP_BW, 1, 0), 0);
  assert_int_equal(pl_sched_push3(s, 1, PL_OP_BW, 0, 1), 0);
  assert_int_equal(pl_sched_validate(s, &eb), 0);
  pl_result r = run(s, 1, 1, 0, 0, 0, 0);
  /* Both ranks: F at 0 and 1, the loss B at 2, the last B at 3. */
  assert_true(r.makespan == 4);
  pl_result_free(&r);
  assert_int_equal(pl_sched_push3(s, 0, PL_OP_F, 0, 1), 0);
  assert_int_equal(pl_sched_validate(s, &eb), PL_EINVALSCHED);
  assert_non_null(strstr(eb.msg, "(its copy), which is placed on rank 1"));
  pl_sched_destroy(s);
}

/* --stage-costs: per-stage F, B, W, bytes and an optional P2P time. */
static void test_stage_costs_file(void **state)
{
  (void)state;
  static const char ok[] =
      "stage,F,B,W,act,kept,p2p\n0,2,2,1,100,50\n# the middle\n"
      "1,1,1,1,80,40,0.5\n2,1,1,1,80,40\n3,1,3,2,120,60\n";
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_costs_create(4, 4, &c), 0);
  assert_int_equal(pl_costs_read_stage_csv(c, ok, strlen(ok), &eb), 0);
  assert_true(c->stage[3].t[PL_OP_BW] == 5);
  assert_true(c->stage[0].mem_b == 100 && c->stage[0].mem_w == 50);
  assert_true(pl_costs_comm(c, 1) == 0.5);
  assert_string_equal(c->mem_unit, "bytes");
  pl_sched *s = pl_test_gen("1f1b", 4, 8, 0);
  pl_result r = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), 0);
  assert_true(r.ranks[0].busy == 8 * 5 && r.ranks[3].busy == 8 * 6);
  assert_true(r.ranks[2].first_start == 3.5); /* 2 + 1 + the 0.5 P2P */
  assert_true(r.ranks[0].peak_mem == 400);    /* 4 warm-up forwards */
  assert_true(r.makespan == 60);
  pl_result_free(&r);
  pl_sched_destroy(s);
  static const char *const bad[] = {
      "0,1,1,1,10,5\n1,1,1,1,10,5\n2,1,1,1,10,5\n",            /* no stage 3 */
      "0,1,1,1,10,5\n0,1,1,1,10,5\n",                           /* twice */
      "0,1,1,1,10,20\n",                                        /* kept > act */
      "0,1,1\n",                                                /* short row */
      "0,1,x,1,10,5\n",                                         /* not a number */
      "7,1,1,1,10,5\n",                                         /* no stage 7 */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(pl_costs_read_stage_csv(c, bad[i], strlen(bad[i]), &eb),
                     PL_EPARSE);
  pl_costs_destroy(c);
}

/* zb-auto under one limit per rank: no rank exceeds its own. */
static void test_zb_auto_rank_limits(void **state)
{
  (void)state;
  static const double lims[][4] = {
      {4, 4, 4, 4}, {8, 8, 8, 6}, {4, 3, 3, 2}, {2, 2, 2, 1.5}, {6, 2, 6, 2}};
  for (size_t k = 0; k < sizeof lims / sizeof lims[0]; k++) {
    pl_gen_params gp = PL_GEN_PARAMS_INIT;
    gp.p = 4;
    gp.m = 12;
    gp.mem_limits = lims[k];
    pl_sched *s = NULL;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    if (pl_sched_gen("zb-auto", &gp, &s, &eb))
      fail_msg("limits %zu: %s", k, eb.msg);
    assert_int_equal(pl_sched_validate(s, &eb), 0);
    pl_costs *c = NULL;
    assert_int_equal(pl_costs_create(4, 4, &c), 0);
    pl_costs_uniform(c, 1, 1, 1, 1, 0, 0.5);
    double peaks[4];
    assert_int_equal(pl_sched_mem_peaks(s, c, peaks), 0);
    for (int r = 0; r < 4; r++)
      if (peaks[r] > lims[k][r] + 1e-9)
        fail_msg("limits %zu rank %d: peak %g > %g", k, r, peaks[r],
                 lims[k][r]);
    pl_costs_destroy(c);
    pl_sched_destroy(s);
  }
  /* The same limit on every rank is exactly the single limit. */
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 4;
  gp.m = 12;
  gp.mem_limit = 3;
  pl_sched *a = NULL, *b = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen("zb-auto", &gp, &a, &eb), 0);
  static const double three[4] = {3, 3, 3, 3};
  gp.mem_limit = 0;
  gp.mem_limits = three;
  assert_int_equal(pl_sched_gen("zb-auto", &gp, &b, &eb), 0);
  for (int r = 0; r < 4; r++) {
    size_t n1, n2;
    const pl_op *x = pl_sched_rank_ops(a, r, &n1);
    const pl_op *y = pl_sched_rank_ops(b, r, &n2);
    assert_true(n1 == n2 && memcmp(x, y, n1 * sizeof *x) == 0);
  }
  pl_sched_destroy(a);
  pl_sched_destroy(b);
  static const double tiny[4] = {3, 0.5, 3, 3};
  gp.mem_limits = tiny;
  assert_int_equal(pl_sched_gen("zb-auto", &gp, &a, &eb), PL_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_grid),
    cmocka_unit_test(test_chimera_closed_form),
    cmocka_unit_test(test_dualpipe_closed_form),
    cmocka_unit_test(test_hanayo_closed_form),
    cmocka_unit_test(test_replica_allreduce),
    cmocka_unit_test(test_replica_validation),
    cmocka_unit_test(test_stage_costs_file),
    cmocka_unit_test(test_zb_auto_rank_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
