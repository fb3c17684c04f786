/* workload.c: the executor's transformer-block workload: sizes, exact
 * activation-byte accounting and the CPU kernels (double precision, CBLAS).
 * The math and the stash layout are documented in pipelab/kernels.h. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef PL_HAVE_CBLAS
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
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
  /* The attention probabilities of a microbatch are T*seq doubles. */
  if (w->attention && T * (double)w->seq > 2e9)
    return pl_errf(eb, PL_EINVAL,
                   "workload too large: attention over %d sequences of %d "
                   "tokens stores %.0f probabilities, over the 2e9-element "
                   "tensor limit; reduce --seq or --mb-size",
                   w->mb_size, w->seq, T * (double)w->seq);
  return PL_OK;
}

size_t pl_wl_tokens(const pl_workload *w)
{
  return (size_t)w->mb_size * (size_t)w->seq;
}

size_t pl_wl_ffn(const pl_workload *w) { return 4 * (size_t)w->hidden; }

/* Elements of each tensor of one layer (attention tensors 0 without it). */
static void tensor_sizes(const pl_workload *w, size_t n[PL_WL_NTENSORS])
{
  size_t H = (size_t)w->hidden, F = pl_wl_ffn(w), A = w->attention ? 1 : 0;
  size_t sizes[PL_WL_NTENSORS] = {H,     H,     H * F,         F,
                                  F * H, H,     A * H,         A * H,
                                  A * 3 * H * H, A * 3 * H, A * H * H, A * H};
  memcpy(n, sizes, sizeof sizes);
}

size_t pl_wl_param_offset(const pl_workload *w, int tensor)
{
  size_t sizes[PL_WL_NTENSORS];
  tensor_sizes(w, sizes);
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
  /* MLP: xhat, y [T,H], h1, a [T,F]; attention: xhat_a, y0, o [T,H] and
   * qkv [T,3H]. */
  size_t H = (size_t)w->hidden;
  return pl_wl_tokens(w) *
         (2 * H + 2 * pl_wl_ffn(w) + (w->attention ? 6 * H : 0));
}

size_t pl_wl_layer_bpart(const pl_workload *w)
{
  /* rstd [T]; attention: rstd_a [T] and P [mb_size, seq, seq]. */
  return pl_wl_tokens(w) * (w->attention ? (size_t)w->seq + 2 : 1);
}

size_t pl_wl_scratch(const pl_workload *w)
{
  /* MLP backward: dA [T,F]. Attention backward runs after it and needs
   * do [T,H] + dP [seq,seq] + dqkv of one sequence [seq,3H], which is at
   * most T*F + seq*seq because T*H + 3*seq*H <= 4*T*H. The attention
   * backward walks the microbatch one sequence at a time, so the
   * workspace grows with seq^2, not with mb_size*seq^2 (the probabilities
   * themselves are stash, counted in the B-part). */
  size_t T = pl_wl_tokens(w), s = (size_t)w->seq;
  return T * pl_wl_ffn(w) + (w->attention ? s * s : 0);
}

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
  size_t n[PL_WL_NTENSORS];
  tensor_sizes(w, n);
  /* gamma ~ 1 + 0.1u, beta/biases ~ 0.1u, W ~ u*sqrt(3/fan_in). */
  double sh = sqrt(3.0 / (double)H);
  double scale[PL_WL_NTENSORS] = {0.1, 0.1, sh,  0.1, sqrt(3.0 / (double)F),
                                  0.1, 0.1, 0.1, sh,  0.1, sh, 0.1};
  double base[PL_WL_NTENSORS] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
  double *p = params;
  for (int t = 0; t < PL_WL_NTENSORS; t++) {
    /* Attention tensors use their own streams: stride 8 per layer leaves
     * no room after the six MLP tensors. */
    uint64_t stream =
        t < PL_WL_NTENSORS_MLP
            ? PL_WL_STREAM_PARAM + (uint64_t)l * 8 + (uint64_t)t
            : PL_WL_STREAM_ATTN + (uint64_t)l * 8 +
                  (uint64_t)(t - PL_WL_GAMMA_A);
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

#ifdef PL_HAVE_CBLAS
/* OpenBLAS is loaded on first use, not linked: its library starts a pool of
 * worker threads when it is loaded, which every command that never
 * multiplies a matrix (simulate, whatif, sweep, ...) would pay for in
 * start-up time and in CPU the spinning workers take. Only the executor's
 * and calibration's kernels call into it. Without the library the kernels
 * fall back to the plain loop below (same results up to rounding). */
typedef void (*dgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE,
                         enum CBLAS_TRANSPOSE, blasint, blasint, blasint,
                         double, const double *, blasint, const double *,
                         blasint, double, double *, blasint);
typedef void (*threads_fn)(int);
static dgemm_fn blas_dgemm;
static threads_fn blas_threads;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_load(void)
{
  static const char *const names[] = {"libopenblas.so.0", "libopenblas.so"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h)
      continue;
    dgemm_fn d = (dgemm_fn)(uintptr_t)dlsym(h, "cblas_dgemm");
    threads_fn t = (threads_fn)(uintptr_t)dlsym(h, "openblas_set_num_threads");
    if (d) {
      blas_dgemm = d;
      blas_threads = t;
      if (t)
        t(1); /* each pipeline rank is one thread of its own */
      return;
    }
    dlclose(h);
  }
}
#endif

