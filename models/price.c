/* price.c: the kernel-level cost model (docs/cost-model.md). Every op of a
 * transformer layer is priced from the kernels a Megatron-style runtime
 * launches for it: GEMMs by a roofline with wave quantization, the attention
 * core by its kernel (flash, or batched GEMMs + softmax + dropout),
 * memory-bound kernels by the bytes they move at HBM bandwidth, each kernel
 * at least the launch floor, and the tensor- and context-parallel
 * collectives by the alpha-beta ring model over the links the layout puts
 * them on. */
#include <math.h>
#include <string.h>

#include "models_int.h"

const char *pl_precision_name(int p)
{
  switch (p) {
  case PL_PREC_BF16: return "bf16";
  case PL_PREC_FP16: return "fp16";
  case PL_PREC_FP8: return "fp8";
  case PL_PREC_FP4: return "fp4";
  default: return "unknown";
  }
}

int pl_precision_parse(const char *s)
{
  for (int p = PL_PREC_BF16; p <= PL_PREC_FP4; p++)
    if (s && !strcmp(s, pl_precision_name(p)))
      return p;
  return -1;
}

double pl_gpu_peak(const pl_gpu_spec *g, int precision)
{
  switch (precision) {
  case PL_PREC_BF16:
  case PL_PREC_FP16: return g->bf16_flops;
  case PL_PREC_FP8: return g->fp8_flops;
  case PL_PREC_FP4: return g->fp4_flops;
  default: return 0;
  }
}

const char *pl_part_name(int part)
{
  static const char *const n[PL_PART_N] = {"gemm", "attention", "memory",
                                           "tp_comm", "cp_comm"};
  return part >= 0 && part < PL_PART_N ? n[part] : "unknown";
}

/* ------------------------------------------------------------- layout --- */

static int members_per_domain(int n, int stride, int domain)
{
  if (n <= 1)
    return 1;
  if (stride >= domain)
    return 1;
  int k = domain / stride;
  return k < n ? (k < 1 ? 1 : k) : n;
}

void pl_layout_make(int tp, int cp, int dp, int pp, int domain, pl_layout *l)
{
  memset(l, 0, sizeof *l);
  l->tp = tp > 0 ? tp : 1;
  l->cp = cp > 0 ? cp : 1;
  l->dp = dp > 0 ? dp : 1;
  l->pp = pp > 0 ? pp : 1;
  l->domain = domain > 0 ? domain : 8;
  l->tp_per_domain = members_per_domain(l->tp, 1, l->domain);
  l->cp_per_domain = members_per_domain(l->cp, l->tp, l->domain);
  /* Megatron reduces gradients over dp x cp ranks (stride tp). */
  l->dp_per_domain = members_per_domain(l->dp * l->cp, l->tp, l->domain);
  l->pp_stride = l->tp * l->cp * l->dp;
}

int pl_layout_pp_intra(const pl_layout *l, int r1, int r2)
{
  /* Global rank of the first GPU of pipeline rank r: r * pp_stride; the
   * other GPUs of the two ranks pair up at the same offset, so one pair
   * decides (domains are aligned blocks of `domain` GPUs). */
  long a = (long)r1 * l->pp_stride, b = (long)r2 * l->pp_stride;
  return a / l->domain == b / l->domain;
}

/* --------------------------------------------------------- collectives --- */

double pl_coll_time_us(const pl_gpu_spec *g, int op, double bytes, int n,
                       int k, double measured_busbw)
{
  if (n <= 1 || bytes <= 0)
    return 0;
  double nn = n, factor, steps;
  switch (op) {
  case PL_COLL_ALL_REDUCE: factor = 2 * (nn - 1) / nn; steps = 2 * (nn - 1); break;
  case PL_COLL_REDUCE_SCATTER:
  case PL_COLL_ALL_GATHER: factor = (nn - 1) / nn; steps = nn - 1; break;
  default: factor = 1; steps = 1; break; /* sendrecv */
  }
  if (measured_busbw > 0)
    return bytes * factor / measured_busbw * 1e6;
  int intra = k >= n;
  double up = g->scaleup_bandwidth * g->scaleup_coll_eff;
  double busbw = up, lat = g->scaleup_latency_us;
  if (!intra) {
    double out = (k < 1 ? 1 : k) * g->scaleout_bandwidth * g->scaleout_coll_eff;
    busbw = out < up ? out : up;
    lat = g->scaleout_latency_us;
  }
  return steps * lat + bytes * factor / busbw * 1e6;
}

