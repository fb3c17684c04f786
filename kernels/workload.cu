// workload.cu: CUDA kernels of the executor's transformer-block workload
// (same math, layout and deterministic initialisation as kernels/workload.c;
// see pipelab/kernels.h). Matrix products go through cuBLAS (column-major,
// so a row-major C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T).
// Every launch wrapper is extern "C" and returns 0 or PL_ECUDA.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "pipelab/kernels.h"

#define LN_EPS 1e-5
#define GELU_K 0.7978845608028654
#define GELU_C 0.044715

namespace {

__device__ uint64_t splitmix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

__device__ double wl_rand(uint64_t seed, uint64_t stream, uint64_t index)
{
  uint64_t h = splitmix64(seed ^ splitmix64(stream ^ splitmix64(index)));
  return (double)(h >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

__global__ void k_fill_rand(double *p, size_t n, uint64_t seed,
                            uint64_t stream, double base, double scale)
{
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    p[i] = base + scale * wl_rand(seed, stream, i);
}

// One block per token: mean, variance, xhat, y = gamma xhat + beta, rstd.
__global__ void k_ln_fwd(const double *x, const double *gamma,
                         const double *beta, double *xhat, double *y,
                         double *rstd, int H)
{
  __shared__ double red[2][256];
  int t = blockIdx.x;
  const double *xr = x + (size_t)t * H;
  double s = 0, s2 = 0;
  for (int j = threadIdx.x; j < H; j += blockDim.x)
    s += xr[j];
  red[0][threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) {
    if ((int)threadIdx.x < k)
      red[0][threadIdx.x] += red[0][threadIdx.x + k];
    __syncthreads();
  }
  double mean = red[0][0] / H;
  for (int j = threadIdx.x; j < H; j += blockDim.x)
    s2 += (xr[j] - mean) * (xr[j] - mean);
  red[1][threadIdx.x] = s2;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) {
    if ((int)threadIdx.x < k)
      red[1][threadIdx.x] += red[1][threadIdx.x + k];
    __syncthreads();
  }
  double r = 1.0 / sqrt(red[1][0] / H + LN_EPS);
  if (threadIdx.x == 0)
    rstd[t] = r;
  for (int j = threadIdx.x; j < H; j += blockDim.x) {
    double xh = (xr[j] - mean) * r;
    xhat[(size_t)t * H + j] = xh;
    y[(size_t)t * H + j] = gamma[j] * xh + beta[j];
  }
}

// out[t, j] = b[j] (+ res[t, j] when res is not NULL).
__global__ void k_bias_rows(double *out, const double *b, const double *res,
                            int T, int N)
{
  size_t n = (size_t)T * N;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    out[i] = b[i % N] + (res ? res[i] : 0.0);
}

__global__ void k_gelu(const double *h, double *a, size_t n)
{
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    double v = h[i];
    a[i] = 0.5 * v * (1.0 + tanh(GELU_K * (v + GELU_C * v * v * v)));
  }
}

// h1 <- dA * gelu'(h1)
__global__ void k_gelu_bwd(double *h1, const double *dA, size_t n)
{
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    double v = h1[i];
    double th = tanh(GELU_K * (v + GELU_C * v * v * v));
    double d = 0.5 * (1.0 + th) +
               0.5 * v * (1.0 - th * th) * GELU_K * (1.0 + 3.0 * GELU_C * v * v);
    h1[i] = dA[i] * d;
  }
}

// One block per token: dx (holding dy on entry) <- layer-norm backward +
// residual dout; dgamma, dbeta accumulated atomically.
__global__ void k_ln_bwd(double *dx, const double *dout, const double *xhat,
                         const double *rstd, const double *gamma,
                         double *dgamma, double *dbeta, int H)
{
  __shared__ double red[2][256];
  int t = blockIdx.x;
  double *dy = dx + (size_t)t * H;
  const double *xh = xhat + (size_t)t * H;
  double m1 = 0, m2 = 0;
  for (int j = threadIdx.x; j < H; j += blockDim.x) {
    double g = dy[j] * gamma[j];
    m1 += g;
    m2 += g * xh[j];
    atomicAdd(&dgamma[j], dy[j] * xh[j]);
    atomicAdd(&dbeta[j], dy[j]);
  }
  red[0][threadIdx.x] = m1;
  red[1][threadIdx.x] = m2;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) {
    if ((int)threadIdx.x < k) {
      red[0][threadIdx.x] += red[0][threadIdx.x + k];
      red[1][threadIdx.x] += red[1][threadIdx.x + k];
    }
    __syncthreads();
  }
  m1 = red[0][0] / H;
  m2 = red[1][0] / H;
  double r = rstd[t];
  for (int j = threadIdx.x; j < H; j += blockDim.x) {
    double g = dy[j] * gamma[j];
    dy[j] = r * (g - m1 - xh[j] * m2) + dout[(size_t)t * H + j];
  }
}

