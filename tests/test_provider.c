/* test_provider.c: the one cost provider (pl_cost_provide). CONSTANT equals
 * pl_costs_uniform field by field (with bandwidth, time unit, rank speeds,
 * and the workload's bytes equal to pl_wl_apply_mem_costs); MODEL equals
 * pl_cost_build; WORKLOAD from a :memory: database with hand-inserted
 * calibration samples gives layers x per-layer times per stage, the input on
 * stage 0 and the loss on the last stage, the measured link (or the
 * device's default latency without one) and byte memory; a missing
 * calibration is PL_ENOTFOUND naming the device and the calibrate command;
 * bad requests are PL_EINVAL. pl_calib_apply_costs (exec's wrapper over
 * pl_cost_from_calibration) gives the hand-computed table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/exec.h"
#include "pipelab/models.h"
#include "pl_test.h"

static pl_db *open_mem(void)
{
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_open(":memory:", 0, 0, &db, &eb), PL_OK);
  return db;
}

/* Every field of two cost tables, exactly. */
static void assert_costs_equal(const pl_costs *a, const pl_costs *b)
{
  assert_int_equal(a->n_stages, b->n_stages);
  assert_int_equal(a->n_ranks, b->n_ranks);
  for (int g = 0; g < a->n_stages; g++) {
    const pl_stage_cost *x = &a->stage[g], *y = &b->stage[g];
    for (int k = 0; k < PL_OP_NKINDS; k++)
      assert_true(x->t[k] == y->t[k]);
    assert_true(x->mem_b == y->mem_b);
    assert_true(x->mem_w == y->mem_w);
    assert_true(x->msg_bytes == y->msg_bytes);
  }
  for (int r = 0; r < a->n_ranks; r++)
    assert_true(a->rank_speed[r] == b->rank_speed[r]);
  assert_true(a->comm_latency == b->comm_latency);
  assert_true(a->comm_bandwidth == b->comm_bandwidth);
  assert_true(a->fb_overlap == b->fb_overlap);
  for (int k = 0; k < PL_OP_NKINDS; k++)
    assert_int_equal(a->source[k], b->source[k]);
  assert_string_equal(a->time_unit, b->time_unit);
  assert_string_equal(a->mem_unit, b->mem_unit);
}

/* A non-NULL value that pl_cost_provide must overwrite with NULL on error. */
static pl_costs sentinel;

static pl_workload workload(int layers)
{
  pl_workload w = PL_WORKLOAD_INIT;
  w.layers = layers;
  w.hidden = 128;
  w.seq = 64;
  w.mb_size = 1;
  w.microbatches = 1;
  return w;
}

