/* kineto.c: imports PyTorch profiler (Kineto) Chrome traces of a pipelined
 * run into a "real" result (docs/trace-format.md (Kineto)): PyTorch pipelining wraps every
 * action in a user annotation "PP:<action>", on the CPU thread (cat
 * "user_annotation") and on the GPU stream (cat "gpu_user_annotation"). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces_int.h"

/* Ranks: a result's virtual stages (at least its ranks) must fit an op's
 * int16 stage, so an imported result reads back. */
#define MAX_RANK 32767

/* ----------------------------------------------------- action parser --- */

/* The one action grammar of the library (sim/action.c), the one the schedule
 * CSV reader uses: both accept and reject the same strings. */
int pl_trace_parse_action(const char *s, size_t len, int dialect, pl_op *op,
                          struct pl_errbuf *eb)
{
  return pl_action_parse(s, len, dialect, op, eb);
}

/* ----------------------------------------------------------- import ---- */

struct act {
  size_t doc;
  long long pid;
  int rank;
  pl_op op;
  double t0, t1; /* µs, aligned across files */
};

static int cmp_act(const void *pa, const void *pb)
{
  const struct act *a = pa, *b = pb;
#define CMP(f)                                                              \
  if (a->f != b->f)                                                         \
    return a->f < b->f ? -1 : 1;
  CMP(rank) CMP(op.kind) CMP(op.stage) CMP(op.mb) CMP(op.kind2) CMP(op.stage2)
  CMP(op.mb2) CMP(t0)
#undef CMP
  return 0;
}

struct pidkey {
  size_t doc;
  long long pid;
};

static int cmp_pidkey(const void *pa, const void *pb)
{
  const struct pidkey *a = pa, *b = pb;
  if (a->doc != b->doc)
    return a->doc < b->doc ? -1 : 1;
  if (a->pid != b->pid)
    return a->pid < b->pid ? -1 : 1;
  return 0;
}

static int is_pp(const json_t *e, const char *cat)
{
  const char *c = json_string_value(json_object_get(e, "cat"));
  const char *n = json_string_value(json_object_get(e, "name"));
  const char *ph = json_string_value(json_object_get(e, "ph"));
  return c && n && ph && !strcmp(ph, "X") && !strcmp(c, cat) &&
         !strncmp(n, "PP:", 3);
}

