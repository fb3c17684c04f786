/* bench_zbrank.c: does pipelab rank schedules as the Zero Bubble paper
 * measured them? (Not a test.)
 *
 * Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024 (arXiv
 * 2401.10241), Table 4: measured throughput of 1F1B, 1F1B-I (interleaved,
 * chunks = layers / p), ZB-1p and ZB-2p for four GPT models on 8 to 32
 * A100s. pipelab is fed the authors' profiled per-stage T_F, T_B, T_W and
 * T_comm (the inputs of their Table 3) and nothing else; per (model, p, m)
 * and schedule it prints the predicted and measured speedup over 1F1B, the
 * error in percentage points and whether the ranking agrees, then the
 * median and max |speedup error| and the ranking agreement wherever the
 * measured gap exceeds 2 %. Data and citation: bench/data/README.md.
 *
 * Each schedule runs under the P2P mode and optimizer mode of the runtime
 * that ran it (docs/transfers.md): 1F1B and 1F1B-I are Megatron-LM's own
 * loops, launched with --no-overlap-p2p-communication, so batch_isend_irecv
 * + wait (batched P2P) and a synchronous optimizer step; ZB-1p and ZB-2p
 * are the authors' runtime, which posts its sends and receives without
 * waiting and waits for a receive only before the op that needs it (async
 * P2P), with optimizer post-validation. `--p2p MODE` forces one mode on
 * every schedule instead (for comparison).
 *
 * usage: bench_zbrank [--p2p async|blocking|batched] [data dir]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"

#include "bench_csv.h"

#define MAXC 16

struct model {
  char name[16];
  int layers, hidden, heads, seq;
};

struct cas {
  char model[16];
  int p, m;
  double tf, tb, tw, comm;
  double thr[4]; /* measured samples/GPU/s: 1F1B, 1F1B-I, ZB-1p, ZB-2p */
  int gpus, mbs;  /* GPUs, microbatch size (samples per microbatch) */
};

static const char *const sched_label[4] = {"1F1B", "1F1B-I", "ZB-1p",
                                           "ZB-2p"};

/* Opens a data file and maps the named columns of its header (want[],
 * nwant of them) to field indices in ix[]; -1 with a message if the file
 * or a column is missing. */
static int open_csv(struct bench_csv *c, const char *dir, const char *name,
                    const char *const *want, int nwant, int *ix)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (bench_csv_open(c, "bench_zbrank", path))
    return -1;
  for (int i = 0; i < nwant; i++)
    if ((ix[i] = bench_csv_col(c->r.f, c->r.nf, want[i])) < 0) {
      fprintf(stderr, "bench_zbrank: %s lacks column %s\n", name, want[i]);
      bench_csv_close(c);
      return -1;
    }
  return 0;
}

