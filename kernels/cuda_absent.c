/* cuda_absent.c: the CUDA kernel launchers as the core library has them
 * (include/pipelab/kernels.h declares them in every build, so the public
 * headers never depend on build options). The real ones
 * (kernels/workload.cu) live inside the CUDA backend plugin,
 * libpipelab-cuda.so, which calls them itself; the core links no CUDA
 * library, so here each returns PL_ENODEV. */
#include "pipelab/kernels.h"

int pl_cuk_init_layer(const pl_workload *w, int l, double *params,
                      void *stream)
{
  (void)w, (void)l, (void)params, (void)stream;
  return PL_ENODEV;
}

int pl_cuk_input(const pl_workload *w, int mb, double *x, void *stream)
{
  (void)w, (void)mb, (void)x, (void)stream;
  return PL_ENODEV;
}

int pl_cuk_target(const pl_workload *w, int mb, double *t, void *stream)
{
  (void)w, (void)mb, (void)t, (void)stream;
  return PL_ENODEV;
}

int pl_cuk_layer_fwd(const pl_workload *w, void *blas, void *stream,
                     const double *params, const double *x, double *out,
                     double *wpart, double *bpart)
{
  (void)w, (void)blas, (void)stream, (void)params, (void)x, (void)out;
  (void)wpart, (void)bpart;
  return PL_ENODEV;
}

int pl_cuk_layer_bwd_b(const pl_workload *w, void *blas, void *stream,
                       const double *params, const double *dout, double *dx,
                       double *wpart, const double *bpart, double *grads,
                       double *scratch)
{
  (void)w, (void)blas, (void)stream, (void)params, (void)dout, (void)dx;
  (void)wpart, (void)bpart, (void)grads, (void)scratch;
  return PL_ENODEV;
}

int pl_cuk_layer_bwd_w(const pl_workload *w, void *blas, void *stream,
                       const double *wpart, double *grads, double *scratch)
{
  (void)w, (void)blas, (void)stream, (void)wpart, (void)grads, (void)scratch;
  return PL_ENODEV;
}

int pl_cuk_loss(const pl_workload *w, void *stream, const double *out,
                const double *t, double *dout, double *loss_dev)
{
  (void)w, (void)stream, (void)out, (void)t, (void)dout, (void)loss_dev;
  return PL_ENODEV;
}