int pl_kineto_import(json_t *const *docs, const char *const *names,
                     size_t n_docs, const pl_kineto_opts *o, pl_result *r,
                     pl_kineto_info *info, struct pl_errbuf *eb)
{
  pl_kineto_opts defaults = PL_KINETO_OPTS_INIT;
  pl_kineto_info dummy;
  pl_result z = PL_RESULT_INIT;
  struct act *acts = NULL;
  struct pidkey *keys = NULL;
  long long *doc_rank = NULL, *base = NULL;
  double *off = NULL; /* per-file clock offset, µs */
  size_t n_acts = 0, cap = 0, n_keys = 0;
  int rc = PL_OK;
  const char *name = "trace";
  *r = z;
  if (!o)
    o = &defaults;
  if (!info)
    info = &dummy;
  memset(info, 0, sizeof *info);
  info->files = n_docs;
  if (!n_docs)
    return pl_errf(eb, PL_EINVAL, "no trace given");
  if (o->iteration < 0)
    return pl_errf(eb, PL_EINVAL, "iteration must be >= 0");
  doc_rank = pl_malloc(n_docs * sizeof *doc_rank);
  base = pl_malloc(n_docs * sizeof *base);
  if (!doc_rank || !base) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto fail;
  }
  int all_base = 1, used_gpu = 0, used_cpu = 0;
  for (size_t d = 0; d < n_docs; d++) {
    const json_t *doc = docs[d];
    name = names && names[d] ? names[d] : "trace";
    if (!json_is_object(doc)) {
      rc = pl_errf(eb, PL_EPARSE, "%s: expected a JSON object", name);
      goto fail;
    }
    const json_t *ev = json_object_get(doc, "traceEvents");
    if (!json_is_array(ev)) {
      rc = pl_errf(eb, PL_EPARSE, "%s: traceEvents: %s", name,
                   ev ? "expected an array" : "missing (not a Chrome trace)");
      goto fail;
    }
    doc_rank[d] = -1;
    const json_t *di = json_object_get(doc, "distributedInfo");
    if (di) {
      long long rk = -1;
      if (!json_is_object(di) ||
          (rc = pl__jget_int(di, "distributedInfo", "rank", 1, 0, MAX_RANK,
                             &rk, eb))) {
        if (!rc)
          rc = pl_errf(eb, PL_EPARSE, "distributedInfo: expected an object");
        pl__err_prefix(eb, name);
        goto fail;
      }
      doc_rank[d] = rk;
    }
    const json_t *bt = json_object_get(doc, "baseTimeNanoseconds");
    if (json_is_integer(bt))
      base[d] = (long long)json_integer_value(bt);
    else
      all_base = 0;
    const char *cat = "user_annotation";
    if (o->track == PL_KINETO_GPU)
      cat = "gpu_user_annotation";
    else if (o->track == PL_KINETO_AUTO)
      for (size_t i = 0; i < json_array_size(ev); i++)
        if (is_pp(json_array_get(ev, i), "gpu_user_annotation")) {
          cat = "gpu_user_annotation";
          break;
        }
    if (cat[0] == 'g')
      used_gpu = 1;
    else
      used_cpu = 1;
    info->events += json_array_size(ev);
    for (size_t i = 0; i < json_array_size(ev); i++) {
      const json_t *e = json_array_get(ev, i);
      if (!is_pp(e, cat))
        continue;
      char where[48];
      snprintf(where, sizeof where, "traceEvents[%zu]", i);
      const char *an = json_string_value(json_object_get(e, "name")) + 3;
      info->actions++;
      pl_op op;
      int k = pl_trace_parse_action(an, strlen(an), o->dialect, &op, eb);
      if (k < 0) {
        char w2[64];
        snprintf(w2, sizeof w2, "%s.name", where);
        pl__err_prefix(eb, w2);
        pl__err_prefix(eb, name);
        rc = k;
        goto fail;
      }
      if (k == 0) {
        info->comm_actions++;
        continue;
      }
      long long pid;
      double ts, dur;
      if ((rc = pl__jget_int(e, where, "pid", 0, -(1LL << 62), 1LL << 62, &pid,
                             eb)) ||
          (rc = pl__jget_num(e, where, "ts", 0, &ts, eb)) ||
          (rc = pl__jget_num(e, where, "dur", 0, &dur, eb))) {
        pl__err_prefix(eb, name);
        goto fail;
      }
      if (dur < 0) {
        rc = pl_errf(eb, PL_EPARSE, "%s: %s.dur: negative duration", name,
                     where);
        goto fail;
      }
      if (!isfinite(ts + dur)) {
        rc = pl_errf(eb, PL_EPARSE, "%s: %s: ts + dur (%g + %g us) is not a "
                     "finite time", name, where, ts, dur);
        goto fail;
      }
      if (n_acts == cap) {
        size_t nc = cap ? 2 * cap : 256;
        struct act *na = pl_realloc(acts, nc * sizeof *na);
        if (!na) {
          rc = pl_errf(eb, PL_ENOMEM, "out of memory");
          goto fail;
        }
        acts = na;
        cap = nc;
      }
      struct act *a = &acts[n_acts++];
      a->doc = d;
      a->pid = pid;
      a->rank = -1;
      a->op = op;
      a->t0 = ts;
      a->t1 = ts + dur;
    }
  }
  info->track = used_gpu && !used_cpu ? PL_KINETO_GPU
                : used_cpu && !used_gpu ? PL_KINETO_CPU
                                        : PL_KINETO_AUTO;
  if (!n_acts) {
    rc = pl_errf(eb, PL_EPARSE, "%s: no PyTorch pipelining actions found "
                 "(X events named 'PP:<action>' with cat user_annotation or "
                 "gpu_user_annotation; see docs/trace-format.md)",
                 n_docs == 1 ? name : "traces");
    goto fail;
  }

  /* Align the files on the earliest base time. Two int64 base times can
   * be up to 2^64 - 1 ns apart: the difference is taken unsigned (exact),
   * and one that is beyond a result's times is refused. */
  long long bmin = 0;
  if (all_base && n_docs > 1) {
    size_t dmin = 0;
    for (size_t d = 1; d < n_docs; d++)
      if (base[d] < base[dmin])
        dmin = d;
    bmin = base[dmin];
    if (!(off = pl_malloc(n_docs * sizeof *off))) {
      rc = pl_errf(eb, PL_ENOMEM, "out of memory");
      goto fail;
    }
    for (size_t d = 0; d < n_docs; d++) {
      unsigned long long ns =
          (unsigned long long)base[d] - (unsigned long long)bmin;
      off[d] = (double)ns / 1e3;
      if (off[d] > PL_TIME_MAX) {
        rc = pl_errf(eb, PL_EPARSE, "%s and %s: baseTimeNanoseconds are %llu "
                     "ns apart, beyond the largest time a result may hold "
                     "(%g us)", names && names[dmin] ? names[dmin] : "trace",
                     names && names[d] ? names[d] : "trace", ns, PL_TIME_MAX);
        goto fail;
      }
    }
  }
  /* Ranks. */
  keys = pl_malloc(n_acts * sizeof *keys);
  if (!keys) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n_acts; i++) {
    keys[i].doc = acts[i].doc;
    keys[i].pid = acts[i].pid;
  }
  qsort(keys, n_acts, sizeof *keys, cmp_pidkey);
  for (size_t i = 0; i < n_acts; i++)
    if (i == 0 || cmp_pidkey(&keys[i], &keys[n_keys - 1]) != 0)
      keys[n_keys++] = keys[i];
  int maxrank = -1;
  for (size_t i = 0; i < n_acts; i++) {
    struct act *a = &acts[i];
    long long rk = -1;
    if (doc_rank[a->doc] >= 0) {
      rk = doc_rank[a->doc];
    } else if (o->rank_map && o->n_rank_map) {
      for (size_t k = 0; k < o->n_rank_map; k++)
        if (o->rank_map[2 * k] == a->pid) {
          rk = o->rank_map[2 * k + 1];
          break;
        }
      if (rk < 0) {
        rc = pl_errf(eb, PL_EPARSE, "%s: pid %lld is not in the rank map",
                     names && names[a->doc] ? names[a->doc] : "trace", a->pid);
        goto fail;
      }
    } else {
      struct pidkey k = {a->doc, a->pid};
      struct pidkey *f = bsearch(&k, keys, n_keys, sizeof *keys, cmp_pidkey);
      rk = f ? (long long)(f - keys) : 0;
    }
    if (rk > MAX_RANK) {
      rc = pl_errf(eb, PL_EPARSE, "rank %lld is too large (at most %d)", rk,
                   MAX_RANK);
      goto fail;
    }
    a->rank = (int)rk;
    if (a->rank > maxrank)
      maxrank = a->rank;
    if (off) {
      a->t0 += off[a->doc];
      a->t1 += off[a->doc];
    }
  }

  /* Keep the o->iteration-th occurrence of every (rank, action). */
  qsort(acts, n_acts, sizeof *acts, cmp_act);
  size_t w = 0;
  int occ = 0;
  for (size_t i = 0; i < n_acts; i++) {
    if (i > 0) {
      struct act x = acts[i - 1];
      x.t0 = acts[i].t0;
      occ = cmp_act(&x, &acts[i]) == 0 ? occ + 1 : 0;
    }
    if (occ == o->iteration)
      acts[w++] = acts[i];
    else
      info->repeated++;
  }
  if (!w) {
    rc = pl_errf(eb, PL_EPARSE, "no action occurs %d times (iteration %d)",
                 o->iteration + 1, o->iteration);
    goto fail;
  }
  double t_origin = INFINITY;
  int max_stage = 0, max_mb = 0;
  for (size_t i = 0; i < w; i++) {
    if (acts[i].t0 < t_origin)
      t_origin = acts[i].t0;
    const pl_op *op = &acts[i].op;
    int st = op->kind == PL_OP_FB && op->stage2 > op->stage ? op->stage2
                                                            : op->stage;
    int mb = op->kind == PL_OP_FB && op->mb2 > op->mb ? op->mb2 : op->mb;
    if (st > max_stage)
      max_stage = st;
    if (mb > max_mb)
      max_mb = mb;
  }

  for (size_t i = 0; i < w; i++)
    if (acts[i].t1 - t_origin > PL_TIME_MAX) {
      rc = pl_errf(eb, PL_EPARSE, "%s: an action ends %g us after the first "
                   "one starts, beyond the largest time a result may hold "
                   "(%g us)", n_docs == 1 ? name : "traces",
                   acts[i].t1 - t_origin, PL_TIME_MAX);
      goto fail;
    }
  r->stages = maxrank + 1;
  r->virtual_stages = max_stage + 1 > r->stages ? max_stage + 1 : r->stages;
  r->chunks = (r->virtual_stages + r->stages - 1) / r->stages;
  r->microbatches = max_mb + 1;
  snprintf(r->schedule, sizeof r->schedule, "%s",
           o->schedule ? o->schedule : "kineto");
  snprintf(r->source, sizeof r->source, "kineto");
  snprintf(r->time_unit, sizeof r->time_unit, "us");
  snprintf(r->mem_unit, sizeof r->mem_unit, "bytes");
  r->ranks = pl_calloc((size_t)r->stages, sizeof *r->ranks);
  r->ops = pl_calloc(w, sizeof *r->ops);
  if (!r->ranks || !r->ops) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto fail;
  }
  for (int i = 0; i < r->stages; i++) {
    r->ranks[i].peak_mem = NAN; /* the profiler trace has no activation
                                   timeline pipelab can attribute */
    r->ranks[i].end_mem = NAN;
    r->ranks[i].peak_activation_bytes = -1;
  }
  for (size_t i = 0; i < w; i++) {
    pl_op_rec *x = &r->ops[i];
    x->rank = acts[i].rank;
    x->index = (int32_t)i;
    x->op = acts[i].op;
    x->start = acts[i].t0 - t_origin;
    x->end = acts[i].t1 - t_origin;
  }
  r->n_ops = w;
  pl__result_rebuild(r, 1);
  r->peak_mem = NAN;
  goto out;

