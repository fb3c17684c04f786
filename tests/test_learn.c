/* test_learn.c: costs learned from a measured profile (pl_learn_fit,
 * pl_learned_apply, the database store and the cost provider). A
 * simulated ZB-H1 iteration with known per-stage costs, op gap and P2P time
 * is fitted exactly, and re-simulating it with the learned table gives the
 * same makespan; a V schedule gets half of each profile stage per chunk;
 * +-4 % jitter keeps every median within 4 % and a 3x outlier is
 * excluded; too few samples and missing op kinds are PL_EPARSE; a stored
 * profile reads back equal and, through the provider, wins over the
 * analytic model for its GPU and model key with source "learned". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/models.h"
#include "pl_test.h"

/* Known costs: stage g has F = 10 + g, B = 8 + g, W = 4 + 0.5 g, BW = B +
 * W; op gap 0.5, P2P 0.25 per message (us). */
static const double GAP = 0.5, COMM = 0.25;
static double truth(int g, int k)
{
  switch (k) {
  case PL_OP_F: return 10 + g;
  case PL_OP_B: return 8 + g;
  case PL_OP_W: return 4 + 0.5 * g;
  default: return 12 + 1.5 * g;
  }
}

/* A simulated profile; o = the per-message host time at both ends. */
static void profile_o(const char *name, int p, int m, double o, pl_result *r)
{
  pl_sched *s = pl_test_gen(name, p, m, 0);
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_costs_create(pl_sched_stages(s), p, &c), PL_OK);
  assert_int_equal(pl_costs_uniform(c, 1, 1, 1, 1, COMM, 0.5), PL_OK);
  for (int g = 0; g < c->n_stages; g++)
    for (int k = 0; k < 4; k++)
      c->stage[g].t[k] = truth(g, k);
  c->op_gap = GAP;
  c->send_overhead = c->recv_overhead = o;
  snprintf(c->time_unit, sizeof c->time_unit, "us");
  pl_result z = PL_RESULT_INIT;
  *r = z;
  assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS, r, &eb), PL_OK);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

static void profile(const char *name, int p, int m, pl_result *r)
{
  profile_o(name, p, m, 0, r);
}

static pl_learned *fit(const pl_result *r, double b_frac, int expect)
{
  pl_learn_opts o = PL_LEARN_OPTS_INIT;
  o.b_frac = b_frac;
  const pl_result *it[1] = {r};
  pl_learned *l = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_learn_fit(it, 1, &o, &l, &eb), expect);
  if (expect)
    assert_null(l);
  return l;
}

/* Prices the profiled schedule from what was learned and checks that it
 * re-simulates to the profile's makespan; returns the chunk split. */
static int assert_resim(const pl_learned *l, const char *name, int p, int m,
                        const pl_result *r)
{
  pl_sched *s = pl_test_gen(name, p, m, 0);
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int f = 0;
  assert_int_equal(pl_costs_create(pl_sched_stages(s), p, &c), PL_OK);
  assert_int_equal(pl_learned_apply(l, s, c, &f, &eb), PL_OK);
  assert_int_equal(c->source[PL_OP_F], PL_SRC_LEARNED);
  assert_string_equal(pl_cost_source_name(c->source[PL_OP_B]), "learned");
  assert_true(c->send_overhead == l->msg.median);
  assert_true(c->recv_overhead == l->msg.median);
  pl_result r2 = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &r2, &eb), PL_OK);
  assert_true(fabs(r2.makespan - r->makespan) < 1e-9 * r->makespan);
  pl_result_free(&r2);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  return f;
}

