/* result_read.c: reads results back: result files (--save), Chrome traces
 * written by pl_trace_write_chrome (--trace) and, through kineto.c, PyTorch
 * profiler traces. Every malformed input is a PL_EPARSE naming the field;
 * nothing here trusts the file. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "traces_int.h"

#define MAX_RANKS (1 << 20)
#define MAX_INDEX (1LL << 30)
/* Virtual stages: an op's stage is an int16. */
#define MAX_VSTAGES 32768
/* A Chrome trace stores times as µs (time x time_scale_us) with three
 * decimals, in integer nanoseconds while writing: the writer's bound. */
#define MAX_TRACE_US 9e15

static int alloc_ranks(pl_result *r, struct pl_errbuf *eb)
{
  r->ranks = pl_calloc((size_t)r->stages, sizeof *r->ranks);
  if (!r->ranks)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  for (int i = 0; i < r->stages; i++) {
    r->ranks[i].rank = i;
    r->ranks[i].peak_activation_bytes = -1;
  }
  return PL_OK;
}

/* Reads one op row (result file) into *o. */
static int read_op(const json_t *x, const char *where, const pl_result *r,
                   pl_op_rec *o, struct pl_errbuf *eb)
{
  long long v;
  char kind[8] = "";
  pl_op op = PL_OP_INIT;
  int rc;
  if (!json_is_object(x))
    return pl_errf(eb, PL_EPARSE, "%s: expected an object", where);
  if ((rc = pl__jget_int(x, where, "rank", 0, 0, r->stages - 1, &v, eb)))
    return rc;
  o->rank = (int32_t)v;
  v = 0;
  if ((rc = pl__jget_int(x, where, "index", 1, 0, MAX_INDEX, &v, eb)))
    return rc;
  o->index = (int32_t)v;
  /* Result files name the kind "op", trace args "kind". */
  const char *kkey = json_object_get(x, "op") ? "op" : "kind";
  if ((rc = pl__jget_str(x, where, kkey, 0, kind, sizeof kind, eb)))
    return rc;
  int k = pl__kind_from_name(kind);
  if (k < 0)
    return pl_errf(eb, PL_EPARSE, "%s.%s: unknown op kind '%s' (F, B, W, BW "
                   "or FB)", where, kkey, kind);
  op.kind = (uint8_t)k;
  if ((rc = pl__jget_int(x, where, "microbatch", 0, 0, MAX_INDEX, &v, eb)))
    return rc;
  op.mb = (int32_t)v;
  if ((rc = pl__jget_int(x, where, "stage", 0, 0, 32767, &v, eb)))
    return rc;
  op.stage = (int16_t)v;
  if (k == PL_OP_FB) {
    const char *k2key = json_object_get(x, "op2") ? "op2" : "kind2";
    if ((rc = pl__jget_str(x, where, k2key, 0, kind, sizeof kind, eb)))
      return rc;
    int k2 = pl__kind_from_name(kind);
    if (k2 != PL_OP_B && k2 != PL_OP_BW)
      return pl_errf(eb, PL_EPARSE, "%s.%s: '%s' is not B or BW", where,
                     k2key, kind);
    op.kind2 = (uint8_t)k2;
    if ((rc = pl__jget_int(x, where, "microbatch2", 0, 0, MAX_INDEX, &v, eb)))
      return rc;
    op.mb2 = (int32_t)v;
    if ((rc = pl__jget_int(x, where, "stage2", 0, 0, 32767, &v, eb)))
      return rc;
    op.stage2 = (int16_t)v;
  }
  o->op = op;
  if ((rc = pl__jget_time(x, where, "start", 0, &o->start, eb)) ||
      (rc = pl__jget_time(x, where, "end", 0, &o->end, eb)))
    return rc;
  if (o->end < o->start)
    return pl_errf(eb, PL_EPARSE, "%s: end %g is before start %g", where,
                   o->end, o->start);
  return PL_OK;
}