/* A collective priced from the database when it holds nccl-tests rows for
 * the GPU and scope, else by the alpha-beta model. */
static double coll(pl_db *db, const pl_gpu_spec *g, int op, double bytes,
                   int n, int k)
{
  double busbw = 0;
  if (n <= 1 || bytes <= 0)
    return 0;
  if (db) {
    int nodes = (n + k - 1) / (k < 1 ? 1 : k);
    if (pl_db_collective_busbw(db, g->name, op, n, nodes, bytes, &busbw, NULL,
                               NULL) != PL_OK)
      busbw = 0;
  }
  return pl_coll_time_us(g, op, bytes, n, k, busbw);
}

/* -------------------------------------------------------------- kernels --- */

struct hw {
  const pl_gpu_spec *g;
  double peak;    /* GEMM precision's dense FLOP/s */
  double peak16;  /* 16-bit dense FLOP/s (attention, everything else) */
  double in_bytes; /* bytes per GEMM input element */
  double hbm;     /* achievable bytes/s */
  double launch;  /* µs */
};

static double gemm_us(const struct hw *x, double M, double N, double K,
                      double batch, double peak, double in_bytes);

/* Tile of the large GEMM kernels (NVIDIA's matrix-multiplication guide:
 * 256 x 128 thread-block tiles on Ampere/Hopper-class parts). */
#define TILE_LONG 256.0
#define TILE_SHORT 128.0
/* Main-loop fill and drain of a tiled GEMM, in elements of K: a software
 * pipeline of a few BK = 32..64 stages costs about 128 elements of K per
 * tile, so a GEMM reaches K / (K + K_FILL) of its main-loop rate. The GPU's
 * gemm_efficiency is the maximum achievable matmul rate, measured at a
 * K = 2048 shape (docs/hardware.md) and not exceeded at larger K, so a GEMM
 * of smaller K reaches gemm_efficiency * (K / (K + K_FILL)) /
 * (2048 / (2048 + K_FILL)). */
#define K_FILL 128.0
#define K_REF 2048.0

/*
 * One GEMM of (M x K) . (K x N), `batch` times: roofline of the compute
 * time at gemm_eff of peak, scaled by the wave quantization of the output
 * tiles over the SMs, against the bytes of its operands and output at HBM
 * bandwidth; at least the launch floor.
 */
double pl__gemm_us(const pl_gpu_spec *g, double M, double N, double K,
                   double batch, double peak, double in_bytes)
{
  struct hw x;
  memset(&x, 0, sizeof x);
  x.g = g;
  x.hbm = g->hbm_bandwidth * (g->hbm_eff > 0 ? g->hbm_eff : 1);
  x.launch = g->launch_us;
  return gemm_us(&x, M, N, K, batch, peak, in_bytes);
}

static double gemm_us(const struct hw *x, double M, double N, double K,
                      double batch, double peak, double in_bytes)
{
  if (M <= 0 || N <= 0 || K <= 0 || batch <= 0)
    return 0;
  double flops = 2 * M * N * K * batch;
  double big = M > N ? M : N, small = M > N ? N : M;
  double tiles = ceil(big / TILE_LONG) * ceil(small / TILE_SHORT) * batch;
  double sms = x->g->sm_count > 0 ? x->g->sm_count : 1;
  double waves = ceil(tiles / sms);
  double util = tiles / (waves * sms);
  double keff = (K / (K + K_FILL)) / (K_REF / (K_REF + K_FILL));
  double eff = x->g->gemm_eff * (keff < 1 ? keff : 1);
  double tc = flops / (peak * eff * util) * 1e6;
  double bytes = (in_bytes * (M * K + K * N) + 2 * M * N) * batch;
  double tm = bytes / x->hbm * 1e6;
  double t = tc > tm ? tc : tm;
  return t > x->launch ? t : x->launch;
}

