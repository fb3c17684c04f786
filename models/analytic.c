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
    /* LM head: F = B = W = 2bshV (cost-model.md §7), plus the final norm.
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
  plan->layers = NULL;
  plan->rank = NULL;
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
  double flops_per_us; /* peak * efficiency / 1e6 */
  int head;            /* LM head instead of a transformer layer */
};

static double analytic_cb(const pl_model_spec *m, const pl_train_cfg *cfg,
                          int op_kind, void *p)
{
  struct an_ctx *x = p;
  pl_layer_cost lc;
  if (pl_cost_layer(m, cfg, x->head ? NULL : &lc, x->head ? &lc : NULL, NULL,
                    NULL))
    return 0;
  return lc.flops[op_kind] / x->flops_per_us;
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

int pl_cost_build(pl_db *db, const pl_model_spec *m, const pl_gpu_spec *g,
                  const pl_train_cfg *cfg, const pl_sched *s, pl_costs **costs,
                  pl_model_plan *plan, struct pl_errbuf *eb)
{
  pl_layer_cost layer, head, embed;
  pl_costs *c = NULL;
  int rc, S = pl_sched_stages(s), p = pl_sched_ranks(s);
  int mbs = pl_sched_microbatches(s);
  *costs = NULL;
  if ((rc = pl_cost_layer(m, cfg, &layer, &head, &embed, eb)))
    return rc;
  if (g->bf16_flops <= 0)
    return pl_errf(eb, PL_EINVAL, "GPU '%s' has no peak FLOP/s", g->name);
  double eff = cfg->mfu > 0 ? cfg->mfu : g->mfu;
  if (!(eff > 0 && eff <= 1))
    return pl_errf(eb, PL_EINVAL, "efficiency must be in (0, 1], got %g", eff);
  if (m->layers < S && !cfg->layers_per_stage)
    return pl_errf(eb, PL_EINVAL, "model '%s' has %d layers, fewer than the "
                                  "%d virtual stages of the schedule",
                   m->name, m->layers, S);
  plan->n_stages = S;
  plan->n_ranks = p;
  plan->layers = pl_calloc((size_t)S, sizeof *plan->layers);
  plan->rank = pl_calloc((size_t)p, sizeof *plan->rank);
  if (!plan->layers || !plan->rank) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto fail;
  }
  struct an_ctx lx = {g->bf16_flops * eff / 1e6, 0};
  struct an_ctx hx = {g->bf16_flops * eff / 1e6, 1};
  double lt[PL_OP_NKINDS] = {0}, ht[PL_OP_NKINDS] = {0};
  int lsrc[PL_OP_NKINDS], hsrc[PL_OP_NKINDS];
  for (int k = 0; k < PL_OP_NKINDS; k++) {
    lt[k] = layer.flops[k] / lx.flops_per_us;
    ht[k] = head.flops[k] / hx.flops_per_us;
    lsrc[k] = hsrc[k] = PL_SRC_ANALYTIC;
  }
  lt[PL_OP_FB] = ht[PL_OP_FB] = 0;
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
    pl_cost_partition(m->layers, S, 0, lsum > 0 ? hsum / lsum : 0,
                      plan->layers);
  }
  if ((rc = pl_costs_create(S, p, &c))) {
    rc = pl_errf(eb, rc, "out of memory");
    goto fail;
  }
  double sq = seq_of(m, cfg), b = cfg->mb_size;
  for (int i = 0; i < S; i++) {
    pl_stage_cost *sc = &c->stage[i];
    double n = plan->layers[i];
    for (int k = PL_OP_F; k <= PL_OP_BW; k++)
      sc->t[k] = n * lt[k] + (i == S - 1 ? ht[k] : 0);
    sc->t[PL_OP_FB] = 0;
    sc->mem_b = n * layer.mem_b + (i == 0 ? embed.mem_b : 0) +
                (i == S - 1 ? head.mem_b : 0);
    sc->mem_w = n * layer.mem_w + (i == 0 ? embed.mem_w : 0) +
                (i == S - 1 ? head.mem_w : 0);
    /* bf16 activation (or its gradient) per TP rank: Megatron's
     * scatter/gather or sequence parallelism sends 1/t of it. */
    sc->msg_bytes = 2 * b * sq * m->hidden / cfg->tp;
    int r = pl_sched_stage_rank(s, i);
    plan->rank[r].layers += plan->layers[i];
    plan->rank[r].params += n * layer.params + (i == 0 ? embed.params : 0) +
                            (i == S - 1 ? head.params : 0);
  }
  for (int r = 0; r < p; r++) {
    pl_rank_plan *rp = &plan->rank[r];
    rp->weight_bytes = 2 * rp->params;
    rp->grad_bytes = (cfg->fp32_grads ? 4 : 2) * rp->params;
    rp->optim_bytes = 12 * rp->params /
                      (cfg->distributed_optimizer ? (double)cfg->dp : 1.0);
    rp->static_bytes = rp->weight_bytes + rp->grad_bytes + rp->optim_bytes;
  }
  /* P2P link: inside one node (scale-up) when the whole job fits in a node,
   * else one NIC per GPU (scale-out). Measured link costs win. */
  int gpn = cfg->gpus_per_node > 0 ? cfg->gpus_per_node : 8;
  double n_gpus = (double)p * cfg->tp * cfg->dp;
  plan->link_scaleup = n_gpus <= gpn;
  double lat = g->p2p_latency_us;
  double bw = plan->link_scaleup ? g->scaleup_bandwidth : g->scaleout_bandwidth;
  if (db) {
    const char *kinds_up[] = {"nvlink", "xgmi", NULL};
    const char *kinds_out[] = {"ib", "roce", "ethernet", NULL};
    const char **kinds = plan->link_scaleup ? kinds_up : kinds_out;
    for (int i = 0; kinds[i]; i++) {
      double ml, mb;
      if (pl_db_link_cost(db, g->name, kinds[i], &ml, &mb, NULL) == PL_OK) {
        lat = ml;
        bw = mb;
        break;
      }
    }
  }
  c->comm_latency = lat;
  c->comm_bandwidth = bw / 1e6; /* bytes per µs */
  for (int k = 0; k < PL_OP_NKINDS; k++)
    c->source[k] = k == PL_OP_FB ? PL_SRC_ANALYTIC : lsrc[k];
  snprintf(c->time_unit, sizeof c->time_unit, "us");
  snprintf(c->mem_unit, sizeof c->mem_unit, "bytes");
  plan->hbm_bytes = g->hbm_bytes;
  plan->peak_flops = g->bf16_flops;
  plan->mfu_op = eff;
  plan->n_gpus = n_gpus;
  plan->tokens_per_iter = (double)mbs * b * sq * cfg->dp;
  plan->model_flops_iter = pl_model_flops_iter(m, cfg, (double)mbs * b * cfg->dp);
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
