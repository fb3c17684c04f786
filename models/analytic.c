/* analytic.c: the analytic transformer cost model (docs/cost-model.md):
 * FLOPs per layer split into F, B and W as in the zero-bubble paper,
 * Korthikanti's activation bytes, what B frees vs W, parameter / gradient /
 * optimizer bytes, P2P message bytes, the vocabulary layers on the end
 * stages, the layer partition, and the measured-cost lookup that overrides
 * the analytic times. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models_int.h"

const char *pl_recompute_name(int r)
{
  switch (r) {
  case PL_RECOMPUTE_NONE: return "none";
  case PL_RECOMPUTE_SELECTIVE: return "selective";
  case PL_RECOMPUTE_FULL: return "full";
  default: return "unknown";
  }
}

static double kv_hidden(const pl_model_spec *m)
{
  return (double)m->kv_heads * ((double)m->hidden / (double)m->heads);
}

/* Matmul parameters of one layer: QKV, output projection, FFN. */
static double n_lin(const pl_model_spec *m)
{
  double h = m->hidden, hkv = kv_hidden(m), f = m->ffn;
  return h * (h + 2 * hkv) + h * h +
         (m->arch == PL_ARCH_LLAMA ? 3.0 : 2.0) * h * f;
}

/* Parameters of one layer: GPT adds biases (QKV, projection, fc1, fc2) and
 * two LayerNorms (12h^2 + 13h for f = 4h); LLaMA two RMSNorm weights. */
static double layer_params(const pl_model_spec *m)
{
  double h = m->hidden, hkv = kv_hidden(m), f = m->ffn;
  if (m->arch == PL_ARCH_LLAMA)
    return n_lin(m) + 2 * h;
  return n_lin(m) + (h + 2 * hkv) + h + f + h + 4 * h;
}

static double final_norm_params(const pl_model_spec *m)
{
  return m->arch == PL_ARCH_LLAMA ? m->hidden : 2.0 * m->hidden;
}

double pl_model_params(const pl_model_spec *m)
{
  double h = m->hidden, V = m->vocab;
  double p = (double)m->layers * layer_params(m) + V * h +
             final_norm_params(m);
  if (m->learned_pos)
    p += (double)m->seq_len * h;
  if (!m->tied_embeddings)
    p += V * h;
  return p;
}

static double seq_of(const pl_model_spec *m, const pl_train_cfg *cfg)
{
  return cfg->seq_len > 0 ? cfg->seq_len : m->seq_len;
}

double pl_model_flops_iter(const pl_model_spec *m, const pl_train_cfg *cfg,
                           double sequences)
{
  double s = seq_of(m, cfg), h = m->hidden, V = m->vocab;
  double c = cfg->causal_discount;
  double layer_f = 2 * s * n_lin(m) + 4 * s * s * h * (1 - c);
  return 3.0 * sequences * ((double)m->layers * layer_f + 2 * s * h * V);
}

