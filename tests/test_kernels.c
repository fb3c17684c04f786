/* test_kernels.c: the workload kernels against central finite differences
 * (input backward B: dx, dgamma, dbeta; weight backward W: dW1, db1, dW2,
 * db2; the loss gradient), with and without the causal attention
 * sub-block (then also dgamma_a, dbeta_a from B and dWqkv, dbqkv, dWo, dbo
 * from W), attention causality, dgemm against a plain triple loop, and the
 * deterministic generator. Tolerance: central differences with h = 1e-5 in
 * double have O(h^2) truncation ~1e-10 and rounding ~1e-11 relative; we
 * require 1e-6 relative to the largest gradient entry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/kernels.h"

static pl_workload wl(int attention)
{
  pl_workload w = PL_WORKLOAD_INIT;
  w.attention = attention;
  w.layers = 1;
  w.hidden = 6;
  w.seq = attention ? 4 : 3;
  w.mb_size = 2;
  w.microbatches = 2;
  w.seed = 11;
  return w;
}

struct fx {
  pl_workload w;
  size_t T, H, F, n, lp;
  double *params, *x, *r, *out, *wp, *bp;
};

static void fx_init(struct fx *f, int attention)
{
  f->w = wl(attention);
  f->T = pl_wl_tokens(&f->w);
  f->H = (size_t)f->w.hidden;
  f->F = pl_wl_ffn(&f->w);
  f->n = f->T * f->H;
  f->lp = pl_wl_layer_params(&f->w);
  f->params = calloc(f->lp, sizeof(double));
  f->x = calloc(f->n, sizeof(double));
  f->r = calloc(f->n, sizeof(double));
  f->out = calloc(f->n, sizeof(double));
  f->wp = calloc(pl_wl_layer_wpart(&f->w), sizeof(double));
  f->bp = calloc(pl_wl_layer_bpart(&f->w), sizeof(double));
  pl_kern_init_layer(&f->w, 0, f->params);
  pl_kern_input(&f->w, 0, f->x);
  pl_kern_target(&f->w, 1, f->r); /* random projection of the output */
}

static void fx_free(struct fx *f)
{
  free(f->params);
  free(f->x);
  free(f->r);
  free(f->out);
  free(f->wp);
  free(f->bp);
}

/* Objective sum(out * r) for the current x and params. */
static double objective(struct fx *f)
{
  pl_kern_layer_fwd(&f->w, f->params, f->x, f->out, f->wp, f->bp);
  double s = 0;
  for (size_t i = 0; i < f->n; i++)
    s += f->out[i] * f->r[i];
  return s;
}

static double fd(struct fx *f, double *v)
{
  const double h = 1e-5;
  double keep = *v;
  *v = keep + h;
  double a = objective(f);
  *v = keep - h;
  double b = objective(f);
  *v = keep;
  return (a - b) / (2 * h);
}

static double maxabs(const double *v, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs(v[i]) > m)
      m = fabs(v[i]);
  return m;
}

static void layer_backward_fd(int attention)
{
  struct fx f;
  fx_init(&f, attention);
  objective(&f);
  double *dx = calloc(f.n, sizeof(double));
  double *grads = calloc(f.lp, sizeof(double));
  double *scratch = calloc(pl_wl_scratch(&f.w), sizeof(double));
  pl_kern_layer_bwd_b(&f.w, f.params, f.r, dx, f.wp, f.bp, grads, scratch);
  pl_kern_layer_bwd_w(&f.w, f.wp, grads);
  /* dx: every entry. */
  double sx = maxabs(dx, f.n);
  assert_true(sx > 0.1);
  for (size_t i = 0; i < f.n; i++) {
    double e = fabs(fd(&f, &f.x[i]) - dx[i]);
    if (e > 1e-6 * sx)
      fprintf(stderr, "dx[%zu]: fd vs %g (err %g)\n", i, dx[i], e);
    assert_true(e <= 1e-6 * sx);
  }
  /* Every parameter tensor: all entries (the layer is small). */
  double sg = maxabs(grads, f.lp);
  assert_true(sg > 0.1);
  for (int t = 0; t < PL_WL_NTENSORS; t++) {
    size_t a = pl_wl_param_offset(&f.w, t), b = pl_wl_param_offset(&f.w, t + 1);
    /* attention tensors are empty without attention, and only then */
    assert_true((a == b) == (!attention && t >= PL_WL_NTENSORS_MLP));
    if (a == b)
      continue;
    double tmax = 0;
    for (size_t i = a; i < b; i++) {
      double e = fabs(fd(&f, &f.params[i]) - grads[i]);
      if (e > tmax)
        tmax = e;
    }
    if (tmax > 1e-6 * sg)
      fprintf(stderr, "tensor %d: max err %g\n", t, tmax);
    assert_true(tmax <= 1e-6 * sg);
    /* every tensor gets a non-zero gradient */
    assert_true(maxabs(grads + a, b - a) > 0);
  }
  free(dx);
  free(grads);
  free(scratch);
  fx_free(&f);
}

