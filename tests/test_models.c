/* test_models.c: the analytic cost model against published sizes and
 * closed forms: parameter counts of the catalog models, the Megatron FLOPs
 * formula, Korthikanti's activation bytes, the ZB paper's B/W split and
 * memory release, optimizer bytes, P2P bytes, the layer partition and the
 * interpolation / extrapolation of measured costs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/models.h"
#include "../models/models_int.h"

#define MIB 1048576.0

static pl_db *open_mem(void)
{
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_open(":memory:", 0, 0, &db, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
  return db;
}

static pl_model_spec get_model(pl_db *db, const char *name)
{
  pl_model_spec m;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_get_model(db, name, &m, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
  return m;
}

static void assert_rel(double got, double want, double tol)
{
  if (fabs(got - want) > tol * fabs(want)) {
    fprintf(stderr, "got %.10g, want %.10g (rel. tol %g)\n", got, want, tol);
    fail();
  }
}

/* A GPT layer of cost-model.md's worked examples (h = 4096, a = 32). */
static pl_model_spec gpt_4096(void)
{
  pl_model_spec m;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "gpt-test");
  m.arch = PL_ARCH_GPT;
  m.layers = 32;
  m.hidden = 4096;
  m.heads = m.kv_heads = 32;
  m.ffn = 4 * 4096;
  m.vocab = 50257;
  m.seq_len = 2048;
  m.tied_embeddings = m.learned_pos = 1;
  return m;
}

/* ----------------------------------------------------- parameter counts -- */

static void test_param_counts(void **state)
{
  (void)state;
  pl_db *db = open_mem();
  /* GPT-3 175B within 1% of the published size (SC21 eq. 2: 174.6B). */
  pl_model_spec m = get_model(db, "gpt3-175b");
  assert_rel(pl_model_params(&m), 175e9, 0.01);
  assert_rel(pl_model_params(&m), 174.6e9, 0.001);
  /* The whole GPT-3 family lands within 2% of its nominal sizes. */
  static const struct { const char *name; double nominal; } gpt[] = {
    {"gpt3-125m", 125e6}, {"gpt3-350m", 350e6}, {"gpt3-760m", 760e6},
    {"gpt3-1.3b", 1.3e9}, {"gpt3-2.7b", 2.7e9}, {"gpt3-6.7b", 6.7e9},
    {"gpt3-13b", 13e9}};
  for (size_t i = 0; i < sizeof gpt / sizeof gpt[0]; i++) {
    m = get_model(db, gpt[i].name);
    assert_rel(pl_model_params(&m), gpt[i].nominal, 0.02);
  }
  /* LLaMA: the exact parameter counts published with the Hugging Face
   * checkpoints (model cards / safetensors metadata) within 0.1%, and the
   * nominal sizes of the names within 4% (Llama-2 "7B" has 6.74B). */
  static const struct {
    const char *name;
    double exact, nominal;
  } ll[] = {{"llama2-7b", 6738415616.0, 7e9},
            {"llama2-13b", 13015864320.0, 13e9},
            {"llama2-70b", 68976648192.0, 70e9},
            {"llama3-8b", 8030261248.0, 8e9},
            {"llama3-70b", 70553706496.0, 70e9},
            {"llama3.1-405b", 405853388800.0, 405e9}};
  for (size_t i = 0; i < sizeof ll / sizeof ll[0]; i++) {
    m = get_model(db, ll[i].name);
    assert_rel(pl_model_params(&m), ll[i].exact, 0.001);
    assert_rel(pl_model_params(&m), ll[i].nominal, 0.04);
    assert_rel(m.published_params, ll[i].nominal, 1e-12);
  }
  /* Llama-3 8B exactly: 32 * (N_lin + 2h) + 2 V h + h. */
  m = get_model(db, "llama3-8b");
  assert_true(pl_model_params(&m) == 8030261248.0);
  pl_db_close(db);
}

/* -------------------------------------------------------------- FLOPs ---- */

