/* compare.c: predicted versus real. Ops are matched by
 * (rank, kind, stage, microbatch) after sorting both op lists by that key,
 * so the comparison is O(n log n) and reports every op that exists on only
 * one side instead of silently skipping it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces_int.h"

static int cmp_key(const pl_op_rec *a, const pl_op_rec *b)
{
#define CMP(f)                                                              \
  if (a->f != b->f)                                                         \
    return a->f < b->f ? -1 : 1;
  CMP(rank) CMP(op.kind) CMP(op.stage) CMP(op.mb)
  if (a->op.kind == PL_OP_FB) {
    CMP(op.kind2) CMP(op.stage2) CMP(op.mb2)
  }
#undef CMP
  return 0;
}

static int cmp_ptr(const void *pa, const void *pb)
{
  const pl_op_rec *const *a = pa, *const *b = pb;
  int c = cmp_key(*a, *b);
  if (c)
    return c;
  return (*a)->start < (*b)->start ? -1 : (*a)->start > (*b)->start;
}

static const pl_op_rec **sorted(const pl_result *r)
{
  const pl_op_rec **v = pl_malloc((r->n_ops ? r->n_ops : 1) * sizeof *v);
  if (!v)
    return NULL;
  for (size_t i = 0; i < r->n_ops; i++)
    v[i] = &r->ops[i];
  qsort(v, r->n_ops, sizeof *v, cmp_ptr);
  return v;
}

void pl_compare_free(pl_compare *cmp)
{
  if (!cmp)
    return;
  pl_free(cmp->ranks);
  pl_free(cmp->kinds);
  cmp->ranks = NULL;
  cmp->kinds = NULL;
  cmp->n_ranks = 0;
  cmp->n_kinds = 0;
}

double pl_error_pct(double pred, double real)
{
  if (!isfinite(pred) || !isfinite(real))
    return NAN;
  if (real == pred)
    return 0;
  if (!(pred > 0))
    return NAN;
  /* Denoised: 36.3 against 33 is 10 %, not 10.000000000000009 %. */
  return pl_denoise(100.0 * (real - pred) / pred, 100.0);
}

static double rank_peak(const pl_result *r, int i)
{
  return i < r->stages && r->ranks ? r->ranks[i].peak_mem : NAN;
}