static void test_layer_backward_fd(void **state)
{
  (void)state;
  layer_backward_fd(0);
}

static void test_attention_backward_fd(void **state)
{
  (void)state;
  layer_backward_fd(1);
}

/* B alone must leave W's inputs in place: W after B equals W computed from
 * a second forward + B (the stash conversion is self-contained). B writes
 * only the layer-norm gammas/betas, W only the other tensors, and B then W
 * equals the full backward checked against finite differences above. */
static void b_then_w_split(int attention)
{
  struct fx f;
  fx_init(&f, attention);
  objective(&f);
  double *dx = calloc(f.n, sizeof(double));
  double *g1 = calloc(f.lp, sizeof(double)), *g2 = calloc(f.lp, sizeof(double));
  double *scratch = calloc(pl_wl_scratch(&f.w), sizeof(double));
  pl_kern_layer_bwd_b(&f.w, f.params, f.r, dx, f.wp, f.bp, g1, scratch);
  for (int t = 0; t < PL_WL_NTENSORS; t++) {
    size_t a = pl_wl_param_offset(&f.w, t), b = pl_wl_param_offset(&f.w, t + 1);
    int in_b = t == PL_WL_GAMMA || t == PL_WL_BETA || t == PL_WL_GAMMA_A ||
               t == PL_WL_BETA_A;
    if (a < b)
      assert_true(in_b ? maxabs(g1 + a, b - a) > 0 : maxabs(g1 + a, b - a) == 0);
  }
  double *gb = malloc(f.lp * sizeof(double));
  memcpy(gb, g1, f.lp * sizeof(double));
  /* Clobber the B-part, scratch and dx: W must not read them. */
  memset(f.bp, 0xff, pl_wl_layer_bpart(&f.w) * sizeof(double));
  memset(scratch, 0xff, pl_wl_scratch(&f.w) * sizeof(double));
  memset(dx, 0xff, f.n * sizeof(double));
  pl_kern_layer_bwd_w(&f.w, f.wp, g1);
  for (int t = 0; t < PL_WL_NTENSORS; t++) {
    size_t a = pl_wl_param_offset(&f.w, t), b = pl_wl_param_offset(&f.w, t + 1);
    int in_b = t == PL_WL_GAMMA || t == PL_WL_BETA || t == PL_WL_GAMMA_A ||
               t == PL_WL_BETA_A;
    if (in_b && a < b)
      assert_memory_equal(g1 + a, gb + a, (b - a) * sizeof(double));
  }
  free(gb);
  objective(&f);
  pl_kern_layer_bwd_b(&f.w, f.params, f.r, dx, f.wp, f.bp, g2, scratch);
  pl_kern_layer_bwd_w(&f.w, f.wp, g2);
  assert_memory_equal(g1, g2, f.lp * sizeof(double));
  free(dx);
  free(g1);
  free(g2);
  free(scratch);
  fx_free(&f);
}

static void test_b_then_w_split(void **state)
{
  (void)state;
  b_then_w_split(0);
}

static void test_attention_b_then_w_split(void **state)
{
  (void)state;
  b_then_w_split(1);
}

/* Causality: changing token j of sequence b changes no output of tokens
 * < j of that sequence, nor any output of the other sequence, and does
 * change token j's and later tokens' outputs of sequence b (the test can
 * fail both ways). Exact equality: the untouched rows go through the same
 * operations on the same values. */