static void test_constant(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  static const struct {
    const char *sched;
    int p, m, v;
  } shapes[] = {{"1f1b", 4, 8, 0}, {"interleaved", 4, 8, 2},
                {"zb-v", 2, 4, 0}, {"zb-h1", 3, 6, 0}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    pl_sched *s = pl_test_gen(shapes[i].sched, shapes[i].p, shapes[i].m, shapes[i].v);
    int S = pl_sched_stages(s), R = pl_sched_ranks(s);
    /* Defaults: tf = tb = tw = 1, comm 0, mem_w_frac 0.5, "unit". */
    pl_cost_request rq = PL_COST_REQUEST_INIT;
    pl_costs *c = NULL, *u = NULL;
    assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
    assert_int_equal(pl_costs_create(S, R, &u), PL_OK);
    assert_int_equal(pl_costs_uniform(u, pl_sched_chunks(s), 1, 1, 1, 0, 0.5),
                     PL_OK);
    assert_costs_equal(c, u);
    assert_string_equal(c->time_unit, "unit");
    assert_string_equal(c->mem_unit, "units");
    pl_costs_destroy(c);
    pl_costs_destroy(u);

    /* Every constant, a bandwidth with its message size, a time unit and
     * rank speeds. */
    double speed[8] = {1, 2, 1.5, 3, 1, 1, 1, 1};
    rq.tf = 18522;
    rq.tb = 18086;
    rq.tw = 9337;
    rq.comm = 601;
    rq.mem_w_frac = 0.3664;
    rq.bandwidth = 1000;
    rq.msg_bytes = 4096;
    rq.time_unit = "us";
    rq.rank_speed = speed;
    assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
    assert_int_equal(pl_costs_create(S, R, &u), PL_OK);
    assert_int_equal(pl_costs_uniform(u, pl_sched_chunks(s), 18522, 18086,
                                      9337, 601, 0.3664), PL_OK);
    u->comm_bandwidth = 1000;
    for (int g = 0; g < S; g++)
      u->stage[g].msg_bytes = 4096;
    for (int r = 0; r < R; r++)
      u->rank_speed[r] = speed[r];
    snprintf(u->time_unit, sizeof u->time_unit, "us");
    assert_costs_equal(c, u);
    assert_true(pl_costs_comm(c, 0) == 601 + 4096.0 / 1000);
    pl_costs_destroy(c);
    pl_costs_destroy(u);

    /* A message size without a bandwidth is not applied (the CLI's
     * --msg-bytes alone). */
    rq.bandwidth = 0;
    rq.rank_speed = NULL;
    assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
    for (int g = 0; g < S; g++)
      assert_true(c->stage[g].msg_bytes == 0);
    assert_true(c->comm_bandwidth == 0);
    pl_costs_destroy(c);

    /* With a workload: memory in the bytes pl_wl_apply_mem_costs gives. */
    pl_workload w = workload(2 * S);
    rq.workload = &w;
    assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
    assert_int_equal(pl_costs_create(S, R, &u), PL_OK);
    assert_int_equal(pl_costs_uniform(u, pl_sched_chunks(s), 18522, 18086,
                                      9337, 601, 0.3664), PL_OK);
    snprintf(u->time_unit, sizeof u->time_unit, "us");
    assert_int_equal(pl_wl_apply_mem_costs(&w, u, &eb), PL_OK);
    assert_costs_equal(c, u);
    assert_string_equal(c->mem_unit, "bytes");
    assert_true(c->stage[0].msg_bytes == (double)pl_wl_msg_bytes(&w));
    pl_costs_destroy(c);
    pl_costs_destroy(u);

    /* Layers not divisible by the virtual stages. */
    w.layers = 2 * S + 1;
    c = &sentinel;
    assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_EINVAL);
    assert_null(c);
    assert_non_null(strstr(eb.msg, "not divisible"));
    pl_sched_destroy(s);
  }
}

static void test_model(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = open_mem();
  pl_model_spec m;
  pl_gpu_spec g;
  assert_int_equal(pl_db_get_model(db, "llama3-8b", &m, &eb), PL_OK);
  assert_int_equal(pl_db_get_gpu(db, "h100", &g, &eb), PL_OK);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.seq_len = 4096;
  cfg.flash_attn = 1;
  pl_sched *s = pl_test_gen("1f1b", 4, 8, 0);
  for (int with_db = 0; with_db < 2; with_db++) {
    pl_cost_request rq = PL_COST_REQUEST_INIT;
    rq.kind = PL_COSTS_MODEL;
    rq.model = &m;
    rq.gpu = &g;
    rq.cfg = &cfg;
    rq.db = with_db ? db : NULL;
    pl_costs *c = NULL, *b = NULL;
    pl_model_plan p1 = PL_MODEL_PLAN_INIT, p2 = PL_MODEL_PLAN_INIT;
    assert_int_equal(pl_cost_provide(&rq, s, &c, &p1, &eb), PL_OK);
    assert_int_equal(pl_cost_build(rq.db, &m, &g, &cfg, s, &b, &p2, &eb),
                     PL_OK);
    assert_costs_equal(c, b);
    assert_int_equal(p1.n_stages, p2.n_stages);
    assert_int_equal(p1.n_ranks, p2.n_ranks);
    for (int i = 0; i < p1.n_stages; i++)
      assert_int_equal(p1.layers[i], p2.layers[i]);
    for (int r = 0; r < p1.n_ranks; r++)
      assert_true(p1.rank[r].static_bytes == p2.rank[r].static_bytes);
    assert_true(p1.model_flops_iter == p2.model_flops_iter);
    assert_string_equal(c->time_unit, "us");
    pl_costs_destroy(c);
    pl_costs_destroy(b);
    pl_model_plan_free(&p1);
    pl_model_plan_free(&p2);
  }
  /* Rank speeds apply to a model table too. */
  double speed[4] = {1, 1, 2, 1};
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_MODEL;
  rq.model = &m;
  rq.gpu = &g;
  rq.cfg = &cfg;
  rq.rank_speed = speed;
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_OK);
  assert_true(c->rank_speed[2] == 2 && c->rank_speed[3] == 1);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
  pl_db_close(db);
}