void pl_kern_blas_single_thread(void)
{
#ifdef PL_HAVE_CBLAS
  pthread_once(&blas_once, blas_load);
  if (blas_threads)
    blas_threads(1);
#endif
}

void pl_kern_dgemm(int ta, int tb, int M, int N, int K, double alpha,
                   const double *A, int lda, const double *B, int ldb,
                   double beta, double *C, int ldc)
{
#ifdef PL_HAVE_CBLAS
  pthread_once(&blas_once, blas_load);
  if (blas_dgemm) {
    blas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
               tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
               beta, C, ldc);
    return;
  }
#endif
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
}

/* Stash layout of one layer's W-part: xhat | y | h1 | a, then with
 * attention xa | y0 | qkv | o. B-part: rstd, then with attention rstd_a |
 * P. */
struct stash {
  double *xhat, *y, *h1, *a;
  double *xa, *y0, *qkv, *o;
  double *rstd, *rstd_a, *P;
};

static struct stash stash_of(const pl_workload *w, double *wpart,
                             double *bpart)
{
  size_t T = pl_wl_tokens(w), H = (size_t)w->hidden, F = pl_wl_ffn(w);
  struct stash s;
  s.xhat = wpart;
  s.y = s.xhat + T * H;
  s.h1 = s.y + T * H;
  s.a = s.h1 + T * F;
  s.xa = s.a + T * F;
  s.y0 = s.xa + T * H;
  s.qkv = s.y0 + T * H;
  s.o = s.qkv + 3 * T * H;
  s.rstd = bpart;
  s.rstd_a = bpart ? bpart + T : NULL;
  s.P = bpart ? bpart + 2 * T : NULL;
  return s;
}

/* Layer norm of T rows of width H: xhat, y = gamma*xhat + beta, rstd. */
static void ln_fwd(int T, int H, const double *x, const double *gamma,
                   const double *beta, double *xhat, double *y, double *rstd)
{
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
    double *xh = xhat + (size_t)t * H, *yr = y + (size_t)t * H;
    for (int j = 0; j < H; j++) {
      xh[j] = (xr[j] - mean) * r;
      yr[j] = gamma[j] * xh[j] + beta[j];
    }
  }
}

/* Layer-norm backward of row t: dyr [H] (the gradient w.r.t. y) becomes
 * the gradient w.r.t. the layer norm's input plus res[j] (the residual
 * branch); accumulates dgamma, dbeta. */
static void ln_bwd_row(int H, double *dyr, const double *xh, double rstd,
                       const double *gamma, const double *res,
                       double *dgamma, double *dbeta)
{
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
    dyr[j] = rstd * (g - m1 - xh[j] * m2) + res[j];
  }
}

/* The MLP sub-block's forward; out may equal x (every row of x is read
 * before the matching row of out is written). */
