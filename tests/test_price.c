/* test_price.c: the kernel-level cost model against its closed forms: the
 * GEMM roofline (compute-bound at the measured efficiency, wave
 * quantization, K fill, memory-bound, launch floor, FP8 at twice the rate),
 * the alpha-beta collectives in NCCL's bus-bandwidth convention inside and
 * across scale-up domains, Megatron's rank layout, the FLOPs of every op
 * (SC21 eq. 3 per layer), the TP/SP/CP communication per layer, the DP
 * reduce, tied-embedding reduce and optimizer step per rank, and the
 * iteration breakdown adding up to the iteration. */
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

static void assert_rel(double got, double want, double tol)
{
  if (fabs(got - want) > tol * fabs(want) + 1e-300) {
    fprintf(stderr, "got %.12g, want %.12g (rel. tol %g)\n", got, want, tol);
    fail();
  }
}

static pl_db *db;

static int setup(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  return pl_db_open(":memory:", 0, 0, &db, &eb);
}

static int teardown(void **state)
{
  (void)state;
  pl_db_close(db);
  return 0;
}

static pl_gpu_spec gpu(const char *name)
{
  pl_gpu_spec g;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_get_gpu(db, name, &g, &eb), PL_OK);
  return g;
}

/* GPT with f = 4h, a = 32 heads of 128, GPT-2 vocabulary. */
static pl_model_spec gpt(int layers, int hidden, int heads)
{
  pl_model_spec m;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "gpt-test");
  m.arch = PL_ARCH_GPT;
  m.layers = layers;
  m.hidden = hidden;
  m.heads = m.kv_heads = heads;
  m.ffn = 4 * hidden;
  m.vocab = 51200;
  m.seq_len = 2048;
  m.tied_embeddings = 1;
  m.learned_pos = 1;
  return m;
}

/* ---------------------------------------------------------------- GEMM -- */

static void test_gemm(void **state)
{
  (void)state;
  pl_gpu_spec g = gpu("a100");
  double peak = g.bf16_flops, eff = g.gemm_eff;
  assert_rel(eff, 0.859, 1e-12);
  /* The maximum-achievable-matmul shape: 64 x 54 tiles of 256 x 128 =
   * 3456 = 32 full waves of 108 SMs, K = 2048: compute-bound at exactly
   * gemm_efficiency of peak. */
  double M = 6912, N = 16384, K = 2048;
  double t = pl__gemm_us(&g, M, N, K, 1, peak, 2);
  assert_rel(t, 2 * M * N * K / (peak * eff) * 1e6, 1e-12);
  /* Larger K does not exceed the measured rate. */
  assert_rel(pl__gemm_us(&g, M, N, 8192, 1, peak, 2),
             2 * M * N * 8192 / (peak * eff) * 1e6, 1e-12);
  /* Smaller K: main-loop fill, K / (K + 128) relative to K = 2048. */
  double k2 = 512, keff = (k2 / (k2 + 128)) / (2048.0 / 2176.0);
  assert_rel(pl__gemm_us(&g, M, N, k2, 1, peak, 2),
             2 * M * N * k2 / (peak * eff * keff) * 1e6, 1e-12);
  /* Wave quantization: 109 tiles on 108 SMs take two waves. */
  double n109 = 256.0 * 109;
  assert_rel(pl__gemm_us(&g, 128, n109, 4096, 1, peak, 2),
             2 * 128 * n109 * 4096 / (peak * eff * (109.0 / 216.0)) * 1e6,
             1e-12);
  /* Memory-bound: K = 8, the operands and output at HBM bandwidth. */
  double bytes = 2 * (8192.0 * 8 + 8 * 8192.0) + 2 * 8192.0 * 8192;
  assert_rel(pl__gemm_us(&g, 8192, 8192, 8, 1, peak, 2),
             bytes / (g.hbm_bandwidth * g.hbm_eff) * 1e6, 1e-12);
  /* A tiny GEMM costs the launch floor. */
  assert_rel(pl__gemm_us(&g, 16, 16, 16, 1, peak, 2), g.launch_us, 1e-12);
  /* Batched: the same GEMM 4 times in one kernel. */
  assert_rel(pl__gemm_us(&g, M, N, K, 4, peak, 2), 4 * t, 1e-12);
  /* FP8 on H100: twice the dense peak, half the time when compute-bound. */
  pl_gpu_spec h = gpu("h100");
  assert_rel(h.fp8_flops, 2 * h.bf16_flops, 1e-3);
  assert_rel(pl__gemm_us(&h, 8448, 16384, 4096, 1, h.fp8_flops, 1),
             pl__gemm_us(&h, 8448, 16384, 4096, 1, h.bf16_flops, 2) *
                 h.bf16_flops / h.fp8_flops, 1e-12);
  assert_rel(pl_gpu_peak(&h, PL_PREC_FP8), h.fp8_flops, 0);
  assert_true(pl_gpu_peak(&g, PL_PREC_FP8) == 0); /* A100 has no FP8 */
}

