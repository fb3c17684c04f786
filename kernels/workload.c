/* workload.c: the executor's transformer-block workload: sizes, exact
 * activation-byte accounting and the CPU kernels (double precision, CBLAS).
 * The math and the stash layout are documented in pipelab/kernels.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef PL_HAVE_CBLAS
#include <cblas.h>
#endif

#include "pipelab/kernels.h"

#define LN_EPS 1e-5
#define GELU_K 0.7978845608028654 /* sqrt(2/pi) */
#define GELU_C 0.044715

int pl_wl_check(const pl_workload *w, struct pl_errbuf *eb)
{
  if (w->layers < 1 || w->hidden < 1 || w->seq < 1 || w->mb_size < 1 ||
      w->microbatches < 1)
    return pl_errf(eb, PL_EINVAL,
                   "workload sizes must be at least 1 (layers %d, hidden %d, "
                   "seq %d, mb-size %d, microbatches %d)",
                   w->layers, w->hidden, w->seq, w->mb_size, w->microbatches);
  double T = (double)w->seq * w->mb_size, H = w->hidden;
  /* One layer's stash and weights must be addressable with int BLAS sizes. */
  if (T * 4 * H > 2e9 || 4 * H * H > 2e9)
    return pl_errf(eb, PL_EINVAL,
                   "workload too large: %.0f tokens x hidden %d exceeds the "
                   "2e9-element tensor limit; reduce --seq, --mb-size or "
                   "--hidden", T, w->hidden);
  return PL_OK;
}

size_t pl_wl_tokens(const pl_workload *w)
{
  return (size_t)w->mb_size * (size_t)w->seq;
}

size_t pl_wl_ffn(const pl_workload *w) { return 4 * (size_t)w->hidden; }

size_t pl_wl_param_offset(const pl_workload *w, int tensor)
{
  size_t H = (size_t)w->hidden, F = pl_wl_ffn(w);
  size_t sizes[PL_WL_NTENSORS] = {H, H, H * F, F, F * H, H};
  size_t off = 0;
  for (int i = 0; i < tensor && i < PL_WL_NTENSORS; i++)
    off += sizes[i];
  return off;
}

size_t pl_wl_layer_params(const pl_workload *w)
{
  return pl_wl_param_offset(w, PL_WL_NTENSORS);
}

size_t pl_wl_layer_wpart(const pl_workload *w)
{
  return pl_wl_tokens(w) * (2 * (size_t)w->hidden + 2 * pl_wl_ffn(w));
}

size_t pl_wl_layer_bpart(const pl_workload *w) { return pl_wl_tokens(w); }

size_t pl_wl_msg_bytes(const pl_workload *w)
{
  return sizeof(double) * pl_wl_tokens(w) * (size_t)w->hidden;
}

int pl_wl_stage_mem(const pl_workload *w, int n_stages, int g, double *mem_b,
                    double *mem_w, struct pl_errbuf *eb)
{
  int rc = pl_wl_check(w, eb);
  if (rc)
    return rc;
  if (n_stages < 1 || g < 0 || g >= n_stages)
    return pl_errf(eb, PL_EINVAL, "stage %d out of range 0..%d", g,
                   n_stages - 1);
  if (w->layers % n_stages != 0)
    return pl_errf(eb, PL_EINVAL,
                   "--layers %d is not divisible by the %d virtual stages "
                   "(stages x chunks); use a multiple of %d",
                   w->layers, n_stages, n_stages);
  double L = (double)(w->layers / n_stages);
  double T = (double)pl_wl_tokens(w), H = w->hidden;
  double wp = L * (double)pl_wl_layer_wpart(w);
  double bp = L * (double)pl_wl_layer_bpart(w) + (g == n_stages - 1 ? T * H : 0);
  *mem_w = 8.0 * wp;
  *mem_b = 8.0 * (wp + bp);
  return PL_OK;
}

int pl_wl_apply_mem_costs(const pl_workload *w, pl_costs *c,
                          struct pl_errbuf *eb)
{
  for (int g = 0; g < c->n_stages; g++) {
    double mb = 0, mw = 0;
    int rc = pl_wl_stage_mem(w, c->n_stages, g, &mb, &mw, eb);
    if (rc)
      return rc;
    c->stage[g].mem_b = mb;
    c->stage[g].mem_w = mw;
    if (c->stage[g].msg_bytes == 0)
      c->stage[g].msg_bytes = (double)pl_wl_msg_bytes(w);
  }
  snprintf(c->mem_unit, sizeof c->mem_unit, "bytes");
  return PL_OK;
}

