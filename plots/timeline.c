/* timeline.c: the pipeline timeline and the memory plot of one result. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_int.h"

/* Fill colours in the spirit of the zero-bubble paper's figures: forward
 * blue, input-gradient backward teal, weight-gradient backward purple; the
 * unsplit backward green and a fused F&B orange so that all five differ. */
unsigned pl_plot_kind_color(int kind)
{
  switch (kind) {
  case PL_OP_F: return 0x8AB4E8;
  case PL_OP_B: return 0x5FC2B0;
  case PL_OP_W: return 0xB8A2DC;
  case PL_OP_BW: return 0x9BCB6A;
  case PL_OP_FB: return 0xF4A261;
  default: return 0xC0C0C0;
  }
}

static const char *kind_legend(int kind)
{
  switch (kind) {
  case PL_OP_F: return "F (forward)";
  case PL_OP_B: return "B (input gradient)";
  case PL_OP_W: return "W (weight gradient)";
  case PL_OP_BW: return "BW (full backward)";
  case PL_OP_FB: return "FB (fused F&B)";
  default: return "?";
  }
}

/* Rank rows drawn: every rank the result names, and any rank an op uses. */
static int n_rows(const pl_result *r)
{
  int p = r->stages > 0 ? r->stages : 1;
  for (size_t i = 0; i < r->n_ops; i++)
    if (r->ops[i].rank + 1 > p)
      p = r->ops[i].rank + 1;
  return p;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The timeline's geometry in pixels; shared by the data writer (which
 * decides which labels fit) and the script. */
struct tl_geom {
  int width, height, rows;
  double t0, t1;       /* x range */
  double lm, rm, tm, bm; /* margins in pixels */
  double ppu;          /* pixels per time unit */
  double med;          /* median op duration (0 if none) */
  double ts;           /* axis unit per time unit (pl_time_display) */
  const char *tunit;   /* the axis unit */
};

static void tl_geometry(const pl_result *r, int width, int height,
                        struct tl_geom *g)
{
  g->rows = n_rows(r);
  g->t0 = 0;
  g->t1 = 0;
  int first = 1;
  for (size_t i = 0; i < r->n_ops; i++) {
    double s = r->ops[i].start, e = r->ops[i].end;
    if (!isfinite(s) || !isfinite(e))
      continue;
    if (first || s < g->t0)
      g->t0 = s;
    if (first || e > g->t1)
      g->t1 = e;
    first = 0;
  }
  if (g->t0 > 0)
    g->t0 = 0;
  if (!(g->t1 > g->t0))
    g->t1 = g->t0 + 1;
  g->lm = 70;
  g->rm = 24;
  g->tm = 42;
  g->bm = 78;
  double med = 0;
  double *d = r->n_ops ? pl_malloc(r->n_ops * sizeof *d) : NULL;
  if (d) {
    size_t k = 0;
    for (size_t i = 0; i < r->n_ops; i++)
      if (r->ops[i].end > r->ops[i].start)
        d[k++] = r->ops[i].end - r->ops[i].start;
    if (k) {
      qsort(d, k, sizeof *d, cmp_double);
      med = d[k / 2];
    }
    pl_free(d);
  }
  g->med = med;
  if (width <= 0) {
    /* Aim for about 30 pixels for the median op, so that microbatch
     * numbers fit in the boxes as in the paper's figures. */
    double w = med > 0 ? 30.0 * (g->t1 - g->t0) / med : 900;
    if (w > 3000)
      w = 3000;
    width = (int)(w + g->lm + g->rm);
    if (width < 900)
      width = 900;
    if (width > 3200)
      width = 3200;
  }
  if (height <= 0) {
    height = (int)(g->tm + g->bm + 34.0 * g->rows);
    if (height < 220)
      height = 220;
  }
  g->width = width;
  g->height = height;
  g->ppu = (width - g->lm - g->rm) / (g->t1 - g->t0);
  g->ts = 1;
  g->tunit = r->time_unit[0] ? r->time_unit : "unit";
}