/* A memory-bound kernel moving `bytes`. */
static double mem_us(const struct hw *x, double bytes)
{
  double t = bytes / x->hbm * 1e6;
  return t > x->launch ? t : x->launch;
}

/* Adds a GEMM's forward to F, its input gradient to B, its weight gradient
 * to W (tokens T, in K, out N). */
static void linear(const struct hw *x, pl_op_price *p, double T, double K,
                   double N, int unfused)
{
  if (unfused) {
    /* read the 16-bit gradient and the fp32 main gradient, write it back */
    p->part[PL_OP_W][PL_PART_MEM] += mem_us(x, 10 * K * N);
    p->kernels[PL_OP_W]++;
  }
  p->part[PL_OP_F][PL_PART_GEMM] += gemm_us(x, T, N, K, 1, x->peak, x->in_bytes);
  p->part[PL_OP_B][PL_PART_GEMM] += gemm_us(x, T, K, N, 1, x->peak, x->in_bytes);
  p->part[PL_OP_W][PL_PART_GEMM] += gemm_us(x, K, N, T, 1, x->peak, x->in_bytes);
  p->flops[PL_OP_F] += 2 * T * K * N;
  p->flops[PL_OP_B] += 2 * T * K * N;
  p->flops[PL_OP_W] += 2 * T * K * N;
  p->kernels[PL_OP_F]++;
  p->kernels[PL_OP_B]++;
  p->kernels[PL_OP_W]++;
}

/* An elementwise kernel moving `bytes` forward; its backward reads the saved
 * input and the incoming gradient and writes the gradient: twice the bytes. */
static void elementwise(const struct hw *x, pl_op_price *p, double bytes)
{
  p->part[PL_OP_F][PL_PART_MEM] += mem_us(x, bytes);
  p->part[PL_OP_B][PL_PART_MEM] += mem_us(x, 2 * bytes);
  p->kernels[PL_OP_F]++;
  p->kernels[PL_OP_B]++;
}

static void sum_parts(pl_op_price *p)
{
  for (int k = PL_OP_F; k <= PL_OP_W; k++) {
    p->t[k] = 0;
    for (int q = 0; q < PL_PART_N; q++)
      p->t[k] += p->part[k][q];
  }
  for (int q = 0; q < PL_PART_N; q++)
    p->part[PL_OP_BW][q] = p->part[PL_OP_B][q] + p->part[PL_OP_W][q];
  p->t[PL_OP_BW] = p->t[PL_OP_B] + p->t[PL_OP_W];
  p->flops[PL_OP_BW] = p->flops[PL_OP_B] + p->flops[PL_OP_W];
  p->kernels[PL_OP_BW] = p->kernels[PL_OP_B] + p->kernels[PL_OP_W];
}

/* Ratio of flash attention's backward to its forward efficiency
 * (FlashAttention-2, Dao 2023: the backward runs at about 0.85x the forward's
 * fraction of peak on A100 and H100). */
#define FLASH_BWD_EFF 0.85

