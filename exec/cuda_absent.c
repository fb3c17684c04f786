/* cuda_absent.c: the CUDA backend's entry points in a build without CUDA
 * (include/pipelab/exec.h declares them in every build, so the public
 * headers never depend on build options). Each says the backend is not
 * built in. */
#include "pipelab/exec.h"

#ifndef PL_HAVE_CUDA
const pl_backend_vt *pl_backend_cuda_vt(void) { return NULL; }

int pl_backend_cuda_open(int p, const pl_workload *w, void **be,
                         struct pl_errbuf *eb)
{
  (void)p;
  (void)w;
  if (be)
    *be = NULL;
  return pl_errf(eb, PL_ENODEV, "no GPU: this pipelab was built without "
                 "CUDA");
}

void pl_backend_cuda_close(void *be) { (void)be; }

void pl_backend_cuda_local_ranks(void *be, int *lo, int *hi)
{
  (void)be;
  if (lo)
    *lo = 0;
  if (hi)
    *hi = 0;
}

int pl_backend_cuda_set_order(void *be, const pl_sched *s)
{
  (void)be;
  (void)s;
  return PL_ENODEV;
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int pl__cuda_absent_unused;
#endif