static void test_layer_flops(void **state)
{
  (void)state;
  pl_model_spec m = gpt_4096();
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  pl_layer_cost l;
  assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
  /* Worked example: b=1, s=2048, h=4096: F 0.893, B 0.962, W 0.825 TF. */
  double b = 1, s = 2048, h = 4096;
  assert_true(l.flops[PL_OP_F] == 24 * b * s * h * h + 4 * b * s * s * h);
  assert_true(l.flops[PL_OP_B] == 24 * b * s * h * h + 8 * b * s * s * h);
  assert_true(l.flops[PL_OP_W] == 24 * b * s * h * h);
  assert_true(l.flops[PL_OP_BW] == 2 * l.flops[PL_OP_F]);
  assert_rel(l.flops[PL_OP_F], 0.893e12, 0.001);
  assert_rel(l.flops[PL_OP_B], 0.962e12, 0.001);
  assert_rel(l.flops[PL_OP_W], 0.825e12, 0.001);
  /* W < F < B. */
  assert_true(l.flops[PL_OP_W] < l.flops[PL_OP_F]);
  assert_true(l.flops[PL_OP_F] < l.flops[PL_OP_B]);
  /* Tensor parallelism divides every op by t. */
  cfg.tp = 8;
  pl_layer_cost l8;
  assert_int_equal(pl_cost_layer(&m, &cfg, &l8, NULL, NULL, NULL), PL_OK);
  assert_true(l8.flops[PL_OP_F] * 8 == l.flops[PL_OP_F]);
  /* Full recomputation charges one more F to B; selective the attention
   * core 4bs^2h. */
  cfg.tp = 1;
  cfg.recompute = PL_RECOMPUTE_FULL;
  assert_int_equal(pl_cost_layer(&m, &cfg, &l8, NULL, NULL, NULL), PL_OK);
  assert_true(l8.flops[PL_OP_B] == l.flops[PL_OP_B] + l.flops[PL_OP_F]);
  cfg.recompute = PL_RECOMPUTE_SELECTIVE;
  assert_int_equal(pl_cost_layer(&m, &cfg, &l8, NULL, NULL, NULL), PL_OK);
  assert_true(l8.flops[PL_OP_B] == l.flops[PL_OP_B] + 4 * b * s * s * h);
  /* Llama-3 8B: N_lin = 218,103,808; F at s = 8192 is 4.67 TFLOP. */
  pl_db *db = open_mem();
  pl_model_spec ll = get_model(db, "llama3-8b");
  pl_train_cfg c2 = PL_TRAIN_CFG_INIT;
  assert_int_equal(pl_cost_layer(&ll, &c2, &l, NULL, NULL, NULL), PL_OK);
  assert_true(l.flops[PL_OP_W] == 2.0 * 8192 * 218103808.0);
  assert_rel(l.flops[PL_OP_F], 4.67e12, 0.002);
  /* LM head: F = B = W = 2bshV; Llama-3 8B at s = 8192 is ~1.8 layers. */
  pl_layer_cost head;
  assert_int_equal(pl_cost_layer(&ll, &c2, NULL, &head, NULL, NULL), PL_OK);
  assert_true(head.flops[PL_OP_F] == 2.0 * 8192 * 4096 * 128256);
  assert_rel(head.flops[PL_OP_F] / l.flops[PL_OP_F], 1.8, 0.03);
  pl_db_close(db);
}

/* Sums the hardware FLOPs of a whole iteration from the cost table of
 * schedule `name` and compares with SC21 eq. 3. */
static double iteration_flops(const pl_model_spec *m, pl_train_cfg *cfg,
                              int p, int mb, const char *name)
{
  pl_gpu_spec g;
  memset(&g, 0, sizeof g);
  snprintf(g.name, sizeof g.name, "test");
  g.bf16_flops = 1e15;
  g.mfu = 0.5;
  g.hbm_bytes = 80e9;
  g.scaleup_bandwidth = g.scaleout_bandwidth = 100e9;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = mb;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen(name, &gp, &s, &eb), PL_OK);
  cfg->mfu = g.mfu; /* the flat model: FLOPs / (peak x efficiency) */
  int rc = pl_cost_build(NULL, m, &g, cfg, s, &c, &plan, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
  double us = 0;
  for (int i = 0; i < c->n_stages; i++)
    us += c->stage[i].t[PL_OP_F] + c->stage[i].t[PL_OP_B] +
          c->stage[i].t[PL_OP_W];
  /* BW = B + W. */
  for (int i = 0; i < c->n_stages; i++)
    assert_rel(c->stage[i].t[PL_OP_BW],
               c->stage[i].t[PL_OP_B] + c->stage[i].t[PL_OP_W], 1e-12);
  for (int k = PL_OP_F; k <= PL_OP_BW; k++)
    assert_int_equal(c->source[k], PL_SRC_ANALYTIC);
  assert_string_equal(c->time_unit, "us");
  assert_string_equal(c->mem_unit, "bytes");
  double flops = us * mb * g.bf16_flops * g.mfu / 1e6 * cfg->tp * cfg->dp;
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
  return flops;
}

