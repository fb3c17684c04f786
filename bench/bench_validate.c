/*
 * bench_validate.c: does the simulator predict what the executor measures?
 * Calibrates the CPU backend (one layer: F, B, W, BW, input, loss, P2P),
 * builds the cost table from it, simulates every schedule of the generator
 * table at p = 2 and p = 4, runs each for real on the CPU backend (one
 * warm-up run, then the median of `runs` measured runs by makespan) and
 * prints the relative error of the iteration time (makespan) and the
 * absolute error of the bubble ratio. Also checks that the measured peak
 * activation bytes equal the prediction (they must, exactly).
 *
 * usage: bench_validate [hidden [seq [runs]]]   (defaults 128 128 3)
 *        bench_validate --cross [hidden [seq [runs]]]
 *        bench_validate --cross --paired [hidden [seq [runs]]]
 * --cross: the closed loop of learned costs (docs/learned-costs.md):
 * profile 1F1B at p = 2 with the executor, learn its costs (pl_learn_fit;
 * the B share of its BW ops from a microbenchmark of the same layer),
 * predict every other schedule at p = 2 from them, run each, and print the
 * iteration error, the bubble-ratio difference and their median / max.
 * PL_BENCH_ONLY=a,b limits the paired mode to those schedules.
 * With PL_BENCH_SAVE=DIR in the environment it also saves the profile and
 * every predicted and measured result as DIR/<schedule>.{pred,real}.json
 * (for `pipelab compare`).
 * Not a test: timings depend on the machine and its load.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/exec.h"
#include "pipelab/models.h"
#include "pipelab/traces.h"

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void loadavg(char *buf, size_t len)
{
  FILE *f = fopen("/proc/loadavg", "r");
  buf[0] = 0;
  if (f) {
    if (!fgets(buf, (int)len, f))
      buf[0] = 0;
    fclose(f);
  }
  buf[strcspn(buf, "\n")] = 0;
}

/* The median run (by makespan) of `runs` measured runs after one
 * discarded; *out receives it (free with pl_result_free). */
static int run_median(const pl_sched *s, const pl_workload *w, int runs,
                      pl_result *out, struct pl_errbuf *eb)
{
  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.warmup = 2;
  o.flags = PL_EXEC_RECORD_OPS; /* the profile's per-op rows */
  pl_result res[16];
  double ms[16];
  int rc = 0, k = 1;
  for (int i = 0; i <= runs; i++) {
    pl_result z = PL_RESULT_INIT;
    res[i] = z;
  }
  for (int i = 0; i <= runs && !rc; i++) {
    rc = pl_exec_run(s, w, &o, &res[i], NULL, eb);
    ms[i] = res[i].makespan;
  }
  if (!rc) {
    double sorted[16];
    memcpy(sorted, ms + 1, (size_t)runs * sizeof *ms);
    qsort(sorted, (size_t)runs, sizeof *sorted, cmp_double);
    for (int i = 1; i <= runs; i++)
      if (ms[i] == sorted[runs / 2])
        k = i;
    *out = res[k];
    pl_result z = PL_RESULT_INIT;
    res[k] = z;
  }
  for (int i = 0; i <= runs; i++)
    pl_result_free(&res[i]);
  return rc;
}

/* Saves r as dir/name.what.json when dir is set; a failure is reported on
 * stderr and does not stop the benchmark. */
static void save_result(const char *dir, const char *name, const char *what,
                        const pl_result *r)
{
  if (!dir || !*dir)
    return;
  char path[1024];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  snprintf(path, sizeof path, "%s/%s.%s.json", dir, name, what);
  if (pl_result_save(r, path, &eb))
    fprintf(stderr, "bench_validate: %s\n", eb.msg);
}

/* Median / max |iteration error| and max |bubble difference| of n
 * schedules, against the targets. */