/* Later model chunks (interleaved, V schedules) are drawn in darker shades
 * of their kind's colour, as in the papers' interleaved figures. The chunk
 * of a virtual stage is stage / p for the loop and the V placements. */
static unsigned op_color(const pl_result *r, const pl_op *op)
{
  unsigned c = pl_plot_kind_color(op->kind);
  int p = r->stages > 0 ? r->stages : 1;
  int chunk = op->stage >= 0 ? op->stage / p : 0;
  if (r->chunks <= 1 || chunk <= 0)
    return c;
  double f = 1.0 - 0.22 * (chunk > 3 ? 3 : chunk);
  unsigned rr = (unsigned)(((c >> 16) & 0xff) * f);
  unsigned gg = (unsigned)(((c >> 8) & 0xff) * f);
  unsigned bb = (unsigned)((c & 0xff) * f);
  return (rr << 16) | (gg << 8) | bb;
}

static void op_label(const pl_op *op, char *buf, size_t len)
{
  if (op->kind == PL_OP_FB)
    snprintf(buf, len, "%d/%d", (int)op->mb, (int)op->mb2);
  else
    snprintf(buf, len, "%d", (int)op->mb);
}

static int timeline_data(const pl_result *r, const struct tl_geom *g,
                         struct pl_buf *out)
{
  int rc = pl_buf_addf(out, "# pipelab timeline: one line per op\n"
                            "# rank start end kind mb stage color label "
                            "show name\n");
  for (size_t i = 0; i < r->n_ops && !rc; i++) {
    const pl_op_rec *o = &r->ops[i];
    char label[32], name[64], n1[32], n2[32];
    op_label(&o->op, label, sizeof label);
    if (pl_op_format(&o->op, name, sizeof name) != 0)
      snprintf(name, sizeof name, "%s%d", pl_op_kind_name(o->op.kind),
               (int)o->op.mb);
    pl__plot_token(name, sizeof name, name);
    /* Sans 9 pt at 96 dpi: about 7 pixels per digit, plus some air. */
    double px = (o->end - o->start) * g->ppu;
    int show = px >= 7.0 * (double)strlen(label) + 5.0;
    rc = pl_buf_addf(out, "%d %s %s %s %d %d %u %s %d %s\n", (int)o->rank,
                     pl__plot_num(n1, o->start * g->ts),
                     pl__plot_num(n2, o->end * g->ts),
                     pl_op_kind_name(o->op.kind), (int)o->op.mb,
                     (int)o->op.stage, op_color(r, &o->op), label,
                     show, name);
  }
  return rc ? PL_ENOMEM : PL_OK;
}

int pl_plot_timeline_data(const pl_result *r, int width_px, struct pl_buf *out,
                          struct pl_errbuf *eb)
{
  if (!r || !out)
    return pl_errf(eb, PL_EINVAL, "no result to plot");
  struct tl_geom g;
  tl_geometry(r, width_px, 0, &g);
  if (timeline_data(r, &g, out))
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  return PL_OK;
}

static void auto_title(const pl_result *r, struct pl_buf *b, const char *what)
{
  char n1[48], n2[48];
  const char *name = r->schedule[0] ? r->schedule : "pipeline";
  pl_buf_addf(b, "%s%s%s: p=%d, m=%d, v=%d", name, what[0] ? " " : "", what,
              r->stages, r->microbatches, r->chunks > 0 ? r->chunks : 1);
  if (r->makespan > 0 &&
      !pl_fmt_duration(n1, sizeof n1, r->makespan,
                       r->time_unit[0] ? r->time_unit : "unit"))
    pl_buf_addf(b, " | makespan %s", n1);
  pl_buf_addf(b, " | bubble %.1f%%", 100.0 * r->bubble_ratio);
  if (strcmp(what, "memory") == 0 && r->peak_mem > 0 &&
      !pl_fmt_mem(n2, sizeof n2, r->peak_mem, r->mem_unit))
    pl_buf_addf(b, " | peak %s", n2);
}