int pl_cost_layer(const pl_model_spec *m, const pl_train_cfg *cfg,
                  pl_layer_cost *layer, pl_layer_cost *head,
                  pl_layer_cost *embed, struct pl_errbuf *eb)
{
  if (m->layers < 1 || m->hidden < 1 || m->heads < 1 || m->kv_heads < 1 ||
      m->ffn < 1 || m->vocab < 1)
    return pl_errf(eb, PL_EINVAL, "model '%s' has an invalid shape", m->name);
  if (cfg->mb_size < 1 || cfg->tp < 1 || cfg->dp < 1 ||
      cfg->causal_discount < 0 || cfg->causal_discount > 1 ||
      cfg->recompute < PL_RECOMPUTE_NONE || cfg->recompute > PL_RECOMPUTE_FULL)
    return pl_errf(eb, PL_EINVAL, "invalid training configuration (microbatch "
                                  "size, tp and dp must be >= 1)");
  if (m->heads % cfg->tp || m->ffn % cfg->tp)
    return pl_errf(eb, PL_EINVAL, "tensor-parallel size %d does not divide "
                                  "the %d attention heads and FFN width %d of "
                                  "'%s'", cfg->tp, m->heads, m->ffn, m->name);
  double b = cfg->mb_size, s = seq_of(m, cfg), h = m->hidden, a = m->heads;
  double hkv = kv_hidden(m), f = m->ffn, V = m->vocab, t = cfg->tp;
  double sb = s * b, c = cfg->causal_discount;
  int llama = m->arch == PL_ARCH_LLAMA;
  int sp = cfg->seq_parallel && cfg->tp > 1;
  int no_s2 = cfg->flash_attn || cfg->recompute != PL_RECOMPUTE_NONE;

  if (layer) {
    memset(layer, 0, sizeof *layer);
    double lin = 2 * sb * n_lin(m), att = 4 * b * s * s * h * (1 - c);
    double fwd = (lin + att) / t;
    layer->flops[PL_OP_F] = fwd;
    layer->flops[PL_OP_B] = (lin + 2 * att) / t;
    layer->flops[PL_OP_W] = lin / t;
    if (cfg->recompute == PL_RECOMPUTE_FULL)
      layer->flops[PL_OP_B] += fwd;
    else if (cfg->recompute == PL_RECOMPUTE_SELECTIVE && !cfg->flash_attn)
      layer->flops[PL_OP_B] += att / t;
    layer->flops[PL_OP_BW] = layer->flops[PL_OP_B] + layer->flops[PL_OP_W];
    /* Activation bytes (Korthikanti §4): a part replicated across TP ranks
     * unless sequence parallelism shards it, a TP-sharded part and the s^2
     * attention tensors (gone with flash attention or recomputation). */
    double rep, shard, s2;
    if (llama) {
      rep = 8 * h;
      shard = 4 * h + 4 * hkv + 6 * f + (cfg->flash_attn ? 4 * a : 0);
      s2 = 2 * a * s;
    } else {
      rep = 10 * h;
      shard = 8 * h + 4 * f;
      s2 = 5 * a * s;
    }
    if (no_s2)
      s2 = 0;
    double rep_t = sp ? rep / t : rep;
    layer->mem_b = sb * (rep_t + (shard + s2) / t);
    if (cfg->recompute == PL_RECOMPUTE_FULL)
      layer->mem_b = 2 * sb * h / (sp ? t : 1);
    /* M_W: inputs and output gradients of the linear layers (ZB paper: 32sbh
     * for GPT); at most M_B, because the engine only releases at B. */
    double rep_w = 8 * h, shard_w = 4 * h + 4 * hkv + (llama ? 6 : 4) * f;
    layer->mem_w = sb * ((sp ? rep_w / t : rep_w) + shard_w / t);
    if (layer->mem_w > layer->mem_b)
      layer->mem_w = layer->mem_b;
    layer->params = layer_params(m) / t;
  }
  if (head) {
    /* LM head: F = B = W = 2bshV (docs/cost-model.md §3), plus the final norm.
     * Korthikanti §4.5: final-norm input, output-projection input and fp32
     * logits stay until B; W keeps its input and the bf16 logit grads. */
    memset(head, 0, sizeof *head);
    double fl = 2 * b * s * h * V / t;
    head->flops[PL_OP_F] = head->flops[PL_OP_B] = head->flops[PL_OP_W] = fl;
    head->flops[PL_OP_BW] = 2 * fl;
    head->mem_b = (4 * sb * h + 4 * sb * V) / t;
    head->mem_w = (2 * sb * h + 2 * sb * V) / t;
    head->params = V * h / t + final_norm_params(m);
  }
  if (embed) {
    /* A gather forward, a scatter-add backward: no FLOPs to speak of; the
     * GPT embedding dropout keeps a 1-byte mask per element. */
    memset(embed, 0, sizeof *embed);
    embed->mem_b = llama ? 0 : sb * h / t;
    embed->mem_w = 0;
    embed->params = V * h / t + (m->learned_pos ? s * h / t : 0);
  }
  return PL_OK;
}

int pl_cost_partition(int layers, int n, double extra_first, double extra_last,
                      int *out)
{
  if (n < 1 || layers < 0)
    return PL_EINVAL;
  double load[4096];
  if (n > 4096)
    return PL_EINVAL;
  for (int i = 0; i < n; i++) {
    out[i] = 0;
    load[i] = 0;
  }
  load[0] += extra_first;
  load[n - 1] += extra_last;
  /* Greedy: every layer goes to the least-loaded stage, so the end stages
   * with the vocabulary layers get fewer layers. Ties go to the later stage:
   * early pipeline ranks hold the most microbatches in flight, so a
   * leftover layer costs the least memory late in the pipeline. */
  for (int l = 0; l < layers; l++) {
    int best = n - 1;
    for (int i = n - 2; i >= 0; i--)
      if (load[i] < load[best] - 1e-9)
        best = i;
    out[best]++;
    load[best] += 1.0;
  }
  return PL_OK;
}

void pl_model_plan_free(pl_model_plan *plan)
{
  if (!plan)
    return;
  pl_free(plan->layers);
  pl_free(plan->rank);
  pl_free(plan->part);
  pl_free(plan->dp_us);
  pl_free(plan->dp_window_us);
  pl_free(plan->dp_bucket_us);
  pl_free(plan->optim_us);
  pl_free(plan->embed_us);
  plan->layers = NULL;
  plan->rank = NULL;
  plan->part = NULL;
  plan->dp_us = plan->dp_window_us = plan->dp_bucket_us = NULL;
  plan->optim_us = plan->embed_us = NULL;
}

/* ------------------------------------------------------ measured costs --- */

static int near(double x, double y) { return fabs(x - y) <= 1e-9 * (fabs(y) + 1); }

/* Ratio at microbatch size b among the points of sequence length sv. */
static double ratio_at_s(const struct pl__point *pts, const double *ratio,
                         size_t n, double sv, double b, int *ext)
{
  int lo = -1, hi = -1;
  for (size_t i = 0; i < n; i++) {
    if (!near(pts[i].s, sv))
      continue;
    if (pts[i].b <= b && (lo < 0 || pts[i].b > pts[lo].b))
      lo = (int)i;
    if (pts[i].b >= b && (hi < 0 || pts[i].b < pts[hi].b))
      hi = (int)i;
  }
  if (lo < 0 || hi < 0) {
    *ext = 1;
    return ratio[lo >= 0 ? lo : hi];
  }
  if (lo == hi || near(pts[lo].b, pts[hi].b))
    return ratio[lo];
  double w = (b - pts[lo].b) / (pts[hi].b - pts[lo].b);
  return ratio[lo] + w * (ratio[hi] - ratio[lo]);
}