/* --------------------------------------------------------- collectives -- */

static void test_collectives(void **state)
{
  (void)state;
  pl_gpu_spec g = gpu("a100");
  double S = 1e8;
  double up = g.scaleup_bandwidth * g.scaleup_coll_eff;
  /* Inside one NVLink domain: ring all-reduce, 2(n-1) steps, 2(n-1)/n S. */
  assert_rel(pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, S, 8, 8, 0),
             14 * g.scaleup_latency_us + S * 2 * 7 / 8 / up * 1e6, 1e-12);
  assert_rel(pl_coll_time_us(&g, PL_COLL_ALL_GATHER, S, 8, 8, 0),
             7 * g.scaleup_latency_us + S * 7 / 8 / up * 1e6, 1e-12);
  assert_rel(pl_coll_time_us(&g, PL_COLL_REDUCE_SCATTER, S, 8, 8, 0),
             pl_coll_time_us(&g, PL_COLL_ALL_GATHER, S, 8, 8, 0), 1e-12);
  /* Across nodes with 8 members per node: 8 NICs, fewer than NVLink. */
  double out8 = 8 * g.scaleout_bandwidth * g.scaleout_coll_eff;
  assert_true(out8 < up);
  assert_rel(pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, S, 16, 8, 0),
             30 * g.scaleout_latency_us + S * 2 * 15 / 16 / out8 * 1e6, 1e-12);
  /* One member per node: one NIC. */
  double out1 = g.scaleout_bandwidth * g.scaleout_coll_eff;
  assert_rel(pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, S, 4, 1, 0),
             6 * g.scaleout_latency_us + S * 2 * 3 / 4 / out1 * 1e6, 1e-12);
  /* A measured bus bandwidth replaces the model (latency included). */
  assert_rel(pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, S, 8, 8, 150e9),
             S * 2 * 7 / 8 / 150e9 * 1e6, 1e-12);
  /* Nothing to do for one rank or no bytes. */
  assert_true(pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, S, 1, 1, 0) == 0);
  assert_true(pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, 0, 8, 8, 0) == 0);
}

/* Measured collectives replace the model: the TP all-reduces of a layer
 * take S * 2(n-1)/n / busbw at the bus bandwidth the imported nccl-tests
 * log gives for that size. */
