/* backend_cuda.c: the CUDA + NCCL backend (being written; stub). */
#include "pipelab/exec.h"

int pl_cuda_devices(const char **why)
{
  if (why)
    *why = "the CUDA backend is not finished";
  return 0;
}

const pl_backend_vt *pl_backend_cuda_vt(void) { return NULL; }

int pl_backend_cuda_open(int p, const pl_workload *w, void **be,
                         struct pl_errbuf *eb)
{
  (void)p;
  (void)w;
  *be = NULL;
  return pl_errf(eb, PL_ENODEV, "the CUDA backend is not finished");
}

void pl_backend_cuda_close(void *be) { (void)be; }

void pl_backend_cuda_local_ranks(void *be, int *lo, int *hi)
{
  (void)be;
  *lo = 0;
  *hi = 0;
}