double pl__interp_ratio(const struct pl__point *pts, const double *ratio,
                        size_t n, double b, double s, int *source)
{
  int ext = 0;
  double slo = -1, shi = -1;
  for (size_t i = 0; i < n; i++)
    if (near(pts[i].b, b) && near(pts[i].s, s)) {
      *source = PL_SRC_MEASURED;
      return ratio[i];
    }
  for (size_t i = 0; i < n; i++) {
    if (pts[i].s <= s && (slo < 0 || pts[i].s > slo))
      slo = pts[i].s;
    if (pts[i].s >= s && (shi < 0 || pts[i].s < shi))
      shi = pts[i].s;
  }
  double r;
  if (slo < 0 || shi < 0) {
    ext = 1;
    r = ratio_at_s(pts, ratio, n, slo >= 0 ? slo : shi, b, &ext);
  } else if (near(slo, shi)) {
    r = ratio_at_s(pts, ratio, n, slo, b, &ext);
  } else {
    double rl = ratio_at_s(pts, ratio, n, slo, b, &ext);
    double rh = ratio_at_s(pts, ratio, n, shi, b, &ext);
    r = rl + (s - slo) / (shi - slo) * (rh - rl);
  }
  *source = ext ? PL_SRC_EXTRAPOLATED : PL_SRC_INTERPOLATED;
  return r;
}

/* The time at (b, s) from measured points, shared by the model and the
 * workload lookups: an exact point is returned as stored (not as
 * us / ref * ref, which can differ in the last bit); otherwise the ratio
 * measured / ref(point) is interpolated (pl__interp_ratio) and scaled by
 * ref_target, the reference time at (b, s). */
static int scaled_time(const struct pl__point *pts, size_t n, double b,
                       double s, double (*ref)(const struct pl__point *p,
                                               void *ctx),
                       void *ctx, double ref_target, double *us, int *source,
                       struct pl_errbuf *eb)
{
  for (size_t i = 0; i < n; i++)
    if (pts[i].b == b && pts[i].s == s) {
      *us = pts[i].us;
      *source = PL_SRC_MEASURED;
      return PL_OK;
    }
  double *ratio = pl_malloc(n * sizeof *ratio);
  if (!ratio)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    double a = ref(&pts[i], ctx);
    ratio[i] = a > 0 ? pts[i].us / a : 1.0;
  }
  *us = pl__interp_ratio(pts, ratio, n, b, s, source) * ref_target;
  pl_free(ratio);
  return PL_OK;
}

struct analytic_ref {
  const pl_model_spec *m;
  const pl_train_cfg *cfg;
  int op_kind;
  double (*fn)(const pl_model_spec *m, const pl_train_cfg *cfg, int op_kind,
               void *ctx);
  void *ctx;
};

/* The analytic time at a measured point's (mb, seq). */
static double analytic_at(const struct pl__point *p, void *ctx)
{
  const struct analytic_ref *a = ctx;
  pl_train_cfg c2 = *a->cfg;
  c2.mb_size = (int)p->b;
  c2.seq_len = (int)p->s;
  return a->fn(a->m, &c2, a->op_kind, a->ctx);
}

int pl_cost_lookup(pl_db *db, const char *gpu, const pl_model_spec *m,
                   const char *layer_kind, int op_kind, const pl_train_cfg *cfg,
                   double (*analytic_us)(const pl_model_spec *m,
                                         const pl_train_cfg *cfg, int op_kind,
                                         void *ctx),
                   void *ctx, double *us, int *source, struct pl_errbuf *eb)
{
  struct pl__point *pts = NULL;
  size_t n = 0;
  int rc = pl__db_samples(db, gpu, m->name, layer_kind, op_kind, m->hidden,
                          cfg->tp, "bf16", 0, &pts, &n, NULL, eb);
  if (rc)
    return rc;
  if (n == 0) {
    pl_free(pts);
    return pl_errf(eb, PL_ENOTFOUND, "no measured %s %s samples for %s on %s",
                   layer_kind, pl_op_kind_name(op_kind), m->name, gpu);
  }
  struct analytic_ref a = {m, cfg, op_kind, analytic_us, ctx};
  rc = scaled_time(pts, n, cfg->mb_size, seq_of(m, cfg), analytic_at, &a,
                   analytic_us(m, cfg, op_kind, ctx), us, source, eb);
  pl_free(pts);
  return rc;
}

/* Tokens of a measured point: the workload's cost is linear in them. */
static double tokens_at(const struct pl__point *p, void *ctx)
{
  (void)ctx;
  return p->b * p->s;
}

/* One workload op from the samples of (device, kind, op, hidden, dtype):
 * time per token interpolated over the stored (mb, seq) points. */
static int wl_lookup(pl_db *db, const char *device, const char *dtype,
                     const char *layer_kind, int op_kind, int hidden, int mb,
                     int seq, double *us, int *source, int64_t *calib_id,
                     struct pl_errbuf *eb)
{
  struct pl__point *pts = NULL;
  size_t n = 0;
  int rc = pl__db_samples(db, device, NULL, layer_kind, op_kind, hidden, 1,
                          dtype, 1, &pts, &n, calib_id, eb);
  if (rc)
    return rc;
  if (n == 0) {
    pl_free(pts);
    return PL_ENOTFOUND;
  }
  rc = scaled_time(pts, n, mb, seq, tokens_at, NULL, (double)mb * seq, us,
                   source, eb);
  pl_free(pts);
  return rc;
}

