/*
 * traces.h: what leaves the engine or the executor: Chrome / Perfetto trace
 * files, the result JSON and CSV that `simulate` and `run` print, result
 * files (--save), and (issue 6) comparison and run history.
 *
 * Ownership: functions that return json_t* return a new reference the caller
 * releases with json_decref. pl_buf outputs are appended to the caller's
 * buffer. Result structs filled here follow sim.h's rules (pl_result_free).
 */
#ifndef PIPELAB_TRACES_H
#define PIPELAB_TRACES_H

#include <jansson.h>

#include "pipelab/pipelab.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes a Chrome Trace Event JSON file for a result that has ops recorded
 * (and memory when recorded): one complete event per op (pid = rank, tid 1
 * "compute"), P2P transfers as a slice on tid 2 "p2p send" plus a flow
 * event to the consumer, activation memory as counter events. The schedule
 * supplies the stage->rank map for flows. Written atomically (path.tmp then
 * rename). Times are written in microseconds: time_scale_us converts one
 * result time unit to µs (1 for "us"; the CLI uses 1000 for unit-time so
 * that unit costs are visible as 1 ms slices).
 */
int pl_trace_write_chrome(const pl_result *r, const pl_sched *s,
                          const pl_costs *c, double time_scale_us,
                          const char *path, struct pl_errbuf *eb);
/* Same into a buffer (tests). */
int pl_trace_chrome_buf(const pl_result *r, const pl_sched *s,
                        const pl_costs *c, double time_scale_us,
                        struct pl_buf *out, struct pl_errbuf *eb);

/* Result summary as JSON (the `simulate --format json` contract: schedule,
 * stages, microbatches, chunks, time_unit, makespan, max_rank_span,
 * bubble_ratio, bubble_ratio_span, ranks[]). New reference. */
json_t *pl_result_to_json(const pl_result *r);
/* Adds "ops" and "memory" arrays (the result-file detail) to obj. */
int pl_result_add_detail_json(json_t *obj, const pl_result *r);
/* Reads a result (summary, and ops/memory when present) from JSON text as
 * written by pl_result_to_json + detail. */
int pl_result_from_json(const json_t *obj, pl_result *r, struct pl_errbuf *eb);

/* Per-rank CSV: header line then one line per rank. */
int pl_result_to_csv(const pl_result *r, struct pl_buf *out);

/* Prints doubles in the C locale with up to 17 significant digits, and
 * integers without a fraction ("33", "28.5"). */
int pl_fmt_num(char *buf, size_t len, double x);

#ifdef __cplusplus
}
#endif

#endif
