/*
 * kernels.h: the executor's workload: a stack of pre-LN MLP
 * transformer blocks, optionally with causal self-attention, its exact activation-byte accounting and the CPU
 * kernels (CBLAS, double precision). CUDA kernels implement
 * the same math (kernels/workload.cu) through extern "C" launch wrappers declared here
 * whatever the build; they run inside the CUDA backend plugin (libpipelab-cuda.so), and the
 * core library's (which links no CUDA library) return PL_ENODEV, so this header is the
 * same for every build.
 *
 * One block (layer), T = mb_size * seq tokens, H = hidden, F = 4H, in double:
 *
 *   xhat = (x - mean(x)) * rstd,  rstd = 1/sqrt(var(x) + 1e-5)   (per token)
 *   y    = gamma * xhat + beta                                    layer norm
 *   h1   = y W1 + b1          W1: [H, F]
 *   a    = gelu(h1)           tanh approximation
 *   out  = x + a W2 + b2      W2: [F, H]                          residual
 *
 * With pl_workload.attention set, each block first runs a pre-LN
 * single-head causal self-attention sub-block with a residual, per
 * sequence (the T tokens are mb_size independent sequences of seq tokens;
 * token i of a sequence sees tokens j <= i of the same sequence only):
 *
 *   y0   = gamma_a * xhat_a + beta_a          layer norm of x (rstd_a)
 *   qkv  = y0 Wqkv + bqkv     Wqkv: [H, 3H]   q | k | v, each [T, H]
 *   P    = softmax(q k^T / sqrt(H))  per row, keys j > i masked (P = 0)
 *   o    = P v                                 [T, H]
 *   x1   = x + o Wo + bo      Wo: [H, H]       residual
 *
 * and the MLP above runs on x1 instead of x.
 *
 * The loss (last virtual stage only) is the mean squared error against a
 * deterministic target, averaged over the m microbatches:
 *   L = sum_mb mean((out - target)^2) / m.
 *
 * Backward is split exactly as the zero-bubble schedules need it:
 *   B (input backward): dA = dh2 W2^T, dh1 = dA * gelu'(h1),
 *                       dy = dh1 W1^T, layer-norm backward to dx,
 *                       dx += dh2 (residual); also dgamma, dbeta (they need
 *                       xhat, which B overwrites).
 *   W (weight backward): dW1 += y^T dh1, db1 += sum dh1,
 *                        dW2 += a^T dh2, db2 += sum dh2.
 * With attention, B continues from dx1 (the MLP's dx): do = dx1 Wo^T,
 * dP = do v^T, dv = P^T do, dS = P * (dP - rowsum(P * dP)) / sqrt(H),
 * dq = dS k, dk = dS^T q, dy0 = dqkv Wqkv^T, layer-norm backward to dx,
 * dx += dx1 (residual), plus dgamma_a, dbeta_a; W adds
 *   dWqkv += y0^T dqkv, dbqkv += sum dqkv, dWo += o^T dx1, dbo += sum dx1.
 *
 * Activation bytes (what the executor's tracking allocator counts, and what
 * pl_wl_stage_mem predicts): per layer F stores
 *   W-part: xhat [T,H], y [T,H], h1 [T,F], a [T,F]   = T*(2H+2F) doubles
 *   B-part: rstd [T]                                  = T doubles
 * B overwrites h1 with dh1 and xhat with dh2 in place, so the W-part is
 * exactly what W needs, and frees the B-part. With attention a layer's
 * F also stores
 *   W-part: xhat_a [T,H], y0 [T,H], qkv [T,3H], o [T,H]  = 6*T*H doubles
 *   B-part: rstd_a [T], P [mb_size, seq, seq]            = T*(seq+1)
 * and B overwrites qkv with dqkv and xhat_a with dx1 in place (both after
 * their last use in B), so per layer
 *   W-part = T*(8H+2F) doubles,  B-part = T*(seq+2) doubles.
 * The last virtual stage's F also stores the loss gradient dL/dout [T,H]
 * in its B-part. Hence, for a virtual stage of L layers, with
 * w = pl_wl_layer_wpart and b = pl_wl_layer_bpart,
 *   M_B = 8 * (L*(w+b) + [last] T*H)   M_W = 8 * L*w bytes,
 * i.e. without attention M_B = 8*(L*T*(2H+2F+1) + [last] T*H),
 * M_W = 8*L*T*(2H+2F).
 * Not counted: the layer-to-layer ping-pong buffers and backward scratch
 * (per-rank workspace, allocated once: pl_wl_scratch, which holds one
 * sequence's [seq, seq] score gradient at a time, not the microbatch's), P2P message buffers, parameters and
 * gradients.
 *
 * Determinism: every parameter, input and target element is a pure function
 * of (seed, tensor id, index) (splitmix64), so a pipelined run and the
 * sequential reference start from identical values whatever the partition.
 */