fail:
  pl_result_free(r);
out:
  pl_free(acts);
  pl_free(keys);
  pl_free(doc_rank);
  pl_free(base);
  pl_free(off);
  return rc;
}

int pl_kineto_load(const char *const *paths, size_t n_paths,
                   const pl_kineto_opts *o, pl_result *r,
                   pl_kineto_info *info, struct pl_errbuf *eb)
{
  pl_result z = PL_RESULT_INIT;
  json_t **docs = pl_calloc(n_paths ? n_paths : 1, sizeof *docs);
  int rc = PL_OK;
  *r = z;
  if (!docs)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  for (size_t i = 0; i < n_paths; i++) {
    char *text = NULL;
    size_t len = 0;
    if ((rc = pl_read_file(paths[i], &text, &len, eb)))
      goto out;
    json_error_t je;
    docs[i] = json_loadb(text, len, 0, &je);
    pl_free(text);
    if (!docs[i]) {
      rc = pl_errf(eb, PL_EPARSE, "%s: line %d, column %d: %s", paths[i],
                   je.line, je.column, je.text);
      goto out;
    }
  }
  rc = pl_kineto_import(docs, paths, n_paths, o, r, info, eb);
out:
  for (size_t i = 0; i < n_paths; i++)
    json_decref(docs[i]);
  pl_free(docs);
  return rc;
}
