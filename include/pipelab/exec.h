/*
 * exec.h: the executor (issue 5): runs a schedule for real on the CPU
 * backend (threads) or the CUDA + NCCL backend. Empty until that issue.
 */
#ifndef PIPELAB_EXEC_H
#define PIPELAB_EXEC_H
#include "pipelab/pipelab.h"
#endif