static void mlp_fwd(const pl_workload *w, const double *params,
                    const double *x, double *out, struct stash *s)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, F = (int)pl_wl_ffn(w);
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA);
  const double *beta = params + pl_wl_param_offset(w, PL_WL_BETA);
  const double *W1 = params + pl_wl_param_offset(w, PL_WL_W1);
  const double *b1 = params + pl_wl_param_offset(w, PL_WL_B1);
  const double *W2 = params + pl_wl_param_offset(w, PL_WL_W2);
  const double *b2 = params + pl_wl_param_offset(w, PL_WL_B2);
  ln_fwd(T, H, x, gamma, beta, s->xhat, s->y, s->rstd);
  for (int t = 0; t < T; t++)
    memcpy(s->h1 + (size_t)t * F, b1, (size_t)F * sizeof *b1);
  pl_kern_dgemm(0, 0, T, F, H, 1.0, s->y, H, W1, F, 1.0, s->h1, F);
  for (size_t i = 0; i < (size_t)T * F; i++) {
    double v = s->h1[i];
    s->a[i] = 0.5 * v * (1.0 + tanh(GELU_K * (v + GELU_C * v * v * v)));
  }
  for (int t = 0; t < T; t++)
    for (int j = 0; j < H; j++)
      out[(size_t)t * H + j] = x[(size_t)t * H + j] + b2[j];
  pl_kern_dgemm(0, 0, T, H, F, 1.0, s->a, F, W2, H, 1.0, out, H);
}

/* The attention sub-block's forward: x [T,H] -> x1 [T,H] (x1 != x). */
static void attn_fwd(const pl_workload *w, const double *params,
                     const double *x, double *x1, struct stash *s)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, S = w->seq;
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA_A);
  const double *beta = params + pl_wl_param_offset(w, PL_WL_BETA_A);
  const double *Wqkv = params + pl_wl_param_offset(w, PL_WL_WQKV);
  const double *bqkv = params + pl_wl_param_offset(w, PL_WL_BQKV);
  const double *Wo = params + pl_wl_param_offset(w, PL_WL_WO);
  const double *bo = params + pl_wl_param_offset(w, PL_WL_BO);
  const double scale = 1.0 / sqrt((double)H);
  ln_fwd(T, H, x, gamma, beta, s->xa, s->y0, s->rstd_a);
  for (int t = 0; t < T; t++)
    memcpy(s->qkv + (size_t)t * 3 * H, bqkv, (size_t)3 * H * sizeof *bqkv);
  pl_kern_dgemm(0, 0, T, 3 * H, H, 1.0, s->y0, H, Wqkv, 3 * H, 1.0, s->qkv,
                3 * H);
  for (int b = 0; b < w->mb_size; b++) {
    const double *q = s->qkv + (size_t)b * S * 3 * H, *k = q + H, *v = q + 2 * H;
    double *P = s->P + (size_t)b * S * S;
    /* S = q k^T / sqrt(H); the masked upper triangle is computed and then
     * zeroed, which keeps the GEMM simple. */
    pl_kern_dgemm(0, 1, S, S, H, scale, q, 3 * H, k, 3 * H, 0.0, P, S);
    for (int i = 0; i < S; i++) {
      double *row = P + (size_t)i * S, mx = row[0], sum = 0;
      for (int j = 1; j <= i; j++)
        mx = row[j] > mx ? row[j] : mx;
      for (int j = 0; j <= i; j++) {
        row[j] = exp(row[j] - mx);
        sum += row[j];
      }
      for (int j = 0; j <= i; j++)
        row[j] /= sum;
      for (int j = i + 1; j < S; j++)
        row[j] = 0;
    }
    pl_kern_dgemm(0, 0, S, H, S, 1.0, P, S, v, 3 * H, 0.0,
                  s->o + (size_t)b * S * H, H);
  }
  for (int t = 0; t < T; t++)
    for (int j = 0; j < H; j++)
      x1[(size_t)t * H + j] = x[(size_t)t * H + j] + bo[j];
  pl_kern_dgemm(0, 0, T, H, H, 1.0, s->o, H, Wo, H, 1.0, x1, H);
}