static void summary(const double *errs, const double *bubs, int n)
{
  if (!n)
    return;
  double a[64], mx = 0, bmx = 0, sum = 0;
  for (int i = 0; i < n; i++) {
    a[i] = fabs(errs[i]);
    mx = fmax(mx, a[i]);
    bmx = fmax(bmx, fabs(bubs[i]));
    sum += errs[i];
  }
  qsort(a, (size_t)n, sizeof *a, cmp_double);
  double med = n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
  printf("%d schedules: median |err| %.1f %%, max |err| %.1f %%, mean signed "
         "err %+.1f %%, max |bubble diff| %.1f pp (targets on an idle "
         "machine: 2 %%, 4 %%, 1 pp)\n", n, med, mx, sum / n, bmx);
}

/* What both closed loops start from: the workload of the profile (4
 * layers: 2 per stage, 1 per chunk at v = 2; m microbatches), the B share
 * of a full backward from a microbenchmark of one layer (the only figure
 * not taken from the profile) and the 1F1B schedule at p. 0, or 1 with a
 * message. */
static int cross_setup(int hidden, int seq, int p, int m, pl_workload *w,
                       double *b_frac, pl_sched **s1)
{
  pl_workload z = PL_WORKLOAD_INIT;
  *w = z;
  w->hidden = hidden;
  w->seq = seq;
  w->mb_size = 1;
  w->layers = 1;
  w->microbatches = 1;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_calib cal;
  if (pl_exec_calibrate(w, PL_BACKEND_CPU, 3, 15, &cal, NULL, &eb)) {
    fprintf(stderr, "calibration failed: %s\n", eb.msg);
    return 1;
  }
  *b_frac = cal.t[PL_OP_B].mean / (cal.t[PL_OP_B].mean + cal.t[PL_OP_W].mean);
  w->layers = 4;
  w->microbatches = m;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = m;
  if (pl_sched_gen("1f1b", &gp, s1, &eb)) {
    fprintf(stderr, "1f1b: %s\n", eb.msg);
    return 1;
  }
  return 0;
}

/* How both loops learn: the B share from the microbenchmark, the message
 * size from w. cross_profile: a profile of s1 (median of `runs` runs) and
 * the costs learned from it; the caller frees *prof and *l. 0, or 1 with
 * a message. */
static pl_learn_opts cross_learn_opts(const pl_workload *w, double b_frac)
{
  pl_learn_opts lo = PL_LEARN_OPTS_INIT;
  lo.b_frac = b_frac;
  lo.msg_bytes = (double)pl_wl_msg_bytes(w);
  return lo;
}

static int cross_profile(const pl_sched *s1, const pl_workload *w, int runs,
                         double b_frac, pl_result *prof, pl_learned **l)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_learn_opts lo = cross_learn_opts(w, b_frac);
  const pl_result *it[1] = {prof};
  *l = NULL;
  if (run_median(s1, w, runs, prof, &eb) ||
      pl_learn_fit(it, 1, &lo, l, &eb)) {
    fprintf(stderr, "profile failed: %s\n", eb.msg);
    pl_result_free(prof);
    return 1;
  }
  return 0;
}

/* Whether name is one of the comma-separated names in list. */
static int in_list(const char *list, const char *name)
{
  size_t n = strlen(name);
  for (const char *t = list; *t;) {
    const char *e = strchr(t, ',');
    size_t len = e ? (size_t)(e - t) : strlen(t);
    if (len == n && !strncmp(t, name, n))
      return 1;
    if (!e)
      break;
    t = e + 1;
  }
  return 0;
}

/* Schedule `name` at (p, m), generated with the learned costs (the
 * searching generators order their ops by them); NULL after printing why
 * it cannot be. */
static pl_sched *gen_learned(const char *name, int p, int m,
                             const pl_learned *l, double b_frac)
{
  pl_gen_params g = PL_GEN_PARAMS_INIT;
  g.p = p;
  g.m = m;
  g.tf = l->stage[0].t[PL_OP_F].median;
  g.tb = b_frac * l->stage[0].t[PL_OP_BW].median;
  g.tw = l->stage[0].t[PL_OP_BW].median - g.tb;
  g.comm = l->comm.median;
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_sched_gen(name, &g, &s, &eb) || pl_sched_validate(s, &eb)) {
    printf("%-20s -- not generated: %s\n", name, eb.msg);
    pl_sched_destroy(s);
    return NULL;
  }
  return s;
}