static int read_rank(const json_t *x, const char *where, const char *mkey,
                     pl_result *r, struct pl_errbuf *eb)
{
  long long v;
  int rc;
  if (!json_is_object(x))
    return pl_errf(eb, PL_EPARSE, "%s: expected an object", where);
  if ((rc = pl__jget_int(x, where, "rank", 0, 0, r->stages - 1, &v, eb)))
    return rc;
  pl_rank_result *rr = &r->ranks[v];
  rr->rank = (int)v;
  rr->peak_mem = NAN;
  rr->end_mem = NAN;
  char ekey[40];
  snprintf(ekey, sizeof ekey, "end_%s", mkey + 5);
  long long nops = 0;
  if ((rc = pl__jget_time(x, where, "busy", 0, &rr->busy, eb)) ||
      (rc = pl__jget_time(x, where, "first_start", 0, &rr->first_start, eb)) ||
      (rc = pl__jget_time(x, where, "last_end", 0, &rr->last_end, eb)) ||
      (rc = pl__jget_num(x, where, "bubble_ratio", 1, &rr->bubble_ratio, eb)) ||
      (rc = pl__jget_num(x, where, mkey, 1, &rr->peak_mem, eb)) ||
      (rc = pl__jget_num(x, where, ekey, 1, &rr->end_mem, eb)) ||
      (rc = pl__jget_int(x, where, "ops", 1, 0, (long long)1 << 40, &nops, eb)))
    return rc;
  if (strcmp(mkey, "peak_activation_units") == 0) {
    /* Bytes next to units; -1 (the key absent) means unknown, and is how a
     * negative value would read back. */
    if ((rc = pl__jget_num(x, where, "peak_activation_bytes", 1,
                           &rr->peak_activation_bytes, eb)))
      return rc;
    if (rr->peak_activation_bytes < 0 &&
        json_is_number(json_object_get(x, "peak_activation_bytes")))
      return pl_errf(eb, PL_EPARSE, "%s.peak_activation_bytes: must be >= 0",
                     where);
  }
  rr->n_ops = (size_t)nops;
  return PL_OK;
}