int pl_db_workload_costs(pl_db *db, const char *device, const char *dtype,
                         int hidden, int mb_size, int seq, pl_wl_costs *out,
                         struct pl_errbuf *eb)
{
  memset(out, 0, sizeof *out);
  if (!db || !device || !dtype || hidden < 1 || mb_size < 1 || seq < 1)
    return pl_errf(eb, PL_EINVAL, "workload costs: bad arguments");
  int have[PL_OP_NKINDS] = {0}, rc, src;
  int64_t cid = 0;
  for (int k = PL_OP_F; k <= PL_OP_BW; k++) {
    rc = wl_lookup(db, device, dtype, "transformer", k, hidden, mb_size, seq,
                   &out->t[k], &out->source[k], k == PL_OP_F ? &cid : NULL,
                   eb);
    if (rc == PL_OK)
      have[k] = 1;
    else if (rc != PL_ENOTFOUND)
      return rc;
  }
  if (!have[PL_OP_F] || !have[PL_OP_B] || !have[PL_OP_W])
    return pl_errf(eb, PL_ENOTFOUND,
                   "no measured %s %s transformer samples for hidden %d on "
                   "'%s' in '%s'; run `pipelab calibrate --hidden %d --db "
                   "<file> --gpu %s` first",
                   dtype, !have[PL_OP_F] ? "F" : !have[PL_OP_B] ? "B" : "W",
                   hidden, device, pl_db_path(db), hidden, device);
  if (!have[PL_OP_BW]) {
    out->t[PL_OP_BW] = out->t[PL_OP_B] + out->t[PL_OP_W];
    out->source[PL_OP_BW] = out->source[PL_OP_B] > out->source[PL_OP_W]
                                ? out->source[PL_OP_B]
                                : out->source[PL_OP_W];
  }
  out->calibration_id = cid;
  rc = wl_lookup(db, device, dtype, "embedding", PL_OP_F, hidden, mb_size,
                 seq, &out->input_us, &src, NULL, eb);
  if (rc && rc != PL_ENOTFOUND)
    return rc;
  rc = wl_lookup(db, device, dtype, "lm_head", PL_OP_F, hidden, mb_size, seq,
                 &out->loss_us, &src, NULL, eb);
  if (rc && rc != PL_ENOTFOUND)
    return rc;
  double lat = 0, bw = 0;
  struct pl_errbuf e2 = PL_ERRBUF_INIT;
  rc = pl_db_link_cost(db, device, "local", &lat, &bw, &e2);
  if (rc == PL_OK) {
    out->have_link = 1;
    out->latency_us = lat;
    /* bytes/s -> bytes/us; the marker means all of it is latency */
    out->bytes_per_us = bw >= PL_LINK_NO_BANDWIDTH ? 0 : bw / 1e6;
  } else if (rc != PL_ENOTFOUND) {
    if (eb)
      *eb = e2;
    return rc;
  }
  return PL_OK;
}

/* ------------------------------------------------------------- builder --- */

struct an_ctx {
  double flops_per_us; /* flat model: peak * efficiency / 1e6; 0 = kernels */
  int head;            /* LM head instead of a transformer layer */
  pl_db *db;           /* kernel model: measured collectives */
  const pl_gpu_spec *g;
  const pl_layout *l;
};

/* The analytic time of one op at cfg's (b, s): the reference that measured
 * samples are interpolated against. */
static double analytic_cb(const pl_model_spec *m, const pl_train_cfg *cfg,
                          int op_kind, void *p)
{
  struct an_ctx *x = p;
  if (x->flops_per_us > 0) {
    pl_layer_cost lc;
    if (pl_cost_layer(m, cfg, x->head ? NULL : &lc, x->head ? &lc : NULL,
                      NULL, NULL))
      return 0;
    return lc.flops[op_kind] / x->flops_per_us;
  }
  pl_op_price pr;
  if (pl_price_layer(x->db, m, x->g, cfg, x->l, x->head ? NULL : &pr,
                     x->head ? &pr : NULL, NULL, NULL))
    return 0;
  return pr.t[op_kind];
}

/* Measured times override the analytic ones op kind by op kind; a missing
 * BW is B + W, missing B and W split BW in the analytic ratio. */
static int measured_times(pl_db *db, const pl_gpu_spec *g,
                          const pl_model_spec *m, const pl_train_cfg *cfg,
                          const char *kind, struct an_ctx *x, double *us,
                          int *src, struct pl_errbuf *eb)
{
  int have[PL_OP_NKINDS] = {0};
  for (int k = PL_OP_F; k <= PL_OP_BW; k++) {
    double t = 0;
    int sc = PL_SRC_MEASURED, rc; /* set by every successful lookup */
    struct pl_errbuf e2 = PL_ERRBUF_INIT;
    rc = pl_cost_lookup(db, g->name, m, kind, k, cfg, analytic_cb, x, &t, &sc,
                        &e2);
    if (rc == PL_OK) {
      us[k] = t;
      src[k] = sc;
      have[k] = 1;
    } else if (rc != PL_ENOTFOUND) {
      if (eb)
        *eb = e2;
      return rc;
    }
  }
  if (have[PL_OP_B] && have[PL_OP_W] && !have[PL_OP_BW]) {
    us[PL_OP_BW] = us[PL_OP_B] + us[PL_OP_W];
    src[PL_OP_BW] = src[PL_OP_B] > src[PL_OP_W] ? src[PL_OP_B] : src[PL_OP_W];
  } else if (have[PL_OP_BW] && !have[PL_OP_B] && !have[PL_OP_W]) {
    double b = us[PL_OP_B], w = us[PL_OP_W];
    double tot = b + w > 0 ? b + w : 1;
    us[PL_OP_B] = us[PL_OP_BW] * b / tot;
    us[PL_OP_W] = us[PL_OP_BW] * w / tot;
    src[PL_OP_B] = src[PL_OP_W] = src[PL_OP_BW];
  }
  return PL_OK;
}