void pl_kern_layer_fwd(const pl_workload *w, const double *params,
                       const double *x, double *out, double *wpart,
                       double *bpart)
{
  struct stash s = stash_of(w, wpart, bpart);
  if (w->attention) {
    /* x1 lives in out; the MLP then runs in place on it. */
    attn_fwd(w, params, x, out, &s);
    mlp_fwd(w, params, out, out, &s);
  } else {
    mlp_fwd(w, params, x, out, &s);
  }
}

/* The MLP sub-block's input backward: dout -> dx (dx != dout). */
static void mlp_bwd_b(const pl_workload *w, const double *params,
                      const double *dout, double *dx, struct stash *s,
                      double *grads, double *scratch)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, F = (int)pl_wl_ffn(w);
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA);
  const double *W1 = params + pl_wl_param_offset(w, PL_WL_W1);
  const double *W2 = params + pl_wl_param_offset(w, PL_WL_W2);
  double *dgamma = grads + pl_wl_param_offset(w, PL_WL_GAMMA);
  double *dbeta = grads + pl_wl_param_offset(w, PL_WL_BETA);
  double *dA = scratch; /* [T,F] */
  /* dA = dh2 W2^T with dh2 = dout. */
  pl_kern_dgemm(0, 1, T, F, H, 1.0, dout, H, W2, H, 0.0, dA, F);
  /* dh1 = dA * gelu'(h1), written over h1. */
  for (size_t i = 0; i < (size_t)T * F; i++) {
    double v = s->h1[i];
    double u = GELU_K * (v + GELU_C * v * v * v);
    double th = tanh(u);
    double d = 0.5 * (1.0 + th) +
               0.5 * v * (1.0 - th * th) * GELU_K * (1.0 + 3.0 * GELU_C * v * v);
    s->h1[i] = dA[i] * d;
  }
  /* dy = dh1 W1^T into dx (used as scratch for dy, then overwritten row by
   * row with the layer-norm backward plus the residual). */
  pl_kern_dgemm(0, 1, T, H, F, 1.0, s->h1, F, W1, F, 0.0, dx, H);
  for (int t = 0; t < T; t++)
    ln_bwd_row(H, dx + (size_t)t * H, s->xhat + (size_t)t * H, s->rstd[t],
               gamma, dout + (size_t)t * H, dgamma, dbeta);
  /* W needs dh2 = dout: keep it where xhat was. */
  memcpy(s->xhat, dout, (size_t)T * H * sizeof *dout);
}

/* The attention sub-block's input backward, in place: dx holds dx1 (the
 * gradient w.r.t. the attention block's output) on entry and the
 * gradient w.r.t. its input on return. Leaves dx1 over xa and dqkv over
 * qkv for W. scratch: do [T,H] | dP [seq,seq] | dqkv of one sequence
 * [seq,3H]. */