static void test_exact_fit(void **state)
{
  (void)state;
  pl_result r;
  profile("zb-h1", 3, 6, &r);
  pl_learned *l = fit(&r, 0, PL_OK);
  assert_int_equal(l->ranks, 3);
  assert_int_equal(l->stages, 3);
  assert_string_equal(l->schedule, "zb-h1");
  for (int g = 0; g < 3; g++) {
    for (int k = PL_OP_F; k <= PL_OP_W; k++) {
      assert_true(l->stage[g].t[k].median == truth(g, k));
      assert_int_equal(l->stage[g].t[k].count, 6);
      assert_int_equal(l->stage[g].t[k].excluded, 0);
      assert_true(l->stage[g].t[k].dispersion == 0);
    }
    /* no BW in a zero-bubble profile: B + W */
    assert_true(l->stage[g].t[PL_OP_BW].derived);
    assert_true(l->stage[g].t[PL_OP_BW].median == truth(g, PL_OP_B) +
                                                      truth(g, PL_OP_W));
  }
  assert_true(fabs(l->gap.median - GAP) < 1e-9);
  assert_true(l->gap.count > 0);
  assert_true(fabs(l->comm.median - COMM) < 1e-9);
  assert_true(l->comm.count > 0);
  assert_true(fabs(l->latency - COMM) < 1e-9);
  assert_true(l->bandwidth == 0);
  assert_true(l->have_split);

  /* Re-simulating the profiled schedule reproduces its makespan. */
  assert_int_equal(assert_resim(l, "zb-h1", 3, 6, &r), 1);
  pl_sched *s;
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int f = 0;

  /* ZB-V on the same 3 ranks: 6 virtual stages, each half a profile stage */
  s = pl_test_gen("zb-v", 3, 6, 0);
  assert_int_equal(pl_costs_create(6, 3, &c), PL_OK);
  assert_int_equal(pl_learned_apply(l, s, c, &f, &eb), PL_OK);
  assert_int_equal(f, 2);
  for (int g = 0; g < 6; g++)
    for (int k = PL_OP_F; k <= PL_OP_W; k++)
      assert_true(c->stage[g].t[k] == truth(g / 2, k) / 2);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  /* another rank count is refused */
  s = pl_test_gen("1f1b", 2, 4, 0);
  assert_int_equal(pl_costs_create(2, 2, &c), PL_OK);
  assert_int_equal(pl_learned_apply(l, s, c, NULL, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "3 ranks"));
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  pl_learned_free(l);
  pl_result_free(&r);
}

/* Per-message host time: a simulated 1F1B profile whose sends and
 * receives each cost O (copies outside the ops) is fitted exactly: the
 * ready gaps next to messages give O, the per-op gap stays GAP, and the
 * waits (O + latency + O) leave the latency COMM; re-simulating the profile
 * from what was learned gives its makespan. A local hand-off stays free
 * (the runtimes profiled pass a pointer). */
static void test_msg_overhead_fit(void **state)
{
  (void)state;
  const double O = 0.75;
  pl_result r;
  profile_o("1f1b", 3, 8, O, &r);
  pl_learned *l = fit(&r, 0.6, PL_OK);
  assert_true(fabs(l->gap.median - GAP) < 1e-9);
  assert_true(l->msg.count > 0);
  assert_true(fabs(l->msg.median - O) < 1e-9);
  assert_true(fabs(l->comm.median - (COMM + 2 * O)) < 1e-9);
  assert_true(fabs(l->latency - COMM) < 1e-9);
  assert_resim(l, "1f1b", 3, 8, &r);
  pl_sched *s = pl_test_gen("zb-v", 3, 6, 0);
  pl_costs *c = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_costs_create(6, 3, &c), PL_OK);
  c->local_overhead = 1;
  snprintf(l->source, sizeof l->source, "cpu");
  assert_int_equal(pl_learned_apply(l, s, c, NULL, &eb), PL_OK);
  assert_int_equal(c->local_overhead, 0);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  pl_learned_free(l);
  pl_result_free(&r);
  /* Fewer than 3 gaps next to messages (1F1B, p = 2, m = 4 has two): one
   * lengthened by interference does not move the figure, the smallest is
   * kept. Rank 0's F1 starts 5 later (its gap after F0's send grows). */
  profile_o("1f1b", 2, 4, O, &r);
  for (size_t i = 0; i < r.n_ops; i++)
    if (r.ops[i].rank == 0 && r.ops[i].op.kind == PL_OP_F &&
        r.ops[i].op.mb == 1)
      r.ops[i].start += 5;
  l = fit(&r, 0.6, PL_OK);
  assert_int_equal(l->msg.count, 2);
  assert_true(fabs(l->msg.median - O) < 1e-9);
  pl_learned_free(l);
  pl_result_free(&r);
  /* no overheads in the profile: none learned, latency unchanged */
  profile("1f1b", 3, 8, &r);
  l = fit(&r, 0.6, PL_OK);
  assert_true(l->msg.median == 0);
  assert_true(fabs(l->latency - COMM) < 1e-9);
  pl_learned_free(l);
  pl_result_free(&r);
}