static void test_megatron_flops(void **state)
{
  (void)state;
  pl_db *db = open_mem();
  static const char *names[] = {"gpt3-175b", "gpt3-13b", "zb-6.2b"};
  for (size_t i = 0; i < 3; i++) {
    pl_model_spec m = get_model(db, names[i]);
    double s = m.seq_len, L = m.layers, h = m.hidden, V = m.vocab;
    int mb = 12, p = 4;
    pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
    double Bg = mb * cfg.mb_size * cfg.dp;
    /* Without recomputation: 72 B s L h^2 (1 + s/(6h) + V/(12 L h)). */
    double want = 72 * Bg * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h));
    assert_rel(iteration_flops(&m, &cfg, p, mb, "1f1b"), want, 1e-9);
    assert_rel(pl_model_flops_iter(&m, &cfg, Bg), want, 1e-12);
    /* Full recomputation: 96 B s L h^2 (1 + s/(6h) + V/(16 L h)). */
    cfg.recompute = PL_RECOMPUTE_FULL;
    want = 96 * Bg * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h));
    assert_rel(iteration_flops(&m, &cfg, p, mb, "1f1b"), want, 1e-9);
    /* The model FLOPs (MFU numerator) do not count recomputation. */
    want = 72 * Bg * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h));
    assert_rel(pl_model_flops_iter(&m, &cfg, Bg), want, 1e-12);
    /* TP and DP: the per-GPU work times t*d GPUs is the same total. */
    cfg.recompute = PL_RECOMPUTE_NONE;
    cfg.tp = 8;
    cfg.dp = 2;
    Bg = mb * cfg.mb_size * cfg.dp;
    want = 72 * Bg * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h));
    assert_rel(iteration_flops(&m, &cfg, p, mb, "zb-h1"), want, 1e-9);
  }
  pl_db_close(db);
}

/* -------------------------------------------------------- activations ---- */