static uint64_t splitmix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double pl_wl_rand(uint64_t seed, uint64_t stream, uint64_t index)
{
  uint64_t h = splitmix64(seed ^ splitmix64(stream ^ splitmix64(index)));
  /* 53 random bits -> [0,1) exactly, then [-1, 1). */
  return (double)(h >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

void pl_kern_init_layer(const pl_workload *w, int l, double *params)
{
  size_t H = (size_t)w->hidden, F = pl_wl_ffn(w);
  size_t n[PL_WL_NTENSORS] = {H, H, H * F, F, F * H, H};
  /* gamma ~ 1 + 0.1u, beta/biases ~ 0.1u, W ~ u*sqrt(3/fan_in). */
  double scale[PL_WL_NTENSORS] = {0.1, 0.1, sqrt(3.0 / (double)H), 0.1,
                                  sqrt(3.0 / (double)F), 0.1};
  double base[PL_WL_NTENSORS] = {1, 0, 0, 0, 0, 0};
  double *p = params;
  for (int t = 0; t < PL_WL_NTENSORS; t++) {
    uint64_t stream = PL_WL_STREAM_PARAM + (uint64_t)l * 8 + (uint64_t)t;
    for (size_t i = 0; i < n[t]; i++)
      p[i] = base[t] + scale[t] * pl_wl_rand(w->seed, stream, i);
    p += n[t];
  }
}

void pl_kern_input(const pl_workload *w, int mb, double *x)
{
  size_t n = pl_wl_tokens(w) * (size_t)w->hidden;
  for (size_t i = 0; i < n; i++)
    x[i] = pl_wl_rand(w->seed, PL_WL_STREAM_INPUT + (uint64_t)mb, i);
}

void pl_kern_target(const pl_workload *w, int mb, double *t)
{
  size_t n = pl_wl_tokens(w) * (size_t)w->hidden;
  for (size_t i = 0; i < n; i++)
    t[i] = 0.5 * pl_wl_rand(w->seed, PL_WL_STREAM_TARGET + (uint64_t)mb, i);
}

void pl_kern_blas_single_thread(void)
{
#ifdef PL_HAVE_CBLAS
  openblas_set_num_threads(1);
#endif
}

void pl_kern_dgemm(int ta, int tb, int M, int N, int K, double alpha,
                   const double *A, int lda, const double *B, int ldb,
                   double beta, double *C, int ldc)
{
#ifdef PL_HAVE_CBLAS
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
              tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
              beta, C, ldc);
#else
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++) {
        double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        s += a * b;
      }
      double *c = &C[(size_t)i * ldc + j];
      *c = alpha * s + (beta == 0 ? 0 : beta * *c);
    }
#endif
}

/* Stash layout of one layer's W-part: xhat | y | h1 | a. */
struct stash {
  double *xhat, *y, *h1, *a;
};

static struct stash stash_of(const pl_workload *w, double *wpart)
{
  size_t T = pl_wl_tokens(w), H = (size_t)w->hidden, F = pl_wl_ffn(w);
  struct stash s;
  s.xhat = wpart;
  s.y = s.xhat + T * H;
  s.h1 = s.y + T * H;
  s.a = s.h1 + T * F;
  return s;
}

void pl_kern_layer_fwd(const pl_workload *w, const double *params,
                       const double *x, double *out, double *wpart,
                       double *bpart)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, F = (int)pl_wl_ffn(w);
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA);
  const double *beta = params + pl_wl_param_offset(w, PL_WL_BETA);
  const double *W1 = params + pl_wl_param_offset(w, PL_WL_W1);
  const double *b1 = params + pl_wl_param_offset(w, PL_WL_B1);
  const double *W2 = params + pl_wl_param_offset(w, PL_WL_W2);
  const double *b2 = params + pl_wl_param_offset(w, PL_WL_B2);
  struct stash s = stash_of(w, wpart);
  double *rstd = bpart;
  for (int t = 0; t < T; t++) {
    const double *xr = x + (size_t)t * H;
    double mean = 0, var = 0;
    for (int j = 0; j < H; j++)
      mean += xr[j];
    mean /= H;
    for (int j = 0; j < H; j++)
      var += (xr[j] - mean) * (xr[j] - mean);
    var /= H;
    double r = 1.0 / sqrt(var + LN_EPS);
    rstd[t] = r;
    double *xh = s.xhat + (size_t)t * H, *yr = s.y + (size_t)t * H;
    for (int j = 0; j < H; j++) {
      xh[j] = (xr[j] - mean) * r;
      yr[j] = gamma[j] * xh[j] + beta[j];
    }
  }
  for (int t = 0; t < T; t++)
    memcpy(s.h1 + (size_t)t * F, b1, (size_t)F * sizeof *b1);
  pl_kern_dgemm(0, 0, T, F, H, 1.0, s.y, H, W1, F, 1.0, s.h1, F);
  for (size_t i = 0; i < (size_t)T * F; i++) {
    double v = s.h1[i];
    s.a[i] = 0.5 * v * (1.0 + tanh(GELU_K * (v + GELU_C * v * v * v)));
  }
  for (int t = 0; t < T; t++)
    for (int j = 0; j < H; j++)
      out[(size_t)t * H + j] = x[(size_t)t * H + j] + b2[j];
  pl_kern_dgemm(0, 0, T, H, F, 1.0, s.a, F, W2, H, 1.0, out, H);
}