/* 1F1B profile: BW only; B and W come from the split (or are refused). */
static void test_bw_split(void **state)
{
  (void)state;
  pl_result r;
  profile("1f1b", 2, 4, &r);
  pl_learned *l = fit(&r, 0, PL_OK);
  assert_false(l->have_split);
  assert_true(l->stage[1].t[PL_OP_BW].median == truth(1, PL_OP_BW));
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = pl_test_gen("zb-h1", 2, 4, 0);
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(2, 2, &c), PL_OK);
  assert_int_equal(pl_learned_apply(l, s, c, NULL, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "--b-frac"));
  pl_learned_free(l);
  l = fit(&r, 0.75, PL_OK);
  assert_int_equal(pl_learned_apply(l, s, c, NULL, &eb), PL_OK);
  assert_true(fabs(c->stage[0].t[PL_OP_B] - 0.75 * truth(0, PL_OP_BW)) <
              1e-12);
  assert_true(fabs(c->stage[0].t[PL_OP_W] - 0.25 * truth(0, PL_OP_BW)) <
              1e-12);
  assert_true(l->stage[0].t[PL_OP_B].derived);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  pl_learned_free(l);
  pl_result_free(&r);
}

/* +-4 % deterministic jitter on every op's duration: medians within 4 %;
 * one op 3x slower is excluded as an outlier. */
static void test_noise(void **state)
{
  (void)state;
  pl_result r;
  profile("zb-h1", 2, 8, &r);
  uint64_t x = 12345;
  for (size_t i = 0; i < r.n_ops; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    double j = ((double)(x >> 11) / 9007199254740992.0 * 2 - 1) * 0.04;
    r.ops[i].end = r.ops[i].start + (r.ops[i].end - r.ops[i].start) * (1 + j);
  }
  /* rank 0's first F: 3x its duration */
  r.ops[0].end = r.ops[0].start + 3 * truth(0, PL_OP_F);
  pl_learned *l = fit(&r, 0, PL_OK);
  for (int g = 0; g < 2; g++)
    for (int k = PL_OP_F; k <= PL_OP_W; k++) {
      const pl_learned_stat *t = &l->stage[g].t[k];
      assert_true(fabs(t->median - truth(g, k)) <= 0.04 * truth(g, k));
      assert_true(t->dispersion > 0 && t->dispersion < 0.06);
    }
  assert_int_equal(l->stage[0].t[PL_OP_F].excluded, 1);
  assert_int_equal(l->stage[0].t[PL_OP_F].count, 7);
  assert_true(l->stage[0].t[PL_OP_F].max < 1.05 * truth(0, PL_OP_F));
  pl_learned_free(l);
  pl_result_free(&r);
}

/* The op-time jitter a profile measured: 0 for exact costs; with every
 * group's microbatches scaled by exp(sigma z), z = -2, -1, 0, 0, 1, 2, the
 * log ratios to the group medians have MAD sigma: 1.4826 sigma. */
static void test_learned_jitter(void **state)
{
  (void)state;
  pl_result r;
  profile("zb-h1", 3, 6, &r);
  pl_learned *l = fit(&r, 0, PL_OK);
  assert_true(l->jitter == 0);
  pl_learned_free(l);
  static const double z[6] = {-2, -1, 0, 0, 1, 2};
  const double sg = 0.05;
  for (size_t i = 0; i < r.n_ops; i++) {
    double d = r.ops[i].end - r.ops[i].start;
    r.ops[i].end = r.ops[i].start + d * exp(sg * z[r.ops[i].op.mb]);
  }
  l = fit(&r, 0, PL_OK);
  assert_true(fabs(l->jitter - 1.4826 * sg) < 1e-9);
  /* the pooled ratios are -2, -1, 0, 0, 1, 2 sigma in equal numbers: the
   * extreme quantiles are +-2 sigma, the median 0 */
  assert_int_equal(l->n_jitter_q, PL_JITTER_Q);
  assert_true(fabs(l->jitter_q[0] + 2 * sg) < 1e-9);
  assert_true(fabs(l->jitter_q[PL_JITTER_Q - 1] - 2 * sg) < 1e-9);
  assert_true(fabs(l->jitter_q[PL_JITTER_Q / 2]) < 1e-9);
  pl_learned_free(l);
  pl_result_free(&r);
}

