/* result.c: the result summary as JSON and CSV: the `simulate --format
 * json|csv` contract (docs/cli.md), shared by the simulator and the
 * executor so that `compare` never cares who produced a result. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "traces_int.h"

int pl_fmt_num(char *buf, size_t len, double x)
{
  int n;
  if (!isfinite(x))
    n = snprintf(buf, len, "null");
  else if (x == floor(x) && fabs(x) < 9e15)
    n = snprintf(buf, len, "%.0f", x == 0 ? 0.0 : x);
  else
    return pl_fmt_real(buf, len, x);
  return n < 0 || (size_t)n >= len ? PL_EINVAL : PL_OK;
}

/* json_real with integers kept integral, so 33 prints as 33, not 33.0. */
static json_t *num(double x)
{
  if (!isfinite(x))
    return json_null();
  if (x == floor(x) && fabs(x) < 9e15)
    return json_integer((json_int_t)x);
  return json_real(x);
}

json_t *pl_trials_to_json(const pl_trials *t, uint64_t seed)
{
  json_t *o = json_object();
  if (!o)
    return NULL;
  int bad = json_object_set_new(o, "n", json_integer(t->n)) ||
            json_object_set_new(o, "jitter", json_real(t->jitter)) ||
            json_object_set_new(o, "shape",
                                json_string(t->n_quantiles ? "measured"
                                                           : "lognormal")) ||
            json_object_set_new(o, "seed", json_integer((json_int_t)seed)) ||
            json_object_set_new(o, "deterministic",
                                json_real(t->deterministic)) ||
            json_object_set_new(o, "mean", json_real(t->mean)) ||
            json_object_set_new(o, "p10", json_real(t->p10)) ||
            json_object_set_new(o, "p50", json_real(t->p50)) ||
            json_object_set_new(o, "p90", json_real(t->p90));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *pl_result_to_json(const pl_result *r)
{
  json_t *o = json_object();
  int units = strcmp(r->mem_unit, "bytes") != 0;
  json_object_set_new(o, "schedule", json_string(r->schedule));
  json_object_set_new(o, "source", json_string(r->source));
  json_object_set_new(o, "stages", json_integer(r->stages));
  json_object_set_new(o, "microbatches", json_integer(r->microbatches));
  json_object_set_new(o, "chunks", json_integer(r->chunks));
  json_object_set_new(o, "virtual_stages", json_integer(r->virtual_stages));
  json_object_set_new(o, "time_unit", json_string(r->time_unit));
  json_object_set_new(o, "mem_unit", json_string(r->mem_unit));
  json_object_set_new(o, "makespan", num(r->makespan));
  json_object_set_new(o, "max_rank_span", num(r->max_rank_span));
  json_object_set_new(o, "ideal", num(r->ideal));
  json_object_set_new(o, "bubble_ratio", num(r->bubble_ratio));
  json_object_set_new(o, "bubble_ratio_span", num(r->bubble_ratio_span));
  json_object_set_new(o, units ? "peak_activation_units"
                               : "peak_activation_bytes",
                      num(r->peak_mem));
  json_t *ranks = json_array();
  for (int i = 0; i < r->stages; i++) {
    const pl_rank_result *rr = &r->ranks[i];
    json_t *x = json_object();
    json_object_set_new(x, "rank", json_integer(rr->rank));
    json_object_set_new(x, "busy", num(rr->busy));
    json_object_set_new(x, "first_start", num(rr->first_start));
    json_object_set_new(x, "last_end", num(rr->last_end));
    json_object_set_new(x, "span", num(pl_denoise(rr->last_end - rr->first_start,
                                                  rr->last_end)));
    json_object_set_new(x, "bubble_ratio", num(rr->bubble_ratio));
    json_object_set_new(x, units ? "peak_activation_units"
                                 : "peak_activation_bytes",
                        num(rr->peak_mem));
    if (units && rr->peak_activation_bytes >= 0)
      json_object_set_new(x, "peak_activation_bytes",
                          num(rr->peak_activation_bytes));
    json_object_set_new(x, units ? "end_activation_units"
                                 : "end_activation_bytes",
                        num(rr->end_mem));
    json_object_set_new(x, "ops", json_integer((json_int_t)rr->n_ops));
    json_array_append_new(ranks, x);
  }
  json_object_set_new(o, "ranks", ranks);
  if (r->n_untrusted > 0) {
    json_t *u = json_array();
    for (int i = 0; i < r->n_untrusted; i++)
      json_array_append_new(u, json_string(r->untrusted[i]));
    json_object_set_new(o, "untrusted", u);
  }
  return o;
}

int pl_result_to_csv(const pl_result *r, struct pl_buf *out)
{
  int units = strcmp(r->mem_unit, "bytes") != 0;
  char a[5][40];
  int rc = pl_buf_addf(out,
                       "schedule,rank,busy,first_start,last_end,bubble_ratio,"
                       "%s,time_unit\n",
                       units ? "peak_activation_units"
                             : "peak_activation_bytes");
  for (int i = 0; i < r->stages && !rc; i++) {
    const pl_rank_result *rr = &r->ranks[i];
    pl_fmt_num(a[0], sizeof a[0], rr->busy);
    pl_fmt_num(a[1], sizeof a[1], rr->first_start);
    pl_fmt_num(a[2], sizeof a[2], rr->last_end);
    pl_fmt_num(a[3], sizeof a[3], rr->bubble_ratio);
    pl_fmt_num(a[4], sizeof a[4], rr->peak_mem);
    rc = pl_buf_addf(out, "%s,%d,%s,%s,%s,%s,%s,%s\n", r->schedule, rr->rank,
                     a[0], a[1], a[2], a[3], a[4], r->time_unit);
  }
  return rc;
}

/* ------------------------------------------------------------ detail --- */

int pl_result_add_detail_json(json_t *obj, const pl_result *r)
{
  json_t *ops = json_array(), *mem = json_array();
  int rc = PL_OK;
  if (!obj || !ops || !mem) {
    rc = PL_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < r->n_ops; i++) {
    const pl_op_rec *o = &r->ops[i];
    json_t *x = json_object();
    if (!x || json_array_append_new(ops, x)) {
      rc = PL_ENOMEM;
      goto out;
    }
    int bad = 0;
    bad |= json_object_set_new(x, "rank", json_integer(o->rank));
    bad |= json_object_set_new(x, "index", json_integer(o->index));
    bad |= json_object_set_new(x, "op",
                               json_string(pl_op_kind_name(o->op.kind)));
    bad |= json_object_set_new(x, "microbatch", json_integer(o->op.mb));
    bad |= json_object_set_new(x, "stage", json_integer(o->op.stage));
    if (o->op.kind == PL_OP_FB) {
      bad |= json_object_set_new(x, "op2",
                                 json_string(pl_op_kind_name(o->op.kind2)));
      bad |= json_object_set_new(x, "microbatch2", json_integer(o->op.mb2));
      bad |= json_object_set_new(x, "stage2", json_integer(o->op.stage2));
    }
    bad |= json_object_set_new(x, "start", num(o->start));
    bad |= json_object_set_new(x, "end", num(o->end));
    if (bad) {
      rc = PL_ENOMEM;
      goto out;
    }
  }
  for (size_t i = 0; i < r->n_mem; i++) {
    const pl_mem_point *m = &r->mem[i];
    json_t *x = json_object();
    if (!x || json_array_append_new(mem, x) ||
        json_object_set_new(x, "rank", json_integer(m->rank)) ||
        json_object_set_new(x, "t", num(m->t)) ||
        json_object_set_new(x, "value", num(m->value))) {
      rc = PL_ENOMEM;
      goto out;
    }
  }
  if (json_object_set(obj, "ops", ops) || json_object_set(obj, "memory", mem))
    rc = PL_ENOMEM;
out:
  json_decref(ops);
  json_decref(mem);
  return rc;
}

int pl_result_save(const pl_result *r, const char *path, struct pl_errbuf *eb)
{
  json_t *j = pl_result_to_json(r);
  int rc = j ? pl_result_add_detail_json(j, r) : PL_ENOMEM;
  char *text = rc ? NULL : pl_json_dumps(j, JSON_INDENT(1));
  json_decref(j);
  if (!text)
    return pl_errf(eb, PL_ENOMEM, "out of memory building the result file");
  size_t len = strlen(text);
  /* pl_json_dumps allocates with pl_malloc. */
  rc = pl_write_file_atomic(path, text, len, eb);
  pl_free(text);
  return rc;
}

/* ----------------------------------------------------------- helpers --- */

int pl__json_str(struct pl_buf *b, const char *s)
{
  static const char hex[] = "0123456789abcdef";
  int rc = pl_buf_add(b, "\"", 1);
  const char *run = s;
  for (; !rc && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch >= 0x20 && ch != '"' && ch != '\\')
      continue;
    if (s > run)
      rc = pl_buf_add(b, run, (size_t)(s - run));
    char esc[7] = {'\\', (char)ch, 0};
    size_t n = 2;
    if (ch < 0x20) {
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[ch >> 4];
      esc[5] = hex[ch & 15];
      n = 6;
    }
    if (!rc)
      rc = pl_buf_add(b, esc, n);
    run = s + 1;
  }
  if (!rc && s > run)
    rc = pl_buf_add(b, run, (size_t)(s - run));
  if (!rc)
    rc = pl_buf_add(b, "\"", 1);
  return rc;
}