static void add_sample(pl_db *db, const char *kind, int op, int seq,
                       double us)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sample x = PL_SAMPLE_INIT;
  x.op_kind = op;
  x.layer_kind = kind;
  x.mb_size = 1;
  x.seq_len = seq;
  x.hidden = 128;
  x.dtype = "fp64";
  x.mean_us = us;
  assert_int_equal(pl_db_calibration_add_sample(db, &x, &eb), PL_OK);
}

/* One calibration of the workload under the cpu device at (mb 1, seq 64):
 * F 100, B 110, W 40, BW 150 per layer, input 5, loss 7, and (with_link)
 * the local link at 3 us and 1e9 bytes/s. */
static pl_db *calibrated_db(int with_link)
{
  pl_db *db = open_mem();
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "cpu";
  ci.method = "test";
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_OK);
  add_sample(db, "transformer", PL_OP_F, 64, 100);
  add_sample(db, "transformer", PL_OP_B, 64, 110);
  add_sample(db, "transformer", PL_OP_W, 64, 40);
  add_sample(db, "transformer", PL_OP_BW, 64, 150);
  add_sample(db, "embedding", PL_OP_F, 64, 5);
  add_sample(db, "lm_head", PL_OP_F, 64, 7);
  if (with_link) {
    pl_link_cost l = {"local", 3, 1e9};
    assert_int_equal(pl_db_calibration_add_link(db, &l, &eb), PL_OK);
  }
  assert_int_equal(pl_db_calibration_commit(db, &eb), PL_OK);
  return db;
}

static void test_workload(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = calibrated_db(1);
  static const struct {
    const char *sched;
    int p, m, v, layers;
  } shapes[] = {{"1f1b", 2, 4, 0, 4}, {"zb-h1", 4, 8, 0, 12},
                {"interleaved", 2, 4, 2, 8}, {"zb-v", 2, 4, 0, 4}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    pl_sched *s = pl_test_gen(shapes[i].sched, shapes[i].p, shapes[i].m, shapes[i].v);
    int S = pl_sched_stages(s), R = pl_sched_ranks(s);
    pl_workload w = workload(shapes[i].layers);
    double L = shapes[i].layers / S;
    pl_cost_request rq = PL_COST_REQUEST_INIT;
    rq.kind = PL_COSTS_WORKLOAD;
    rq.workload = &w;
    rq.device = "cpu";
    rq.db = db;
    rq.tf = 99; /* constants are not read for a workload */
    rq.time_unit = "ms";
    pl_costs *c = NULL;
    assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
    assert_int_equal(c->n_stages, S);
    assert_int_equal(c->n_ranks, R);
    for (int g = 0; g < S; g++) {
      const pl_stage_cost *sc = &c->stage[g];
      double f = L * 100 + (g == 0 ? 5 : 0) + (g == S - 1 ? 7 : 0);
      assert_true(sc->t[PL_OP_F] == f);
      assert_true(sc->t[PL_OP_B] == L * 110);
      assert_true(sc->t[PL_OP_W] == L * 40);
      assert_true(sc->t[PL_OP_BW] == L * 150);
      assert_true(sc->t[PL_OP_FB] == 0);
    }
    assert_true(c->comm_latency == 3);
    assert_true(c->comm_bandwidth == 1000); /* 1e9 bytes/s in bytes/us */
    for (int k = 0; k < PL_OP_NKINDS; k++)
      assert_int_equal(c->source[k], PL_SRC_MEASURED);
    assert_string_equal(c->time_unit, "us");
    /* Memory: exactly pl_wl_apply_mem_costs on a fresh table. */
    pl_costs *u = NULL;
    assert_int_equal(pl_costs_create(S, R, &u), PL_OK);
    assert_int_equal(pl_wl_apply_mem_costs(&w, u, &eb), PL_OK);
    for (int g = 0; g < S; g++) {
      assert_true(c->stage[g].mem_b == u->stage[g].mem_b);
      assert_true(c->stage[g].mem_w == u->stage[g].mem_w);
      assert_true(c->stage[g].msg_bytes == u->stage[g].msg_bytes);
      assert_true(c->stage[g].msg_bytes == (double)pl_wl_msg_bytes(&w));
    }
    assert_string_equal(c->mem_unit, "bytes");
    for (int r = 0; r < R; r++)
      assert_true(c->rank_speed[r] == 1);
    pl_costs_destroy(u);
    pl_costs_destroy(c);
    pl_sched_destroy(s);
  }

  /* An uncalibrated sequence length: per-token times held past the stored
   * point, flagged extrapolated; FB carries the least exact of F, B, W. The
   * device name is matched case-insensitively. */
  pl_sched *s = pl_test_gen("1f1b", 2, 4, 0);
  pl_workload w = workload(2);
  w.seq = 128;
  double speed[2] = {1, 2.5};
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_WORKLOAD;
  rq.workload = &w;
  rq.device = "CPU";
  rq.dtype = "fp64";
  rq.db = db;
  rq.rank_speed = speed;
  pl_costs *c = NULL;
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
  assert_true(c->stage[0].t[PL_OP_F] == 200 + 10);
  assert_true(c->stage[1].t[PL_OP_F] == 200 + 14);
  assert_true(c->stage[1].t[PL_OP_W] == 80);
  assert_int_equal(c->source[PL_OP_F], PL_SRC_EXTRAPOLATED);
  assert_int_equal(c->source[PL_OP_FB], PL_SRC_EXTRAPOLATED);
  assert_true(c->rank_speed[1] == 2.5);
  pl_costs_destroy(c);

  /* Missing calibration: another hidden size, or another dtype. */
  w = workload(2);
  w.hidden = 256;
  c = &sentinel;
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_ENOTFOUND);
  assert_null(c);
  assert_non_null(strstr(eb.msg, "'cpu'"));
  assert_non_null(strstr(eb.msg, "pipelab calibrate --hidden 256"));
  w.hidden = 128;
  rq.dtype = "bf16";
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_ENOTFOUND);
  rq.dtype = NULL; /* fp64 */
  /* An unknown device lists the known ones. */
  rq.device = "v100";
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, "v100"));
  assert_non_null(strstr(eb.msg, "cpu"));
  /* A device with no calibration at all names that device. */
  rq.device = "h100";
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, "'h100'"));
  assert_non_null(strstr(eb.msg, "pipelab calibrate"));
  pl_db_close(db);

  /* Without a stored link: the device's catalog latency, no bandwidth. */
  db = calibrated_db(0);
  pl_gpu_spec g;
  assert_int_equal(pl_db_get_gpu(db, "cpu", &g, &eb), PL_OK);
  rq.device = "cpu";
  rq.db = db;
  rq.rank_speed = NULL;
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_OK);
  assert_true(c->comm_latency == g.p2p_latency_us);
  assert_true(c->comm_bandwidth == 0);
  pl_costs_destroy(c);
  pl_db_close(db);

  /* An empty database: nothing calibrated. */
  db = open_mem();
  rq.db = db;
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, "'cpu'"));
  assert_non_null(strstr(eb.msg, "pipelab calibrate"));
  pl_db_close(db);
  pl_sched_destroy(s);
}