/* Megatron's default DDP bucket: max(40M, 1M x data-parallel size)
 * parameters. */
static double bucket_params(int dp)
{
  double b = 1e6 * dp;
  return b > 40e6 ? b : 40e6;
}

/* Bytes the mixed-precision optimizer step streams per parameter (of its
 * shard), kernel by kernel as Megatron runs them: unscale + inf check of the
 * fp32 main gradient (read + write, 8), the global gradient norm (read, 4),
 * clipping (read + write, 8), fused Adam (reads weight, gradient, momentum,
 * variance and writes weight, momentum, variance: 28), the copy of the fp32
 * master weights into the 16-bit model weights (6) and zeroing the gradient
 * buffer for the next iteration (4). */
#define OPTIM_BYTES_PER_PARAM 58.0

/* Per-rank fixed costs of the iteration: DP gradient reduce (and the
 * distributed optimizer's parameter all-gather unless overlapped), the
 * tied-embedding all-reduce between the end stages and the optimizer step. */
static void rank_costs(pl_db *db, const pl_model_spec *m,
                       const pl_gpu_spec *g, const pl_train_cfg *cfg,
                       const pl_sched *s, const pl_costs *c,
                       pl_model_plan *plan)
{
  const pl_layout *l = &plan->layout;
  int S = plan->n_stages, n = l->dp * l->cp, k = l->dp_per_domain;
  double gb = cfg->grad_reduce_bytes > 0
                  ? cfg->grad_reduce_bytes
                  : (cfg->precision == PL_PREC_FP16 ? 2 : 4);
  double hbm = g->hbm_bandwidth * (g->hbm_eff > 0 ? g->hbm_eff : 1);
  for (int r = 0; r < plan->n_ranks; r++) {
    double P = plan->rank[r].params, dp = 0, bucket;
    double bp = bucket_params(n) < P ? bucket_params(n) : P;
    if (cfg->distributed_optimizer) {
      dp = pl_coll_time_us(g, PL_COLL_REDUCE_SCATTER, P * gb, n, k, 0);
      bucket = pl_coll_time_us(g, PL_COLL_REDUCE_SCATTER, bp * gb, n, k, 0);
      if (!cfg->overlap_param_gather)
        dp += pl_coll_time_us(g, PL_COLL_ALL_GATHER, P * 2, n, k, 0);
    } else {
      dp = pl_coll_time_us(g, PL_COLL_ALL_REDUCE, P * gb, n, k, 0);
      bucket = pl_coll_time_us(g, PL_COLL_ALL_REDUCE, bp * gb, n, k, 0);
    }
    if (db && n > 1) {
      /* measured collectives win: scale by measured / modelled bus time */
      double mb = 0;
      int op = cfg->distributed_optimizer ? PL_COLL_REDUCE_SCATTER
                                          : PL_COLL_ALL_REDUCE;
      int nodes = (n + k - 1) / k;
      if (pl_db_collective_busbw(db, g->name, op, n, nodes, P * gb, &mb, NULL,
                                 NULL) == PL_OK && mb > 0) {
        double model = pl_coll_time_us(g, op, P * gb, n, k, 0);
        double meas = pl_coll_time_us(g, op, P * gb, n, k, mb);
        if (model > 0) {
          dp += meas - model;
          bucket *= meas / model;
        }
      }
    }
    plan->dp_us[r] = dp;
    plan->dp_bucket_us[r] = bucket < dp ? bucket : dp;
    double opt_params = P / (cfg->distributed_optimizer ? (double)n : 1.0);
    plan->optim_us[r] = opt_params * OPTIM_BYTES_PER_PARAM / hbm * 1e6;
    double win = 0;
    for (int i = 0; i < S; i++)
      if (pl_sched_stage_rank(s, i) == r)
        win += c->stage[i].t[PL_OP_BW];
    plan->dp_window_us[r] = cfg->overlap_grad_reduce ? win : 0;
  }
  /* Tied embeddings on a pipeline: the first and last stage hold copies
   * whose gradients are all-reduced after the backward. */
  int r0 = pl_sched_stage_rank(s, 0), r1 = pl_sched_stage_rank(s, S - 1);
  if (m->tied_embeddings && r0 != r1) {
    double bytes = (double)m->vocab * m->hidden / l->tp * gb;
    int intra = pl_layout_pp_intra(l, r0, r1);
    double t = pl_coll_time_us(g, PL_COLL_ALL_REDUCE, bytes, 2, intra ? 2 : 1,
                               0);
    plan->embed_us[r0] = plan->embed_us[r1] = t;
  }
}

