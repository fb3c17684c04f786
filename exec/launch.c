/* launch.c: rank discovery from the launcher's environment and the choice
 * of transport, shared by the MPI transport and the CUDA backend's NCCL
 * mode (pipelab/exec.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipelab/exec.h"
#include "transport.h"

/* A non-negative int, or -1 when absent or malformed. */
static int env_nonneg(const char *name)
{
  const char *v = getenv(name);
  if (!v || !*v)
    return -1;
  char *end;
  long x = strtol(v, &end, 10);
  if (*end || x < 0 || x > 1 << 24)
    return -1;
  return (int)x;
}

void pl_launch_detect(pl_launch *out)
{
  static const struct {
    const char *size, *size2, *rank, *from;
  } src[] = {
    {"PL_WORLD_SIZE", NULL, "PL_RANK", "PL_RANK"},
    {"OMPI_COMM_WORLD_SIZE", NULL, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD"},
    {"PMI_SIZE", NULL, "PMI_RANK", "PMI"},
    /* SLURM_NTASKS alone is also set in a batch script that runs one
     * process; SLURM_PROCID and the step's task count come from srun. */
    {"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_PROCID", "SLURM"},
  };
  out->size = 1;
  out->rank = 0;
  out->local_rank = 0;
  out->from = "none";
  for (size_t i = 0; i < sizeof src / sizeof src[0]; i++) {
    int size = env_nonneg(src[i].size);
    if (size < 0 && src[i].size2)
      size = env_nonneg(src[i].size2);
    int rank = env_nonneg(src[i].rank);
    if (size < 1 || rank < 0 || rank >= size)
      continue;
    out->size = size;
    out->rank = rank;
    out->from = src[i].from;
    break;
  }
  static const char *const local[] = {"LOCAL_RANK",
                                      "OMPI_COMM_WORLD_LOCAL_RANK",
                                      "MPI_LOCALRANKID", "SLURM_LOCALID"};
  out->local_rank = out->rank;
  for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
    int lr = env_nonneg(local[i]);
    if (lr >= 0) {
      out->local_rank = lr;
      break;
    }
  }
}

int pl_transport_parse(const char *name)
{
  if (!name)
    return -1;
  if (!strcasecmp(name, "auto"))
    return PL_TRANSPORT_AUTO;
  if (!strcasecmp(name, "threads"))
    return PL_TRANSPORT_THREADS;
  if (!strcasecmp(name, "mpi"))
    return PL_TRANSPORT_MPI;
  return -1;
}

const char *pl_transport_name(int kind)
{
  switch (kind) {
  case PL_TRANSPORT_THREADS: return "threads";
  case PL_TRANSPORT_MPI: return "mpi";
  default: return "auto";
  }
}

int pl_transport_built(int kind, const char **why)
{
  if (kind < PL_TRANSPORT_AUTO || kind > PL_TRANSPORT_MPI) {
    if (why)
      *why = "unknown transport";
    return 0;
  }
  return kind != PL_TRANSPORT_MPI || pl__mpi_available(why);
}

int pl_transport_resolve(int requested, const pl_launch *l)
{
  if (requested != PL_TRANSPORT_AUTO)
    return requested;
  return l && l->size > 1 && pl__mpi_built() ? PL_TRANSPORT_MPI
                                             : PL_TRANSPORT_THREADS;
}

void pl_exec_shutdown(void) { pl__mpi_shutdown(); }
