/* sweepmodel.c: constant-cost pricing and the output rows of `sweep`. The
 * model-priced mode plugs the cost database in through sweepmodel_prepare:
 * a cost table per point, a cheap bound per point for pruning, and the
 * breakdown of the iteration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweepmodel.h"

const char sweepmodel_help[] =
  "model (prices every point with the kernel-level cost model):\n"
  "  --model <name>        a catalog model ('pipelab db list models')\n"
  "  --gpu <name>          a catalog GPU ('pipelab db list gpus')\n"
  "  --seq <n>             sequence length (default: the model's)\n"
  "  --no-flash-attn       unfused attention (default: flash attention on)\n"
  "  --precision <p>       bf16 (default), fp16, fp8, fp4\n"
  "  --gpus-per-node <n>   GPUs per scale-up domain (default: the GPU's)\n"
  "  --overlap-grad-reduce, --overlap-param-gather, --tp-comm-overlap,\n"
  "  --no-sequence-parallel, --no-grad-accum-fusion, --grad-reduce-dtype <t>\n"
  "                        runtime knobs as in 'pipelab simulate --help'\n"
  "  --mfu <x>             flat model: every op at this fraction of peak, no\n"
  "                        communication (default: the kernel model)\n"
  "  --db <path>           cost database (default $PIPELAB_DB or XDG data dir)\n";

void sweepmodel_init(struct sweepmodel *sm)
{
  memset(sm, 0, sizeof *sm);
  modelopts_init(&sm->mo);
}

int sweepmodel_handle(struct sweepmodel *sm, const char *cmd, int opt,
                      const char *arg)
{
  return modelopts_handle(&sm->mo, cmd, opt, arg);
}

pl_train_cfg sweepmodel_cfg(const struct sweepmodel *sm,
                            const pl_sweep_point *pt)
{
  return pl_sweep_pricer_cfg(sm->pricer, pt);
}

int sweepmodel_explain(struct sweepmodel *sm, const pl_sweep_point *pt,
                       pl_model_plan *plan, pl_result *r, pl_breakdown *bd,
                       struct pl_errbuf *eb)
{
  return pl_sweep_pricer_explain(sm->pricer, pt, plan, r, bd, eb);
}

int sweepmodel_prepare(struct sweepmodel *sm, const char *cmd,
                       const char *limit, pl_sweep_spec *sp)
{
  int rc;
  if (sm->mo.model || sm->mo.gpu || sm->mo.other_given) {
    if ((rc = modelopts_resolve(&sm->mo, cmd)))
      return rc;
    sm->active = 1;
    sm->limit = sm->mo.g.hbm_bytes;
    if (limit) {
      int is_bytes;
      if ((rc = cli_mem_limit(cmd, limit, &sm->limit, &is_bytes)))
        return rc; /* with a model a plain number is bytes too */
    }
    /* eval_one compares peak_mem with this too: same unit, bytes. */
    sp->mem_limit = sm->limit;
    pl_train_cfg base = sm->mo.cfg;
    base.flash_attn = !sm->no_flash;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    if ((rc = pl_sweep_pricer_open(&sm->mo.m, &sm->mo.g, &base, sm->mo.db,
                                   sm->limit, &sm->pricer, &eb)))
      return cli_fail_eb(&eb, rc);
    /* --explain prices a row as the sweep did */
    pl_sweep_pricer_set_runtime(sm->pricer, sp);
    return 0;
  }
  if (limit) {
    double v;
    int is_bytes;
    if ((rc = cli_mem_limit(cmd, limit, &v, &is_bytes)))
      return rc;
    if (is_bytes)
      return cli_usage(cmd, "--mem-limit without --model is in activation "
                            "units (a plain number), got '%s'", limit);
    sp->mem_limit = v;
  }
  return 0;
}

const pl_sweep_model *sweepmodel_callbacks(struct sweepmodel *sm)
{
  return sm->active ? pl_sweep_pricer_model(sm->pricer) : NULL;
}

int sweepmodel_active(const struct sweepmodel *sm) { return sm->active; }

void sweepmodel_json(const struct sweepmodel *sm, json_t *o,
                     const pl_sweep_point *pt, const pl_sweep_eval *ev)
{
  (void)pt;
  if (sm->active) {
    json_object_set_new(o, "tokens_per_second", json_real(ev->throughput));
    json_object_set_new(o, "tokens_per_second_per_gpu",
                        json_real(ev->throughput /
                                  ((double)pt->tp * pt->cp * pt->p * pt->dp)));
    json_object_set_new(o, "iteration_seconds", json_real(ev->iteration_time));
    json_object_set_new(o, "peak_gib", json_real(ev->peak_mem / 1073741824.0));
    json_object_set_new(o, "peak_bytes", json_real(ev->peak_mem));
    json_object_set_new(o, "mfu", json_real(ev->mfu));
    json_t *b = json_object();
    json_object_set_new(b, "compute_s", json_real(ev->t_compute));
    json_object_set_new(b, "tp_cp_comm_s", json_real(ev->t_tp));
    json_object_set_new(b, "pipeline_idle_s", json_real(ev->t_idle));
    json_object_set_new(b, "dp_comm_s", json_real(ev->t_dp));
    json_object_set_new(b, "optimizer_s", json_real(ev->t_optim));
    json_object_set_new(o, "breakdown", b);
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
         "bubble_ratio,%s,mfu,fits,reason,tp,cp,recompute,"
         "distributed_optimizer,status,compute_s,tp_cp_comm_s,"
         "pipeline_idle_s,dp_comm_s,optimizer_s\n",
         sm->active ? "tokens_per_second" : "throughput",
         sm->active ? "iteration_seconds" : "iteration_time",
         sm->active ? "peak_gib" : "peak_activation_units");
}