// db[j] += sum_t d[t, j] (one thread per column: deterministic).
__global__ void k_colsum(const double *d, double *db, int T, int N)
{
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= N)
    return;
  double s = 0;
  for (int t = 0; t < T; t++)
    s += d[(size_t)t * N + j];
  db[j] += s;
}

__global__ void k_loss(const double *out, const double *t, double *dout,
                       double *loss, size_t n, double scale)
{
  __shared__ double red[256];
  double s = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    double d = out[i] - t[i];
    s += d * d;
    dout[i] = 2.0 * d * scale;
  }
  red[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) {
    if ((int)threadIdx.x < k)
      red[threadIdx.x] += red[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    atomicAdd(loss, red[0] * scale);
}

int grid_for(size_t n)
{
  size_t g = (n + 255) / 256;
  return (int)(g > 4096 ? 4096 : (g ? g : 1));
}

int check_launch(void)
{
  return cudaGetLastError() == cudaSuccess ? 0 : PL_ECUDA;
}

// Row-major C[M,N] = alpha op(A) op(B) + beta C.
int rm_dgemm(void *blas, int ta, int tb, int M, int N, int K, double alpha,
             const double *A, int lda, const double *B, int ldb, double beta,
             double *C, int ldc)
{
  cublasStatus_t st = cublasDgemm(
      (cublasHandle_t)blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
      ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb, A, lda, &beta,
      C, ldc);
  return st == CUBLAS_STATUS_SUCCESS ? 0 : PL_ECUDA;
}

struct dims {
  int T, H, F;
};

dims dims_of(const pl_workload *w)
{
  dims d;
  d.T = w->mb_size * w->seq;
  d.H = w->hidden;
  d.F = 4 * w->hidden;
  return d;
}

} // namespace

extern "C" int pl_cuk_init_layer(const pl_workload *w, int l, double *params,
                                 void *stream)
{
  cudaStream_t s = (cudaStream_t)stream;
  size_t H = (size_t)w->hidden, F = 4 * H;
  size_t n[PL_WL_NTENSORS] = {H, H, H * F, F, F * H, H};
  double scale[PL_WL_NTENSORS] = {0.1, 0.1, sqrt(3.0 / (double)H), 0.1,
                                  sqrt(3.0 / (double)F), 0.1};
  double base[PL_WL_NTENSORS] = {1, 0, 0, 0, 0, 0};
  double *p = params;
  /* MLP tensors only: pl_backend_cuda_open refuses attention. */
  for (int t = 0; t < PL_WL_NTENSORS_MLP; t++) {
    uint64_t stream_id = PL_WL_STREAM_PARAM + (uint64_t)l * 8 + (uint64_t)t;
    k_fill_rand<<<grid_for(n[t]), 256, 0, s>>>(p, n[t], w->seed, stream_id,
                                               base[t], scale[t]);
    p += n[t];
  }
  return check_launch();
}

extern "C" int pl_cuk_input(const pl_workload *w, int mb, double *x,
                            void *stream)
{
  size_t n = (size_t)w->mb_size * w->seq * w->hidden;
  k_fill_rand<<<grid_for(n), 256, 0, (cudaStream_t)stream>>>(
      x, n, w->seed, PL_WL_STREAM_INPUT + (uint64_t)mb, 0.0, 1.0);
  return check_launch();
}

extern "C" int pl_cuk_target(const pl_workload *w, int mb, double *t,
                             void *stream)
{
  size_t n = (size_t)w->mb_size * w->seq * w->hidden;
  k_fill_rand<<<grid_for(n), 256, 0, (cudaStream_t)stream>>>(
      t, n, w->seed, PL_WL_STREAM_TARGET + (uint64_t)mb, 0.0, 0.5);
  return check_launch();
}

extern "C" int pl_cuk_layer_fwd(const pl_workload *w, void *blas, void *stream,
                                const double *params, const double *x,
                                double *out, double *wpart, double *bpart)
{
  cudaStream_t s = (cudaStream_t)stream;
  dims d = dims_of(w);
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA);
  const double *beta = params + pl_wl_param_offset(w, PL_WL_BETA);
  const double *W1 = params + pl_wl_param_offset(w, PL_WL_W1);
  const double *b1 = params + pl_wl_param_offset(w, PL_WL_B1);
  const double *W2 = params + pl_wl_param_offset(w, PL_WL_W2);
  const double *b2 = params + pl_wl_param_offset(w, PL_WL_B2);
  double *xhat = wpart, *y = xhat + (size_t)d.T * d.H;
  double *h1 = y + (size_t)d.T * d.H, *a = h1 + (size_t)d.T * d.F;
  k_ln_fwd<<<d.T, 256, 0, s>>>(x, gamma, beta, xhat, y, bpart, d.H);
  k_bias_rows<<<grid_for((size_t)d.T * d.F), 256, 0, s>>>(h1, b1, NULL, d.T,
                                                          d.F);
  int rc = check_launch();
  if (rc || (rc = rm_dgemm(blas, 0, 0, d.T, d.F, d.H, 1.0, y, d.H, W1, d.F,
                           1.0, h1, d.F)))
    return rc;
  k_gelu<<<grid_for((size_t)d.T * d.F), 256, 0, s>>>(h1, a,
                                                     (size_t)d.T * d.F);
  k_bias_rows<<<grid_for((size_t)d.T * d.H), 256, 0, s>>>(out, b2, x, d.T,
                                                          d.H);
  if ((rc = check_launch()))
    return rc;
  return rm_dgemm(blas, 0, 0, d.T, d.H, d.F, 1.0, a, d.F, W2, d.H, 1.0, out,
                  d.H);
}