static int cross(int hidden, int seq, int runs)
{
  const int p = 2, m = 4;
  char la0[128], la1[128];
  loadavg(la0, sizeof la0);
  pl_workload w;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  double b_frac;
  pl_sched *s1 = NULL;
  if (cross_setup(hidden, seq, p, m, &w, &b_frac, &s1))
    return 1;
  pl_result prof = PL_RESULT_INIT;
  pl_learned *l = NULL;
  int bad = cross_profile(s1, &w, runs, b_frac, &prof, &l);
  pl_sched_destroy(s1);
  if (bad)
    return 1;
  const char *save = getenv("PL_BENCH_SAVE");
  save_result(save, "1f1b", "real", &prof);
  printf("profile: 1f1b p=%d m=%d, %d layers, hidden %d, seq %d (median of "
         "%d runs, %.0f us); learned per stage F %.1f/%.1f BW %.1f/%.1f us, "
         "op overhead %.2f us, p2p %.2f us; B share %.3f (microbenchmark)\n",
         p, m, w.layers, hidden, seq, runs, prof.makespan,
         l->stage[0].t[PL_OP_F].median, l->stage[1].t[PL_OP_F].median,
         l->stage[0].t[PL_OP_BW].median, l->stage[1].t[PL_OP_BW].median,
         l->gap.median, l->comm.median, b_frac);
  pl_result_free(&prof);
  printf("%-20s %2s %3s %2s | %11s %11s %7s | %7s %7s %7s\n", "schedule",
         "p", "m", "v", "pred us", "meas us", "err %", "pred bub", "meas bub",
         "err pp");
  double errs[64], bubs[64];
  int n = 0;
  for (const pl_gen_info *gi = pl_gen_list(); gi->name && n < 64; gi++) {
    if (!strcmp(gi->name, "1f1b"))
      continue; /* the profiled one */
    pl_sched *s = gen_learned(gi->name, p, m, l, b_frac);
    if (!s)
      continue;
    pl_cost_request rq = PL_COST_REQUEST_INIT;
    rq.kind = PL_COSTS_LEARNED;
    rq.learned = l;
    pl_workload rw = w;
    rw.microbatches = pl_sched_microbatches(s);
    rq.workload = &rw;
    pl_costs *c = NULL;
    pl_result sim = PL_RESULT_INIT, real = PL_RESULT_INIT;
    if (pl_cost_provide(&rq, s, &c, NULL, &eb) ||
        pl_sim_run(s, c, 0, &sim, &eb)) {
      printf("%-20s -- simulate failed: %s\n", gi->name, eb.msg);
    } else if (run_median(s, &rw, runs, &real, &eb)) {
      printf("%-20s -- run failed: %s\n", gi->name, eb.msg);
    } else {
      save_result(save, gi->name, "pred", &sim);
      save_result(save, gi->name, "real", &real);
      errs[n] = 100.0 * (real.makespan - sim.makespan) / sim.makespan;
      bubs[n] = 100.0 * (real.bubble_ratio - sim.bubble_ratio);
      printf("%-20s %2d %3d %2d | %11.0f %11.0f %+7.1f | %7.3f %7.3f "
             "%+7.1f\n", gi->name, p, pl_sched_microbatches(s),
             pl_sched_chunks(s), sim.makespan, real.makespan, errs[n],
             sim.bubble_ratio, real.bubble_ratio, bubs[n]);
      n++;
    }
    pl_result_free(&sim);
    pl_result_free(&real);
    pl_costs_destroy(c);
    pl_sched_destroy(s);
  }
  pl_learned_free(l);
  loadavg(la1, sizeof la1);
  summary(errs, bubs, n);
  printf("load average before: %s; after: %s\n", la0, la1);
  return 0;
}

/* Rounds of the paired mode, one discarded included. */
#define PAIRED_MAX 128

