/*
 * bench_fidelity.c: how close are the predicted iteration times to published
 * measured runs? Reads bench/data/published_runs.csv (Korthikanti et al.
 * 2022 Table 5, Narayanan et al. SC21 Table 1; bench/data/README.md has the
 * citations and every setting), prices each row with the kernel-level cost
 * model and the built-in GPU catalog (one set of constants per GPU kind, no
 * per-row fitting), simulates the row's schedule and prints per row the
 * predicted and measured seconds, the error and where the predicted time
 * goes; then per source: rows, median and max |error|, signed median.
 *
 * usage: bench_fidelity [runs.csv] [--db <path>]   (default: the file above
 *        next to the source tree, and an in-memory catalog)
 * Not a test: it prints figures; docs/cost-model.md records them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/models.h"
#include "pipelab/sim.h"

#include "bench_csv.h"

#ifndef PL_SOURCE_DIR
#define PL_SOURCE_DIR "."
#endif

#define MAXF 32
#define MAXROWS 256

struct row {
  char source[64], model[64], gpu[32], recompute[16], schedule[32],
      precision[8];
  int layers, hidden, heads, ffn, seq, vocab, tp, pp, dp, vpp, mb, m, sp;
  int fusion; /* gradient-accumulation fusion on */
  double measured, calculon;
};