extern "C" int pl_cuk_layer_bwd_b(const pl_workload *w, void *blas,
                                  void *stream, const double *params,
                                  const double *dout, double *dx,
                                  double *wpart, const double *bpart,
                                  double *grads, double *scratch)
{
  cudaStream_t s = (cudaStream_t)stream;
  dims d = dims_of(w);
  const double *gamma = params + pl_wl_param_offset(w, PL_WL_GAMMA);
  const double *W1 = params + pl_wl_param_offset(w, PL_WL_W1);
  const double *W2 = params + pl_wl_param_offset(w, PL_WL_W2);
  double *dgamma = grads + pl_wl_param_offset(w, PL_WL_GAMMA);
  double *dbeta = grads + pl_wl_param_offset(w, PL_WL_BETA);
  double *xhat = wpart, *y = xhat + (size_t)d.T * d.H;
  double *h1 = y + (size_t)d.T * d.H;
  int rc = rm_dgemm(blas, 0, 1, d.T, d.F, d.H, 1.0, dout, d.H, W2, d.H, 0.0,
                    scratch, d.F);
  if (rc)
    return rc;
  k_gelu_bwd<<<grid_for((size_t)d.T * d.F), 256, 0, s>>>(h1, scratch,
                                                         (size_t)d.T * d.F);
  if ((rc = check_launch()) ||
      (rc = rm_dgemm(blas, 0, 1, d.T, d.H, d.F, 1.0, h1, d.F, W1, d.F, 0.0,
                     dx, d.H)))
    return rc;
  k_ln_bwd<<<d.T, 256, 0, s>>>(dx, dout, xhat, bpart, gamma, dgamma, dbeta,
                               d.H);
  if ((rc = check_launch()))
    return rc;
  if (cudaMemcpyAsync(xhat, dout, (size_t)d.T * d.H * sizeof(double),
                      cudaMemcpyDeviceToDevice, s) != cudaSuccess)
    return PL_ECUDA;
  return 0;
}

extern "C" int pl_cuk_layer_bwd_w(const pl_workload *w, void *blas,
                                  void *stream, const double *wpart,
                                  double *grads, double *scratch)
{
  (void)scratch;
  cudaStream_t s = (cudaStream_t)stream;
  dims d = dims_of(w);
  const double *dh2 = wpart, *y = dh2 + (size_t)d.T * d.H;
  const double *dh1 = y + (size_t)d.T * d.H, *a = dh1 + (size_t)d.T * d.F;
  double *dW1 = grads + pl_wl_param_offset(w, PL_WL_W1);
  double *db1 = grads + pl_wl_param_offset(w, PL_WL_B1);
  double *dW2 = grads + pl_wl_param_offset(w, PL_WL_W2);
  double *db2 = grads + pl_wl_param_offset(w, PL_WL_B2);
  int rc = rm_dgemm(blas, 1, 0, d.H, d.F, d.T, 1.0, y, d.H, dh1, d.F, 1.0,
                    dW1, d.F);
  if (rc || (rc = rm_dgemm(blas, 1, 0, d.F, d.H, d.T, 1.0, a, d.F, dh2, d.H,
                           1.0, dW2, d.H)))
    return rc;
  k_colsum<<<(d.F + 255) / 256, 256, 0, s>>>(dh1, db1, d.T, d.F);
  k_colsum<<<(d.H + 255) / 256, 256, 0, s>>>(dh2, db2, d.T, d.H);
  return check_launch();
}

extern "C" int pl_cuk_loss(const pl_workload *w, void *stream,
                           const double *out, const double *t, double *dout,
                           double *loss_dev)
{
  size_t n = (size_t)w->mb_size * w->seq * w->hidden;
  double scale = 1.0 / ((double)n * w->microbatches);
  k_loss<<<grid_for(n), 256, 0, (cudaStream_t)stream>>>(out, t, dout,
                                                        loss_dev, n, scale);
  return check_launch();
}