int pl_cost_build(pl_db *db, const pl_model_spec *m, const pl_gpu_spec *g,
                  const pl_train_cfg *cfg, const pl_sched *s, pl_costs **costs,
                  pl_model_plan *plan, struct pl_errbuf *eb)
{
  pl_layer_cost layer, head, embed;
  pl_op_price lp, hp, ep;
  pl_costs *c = NULL;
  int rc, S = pl_sched_stages(s), p = pl_sched_ranks(s);
  int mbs = pl_sched_microbatches(s);
  *costs = NULL;
  if ((rc = pl_cost_layer(m, cfg, &layer, &head, &embed, eb)))
    return rc;
  if (g->bf16_flops <= 0)
    return pl_errf(eb, PL_EINVAL, "GPU '%s' has no peak FLOP/s", g->name);
  int cp = cfg->cp > 0 ? cfg->cp : 1;
  if (cfg->precision < PL_PREC_BF16 || cfg->precision > PL_PREC_FP4)
    return pl_errf(eb, PL_EINVAL, "unknown precision %d", cfg->precision);
  int flat = cfg->mfu > 0;
  double eff = flat ? cfg->mfu : g->mfu;
  if (!(eff > 0 && eff <= 1))
    return pl_errf(eb, PL_EINVAL, "efficiency must be in (0, 1], got %g", eff);
  double sq = seq_of(m, cfg), b = cfg->mb_size;
  if (cp > 1 && (long)sq % (2L * cp))
    return pl_errf(eb, PL_EINVAL, "sequence length %g is not divisible by "
                                  "2 x cp = %d (ring attention splits every "
                                  "sequence into 2 x cp chunks)", sq, 2 * cp);
  if (m->layers < S && !cfg->layers_per_stage)
    return pl_errf(eb, PL_EINVAL, "model '%s' has %d layers, fewer than the "
                                  "%d virtual stages of the schedule",
                   m->name, m->layers, S);
  int domain = cfg->gpus_per_node > 0 ? cfg->gpus_per_node
               : g->scaleup_domain > 0 ? g->scaleup_domain : 8;
  pl_layout_make(cfg->tp, cp, cfg->dp, p, domain, &plan->layout);
  if (!flat && (rc = pl_price_layer(db, m, g, cfg, &plan->layout, &lp, &hp,
                                    &ep, eb)))
    return rc;
  plan->n_stages = S;
  plan->n_ranks = p;
  plan->flat = flat;
  plan->precision = cfg->precision;
  plan->layers = pl_calloc((size_t)S, sizeof *plan->layers);
  plan->rank = pl_calloc((size_t)p, sizeof *plan->rank);
  plan->part = pl_calloc((size_t)S, sizeof *plan->part);
  plan->dp_us = pl_calloc((size_t)p, sizeof(double));
  plan->dp_window_us = pl_calloc((size_t)p, sizeof(double));
  plan->dp_bucket_us = pl_calloc((size_t)p, sizeof(double));
  plan->optim_us = pl_calloc((size_t)p, sizeof(double));
  plan->embed_us = pl_calloc((size_t)p, sizeof(double));
  if (!plan->layers || !plan->rank || !plan->part || !plan->dp_us ||
      !plan->dp_window_us || !plan->dp_bucket_us || !plan->optim_us ||
      !plan->embed_us) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto fail;
  }
  struct an_ctx lx = {flat ? g->bf16_flops * eff / 1e6 : 0, 0, db, g,
                      &plan->layout};
  struct an_ctx hx = lx;
  hx.head = 1;
  double lt[PL_OP_NKINDS] = {0}, ht[PL_OP_NKINDS] = {0}, et[PL_OP_NKINDS] = {0};
  int lsrc[PL_OP_NKINDS], hsrc[PL_OP_NKINDS];
  for (int k = 0; k < PL_OP_NKINDS; k++) {
    lt[k] = flat ? layer.flops[k] / lx.flops_per_us : lp.t[k];
    ht[k] = flat ? head.flops[k] / hx.flops_per_us : hp.t[k];
    et[k] = flat ? 0 : ep.t[k];
    lsrc[k] = hsrc[k] = PL_SRC_ANALYTIC;
  }
  lt[PL_OP_FB] = ht[PL_OP_FB] = et[PL_OP_FB] = 0;
  if (db) {
    if ((rc = measured_times(db, g, m, cfg, "transformer", &lx, lt, lsrc, eb)) ||
        (rc = measured_times(db, g, m, cfg, "lm_head", &hx, ht, hsrc, eb)))
      goto fail;
  }
  if (cfg->layers_per_stage) {
    int sum = 0;
    for (int i = 0; i < S; i++) {
      if (cfg->layers_per_stage[i] < 0) {
        rc = pl_errf(eb, PL_EINVAL, "layers per stage must be >= 0");
        goto fail;
      }
      plan->layers[i] = cfg->layers_per_stage[i];
      sum += plan->layers[i];
    }
    if (sum != m->layers) {
      rc = pl_errf(eb, PL_EINVAL, "the layers per stage sum to %d, but '%s' "
                                  "has %d layers", sum, m->name, m->layers);
      goto fail;
    }
  } else {
    double lsum = lt[PL_OP_F] + lt[PL_OP_B] + lt[PL_OP_W];
    double hsum = ht[PL_OP_F] + ht[PL_OP_B] + ht[PL_OP_W];
    double esum = et[PL_OP_F] + et[PL_OP_B] + et[PL_OP_W];
    pl_cost_partition(m->layers, S, lsum > 0 ? esum / lsum : 0,
                      lsum > 0 ? hsum / lsum : 0, plan->layers);
  }
  if ((rc = pl_costs_create(S, p, &c))) {
    rc = pl_errf(eb, rc, "out of memory");
    goto fail;
  }
  /* P2P: one message per microbatch and boundary, 16-bit activations of
   * this GPU's tokens split over the TP ranks (Megatron's scatter/gather);
   * each boundary's link is NVLink/xGMI inside a scale-up domain, else one
   * NIC. Measured link costs win. */
  double lat_up = g->p2p_latency_us, lat_out = g->p2p_latency_us;
  double bw_up = g->scaleup_bandwidth, bw_out = g->scaleout_bandwidth;
  if (db) {
    const char *kinds_up[] = {"nvlink", "xgmi", NULL};
    const char *kinds_out[] = {"ib", "roce", "ethernet", NULL};
    for (int i = 0; kinds_up[i]; i++) {
      double ml, mb;
      if (pl_db_link_cost(db, g->name, kinds_up[i], &ml, &mb, NULL) == PL_OK) {
        lat_up = ml;
        bw_up = mb;
        break;
      }
    }
    for (int i = 0; kinds_out[i]; i++) {
      double ml, mb;
      if (pl_db_link_cost(db, g->name, kinds_out[i], &ml, &mb, NULL) == PL_OK) {
        lat_out = ml;
        bw_out = mb;
        break;
      }
    }
  }
  int all_intra = 1;
  double msg = 2 * b * (sq / cp) * m->hidden / cfg->tp;
  for (int i = 0; i < S; i++) {
    pl_stage_cost *sc = &c->stage[i];
    double n = plan->layers[i];
    int first = i == 0, last = i == S - 1;
    for (int k = PL_OP_F; k <= PL_OP_BW; k++) {
      sc->t[k] = n * lt[k] + (last ? ht[k] : 0) + (first ? et[k] : 0);
      if (flat)
        continue;
      /* parts in the analytic proportions, scaled to measured times */
      double ls = lp.t[k] > 0 ? lt[k] / lp.t[k] : 1;
      double hs = hp.t[k] > 0 ? ht[k] / hp.t[k] : 1;
      for (int q = 0; q < PL_PART_N; q++)
        plan->part[i][k][q] = n * lp.part[k][q] * ls +
                              (last ? hp.part[k][q] * hs : 0) +
                              (first ? ep.part[k][q] : 0);
      sc->coll[k] = plan->part[i][k][PL_PART_TP] + plan->part[i][k][PL_PART_CP];
    }
    sc->t[PL_OP_FB] = 0;
    sc->mem_b = n * layer.mem_b + (first ? embed.mem_b : 0) +
                (last ? head.mem_b : 0);
    sc->mem_w = n * layer.mem_w + (first ? embed.mem_w : 0) +
                (last ? head.mem_w : 0);
    sc->msg_bytes = msg;
    int r = pl_sched_stage_rank(s, i);
    if (i + 1 < S) {
      int r2 = pl_sched_stage_rank(s, i + 1);
      int intra = pl_layout_pp_intra(&plan->layout, r, r2);
      if (r != r2 && !intra)
        all_intra = 0;
      sc->has_link = 1;
      sc->link_latency = intra ? lat_up : lat_out;
      sc->link_bandwidth = (intra ? bw_up : bw_out) / 1e6;
    }
    double sp = n * layer.params + (first ? embed.params : 0) +
                (last ? head.params : 0);
    plan->rank[r].layers += plan->layers[i];
    plan->rank[r].params += sp;
    /* A stage copy (bidirectional schedules) is a second set of weights on
     * its rank, and the two copies' gradients are all-reduced at the end
     * (the engine adds the time after both ranks' lists). */
    int rr = pl_sched_replica_rank(s, i);
    if (rr >= 0) {
      double gbytes = cfg->grad_reduce_bytes > 0
                          ? cfg->grad_reduce_bytes
                          : (cfg->precision == PL_PREC_FP16 ? 2 : 4);
      int intra = pl_layout_pp_intra(&plan->layout, r, rr);
      plan->rank[rr].layers += plan->layers[i];
      plan->rank[rr].params += sp;
      sc->allreduce = pl_coll_time_us(g, PL_COLL_ALL_REDUCE, sp * gbytes, 2,
                                      intra ? 2 : 1, 0);
    }
  }
  for (int r = 0; r < p; r++) {
    pl_rank_plan *rp = &plan->rank[r];
    rp->weight_bytes = 2 * rp->params;
    rp->grad_bytes = (cfg->fp32_grads ? 4 : 2) * rp->params;
    rp->optim_bytes = 12 * rp->params /
                      (cfg->distributed_optimizer ? (double)cfg->dp * cp : 1.0);
    rp->static_bytes = rp->weight_bytes + rp->grad_bytes + rp->optim_bytes;
  }
  plan->link_scaleup = all_intra;
  c->comm_latency = all_intra ? lat_up : lat_out;
  c->comm_bandwidth = (all_intra ? bw_up : bw_out) / 1e6; /* bytes per µs */
  for (int k = 0; k < PL_OP_NKINDS; k++)
    c->source[k] = k == PL_OP_FB ? PL_SRC_ANALYTIC : lsrc[k];
  snprintf(c->time_unit, sizeof c->time_unit, "us");
  snprintf(c->mem_unit, sizeof c->mem_unit, "bytes");
  if (!flat)
    rank_costs(db, m, g, cfg, s, c, plan);
  double n_gpus = (double)p * cfg->tp * cp * cfg->dp;
  plan->hbm_bytes = g->hbm_bytes;
  plan->peak_flops = g->bf16_flops;
  plan->mfu_op = eff;
  plan->n_gpus = n_gpus;
  plan->tokens_per_iter = (double)mbs * b * sq * cfg->dp;
  plan->model_flops_iter = pl_model_flops_iter(m, cfg, (double)mbs * b * cfg->dp);
  {
    /* HFU counts the recomputation too (PaLM's definition): one more
     * forward of every layer under full recomputation, the attention core
     * under selective recomputation without flash attention; with the same
     * full-s^2 convention as the model FLOPs. */
    double seqs = (double)mbs * b * cfg->dp, h = m->hidden;
    double lin = 2 * sq * n_lin(m), att = 4 * sq * sq * h;
    double rec = cfg->recompute == PL_RECOMPUTE_FULL ? lin + att
                 : cfg->recompute == PL_RECOMPUTE_SELECTIVE && !cfg->flash_attn
                     ? att : 0;
    plan->hw_flops_iter = plan->model_flops_iter + seqs * m->layers * rec;
  }
  plan->params_total = pl_model_params(m);
  plan->layer_mem_b = layer.mem_b;
  plan->layer_mem_w = layer.mem_w;
  for (int k = 0; k < PL_OP_NKINDS; k++)
    plan->source[k] = c->source[k];
  *costs = c;
  return PL_OK;