static int load(const char *path, struct row *rows, int *nrows)
{
  struct bench_csv c;
  if (bench_csv_open(&c, "bench_fidelity", path))
    return 1;
  int nh = c.r.nf;
  const char *need[] = {"source", "model", "layers", "hidden", "heads", "ffn",
                        "seq", "vocab", "gpu", "tp", "pp", "dp", "vpp",
                        "micro_batch", "num_microbatches", "recompute",
                        "seq_parallel", "schedule", "precision",
                        "measured_iter_s", "calculon_pred_s",
                        "grad_accum_fusion"};
  int ix[22];
  for (int i = 0; i < 22; i++)
    if ((ix[i] = bench_csv_col(c.r.f, nh, need[i])) < 0) {
      fprintf(stderr, "bench_fidelity: '%s' lacks column %s\n", path, need[i]);
      bench_csv_close(&c);
      return 1;
    }
  int n = 0, got = 0;
  while (n < MAXROWS && (got = bench_csv_next(&c)) > 0) {
    char **f = c.r.f;
    if (c.r.nf != nh) {
      fprintf(stderr, "bench_fidelity: '%s': a row has the wrong field count\n",
              path);
      bench_csv_close(&c);
      return 1;
    }
    struct row *r = &rows[n++];
    memset(r, 0, sizeof *r);
    snprintf(r->source, sizeof r->source, "%s", f[ix[0]]);
    snprintf(r->model, sizeof r->model, "%s", f[ix[1]]);
    r->layers = atoi(f[ix[2]]);
    r->hidden = atoi(f[ix[3]]);
    r->heads = atoi(f[ix[4]]);
    r->ffn = atoi(f[ix[5]]);
    r->seq = atoi(f[ix[6]]);
    r->vocab = atoi(f[ix[7]]);
    snprintf(r->gpu, sizeof r->gpu, "%s", f[ix[8]]);
    r->tp = atoi(f[ix[9]]);
    r->pp = atoi(f[ix[10]]);
    r->dp = atoi(f[ix[11]]);
    r->vpp = atoi(f[ix[12]]);
    r->mb = atoi(f[ix[13]]);
    r->m = atoi(f[ix[14]]);
    snprintf(r->recompute, sizeof r->recompute, "%s", f[ix[15]]);
    r->sp = !strcmp(f[ix[16]], "on");
    snprintf(r->schedule, sizeof r->schedule, "%s", f[ix[17]]);
    snprintf(r->precision, sizeof r->precision, "%s", f[ix[18]]);
    r->measured = atof(f[ix[19]]);
    r->calculon = f[ix[20]][0] ? atof(f[ix[20]]) : 0;
    r->fusion = strcmp(f[ix[21]], "off") != 0;
  }
  bench_csv_close(&c);
  if (got < 0)
    return 1;
  *nrows = n;
  return 0;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Predicts one row: iteration seconds and the breakdown. */
static int predict(pl_db *db, const struct row *rw, pl_breakdown *bd,
                   struct pl_errbuf *eb)
{
  pl_model_spec m;
  pl_gpu_spec g;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "row");
  m.arch = PL_ARCH_GPT;
  m.layers = rw->layers;
  m.hidden = rw->hidden;
  m.heads = m.kv_heads = rw->heads;
  m.ffn = rw->ffn;
  m.vocab = rw->vocab;
  m.seq_len = rw->seq;
  m.tied_embeddings = 1;
  m.learned_pos = 1;
  int rc = pl_db_get_gpu(db, rw->gpu, &g, eb);
  if (rc)
    return rc;
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.mb_size = rw->mb;
  cfg.tp = rw->tp;
  cfg.dp = rw->dp;
  cfg.seq_parallel = rw->sp;
  cfg.recompute = !strcmp(rw->recompute, "full")        ? PL_RECOMPUTE_FULL
                  : !strcmp(rw->recompute, "selective") ? PL_RECOMPUTE_SELECTIVE
                                                        : PL_RECOMPUTE_NONE;
  cfg.no_grad_accum_fusion = !rw->fusion;
  cfg.precision = pl_precision_parse(rw->precision);
  if (cfg.precision < 0)
    return pl_errf(eb, PL_EINVAL, "unknown precision '%s'", rw->precision);
  /* Megatron of 2021-22: fused softmax (no flash attention), gradients
   * all-reduced after the backward (no overlap), no distributed optimizer. */
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = rw->pp;
  gp.m = rw->m;
  gp.v = rw->vpp;
  const char *gen = rw->vpp > 1 ? "interleaved" : "1f1b";
  pl_sched *s = NULL;
  pl_costs *c = NULL, *c0 = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  pl_result r = PL_RESULT_INIT, r0 = PL_RESULT_INIT;
  if ((rc = pl_sched_gen(gen, &gp, &s, eb)) ||
      (rc = pl_cost_build(db, &m, &g, &cfg, s, &c, &plan, eb)))
    goto out;
  /* Megatron without overlap_p2p_comm: send/receive pairs batched and
   * waited on by both ranks (docs/transfers.md). */
  c->p2p_mode = PL_P2P_BATCHED;
  if ((rc = pl_sim_run(s, c, 0, &r, eb)))
    goto out;
  /* the same pipeline with free transfers: tells P2P from bubbles */
  if ((rc = pl_costs_clone(c, 1, &c0)))
    goto out;
  if ((rc = pl_sim_run(s, c0, 0, &r0, eb)) ||
      (rc = pl_model_breakdown(&plan, s, &r, &r0, bd)))
    goto out;
out:
  pl_result_free(&r);
  pl_result_free(&r0);
  pl_costs_destroy(c);
  pl_costs_destroy(c0);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
  return rc;
}