static void test_bad_requests(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = pl_test_gen("1f1b", 2, 4, 0);
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  /* Kind out of range. */
  rq.kind = 4;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "unknown cost kind 4"));
  assert_null(c);
  /* LEARNED with neither a learned table nor a database. */
  rq.kind = PL_COSTS_LEARNED;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "learned costs need"));
  assert_null(c);
  rq.kind = -1;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_EINVAL);
  /* MODEL without a model (or GPU, config, plan). */
  pl_db *db = open_mem();
  pl_model_spec m;
  pl_gpu_spec g;
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  assert_int_equal(pl_db_get_model(db, "llama3-8b", &m, &eb), PL_OK);
  assert_int_equal(pl_db_get_gpu(db, "h100", &g, &eb), PL_OK);
  rq.kind = PL_COSTS_MODEL;
  rq.gpu = &g;
  rq.cfg = &cfg;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "model"));
  rq.model = &m;
  rq.gpu = NULL;
  assert_int_equal(pl_cost_provide(&rq, s, &c, &plan, &eb), PL_EINVAL);
  rq.gpu = &g;
  assert_int_equal(pl_cost_provide(&rq, s, &c, NULL, &eb), PL_EINVAL);
  assert_null(c);
  /* WORKLOAD without a workload, a device or a database. */
  pl_workload w = workload(2);
  pl_cost_request wq = PL_COST_REQUEST_INIT;
  wq.kind = PL_COSTS_WORKLOAD;
  wq.device = "cpu";
  wq.db = db;
  assert_int_equal(pl_cost_provide(&wq, s, &c, NULL, &eb), PL_EINVAL);
  wq.workload = &w;
  wq.db = NULL;
  assert_int_equal(pl_cost_provide(&wq, s, &c, NULL, &eb), PL_EINVAL);
  wq.db = db;
  wq.device = NULL;
  assert_int_equal(pl_cost_provide(&wq, s, &c, NULL, &eb), PL_EINVAL);
  /* A workload that fails its own check. */
  wq.device = "cpu";
  w.hidden = 0;
  assert_int_equal(pl_cost_provide(&wq, s, &c, NULL, &eb), PL_EINVAL);
  assert_null(c);
  pl_db_close(db);
  /* CONSTANT out of range: negative, NaN, mem_w_frac > 1, a time unit
   * that does not fit, a rank speed <= 0. */
  pl_cost_request cq = PL_COST_REQUEST_INIT;
  cq.tb = -1;
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_EINVAL);
  cq.tb = NAN;
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_EINVAL);
  cq.tb = 1;
  cq.mem_w_frac = 1.5;
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_EINVAL);
  cq.mem_w_frac = 0.5;
  cq.bandwidth = -2;
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_EINVAL);
  cq.bandwidth = 0;
  cq.time_unit = "parsecs";
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_OK);
  pl_costs_destroy(c);
  cq.time_unit = "furlongs";
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_EINVAL);
  cq.time_unit = "";
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_EINVAL);
  cq.time_unit = NULL;
  double speed[2] = {1, 0};
  cq.rank_speed = speed;
  assert_int_equal(pl_cost_provide(&cq, s, &c, NULL, &eb), PL_EINVAL);
  assert_null(c);
  /* NULL request, schedule or output. */
  cq.rank_speed = NULL;
  assert_int_equal(pl_cost_provide(NULL, s, &c, NULL, &eb), PL_EINVAL);
  assert_int_equal(pl_cost_provide(&cq, NULL, &c, NULL, &eb), PL_EINVAL);
  assert_int_equal(pl_cost_provide(&cq, s, NULL, NULL, &eb), PL_EINVAL);
  pl_sched_destroy(s);
}