#ifndef PIPELAB_KERNELS_H
#define PIPELAB_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "pipelab/pipelab.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pl_workload {
  int layers;       /* total transformer blocks */
  int hidden;       /* H */
  int seq;          /* sequence length */
  int mb_size;      /* sequences per microbatch */
  int microbatches; /* m: scales the loss (mean over microbatches) */
  uint64_t seed;
  int attention;    /* 1: each block starts with causal self-attention */
} pl_workload;
#define PL_WORKLOAD_INIT {4, 64, 16, 2, 1, 1, 0}

/* Checks sizes (all >= 1, tensors fit in memory); PL_EINVAL with a message. */
int pl_wl_check(const pl_workload *w, struct pl_errbuf *eb);
/* Tokens per microbatch T = mb_size * seq. */
size_t pl_wl_tokens(const pl_workload *w);
/* FFN width F = 4H. */
size_t pl_wl_ffn(const pl_workload *w);
/* Parameters of one layer: gamma, beta [H], W1 [H*F], b1 [F], W2 [F*H],
 * b2 [H], then with attention gamma_a, beta_a [H], Wqkv [H*3H], bqkv [3H],
 * Wo [H*H], bo [H], in that order (the gradient layout is the same). The
 * attention tensors come last so that the MLP layout does not depend on
 * the option; without attention they have size 0. */
size_t pl_wl_layer_params(const pl_workload *w);
/* Offsets of each tensor inside a layer's parameter block. */
enum { PL_WL_GAMMA, PL_WL_BETA, PL_WL_W1, PL_WL_B1, PL_WL_W2, PL_WL_B2,
       PL_WL_GAMMA_A, PL_WL_BETA_A, PL_WL_WQKV, PL_WL_BQKV, PL_WL_WO,
       PL_WL_BO, PL_WL_NTENSORS };
/* Tensors of the MLP sub-block (the first ones in the enum). */
#define PL_WL_NTENSORS_MLP 6
size_t pl_wl_param_offset(const pl_workload *w, int tensor);
/* Doubles per layer in the W-part and B-part of the stash (see above):
 * T*(2H+2F) and T, with attention T*(8H+2F) and T*(seq+2). */
size_t pl_wl_layer_wpart(const pl_workload *w);
size_t pl_wl_layer_bpart(const pl_workload *w);
/* Doubles of backward scratch one rank needs (per-rank workspace, not
 * counted as activations): T*F, with attention T*F + seq*seq. */
size_t pl_wl_scratch(const pl_workload *w);
/* Bytes of one P2P message (activation or its gradient): 8*T*H. */
size_t pl_wl_msg_bytes(const pl_workload *w);

/*
 * Activation bytes of virtual stage g of n_stages (layers split evenly):
 * *mem_b = what its F allocates, *mem_w = what its B keeps until W (see the
 * formula above). PL_EINVAL if layers is not a multiple of n_stages.
 */
int pl_wl_stage_mem(const pl_workload *w, int n_stages, int g, double *mem_b,
                    double *mem_w, struct pl_errbuf *eb);
/* Sets c->stage[g].mem_b / mem_w (bytes) for every stage, msg_bytes where it
 * is 0, and c->mem_unit = "bytes". */
int pl_wl_apply_mem_costs(const pl_workload *w, pl_costs *c,
                          struct pl_errbuf *eb);

/* Deterministic value in [-1, 1) for (seed, stream, index): exact in both
 * the C and the CUDA implementation. */