static void test_bad_profiles(void **state)
{
  (void)state;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_learn_opts o = PL_LEARN_OPTS_INIT;
  pl_learned *l = NULL;
  /* m = 2: two samples per (stage, kind), three needed */
  profile("1f1b", 2, 2, &r);
  const pl_result *it[1] = {&r};
  assert_int_equal(pl_learn_fit(it, 1, &o, &l, &eb), PL_EPARSE);
  assert_null(l);
  assert_non_null(strstr(eb.msg, "too few samples"));
  o.min_samples = 2;
  assert_int_equal(pl_learn_fit(it, 1, &o, &l, &eb), PL_OK);
  pl_learned_free(l);
  l = NULL;
  pl_result_free(&r);
  /* stage 1 without its backward ops */
  profile("1f1b", 2, 4, &r);
  size_t w = 0;
  for (size_t i = 0; i < r.n_ops; i++)
    if (!(r.ops[i].op.stage == 1 && r.ops[i].op.kind == PL_OP_BW))
      r.ops[w++] = r.ops[i];
  r.n_ops = w;
  o.min_samples = 0;
  assert_int_equal(pl_learn_fit(it, 1, &o, &l, &eb), PL_EPARSE);
  assert_non_null(strstr(eb.msg, "missing op kind: stage 1"));
  assert_null(l);
  /* no per-op rows */
  r.n_ops = 0;
  assert_int_equal(pl_learn_fit(it, 1, &o, &l, &eb), PL_EPARSE);
  assert_non_null(strstr(eb.msg, "no per-op rows"));
  pl_result_free(&r);
}

static void fill_provenance(pl_learned *l, const char *dev, const char *key)
{
  pl_sha256 h;
  pl_sha256_init(&h);
  pl_sha256_update(&h, "profile", 7);
  pl_sha256_hex(&h, l->source_sha256);
  snprintf(l->device, sizeof l->device, "%s", dev);
  snprintf(l->workload_key, sizeof l->workload_key, "%s", key);
  snprintf(l->git_rev, sizeof l->git_rev, "abc123");
}