static void test_korthikanti(void **state)
{
  (void)state;
  /* Three shapes: the worked example, GPT-3 175B and a long-sequence one. */
  static const struct { int h, a, s, b; } shapes[] = {
    {4096, 32, 2048, 1}, {12288, 96, 2048, 2}, {5120, 40, 8192, 1}};
  for (size_t i = 0; i < 3; i++) {
    pl_model_spec m = gpt_4096();
    m.hidden = shapes[i].h;
    m.heads = m.kv_heads = shapes[i].a;
    m.ffn = 4 * shapes[i].h;
    pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
    cfg.seq_len = shapes[i].s;
    cfg.mb_size = shapes[i].b;
    double s = shapes[i].s, b = shapes[i].b, h = shapes[i].h, a = shapes[i].a;
    double sbh = s * b * h;
    pl_layer_cost l;
    /* No parallelism: sbh (34 + 5 a s / h). */
    assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
    assert_rel(l.mem_b, sbh * (34 + 5 * a * s / h), 1e-12);
    /* M_W = 32 sbh (ZB paper): B frees 2 sbh + 5 a s^2 b, W 32 sbh. */
    assert_rel(l.mem_w, 32 * sbh, 1e-12);
    assert_rel(l.mem_b - l.mem_w, 2 * sbh + 5 * a * s * s * b, 1e-12);
    for (int t = 2; t <= 8; t *= 2) {
      cfg.tp = t;
      /* TP without SP: sbh (10 + 24/t + 5 a s / (h t)). */
      cfg.seq_parallel = 0;
      assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
      assert_rel(l.mem_b, sbh * (10 + 24.0 / t + 5 * a * s / (h * t)), 1e-12);
      /* TP + SP: sbh (34 + 5 a s / h) / t. */
      cfg.seq_parallel = 1;
      assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
      assert_rel(l.mem_b, sbh * (34 + 5 * a * s / h) / t, 1e-12);
      /* TP + SP + selective: 34 sbh / t; TP + selective: sbh (10 + 24/t). */
      cfg.recompute = PL_RECOMPUTE_SELECTIVE;
      assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
      assert_rel(l.mem_b, 34 * sbh / t, 1e-12);
      cfg.seq_parallel = 0;
      assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
      assert_rel(l.mem_b, sbh * (10 + 24.0 / t), 1e-12);
      /* Full recomputation: 2 sbh, / t with SP. */
      cfg.recompute = PL_RECOMPUTE_FULL;
      assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
      assert_rel(l.mem_b, 2 * sbh, 1e-12);
      cfg.seq_parallel = 1;
      assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
      assert_rel(l.mem_b, 2 * sbh / t, 1e-12);
      cfg.recompute = PL_RECOMPUTE_NONE;
    }
    /* Flash attention drops the s^2 term like selective recomputation. */
    cfg.tp = 1;
    cfg.flash_attn = 1;
    assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, NULL), PL_OK);
    assert_rel(l.mem_b, 34 * sbh, 1e-12);
    assert_rel(l.mem_w / l.mem_b, 32.0 / 34.0, 1e-12);
  }
  /* Worked example (docs/cost-model.md §7): 912 MiB per layer; B frees 656, W 256 MiB. */
  pl_model_spec m = gpt_4096();
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  pl_layer_cost l, head, emb;
  assert_int_equal(pl_cost_layer(&m, &cfg, &l, &head, &emb, NULL), PL_OK);
  assert_true(l.mem_b == 912 * MIB);
  assert_true(l.mem_b - l.mem_w == 656 * MIB);
  assert_true(l.mem_w == 256 * MIB);
  /* End stages: embedding dropout mask sbh; last stage 4sbh(1 + V/h). */
  double sbh = 2048.0 * 4096;
  assert_true(emb.mem_b == sbh);
  assert_rel(head.mem_b, 4 * sbh * (1 + 50257.0 / 4096), 1e-12);
  /* LLaMA with flash attention: s b (12h + 4 h_kv + 6f + 4a). */
  pl_db *db = open_mem();
  pl_model_spec ll = get_model(db, "llama3-8b");
  cfg.flash_attn = 1;
  cfg.seq_len = 8192;
  assert_int_equal(pl_cost_layer(&ll, &cfg, &l, NULL, NULL, NULL), PL_OK);
  assert_true(l.mem_b == 8192.0 * (12 * 4096 + 4 * 1024 + 6 * 14336 + 4 * 32));
  assert_rel(l.mem_b / (8192.0 * 4096), 34, 0.03); /* "about 34 sbh" */
  pl_db_close(db);
}

/* ------------------------------------------- parameters, optimizer, P2P -- */

