/*
 * roundtrip.h: the round-trip property of pipelab's readers, shared by the
 * fuzz targets (fuzz/fuzz_*.c) and the unit tests (tests/test_traces.c,
 * tests/test_csv.c): whatever a reader accepts, the matching writer writes
 * back, and the reader reads that again into the same thing.
 *
 * Header-only (static inline functions), so a fuzz target and a test link nothing
 * more than pipelab_core. Every rt_* check returns 0 when the input is
 * refused (a parse error is a fine answer) or when the round trip holds,
 * and -1 with the reason in why when an accepted input does not survive
 * being written and read again.
 */
#ifndef PL_FUZZ_ROUNDTRIP_H
#define PL_FUZZ_ROUNDTRIP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/traces.h"

static inline int rt_fail(char *why, size_t wl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline int rt_fail(char *why, size_t wl, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, wl, fmt, ap);
  va_end(ap);
  return -1;
}

/* Equal, or both NaN (an unknown figure). */
static inline int rt_eq(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

/* a and b describe the same result. A Chrome trace keeps memory times to
 * 1 ns (three decimals of µs): with scale > 0 they may differ by that. */
static inline int rt_same(const pl_result *a, const pl_result *b, double scale,
                   char *why, size_t wl)
{
  if (strcmp(a->schedule, b->schedule) || strcmp(a->source, b->source) ||
      strcmp(a->time_unit, b->time_unit) || strcmp(a->mem_unit, b->mem_unit))
    return rt_fail(why, wl, "names differ: '%s' '%s' '%s' '%s' vs '%s' '%s' "
                   "'%s' '%s'", a->schedule, a->source, a->time_unit,
                   a->mem_unit, b->schedule, b->source, b->time_unit,
                   b->mem_unit);
  if (a->stages != b->stages || a->virtual_stages != b->virtual_stages ||
      a->microbatches != b->microbatches || a->chunks != b->chunks)
    return rt_fail(why, wl, "shape differs: p %d/%d, vs %d/%d, m %d/%d, v "
                   "%d/%d", a->stages, b->stages, a->virtual_stages,
                   b->virtual_stages, a->microbatches, b->microbatches,
                   a->chunks, b->chunks);
  if (!rt_eq(a->makespan, b->makespan) ||
      !rt_eq(a->max_rank_span, b->max_rank_span) ||
      !rt_eq(a->ideal, b->ideal) || !rt_eq(a->bubble_ratio, b->bubble_ratio) ||
      !rt_eq(a->bubble_ratio_span, b->bubble_ratio_span) ||
      !rt_eq(a->peak_mem, b->peak_mem))
    return rt_fail(why, wl, "summary differs: makespan %.17g vs %.17g, span "
                   "%.17g vs %.17g, ideal %.17g vs %.17g, bubble %.17g vs "
                   "%.17g, bubble/span %.17g vs %.17g, peak %.17g vs %.17g",
                   a->makespan, b->makespan, a->max_rank_span,
                   b->max_rank_span, a->ideal, b->ideal, a->bubble_ratio,
                   b->bubble_ratio, a->bubble_ratio_span, b->bubble_ratio_span,
                   a->peak_mem, b->peak_mem);
  for (int i = 0; i < a->stages; i++) {
    const pl_rank_result *x = &a->ranks[i], *y = &b->ranks[i];
    if (x->rank != y->rank || !rt_eq(x->busy, y->busy) ||
        !rt_eq(x->first_start, y->first_start) ||
        !rt_eq(x->last_end, y->last_end) ||
        !rt_eq(x->bubble_ratio, y->bubble_ratio) ||
        !rt_eq(x->peak_mem, y->peak_mem) || !rt_eq(x->end_mem, y->end_mem) ||
        !rt_eq(x->peak_activation_bytes, y->peak_activation_bytes) ||
        x->n_ops != y->n_ops)
      return rt_fail(why, wl, "ranks[%d] differs", i);
  }
  if (a->n_ops != b->n_ops)
    return rt_fail(why, wl, "%zu ops vs %zu", a->n_ops, b->n_ops);
  for (size_t i = 0; i < a->n_ops; i++) {
    const pl_op_rec *x = &a->ops[i], *y = &b->ops[i];
    int fb = x->op.kind == PL_OP_FB;
    if (x->rank != y->rank || x->index != y->index ||
        x->op.kind != y->op.kind || x->op.stage != y->op.stage ||
        x->op.mb != y->op.mb ||
        (fb && (x->op.kind2 != y->op.kind2 || x->op.stage2 != y->op.stage2 ||
                x->op.mb2 != y->op.mb2)) ||
        x->start != y->start || x->end != y->end)
      return rt_fail(why, wl, "ops[%zu] differs", i);
  }
  if (a->n_mem != b->n_mem)
    return rt_fail(why, wl, "%zu memory points vs %zu", a->n_mem, b->n_mem);
  for (size_t i = 0; i < a->n_mem; i++) {
    const pl_mem_point *x = &a->mem[i], *y = &b->mem[i];
    double tol = scale > 0 ? 1e-3 / scale + 1e-12 * fabs(x->t) : 0;
    if (x->rank != y->rank || x->value != y->value ||
        !(fabs(x->t - y->t) <= tol))
      return rt_fail(why, wl, "memory[%zu] differs: t %.17g vs %.17g", i,
                     x->t, y->t);
  }
  return 0;
}

/* r written as a result file (pl_result_save's text) and read back. */
static inline int rt_result_json(const pl_result *r, char *why, size_t wl)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result back = PL_RESULT_INIT;
  json_t *j = pl_result_to_json(r);
  if (!j || pl_result_add_detail_json(j, r)) {
    json_decref(j);
    return 0; /* out of memory: nothing to say about the format */
  }
  char *text = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
  json_decref(j);
  if (!text)
    return rt_fail(why, wl, "the result cannot be written as JSON");
  json_error_t je;
  json_t *again = json_loads(text, 0, &je);
  free(text);
  if (!again)
    return rt_fail(why, wl, "written result is not JSON: %s", je.text);
  int rc = pl_result_from_json(again, &back, &eb);
  json_decref(again);
  if (rc)
    return rt_fail(why, wl, "written result does not read back: %s", eb.msg);
  rc = rt_same(r, &back, 0, why, wl);
  pl_result_free(&back);
  return rc;
}