static void test_attention_causal(void **state)
{
  (void)state;
  struct fx f;
  fx_init(&f, 1);
  const size_t S = (size_t)f.w.seq, H = f.H;
  double *base = malloc(f.n * sizeof(double));
  objective(&f);
  memcpy(base, f.out, f.n * sizeof(double));
  for (size_t b = 0; b < (size_t)f.w.mb_size; b++)
    for (size_t j = 0; j < S; j++) {
      size_t tok = b * S + j;
      double keep = f.x[tok * H + 1];
      f.x[tok * H + 1] += 0.25;
      objective(&f);
      f.x[tok * H + 1] = keep;
      for (size_t t = 0; t < f.T; t++) {
        int same = memcmp(f.out + t * H, base + t * H, H * sizeof(double)) == 0;
        int affected = t / S == b && t % S >= j;
        if (same == affected)
          fprintf(stderr, "seq %zu token %zu -> token %zu: %s\n", b, j, t,
                  same ? "unchanged" : "changed");
        assert_true(same != affected);
      }
    }
  /* Also the attention sub-block alone, through the probabilities: the
   * stash's P is lower triangular and every row sums to 1. */
  objective(&f);
  const double *P = f.bp + 2 * f.T;
  for (size_t b = 0; b < (size_t)f.w.mb_size; b++)
    for (size_t i = 0; i < S; i++) {
      double sum = 0;
      for (size_t j = 0; j < S; j++) {
        double p = P[(b * S + i) * S + j];
        if (j > i)
          assert_true(p == 0.0);
        else
          assert_true(p > 0.0);
        sum += p;
      }
      assert_true(fabs(sum - 1.0) < 1e-14);
    }
  free(base);
  fx_free(&f);
}

static void test_loss_fd(void **state)
{
  (void)state;
  pl_workload w = wl(0);
  size_t n = pl_wl_tokens(&w) * (size_t)w.hidden;
  double *o = calloc(n, sizeof(double)), *t = calloc(n, sizeof(double));
  double *d = calloc(n, sizeof(double)), *d2 = calloc(n, sizeof(double));
  pl_kern_input(&w, 3, o);
  pl_kern_target(&w, 3, t);
  double L = pl_kern_loss(&w, o, t, d);
  /* closed form: mean squared error / m */
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (o[i] - t[i]) * (o[i] - t[i]);
  assert_true(fabs(L - s / (double)n / w.microbatches) < 1e-15);
  for (size_t i = 0; i < n; i += 5) {
    double keep = o[i], h = 1e-6;
    o[i] = keep + h;
    double a = pl_kern_loss(&w, o, t, d2);
    o[i] = keep - h;
    double b = pl_kern_loss(&w, o, t, d2);
    o[i] = keep;
    assert_true(fabs((a - b) / (2 * h) - d[i]) < 1e-8);
  }
  free(o);
  free(t);
  free(d);
  free(d2);
}

static void test_dgemm(void **state)
{
  (void)state;
  enum { M = 5, N = 4, K = 3 };
  double A[K * M], B[N * K], C[M * N], R[M * N];
  for (int i = 0; i < K * M; i++)
    A[i] = pl_wl_rand(1, 1, (uint64_t)i);
  for (int i = 0; i < N * K; i++)
    B[i] = pl_wl_rand(1, 2, (uint64_t)i);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      for (int i = 0; i < M * N; i++)
        C[i] = R[i] = 1.0;
      int lda = ta ? M : K, ldb = tb ? K : N;
      pl_kern_dgemm(ta, tb, M, N, K, 2.0, A, lda, B, ldb, 0.5, C, N);
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
          double s = 0;
          for (int k = 0; k < K; k++)
            s += (ta ? A[k * lda + i] : A[i * lda + k]) *
                 (tb ? B[j * ldb + k] : B[k * ldb + j]);
          R[i * N + j] = 2.0 * s + 0.5;
        }
      for (int i = 0; i < M * N; i++)
        assert_true(fabs(C[i] - R[i]) < 1e-14);
    }
}