int pl_compare_results(const pl_result *pred, const pl_result *real,
                       pl_compare *out, struct pl_errbuf *eb)
{
  pl_compare *c = out;
  memset(c, 0, sizeof *c);
  c->time_factor = 1;
  if (strcmp(pred->time_unit, real->time_unit) != 0) {
    double a = pl_time_unit_us(pred->time_unit),
           b = pl_time_unit_us(real->time_unit);
    if (a == 0 || b == 0)
      return pl_errf(eb, PL_EINVAL, "time units differ: predicted in '%s', "
                     "real in '%s' (simulate with costs in the real unit, "
                     "e.g. --time-unit us)", pred->time_unit, real->time_unit);
    c->time_factor = b / a;
  }
  const double f = c->time_factor;
  snprintf(c->time_unit, sizeof c->time_unit, "%s", pred->time_unit);
  if (!strcmp(pred->mem_unit, real->mem_unit))
    snprintf(c->mem_unit, sizeof c->mem_unit, "%s", pred->mem_unit);
  c->pred_iter = pred->makespan;
  c->real_iter = real->makespan * f;
  c->iter_error_pct = pl_error_pct(c->pred_iter, c->real_iter);
  c->pred_bubble = pred->bubble_ratio;
  c->real_bubble = real->bubble_ratio;
  c->bubble_diff_points = 100.0 * (real->bubble_ratio - pred->bubble_ratio);
  c->pred_ops = pred->n_ops;
  c->real_ops = real->n_ops;
  c->per_op = pred->n_ops > 0 && real->n_ops > 0;

  int nr = pred->stages > real->stages ? pred->stages : real->stages;
  if (nr < 1)
    return pl_errf(eb, PL_EINVAL, "results have no ranks");
  c->ranks = pl_calloc((size_t)nr, sizeof *c->ranks);
  double *acc = pl_calloc((size_t)nr * PL_OP_NKINDS * 4, sizeof *acc);
  const pl_op_rec **P = c->per_op ? sorted(pred) : NULL;
  const pl_op_rec **R = c->per_op ? sorted(real) : NULL;
  int rc = PL_OK;
  if (!c->ranks || !acc || (c->per_op && (!P || !R))) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  c->n_ranks = nr;
  for (int i = 0; i < nr; i++) {
    pl_compare_rank *x = &c->ranks[i];
    x->rank = i;
    x->pred_peak = rank_peak(pred, i);
    x->real_peak = rank_peak(real, i);
    x->peak_diff = c->mem_unit[0] ? x->real_peak - x->pred_peak : NAN;
    x->pred_bubble = i < pred->stages ? pred->ranks[i].bubble_ratio : NAN;
    x->real_bubble = i < real->stages ? real->ranks[i].bubble_ratio : NAN;
  }
  if (c->per_op) {
    size_t i = 0, j = 0;
    while (i < pred->n_ops || j < real->n_ops) {
      int d = i == pred->n_ops   ? 1
              : j == real->n_ops ? -1
                                 : cmp_key(P[i], R[j]);
      if (d < 0) {
        if (c->missing < PL_COMPARE_LIST)
          c->missing_ops[c->missing] = *P[i];
        c->missing++;
        i++;
      } else if (d > 0) {
        if (c->extra < PL_COMPARE_LIST)
          c->extra_ops[c->extra] = *R[j];
        c->extra++;
        j++;
      } else {
        double tp = P[i]->end - P[i]->start;
        double tr = (R[j]->end - R[j]->start) * f;
        double *a = &acc[((size_t)P[i]->rank * PL_OP_NKINDS + P[i]->op.kind) * 4];
        a[0] += 1;
        a[1] += tp;
        a[2] += tr;
        a[3] += fabs(tr - tp);
        c->matched++;
        i++;
        j++;
      }
    }
    size_t nk = 0;
    for (size_t k = 0; k < (size_t)nr * PL_OP_NKINDS; k++)
      nk += acc[4 * k] > 0;
    c->kinds = pl_calloc(nk ? nk : 1, sizeof *c->kinds);
    if (!c->kinds) {
      rc = pl_errf(eb, PL_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t k = 0; k < (size_t)nr * PL_OP_NKINDS; k++) {
      const double *a = &acc[4 * k];
      if (a[0] <= 0)
        continue;
      pl_compare_kind *x = &c->kinds[c->n_kinds++];
      x->rank = (int)(k / PL_OP_NKINDS);
      x->kind = (int)(k % PL_OP_NKINDS);
      x->n = (size_t)a[0];
      x->pred_mean = a[1] / a[0];
      x->real_mean = a[2] / a[0];
      x->error = x->real_mean - x->pred_mean;
      x->error_pct = pl_error_pct(x->pred_mean, x->real_mean);
      x->mean_abs_error = a[3] / a[0];
    }
  }
out:
  pl_free(acc);
  pl_free(P);
  pl_free(R);
  if (rc)
    pl_compare_free(c);
  return rc;
}

/* ------------------------------------------------------------ output --- */

static json_t *jnum(double x)
{
  if (!isfinite(x))
    return json_null();
  if (x == floor(x) && fabs(x) < 9e15)
    return json_integer((json_int_t)x);
  return json_real(x);
}

static json_t *op_list(const pl_op_rec *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n && i < PL_COMPARE_LIST; i++) {
    char t[64];
    pl_op_format(&v[i].op, t, sizeof t);
    json_array_append_new(a, json_pack("{s:i,s:s}", "rank", v[i].rank, "op", t));
  }
  return a;
}