fail:
  pl_costs_destroy(c);
  pl_model_plan_free(plan);
  return rc;
}

/* DP time rank i cannot hide: all of it, or with overlap_grad_reduce (a
 * non-zero window) what its last backward cannot cover, at least the last
 * bucket. */
static double dp_exposed(const pl_model_plan *plan, int i)
{
  double dp = plan->dp_us[i], win = plan->dp_window_us[i];
  if (win <= 0)
    return dp;
  double ex = dp - win, bucket = plan->dp_bucket_us[i];
  if (ex < bucket)
    ex = bucket;
  return ex < dp ? ex : dp;
}

int pl_model_breakdown(const pl_model_plan *plan, const pl_sched *s,
                       const pl_result *r, const pl_result *r0,
                       pl_breakdown *out)
{
  memset(out, 0, sizeof *out);
  if (!plan || !s || !r || !r->ranks || r->stages != plan->n_ranks ||
      pl_sched_ranks(s) != plan->n_ranks)
    return PL_EINVAL;
  int p = plan->n_ranks, best = 0, fixed = !plan->flat && plan->dp_us;
  double best_end = -1;
  for (int i = 0; i < p; i++) {
    double end = r->ranks[i].last_end;
    if (fixed)
      end += dp_exposed(plan, i) + plan->embed_us[i] + plan->optim_us[i];
    if (end > best_end) {
      best_end = end;
      best = i;
    }
  }
  out->rank = best;
  out->iteration_us = best_end;
  const pl_rank_result *rr = &r->ranks[best];
  /* The critical rank's busy time by part, from its op list. */
  double part[PL_PART_N] = {0}, sum = 0;
  if (plan->part) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, best, &n);
    for (size_t j = 0; j < n; j++) {
      const pl_op *op = &ops[j];
      for (int q = 0; q < PL_PART_N; q++) {
        if (op->kind == PL_OP_FB)
          part[q] += plan->part[op->stage][PL_OP_F][q] +
                     plan->part[op->stage2][op->kind2][q];
        else
          part[q] += plan->part[op->stage][op->kind][q];
      }
    }
    for (int q = 0; q < PL_PART_N; q++)
      sum += part[q];
  }
  /* Scale to the simulated busy time (rank speeds, fused-op overlap). */
  double scale = sum > 0 ? rr->busy / sum : 0;
  out->gemm_us = part[PL_PART_GEMM] * scale;
  out->attn_us = part[PL_PART_ATTN] * scale;
  out->mem_us = part[PL_PART_MEM] * scale;
  out->tp_us = part[PL_PART_TP] * scale;
  out->cp_us = part[PL_PART_CP] * scale;
  out->compute_us = out->gemm_us + out->attn_us + out->mem_us;
  if (sum <= 0)
    out->compute_us = rr->busy;
  double idle = rr->last_end - rr->busy;
  if (idle < 0)
    idle = 0;
  double pp = r0 ? r->makespan - r0->makespan : 0;
  if (pp < 0)
    pp = 0;
  out->pp_us = pp < idle ? pp : idle;
  out->bubble_us = idle - out->pp_us;
  if (fixed) {
    out->dp_us = dp_exposed(plan, best) + plan->embed_us[best];
    out->optimizer_us = plan->optim_us[best];
  }
  double t = out->iteration_us / 1e6;
  if (t > 0 && plan->n_gpus > 0 && plan->peak_flops > 0) {
    out->mfu = plan->model_flops_iter / (t * plan->n_gpus * plan->peak_flops);
    out->hfu = plan->hw_flops_iter / (t * plan->n_gpus * plan->peak_flops);
    out->tokens_per_s_gpu = plan->tokens_per_iter / t / plan->n_gpus;
  }
  return PL_OK;
}

void pl_model_throughput(const pl_model_plan *plan, double iteration_us,
                         double *iter_s, double *tokens_per_s, double *mfu)
{
  double t = iteration_us / 1e6;
  *iter_s = t;
  *tokens_per_s = t > 0 ? plan->tokens_per_iter / t : 0;
  *mfu = t > 0 && plan->n_gpus > 0 && plan->peak_flops > 0
             ? plan->model_flops_iter / (t * plan->n_gpus * plan->peak_flops)
             : 0;
}