static void test_store_and_provider(void **state)
{
  (void)state;
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_open(":memory:", 0, 0, &db, &eb), PL_OK);
  assert_int_equal(pl_db_schema_version(db), PL_DB_SCHEMA_VERSION);
  pl_result r;
  profile("zb-h1", 2, 4, &r);
  pl_learned *l = fit(&r, 0, PL_OK);
  pl_model_spec m;
  pl_gpu_spec g;
  assert_int_equal(pl_db_get_model(db, "gpt3-125m", &m, &eb), PL_OK);
  assert_int_equal(pl_db_get_gpu(db, "h100", &g, &eb), PL_OK);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  char key[128];
  assert_int_equal(pl_learned_model_key(&m, &cfg, key, sizeof key), PL_OK);
  assert_string_equal(key, "model=gpt3-125m,mb=1,seq=2048,tp=1");

  /* analytic before anything is learned */
  pl_sched *s = pl_test_gen("zb-h1", 2, 4, 0);
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_MODEL;
  rq.model = &m;
  rq.gpu = &g;
  rq.cfg = &cfg;
  rq.db = db;
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_OK);
  assert_int_equal(plan.source[PL_OP_F], PL_SRC_ANALYTIC);
  assert_true(c->stage[0].t[PL_OP_F] != truth(0, PL_OP_F));
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);

  /* store under h100 and the model's key: learned wins, flagged; a
   * scatter to store with it (schema 7) */
  fill_provenance(l, "h100", key);
  l->jitter = 0.031;
  l->msg.median = 0.375; /* schema 8 */
  l->msg.dispersion = 0.125;
  l->msg.count = 5;
  l->n_jitter_q = PL_JITTER_Q;
  for (int k = 0; k < PL_JITTER_Q; k++)
    l->jitter_q[k] = -0.05 + 0.01 * k * k / 20.0;
  pl_calib_info info = PL_CALIB_INFO_INIT;
  info.method = "test";
  int64_t id = 0;
  assert_int_equal(pl_db_learned_store(db, l, &info, &id, &eb), PL_OK);
  assert_true(id > 0);
  plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_OK);
  for (int k = PL_OP_F; k <= PL_OP_BW; k++) {
    assert_int_equal(plan.source[k], PL_SRC_LEARNED);
    assert_int_equal(c->source[k], PL_SRC_LEARNED);
  }
  for (int st = 0; st < 2; st++)
    for (int k = PL_OP_F; k <= PL_OP_W; k++)
      assert_true(c->stage[st].t[k] == truth(st, k));
  assert_true(fabs(c->op_gap - GAP) < 1e-9);
  assert_true(fabs(c->comm_latency - COMM) < 1e-9);
  assert_true(c->send_overhead == 0.375 && c->recv_overhead == 0.375);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);

  /* read back: equal to what was stored */
  pl_learned *b = NULL;
  assert_int_equal(pl_db_learned_load(db, "h100", key, &b, &id, &eb), PL_OK);
  assert_string_equal(b->schedule, "zb-h1");
  assert_string_equal(b->device, "h100");
  assert_string_equal(b->source_sha256, l->source_sha256);
  assert_string_equal(b->git_rev, "abc123");
  assert_int_equal(b->stages, 2);
  for (int st = 0; st < 2; st++)
    for (int k = 0; k < 4; k++) {
      assert_true(b->stage[st].t[k].median == l->stage[st].t[k].median);
      assert_int_equal(b->stage[st].t[k].count, l->stage[st].t[k].count);
      assert_int_equal(b->stage[st].t[k].derived, l->stage[st].t[k].derived);
    }
  assert_true(b->gap.median == l->gap.median);
  assert_true(b->comm.median == l->comm.median);
  assert_true(b->jitter == 0.031);
  assert_true(b->msg.median == 0.375 && b->msg.dispersion == 0.125);
  assert_int_equal(b->msg.count, 5);
  assert_int_equal(b->n_jitter_q, PL_JITTER_Q);
  for (int k = 0; k < PL_JITTER_Q; k++)
    assert_true(b->jitter_q[k] == l->jitter_q[k]);
  pl_learned_free(b);
  /* LEARNED from the database: newest profile, any device */
  rq = (pl_cost_request)PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_LEARNED;
  rq.db = db;
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
  assert_true(c->stage[1].t[PL_OP_W] == truth(1, PL_OP_W));
  assert_int_equal(c->source[PL_OP_W], PL_SRC_LEARNED);
  assert_true(c->stage[0].mem_b == 1 && c->stage[0].mem_w == 0.5);
  pl_costs_destroy(c);
  /* nothing learned under another key */
  assert_int_equal(pl_db_learned_load(db, "h100", "other", &b, NULL, &eb),
                   PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, "calibrate --from"));
  /* a failing store leaves nothing behind (unknown device) */
  fill_provenance(l, "no-such-gpu", "k2");
  assert_int_not_equal(pl_db_learned_store(db, l, &info, NULL, &eb), PL_OK);
  assert_int_equal(pl_db_learned_load(db, NULL, "k2", &b, NULL, &eb),
                   PL_ENOTFOUND);
  pl_sched_destroy(s);
  pl_learned_free(l);
  pl_result_free(&r);
  pl_db_close(db);
}

static void test_sha256(void **state)
{
  (void)state;
  pl_sha256 h;
  char hex[65];
  pl_sha256_init(&h);
  pl_sha256_update(&h, "abc", 3);
  pl_sha256_hex(&h, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                           "b00361a396177a9cb410ff61f20015ad");
  pl_sha256_init(&h);
  for (int i = 0; i < 1000; i++) /* 1000 x 'a' in uneven pieces */
    pl_sha256_update(&h, "a", 1);
  pl_sha256_hex(&h, hex);
  assert_string_equal(hex, "41edece42d63e8d9bf515a9ba6932e1c"
                           "20cbc9f5a5d134645adb5db1b9737ea3");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exact_fit),
    cmocka_unit_test(test_msg_overhead_fit),
    cmocka_unit_test(test_bw_split),
    cmocka_unit_test(test_noise),
    cmocka_unit_test(test_learned_jitter),
    cmocka_unit_test(test_bad_profiles),
    cmocka_unit_test(test_store_and_provider),
    cmocka_unit_test(test_sha256),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