static void test_measured_collectives(void **state)
{
  (void)state;
  pl_db *mdb = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_open(":memory:", 0, 0, &mdb, &eb), PL_OK);
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "a100";
  size_t rows = 0;
  int rc = pl_db_import_nccl(mdb, PL_TEST_DATA "/nccl/all_reduce_8rank_1node.txt",
                             &ci, -1, 0, 0, &rows, NULL, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
  assert_true(rows > 0);
  pl_gpu_spec g = gpu("a100");
  pl_model_spec m = gpt(48, 6144, 64);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.mb_size = 4;
  cfg.tp = 8;
  cfg.seq_parallel = 0;
  pl_layout l;
  pl_layout_make(8, 1, 1, 1, 8, &l);
  pl_op_price meas, model;
  assert_int_equal(pl_price_layer(mdb, &m, &g, &cfg, &l, &meas, NULL, NULL,
                                  NULL), PL_OK);
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &model, NULL, NULL,
                                  NULL), PL_OK);
  double S = 4.0 * 2048 * 6144 * 2, busbw = 0;
  assert_int_equal(pl_db_collective_busbw(mdb, "a100", PL_COLL_ALL_REDUCE, 8,
                                          1, S, &busbw, NULL, NULL), PL_OK);
  assert_rel(meas.part[PL_OP_F][PL_PART_TP], 2 * S * 2 * 7 / 8 / busbw * 1e6,
             1e-12);
  assert_true(meas.part[PL_OP_F][PL_PART_TP] != model.part[PL_OP_F][PL_PART_TP]);
  /* Everything but the collectives is unchanged. */
  assert_rel(meas.part[PL_OP_F][PL_PART_GEMM], model.part[PL_OP_F][PL_PART_GEMM],
             1e-12);
  pl_db_close(mdb);
}

/* --------------------------------------------------------------- layout -- */

static void test_layout(void **state)
{
  (void)state;
  pl_layout l;
  /* tp 8 fills an 8-GPU node: DP peers and pipeline neighbours are on
   * other nodes. */
  pl_layout_make(8, 1, 4, 2, 8, &l);
  assert_int_equal(l.tp_per_domain, 8);
  assert_int_equal(l.dp_per_domain, 1);
  assert_int_equal(l.pp_stride, 32);
  assert_false(pl_layout_pp_intra(&l, 0, 1));
  /* tp 2, dp 2, pp 2 = 8 GPUs: everything on NVLink. */
  pl_layout_make(2, 1, 2, 2, 8, &l);
  assert_int_equal(l.dp_per_domain, 2);
  assert_true(pl_layout_pp_intra(&l, 0, 1));
  /* tp 2, cp 2, dp 2: the gradient group is dp x cp = 4 ranks of stride 2,
   * all 4 in one node; pipeline stride 8 crosses. */
  pl_layout_make(2, 2, 2, 4, 8, &l);
  assert_int_equal(l.cp_per_domain, 2);
  assert_int_equal(l.dp_per_domain, 4);
  assert_false(pl_layout_pp_intra(&l, 0, 1));
  /* tp 2, dp 1, pp 8 on 8-GPU nodes: ranks 0-3 in node 0, 4-7 in node 1:
   * only the 3 -> 4 boundary crosses. */
  pl_layout_make(2, 1, 1, 8, 8, &l);
  assert_true(pl_layout_pp_intra(&l, 2, 3));
  assert_false(pl_layout_pp_intra(&l, 3, 4));
  /* NVL72: a 72-GPU domain keeps tp 8 x dp 8 x pp 2 (128 GPUs) partly in:
   * pipeline ranks 0 (GPU 0) and 1 (GPU 64) share the first domain. */
  pl_layout_make(8, 1, 8, 2, 72, &l);
  assert_true(pl_layout_pp_intra(&l, 0, 1));
  assert_int_equal(l.dp_per_domain, 8);
}

/* --------------------------------------------------------- layer prices -- */