int pl_result_from_json(const json_t *obj, pl_result *r, struct pl_errbuf *eb)
{
  pl_result z = PL_RESULT_INIT;
  long long v;
  int rc;
  char where[64];
  *r = z;
  if (!json_is_object(obj))
    return pl_errf(eb, PL_EPARSE, "expected a JSON object at the top level");
  snprintf(r->source, sizeof r->source, "file");
  snprintf(r->mem_unit, sizeof r->mem_unit, "units");
  if ((rc = pl__jget_str(obj, "", "schedule", 0, r->schedule,
                         sizeof r->schedule, eb)) ||
      (rc = pl__jget_str(obj, "", "source", 1, r->source, sizeof r->source,
                         eb)) ||
      (rc = pl__jget_str(obj, "", "time_unit", 0, r->time_unit,
                         sizeof r->time_unit, eb)) ||
      (rc = pl__jget_str(obj, "", "mem_unit", 1, r->mem_unit,
                         sizeof r->mem_unit, eb)))
    goto fail;
  if ((rc = pl__jget_int(obj, "", "stages", 0, 1, MAX_RANKS, &v, eb)))
    goto fail;
  r->stages = (int)v;
  if ((rc = pl__jget_int(obj, "", "microbatches", 0, 0, MAX_INDEX, &v, eb)))
    goto fail;
  r->microbatches = (int)v;
  v = 1;
  if ((rc = pl__jget_int(obj, "", "chunks", 1, 1, 32767, &v, eb)))
    goto fail;
  r->chunks = (int)v;
  /* Absent, virtual_stages is p x v, held to the range an explicit value
   * gets. */
  v = (long long)r->stages * r->chunks;
  if (!json_object_get(obj, "virtual_stages") && v > MAX_VSTAGES) {
    rc = pl_errf(eb, PL_EPARSE, "virtual_stages: missing, and %d stages x %d "
                 "chunks = %lld is more than %d", r->stages, r->chunks, v,
                 MAX_VSTAGES);
    goto fail;
  }
  if ((rc = pl__jget_int(obj, "", "virtual_stages", 1, 1, MAX_VSTAGES, &v,
                         eb)))
    goto fail;
  r->virtual_stages = (int)v;
  int units = strcmp(r->mem_unit, "bytes") != 0;
  const char *mkey = units ? "peak_activation_units" : "peak_activation_bytes";
  r->peak_mem = NAN;
  if ((rc = pl__jget_time(obj, "", "makespan", 0, &r->makespan, eb)) ||
      (rc = pl__jget_time(obj, "", "max_rank_span", 1, &r->max_rank_span,
                          eb)) ||
      (rc = pl__jget_time(obj, "", "ideal", 1, &r->ideal, eb)) ||
      (rc = pl__jget_num(obj, "", "bubble_ratio", 1, &r->bubble_ratio, eb)) ||
      (rc = pl__jget_num(obj, "", "bubble_ratio_span", 1,
                         &r->bubble_ratio_span, eb)) ||
      (rc = pl__jget_num(obj, "", mkey, 1, &r->peak_mem, eb)))
    goto fail;

  /* Optional: measurements written before it existed have none. */
  const json_t *untrusted = json_object_get(obj, "untrusted");
  if (untrusted && !json_is_null(untrusted)) {
    size_t i;
    const json_t *x;
    if (!json_is_array(untrusted)) {
      rc = pl_errf(eb, PL_EPARSE, "untrusted: expected an array of strings");
      goto fail;
    }
    json_array_foreach(untrusted, i, x) {
      if (!json_is_string(x)) {
        rc = pl_errf(eb, PL_EPARSE, "untrusted[%zu]: expected a string", i);
        goto fail;
      }
      pl_result_untrust(r, json_string_value(x));
    }
  }

  const json_t *ranks = json_object_get(obj, "ranks");
  if (!json_is_array(ranks)) {
    rc = pl_errf(eb, PL_EPARSE, "ranks: %s", ranks ? "expected an array"
                                                   : "missing");
    goto fail;
  }
  if (json_array_size(ranks) != (size_t)r->stages) {
    rc = pl_errf(eb, PL_EPARSE, "ranks: %zu entries for %d stages",
                 json_array_size(ranks), r->stages);
    goto fail;
  }
  if ((rc = alloc_ranks(r, eb)))
    goto fail;
  for (int i = 0; i < r->stages; i++)
    r->ranks[i].n_ops = (size_t)-2; /* marks "not seen yet" */
  for (size_t i = 0; i < json_array_size(ranks); i++) {
    snprintf(where, sizeof where, "ranks[%zu]", i);
    const json_t *x = json_array_get(ranks, i);
    long long rk;
    if ((rc = pl__jget_int(x, where, "rank", 0, 0, r->stages - 1, &rk, eb)))
      goto fail;
    if (r->ranks[rk].n_ops != (size_t)-2) {
      rc = pl_errf(eb, PL_EPARSE, "%s.rank: rank %lld appears twice", where,
                   rk);
      goto fail;
    }
    if ((rc = read_rank(x, where, mkey, r, eb)))
      goto fail;
  }

  const json_t *ops = json_object_get(obj, "ops");
  if (ops && !json_is_null(ops)) {
    if (!json_is_array(ops)) {
      rc = pl_errf(eb, PL_EPARSE, "ops: expected an array");
      goto fail;
    }
    size_t n = json_array_size(ops);
    if (n) {
      r->ops = pl_calloc(n, sizeof *r->ops);
      if (!r->ops) {
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        goto fail;
      }
    }
    for (size_t i = 0; i < n; i++) {
      snprintf(where, sizeof where, "ops[%zu]", i);
      if ((rc = read_op(json_array_get(ops, i), where, r, &r->ops[i], eb)))
        goto fail;
      if (r->ops[i].op.stage >= r->virtual_stages ||
          (r->ops[i].op.kind == PL_OP_FB &&
           r->ops[i].op.stage2 >= r->virtual_stages)) {
        rc = pl_errf(eb, PL_EPARSE, "%s.stage: stage out of range (%d virtual "
                     "stages)", where, r->virtual_stages);
        goto fail;
      }
      r->n_ops++;
    }
  }
  const json_t *mem = json_object_get(obj, "memory");
  if (mem && !json_is_null(mem)) {
    if (!json_is_array(mem)) {
      rc = pl_errf(eb, PL_EPARSE, "memory: expected an array");
      goto fail;
    }
    size_t n = json_array_size(mem);
    if (n) {
      r->mem = pl_calloc(n, sizeof *r->mem);
      if (!r->mem) {
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        goto fail;
      }
    }
    for (size_t i = 0; i < n; i++) {
      const json_t *x = json_array_get(mem, i);
      snprintf(where, sizeof where, "memory[%zu]", i);
      if (!json_is_object(x)) {
        rc = pl_errf(eb, PL_EPARSE, "%s: expected an object", where);
        goto fail;
      }
      if ((rc = pl__jget_int(x, where, "rank", 0, 0, r->stages - 1, &v, eb)) ||
          (rc = pl__jget_time(x, where, "t", 0, &r->mem[i].t, eb)) ||
          (rc = pl__jget_num(x, where, "value", 0, &r->mem[i].value, eb)))
        goto fail;
      r->mem[i].rank = (int32_t)v;
      r->n_mem++;
    }
  }
  return PL_OK;

fail:
  pl_result_free(r);
  return rc;
}