int main(int argc, char **argv)
{
  const char *path = PL_SOURCE_DIR "/bench/data/published_runs.csv";
  const char *dbp = ":memory:";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc)
      dbp = argv[++i];
    else if (argv[i][0] != '-')
      path = argv[i];
    else {
      fprintf(stderr, "usage: bench_fidelity [runs.csv] [--db <path>]\n");
      return 2;
    }
  }
  static struct row rows[MAXROWS];
  int n = 0;
  if (load(path, rows, &n))
    return 1;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = NULL;
  if (pl_db_open(dbp, 0, 0, &db, &eb)) {
    fprintf(stderr, "bench_fidelity: %s\n", eb.msg);
    return 1;
  }
  printf("%-18s %-20s %3s %3s %3s %2s %4s %-9s | %8s %8s %7s %7s | %5s %5s %5s "
         "%5s %5s %5s %5s | %5s\n",
         "source", "model", "tp", "pp", "dp", "v", "m", "recompute", "pred s",
         "meas s", "err %", "calc %", "comp", "tp", "p2p", "bubbl", "dp",
         "optim", "mem", "MFU");
  char srcs[8][64];
  int nsrc = 0;
  static double err[MAXROWS], cerr[MAXROWS];
  static int srci[MAXROWS];
  for (int i = 0; i < n; i++) {
    const struct row *rw = &rows[i];
    pl_breakdown bd;
    if (predict(db, rw, &bd, &eb)) {
      fprintf(stderr, "bench_fidelity: row %d (%s): %s\n", i + 2, rw->model,
              eb.msg);
      pl_db_close(db);
      return 1;
    }
    double pred = bd.iteration_us / 1e6, it = bd.iteration_us;
    err[i] = 100 * (pred - rw->measured) / rw->measured;
    cerr[i] = rw->calculon > 0 ? 100 * (rw->calculon - rw->measured) /
                                     rw->measured
                               : NAN;
    int k;
    for (k = 0; k < nsrc && strcmp(srcs[k], rw->source); k++)
      ;
    if (k == nsrc && nsrc < 8) {
      memcpy(srcs[nsrc], rw->source, sizeof srcs[0]);
      srcs[nsrc++][sizeof srcs[0] - 1] = 0;
    }
    srci[i] = k;
    char mname[21];
    snprintf(mname, sizeof mname, "%s", rw->model);
    printf("%-18.18s %-20s %3d %3d %3d %2d %4d %-9s | %8.3f %8.3f %+7.2f ",
           rw->source, mname, rw->tp, rw->pp, rw->dp, rw->vpp, rw->m,
           rw->recompute, pred, rw->measured, err[i]);
    if (isnan(cerr[i]))
      printf("%7s", "");
    else
      printf("%+7.2f", cerr[i]);
    printf(" | %4.1f%% %4.1f%% %4.1f%% %4.1f%% %4.1f%% %4.1f%% %4.1f%% | "
           "%4.1f%%\n",
           100 * bd.compute_us / it, 100 * (bd.tp_us + bd.cp_us) / it,
           100 * bd.pp_us / it, 100 * bd.bubble_us / it, 100 * bd.dp_us / it,
           100 * bd.optimizer_us / it, 100 * bd.mem_us / it, 100 * bd.mfu);
  }
  printf("\ncomp = GEMMs + attention + memory-bound kernels (mem = the "
         "memory-bound part alone),\ntp = exposed TP/CP collectives, p2p = "
         "pipeline transfers, bubbl = pipeline bubble,\ndp = exposed DP + "
         "tied-embedding reduce, optim = optimizer step; shares of the "
         "predicted time.\n\n");
  printf("%-20s %4s %10s %10s %12s %14s\n", "source", "rows",
         "median|e|%", "max|e|%", "signed med%", "Calculon med|e|%");
  int worst_ok = 1;
  for (int k = 0; k < nsrc; k++) {
    double a[MAXROWS], sgn[MAXROWS], c[MAXROWS];
    int na = 0, nc = 0;
    double mx = 0;
    for (int i = 0; i < n; i++) {
      if (srci[i] != k)
        continue;
      a[na] = fabs(err[i]);
      sgn[na++] = err[i];
      if (fabs(err[i]) > mx)
        mx = fabs(err[i]);
      if (!isnan(cerr[i]))
        c[nc++] = fabs(cerr[i]);
    }
    double med = median(a, na), smed = median(sgn, na);
    printf("%-20s %4d %10.2f %10.2f %+12.2f ", srcs[k], na, med, mx, smed);
    if (nc)
      printf("%14.2f\n", median(c, nc));
    else
      printf("%14s\n", "-");
    if (med > 5 || mx > 12)
      worst_ok = 0;
  }
  printf("\ntarget per source: median |error| <= 5%%, max <= 12%%: %s\n",
         worst_ok ? "met" : "NOT met");
  pl_db_close(db);
  return 0;
}