static void test_static_and_p2p(void **state)
{
  (void)state;
  pl_model_spec m = gpt_4096();
  pl_gpu_spec g;
  memset(&g, 0, sizeof g);
  g.bf16_flops = 1e15;
  g.mfu = 0.5;
  g.hbm_bytes = 80.0 * 1073741824.0;
  g.scaleup_bandwidth = 450e9;
  g.scaleout_bandwidth = 50e9;
  g.p2p_latency_us = 10;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 4;
  gp.m = 8;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, NULL), PL_OK);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.dp = 4;
  cfg.mfu = 0.5; /* the flat model (test_price.c covers the kernel model) */
  assert_int_equal(pl_cost_build(NULL, &m, &g, &cfg, s, &c, &plan, NULL),
                   PL_OK);
  /* 32 layers over 4 stages: the LM head is V / (12h + 2s) = 0.94 layers
   * (docs/cost-model.md §9), less than one: 8 layers each. */
  static const int want_layers[4] = {8, 8, 8, 8};
  for (int i = 0; i < 4; i++)
    assert_int_equal(plan.layers[i], want_layers[i]);
  /* Per-rank parameters: layers (12h^2 + 13h) + embedding (with learned
   * positions) on the first, LM head copy + final LayerNorm on the last. */
  double h = 4096, lp = 12 * h * h + 13 * h, per = 8 * lp;
  assert_true(plan.rank[1].params == per);
  assert_true(plan.rank[0].params == per + 50257 * h + 2048 * h);
  assert_true(plan.rank[3].params == per + 50257 * h + 2 * h);
  /* The last stage's time carries the LM head: 2bshV FLOPs per op. */
  assert_rel(c->stage[3].t[PL_OP_F] - c->stage[2].t[PL_OP_F],
             2.0 * 2048 * 4096 * 50257 / (1e15 * 0.5 / 1e6), 1e-9);
  /* Mixed-precision Adam: 16 bytes per parameter; 2 + 2 + 12. */
  assert_true(plan.rank[1].static_bytes == 16 * per);
  assert_true(plan.rank[1].optim_bytes == 12 * per);
  /* P2P: 2bsh bytes (16 MiB), p*tp*dp = 16 GPUs > 8: over the NIC. */
  assert_true(c->stage[0].msg_bytes == 16 * MIB);
  assert_int_equal(plan.link_scaleup, 0);
  assert_true(c->comm_latency == 10);
  assert_true(c->comm_bandwidth == 50e9 / 1e6);
  /* Memory per stage in bytes: 8 layers' M_B, plus the end-stage terms. */
  assert_true(c->stage[1].mem_b == 8 * 912 * MIB);
  assert_true(c->stage[1].mem_w == 8 * 256 * MIB);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  /* Distributed optimizer over d = 4: 4 + 12/d bytes per parameter; TP 2
   * halves the message (sequence parallel), 8 GPUs stay on NVLink. */
  cfg.distributed_optimizer = 1;
  cfg.dp = 1;
  cfg.tp = 2;
  assert_int_equal(pl_cost_build(NULL, &m, &g, &cfg, s, &c, &plan, NULL),
                   PL_OK);
  assert_true(c->stage[0].msg_bytes == 8 * MIB);
  assert_int_equal(plan.link_scaleup, 1);
  assert_true(c->comm_bandwidth == 450e9 / 1e6);
  assert_rel(plan.rank[1].static_bytes, 16 * per / 2, 1e-12);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  cfg.tp = 1;
  cfg.dp = 4;
  assert_int_equal(pl_cost_build(NULL, &m, &g, &cfg, s, &c, &plan, NULL),
                   PL_OK);
  assert_rel(plan.rank[1].static_bytes, (4 + 12.0 / 4) * per, 1e-12);
  /* Throughput: tokens m b s d per iteration, MFU = model FLOPs / (t GPUs
   * peak). */
  double it, tok, mfu;
  pl_model_throughput(&plan, 2e6, &it, &tok, &mfu);
  assert_true(it == 2.0);
  assert_true(tok == 8.0 * 2048 * 4 / 2.0);
  assert_rel(mfu, pl_model_flops_iter(&m, &cfg, 32) / (2.0 * 16 * 1e15), 1e-12);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  /* --layers-per-stage: must sum to L. */
  int bad[4] = {8, 8, 8, 7}, good[4] = {7, 9, 9, 7};
  cfg.layers_per_stage = bad;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_cost_build(NULL, &m, &g, &cfg, s, &c, &plan, &eb),
                   PL_EINVAL);
  assert_non_null(strstr(eb.msg, "sum to 31"));
  cfg.layers_per_stage = good;
  assert_int_equal(pl_cost_build(NULL, &m, &g, &cfg, s, &c, &plan, NULL),
                   PL_OK);
  assert_int_equal(plan.layers[1], 9);
  assert_true(c->stage[1].mem_b == 9 * 912 * MIB);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
}