static void attn_bwd_b(const pl_workload *w, const double *params, double *dx,
                       struct stash *s, double *grads, double *scratch)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, S = w->seq;
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA_A);
  const double *Wqkv = params + pl_wl_param_offset(w, PL_WL_WQKV);
  const double *Wo = params + pl_wl_param_offset(w, PL_WL_WO);
  double *dgamma = grads + pl_wl_param_offset(w, PL_WL_GAMMA_A);
  double *dbeta = grads + pl_wl_param_offset(w, PL_WL_BETA_A);
  const double scale = 1.0 / sqrt((double)H);
  double *dO = scratch, *dP = dO + (size_t)T * H, *dq = dP + (size_t)S * S;
  /* do = dx1 Wo^T. */
  pl_kern_dgemm(0, 1, T, H, H, 1.0, dx, H, Wo, H, 0.0, dO, H);
  for (int b = 0; b < w->mb_size; b++) {
    double *q = s->qkv + (size_t)b * S * 3 * H, *k = q + H, *v = q + 2 * H;
    const double *P = s->P + (size_t)b * S * S, *dOb = dO + (size_t)b * S * H;
    /* dP = do v^T, dv = P^T do. */
    pl_kern_dgemm(0, 1, S, S, H, 1.0, dOb, H, v, 3 * H, 0.0, dP, S);
    pl_kern_dgemm(1, 0, S, H, S, 1.0, P, S, dOb, H, 0.0, dq + 2 * H, 3 * H);
    /* Softmax backward, scaled: dS = P * (dP - rowsum(P*dP)) / sqrt(H);
     * masked entries have P = 0 and so dS = 0. */
    for (int i = 0; i < S; i++) {
      const double *pr = P + (size_t)i * S;
      double *dr = dP + (size_t)i * S, r = 0;
      for (int j = 0; j <= i; j++)
        r += pr[j] * dr[j];
      for (int j = 0; j < S; j++)
        dr[j] = j <= i ? pr[j] * (dr[j] - r) * scale : 0.0;
    }
    /* dq = dS k, dk = dS^T q; q and k are read before they are replaced. */
    pl_kern_dgemm(0, 0, S, H, S, 1.0, dP, S, k, 3 * H, 0.0, dq, 3 * H);
    pl_kern_dgemm(1, 0, S, H, S, 1.0, dP, S, q, 3 * H, 0.0, dq + H, 3 * H);
    memcpy(q, dq, (size_t)S * 3 * H * sizeof *dq);
  }
  /* dy0 = dqkv Wqkv^T, over do (no longer needed). */
  double *dy0 = dO;
  pl_kern_dgemm(0, 1, T, H, 3 * H, 1.0, s->qkv, 3 * H, Wqkv, 3 * H, 0.0, dy0,
                H);
  for (int t = 0; t < T; t++) {
    double *dyr = dy0 + (size_t)t * H, *dxr = dx + (size_t)t * H;
    double *xh = s->xa + (size_t)t * H;
    ln_bwd_row(H, dyr, xh, s->rstd_a[t], gamma, dxr, dgamma, dbeta);
    /* xhat_a of this row is used up: keep dx1 there for W. */
    memcpy(xh, dxr, (size_t)H * sizeof *dxr);
    memcpy(dxr, dyr, (size_t)H * sizeof *dyr);
  }
}

void pl_kern_layer_bwd_b(const pl_workload *w, const double *params,
                         const double *dout, double *dx, double *wpart,
                         const double *bpart, double *grads, double *scratch)
{
  struct stash s = stash_of(w, wpart, (double *)bpart);
  mlp_bwd_b(w, params, dout, dx, &s, grads, scratch);
  if (w->attention)
    attn_bwd_b(w, params, dx, &s, grads, scratch);
}

/* Accumulates the column sums of a [T,N] matrix into g [N]. */
static void colsum(int T, int N, const double *a, double *g)
{
  for (int t = 0; t < T; t++)
    for (int j = 0; j < N; j++)
      g[j] += a[(size_t)t * N + j];
}

void pl_kern_layer_bwd_w(const pl_workload *w, const double *wpart,
                         double *grads)
{
  const int T = (int)pl_wl_tokens(w), H = w->hidden, F = (int)pl_wl_ffn(w);
  struct stash s = stash_of(w, (double *)wpart, NULL);
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
  if (!w->attention)
    return;
  const double *dqkv = s.qkv, *dx1 = s.xa;
  double *dWqkv = grads + pl_wl_param_offset(w, PL_WL_WQKV);
  double *dbqkv = grads + pl_wl_param_offset(w, PL_WL_BQKV);
  double *dWo = grads + pl_wl_param_offset(w, PL_WL_WO);
  double *dbo = grads + pl_wl_param_offset(w, PL_WL_BO);
  pl_kern_dgemm(1, 0, H, 3 * H, T, 1.0, s.y0, H, dqkv, 3 * H, 1.0, dWqkv,
                3 * H);
  pl_kern_dgemm(1, 0, H, H, T, 1.0, s.o, H, dx1, H, 1.0, dWo, H);
  colsum(T, 3 * H, dqkv, dbqkv);
  colsum(T, H, dx1, dbo);
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