/* exec's pl_calib_apply_costs over pl_cost_from_calibration: the
 * hand-computed table, with a measured bandwidth and without one (then the
 * activation message's time is all latency). */
static void test_calib_apply(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_calib cal;
  memset(&cal, 0, sizeof cal);
  cal.t[PL_OP_F].mean = 10;
  cal.t[PL_OP_B].mean = 12;
  cal.t[PL_OP_W].mean = 4;
  cal.t[PL_OP_BW].mean = 15;
  cal.input.mean = 1;
  cal.loss.mean = 2;
  cal.p2p_latency_us = 3;
  cal.p2p_msg.mean = 5;
  cal.p2p_bandwidth = 64;
  cal.msg_bytes = 128;
  pl_workload w = workload(6);
  for (int with_bw = 1; with_bw >= 0; with_bw--) {
    cal.p2p_bandwidth = with_bw ? 64 : 0;
    pl_costs *c = NULL;
    assert_int_equal(pl_costs_create(3, 3, &c), PL_OK);
    assert_int_equal(pl_calib_apply_costs(&cal, &w, c, &eb), PL_OK);
    for (int g = 0; g < 3; g++) {
      assert_true(c->stage[g].t[PL_OP_F] ==
                  20 + (g == 0 ? 1 : 0) + (g == 2 ? 2 : 0));
      assert_true(c->stage[g].t[PL_OP_B] == 24);
      assert_true(c->stage[g].t[PL_OP_W] == 8);
      assert_true(c->stage[g].t[PL_OP_BW] == 30);
      assert_true(c->stage[g].msg_bytes == 128);
      double mb, mw;
      assert_int_equal(pl_wl_stage_mem(&w, 3, g, &mb, &mw, &eb), PL_OK);
      assert_true(c->stage[g].mem_b == mb && c->stage[g].mem_w == mw);
    }
    assert_true(c->comm_latency == (with_bw ? 3 : 5));
    assert_true(c->comm_bandwidth == (with_bw ? 64 : 0));
    for (int k = 0; k < PL_OP_NKINDS; k++)
      assert_int_equal(c->source[k], PL_SRC_MEASURED);
    assert_string_equal(c->time_unit, "us");
    assert_string_equal(c->mem_unit, "bytes");
    pl_costs_destroy(c);
  }
  /* Layers not divisible by the stages. */
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(4, 4, &c), PL_OK);
  assert_int_equal(pl_calib_apply_costs(&cal, &w, c, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "--layers 6 is not divisible by the 4"));
  pl_costs_destroy(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_constant),
    cmocka_unit_test(test_model),
    cmocka_unit_test(test_workload),
    cmocka_unit_test(test_bad_requests),
    cmocka_unit_test(test_calib_apply),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
