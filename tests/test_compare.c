/* test_compare.c: predicted-versus-real comparison on hand-made results with
 * known errors, the PyTorch action parser and the Kineto import. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/models.h"
#include "pipelab/traces.h"

#define NEAR(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))

/* 1F1B, p = 4, m = 8, per-rank F = tf, B = W = tb (BW = 2 tb). */
static void sim_1f1b(double tf, double tb, pl_result *r)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  pl_sched *s;
  pl_costs *c;
  gp.p = 4;
  gp.m = 8;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, &eb), 0);
  assert_int_equal(pl_costs_create(4, 4, &c), 0);
  assert_int_equal(pl_costs_uniform(c, 1, tf, tb, tb, 0, 0.5), 0);
  pl_result z = PL_RESULT_INIT;
  *r = z;
  assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM, r,
                              &eb),
                   0);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* Deep copy through the result-file JSON (also exercises the reader). */
static void copy_result(const pl_result *a, pl_result *b)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  json_t *j = pl_result_to_json(a);
  assert_int_equal(pl_result_add_detail_json(j, a), 0);
  assert_int_equal(pl_result_from_json(j, b, &eb), 0);
  json_decref(j);
}

static void test_ten_percent(void **state)
{
  (void)state;
  pl_result p, r;
  pl_compare c = PL_COMPARE_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  sim_1f1b(1, 1, &p);
  sim_1f1b(1.1, 1.1, &r); /* every op 10% longer */
  assert_int_equal(pl_compare_results(&p, &r, &c, &eb), 0);
  NEAR(c.pred_iter, 33, 1e-12);
  NEAR(c.real_iter, 36.3, 1e-9);
  NEAR(c.iter_error_pct, 10, 1e-9);
  /* Both bubbles are (p-1)/(m+p-1) = 3/11: difference 0 points. */
  NEAR(c.pred_bubble, 3.0 / 11, 1e-12);
  NEAR(c.bubble_diff_points, 0, 1e-9);
  assert_int_equal(c.matched, 64);
  assert_int_equal(c.missing, 0);
  assert_int_equal(c.extra, 0);
  assert_int_equal(c.n_kinds, 8); /* 4 ranks x (F, BW) */
  for (size_t i = 0; i < c.n_kinds; i++) {
    assert_int_equal(c.kinds[i].n, 8);
    NEAR(c.kinds[i].error_pct, 10, 1e-9);
    NEAR(c.kinds[i].pred_mean, c.kinds[i].kind == PL_OP_F ? 1 : 2, 1e-12);
  }
  for (int i = 0; i < 4; i++)
    NEAR(c.ranks[i].peak_diff, 0, 0);
  json_t *j = pl_compare_to_json(&c);
  NEAR(json_number_value(json_object_get(json_object_get(j, "iteration"),
                                         "error_pct")),
       10, 1e-9);
  json_decref(j);
  struct pl_buf b;
  pl_buf_init(&b, 0);
  assert_int_equal(pl_compare_to_csv(&c, &b), 0);
  assert_memory_equal(b.buf, "metric,rank,op,count,predicted,real,difference,"
                             "difference_pct,unit\niteration_time,all,all,,33,",
                      73);
  pl_buf_free(&b);
  pl_compare_free(&c);
  pl_result_free(&p);
  pl_result_free(&r);
}

/* Rank 0's last op (BW of microbatch 7, ending the iteration at 33) runs 3.3
 * longer: makespan 36.3 (+10%), busy sum 96 + 3.3 = 99.3, ideal 24.825,
 * bubble 1 - 24.825 / 36.3 = 0.316116 vs 1 - 24 / 33 = 0.272727, i.e.
 * +4.338843 points; rank 0's mean BW time (7 * 2 + 5.3) / 8 = 2.4125
 * (+20.625%). */
