/* sweepmodel.c: constant-cost pricing and the output rows of `sweep`. The
 * model-priced mode plugs the cost database in through sweepmodel_prepare. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sweepmodel.h"

const char sweepmodel_help[] =
  "model (prices every point with the cost database):\n"
  "  --model <name>        a catalog model ('pipelab db list models')\n"
  "  --gpu <name>          a catalog GPU ('pipelab db list gpus')\n"
  "  --seq <n>             sequence length (default: the model's)\n"
  "  --db <path>           cost database (default $PIPELAB_DB or XDG data dir)\n";

void sweepmodel_init(struct sweepmodel *sm) { memset(sm, 0, sizeof *sm); }

int sweepmodel_handle(struct sweepmodel *sm, const char *cmd, int opt,
                      const char *arg)
{
  switch (opt) {
  case SM_MODEL: sm->model = arg; return 0;
  case SM_GPU: sm->gpu = arg; return 0;
  case SM_DB: sm->db = arg; return 0;
  case SM_SEQ: return cli_int(cmd, "--seq", arg, 1, 1 << 24, &sm->seq);
  default: return -1;
  }
}

int sweepmodel_prepare(struct sweepmodel *sm, const char *cmd,
                       const char *limit, pl_sweep_spec *sp)
{
  if (sm->model || sm->gpu) {
    if (!sm->model || !sm->gpu)
      return cli_usage(cmd, "--model and --gpu go together");
    return cli_fail(PL_ENOTSUP, "model-priced sweeps need the cost database, "
                                "which this build does not have yet; use "
                                "--tf/--tb/--tw");
  }
  if (limit) {
    char *end;
    double v = strtod(limit, &end);
    if (end == limit || *end)
      return cli_usage(cmd, "--mem-limit without --model is in activation "
                            "units (a plain number), got '%s'", limit);
    if (cli_double(cmd, "--mem-limit", limit, 0, 1e300, &v))
      return CLI_EXIT_USAGE;
    sp->mem_limit = v;
  }
  return 0;
}

const pl_sweep_model *sweepmodel_callbacks(struct sweepmodel *sm)
{
  return sm->active ? &sm->cb : NULL;
}

int sweepmodel_active(const struct sweepmodel *sm) { return sm->active; }

void sweepmodel_json(const struct sweepmodel *sm, json_t *o,
                     const pl_sweep_point *pt, const pl_sweep_eval *ev)
{
  (void)pt;
  if (sm->active) {
    json_object_set_new(o, "tokens_per_second", json_real(ev->throughput));
    json_object_set_new(o, "iteration_seconds", json_real(ev->iteration_time));
    json_object_set_new(o, "peak_gib", json_real(ev->peak_mem / 1073741824.0));
    json_object_set_new(o, "mfu", json_real(ev->mfu));
  } else {
    json_object_set_new(o, "throughput", json_real(ev->throughput));
    json_object_set_new(o, "iteration_time", json_real(ev->iteration_time));
    json_object_set_new(o, "peak_activation_units", json_real(ev->peak_mem));
  }
  json_object_set_new(o, "bubble_ratio", json_real(ev->bubble_ratio));
  json_object_set_new(o, "fits", json_boolean(ev->fits));
}

void sweepmodel_csv_header(const struct sweepmodel *sm)
{
  printf("rank,schedule,stages,microbatches,mb_size,chunks,dp,%s,%s,"
         "bubble_ratio,%s,mfu,fits,reason\n",
         sm->active ? "tokens_per_second" : "throughput",
         sm->active ? "iteration_seconds" : "iteration_time",
         sm->active ? "peak_gib" : "peak_activation_units");
}

void sweepmodel_csv_row(const struct sweepmodel *sm, size_t rank,
                        const pl_sweep_point *pt, const pl_sweep_eval *ev)
{
  double peak = sm->active ? ev->peak_mem / 1073741824.0 : ev->peak_mem;
  int ok = ev->status == PL_SWEEP_OK;
  printf("%zu,%s,%d,%d,%d,%d,%d,", rank, pt->schedule, pt->p, pt->m,
         pt->mb_size, pt->v, pt->dp);
  if (ok || ev->iteration_time > 0)
    printf("%.10g,%.10g,%.6g,%.6g,%.4g,%s,", ev->throughput,
           ev->iteration_time, ev->bubble_ratio, peak, ev->mfu,
           ev->fits ? "true" : "false");
  else
    printf(",,,,,false,");
  /* Reasons never contain quotes we did not put there; double any. */
  putchar('"');
  for (const char *c = ev->reason; *c; c++) {
    if (*c == '"')
      putchar('"');
    putchar(*c);
  }
  printf("\"\n");
}

void sweepmodel_table(const struct sweepmodel *sm, const char *unit,
                      const pl_sweep_point *pts, const pl_sweep_eval *evs,
                      const size_t *order, size_t rows)
{
  printf("%4s %-12s %3s %5s %3s %2s %4s %14s %12s %8s %12s %6s\n", "#",
         "schedule", "p", "m", "mb", "v", "dp", unit,
         sm->active ? "iter (s)" : "iteration", "bubble",
         sm->active ? "peak GiB" : "peak units", "MFU");
  for (size_t r = 0; r < rows; r++) {
    const pl_sweep_point *pt = &pts[order[r]];
    const pl_sweep_eval *ev = &evs[order[r]];
    printf("%4zu %-12s %3d %5d %3d %2d %4d ", r + 1, pt->schedule, pt->p,
           pt->m, pt->mb_size, pt->v, pt->dp);
    if (ev->status == PL_SWEEP_OK)
      printf("%14s %12s %7.2f%% %12s %5.1f%%\n", cli_num(ev->throughput),
             cli_num(ev->iteration_time), 100 * ev->bubble_ratio,
             cli_num(sm->active ? ev->peak_mem / 1073741824.0 : ev->peak_mem),
             100 * ev->mfu);
    else
      printf("rejected: %s\n", ev->reason);
  }
}

void sweepmodel_free(struct sweepmodel *sm) { (void)sm; }
