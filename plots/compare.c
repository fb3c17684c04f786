/* compare.c: the predicted-vs-real plot (bars per rank and the scatter of
 * every compared op). The sweep reader and plots are in sweep.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/traces.h"
#include "plot_int.h"

/* Seconds per unit for the time units that convert; 0 for others. */
static double unit_seconds(const char *u) { return pl_time_unit_us(u) * 1e-6; }

int pl_plot_compare(const pl_result *const *pred, const pl_result *const *real,
                    size_t n, const pl_plot_opts *o, const char *path,
                    struct pl_errbuf *eb)
{
  static const pl_plot_opts defaults = PL_PLOT_OPTS_INIT;
  if (!o)
    o = &defaults;
  int fmt, rc = pl__plot_check_output(path, &fmt, eb);
  if (rc)
    return rc;
  if (!pred || !real || n == 0)
    return pl_errf(eb, PL_EINVAL, "nothing to compare: give at least one "
                                  "predicted and real result");
  const char *unit = pred[0]->time_unit[0] ? pred[0]->time_unit : "unit";
  double base = unit_seconds(unit);
  struct pl_buf data, title, uq;
  pl_buf_init(&data, 0);
  pl_buf_init(&title, 0);
  pl_buf_init(&uq, 0);
  double hi = 0, lo = HUGE_VAL;
  size_t longest = 0;
  double *tv = pl_malloc(2 * n * sizeof *tv);
  if (!tv) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n && !rc; i++) {
    double tp = pred[i]->makespan, tr = real[i]->makespan;
    const char *up = pred[i]->time_unit[0] ? pred[i]->time_unit : "unit";
    const char *ur = real[i]->time_unit[0] ? real[i]->time_unit : "unit";
    /* Bring both to the first predicted result's unit. */
    const char *us[2] = {up, ur};
    double *ts[2] = {&tp, &tr};
    for (int k = 0; k < 2; k++) {
      if (!strcmp(us[k], unit))
        continue;
      double f = unit_seconds(us[k]);
      if (!f || !base) {
        rc = pl_errf(eb, PL_EINVAL,
                     "cannot compare times in '%s' with times in '%s' (pair "
                     "%zu): only ns, us, ms and s convert",
                     us[k], unit, i + 1);
        goto out;
      }
      *ts[k] *= f / base;
    }
    if (!(tp >= 0) || !(tr >= 0) || !isfinite(tp) || !isfinite(tr)) {
      rc = pl_errf(eb, PL_EINVAL, "pair %zu has no iteration time", i + 1);
      goto out;
    }
    tv[2 * i] = tp;
    tv[2 * i + 1] = tr;
    double mx = tp > tr ? tp : tr, mn = tp < tr ? tp : tr;
    if (mx > hi)
      hi = mx;
    if (mn < lo)
      lo = mn;
  }
  /* The axis in the unit a table would print the longest time in. */
  const char *shown;
  double ts = pl_time_display(hi, unit, &shown);
  hi *= ts;
  lo *= ts;
  rc |= pl_buf_addf(&data, "# name predicted real error_percent label "
                           "(times in %s)\n", shown);
  for (size_t i = 0; i < n && !rc; i++) {
    double tp = tv[2 * i], tr = tv[2 * i + 1];
    char name[160], nn[160], n1[32], n2[32], n3[32], lab[32];
    const char *sp = pred[i]->schedule[0] ? pred[i]->schedule : "run";
    if (real[i]->schedule[0] && strcmp(real[i]->schedule, sp) != 0)
      snprintf(nn, sizeof nn, "%s/%s", sp, real[i]->schedule);
    else
      snprintf(nn, sizeof nn, "%s", sp);
    pl__plot_token(name, sizeof name, nn);
    if (strlen(name) > longest)
      longest = strlen(name);
    /* The one definition of the error (pl_error_pct), as compare prints
     * it. */
    double err = pl_error_pct(tp, tr);
    if (isfinite(err))
      snprintf(lab, sizeof lab, "%+.1f%%", err);
    else
      snprintf(lab, sizeof lab, "n/a");
    rc |= pl_buf_addf(&data, "\"%s\" %s %s %s \"%s\"\n", name,
                      pl__plot_num(n1, tp * ts), pl__plot_num(n2, tr * ts),
                      isfinite(err) ? pl__plot_num(n3, err) : "NaN", lab);
  }
  if (o->title)
    rc |= pl__plot_quote(&title, o->title);
  else
    rc |= pl_buf_addf(&title, "predicted vs real iteration time (error = "
                              "(real - predicted) / predicted)");
  rc |= pl__plot_quote(&uq, shown);
  if (rc) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  if (!(hi > 0))
    hi = 1;
  char ymax[32], xmax[32], slo[32], shi[32];
  int width = o->width, height = o->height;
  if (o->style == PL_PLOT_SCATTER) {
    double span = hi - lo;
    double a = lo - 0.1 * (span > 0 ? span : hi), b = hi + 0.1 * (span > 0 ? span : hi);
    if (a < 0)
      a = 0;
    pl__plot_num(slo, a);
    pl__plot_num(shi, b);
    if (width <= 0)
      width = 700;
    if (height <= 0)
      height = 640;
    const char *kv[] = {"TITLE", title.buf, "UNIT", uq.buf, "LO", slo,
                        "HI", shi, NULL};
    struct pl__plot_file files[] = {{"cmp.dat", &data}};
    rc = pl__plot_run(o, path, width, height, "compare_scatter.gp", kv, files,
                      1, eb);
  } else {
    pl__plot_num(ymax, hi * 1.15);
    pl__plot_num(xmax, (double)n - 0.4);
    if (width <= 0)
      width = (int)(260 + 110 * n);
    if (width < 640)
      width = 640;
    if (height <= 0)
      height = 480;
    int rot = longest > 8 || n > 8;
    const char *kv[] = {"TITLE", title.buf, "UNIT", uq.buf, "YMAX", ymax,
                        "XMAX", xmax, "XROT", rot ? "-30" : "0",
                        "XALIGN", rot ? "left" : "center", NULL};
    struct pl__plot_file files[] = {{"cmp.dat", &data}};
    rc = pl__plot_run(o, path, width, height, "compare.gp", kv, files, 1, eb);
  }
out:
  pl_free(tv);
  pl_buf_free(&data);
  pl_buf_free(&title);
  pl_buf_free(&uq);
  return rc;
}