static double median_of(const double *x, int n)
{
  double v[PAIRED_MAX];
  memcpy(v, x, (size_t)n * sizeof *v);
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double min_of(const double *x, int n)
{
  double m = x[0];
  for (int i = 1; i < n; i++)
    m = fmin(m, x[i]);
  return m;
}

static double max_of(const double *x, int n)
{
  double m = x[0];
  for (int i = 1; i < n; i++)
    m = fmax(m, x[i]);
  return m;
}

/* Prices s from the learned table: the median iteration of 400 trials
 * drawing op times from the profile's measured scatter (its quantiles) and
 * its bubble, and the deterministic run's. */
static int predict_learned(const pl_learned *l, const pl_sched *s,
                           const pl_workload *rw, double *t50, double *bub,
                           double *det, double *detbub, struct pl_errbuf *eb)
{
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_LEARNED;
  rq.learned = l;
  rq.workload = rw;
  pl_costs *c = NULL;
  pl_result a = PL_RESULT_INIT, b = PL_RESULT_INIT;
  pl_trials tr;
  int rc = pl_cost_provide(&rq, s, &c, NULL, eb);
  if (!rc)
    rc = pl_sim_run(s, c, 0, &a, eb);
  if (!rc) { /* the profile's measured scatter, its shape included */
    c->jitter = l->jitter;
    c->jitter_seed = 1;
    memcpy(c->jitter_q, l->jitter_q, sizeof c->jitter_q);
    c->n_jitter_q = l->n_jitter_q;
    rc = pl_sim_trials(s, c, 400, 0, PL_OPTIM_SYNC, 0, &b, &tr, eb);
  }
  if (!rc) {
    *t50 = tr.p50;
    *bub = b.bubble_ratio;
    *det = a.makespan;
    *detbub = a.bubble_ratio;
  }
  pl_result_free(&a);
  pl_result_free(&b);
  pl_costs_destroy(c);
  return rc;
}

/* One measured run of s (its warm-up iterations first); 0 or an error. */
static int run_once(const pl_sched *s, const pl_workload *w, pl_result *out,
                    struct pl_errbuf *eb)
{
  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.warmup = 2;
  o.flags = PL_EXEC_RECORD_OPS;
  return pl_exec_run(s, w, &o, out, NULL, eb);
}

/* --cross --paired: the same closed loop, with the profile taken next to
 * each prediction's check. A VM's speed drifts by several per cent over
 * minutes (docs/validation.md), so one profile at the start compares the
 * later schedules against a machine that has changed. Here each schedule
 * gets `runs` rounds of a 1F1B run and a run of it, in alternating order;
 * each round's 1F1B run is learned alone and predicts that round's run,
 * and the schedule's figures are the medians over its rounds. 1f1b itself
 * is the control: predicted from its neighbour, the error left is the
 * machine's. */
static int cross_paired(int hidden, int seq, int runs)
{
  const int p = 2, m = 4;
  char la0[128], la1[128];
  loadavg(la0, sizeof la0);
  pl_workload w;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  double b_frac;
  pl_sched *s1 = NULL;
  if (cross_setup(hidden, seq, p, m, &w, &b_frac, &s1))
    return 1;
  /* one profile first: the searching generators (zb-auto, zb-1p, ...)
   * order their ops by the costs, so each schedule is generated from it */
  pl_result prof0 = PL_RESULT_INIT;
  pl_learned *l0 = NULL;
  if (cross_profile(s1, &w, 3, b_frac, &prof0, &l0)) {
    pl_sched_destroy(s1);
    return 1;
  }
  pl_result_free(&prof0);
  const char *save = getenv("PL_BENCH_SAVE");
  printf("paired profiles: 1f1b p=%d m=%d, %d layers, hidden %d, seq %d; %d "
         "rounds of (1f1b, schedule) per schedule; B share %.3f "
         "(microbenchmark)\n", p, m, w.layers, hidden, seq, runs, b_frac);
  printf("per round: costs learned from that round's 1f1b run, the schedule "
         "predicted (median of 400 trials with the profile's op-time jitter, "
         "pl_sim_trials; det: the deterministic run) and compared with its "
         "run of the same round; medians over the rounds (1f1b: its own "
         "profile's neighbour, the control)\n");
  printf("%-20s %2s %3s %2s | %7s %14s %7s | %7s %7s | %5s | %s\n",
         "schedule", "p", "m", "v", "err %", "(rounds)", "bub pp", "det %",
         "det pp", "jit", "1f1b us (spread)");
  double errs[64], bubs[64], derr[64], dbub[64];
  int n = 0;
  const char *only = getenv("PL_BENCH_ONLY"); /* "a,b": these schedules */
  for (const pl_gen_info *gi = pl_gen_list(); gi->name && n < 64; gi++) {
    if (only && !in_list(only, gi->name))
      continue;
    pl_sched *s = gen_learned(gi->name, p, m, l0, b_frac);
    if (!s)
      continue;
    pl_workload rw = w;
    rw.microbatches = pl_sched_microbatches(s);
    pl_result prof[PAIRED_MAX], real[PAIRED_MAX];
    double pms[PAIRED_MAX];
    int k = 0, rc = 0;
    /* one discarded round, then `runs` kept */
    for (int r = 0; r <= runs && !rc; r++) {
      pl_result a = PL_RESULT_INIT, b = PL_RESULT_INIT;
      /* Counterbalanced (ABBA): the profile runs first in odd rounds and
       * second in even ones. On this VM the second of two back-to-back
       * runs is slower by a few per cent (1f1b predicted from its own
       * neighbour shows it), which a fixed order would charge to the
       * model. */
      if (r % 2) {
        rc = run_once(s1, &w, &a, &eb);
        if (!rc)
          rc = run_once(s, &rw, &b, &eb);
      } else {
        rc = run_once(s, &rw, &b, &eb);
        if (!rc)
          rc = run_once(s1, &w, &a, &eb);
      }
      if (rc || r == 0) {
        pl_result_free(&a);
        pl_result_free(&b);
        continue;
      }
      prof[k] = a;
      real[k] = b;
      pms[k] = a.makespan;
      k++;
    }
    if (rc) {
      printf("%-20s -- run failed: %s\n", gi->name, eb.msg);
      for (int i = 0; i < k; i++) {
        pl_result_free(&prof[i]);
        pl_result_free(&real[i]);
      }
      pl_sched_destroy(s);
      continue;
    }
    /* Per round: learn from that round's profile alone, predict, compare
     * with the run next to it; the schedule's figure is the median over
     * the rounds (a paired comparison: drift slower than a round cancels). */
    double e[PAIRED_MAX], b[PAIRED_MAX], de[PAIRED_MAX], db[PAIRED_MAX];
    double jit[PAIRED_MAX], ps[PAIRED_MAX];
    int nr = 0;
    const pl_learn_opts lo = cross_learn_opts(&w, b_frac);
    for (int i = 0; i < k; i++) {
      double t50, bub, dt, dbu;
      const pl_result *it1[1] = {&prof[i]};
      pl_learned *l = NULL;
      if (pl_learn_fit(it1, 1, &lo, &l, &eb) ||
          predict_learned(l, s, &rw, &t50, &bub, &dt, &dbu, &eb)) {
        printf("%-20s -- round %d: %s\n", gi->name, i + 1, eb.msg);
        pl_learned_free(l);
        continue;
      }
      e[nr] = 100.0 * (real[i].makespan - t50) / t50;
      b[nr] = 100.0 * (real[i].bubble_ratio - bub);
      de[nr] = 100.0 * (real[i].makespan - dt) / dt;
      db[nr] = 100.0 * (real[i].bubble_ratio - dbu);
      jit[nr] = l->jitter;
      ps[nr] = pms[i];
      nr++;
      if (i == k - 1 && save) {
        pl_costs *c = NULL;
        pl_result sim = PL_RESULT_INIT;
        pl_cost_request rq = PL_COST_REQUEST_INIT;
        rq.kind = PL_COSTS_LEARNED;
        rq.learned = l;
        rq.workload = &rw;
        if (!pl_cost_provide(&rq, s, &c, NULL, &eb) &&
            !pl_sim_run(s, c, PL_SIM_RECORD_OPS, &sim, &eb)) {
          save_result(save, gi->name, "pred", &sim);
          save_result(save, gi->name, "real", &real[i]);
        }
        pl_result_free(&sim);
        pl_costs_destroy(c);
      }
      pl_learned_free(l);
    }
    if (nr) {
      double se = median_of(e, nr), lo_e = min_of(e, nr), hi_e = max_of(e, nr);
      errs[n] = se;
      bubs[n] = median_of(b, nr);
      derr[n] = median_of(de, nr);
      dbub[n] = median_of(db, nr);
      printf("%-20s %2d %3d %2d | %+7.1f (%+5.1f..%+5.1f) %+7.1f | %+7.1f "
             "%+7.1f | %.3f | %.0f (%.0f-%.0f)\n", gi->name, p,
             rw.microbatches, pl_sched_chunks(s), se, lo_e, hi_e, bubs[n],
             derr[n], dbub[n], median_of(jit, nr), median_of(ps, nr),
             min_of(ps, nr), max_of(ps, nr));
      n++;
    }
    for (int i = 0; i < k; i++) {
      pl_result_free(&prof[i]);
      pl_result_free(&real[i]);
    }
    pl_sched_destroy(s);
  }
  pl_sched_destroy(s1);
  pl_learned_free(l0);
  loadavg(la1, sizeof la1);
  printf("with jitter:   ");
  summary(errs, bubs, n);
  printf("deterministic: ");
  summary(derr, dbub, n);
  printf("load average before: %s; after: %s\n", la0, la1);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc > 2 && !strcmp(argv[1], "--cross") &&
      !strcmp(argv[2], "--paired")) {
    int hidden = argc > 3 ? atoi(argv[3]) : 128;
    int seq = argc > 4 ? atoi(argv[4]) : 128;
    int runs = argc > 5 ? atoi(argv[5]) : 3;
    if (hidden < 1 || seq < 1 || runs < 1 || runs > PAIRED_MAX - 1) {
      fprintf(stderr, "usage: bench_validate --cross --paired [hidden [seq "
                      "[rounds 1..%d]]]\n", PAIRED_MAX - 1);
      return 2;
    }
    return cross_paired(hidden, seq, runs);
  }
  if (argc > 1 && !strcmp(argv[1], "--cross")) {
    int hidden = argc > 2 ? atoi(argv[2]) : 128;
    int seq = argc > 3 ? atoi(argv[3]) : 128;
    int runs = argc > 4 ? atoi(argv[4]) : 3;
    if (hidden < 1 || seq < 1 || runs < 1 || runs > 15) {
      fprintf(stderr, "usage: bench_validate --cross [hidden [seq [runs "
                      "1..15]]]\n");
      return 2;
    }
    return cross(hidden, seq, runs);
  }
  int hidden = argc > 1 ? atoi(argv[1]) : 128;
  int seq = argc > 2 ? atoi(argv[2]) : 128;
  int runs = argc > 3 ? atoi(argv[3]) : 3;
  if (hidden < 1 || seq < 1 || runs < 1 || runs > 15) {
    fprintf(stderr, "usage: bench_validate [hidden [seq [runs 1..15]]]\n");
    return 2;
  }
  pl_workload w = PL_WORKLOAD_INIT;
  w.hidden = hidden;
  w.seq = seq;
  w.mb_size = 1;
  w.layers = 1;
  w.microbatches = 1;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_calib cal;
  if (pl_exec_calibrate(&w, PL_BACKEND_CPU, 5, 30, &cal, NULL, &eb)) {
    fprintf(stderr, "calibration failed: %s\n", eb.msg);
    return 1;
  }
  printf("calibration (cpu, hidden %d, seq %d, mb-size 1, fp64, per layer): "
         "F %.1f B %.1f W %.1f BW %.1f us; input %.1f loss %.1f us; "
         "p2p %.2f us + %.0f B at %.0f B/us\n",
         hidden, seq, cal.t[PL_OP_F].mean, cal.t[PL_OP_B].mean,
         cal.t[PL_OP_W].mean, cal.t[PL_OP_BW].mean, cal.input.mean,
         cal.loss.mean, cal.p2p_latency_us, cal.msg_bytes, cal.p2p_bandwidth);
  printf("%-12s %2s %3s %2s %6s | %11s %11s %7s | %7s %7s %7s | %s\n",
         "schedule", "p", "m", "v", "layers", "pred us", "meas us", "err %",
         "pred bub", "meas bub", "err pp", "mem");
  int bad_mem = 0;
  for (int p = 2; p <= 4; p += 2) {
    for (const pl_gen_info *gi = pl_gen_list(); gi->name; gi++) {
      pl_gen_params gp = PL_GEN_PARAMS_INIT;
      gp.p = p;
      gp.m = 2 * p;
      gp.tf = cal.t[PL_OP_F].mean;
      gp.tb = cal.t[PL_OP_B].mean;
      gp.tw = cal.t[PL_OP_W].mean;
      gp.comm = cal.p2p_msg.mean;
      pl_sched *s = NULL;
      if (pl_sched_gen(gi->name, &gp, &s, &eb) || pl_sched_validate(s, &eb)) {
        printf("%-12s %2d  -- not generated: %s\n", gi->name, p, eb.msg);
        pl_sched_destroy(s);
        continue;
      }
      int S = pl_sched_stages(s);
      pl_workload rw = w;
      rw.layers = S * (S <= 4 ? 2 : 1);
      rw.microbatches = pl_sched_microbatches(s);
      pl_costs *c = NULL;
      pl_result sim = PL_RESULT_INIT;
      if (pl_costs_create(S, p, &c) ||
          pl_calib_apply_costs(&cal, &rw, c, &eb) ||
          pl_sim_run(s, c, 0, &sim, &eb)) {
        printf("%-12s %2d  -- simulate failed: %s\n", gi->name, p, eb.msg);
        pl_costs_destroy(c);
        pl_sched_destroy(s);
        continue;
      }
      pl_exec_opts o = PL_EXEC_OPTS_INIT;
      o.warmup = 2; /* steady state: caches and the allocator warm */
      pl_result res[16];
      double ms[16];
      int ok = 1;
      for (int i = 0; i <= runs; i++) {
        pl_result tmp = PL_RESULT_INIT;
        res[i] = tmp;
        ms[i] = 0;
      }
      for (int i = 0; i <= runs && ok; i++) {
        if (pl_exec_run(s, &rw, &o, &res[i], NULL, &eb)) {
          printf("%-12s %2d  -- run failed: %s\n", gi->name, p, eb.msg);
          ok = 0;
        }
        ms[i] = res[i].makespan;
      }
      if (ok) {
        /* run 0 is the warm-up; pick the median of the others */
        double sorted[16];
        memcpy(sorted, ms + 1, (size_t)runs * sizeof *ms);
        qsort(sorted, (size_t)runs, sizeof *sorted, cmp_double);
        double med = sorted[runs / 2];
        int k = 1;
        for (int i = 1; i <= runs; i++)
          if (ms[i] == med)
            k = i;
        const pl_result *r = &res[k];
        int mem_ok = 1;
        for (int i = 0; i < p; i++)
          if (r->ranks[i].peak_activation_bytes != sim.ranks[i].peak_mem)
            mem_ok = 0;
        bad_mem += !mem_ok;
        printf("%-12s %2d %3d %2d %6d | %11.0f %11.0f %+7.1f | %7.3f %7.3f "
               "%+7.1f | %s\n",
               gi->name, p, pl_sched_microbatches(s), pl_sched_chunks(s),
               rw.layers, sim.makespan, r->makespan,
               100.0 * (r->makespan - sim.makespan) / sim.makespan,
               sim.bubble_ratio, r->bubble_ratio,
               100.0 * (r->bubble_ratio - sim.bubble_ratio),
               mem_ok ? "exact" : "DIFFERS");
      }
      for (int i = 0; i <= runs; i++)
        pl_result_free(&res[i]);
      pl_result_free(&sim);
      pl_costs_destroy(c);
      pl_sched_destroy(s);
    }
  }
  printf("err %% = (measured - predicted) / predicted iteration time (makespan);"
         " err pp = measured - predicted bubble ratio in percentage points\n");
  return bad_mem ? 1 : 0;
}