int pl_plot_timeline(const pl_result *r, const pl_plot_opts *o,
                     const char *path, struct pl_errbuf *eb)
{
  static const pl_plot_opts defaults = PL_PLOT_OPTS_INIT;
  if (!o)
    o = &defaults;
  if (!r)
    return pl_errf(eb, PL_EINVAL, "no result to plot");
  int fmt, rc = pl__plot_check_output(path, &fmt, eb);
  if (rc)
    return rc;
  if (!r->n_ops || !r->ops)
    return pl_errf(eb, PL_EINVAL,
                   "the result has no per-op rows to draw a timeline from "
                   "(simulate with --save, or record ops)");
  struct tl_geom g;
  tl_geometry(r, o->width, o->height, &g);
  /* The axis in the unit a table would print the longest time in (ms or
   * s rather than 1200000 us). */
  g.ts = pl_time_display(fabs(g.t1) > fabs(g.t0) ? g.t1 : g.t0,
                         r->time_unit[0] ? r->time_unit : "unit", &g.tunit);
  struct pl_buf data, title, ytics, rows, keys, hyper;
  pl_buf_init(&data, 0);
  pl_buf_init(&title, 0);
  pl_buf_init(&ytics, 0);
  pl_buf_init(&rows, 0);
  pl_buf_init(&keys, 0);
  pl_buf_init(&hyper, 0);
  if (timeline_data(r, &g, &data)) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  if (o->title)
    rc |= pl__plot_quote(&title, o->title);
  else {
    struct pl_buf t;
    pl_buf_init(&t, 0);
    auto_title(r, &t, "");
    rc |= pl__plot_quote(&title, t.buf);
    pl_buf_free(&t);
  }
  char n1[32], n2[32];
  for (int k = 0; k < g.rows; k++) {
    rc |= pl_buf_addf(&ytics, "%s'rank %d' %d", k ? ", " : "", k, k);
    /* A light lane per rank so that idle time reads as white space inside
     * the row, as in the paper's figures. */
    rc |= pl_buf_addf(&rows,
                      "set object %d rect from %s,%g to %s,%g behind "
                      "fc rgb 'white' fs empty border lc rgb '#c8c8c8' lw 1\n",
                      k + 1, pl__plot_num(n1, g.t0 * g.ts), k - 0.42,
                      pl__plot_num(n2, g.t1 * g.ts), k + 0.42);
  }
  int present[PL_OP_NKINDS] = {0};
  for (size_t i = 0; i < r->n_ops; i++)
    if (r->ops[i].op.kind < PL_OP_NKINDS)
      present[r->ops[i].op.kind] = 1;
  for (int k = 0; k < PL_OP_NKINDS; k++)
    if (present[k])
      rc |= pl_buf_addf(&keys,
                        ", \\\n     keyentry with boxes fc rgb '#%06X' "
                        "title '%s'",
                        pl_plot_kind_color(k), kind_legend(k));
  if (r->chunks > 1) {
    pl_op f = PL_OP_INIT;
    f.kind = PL_OP_F;
    f.stage = (int16_t)(r->stages > 0 ? r->stages : 1);
    rc |= pl_buf_addf(&keys,
                      ", \\\n     keyentry with boxes fc rgb '#%06X' "
                      "title 'darker: later chunk'",
                      op_color(r, &f));
  }
  if (fmt == PL_PLOT_SVG)
    /* One hypertext marker per op: a tooltip in browsers, and something
     * tests can count. */
    rc |= pl_buf_addf(&hyper,
                      ", \\\n     '' using (($2+$3)/2):1:(sprintf('pl-op:%%s "
                      "rank %%d [%%g, %%g]', stringcolumn(10), $1, $2, $3)) "
                      "with labels hypertext point pt 7 ps 0.01 lc rgb "
                      "'#000000' notitle");
  if (rc) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  char lm[32], rm[32], tm[32], bm[32], xmin[32], xmax[32], ymax[32];
  char barh[32], unit[64], lfont[8];
  pl__plot_num(lm, g.lm / g.width);
  pl__plot_num(rm, 1.0 - g.rm / g.width);
  pl__plot_num(tm, 1.0 - g.tm / g.height);
  pl__plot_num(bm, g.bm / g.height);
  pl__plot_num(xmin, g.t0 * g.ts);
  pl__plot_num(xmax, g.t1 * g.ts);
  pl__plot_num(ymax, g.rows - 0.5);
  snprintf(barh, sizeof barh, "0.38");
  snprintf(lfont, sizeof lfont, "9");
  {
    struct pl_buf u;
    pl_buf_init(&u, 0);
    pl__plot_quote(&u, g.tunit);
    snprintf(unit, sizeof unit, "%s", u.buf);
    pl_buf_free(&u);
  }
  /* Box outlines only while boxes are wide enough to show fill between
   * them; otherwise the outlines would paint the rows dark grey. */
  const char *border = g.med * g.ppu >= 5.0 ? "border lc rgb '#303030'"
                                            : "noborder";
  const char *kv[] = {"BORDER", border, "TITLE", title.buf, "LM", lm, "RM", rm, "TM", tm,
                      "BM", bm, "XMIN", xmin, "XMAX", xmax, "YMAX", ymax,
                      "YTICS", ytics.buf, "UNIT", unit, "ROWS", rows.buf,
                      "BARH", barh, "LABELFONT", lfont, "HYPER", hyper.buf,
                      "KEYS", keys.buf, NULL};
  struct pl__plot_file files[] = {{"ops.dat", &data}};
  if (!o->labels) {
    /* No labels: the same rows with every show column 0. */
    pl_buf_reset(&data);
    struct tl_geom g0 = g;
    g0.ppu = 0;
    if (timeline_data(r, &g0, &data)) {
      rc = pl_errf(eb, PL_ENOMEM, "out of memory");
      goto out;
    }
  }
  rc = pl__plot_run(o, path, g.width, g.height, "timeline.gp", kv, files, 1,
                    eb);
out:
  pl_buf_free(&data);
  pl_buf_free(&title);
  pl_buf_free(&ytics);
  pl_buf_free(&rows);
  pl_buf_free(&keys);
  pl_buf_free(&hyper);
  return rc;
}