static void test_layer_flops_and_comm(void **state)
{
  (void)state;
  pl_gpu_spec g = gpu("a100");
  pl_model_spec m = gpt(48, 6144, 64);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.mb_size = 4;
  cfg.tp = 8;
  cfg.seq_parallel = 0;
  pl_layout l;
  pl_layout_make(8, 1, 1, 1, 8, &l);
  pl_op_price p, head, emb;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &p, &head, &emb,
                                  NULL), PL_OK);
  double b = 4, s = 2048, h = 6144, t = 8;
  /* SC21 eq. 3 per layer (f = 4h): F 24bsh^2 + 4bs^2h, B 24bsh^2 + 8bs^2h,
   * W 24bsh^2, over t. */
  assert_rel(p.flops[PL_OP_F], (24 * b * s * h * h + 4 * b * s * s * h) / t,
             1e-12);
  assert_rel(p.flops[PL_OP_B], (24 * b * s * h * h + 8 * b * s * s * h) / t,
             1e-12);
  assert_rel(p.flops[PL_OP_W], 24 * b * s * h * h / t, 1e-12);
  assert_rel(p.flops[PL_OP_BW], p.flops[PL_OP_B] + p.flops[PL_OP_W], 1e-12);
  /* Op times are the sums of their parts; W is GEMMs only. */
  for (int k = PL_OP_F; k <= PL_OP_BW; k++) {
    double sum = 0;
    for (int q = 0; q < PL_PART_N; q++)
      sum += p.part[k][q];
    assert_rel(p.t[k], sum, 1e-12);
  }
  assert_rel(p.t[PL_OP_W], p.part[PL_OP_W][PL_PART_GEMM], 1e-12);
  /* TP without SP: two all-reduces of the b s h activation per direction. */
  double S = b * s * h * 2;
  double ar = pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, S, 8, 8, 0);
  assert_rel(p.part[PL_OP_F][PL_PART_TP], 2 * ar, 1e-12);
  assert_rel(p.part[PL_OP_B][PL_PART_TP], 2 * ar, 1e-12);
  /* With SP: all-gather + reduce-scatter each, and the backward gathers
   * the column-parallel inputs again for the weight gradients. */
  cfg.seq_parallel = 1;
  pl_op_price q;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &q, NULL, NULL,
                                  NULL), PL_OK);
  double ag = pl_coll_time_us(&g, PL_COLL_ALL_GATHER, S, 8, 8, 0);
  double rs = pl_coll_time_us(&g, PL_COLL_REDUCE_SCATTER, S, 8, 8, 0);
  assert_rel(q.part[PL_OP_F][PL_PART_TP], 2 * (ag + rs), 1e-12);
  assert_rel(q.part[PL_OP_B][PL_PART_TP], 2 * (ag + rs) + 2 * ag, 1e-12);
  /* SP shards the norm / dropout kernels: less memory-bound time. */
  assert_true(q.part[PL_OP_F][PL_PART_MEM] < p.part[PL_OP_F][PL_PART_MEM]);
  /* Full recomputation adds the whole forward (kernels and collectives). */
  cfg.recompute = PL_RECOMPUTE_FULL;
  pl_op_price r;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &r, NULL, NULL,
                                  NULL), PL_OK);
  assert_rel(r.t[PL_OP_B], q.t[PL_OP_B] + q.t[PL_OP_F], 1e-12);
  assert_rel(r.flops[PL_OP_B], q.flops[PL_OP_B] + q.flops[PL_OP_F], 1e-12);
  /* Selective recomputation (no flash): the attention core again. */
  cfg.recompute = PL_RECOMPUTE_SELECTIVE;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &r, NULL, NULL,
                                  NULL), PL_OK);
  assert_rel(r.part[PL_OP_B][PL_PART_ATTN],
             q.part[PL_OP_B][PL_PART_ATTN] + q.part[PL_OP_F][PL_PART_ATTN],
             1e-12);
  /* Flash attention, causal: half the s^2 FLOPs forward, 2.5x backward. */
  cfg.recompute = PL_RECOMPUTE_NONE;
  cfg.flash_attn = 1;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &r, NULL, NULL,
                                  NULL), PL_OK);
  double att = 4 * b * s * s * h / t;
  assert_rel(r.flops[PL_OP_F], 24 * b * s * h * h / t + att / 2, 1e-12);
  assert_rel(r.flops[PL_OP_B], 24 * b * s * h * h / t + 2.5 * att / 2, 1e-12);
  assert_rel(r.part[PL_OP_F][PL_PART_ATTN],
             att / 2 / (g.bf16_flops * g.clock_ratio * g.attn_eff) * 1e6,
             1e-12);
  cfg.no_causal = 1;
  pl_op_price nc;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &nc, NULL, NULL,
                                  NULL), PL_OK);
  assert_rel(nc.part[PL_OP_F][PL_PART_ATTN],
             2 * r.part[PL_OP_F][PL_PART_ATTN], 1e-12);
  /* LM head: the logits GEMM 2 b s h V / t per op. */
  assert_rel(head.flops[PL_OP_F], 2 * b * s * h * 51200 / t, 1e-12);
  assert_rel(head.flops[PL_OP_W], head.flops[PL_OP_F], 1e-12);
  /* The embedding has no FLOPs, only memory-bound time (+ its all-reduce
   * over the TP group without SP). */
  assert_true(emb.flops[PL_OP_F] == 0);
  assert_rel(emb.part[PL_OP_F][PL_PART_TP], ar, 1e-12);
  /* Unfused gradient accumulation: 10 bytes per weight per microbatch in
   * W, the rest unchanged. */
  cfg.flash_attn = 0;
  cfg.no_causal = 0;
  cfg.seq_parallel = 0;
  cfg.no_grad_accum_fusion = 1;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &r, NULL, NULL,
                                  NULL), PL_OK);
  double wts = (3 * h * h + h * h + 8 * h * h) / t; /* 12 h^2 / t */
  assert_rel(r.part[PL_OP_W][PL_PART_MEM],
             10 * wts / (g.hbm_bandwidth * g.hbm_eff) * 1e6, 1e-12);
  assert_rel(r.part[PL_OP_W][PL_PART_GEMM], p.part[PL_OP_W][PL_PART_GEMM],
             1e-12);
  /* FP8 on a GPU without it: one line naming the precisions it has. */
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  cfg.precision = PL_PREC_FP8;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &r, NULL, NULL,
                                  &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "no dense fp8 peak"));
  /* On H100 FP8 speeds up the GEMMs only. */
  pl_gpu_spec hh = gpu("h100");
  pl_op_price b16, f8;
  cfg.precision = PL_PREC_BF16;
  assert_int_equal(pl_price_layer(NULL, &m, &hh, &cfg, &l, &b16, NULL, NULL,
                                  NULL), PL_OK);
  cfg.precision = PL_PREC_FP8;
  assert_int_equal(pl_price_layer(NULL, &m, &hh, &cfg, &l, &f8, NULL, NULL,
                                  NULL), PL_OK);
  assert_true(f8.part[PL_OP_F][PL_PART_GEMM] <
              0.6 * b16.part[PL_OP_F][PL_PART_GEMM]);
  assert_rel(f8.part[PL_OP_F][PL_PART_MEM], b16.part[PL_OP_F][PL_PART_MEM],
             1e-12);
  assert_rel(f8.part[PL_OP_F][PL_PART_ATTN], b16.part[PL_OP_F][PL_PART_ATTN],
             1e-12);
}