static int load(const char *dir, struct model *mod, int *nmod, struct cas *cs,
                int *ncs)
{
  struct bench_csv c;
  char **f;
  int ix[9], got = 0;
  static const char *const mcols[] = {"model", "layers", "hidden", "heads",
                                      "seq"};
  if (open_csv(&c, dir, "zb_paper_models.csv", mcols, 5, ix))
    return -1;
  *nmod = 0;
  while (*nmod < MAXC && (got = bench_csv_next(&c)) > 0)
    if (c.r.nf >= 5) {
      f = c.r.f;
      struct model *m = &mod[(*nmod)++];
      snprintf(m->name, sizeof m->name, "%s", f[ix[0]]);
      m->layers = atoi(f[ix[1]]);
      m->hidden = atoi(f[ix[2]]);
      m->heads = atoi(f[ix[3]]);
      m->seq = atoi(f[ix[4]]);
    }
  bench_csv_close(&c);
  if (got < 0)
    return -1;

  static const char *const tcols[] = {"model", "p", "m", "quantity",
                                      "value_us"};
  if (open_csv(&c, dir, "zb_paper_profiled_times.csv", tcols, 5, ix))
    return -1;
  *ncs = 0;
  while ((got = bench_csv_next(&c)) > 0) {
    if (c.r.nf < 5)
      continue;
    f = c.r.f;
    int p = atoi(f[ix[1]]), m = atoi(f[ix[2]]), k;
    for (k = 0; k < *ncs; k++)
      if (!strcmp(cs[k].model, f[ix[0]]) && cs[k].p == p && cs[k].m == m)
        break;
    if (k == *ncs) {
      if (*ncs == MAXC)
        continue;
      memset(&cs[k], 0, sizeof cs[k]);
      snprintf(cs[k].model, sizeof cs[k].model, "%s", f[ix[0]]);
      cs[k].p = p;
      cs[k].m = m;
      (*ncs)++;
    }
    double v = atof(f[ix[4]]);
    const char *q = f[ix[3]];
    if (!strcmp(q, "T_F")) cs[k].tf = v;
    else if (!strcmp(q, "T_B")) cs[k].tb = v;
    else if (!strcmp(q, "T_W")) cs[k].tw = v;
    else if (!strcmp(q, "T_comm")) cs[k].comm = v;
  }
  bench_csv_close(&c);
  if (got < 0)
    return -1;

  static const char *const xcols[] = {"model", "gpus", "p", "m",
                                      "microbatch_size", "schedule",
                                      "quantity", "value"};
  if (open_csv(&c, dir, "zb_paper_measured.csv", xcols, 8, ix))
    return -1;
  while ((got = bench_csv_next(&c)) > 0) {
    f = c.r.f;
    if (c.r.nf < 8 || strcmp(f[ix[6]], "throughput"))
      continue;
    int p = atoi(f[ix[2]]), m = atoi(f[ix[3]]), s = -1;
    for (int j = 0; j < 4; j++)
      if (!strcmp(f[ix[5]], sched_label[j]))
        s = j;
    for (int k = 0; k < *ncs && s >= 0; k++)
      if (!strcmp(cs[k].model, f[ix[0]]) && cs[k].p == p && cs[k].m == m) {
        cs[k].thr[s] = atof(f[ix[7]]);
        cs[k].gpus = atoi(f[ix[1]]);
        cs[k].mbs = atoi(f[ix[4]]);
      }
  }
  bench_csv_close(&c);
  return got < 0 ? -1 : 0;
}

/* Iteration time (µs) of schedule j for case c, or -1 with eb set. */
static double predict(const struct cas *c, const struct model *md, int j,
                      int force_mode, struct pl_errbuf *eb)
{
  static const char *const gen[4] = {"1f1b", "interleaved", "zb-auto",
                                     "zb-auto"};
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = c->p;
  gp.m = c->m;
  gp.tf = c->tf;
  gp.tb = c->tb;
  gp.tw = c->tw;
  gp.comm = c->comm;
  /* M_W / M_B of one layer (ZB paper, Table 1): 32h / (34h + 5as). */
  gp.mem_w_frac = 32.0 * md->hidden /
                  (34.0 * md->hidden + 5.0 * md->heads * (double)md->seq);
  if (j == 1)
    gp.v = md->layers / c->p;
  if (j == 2)
    gp.mem_limit = c->p;
  if (j == 3)
    gp.mem_limit = 2.0 * c->p;
  pl_sched *s = NULL;
  pl_costs *k = NULL;
  pl_result r = PL_RESULT_INIT;
  double t = -1;
  if (pl_sched_gen(gen[j], &gp, &s, eb) ||
      pl_costs_create(pl_sched_stages(s), c->p, &k) ||
      pl_costs_uniform(k, pl_sched_chunks(s), c->tf, c->tb, c->tw, c->comm,
                       gp.mem_w_frac))
    goto out;
  /* The runtime that ran it: Megatron's loops (batched, synchronous step)
   * for the baselines, the authors' runtime (async, post-validation). */
  k->p2p_mode = force_mode >= 0 ? force_mode
                : j < 2         ? PL_P2P_BATCHED
                                : PL_P2P_ASYNC;
  if (pl_sim_run(s, k, 0, &r, eb))
    goto out;
  t = pl_iteration_time(&r, j < 2 ? PL_OPTIM_SYNC : PL_OPTIM_POST_VALIDATE, 0);
out:
  pl_result_free(&r);
  pl_costs_destroy(k);
  pl_sched_destroy(s);
  return t;
}

/* Least-squares line t = a + b m through n points; 0 or -1 (n < 2 or one
 * m only). */
static int line_fit(const double *m, const double *t, int n, double *a,
                    double *b)
{
  double sm = 0, st = 0, smm = 0, smt = 0;
  for (int i = 0; i < n; i++) {
    sm += m[i];
    st += t[i];
    smm += m[i] * m[i];
    smt += m[i] * t[i];
  }
  double den = n * smm - sm * sm;
  if (n < 2 || den <= 0)
    return -1;
  *b = (n * smt - sm * st) / den;
  *a = (st - *b * sm) / n;
  return 0;
}