int pl_price_layer(pl_db *db, const pl_model_spec *m, const pl_gpu_spec *g,
                   const pl_train_cfg *cfg, const pl_layout *l,
                   pl_op_price *layer, pl_op_price *head, pl_op_price *embed,
                   struct pl_errbuf *eb)
{
  struct hw x;
  memset(&x, 0, sizeof x);
  x.g = g;
  /* Tensor-core work runs at the clock the GPU sustains under dense matrix
   * load, a fraction of the clock its datasheet peaks are stated at
   * (docs/cost-model.md, "Sustained clock"). */
  double clk = g->clock_ratio > 0 && g->clock_ratio <= 1 ? g->clock_ratio : 1;
  x.peak16 = g->bf16_flops * clk;
  x.peak = pl_gpu_peak(g, cfg->precision) * clk;
  if (x.peak <= 0)
    return pl_errf(eb, PL_EINVAL, "GPU '%s' has no dense %s peak; pick "
                                  "--precision bf16%s", g->name,
                   pl_precision_name(cfg->precision),
                   g->fp8_flops > 0 ? " or fp8" : "");
  x.in_bytes = cfg->precision == PL_PREC_FP8 ? 1
               : cfg->precision == PL_PREC_FP4 ? 0.5 : 2;
  x.hbm = g->hbm_bandwidth * (g->hbm_eff > 0 ? g->hbm_eff : 1);
  x.launch = g->launch_us;
  if (!(g->gemm_eff > 0) || !(g->attn_eff > 0) || g->sm_count < 1)
    return pl_errf(eb, PL_EINVAL, "GPU '%s' lacks the kernel-model figures "
                                  "(gemm/attention efficiency, SM count)",
                   g->name);

  int t = l->tp, c = l->cp;
  double b = cfg->mb_size, s = cfg->seq_len > 0 ? cfg->seq_len : m->seq_len;
  double h = m->hidden, a = m->heads, d = h / a;
  double hkv = (double)m->kv_heads * d, f = m->ffn, V = m->vocab;
  int llama = m->arch == PL_ARCH_LLAMA;
  int sp = cfg->seq_parallel && t > 1;
  double T = b * s / c;           /* tokens per GPU */
  double Tn = sp ? T / t : T;     /* tokens of the norm / residual kernels */
  double at = a / t;              /* heads per GPU */
  double S_act = T * h * 2;       /* one activation of this GPU's tokens */