static const char *sep(const char *where) { return *where ? "." : ""; }

static int missing(const json_t *v, const char *where, const char *key,
                   int opt, struct pl_errbuf *eb)
{
  if (v && !json_is_null(v))
    return 0;
  if (opt)
    return 1;
  return pl_errf(eb, PL_EPARSE, "%s%s%s: missing", where, sep(where), key);
}

int pl__jget_int(const json_t *o, const char *where, const char *key, int opt,
                 long long lo, long long hi, long long *out,
                 struct pl_errbuf *eb)
{
  const json_t *v = json_object_get(o, key);
  int m = missing(v, where, key, opt, eb);
  if (m)
    return m > 0 ? PL_OK : m;
  long long x;
  if (json_is_integer(v))
    x = (long long)json_integer_value(v);
  else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
           fabs(json_real_value(v)) < 9e15)
    x = (long long)json_real_value(v);
  else
    return pl_errf(eb, PL_EPARSE, "%s%s%s: expected an integer", where,
                   sep(where), key);
  if (x < lo || x > hi)
    return pl_errf(eb, PL_EPARSE, "%s%s%s: %lld is out of range [%lld, %lld]",
                   where, sep(where), key, x, lo, hi);
  *out = x;
  return PL_OK;
}

int pl__jget_num(const json_t *o, const char *where, const char *key, int opt,
                 double *out, struct pl_errbuf *eb)
{
  const json_t *v = json_object_get(o, key);
  int m = missing(v, where, key, opt, eb);
  if (m)
    return m > 0 ? PL_OK : m;
  if (!json_is_number(v))
    return pl_errf(eb, PL_EPARSE, "%s%s%s: expected a number", where,
                   sep(where), key);
  double x = json_number_value(v);
  if (!isfinite(x))
    return pl_errf(eb, PL_EPARSE, "%s%s%s: not a finite number", where,
                   sep(where), key);
  *out = x;
  return PL_OK;
}