static void test_hand_bubble(void **state)
{
  (void)state;
  pl_result p, r;
  pl_compare c = PL_COMPARE_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  sim_1f1b(1, 1, &p);
  copy_result(&p, &r);
  size_t last0 = 0;
  for (size_t i = 0; i < r.n_ops; i++)
    if (r.ops[i].rank == 0)
      last0 = i;
  assert_int_equal(r.ops[last0].op.kind, PL_OP_BW);
  NEAR(r.ops[last0].end, 33, 0);
  r.ops[last0].end += 3.3;
  r.ranks[0].busy += 3.3;
  r.ranks[0].last_end += 3.3;
  pl_result_summarize(&r);
  assert_int_equal(pl_compare_results(&p, &r, &c, &eb), 0);
  NEAR(c.iter_error_pct, 10, 1e-9);
  NEAR(c.real_bubble, 1 - 24.825 / 36.3, 1e-12);
  NEAR(c.bubble_diff_points, 4.338843, 1e-6);
  int found = 0;
  for (size_t i = 0; i < c.n_kinds; i++) {
    const pl_compare_kind *k = &c.kinds[i];
    if (k->rank == 0 && k->kind == PL_OP_BW) {
      NEAR(k->real_mean, 2.4125, 1e-12);
      NEAR(k->error_pct, 20.625, 1e-9);
      NEAR(k->mean_abs_error, 3.3 / 8, 1e-12);
      found = 1;
    } else {
      NEAR(k->error_pct, 0, 0);
    }
  }
  assert_true(found);
  pl_compare_free(&c);
  pl_result_free(&p);
  pl_result_free(&r);
}

static void test_mismatch(void **state)
{
  (void)state;
  pl_result p, r;
  pl_compare c = PL_COMPARE_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  sim_1f1b(1, 1, &p);
  copy_result(&p, &r);
  /* Drop rank 3's last op (BW mb 7) and relabel rank 1's first op (F mb 0)
   * as mb 99: 2 ops missing from real, 1 extra. */
  r.n_ops--;
  assert_int_equal(r.ops[r.n_ops].rank, 3);
  size_t k = 0;
  while (r.ops[k].rank != 1)
    k++;
  assert_int_equal(r.ops[k].op.mb, 0);
  r.ops[k].op.mb = 99;
  assert_int_equal(pl_compare_results(&p, &r, &c, &eb), 0);
  assert_int_equal(c.matched, 62);
  assert_int_equal(c.missing, 2);
  assert_int_equal(c.extra, 1);
  assert_int_equal(c.missing_ops[0].rank, 1);
  assert_int_equal(c.missing_ops[0].op.kind, PL_OP_F);
  assert_int_equal(c.missing_ops[0].op.mb, 0);
  assert_int_equal(c.missing_ops[1].rank, 3);
  assert_int_equal(c.missing_ops[1].op.kind, PL_OP_BW);
  assert_int_equal(c.missing_ops[1].op.mb, 7);
  assert_int_equal(c.extra_ops[0].rank, 1);
  assert_int_equal(c.extra_ops[0].op.mb, 99);
  json_t *j = pl_compare_to_json(&c);
  json_t *ops = json_object_get(j, "ops");
  assert_int_equal(json_integer_value(json_object_get(ops, "missing")), 2);
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(ops, "extra_first"), 0),
                          "op")),
                      "F99s1");
  json_decref(j);
  pl_compare_free(&c);
  pl_result_free(&p);
  pl_result_free(&r);
}

static void test_units(void **state)
{
  (void)state;
  pl_result p, r;
  pl_compare c = PL_COMPARE_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  sim_1f1b(1, 1, &p);
  sim_1f1b(0.0011, 0.0011, &r);
  /* "unit" cannot be converted. */
  snprintf(r.time_unit, sizeof r.time_unit, "us");
  assert_int_equal(pl_compare_results(&p, &r, &c, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "time units differ"));
  snprintf(p.time_unit, sizeof p.time_unit, "us");
  snprintf(r.time_unit, sizeof r.time_unit, "ms");
  assert_int_equal(pl_compare_results(&p, &r, &c, &eb), 0);
  NEAR(c.time_factor, 1000, 0);
  NEAR(c.real_iter, 36.3, 1e-9);
  NEAR(c.iter_error_pct, 10, 1e-9);
  pl_compare_free(&c);
  /* Memory in different units is not compared. */
  snprintf(r.mem_unit, sizeof r.mem_unit, "bytes");
  assert_int_equal(pl_compare_results(&p, &r, &c, &eb), 0);
  assert_true(isnan(c.ranks[0].peak_diff));
  pl_compare_free(&c);
  /* Summary-only results: no per-op comparison, still an iteration error. */
  pl_free(r.ops);
  r.ops = NULL;
  r.n_ops = 0;
  assert_int_equal(pl_compare_results(&p, &r, &c, &eb), 0);
  assert_int_equal(c.per_op, 0);
  assert_int_equal(c.n_kinds, 0);
  NEAR(c.iter_error_pct, 10, 1e-9);
  pl_compare_free(&c);
  pl_result_free(&p);
  pl_result_free(&r);
}