void pl_kern_layer_bwd_b(const pl_workload *w, const double *params,
                         const double *dout, double *dx, double *wpart,
                         const double *bpart, double *grads, double *scratch)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, F = (int)pl_wl_ffn(w);
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA);
  const double *W1 = params + pl_wl_param_offset(w, PL_WL_W1);
  const double *W2 = params + pl_wl_param_offset(w, PL_WL_W2);
  double *dgamma = grads + pl_wl_param_offset(w, PL_WL_GAMMA);
  double *dbeta = grads + pl_wl_param_offset(w, PL_WL_BETA);
  struct stash s = stash_of(w, wpart);
  const double *rstd = bpart;
  double *dA = scratch; /* [T,F] */
  /* dA = dh2 W2^T with dh2 = dout. */
  pl_kern_dgemm(0, 1, T, F, H, 1.0, dout, H, W2, H, 0.0, dA, F);
  /* dh1 = dA * gelu'(h1), written over h1. */
  for (size_t i = 0; i < (size_t)T * F; i++) {
    double v = s.h1[i];
    double u = GELU_K * (v + GELU_C * v * v * v);
    double th = tanh(u);
    double d = 0.5 * (1.0 + th) +
               0.5 * v * (1.0 - th * th) * GELU_K * (1.0 + 3.0 * GELU_C * v * v);
    s.h1[i] = dA[i] * d;
  }
  /* dy = dh1 W1^T into dx (used as scratch for dy, then overwritten row by
   * row with the layer-norm backward plus the residual). */
  pl_kern_dgemm(0, 1, T, H, F, 1.0, s.h1, F, W1, F, 0.0, dx, H);
  for (int t = 0; t < T; t++) {
    double *dyr = dx + (size_t)t * H;
    const double *xh = s.xhat + (size_t)t * H;
    double m1 = 0, m2 = 0;
    for (int j = 0; j < H; j++) {
      double g = dyr[j] * gamma[j];
      m1 += g;
      m2 += g * xh[j];
      dgamma[j] += dyr[j] * xh[j];
      dbeta[j] += dyr[j];
    }
    m1 /= H;
    m2 /= H;
    for (int j = 0; j < H; j++) {
      double g = dyr[j] * gamma[j];
      dyr[j] = rstd[t] * (g - m1 - xh[j] * m2) + dout[(size_t)t * H + j];
    }
  }
  /* W needs dh2 = dout: keep it where xhat was. */
  memcpy(s.xhat, dout, (size_t)T * H * sizeof *dout);
}

void pl_kern_layer_bwd_w(const pl_workload *w, const double *wpart,
                         double *grads)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, F = (int)pl_wl_ffn(w);
  struct stash s = stash_of(w, (double *)wpart);
  const double *dh2 = s.xhat, *dh1 = s.h1;
  double *dW1 = grads + pl_wl_param_offset(w, PL_WL_W1);
  double *db1 = grads + pl_wl_param_offset(w, PL_WL_B1);
  double *dW2 = grads + pl_wl_param_offset(w, PL_WL_W2);
  double *db2 = grads + pl_wl_param_offset(w, PL_WL_B2);
  pl_kern_dgemm(1, 0, H, F, T, 1.0, s.y, H, dh1, F, 1.0, dW1, F);
  pl_kern_dgemm(1, 0, F, H, T, 1.0, s.a, F, dh2, H, 1.0, dW2, H);
  for (int t = 0; t < T; t++) {
    for (int j = 0; j < F; j++)
      db1[j] += dh1[(size_t)t * F + j];
    for (int j = 0; j < H; j++)
      db2[j] += dh2[(size_t)t * H + j];
  }
}

double pl_kern_loss(const pl_workload *w, const double *out, const double *t,
                    double *dout)
{
  size_t n = pl_wl_tokens(w) * (size_t)w->hidden;
  double scale = 1.0 / ((double)n * w->microbatches), sum = 0;
  for (size_t i = 0; i < n; i++) {
    double d = out[i] - t[i];
    sum += d * d;
    dout[i] = 2.0 * d * scale;
  }
  return sum * scale;
}