int pl__jget_time(const json_t *o, const char *where, const char *key,
                  int opt, double *out, struct pl_errbuf *eb)
{
  double x = 0;
  const json_t *v = json_object_get(o, key);
  int rc = pl__jget_num(o, where, key, opt, &x, eb);
  if (rc || !v || json_is_null(v))
    return rc;
  if (fabs(x) > PL_TIME_MAX)
    return pl_errf(eb, PL_EPARSE, "%s%s%s: %g is beyond the largest time a "
                   "result may hold (%g)", where, sep(where), key, x,
                   PL_TIME_MAX);
  *out = x;
  return PL_OK;
}

int pl__jget_str(const json_t *o, const char *where, const char *key, int opt,
                 char *out, size_t len, struct pl_errbuf *eb)
{
  const json_t *v = json_object_get(o, key);
  int m = missing(v, where, key, opt, eb);
  if (m)
    return m > 0 ? PL_OK : m;
  if (!json_is_string(v))
    return pl_errf(eb, PL_EPARSE, "%s%s%s: expected a string", where,
                   sep(where), key);
  const char *s = json_string_value(v);
  size_t n = strlen(s);
  if (n >= len) {
    /* Names are informative: truncate rather than fail, but never inside
     * a UTF-8 sequence (the writer could not write such a name back). */
    n = len - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
      n--;
  }
  memcpy(out, s, n);
  out[n] = 0;
  return PL_OK;
}