static void test_context_parallel(void **state)
{
  (void)state;
  pl_gpu_spec g = gpu("h100");
  pl_model_spec m = gpt(32, 4096, 32);
  m.seq_len = 32768;
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.flash_attn = 1;
  cfg.tp = 2;
  cfg.cp = 4;
  pl_layout l;
  pl_layout_make(2, 4, 1, 1, 8, &l);
  pl_op_price p;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &p, NULL, NULL,
                                  NULL), PL_OK);
  /* 3 ring steps of this rank's K and V (2 b (s/cp) h_kv / t, 16-bit),
   * hidden behind 3/4 of the attention forward. */
  double kv = 2.0 * 32768 / 4 * 4096 / 2 * 2;
  double step = pl_coll_time_us(&g, PL_COLL_SENDRECV, kv, 2, 2, 0);
  double want = fmax(0, 3 * step - p.part[PL_OP_F][PL_PART_ATTN] * 0.75);
  assert_rel(p.part[PL_OP_F][PL_PART_CP] + 1, want + 1, 1e-12);
  /* GEMMs see s / cp tokens: a quarter of the no-CP FLOPs for the linear
   * layers. */
  double lin = 2.0 * 32768 / 4 * 12 * 4096.0 * 4096 / 2;
  double att = 4.0 * (32768 / 4) * 32768 * 4096 / 2 / 2; /* causal half */
  assert_rel(p.flops[PL_OP_F], lin + att, 1e-12);
  /* The cost builder refuses a sequence not divisible by 2 cp. */
  m.seq_len = 32766;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 2;
  gp.m = 4;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, NULL), PL_OK);
  assert_int_equal(pl_cost_build(NULL, &m, &g, &cfg, s, &c, &plan, &eb),
                   PL_EINVAL);
  assert_non_null(strstr(eb.msg, "2 x cp"));
  pl_sched_destroy(s);
}