/* --------------------------------------------------------- Chrome read -- */

int pl_result_from_chrome(const json_t *obj, pl_result *r,
                          struct pl_errbuf *eb)
{
  pl_result z = PL_RESULT_INIT;
  long long v;
  int rc;
  char where[64];
  *r = z;
  const json_t *ev = json_object_get(obj, "traceEvents");
  const json_t *od = json_object_get(obj, "otherData");
  if (!json_is_array(ev))
    return pl_errf(eb, PL_EPARSE, "traceEvents: %s",
                   ev ? "expected an array" : "missing");
  if (!json_is_object(od))
    return pl_errf(eb, PL_EPARSE, "otherData: %s (not a trace written by "
                   "pipelab)", od ? "expected an object" : "missing");
  char tool[16] = "";
  if ((rc = pl__jget_str(od, "otherData", "tool", 0, tool, sizeof tool, eb)))
    return rc;
  if (strcmp(tool, "pipelab") != 0)
    return pl_errf(eb, PL_EPARSE, "otherData.tool: '%s' is not pipelab", tool);
  double scale = 1;
  snprintf(r->source, sizeof r->source, "sim");
  snprintf(r->mem_unit, sizeof r->mem_unit, "units");
  if ((rc = pl__jget_str(od, "otherData", "schedule", 0, r->schedule,
                         sizeof r->schedule, eb)) ||
      (rc = pl__jget_str(od, "otherData", "source", 1, r->source,
                         sizeof r->source, eb)) ||
      (rc = pl__jget_str(od, "otherData", "time_unit", 0, r->time_unit,
                         sizeof r->time_unit, eb)) ||
      (rc = pl__jget_str(od, "otherData", "mem_unit", 1, r->mem_unit,
                         sizeof r->mem_unit, eb)) ||
      (rc = pl__jget_num(od, "otherData", "time_scale_us", 1, &scale, eb)))
    goto fail;
  /* The writer's scales run from 1e-3 (ns) to 1e6 (s); a scale far
   * outside makes times overflow or vanish. */
  if (!(scale >= 1e-9 && scale <= 1e9)) {
    rc = pl_errf(eb, PL_EPARSE, "otherData.time_scale_us: %g is out of range "
                 "[1e-09, 1e+09] (microseconds per time unit)", scale);
    goto fail;
  }
  if ((rc = pl__jget_int(od, "otherData", "p", 0, 1, MAX_RANKS, &v, eb)))
    goto fail;
  r->stages = (int)v;
  if ((rc = pl__jget_int(od, "otherData", "m", 0, 1, MAX_INDEX, &v, eb)))
    goto fail;
  r->microbatches = (int)v;
  v = 1;
  if ((rc = pl__jget_int(od, "otherData", "v", 1, 1, 32767, &v, eb)))
    goto fail;
  r->chunks = (int)v;
  if ((long long)r->stages * r->chunks > MAX_VSTAGES) {
    rc = pl_errf(eb, PL_EPARSE, "otherData.v: %d ranks x %d chunks is more "
                 "than %d virtual stages", r->stages, r->chunks, MAX_VSTAGES);
    goto fail;
  }
  r->virtual_stages = r->stages * r->chunks;
  if ((rc = alloc_ranks(r, eb)))
    goto fail;