int pl__kind_from_name(const char *s)
{
  for (int k = 0; k < PL_OP_NKINDS; k++)
    if (strcmp(s, pl_op_kind_name(k)) == 0)
      return k;
  return -1;
}

void pl__err_prefix(struct pl_errbuf *eb, const char *name)
{
  if (!eb || !name)
    return;
  char tmp[PL_ERRMSG_MAX];
  int n = snprintf(tmp, sizeof tmp, "%s: %s", name, eb->msg);
  if (n > 0)
    memcpy(eb->msg, tmp, sizeof tmp);
}

static int cmp_rec(const void *a, const void *b)
{
  const pl_op_rec *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  if (x->index != y->index)
    return x->index < y->index ? -1 : 1;
  return 0;
}

static int cmp_mem(const void *a, const void *b)
{
  const pl_mem_point *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return 0;
}

void pl__result_rebuild(pl_result *r, int keep_peaks)
{
  if (r->n_ops)
    qsort(r->ops, r->n_ops, sizeof *r->ops, cmp_rec);
  /* The memory timeline keeps its order within equal times (a release and
   * the next allocation at one instant), so sort only when out of order. */
  int sorted = 1;
  for (size_t i = 1; i < r->n_mem && sorted; i++)
    sorted = cmp_mem(&r->mem[i - 1], &r->mem[i]) <= 0;
  if (!sorted)
    qsort(r->mem, r->n_mem, sizeof *r->mem, cmp_mem);
  for (int i = 0; i < r->stages; i++) {
    pl_rank_result *rr = &r->ranks[i];
    double pk = rr->peak_mem, em = rr->end_mem, pb = rr->peak_activation_bytes;
    memset(rr, 0, sizeof *rr);
    rr->rank = i;
    rr->peak_activation_bytes = pb;
    if (keep_peaks) {
      rr->peak_mem = pk;
      rr->end_mem = em;
    }
  }
  int32_t prev = -1, idx = 0;
  for (size_t i = 0; i < r->n_ops; i++) {
    pl_op_rec *o = &r->ops[i];
    pl_rank_result *rr = &r->ranks[o->rank];
    if (o->rank != prev) {
      idx = 0;
      prev = o->rank;
      rr->first_start = o->start;
      rr->last_end = o->end;
    }
    o->index = idx++;
    if (o->start < rr->first_start)
      rr->first_start = o->start;
    if (o->end > rr->last_end)
      rr->last_end = o->end;
    rr->busy += o->end - o->start;
    rr->n_ops++;
  }
  if (!keep_peaks) {
    for (size_t i = 0; i < r->n_mem; i++) {
      pl_rank_result *rr = &r->ranks[r->mem[i].rank];
      if (r->mem[i].value > rr->peak_mem)
        rr->peak_mem = r->mem[i].value;
      rr->end_mem = r->mem[i].value;
    }
  }
  pl_result_summarize(r);
}