/* ------------------------------------------------ iteration and ranks --- */

static void run(const pl_model_spec *m, const pl_gpu_spec *g,
                const pl_train_cfg *cfg, const char *name, int p, int mb,
                pl_model_plan *plan, pl_breakdown *bd, pl_result *r,
                pl_sched **s)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = mb;
  pl_costs *c = NULL, *c0 = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_sched_gen(name, &gp, s, &eb), PL_OK);
  int rc = pl_cost_build(NULL, m, g, cfg, *s, &c, plan, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
  assert_int_equal(pl_sim_run(*s, c, 0, r, &eb), PL_OK);
  assert_int_equal(pl_costs_clone(c, 1, &c0), PL_OK);
  for (int i = 0; i < c->n_stages; i++)
    assert_true(pl_costs_comm(c0, i) == 0);
  pl_result r0 = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(*s, c0, 0, &r0, &eb), PL_OK);
  assert_int_equal(pl_model_breakdown(plan, *s, r, &r0, bd), PL_OK);
  assert_true(r->makespan >= r0.makespan);
  pl_result_free(&r0);
  pl_costs_destroy(c0);
  pl_costs_destroy(c);
}

static void test_iteration(void **state)
{
  (void)state;
  pl_gpu_spec g = gpu("a100");
  pl_model_spec m = gpt(32, 4096, 32);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.tp = 2;
  cfg.dp = 4;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  pl_breakdown bd;
  pl_result r = PL_RESULT_INIT;
  pl_sched *s = NULL;
  run(&m, &g, &cfg, "1f1b", 4, 8, &plan, &bd, &r, &s);
  double hbm = g.hbm_bandwidth * g.hbm_eff;
  /* tp 2 x dp 4 x pp 4 = 32 GPUs; the gradient group has stride 2: 4
   * members per 8-GPU node. */
  assert_int_equal(plan.layout.dp_per_domain, 4);
  for (int i = 0; i < 4; i++) {
    double P = plan.rank[i].params;
    /* bf16 training reduces fp32 gradients (Megatron's default). */
    assert_rel(plan.dp_us[i],
               pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, P * 4, 4, 4, 0), 1e-12);
    /* 58 bytes per parameter at HBM bandwidth. */
    assert_rel(plan.optim_us[i], P * 58 / hbm * 1e6, 1e-12);
  }
  /* Tied embeddings: first and last stage all-reduce V h / t gradients;
   * pipeline ranks 0 and 3 are 3 x 8 GPUs apart: over the NIC. */
  double eb = 51200.0 * 4096 / 2 * 4;
  assert_rel(plan.embed_us[0],
             pl_coll_time_us(&g, PL_COLL_ALL_REDUCE, eb, 2, 1, 0), 1e-12);
  assert_rel(plan.embed_us[3], plan.embed_us[0], 1e-12);
  assert_true(plan.embed_us[1] == 0);
  /* The iteration: the latest rank's end + DP + embedding + optimizer. */
  double want = 0;
  for (int i = 0; i < 4; i++) {
    double e = r.ranks[i].last_end + plan.dp_us[i] + plan.embed_us[i] +
               plan.optim_us[i];
    if (e > want)
      want = e;
  }
  assert_rel(bd.iteration_us, want, 1e-12);
  /* The parts add up to the iteration. */
  double sum = bd.compute_us + bd.tp_us + bd.cp_us + bd.pp_us + bd.bubble_us +
               bd.dp_us + bd.optimizer_us;
  assert_rel(sum, bd.iteration_us, 1e-9);
  assert_rel(bd.compute_us, bd.gemm_us + bd.attn_us + bd.mem_us, 1e-12);
  assert_true(bd.tp_us > 0 && bd.pp_us >= 0 && bd.bubble_us > 0);
  /* MFU and HFU: no recomputation, equal. */
  assert_rel(bd.hfu, bd.mfu, 1e-12);
  assert_rel(bd.mfu, plan.model_flops_iter /
                         (bd.iteration_us / 1e6 * 32 * g.bf16_flops), 1e-12);
  pl_result_free(&r);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
  /* Overlapped DP reduce: only what the last backward cannot hide, at
   * least one bucket; full recomputation: HFU = MFU x (1 + recompute). */
  cfg.overlap_grad_reduce = 1;
  cfg.recompute = PL_RECOMPUTE_FULL;
  pl_breakdown bd2;
  r = (pl_result)PL_RESULT_INIT;
  plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
  run(&m, &g, &cfg, "1f1b", 4, 8, &plan, &bd2, &r, &s);
  for (int i = 0; i < 4; i++)
    assert_true(plan.dp_window_us[i] > 0);
  int cr = bd2.rank;
  double ex = fmax(plan.dp_us[cr] - plan.dp_window_us[cr],
                   plan.dp_bucket_us[cr]);
  ex = fmin(ex, plan.dp_us[cr]);
  assert_rel(bd2.dp_us, ex + plan.embed_us[cr], 1e-12);
  double s2 = 2048, h = 4096;
  double per_seq = 3 * (32 * (24 * s2 * h * h + 4 * s2 * s2 * h) +
                        2 * s2 * h * 51200);
  double rec = 32 * (24 * s2 * h * h + 4 * s2 * s2 * h);
  assert_rel(bd2.hfu / bd2.mfu, (per_seq + rec) / per_seq, 1e-12);
  pl_result_free(&r);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
}