  size_t n = json_array_size(ev), n_ops = 0, n_mem = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(ev, i);
    const char *ph = json_string_value(json_object_get(e, "ph"));
    const char *cat = json_string_value(json_object_get(e, "cat"));
    if (!ph)
      continue;
    if (!strcmp(ph, "X") && json_is_object(json_object_get(e, "args")) &&
        json_object_get(json_object_get(e, "args"), "microbatch") &&
        !(cat && !strcmp(cat, "p2p")))
      n_ops++;
    else if (!strcmp(ph, "C"))
      n_mem++;
  }
  if (n_ops) {
    r->ops = pl_calloc(n_ops, sizeof *r->ops);
    if (!r->ops) {
      rc = pl_errf(eb, PL_ENOMEM, "out of memory");
      goto fail;
    }
  }
  if (n_mem) {
    r->mem = pl_calloc(n_mem, sizeof *r->mem);
    if (!r->mem) {
      rc = pl_errf(eb, PL_ENOMEM, "out of memory");
      goto fail;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(ev, i);
    const char *ph = json_string_value(json_object_get(e, "ph"));
    const char *cat = json_string_value(json_object_get(e, "cat"));
    const json_t *args = json_object_get(e, "args");
    snprintf(where, sizeof where, "traceEvents[%zu]", i);
    if (!ph)
      continue;
    if (!strcmp(ph, "X") && json_is_object(args) &&
        json_object_get(args, "microbatch") && !(cat && !strcmp(cat, "p2p"))) {
      /* The args carry the op in the result-file row format. */
      char w2[80];
      snprintf(w2, sizeof w2, "%s.args", where);
      if ((rc = read_op(args, w2, r, &r->ops[r->n_ops], eb)))
        goto fail;
      const pl_op_rec *o = &r->ops[r->n_ops];
      if (o->op.stage >= r->virtual_stages ||
          (o->op.kind == PL_OP_FB && o->op.stage2 >= r->virtual_stages)) {
        rc = pl_errf(eb, PL_EPARSE, "%s.stage: out of range", w2);
        goto fail;
      }
      if (fabs(o->start * scale) > MAX_TRACE_US ||
          fabs(o->end * scale) > MAX_TRACE_US) {
        rc = pl_errf(eb, PL_EPARSE, "%s: times beyond %g us do not fit a "
                     "trace", w2, MAX_TRACE_US);
        goto fail;
      }
      r->n_ops++;
    } else if (!strcmp(ph, "C")) {
      double ts;
      pl_mem_point *m = &r->mem[r->n_mem];
      if ((rc = pl__jget_int(e, where, "pid", 0, 0, r->stages - 1, &v, eb)) ||
          (rc = pl__jget_num(e, where, "ts", 0, &ts, eb)))
        goto fail;
      m->rank = (int32_t)v;
      m->t = ts / scale;
      if (fabs(ts) > MAX_TRACE_US || fabs(m->t) > PL_TIME_MAX) {
        rc = pl_errf(eb, PL_EPARSE, "%s.ts: %g is beyond the largest time a "
                     "result may hold", where, ts);
        goto fail;
      }
      if (!json_is_object(args) || json_object_size(args) != 1) {
        rc = pl_errf(eb, PL_EPARSE, "%s.args: expected one counter value",
                     where);
        goto fail;
      }
      const char *key = json_object_iter_key(json_object_iter((json_t *)args));
      char w2[80];
      snprintf(w2, sizeof w2, "%s.args", where);
      if ((rc = pl__jget_num(args, w2, key, 0, &m->value, eb)))
        goto fail;
      r->n_mem++;
    }
  }
  if (!r->n_ops) {
    rc = pl_errf(eb, PL_EPARSE, "traceEvents: no op (compute \"X\" events "
                 "with args.microbatch), which every pipelab trace has");
    goto fail;
  }
  pl__result_rebuild(r, 0);
  return PL_OK;

fail:
  pl_result_free(r);
  return rc;
}

/* ---------------------------------------------------------------- load -- */

int pl_result_load(const char *path, pl_result *r, struct pl_errbuf *eb)
{
  pl_result z = PL_RESULT_INIT;
  char *text = NULL;
  size_t len = 0;
  *r = z;
  int rc = pl_read_file(path, &text, &len, eb);
  if (rc)
    return rc;
  json_error_t je;
  unsigned long refused = pl_alloc_failures();
  json_t *j = json_loadb(text, len, 0, &je);
  pl_free(text);
  /* jansson reports a failed allocation as a syntax error (or none). */
  if (!j && pl_alloc_failures() != refused)
    return pl_errf(eb, PL_ENOMEM, "%s: out of memory", path);
  if (!j)
    return pl_errf(eb, PL_EPARSE, "%s: line %d, column %d: %s", path, je.line,
                   je.column, je.text);
  if (!json_is_object(j)) {
    rc = pl_errf(eb, PL_EPARSE, "%s: expected a JSON object (a result file or "
                 "a Chrome trace)", path);
  } else if (json_object_get(j, "traceEvents")) {
    const json_t *od = json_object_get(j, "otherData");
    const char *tool = json_string_value(json_object_get(od, "tool"));
    if (tool && strcmp(tool, "pipelab") == 0) {
      rc = pl_result_from_chrome(j, r, eb);
      if (rc)
        pl__err_prefix(eb, path);
    } else {
      pl_kineto_opts o = PL_KINETO_OPTS_INIT;
      json_t *docs[1] = {j};
      const char *names[1] = {path};
      rc = pl_kineto_import(docs, names, 1, &o, r, NULL, eb);
    }
  } else {
    rc = pl_result_from_json(j, r, eb);
    if (rc)
      pl__err_prefix(eb, path);
  }
  json_decref(j);
  return rc;
}
