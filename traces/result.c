/* result.c: the result summary as JSON and CSV: the `simulate --format
 * json|csv` contract (docs/cli.md), shared by the simulator and the
 * executor so that `compare` never cares who produced a result. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/traces.h"

int pl_fmt_num(char *buf, size_t len, double x)
{
  int n;
  if (!isfinite(x))
    n = snprintf(buf, len, "null");
  else if (x == floor(x) && fabs(x) < 9e15)
    n = snprintf(buf, len, "%.0f", x == 0 ? 0.0 : x);
  else
    n = snprintf(buf, len, "%.17g", x);
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
    json_object_set_new(x, "span", num(rr->last_end - rr->first_start));
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