static const char *status_name(int st)
{
  switch (st) {
  case PL_SWEEP_OK: return "ok";
  case PL_SWEEP_PRUNED: return "pruned";
  case PL_SWEEP_SKIPPED: return "skipped";
  default: return "rejected";
  }
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
  printf("\",%d,%d,%s,%s,%s,%.6g,%.6g,%.6g,%.6g,%.6g\n", pt->tp, pt->cp,
         pl_recompute_name(pt->recompute), pt->dist_opt ? "true" : "false",
         status_name(ev->status), ev->t_compute, ev->t_tp, ev->t_idle,
         ev->t_dp, ev->t_optim);
}

void sweepmodel_table(const struct sweepmodel *sm, const char *unit,
                      const pl_sweep_point *pts, const pl_sweep_eval *evs,
                      const size_t *order, size_t rows)
{
  /* The schedule column fits the longest name shown. */
  int nw = 12;
  for (size_t r = 0; r < rows; r++) {
    int l = (int)strlen(pts[order[r]].schedule);
    nw = l > nw ? l : nw;
  }
  if (sm->active) {
    printf("%4s %-*s %2s %2s %3s %2s %4s %3s %5s %-9s %2s %12s %10s %10s %6s"
           " | %6s %6s %6s %6s %6s\n",
           "#", nw, "schedule", "tp", "cp", "pp", "v", "dp", "mb", "m",
           "recompute", "do", "tokens/s/GPU", "iteration", "peak", "MFU",
           "comp%", "TP%", "idle%", "DP%", "opt%");
    for (size_t r = 0; r < rows; r++) {
      const pl_sweep_point *pt = &pts[order[r]];
      const pl_sweep_eval *ev = &evs[order[r]];
      printf("%4zu %-*s %2d %2d %3d %2d %4d %3d %5d %-9s %2s ", r + 1, nw,
             pt->schedule, pt->tp, pt->cp, pt->p, pt->v, pt->dp, pt->mb_size,
             pt->m, pl_recompute_name(pt->recompute),
             pt->dist_opt ? "y" : "n");
      if (ev->status == PL_SWEEP_OK) {
        double gpus = (double)pt->tp * pt->cp * pt->p * pt->dp;
        double it = ev->iteration_time > 0 ? ev->iteration_time : 1;
        /* A model point's iteration is in seconds, its peak in bytes. */
        printf("%12s %10s %10s %5.1f%% | %5.1f%% %5.1f%% %5.1f%% %5.1f%% "
               "%5.1f%%\n",
               cli_num(ev->throughput / gpus), cli_dur(ev->iteration_time, "s"),
               cli_size(ev->peak_mem), 100 * ev->mfu,
               100 * ev->t_compute / it, 100 * ev->t_tp / it,
               100 * ev->t_idle / it, 100 * ev->t_dp / it,
               100 * ev->t_optim / it);
      } else {
        printf("%s: %s\n", status_name(ev->status), ev->reason);
      }
    }
    return;
  }
  printf("%4s %-*s %3s %5s %3s %2s %4s %14s %12s %8s %12s %6s\n", "#",
         nw, "schedule", "p", "m", "mb", "v", "dp", unit, "iteration", "bubble",
         "peak units", "MFU");
  for (size_t r = 0; r < rows; r++) {
    const pl_sweep_point *pt = &pts[order[r]];
    const pl_sweep_eval *ev = &evs[order[r]];
    printf("%4zu %-*s %3d %5d %3d %2d %4d ", r + 1, nw, pt->schedule, pt->p,
           pt->m, pt->mb_size, pt->v, pt->dp);
    if (ev->status == PL_SWEEP_OK)
      printf("%14s %12s %7.2f%% %12s %5.1f%%\n", cli_num(ev->throughput),
             cli_num(ev->iteration_time), 100 * ev->bubble_ratio,
             cli_num(ev->peak_mem), 100 * ev->mfu);
    else
      printf("%s: %s\n", status_name(ev->status), ev->reason);
  }
}

void sweepmodel_free(struct sweepmodel *sm)
{
  pl_sweep_pricer_close(sm->pricer);
  sm->pricer = NULL;
  modelopts_close(&sm->mo);
}