double pl_wl_rand(uint64_t seed, uint64_t stream, uint64_t index);
/* Streams: parameters of layer l use PL_WL_STREAM_PARAM + l*8 + tensor
 * (MLP tensors) and PL_WL_STREAM_ATTN + l*8 + (tensor - PL_WL_GAMMA_A)
 * (attention tensors); inputs of microbatch mb PL_WL_STREAM_INPUT + mb;
 * targets PL_WL_STREAM_TARGET + mb. */
#define PL_WL_STREAM_PARAM 0x100000ull
#define PL_WL_STREAM_INPUT 0x200000000ull
#define PL_WL_STREAM_TARGET 0x300000000ull
#define PL_WL_STREAM_ATTN 0x400000000ull

/* ------------------------------------------------------ CPU kernels ---- */
/* All pointers are caller-owned host arrays of doubles sized as stated. */

/* Initialises one layer's parameters (global layer index l). */
void pl_kern_init_layer(const pl_workload *w, int l, double *params);
/* The microbatch's model input x [T,H] / loss target [T,H]. */
void pl_kern_input(const pl_workload *w, int mb, double *x);
void pl_kern_target(const pl_workload *w, int mb, double *t);

/* Forward of one layer: x [T,H] -> out [T,H] (out != x); stores the
 * W-part (wpart) and B-part (bpart) stash of this layer. */
void pl_kern_layer_fwd(const pl_workload *w, const double *params,
                       const double *x, double *out, double *wpart,
                       double *bpart);
/* Input backward: dout [T,H] -> dx [T,H] (dx != dout); converts wpart in
 * place for W; accumulates dgamma, dbeta (and dgamma_a, dbeta_a) into
 * grads; scratch >= pl_wl_scratch(w) doubles. */
void pl_kern_layer_bwd_b(const pl_workload *w, const double *params,
                         const double *dout, double *dx, double *wpart,
                         const double *bpart, double *grads, double *scratch);
/* Weight backward: accumulates dW1, db1, dW2, db2 (and dWqkv, dbqkv, dWo,
 * dbo) into grads. Reads only wpart. */
void pl_kern_layer_bwd_w(const pl_workload *w, const double *wpart,
                         double *grads);
/* Loss of one microbatch: returns sum((out-t)^2)/(T*H*m) and writes
 * dL/dout = 2(out-t)/(T*H*m) into dout. */
double pl_kern_loss(const pl_workload *w, const double *out, const double *t,
                    double *dout);

/* Row-major C[M,N] = alpha op(A) op(B) + beta C (CBLAS when available,
 * a plain loop otherwise). ta/tb: 0 = as is, 1 = transposed. */
void pl_kern_dgemm(int ta, int tb, int M, int N, int K, double alpha,
                   const double *A, int lda, const double *B, int ldb,
                   double beta, double *C, int ldc);
/* Pins BLAS to one thread for the calling thread's library (OpenBLAS). */
void pl_kern_blas_single_thread(void);

/* ----------------------------------------------------- CUDA kernels ---- */
/* Device pointers; `stream` is a cudaStream_t, `blas` a cublasHandle_t
 * bound to that stream, all borrowed. Return 0 or a negative pl_err
 * (PL_ECUDA). The core library's return PL_ENODEV: these run inside the
 * CUDA backend plugin, reached through pl_backend_cuda_* (pipelab/exec.h). */
int pl_cuk_init_layer(const pl_workload *w, int l, double *params,
                      void *stream);
int pl_cuk_input(const pl_workload *w, int mb, double *x, void *stream);
int pl_cuk_target(const pl_workload *w, int mb, double *t, void *stream);
int pl_cuk_layer_fwd(const pl_workload *w, void *blas, void *stream,
                     const double *params, const double *x, double *out,
                     double *wpart, double *bpart);
int pl_cuk_layer_bwd_b(const pl_workload *w, void *blas, void *stream,
                       const double *params, const double *dout, double *dx,
                       double *wpart, const double *bpart, double *grads,
                       double *scratch);
int pl_cuk_layer_bwd_w(const pl_workload *w, void *blas, void *stream,
                       const double *wpart, double *grads, double *scratch);
/* Adds the microbatch loss into *loss_dev (one device double). */
int pl_cuk_loss(const pl_workload *w, void *stream, const double *out,
                const double *t, double *dout, double *loss_dev);

#ifdef __cplusplus
}
#endif

#endif