/* A result file or a pipelab Chrome trace, as pl_result_load tells them
 * apart (Kineto traces: rt_kineto). */
static inline int rt_result_text(const char *data, size_t len, char *why, size_t wl)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result r = PL_RESULT_INIT, back = PL_RESULT_INIT;
  json_error_t je;
  json_t *j = json_loadb(data, len, 0, &je);
  int rc = 0;
  if (!j)
    return 0;
  if (!json_is_object(j) || !json_object_get(j, "traceEvents")) {
    if (pl_result_from_json(j, &r, &eb) == PL_OK)
      rc = rt_result_json(&r, why, wl);
  } else if (pl_result_from_chrome(j, &r, &eb) == PL_OK) {
    /* Written back at the scale it was read with, read again. */
    double scale = 1;
    const json_t *s = json_object_get(json_object_get(j, "otherData"),
                                      "time_scale_us");
    if (json_is_number(s))
      scale = json_number_value(s);
    struct pl_buf b;
    pl_buf_init(&b, 0);
    int w = pl_trace_chrome_buf(&r, NULL, NULL, scale, &b, &eb);
    if (w == PL_ENOMEM) {
      rc = 0;
    } else if (w) {
      rc = rt_fail(why, wl, "an accepted trace cannot be written back: %s",
                   eb.msg);
    } else {
      json_t *again = json_loadb(b.buf, b.len, 0, &je);
      if (!again)
        rc = rt_fail(why, wl, "written trace is not JSON: %s", je.text);
      else if (pl_result_from_chrome(again, &back, &eb))
        rc = rt_fail(why, wl, "written trace does not read back: %s",
                     eb.msg);
      else
        rc = rt_same(&r, &back, scale, why, wl);
      json_decref(again);
    }
    pl_buf_free(&b);
    /* Whatever a trace gives, its result file round-trips too. */
    if (!rc)
      rc = rt_result_json(&r, why, wl);
  }
  pl_result_free(&r);
  pl_result_free(&back);
  json_decref(j);
  return rc;
}

/* Kineto traces (one per document) imported with the defaults; the result
 * must survive pl_result_save's format. */
static inline int rt_kineto(json_t *const *docs, size_t n_docs, char *why, size_t wl)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result r = PL_RESULT_INIT;
  pl_kineto_opts o = PL_KINETO_OPTS_INIT;
  int rc = 0;
  if (pl_kineto_import(docs, NULL, n_docs, &o, &r, NULL, &eb) == PL_OK)
    rc = rt_result_json(&r, why, wl);
  pl_result_free(&r);
  return rc;
}

/* A schedule CSV read (any dialect) into a schedule that validates (what
 * simulate accepts), written back (pl_sched_write_csv: compute ops in the
 * current dialect) and read again: the same ops on the same ranks and
 * stages. (An invalid schedule may name microbatches only in comm cells,
 * which the schedule does not keep.) */
static inline int rt_sched_csv(const char *data, size_t len, char *why, size_t wl)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL, *back = NULL;
  int rc = 0;
  if (pl_sched_read_csv(data, len, PL_DIALECT_AUTO, &s, NULL, &eb))
    return 0;
  if (pl_sched_validate(s, &eb)) {
    pl_sched_destroy(s);
    return 0;
  }
  struct pl_buf b;
  pl_buf_init(&b, 0);
  if (pl_sched_write_csv(s, &b)) {
    rc = rt_fail(why, wl, "an accepted schedule cannot be written back");
  } else if (pl_sched_read_csv(b.buf, b.len, PL_DIALECT_CURRENT, &back, NULL,
                               &eb)) {
    rc = rt_fail(why, wl, "written schedule does not read back: %s", eb.msg);
  } else if (pl_sched_ranks(s) != pl_sched_ranks(back) ||
             pl_sched_stages(s) != pl_sched_stages(back) ||
             pl_sched_microbatches(s) != pl_sched_microbatches(back)) {
    rc = rt_fail(why, wl, "shape differs after writing back");
  } else {
    for (int r = 0; r < pl_sched_ranks(s) && !rc; r++) {
      size_t n, n2;
      const pl_op *x = pl_sched_rank_ops(s, r, &n);
      const pl_op *y = pl_sched_rank_ops(back, r, &n2);
      if (n != n2 || (n && memcmp(x, y, n * sizeof *x)))
        rc = rt_fail(why, wl, "rank %d's ops differ after writing back", r);
    }
    for (int g = 0; g < pl_sched_stages(s) && !rc; g++)
      if (pl_sched_stage_rank(s, g) != pl_sched_stage_rank(back, g))
        rc = rt_fail(why, wl, "stage %d moved after writing back", g);
  }
  pl_buf_free(&b);
  pl_sched_destroy(s);
  pl_sched_destroy(back);
  return rc;
}

#endif
