/*
 * pipelab.h: the umbrella header. It includes the base layer (pipelab/core.h:
 * the error table, the caller-owned error buffer, the allocator hook, a
 * growable text buffer, files, clock, version, CSV and number parsing) and
 * the simulator (pipelab/sim.h).
 *
 * Module headers (one per top-level folder):
 *   pipelab/core.h     the base layer (core/), depends on no module
 *   pipelab/sim.h      schedule IR, generators, PyTorch CSV, engine, results
 *   pipelab/models.h   cost models: embedded catalog, analytic, SQLite store
 *   pipelab/traces.h   Chrome traces, result files, comparison, run history
 *   pipelab/plots.h    gnuplot figures
 *   pipelab/exec.h     executor (CPU threads, CUDA + NCCL)
 *   pipelab/kernels.h  the executor's workload kernels
 *   pipelab/api.h      one JSON-in / JSON-out entry point (bindings)
 *
 * Conventions (docs/architecture.md):
 * - Functions return int: 0 (PL_OK) or a negative pl_err code; results go
 *   through out-parameters. The library never prints and never exits.
 * - A detailed message goes into a caller-owned struct pl_errbuf when one is
 *   passed (it may be NULL).
 * - Opaque handles come in create/destroy (open/close) pairs; destroy accepts
 *   NULL.
 */
#ifndef PIPELAB_PIPELAB_H
#define PIPELAB_PIPELAB_H

#include "pipelab/core.h"
#include "pipelab/sim.h"

#endif