/* Where the error sits, from the measurements alone: per model and
 * schedule, the iteration time as a line over m. The slope is the
 * steady-state cost of one microbatch on the busiest rank, the intercept
 * the fixed part (fill and drain, step); both are printed for the
 * prediction and the measurement, and the slope is compared with the
 * profiled T_F + T_B + T_W of one stage. */
static void steady_state(const struct cas *cs, int ncs, const int *okc,
                         double tpred[][4], double tmeas[][4])
{
  printf("\nper microbatch (least-squares slope of the iteration time over "
         "m) and fixed part (its intercept), per model:\n");
  printf("%-6s %3s %-7s %3s %10s %10s %7s %10s %10s %10s\n", "model", "p",
         "sched", "n", "F+B+W us", "pred us", "meas us", "meas/FBW",
         "pred fix ms", "meas fix ms");
  int done[MAXC] = {0};
  for (int k = 0; k < ncs; k++) {
    if (!okc[k] || done[k])
      continue;
    double mm[MAXC], fbw = 0;
    int idx[MAXC], n = 0;
    for (int i = k; i < ncs; i++)
      if (okc[i] && !strcmp(cs[i].model, cs[k].model) && cs[i].p == cs[k].p) {
        done[i] = 1;
        idx[n] = i;
        mm[n++] = cs[i].m;
        fbw += cs[i].tf + cs[i].tb + cs[i].tw;
      }
    fbw /= n;
    for (int j = 0; j < 4; j++) {
      double tp[MAXC], tm[MAXC], ap, bp, am, bm;
      for (int i = 0; i < n; i++) {
        tp[i] = tpred[idx[i]][j];
        tm[i] = tmeas[idx[i]][j];
      }
      if (line_fit(mm, tp, n, &ap, &bp) || line_fit(mm, tm, n, &am, &bm))
        continue;
      printf("%-6s %3d %-7s %3d %10.0f %10.0f %7.0f %10.3f %10.1f %10.1f\n",
             cs[k].model, cs[k].p, sched_label[j], n, fbw, bp, bm, bm / fbw,
             ap / 1e3, am / 1e3);
    }
  }
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  const char *dir = PL_SOURCE_DIR "/bench/data";
  int force = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--p2p") && i + 1 < argc) {
      force = pl_p2p_mode_parse(argv[++i]);
      if (force < 0) {
        fprintf(stderr, "bench_zbrank: --p2p async|blocking|batched\n");
        return 2;
      }
    } else if (argv[i][0] != '-') {
      dir = argv[i];
    } else {
      fprintf(stderr, "usage: bench_zbrank [--p2p async|blocking|batched] "
                      "[data dir]\n");
      return 2;
    }
  }
  struct model mod[MAXC];
  struct cas cs[MAXC];
  int nmod, ncs;
  if (load(dir, mod, &nmod, cs, &ncs))
    return 1;

  printf("Zero Bubble paper, Table 4 (measured) vs pipelab fed the profiled "
         "T_F, T_B, T_W, T_comm\n");
  if (force >= 0)
    printf("P2P mode forced: %s on every schedule\n", pl_p2p_mode_name(force));
  else
    printf("P2P: 1F1B, 1F1B-I batched (Megatron-LM, no overlap), sync step; "
           "ZB-1p, ZB-2p async (ZB runtime), post-validation\n");
  printf("speedup = throughput / 1F1B's; err = predicted - measured, "
         "percentage points\n\n");
  printf("%-6s %3s %4s %-7s %3s %11s %11s %6s %8s %8s %7s  %s\n", "model", "p",
         "m", "sched", "v", "pred (us)", "meas (us)", "gap %", "pred x",
         "meas x", "err pp", "ranking");

  double errs[4 * MAXC], by[4][MAXC], gap[4][MAXC];
  double tpred[MAXC][4], tmeas[MAXC][4]; /* iteration times (µs) per case */
  int okc[MAXC] = {0};
  int nerr = 0, nby = 0, pairs = 0, agree = 0, failed = 0;
  for (int k = 0; k < ncs; k++) {
    const struct cas *c = &cs[k];
    const struct model *md = NULL;
    for (int i = 0; i < nmod; i++)
      if (!strcmp(mod[i].name, c->model))
        md = &mod[i];
    if (!md || c->thr[0] <= 0) {
      fprintf(stderr, "bench_zbrank: %s p=%d m=%d: incomplete data\n",
              c->model, c->p, c->m);
      failed++;
      continue;
    }
    double t[4], pred[4], meas[4];
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    int ok = 1;
    for (int j = 0; j < 4; j++) {
      t[j] = predict(c, md, j, force, &eb);
      if (t[j] <= 0) {
        printf("%-6s %3d %4d %-7s     %s\n", c->model, c->p, c->m,
               sched_label[j], eb.msg);
        ok = 0;
      }
    }
    if (!ok) {
      failed++;
      continue;
    }
    for (int j = 0; j < 4; j++) {
      pred[j] = t[0] / t[j];
      meas[j] = c->thr[j] / c->thr[0];
    }
    /* Pairwise ranking where the measured throughputs differ by > 2 %. */
    int cp = 0, ca = 0;
    for (int a = 0; a < 4; a++)
      for (int b = a + 1; b < 4; b++) {
        double lo = meas[a] < meas[b] ? meas[a] : meas[b];
        if (fabs(meas[a] - meas[b]) / lo <= 0.02)
          continue;
        cp++;
        ca += (pred[a] - pred[b]) * (meas[a] - meas[b]) > 0;
      }
    pairs += cp;
    agree += ca;
    for (int j = 0; j < 4; j++) {
      double e = 100.0 * (pred[j] - meas[j]);
      /* Measured iteration: m microbatches of mbs samples per pipeline,
       * gpus / p pipelines, thr samples per GPU per second. */
      double it = c->m * (double)c->mbs / (c->thr[j] * c->p) * 1e6;
      char rk[48] = "";
      if (j == 3)
        snprintf(rk, sizeof rk, "%s (%d/%d pairs)",
                 ca == cp ? "agrees" : "DIFFERS", ca, cp);
      printf("%-6s %3d %4d %-7s %3d %11.0f %11.0f %+6.1f %8.4f %8.4f %+7.2f  "
             "%s\n",
             c->model, c->p, c->m, sched_label[j],
             j == 1 ? md->layers / c->p : 1, t[j], it,
             100.0 * (it - t[j]) / it, pred[j], meas[j], j ? e : 0.0, rk);
      if (j)
        errs[nerr++] = fabs(e);
      tpred[k][j] = t[j];
      tmeas[k][j] = it;
      by[j][nby] = e;
      gap[j][nby] = 100.0 * (it - t[j]) / it;
    }
    okc[k] = 1;
    nby++;
  }
  if (!nerr) {
    printf("no case could be predicted\n");
    return 1;
  }
  qsort(errs, (size_t)nerr, sizeof *errs, cmp_d);
  double med = nerr % 2 ? errs[nerr / 2]
                        : 0.5 * (errs[nerr / 2 - 1] + errs[nerr / 2]);
  printf("\nsummary: %d speedups over %d cases; |speedup error| median %.2f "
         "pp, max %.2f pp (target: median <= 2, max <= 5)\n",
         nerr, ncs - failed, med, errs[nerr - 1]);
  printf("ranking: %d of %d schedule pairs whose measured throughputs differ "
         "by more than 2 %% are ordered as measured\n",
         agree, pairs);
  /* Where the error sits: the signed speedup error and the share of the
   * measured iteration that the simulation does not explain (gap), per
   * schedule, as medians over the cases. */
  printf("per schedule (medians over the cases): ");
  for (int j = 0; j < 4; j++) {
    double e[MAXC], g[MAXC];
    memcpy(e, by[j], (size_t)nby * sizeof *e);
    memcpy(g, gap[j], (size_t)nby * sizeof *g);
    qsort(e, (size_t)nby, sizeof *e, cmp_d);
    qsort(g, (size_t)nby, sizeof *g, cmp_d);
    double me = nby % 2 ? e[nby / 2] : 0.5 * (e[nby / 2 - 1] + e[nby / 2]);
    double mg = nby % 2 ? g[nby / 2] : 0.5 * (g[nby / 2 - 1] + g[nby / 2]);
    if (j)
      printf("%s err %+.2f pp, gap %.1f %%%s", sched_label[j], me, mg,
             j < 3 ? "; " : "\n");
    else
      printf("%s gap %.1f %%; ", sched_label[j], mg);
  }
  steady_state(cs, ncs, okc, tpred, tmeas);
  return failed ? 1 : 0;
}