static void test_rand(void **state)
{
  (void)state;
  double lo = 1, hi = -1, mean = 0;
  for (int i = 0; i < 10000; i++) {
    double v = pl_wl_rand(5, 9, (uint64_t)i);
    assert_true(v >= -1 && v < 1);
    lo = fmin(lo, v);
    hi = fmax(hi, v);
    mean += v;
  }
  mean /= 10000;
  assert_true(lo < -0.99 && hi > 0.99);
  assert_true(fabs(mean) < 0.05);
  assert_true(pl_wl_rand(5, 9, 3) == pl_wl_rand(5, 9, 3));
  assert_true(pl_wl_rand(5, 9, 3) != pl_wl_rand(6, 9, 3));
  assert_true(pl_wl_rand(5, 9, 3) != pl_wl_rand(5, 10, 3));
}

static void test_sizes(void **state)
{
  (void)state;
  pl_workload w = wl(0);
  /* H = 6, F = 24, T = 6 */
  assert_int_equal(pl_wl_layer_params(&w), 6 + 6 + 144 + 24 + 144 + 6);
  assert_int_equal(pl_wl_layer_wpart(&w), 6 * (12 + 48));
  assert_int_equal(pl_wl_layer_bpart(&w), 6);
  assert_int_equal(pl_wl_msg_bytes(&w), 8 * 36);
  assert_int_equal(pl_wl_scratch(&w), 6 * 24);
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  w.seq = 0;
  assert_int_equal(pl_wl_check(&w, &eb), PL_EINVAL);
  /* Attention: H = 6, F = 24, seq = 4, T = 8. The MLP tensors keep their
   * offsets; the attention tensors (6 + 6 + 108 + 18 + 36 + 6) follow. */
  w = wl(1);
  assert_int_equal(pl_wl_param_offset(&w, PL_WL_B2), 6 + 6 + 144 + 24 + 144);
  assert_int_equal(pl_wl_param_offset(&w, PL_WL_GAMMA_A), 330);
  assert_int_equal(pl_wl_param_offset(&w, PL_WL_WQKV), 342);
  assert_int_equal(pl_wl_param_offset(&w, PL_WL_WO), 342 + 108 + 18);
  assert_int_equal(pl_wl_layer_params(&w), 330 + 180);
  assert_int_equal(pl_wl_layer_wpart(&w), 8 * (8 * 6 + 2 * 24));
  assert_int_equal(pl_wl_layer_bpart(&w), 8 * (4 + 2));
  assert_int_equal(pl_wl_scratch(&w), 8 * 24 + 4 * 4);
  double mb = 0, mw = 0;
  w.layers = 4;
  assert_int_equal(pl_wl_stage_mem(&w, 2, 1, &mb, &mw, &eb), 0);
  assert_true(mw == 8.0 * 2 * 768);
  assert_true(mb == 8.0 * (2 * (768 + 48) + 8 * 6));
  /* The MLP parameters do not depend on the option. */
  pl_workload w0 = wl(0);
  double *p0 = calloc(pl_wl_layer_params(&w0), sizeof(double));
  double *p1 = calloc(pl_wl_layer_params(&w), sizeof(double));
  pl_kern_init_layer(&w0, 2, p0);
  pl_kern_init_layer(&w, 2, p1);
  assert_memory_equal(p0, p1, pl_wl_layer_params(&w0) * sizeof(double));
  free(p0);
  free(p1);
  /* The probabilities of one microbatch are bounded like other tensors. */
  w.mb_size = 1;
  w.seq = 50000;
  assert_int_equal(pl_wl_check(&w, &eb), PL_EINVAL);
  w.attention = 0;
  assert_int_equal(pl_wl_check(&w, &eb), PL_OK);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_layer_backward_fd),
    cmocka_unit_test(test_b_then_w_split),
    cmocka_unit_test(test_attention_backward_fd),
    cmocka_unit_test(test_attention_b_then_w_split),
    cmocka_unit_test(test_attention_causal),
    cmocka_unit_test(test_loss_fd),
    cmocka_unit_test(test_dgemm),
    cmocka_unit_test(test_rand),
    cmocka_unit_test(test_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