static void test_parse_action(void **state)
{
  (void)state;
  static const struct {
    const char *s;
    int dialect, ret, kind, stage, mb, kind2, stage2, mb2;
  } cases[] = {
    {"2F0", 0, 1, PL_OP_F, 2, 0, 0, 0, 0},
    {"1I3", 0, 1, PL_OP_B, 1, 3, 0, 0, 0},
    {"0W1", 0, 1, PL_OP_W, 0, 1, 0, 0, 0},
    {"3B2", 0, 1, PL_OP_BW, 3, 2, 0, 0, 0},
    {"3B2", PL_DIALECT_LEGACY, 1, PL_OP_B, 3, 2, 0, 0, 0},
    {"3BW2", PL_DIALECT_LEGACY, 1, PL_OP_BW, 3, 2, 0, 0, 0},
    {" 12F345 ", 0, 1, PL_OP_F, 12, 345, 0, 0, 0},
    {"(0F7;7B3)OVERLAP_F_B", 0, 1, PL_OP_FB, 0, 7, PL_OP_BW, 7, 3},
    {"(7I3;0F7)OVERLAP_F_B", 0, 1, PL_OP_FB, 0, 7, PL_OP_B, 7, 3},
    {"0SEND_F1", 0, 0, 0, 0, 0, 0, 0, 0},
    {"1RECV_B0", 0, 0, 0, 0, 0, 0, 0, 0},
    {"1UNSHARD", 0, 0, 0, 0, 0, 0, 0, 0},
    {"0REDUCE_GRAD", 0, 0, 0, 0, 0, 0, 0, 0},
    {"F0", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"2X0", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"2F", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"2F0x", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"2I0", PL_DIALECT_LEGACY, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"(0F7)OVERLAP_F_B", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"(0F7;1F3)OVERLAP_F_B", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"(0F7;1SEND_F3)OVERLAP_F_B", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
    {"99999999999F0", 0, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pl_op op = PL_OP_INIT;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    int rc = pl_trace_parse_action(cases[i].s, strlen(cases[i].s),
                                   cases[i].dialect, &op, &eb);
    if (rc != cases[i].ret)
      fail_msg("case %zu '%s': got %d (%s)", i, cases[i].s, rc, eb.msg);
    if (rc != 1)
      continue;
    assert_int_equal(op.kind, cases[i].kind);
    assert_int_equal(op.stage, cases[i].stage);
    assert_int_equal(op.mb, cases[i].mb);
    if (op.kind == PL_OP_FB) {
      assert_int_equal(op.kind2, cases[i].kind2);
      assert_int_equal(op.stage2, cases[i].stage2);
      assert_int_equal(op.mb2, cases[i].mb2);
    }
  }
}

static void test_kineto_small(void **state)
{
  (void)state;
  static const struct {
    int rank, kind, stage, mb;
    double start, end;
  } want[] = {
    {0, PL_OP_F, 0, 0, 0, 10},   {0, PL_OP_F, 0, 1, 12, 22},
    {0, PL_OP_B, 0, 0, 40, 52},  {0, PL_OP_W, 0, 0, 52, 60},
    {0, PL_OP_B, 0, 1, 70, 82},  {0, PL_OP_W, 0, 1, 82, 90},
    {1, PL_OP_F, 1, 0, 13, 23},  {1, PL_OP_BW, 1, 0, 23, 38},
    {1, PL_OP_F, 1, 1, 38, 48},  {1, PL_OP_BW, 1, 1, 50, 65},
  };
  const char *path = PL_TEST_DATA "/kineto_small.json";
  pl_result r = PL_RESULT_INIT;
  pl_kineto_info info;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_kineto_opts o = PL_KINETO_OPTS_INIT;
  int rc = pl_kineto_load(&path, 1, &o, &r, &info, &eb);
  if (rc)
    fail_msg("%s", eb.msg);
  assert_int_equal(info.track, PL_KINETO_GPU);
  assert_int_equal(info.comm_actions, 2);
  assert_string_equal(r.source, "kineto");
  assert_string_equal(r.time_unit, "us");
  assert_int_equal(r.stages, 2);
  assert_int_equal(r.microbatches, 2);
  assert_int_equal(r.n_ops, 10);
  for (size_t i = 0; i < 10; i++) {
    assert_int_equal(r.ops[i].rank, want[i].rank);
    assert_int_equal(r.ops[i].op.kind, want[i].kind);
    assert_int_equal(r.ops[i].op.stage, want[i].stage);
    assert_int_equal(r.ops[i].op.mb, want[i].mb);
    NEAR(r.ops[i].start, want[i].start, 1e-9);
    NEAR(r.ops[i].end, want[i].end, 1e-9);
  }
  /* makespan 90; busy 60 and 50: bubble 1 - 55 / 90. */
  NEAR(r.makespan, 90, 1e-9);
  NEAR(r.bubble_ratio, 1 - 55.0 / 90, 1e-12);
  NEAR(r.ranks[1].first_start, 13, 1e-9);
  assert_true(isnan(r.ranks[0].peak_mem));

  /* The imported result goes through a result file and into compare. */
  pl_result back = PL_RESULT_INIT;
  pl_compare c = PL_COMPARE_INIT;
  json_t *j = pl_result_to_json(&r);
  assert_int_equal(pl_result_add_detail_json(j, &r), 0);
  assert_int_equal(pl_result_from_json(j, &back, &eb), 0);
  json_decref(j);
  assert_int_equal(pl_compare_results(&back, &r, &c, &eb), 0);
  assert_int_equal(c.matched, 10);
  NEAR(c.iter_error_pct, 0, 0);
  assert_true(isnan(c.ranks[0].peak_diff));
  pl_compare_free(&c);
  pl_result_free(&back);
  pl_result_free(&r);

  /* Host-side annotations: both sit on pid 4242, so both are rank 0. */
  o.track = PL_KINETO_CPU;
  assert_int_equal(pl_kineto_load(&path, 1, &o, &r, &info, &eb), 0);
  assert_int_equal(r.n_ops, 2);
  NEAR(r.ops[0].start, 0, 1e-9);
  NEAR(r.ops[1].start, 4, 1e-9);
  pl_result_free(&r);
}

static void test_kineto_multi(void **state)
{
  (void)state;
  /* Two per-rank files, rank from distributedInfo, aligned by
   * baseTimeNanoseconds (1 µs apart); rank 0 profiled two steps. */
  const char *a = "{\"distributedInfo\":{\"rank\":1,\"world_size\":2},"
                  "\"baseTimeNanoseconds\":2000,\"traceEvents\":["
                  "{\"ph\":\"X\",\"cat\":\"user_annotation\",\"name\":"
                  "\"PP:1F0\",\"pid\":77,\"tid\":1,\"ts\":5,\"dur\":3}]}";
  const char *b = "{\"distributedInfo\":{\"rank\":0,\"world_size\":2},"
                  "\"baseTimeNanoseconds\":1000,\"traceEvents\":["
                  "{\"ph\":\"X\",\"cat\":\"user_annotation\",\"name\":"
                  "\"PP:0F0\",\"pid\":77,\"tid\":1,\"ts\":50,\"dur\":2},"
                  "{\"ph\":\"X\",\"cat\":\"user_annotation\",\"name\":"
                  "\"PP:0F0\",\"pid\":77,\"tid\":1,\"ts\":1,\"dur\":3}]}";
  json_t *docs[2] = {json_loads(a, 0, NULL), json_loads(b, 0, NULL)};
  const char *names[2] = {"r1.json", "r0.json"};
  pl_result r = PL_RESULT_INIT;
  pl_kineto_info info;
  pl_kineto_opts o = PL_KINETO_OPTS_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_kineto_import(docs, names, 2, &o, &r, &info, &eb), 0);
  assert_int_equal(info.track, PL_KINETO_CPU);
  assert_int_equal(info.repeated, 1);
  assert_int_equal(r.n_ops, 2);
  assert_int_equal(r.ops[0].rank, 0);
  NEAR(r.ops[0].start, 0, 1e-9);
  NEAR(r.ops[0].end, 3, 1e-9);
  assert_int_equal(r.ops[1].rank, 1);
  NEAR(r.ops[1].start, 5, 1e-9); /* 5 + 1 µs base offset - origin 1 */
  pl_result_free(&r);
  o.iteration = 1;
  assert_int_equal(pl_kineto_import(docs, names, 2, &o, &r, &info, &eb), 0);
  assert_int_equal(r.n_ops, 1);
  NEAR(r.ops[0].end - r.ops[0].start, 2, 1e-9);
  pl_result_free(&r);

  /* rank map: pid 77 of a file without distributedInfo. */
  json_object_del(docs[0], "distributedInfo");
  int map[2] = {77, 1};
  o.iteration = 0;
  o.rank_map = map;
  o.n_rank_map = 1;
  assert_int_equal(pl_kineto_import(docs, names, 1, &o, &r, &info, &eb), 0);
  assert_int_equal(r.ops[0].rank, 1);
  assert_int_equal(r.stages, 2);
  pl_result_free(&r);
  map[0] = 78;
  assert_int_equal(pl_kineto_import(docs, names, 1, &o, &r, &info, &eb),
                   PL_EPARSE);
  assert_non_null(strstr(eb.msg, "pid 77 is not in the rank map"));

  /* A bad action names the file and the event. */
  json_t *bad = json_loads("{\"traceEvents\":[{\"ph\":\"X\",\"cat\":"
                           "\"user_annotation\",\"name\":\"PP:2Q0\",\"pid\":0,"
                           "\"tid\":0,\"ts\":0,\"dur\":1}]}",
                           0, NULL);
  const char *bn = "bad.json";
  o.rank_map = NULL;
  o.n_rank_map = 0;
  assert_int_equal(pl_kineto_import(&bad, &bn, 1, &o, &r, &info, &eb),
                   PL_EPARSE);
  assert_non_null(strstr(eb.msg, "bad.json: traceEvents[0].name"));
  json_decref(bad);
  json_decref(docs[0]);
  json_decref(docs[1]);
}

/* History: record three runs of one case (33, 36.3 = +10%, 33.33 = +1%),
 * read one back, list them with drift against the first run. */
/* The one error definition and the readable-number helpers. */
static void test_error_and_units(void **state)
{
  (void)state;
  /* (real - pred) / pred, denoised: exact for decimal inputs. */
  assert_true(pl_error_pct(33, 36.3) == 10);
  assert_true(pl_error_pct(33, 35.31) == 7);
  assert_true(pl_error_pct(100, 90) == -10);
  assert_true(pl_error_pct(0, 0) == 0);
  assert_true(isnan(pl_error_pct(0, 1)));
  assert_true(isnan(pl_error_pct(-1, 1)));
  assert_true(isnan(pl_error_pct(NAN, 1)));
  /* compare uses it: 33 predicted, 36.3 real. */
  char b[48];
  assert_int_equal(pl_fmt_duration(b, sizeof b, 3068312.085, "us"), 0);
  assert_string_equal(b, "3.068 s");
  assert_int_equal(pl_fmt_duration(b, sizeof b, 515011, "us"), 0);
  assert_string_equal(b, "515.0 ms");
  assert_int_equal(pl_fmt_duration(b, sizeof b, 999.96, "us"), 0);
  assert_string_equal(b, "1000 us");
  assert_int_equal(pl_fmt_duration(b, sizeof b, 0.25, "us"), 0);
  assert_string_equal(b, "250.0 ns");
  assert_int_equal(pl_fmt_duration(b, sizeof b, 0.0185, "s"), 0);
  assert_string_equal(b, "18.50 ms");
  assert_int_equal(pl_fmt_duration(b, sizeof b, 27.5, "unit"), 0);
  assert_string_equal(b, "27.5 unit");
  assert_int_equal(pl_fmt_duration(b, sizeof b, 26.333333, "unit"), 0);
  assert_string_equal(b, "26.33 unit");
  assert_int_equal(pl_fmt_duration(b, sizeof b, NAN, "us"), 0);
  assert_string_equal(b, "n/a");
  assert_int_equal(pl_fmt_bytes(b, sizeof b, 1.739461755e11), 0);
  assert_string_equal(b, "162.00 GiB");
  assert_int_equal(pl_fmt_bytes(b, sizeof b, 164096), 0);
  assert_string_equal(b, "160.25 KiB");
  assert_int_equal(pl_fmt_bytes(b, sizeof b, 512), 0);
  assert_string_equal(b, "512 B");
  assert_int_equal(pl_fmt_mem(b, sizeof b, 4.36641, "units"), 0);
  assert_string_equal(b, "4.37 units");
  assert_int_equal(pl_fmt_mem(b, sizeof b, 4, "units"), 0);
  assert_string_equal(b, "4 units");
  const char *u;
  assert_true(pl_time_display(1200000, "us", &u) == 1e-6);
  assert_string_equal(u, "s");
  assert_true(pl_bytes_display(2e10, &u) == 1.0 / 1073741824.0);
  assert_string_equal(u, "GiB");
  /* Denoising and the shortest round-trip text. */
  double x = 0;
  for (int i = 0; i < 33; i++)
    x += 1.1;
  assert_true(x != 36.3);
  assert_true(pl_denoise(x, x) == 36.3);
  /* 14 significant digits of the scale (1), not of x. */
  assert_true(pl_denoise(1.0 / 3, 1) == 0.3333333333333);
  assert_true(pl_denoise(1.0 / 3, 1.0 / 3) == 0.33333333333333);
  assert_int_equal(pl_fmt_real(b, sizeof b, 36.3), 0);
  assert_string_equal(b, "36.3");
  assert_int_equal(pl_fmt_real(b, sizeof b, 0.1 + 0.2), 0);
  assert_string_equal(b, "0.30000000000000004");
  assert_int_equal(pl_fmt_real(b, sizeof b, 1e300), 0);
  assert_string_equal(b, "1e300");
  json_t *j = json_pack("{s:f,s:f,s:s,s:i}", "a", 36.3, "b", 1e-5, "c",
                        "x 1.50 y", "d", 7);
  char *t = pl_json_dumps(j, JSON_COMPACT);
  assert_string_equal(t, "{\"a\":36.3,\"b\":1e-5,\"c\":\"x 1.50 y\",\"d\":7}");
  pl_free(t);
  json_decref(j);
}

static void test_history(void **state)
{
  (void)state;
  pl_db *db;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_db_open(":memory:", 0, 0, &db, &eb))
    fail_msg("%s", eb.msg);
  pl_result a, b, c, back;
  sim_1f1b(1, 1, &a);
  sim_1f1b(1.1, 1.1, &b);
  sim_1f1b(1.01, 1.01, &c);
  int64_t ida, idb, idc;
  pl_history_params hp = PL_HISTORY_PARAMS_INIT;
  hp.label = "nightly";
  assert_int_equal(pl_history_record(db, &a, &hp, &ida, &eb), 0);
  assert_int_equal(pl_history_record(db, &b, &hp, &idb, &eb), 0);
  assert_int_equal(pl_history_record(db, &c, NULL, &idc, &eb), 0);
  assert_true(ida < idb && idb < idc);

  assert_int_equal(pl_history_load(db, idb, &back, &eb), 0);
  assert_int_equal(back.n_ops, 64);
  assert_string_equal(back.schedule, "1f1b");
  NEAR(back.makespan, b.makespan, 1e-12);
  NEAR(back.bubble_ratio, b.bubble_ratio, 1e-12);
  pl_compare cmp = PL_COMPARE_INIT;
  assert_int_equal(pl_compare_results(&a, &back, &cmp, &eb), 0);
  assert_int_equal(cmp.matched, 64);
  NEAR(cmp.iter_error_pct, 10, 1e-9);
  pl_compare_free(&cmp);
  pl_result_free(&back);
  assert_int_equal(pl_history_load(db, 999, &back, &eb), PL_ENOTFOUND);

  pl_history_run *v;
  size_t n;
  pl_history_query q = PL_HISTORY_QUERY_INIT;
  assert_int_equal(pl_history_list(db, &q, &v, &n, &eb), 0);
  assert_int_equal(n, 3);
  assert_int_equal(v[0].baseline, 0);
  assert_int_equal(v[0].flagged, 0);
  assert_int_equal(v[1].baseline, ida);
  NEAR(v[1].drift_pct, 10, 1e-9);
  assert_int_equal(v[1].flagged, 1);
  NEAR(v[2].drift_pct, 1, 1e-9);
  assert_int_equal(v[2].flagged, 0);
  assert_string_equal(v[1].label, "nightly");
  assert_string_equal(v[1].kind, "simulated");
  pl_free(v);
  /* Against run b with a 0.5% threshold: a and c are both flagged. */
  q.baseline = idb;
  q.threshold_pct = 0.5;
  assert_int_equal(pl_history_list(db, &q, &v, &n, &eb), 0);
  NEAR(v[0].drift_pct, 100 * (33 - 36.3) / 36.3, 1e-9);
  assert_int_equal(v[0].flagged + v[1].flagged + v[2].flagged, 2);
  pl_free(v);
  q.baseline = 0;
  q.schedule = "gpipe";
  assert_int_equal(pl_history_list(db, &q, &v, &n, &eb), 0);
  assert_int_equal(n, 0);
  pl_free(v);
  pl_result_free(&a);
  pl_result_free(&b);
  pl_result_free(&c);
  pl_db_close(db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ten_percent),  cmocka_unit_test(test_hand_bubble),
    cmocka_unit_test(test_mismatch),     cmocka_unit_test(test_units),
    cmocka_unit_test(test_parse_action), cmocka_unit_test(test_kineto_small),
    cmocka_unit_test(test_kineto_multi), cmocka_unit_test(test_history),
    cmocka_unit_test(test_error_and_units),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