int pl_plot_timeline_file(const pl_result *r, const char *path,
                          struct pl_errbuf *eb)
{
  return pl_plot_timeline(r, NULL, path, eb);
}

/* ---------------------------------------------------------------- memory */

static void mem_range(const pl_result *r, double *t0, double *t1)
{
  *t0 = 0;
  *t1 = r->makespan;
  if (!isfinite(*t1))
    *t1 = 0;
  for (size_t i = 0; i < r->n_mem; i++) {
    if (!isfinite(r->mem[i].t))
      continue;
    if (r->mem[i].t < *t0)
      *t0 = r->mem[i].t;
    if (r->mem[i].t > *t1)
      *t1 = r->mem[i].t;
  }
  for (size_t i = 0; i < r->n_ops; i++)
    if (isfinite(r->ops[i].end) && r->ops[i].end > *t1)
      *t1 = r->ops[i].end;
  if (!(*t1 > *t0))
    *t1 = *t0 + 1;
}

static int mem_rows(const pl_result *r)
{
  int p = r->stages > 0 ? r->stages : 1;
  for (size_t i = 0; i < r->n_mem; i++)
    if (r->mem[i].rank + 1 > p)
      p = r->mem[i].rank + 1;
  return p;
}

static int memory_data(const pl_result *r, double ts, double ms,
                       struct pl_buf *out, struct pl_errbuf *eb);