static void test_partition(void **state)
{
  (void)state;
  int out[8];
  assert_int_equal(pl_cost_partition(24, 8, 0, 0, out), PL_OK);
  for (int i = 0; i < 8; i++)
    assert_int_equal(out[i], 3);
  /* Two layers of LM head on the last stage: it gets 2 fewer layers. */
  assert_int_equal(pl_cost_partition(30, 8, 0, 2.0, out), PL_OK);
  int sum = 0;
  for (int i = 0; i < 8; i++)
    sum += out[i];
  assert_int_equal(sum, 30);
  assert_int_equal(out[7], 2);
  for (int i = 0; i < 7; i++)
    assert_int_equal(out[i], 4);
  /* Leftover layers go late (early ranks hold the most activations). */
  assert_int_equal(pl_cost_partition(26, 8, 0, 0, out), PL_OK);
  assert_int_equal(out[0], 3);
  assert_int_equal(out[7], 4);
  assert_int_equal(out[6], 4);
  assert_int_equal(pl_cost_partition(5, 0, 0, 0, out), PL_EINVAL);
}

/* --------------------------------------------- measured interpolation ---- */

static void test_interp(void **state)
{
  (void)state;
  /* Ratios measured / analytic on a 2 x 2 grid. */
  struct pl__point p[4] = {{1, 1024, 0}, {4, 1024, 0}, {1, 2048, 0},
                           {4, 2048, 0}};
  double r[4] = {1, 2, 3, 4};
  int src = -1;
  assert_true(pl__interp_ratio(p, r, 4, 4, 2048, &src) == 4);
  assert_int_equal(src, PL_SRC_MEASURED);
  assert_rel(pl__interp_ratio(p, r, 4, 2, 1024, &src), 1 + 1.0 / 3, 1e-12);
  assert_int_equal(src, PL_SRC_INTERPOLATED);
  assert_rel(pl__interp_ratio(p, r, 4, 1, 1536, &src), 2, 1e-12);
  assert_int_equal(src, PL_SRC_INTERPOLATED);
  /* Bilinear in the middle: (2.5, 1536) -> 2.5. */
  assert_rel(pl__interp_ratio(p, r, 4, 2.5, 1536, &src), 2.5, 1e-12);
  assert_int_equal(src, PL_SRC_INTERPOLATED);
  /* Outside the measured range the nearest ratio is kept and flagged. */
  assert_rel(pl__interp_ratio(p, r, 4, 8, 1024, &src), 2, 1e-12);
  assert_int_equal(src, PL_SRC_EXTRAPOLATED);
  assert_rel(pl__interp_ratio(p, r, 4, 2, 4096, &src), 3 + 1.0 / 3, 1e-12);
  assert_int_equal(src, PL_SRC_EXTRAPOLATED);
  assert_rel(pl__interp_ratio(p, r, 4, 1, 512, &src), 1, 1e-12);
  assert_int_equal(src, PL_SRC_EXTRAPOLATED);
  /* One point: its ratio everywhere, extrapolated away from it. */
  assert_rel(pl__interp_ratio(p, r, 1, 1, 1024, &src), 1, 1e-12);
  assert_int_equal(src, PL_SRC_MEASURED);
  assert_rel(pl__interp_ratio(p, r, 1, 2, 1024, &src), 1, 1e-12);
  assert_int_equal(src, PL_SRC_EXTRAPOLATED);
}

static void test_invalid(void **state)
{
  (void)state;
  pl_model_spec m = gpt_4096();
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  pl_layer_cost l;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  cfg.tp = 3; /* does not divide 32 heads */
  assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "tensor-parallel size 3"));
  cfg.tp = 1;
  cfg.mb_size = 0;
  assert_int_equal(pl_cost_layer(&m, &cfg, &l, NULL, NULL, &eb), PL_EINVAL);
  assert_string_equal(pl_recompute_name(PL_RECOMPUTE_SELECTIVE), "selective");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_param_counts),
    cmocka_unit_test(test_layer_flops),
    cmocka_unit_test(test_megatron_flops),
    cmocka_unit_test(test_korthikanti),
    cmocka_unit_test(test_static_and_p2p),
    cmocka_unit_test(test_partition),
    cmocka_unit_test(test_interp),
    cmocka_unit_test(test_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