  if (layer) {
    pl_op_price *p = layer;
    memset(p, 0, sizeof *p);
    /* --- GEMMs: QKV, output projection, FFN in and out */
    int uf = cfg->no_grad_accum_fusion;
    linear(&x, p, T, h, (h + 2 * hkv) / t, uf);
    linear(&x, p, T, h / t, h, uf);
    linear(&x, p, T, h, (llama ? 2 : 1) * f / t, uf);
    linear(&x, p, T, f / t, h, uf);
    /* --- memory-bound kernels (bytes moved in the forward) */
    if (llama) {
      elementwise(&x, p, 4 * Tn * h);             /* RMSNorm 1 */
      elementwise(&x, p, 4 * T * (h + hkv) / t);  /* rotary on q and k */
      elementwise(&x, p, 6 * Tn * h);             /* residual add 1 */
      elementwise(&x, p, 4 * Tn * h);             /* RMSNorm 2 */
      elementwise(&x, p, 6 * T * f / t);          /* SwiGLU */
      elementwise(&x, p, 6 * Tn * h);             /* residual add 2 */
    } else {
      elementwise(&x, p, 4 * Tn * h);             /* LayerNorm 1 */
      elementwise(&x, p, 7 * Tn * h);             /* bias-dropout-add 1 */
      elementwise(&x, p, 4 * Tn * h);             /* LayerNorm 2 */
      elementwise(&x, p, 4 * T * f / t);          /* bias-GeLU */
      elementwise(&x, p, 7 * Tn * h);             /* bias-dropout-add 2 */
    }
    /* --- attention core */
    double attn_f = 0, attn_b = 0, attn_flops = 4 * b * (s / c) * s * h / t;
    if (cfg->flash_attn) {
      double frac = cfg->no_causal ? 1.0 : 0.5; /* causal: half the blocks */
      double ff = attn_flops * frac;
      attn_f = ff / (x.peak16 * g->attn_eff) * 1e6;
      attn_b = 2.5 * ff / (x.peak16 * g->attn_eff * FLASH_BWD_EFF) * 1e6;
      attn_f = attn_f > x.launch ? attn_f : x.launch;
      attn_b = attn_b > x.launch ? attn_b : x.launch;
      p->flops[PL_OP_F] += ff;
      p->flops[PL_OP_B] += 2.5 * ff;
      p->kernels[PL_OP_F]++;
      p->kernels[PL_OP_B]++;
    } else {
      /* Batched GEMMs over b * a/t heads, the scale-mask-softmax kernel and
       * (GPT) the attention dropout; E elements of s x s per GPU. */
      double bt = b * at, sq = s / c, E = bt * sq * s;
      attn_f = gemm_us(&x, sq, s, d, bt, x.peak16, 2) +   /* Q K^T */
               mem_us(&x, 4 * E) +                         /* softmax */
               (llama ? 0 : mem_us(&x, 5 * E)) +           /* dropout */
               gemm_us(&x, sq, d, s, bt, x.peak16, 2);     /* P V */
      attn_b = gemm_us(&x, sq, s, d, bt, x.peak16, 2) +   /* dP = dO V^T */
               gemm_us(&x, s, d, sq, bt, x.peak16, 2) +   /* dV = P^T dO */
               (llama ? 0 : mem_us(&x, 5 * E)) +           /* dropout bwd */
               mem_us(&x, 6 * E) +                         /* softmax bwd */
               gemm_us(&x, sq, d, s, bt, x.peak16, 2) +   /* dQ = dS K */
               gemm_us(&x, s, d, sq, bt, x.peak16, 2);    /* dK = dS^T Q */
      p->flops[PL_OP_F] += attn_flops;
      p->flops[PL_OP_B] += 2 * attn_flops;
      p->kernels[PL_OP_F] += llama ? 3 : 4;
      p->kernels[PL_OP_B] += llama ? 5 : 6;
    }
    p->part[PL_OP_F][PL_PART_ATTN] = attn_f;
    p->part[PL_OP_B][PL_PART_ATTN] = attn_b;
    /* --- tensor-parallel collectives: per layer two in the forward (after
     * attention and after the MLP) and two in the backward; with sequence
     * parallelism each all-reduce becomes an all-gather + a reduce-scatter
     * of the same activation (the backward's extra all-gather of the input
     * for the weight gradient overlaps the input-gradient GEMM). */
    double tp_f = 0;
    if (t > 1) {
      int k = l->tp_per_domain;
      if (sp)
        tp_f = 2 * (coll(db, g, PL_COLL_ALL_GATHER, S_act, t, k) +
                    coll(db, g, PL_COLL_REDUCE_SCATTER, S_act, t, k));
      else
        tp_f = 2 * coll(db, g, PL_COLL_ALL_REDUCE, S_act, t, k);
      p->kernels[PL_OP_F] += sp ? 4 : 2;
      p->kernels[PL_OP_B] += sp ? 4 : 2;
    }
    /* With sequence parallelism the backward also all-gathers each
     * column-parallel layer's saved input again for its weight gradient.
     * Megatron launches that gather next to the input-gradient GEMM, but its
     * NCCL kernel takes SMs and HBM bandwidth from the GEMM, so it costs
     * about its own time; only tp_comm_overlap (userbuffers) hides it. */
    double tp_b = tp_f;
    if (t > 1 && sp)
      tp_b += 2 * coll(db, g, PL_COLL_ALL_GATHER, S_act, t, l->tp_per_domain);
    if (cfg->tp_comm_overlap) {
      /* hidden behind the GEMMs of the same op where they are long enough */
      tp_f = fmax(0, tp_f - p->part[PL_OP_F][PL_PART_GEMM]);
      tp_b = fmax(0, tp_b - p->part[PL_OP_B][PL_PART_GEMM]);
    }
    p->part[PL_OP_F][PL_PART_TP] = tp_f;
    p->part[PL_OP_B][PL_PART_TP] = tp_b;
    /* --- context parallelism (ring attention): c - 1 exchanges of this
     * rank's K and V blocks per forward, K, V and their gradients in the
     * backward, overlapped with the attention blocks of the other steps. */
    if (c > 1) {
      double kv = 2 * b * (s / c) * hkv / t * 2; /* K and V, 16-bit */
      double step = coll(db, g, PL_COLL_SENDRECV, kv, 2,
                         l->cp_per_domain >= 2 ? 2 : 1);
      double cf = (c - 1) * step, cb = 2 * (c - 1) * step;
      double hide = (c - 1.0) / c;
      p->part[PL_OP_F][PL_PART_CP] = fmax(0, cf - attn_f * hide);
      p->part[PL_OP_B][PL_PART_CP] = fmax(0, cb - attn_b * hide);
    }
    /* --- recomputation adds its re-forward to B */
    if (cfg->recompute == PL_RECOMPUTE_FULL) {
      for (int q = 0; q < PL_PART_N; q++)
        p->part[PL_OP_B][q] += p->part[PL_OP_F][q];
      p->flops[PL_OP_B] += p->flops[PL_OP_F];
      p->kernels[PL_OP_B] += p->kernels[PL_OP_F];
    } else if (cfg->recompute == PL_RECOMPUTE_SELECTIVE && !cfg->flash_attn) {
      p->part[PL_OP_B][PL_PART_ATTN] += attn_f;
      p->flops[PL_OP_B] += attn_flops;
      p->kernels[PL_OP_B] += llama ? 3 : 4;
    }
    sum_parts(p);
  }
  if (head) {
    /* Final norm, the logits GEMM over the vocabulary shard and the
     * vocabulary-parallel cross-entropy in fp32 (cast, max, exp, sum,
     * normalise: about 38 bytes per logit forward, 26 backward), with its
     * three small all-reduces over the TP group. */
    pl_op_price *p = head;
    memset(p, 0, sizeof *p);
    elementwise(&x, p, 4 * Tn * h);
    if (sp && t > 1) {
      double ag = coll(db, g, PL_COLL_ALL_GATHER, S_act, t, l->tp_per_domain);
      p->part[PL_OP_F][PL_PART_TP] += ag;
      p->part[PL_OP_B][PL_PART_TP] += coll(db, g, PL_COLL_REDUCE_SCATTER,
                                           S_act, t, l->tp_per_domain);
    }
    linear(&x, p, T, h, V / t, cfg->no_grad_accum_fusion);
    double logits = T * V / t;
    p->part[PL_OP_F][PL_PART_MEM] += mem_us(&x, 38 * logits);
    p->part[PL_OP_B][PL_PART_MEM] += mem_us(&x, 26 * logits);
    p->kernels[PL_OP_F] += 5;
    p->kernels[PL_OP_B] += 3;
    if (t > 1)
      p->part[PL_OP_F][PL_PART_TP] +=
          3 * coll(db, g, PL_COLL_ALL_REDUCE, T * 4, t, l->tp_per_domain);
    sum_parts(p);
  }
  if (embed) {
    /* Gather of T rows (+ GPT's position add and dropout) forward, a
     * scatter-add into the embedding gradient backward; with sequence
     * parallelism the output is reduce-scattered over the TP group. */
    pl_op_price *p = embed;
    memset(p, 0, sizeof *p);
    double bytes = 4 * T * h + (llama ? 0 : 7 * Tn * h);
    p->part[PL_OP_F][PL_PART_MEM] = mem_us(&x, bytes);
    p->part[PL_OP_B][PL_PART_MEM] = mem_us(&x, 2 * bytes);
    p->kernels[PL_OP_F] = llama ? 1 : 2;
    p->kernels[PL_OP_B] = llama ? 1 : 2;
    if (t > 1) {
      int op = sp ? PL_COLL_REDUCE_SCATTER : PL_COLL_ALL_REDUCE;
      p->part[PL_OP_F][PL_PART_TP] = coll(db, g, op, S_act, t, l->tp_per_domain);
      p->part[PL_OP_B][PL_PART_TP] =
          sp ? coll(db, g, PL_COLL_ALL_GATHER, S_act, t, l->tp_per_domain) : 0;
    }
    sum_parts(p);
  }
  return PL_OK;
}