int pl_plot_memory_data(const pl_result *r, struct pl_buf *out,
                        struct pl_errbuf *eb)
{
  if (!r || !out)
    return pl_errf(eb, PL_EINVAL, "no result to plot");
  return memory_data(r, 1, 1, out, eb);
}

/* Times multiplied by ts and memory by ms (the axis units). */
static int memory_data(const pl_result *r, double ts, double ms,
                       struct pl_buf *out, struct pl_errbuf *eb)
{
  double t0, t1;
  mem_range(r, &t0, &t1);
  int p = mem_rows(r), rc = 0;
  char n1[32], n2[32];
  rc |= pl_buf_addf(out, "# pipelab activation memory: one block per rank "
                         "(t value after the change)\n");
  for (int k = 0; k < p && !rc; k++) {
    double last = 0;
    rc |= pl_buf_addf(out, "%s# rank %d\n%s 0\n", k ? "\n\n" : "", k,
                      pl__plot_num(n1, t0 * ts));
    /* The timeline is sorted by rank then time; a linear scan per rank
     * keeps this independent of that order. */
    for (size_t i = 0; i < r->n_mem && !rc; i++) {
      if (r->mem[i].rank != k)
        continue;
      /* Several changes at one instant (ops ending and starting at t):
       * draw the value after the last one, plus the highest value in
       * between when it is higher (a peak must stay visible); dips that
       * last zero time are left out. */
      double t = r->mem[i].t, hi = r->mem[i].value;
      size_t j = i;
      for (size_t q = i + 1; q < r->n_mem; q++) {
        if (r->mem[q].rank != k)
          continue;
        if (r->mem[q].t != t)
          break;
        if (r->mem[j].value > hi)
          hi = r->mem[j].value;
        j = q;
      }
      last = r->mem[j].value;
      if (hi > last && j != i)
        rc |= pl_buf_addf(out, "%s %s\n", pl__plot_num(n1, t * ts),
                          pl__plot_num(n2, hi * ms));
      rc |= pl_buf_addf(out, "%s %s\n", pl__plot_num(n1, t * ts),
                        pl__plot_num(n2, last * ms));
      i = j;
    }
    rc |= pl_buf_addf(out, "%s %s\n", pl__plot_num(n1, t1 * ts),
                      pl__plot_num(n2, last * ms));
  }
  return rc ? pl_errf(eb, PL_ENOMEM, "out of memory") : PL_OK;
}

/* Ten distinct line colours (matplotlib's tab10), cycled. */
static const unsigned rank_colors[] = {0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728,
                                       0x9467BD, 0x8C564B, 0xE377C2, 0x7F7F7F,
                                       0xBCBD22, 0x17BECF};