json_t *pl_compare_to_json(const pl_compare *c)
{
  json_t *o = json_object();
  json_object_set_new(o, "time_unit", json_string(c->time_unit));
  json_object_set_new(o, "mem_unit", c->mem_unit[0] ? json_string(c->mem_unit)
                                                    : json_null());
  json_object_set_new(o, "time_factor", jnum(c->time_factor));
  json_object_set_new(o, "iteration",
                      json_pack("{s:o,s:o,s:o}", "predicted", jnum(c->pred_iter),
                                "real", jnum(c->real_iter), "error_pct",
                                jnum(c->iter_error_pct)));
  json_object_set_new(o, "bubble_ratio",
                      json_pack("{s:o,s:o,s:o}", "predicted",
                                jnum(c->pred_bubble), "real",
                                jnum(c->real_bubble), "difference_points",
                                jnum(c->bubble_diff_points)));
  json_t *ops = json_pack("{s:I,s:I,s:I,s:I,s:I,s:b}", "predicted",
                          (json_int_t)c->pred_ops, "real",
                          (json_int_t)c->real_ops, "matched",
                          (json_int_t)c->matched, "missing",
                          (json_int_t)c->missing, "extra",
                          (json_int_t)c->extra, "per_op", c->per_op);
  json_object_set_new(ops, "missing_first", op_list(c->missing_ops, c->missing));
  json_object_set_new(ops, "extra_first", op_list(c->extra_ops, c->extra));
  json_object_set_new(o, "ops", ops);
  json_t *kinds = json_array();
  for (size_t i = 0; i < c->n_kinds; i++) {
    const pl_compare_kind *k = &c->kinds[i];
    json_t *x = json_object();
    json_object_set_new(x, "rank", json_integer(k->rank));
    json_object_set_new(x, "op", json_string(pl_op_kind_name(k->kind)));
    json_object_set_new(x, "count", json_integer((json_int_t)k->n));
    json_object_set_new(x, "predicted_mean", jnum(k->pred_mean));
    json_object_set_new(x, "real_mean", jnum(k->real_mean));
    json_object_set_new(x, "error", jnum(k->error));
    json_object_set_new(x, "error_pct", jnum(k->error_pct));
    json_object_set_new(x, "mean_abs_error", jnum(k->mean_abs_error));
    json_array_append_new(kinds, x);
  }
  json_object_set_new(o, "op_times", kinds);
  json_t *ranks = json_array();
  for (int i = 0; i < c->n_ranks; i++) {
    const pl_compare_rank *x = &c->ranks[i];
    json_t *y = json_object();
    json_object_set_new(y, "rank", json_integer(x->rank));
    json_object_set_new(y, "predicted_peak", jnum(x->pred_peak));
    json_object_set_new(y, "real_peak", jnum(x->real_peak));
    json_object_set_new(y, "peak_difference", jnum(x->peak_diff));
    json_object_set_new(y, "predicted_bubble_ratio", jnum(x->pred_bubble));
    json_object_set_new(y, "real_bubble_ratio", jnum(x->real_bubble));
    json_array_append_new(ranks, y);
  }
  json_object_set_new(o, "ranks", ranks);
  return o;
}

/* Empty cell for unknown values. */
static const char *cell(char *b, size_t n, double x)
{
  if (!isfinite(x)) {
    b[0] = 0;
    return b;
  }
  pl_fmt_num(b, n, x);
  return b;
}

int pl_compare_to_csv(const pl_compare *c, struct pl_buf *out)
{
  char a[4][40];
  const char *tu = c->time_unit, *mu = c->mem_unit;
  int rc = pl_buf_addf(out, "metric,rank,op,count,predicted,real,difference,"
                            "difference_pct,unit\n");
  if (!rc)
    rc = pl_buf_addf(out, "iteration_time,all,all,,%s,%s,%s,%s,%s\n",
                     cell(a[0], 40, c->pred_iter), cell(a[1], 40, c->real_iter),
                     cell(a[2], 40, c->real_iter - c->pred_iter),
                     cell(a[3], 40, c->iter_error_pct), tu);
  if (!rc)
    rc = pl_buf_addf(out, "bubble_ratio,all,all,,%s,%s,%s,,%%\n",
                     cell(a[0], 40, 100 * c->pred_bubble),
                     cell(a[1], 40, 100 * c->real_bubble),
                     cell(a[2], 40, c->bubble_diff_points));
  if (!rc)
    rc = pl_buf_addf(out, "ops_matched,all,all,%zu,%zu,%zu,,,ops\n", c->matched,
                     c->pred_ops, c->real_ops);
  if (!rc)
    rc = pl_buf_addf(out, "ops_missing,all,all,%zu,,,,,ops\n"
                          "ops_extra,all,all,%zu,,,,,ops\n",
                     c->missing, c->extra);
  for (size_t i = 0; i < c->n_kinds && !rc; i++) {
    const pl_compare_kind *k = &c->kinds[i];
    rc = pl_buf_addf(out, "op_time,%d,%s,%zu,%s,%s,%s,%s,%s\n", k->rank,
                     pl_op_kind_name(k->kind), k->n,
                     cell(a[0], 40, k->pred_mean), cell(a[1], 40, k->real_mean),
                     cell(a[2], 40, k->error), cell(a[3], 40, k->error_pct), tu);
  }
  for (int i = 0; i < c->n_ranks && !rc; i++) {
    const pl_compare_rank *x = &c->ranks[i];
    double pct = c->mem_unit[0] ? pl_error_pct(x->pred_peak, x->real_peak) : NAN;
    rc = pl_buf_addf(out, "peak_memory,%d,,,%s,%s,%s,%s,%s\n", x->rank,
                     cell(a[0], 40, x->pred_peak), cell(a[1], 40, x->real_peak),
                     cell(a[2], 40, x->peak_diff), cell(a[3], 40, pct),
                     mu[0] ? mu : "mixed");
  }
  return rc;
}
