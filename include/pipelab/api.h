/*
 * api.h: one JSON-in / JSON-out entry point over the library, for bindings
 * that cannot use C structs comfortably (the Python module in python/
 * loads the shared library with ctypes and calls only this).
 *
 * A call names a function and passes its arguments as one JSON object; the
 * answer is the JSON document the `pipelab` command prints with
 * `--format json` for the same case, built by the same serializers
 * (pl_result_to_json and friends). Functions (docs/python.md lists every
 * argument):
 *
 *   "simulate"     one schedule over constant costs (simulate's options:
 *                  schedule or schedule_file, stages, microbatches, chunks,
 *                  tf, tb, tw, comm, p2p, op_gap, stage_costs, ...; read
 *                  into the command's pl_sim_request of models.h, so both
 *                  map them with the same functions; detail adds every op
 *                  and the memory timeline; save and trace write files)
 *   "whatif"       every built-in schedule for one case (whatif's options)
 *   "sweep"        the constant-cost layout sweep (sweep's options)
 *   "load_result"  a result file, Chrome trace or Kineto trace ("path")
 *   "schedules"    the built-in schedules
 *   "version"      version and git revision
 *
 * Costs from a model (model=, gpu=) are not available here yet: such a
 * call fails with PL_ENOTSUP; the command-line tool prices models.
 *
 * Ownership: fn and json_args are borrowed for the duration of the call
 * (json_args may be NULL or "" for no arguments). *json_out (on success)
 * and *err_out (on failure: a one-line message without a final full stop)
 * are allocated by the library and released by the caller with
 * pl_api_free; either out pointer may be NULL when not wanted. Nothing is
 * kept between calls, so calls on different threads are independent.
 */
#ifndef PIPELAB_API_H
#define PIPELAB_API_H

#include "pipelab/pipelab.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Runs fn with the JSON object json_args. Returns 0, or a negative pl_err:
 * PL_EINVAL for an unknown function, a malformed argument object, an
 * unknown or mistyped argument or an impossible case; PL_ENOTSUP for model
 * pricing; the library's own codes otherwise (PL_EDEADLOCK,
 * PL_EINVALSCHED, PL_EPARSE, PL_EIO, PL_ENOMEM, ...).
 */
int pl_api_call(const char *fn, const char *json_args, char **json_out,
                char **err_out);

/* Frees a string returned by pl_api_call; NULL is accepted. */
void pl_api_free(char *s);

#ifdef __cplusplus
}
#endif

#endif