int pl_plot_memory(const pl_result *r, const pl_plot_opts *o, const char *path,
                   struct pl_errbuf *eb)
{
  static const pl_plot_opts defaults = PL_PLOT_OPTS_INIT;
  if (!o)
    o = &defaults;
  if (!r)
    return pl_errf(eb, PL_EINVAL, "no result to plot");
  int fmt, rc = pl__plot_check_output(path, &fmt, eb);
  if (rc)
    return rc;
  if (!r->n_mem || !r->mem)
    return pl_errf(eb, PL_EINVAL,
                   "the result has no memory timeline to plot (simulate with "
                   "--save, or record memory)");
  if (!(o->mem_limit >= 0) || !isfinite(o->mem_limit))
    return pl_errf(eb, PL_EINVAL, "the memory limit must be a finite number "
                                  ">= 0");
  struct pl_buf data, title, plots, limit, munit, unit;
  pl_buf_init(&data, 0);
  pl_buf_init(&title, 0);
  pl_buf_init(&plots, 0);
  pl_buf_init(&limit, 0);
  pl_buf_init(&munit, 0);
  pl_buf_init(&unit, 0);
  double peak = 0, t0, t1;
  mem_range(r, &t0, &t1);
  for (size_t i = 0; i < r->n_mem; i++)
    if (isfinite(r->mem[i].value) && r->mem[i].value > peak)
      peak = r->mem[i].value;
  double ymax = peak > o->mem_limit ? peak : o->mem_limit;
  /* Axes in the units a table would print: ms or s, GiB or MiB (not
   * 2e+10 bytes). */
  const char *tunit, *munit_s = r->mem_unit[0] ? r->mem_unit : "units";
  double ts = pl_time_display(fabs(t1) > fabs(t0) ? t1 : t0,
                              r->time_unit[0] ? r->time_unit : "unit", &tunit);
  double ms = 1;
  if (!strcmp(r->mem_unit, "bytes"))
    ms = pl_bytes_display(ymax, &munit_s);
  if ((rc = memory_data(r, ts, ms, &data, eb)))
    goto out;
  if (o->title)
    rc |= pl__plot_quote(&title, o->title);
  else {
    struct pl_buf t;
    pl_buf_init(&t, 0);
    auto_title(r, &t, "memory");
    rc |= pl__plot_quote(&title, t.buf);
    pl_buf_free(&t);
  }
  rc |= pl__plot_quote(&unit, tunit);
  rc |= pl__plot_quote(&munit, munit_s);
  int p = mem_rows(r);
  ymax = ymax > 0 ? ymax * 1.12 * ms : 1;
  char n1[32], xmin[32], xmax[32], ymx[32];
  for (int k = 0; k < p; k++)
    rc |= pl_buf_addf(&plots,
                      "%s'mem.dat' index %d using 1:2 with steps lw 2 "
                      "lc rgb '#%06X' title 'rank %d'",
                      k ? ", \\\n     " : "", k,
                      rank_colors[k % (sizeof rank_colors /
                                       sizeof rank_colors[0])],
                      k);
  if (o->mem_limit > 0)
    rc |= pl_buf_addf(&limit,
                      "set arrow 1 from graph 0, first %s to graph 1, first "
                      "%s nohead lc rgb '#C00000' lw 2 dt 2 front\n"
                      "set label 1 'limit %s %s' at graph 0.01, first %s "
                      "offset 0,0.7 tc rgb '#C00000' front",
                      pl__plot_num(n1, o->mem_limit * ms), n1, n1, munit.buf,
                      n1);
  if (rc) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  int width = o->width > 0 ? o->width : 1000;
  int height = o->height > 0 ? o->height : 480;
  const char *key = p <= 16 ? "set key outside right top vertical"
                            : "set key off";
  pl__plot_num(xmin, t0 * ts);
  pl__plot_num(xmax, t1 * ts);
  pl__plot_num(ymx, ymax);
  const char *kv[] = {"TITLE", title.buf, "UNIT", unit.buf, "MUNIT",
                      munit.buf, "XMIN", xmin, "XMAX", xmax, "YMAX", ymx,
                      "KEY", key, "LIMIT", limit.buf, "PLOTS", plots.buf,
                      NULL};
  struct pl__plot_file files[] = {{"mem.dat", &data}};
  rc = pl__plot_run(o, path, width, height, "memory.gp", kv, files, 1, eb);
out:
  pl_buf_free(&data);
  pl_buf_free(&title);
  pl_buf_free(&plots);
  pl_buf_free(&limit);
  pl_buf_free(&munit);
  pl_buf_free(&unit);
  return rc;
}

int pl_plot_memory_file(const pl_result *r, double mem_limit, const char *path,
                        struct pl_errbuf *eb)
{
  pl_plot_opts o = PL_PLOT_OPTS_INIT;
  o.mem_limit = mem_limit;
  return pl_plot_memory(r, &o, path, eb);
}