/* The sustained clock: the A100 settles at 1305 of its 1410 MHz under dense
 * matrix load; tensor-core work (GEMMs, attention) slows by exactly that
 * ratio where it is compute-bound; memory-bound kernels, collectives and
 * FLOPs do not change. */
static void test_sustained_clock(void **state)
{
  (void)state;
  pl_gpu_spec g = gpu("a100");
  assert_rel(g.clock_ratio, 1305.0 / 1410.0, 1e-15);
  pl_gpu_spec h = gpu("h100");
  assert_rel(h.clock_ratio, 1.0, 0);
  pl_model_spec m = gpt(48, 6144, 64);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.mb_size = 4;
  cfg.tp = 8;
  cfg.flash_attn = 1;
  pl_layout l;
  pl_layout_make(8, 1, 1, 1, 8, &l);
  pl_op_price sus, boost;
  assert_int_equal(pl_price_layer(NULL, &m, &g, &cfg, &l, &sus, NULL, NULL,
                                  NULL), PL_OK);
  pl_gpu_spec gb = g;
  gb.clock_ratio = 1;
  assert_int_equal(pl_price_layer(NULL, &m, &gb, &cfg, &l, &boost, NULL, NULL,
                                  NULL), PL_OK);
  for (int k = PL_OP_F; k <= PL_OP_W; k++)
    assert_rel(sus.part[k][PL_PART_GEMM],
               boost.part[k][PL_PART_GEMM] * 1410.0 / 1305.0, 1e-12);
  assert_rel(sus.part[PL_OP_F][PL_PART_ATTN],
             boost.part[PL_OP_F][PL_PART_ATTN] * 1410.0 / 1305.0, 1e-12);
  assert_rel(sus.part[PL_OP_F][PL_PART_MEM], boost.part[PL_OP_F][PL_PART_MEM],
             1e-12);
  assert_rel(sus.part[PL_OP_F][PL_PART_TP], boost.part[PL_OP_F][PL_PART_TP],
             1e-12);
  assert_rel(sus.flops[PL_OP_F], boost.flops[PL_OP_F], 1e-12);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gemm),
    cmocka_unit_test(test_collectives),
    cmocka_unit_test(test_layout),
    cmocka_unit_test(test_measured_collectives),
    cmocka_unit_test(test_layer_flops_and_comm),
    cmocka_unit_test(test_sustained_clock),
    cmocka_unit_test(test_context_parallel),
    cmocka_unit_test(test_iteration),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
