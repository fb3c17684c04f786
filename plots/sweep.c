/* sweep.c: the sweep-file reader (the CSV or JSON `pipelab sweep` writes,
 * pl_plot_sweep_parse / _load) and the sweep plots (pl_plot_sweep: makespan
 * or peak memory per configuration and schedule; pl_plot_sweep_pareto: the
 * time-memory Pareto front). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <pthread.h>
#include "pipelab/traces.h"
#include "plot_int.h"

/* ------------------------------------------------------------ sweep input */

static void row_init(pl_sweep_row *r)
{
  memset(r, 0, sizeof *r);
  r->stages = r->microbatches = r->mb_size = r->chunks = -1;
  r->tokens_per_second = r->iteration_seconds = r->peak_gib = -1;
  r->throughput = r->iteration_time = r->peak_units = -1;
  r->fits = -1;
}

enum col {
  C_SCHEDULE, C_STAGES, C_MICROBATCHES, C_MB_SIZE, C_CHUNKS, C_TPS, C_ITER,
  C_PEAK, C_FITS, C_THR, C_ITIME, C_PUNITS, C_STATUS, C_N
};
static const char *const col_names[C_N] = {
  "schedule", "stages", "microbatches", "mb_size", "chunks",
  "tokens_per_second", "iteration_seconds", "peak_gib", "fits",
  "throughput", "iteration_time", "peak_activation_units", "status"};

static int col_find(const char *name, size_t len)
{
  for (int i = 0; i < C_N; i++)
    if (strlen(col_names[i]) == len && strncasecmp(col_names[i], name, len) == 0)
      return i;
  return -1;
}

static int parse_fits(const char *s, int *out)
{
  if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes"))
    *out = 1;
  else if (!strcasecmp(s, "0") || !strcasecmp(s, "false") ||
           !strcasecmp(s, "no"))
    *out = 0;
  else if (!s[0])
    *out = -1;
  else
    return -1;
  return 0;
}

/* Stores a text value into column c of row r; -1 on a bad value. */
static int set_col(pl_sweep_row *r, int c, const char *s)
{
  if (c == C_SCHEDULE) {
    snprintf(r->schedule, sizeof r->schedule, "%s", s);
    return 0;
  }
  if (c == C_FITS) {
    int f;
    if (parse_fits(s, &f))
      return -1;
    if (f >= 0)
      r->fits = f; /* an explicit fits wins over status */
    return 0;
  }
  if (c == C_STATUS) {
    if (s[0] && r->fits < 0)
      r->fits = strcmp(s, "ok") == 0;
    return 0;
  }
  if (!s[0])
    return 0; /* empty cell = absent */
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < 0)
    return -1;
  switch (c) {
  case C_STAGES:
  case C_MICROBATCHES:
  case C_MB_SIZE:
  case C_CHUNKS:
    if (v != floor(v) || v > 1e9)
      return -1;
    *(c == C_STAGES         ? &r->stages
      : c == C_MICROBATCHES ? &r->microbatches
      : c == C_MB_SIZE      ? &r->mb_size
                            : &r->chunks) = (int)v;
    return 0;
  case C_TPS: r->tokens_per_second = v; return 0;
  case C_ITER: r->iteration_seconds = v; return 0;
  case C_PEAK: r->peak_gib = v; return 0;
  case C_THR: r->throughput = v; return 0;
  case C_ITIME: r->iteration_time = v; return 0;
  case C_PUNITS: r->peak_units = v; return 0;
  default: return 0;
  }
}

static int check_row(const pl_sweep_row *r, const char *where,
                     struct pl_errbuf *eb)
{
  if (!r->schedule[0])
    return pl_errf(eb, PL_EPARSE, "sweep %s: no schedule", where);
  return PL_OK;
}

/* The value a sweep plot draws: 0 tokens_per_second, 1 throughput,
 * 2 iteration_seconds, 3 iteration_time; -1 when no row has any. */
static int sweep_metric(const pl_sweep_row *rows, size_t n)
{
  int best = -1;
  for (size_t i = 0; i < n; i++) {
    const pl_sweep_row *r = &rows[i];
    int m = r->tokens_per_second >= 0   ? 0
            : r->throughput >= 0        ? 1
            : r->iteration_seconds >= 0 ? 2
            : r->iteration_time >= 0    ? 3
                                        : -1;
    if (m >= 0 && (best < 0 || m < best))
      best = m;
  }
  return best;
}

static double sweep_value(const pl_sweep_row *r, int metric)
{
  switch (metric) {
  case 0: return r->tokens_per_second;
  case 1: return r->throughput;
  case 2: return r->iteration_seconds;
  case 3: return r->iteration_time;
  default: return -1;
  }
}

static int check_rows(const pl_sweep_row *rows, size_t n, struct pl_errbuf *eb)
{
  if (sweep_metric(rows, n) < 0)
    return pl_errf(eb, PL_EPARSE,
                   "sweep: no row has a value to plot (tokens_per_second, "
                   "throughput, iteration_seconds or iteration_time)");
  return PL_OK;
}

static int parse_json(const char *text, size_t len, pl_sweep_row **rows,
                      size_t *n, struct pl_errbuf *eb)
{
  json_error_t je;
  json_t *root = json_loadb(text, len, 0, &je);
  if (!root)
    return pl_errf(eb, PL_EPARSE, "sweep JSON, line %d: %s", je.line, je.text);
  json_t *arr = root;
  if (json_is_object(root)) {
    arr = json_object_get(root, "rows");
    if (!arr)
      arr = json_object_get(root, "results");
  }
  int rc = PL_OK;
  if (!json_is_array(arr)) {
    rc = pl_errf(eb, PL_EPARSE, "sweep JSON: expected an array of rows (or "
                                "an object with a \"rows\" array)");
    goto out;
  }
  size_t cnt = json_array_size(arr);
  *rows = pl_calloc(cnt ? cnt : 1, sizeof **rows);
  if (!*rows) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < cnt; i++) {
    json_t *o = json_array_get(arr, i);
    pl_sweep_row *r = &(*rows)[i];
    char where[48];
    snprintf(where, sizeof where, "row %zu", i);
    row_init(r);
    if (!json_is_object(o)) {
      rc = pl_errf(eb, PL_EPARSE, "sweep JSON %s: not an object", where);
      goto out;
    }
    for (int c = 0; c < C_N; c++) {
      json_t *v = json_object_get(o, col_names[c]);
      char buf[64];
      if (!v || json_is_null(v))
        continue;
      if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
      else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%d", json_is_true(v));
      else if (json_is_number(v))
        snprintf(buf, sizeof buf, "%.17g", json_number_value(v));
      else {
        rc = pl_errf(eb, PL_EPARSE, "sweep JSON %s: bad value for %s", where,
                     col_names[c]);
        goto out;
      }
      if (set_col(r, c, buf)) {
        rc = pl_errf(eb, PL_EPARSE, "sweep JSON %s: bad value for %s: '%s'",
                     where, col_names[c], buf);
        goto out;
      }
    }
    if ((rc = check_row(r, where, eb)))
      goto out;
  }
  *n = cnt;
  rc = check_rows(*rows, cnt, eb);
out:
  json_decref(root);
  if (rc) {
    pl_free(*rows);
    *rows = NULL;
    *n = 0;
  }
  return rc;
}

/* Sweep CSV files go through the base layer's RFC 4180 reader: unquoted
 * cells lose the spaces around them; blank lines and lines starting with
 * '#' are skipped. */
static int parse_csv(const char *text, size_t len, pl_sweep_row **rows,
                     size_t *n, struct pl_errbuf *eb)
{
  enum { MAXC = 256 };
  int map[MAXC];
  size_t cap = 0, cnt = 0;
  int rc = PL_OK, ncols = -1, lineno = 0;
  struct pl_csv cr;
  *rows = NULL;
  if (len && memchr(text, 0, len))
    return pl_errf(eb, PL_EPARSE, "sweep CSV: contains a NUL byte");
  pl_csv_init(&cr, text, len,
              PL_CSV_TRIM | PL_CSV_SKIP_BLANK | PL_CSV_COMMENTS);
  cr.max_fields = MAXC;
  for (;;) {
    int got = pl_csv_next(&cr, eb);
    if (got == PL_ENOMEM) {
      rc = got;
      goto out;
    }
    if (got < 0) {
      const char *why = cr.err_kind == PL_CSV_E_UNCLOSED
                            ? "unterminated quote"
                        : cr.err_kind == PL_CSV_E_AFTER_QUOTE
                            ? "text after the closing quote of a cell"
                        : cr.err_kind == PL_CSV_E_FIELDS
                            ? "more than 256 cells"
                            : cr.err_why;
      rc = pl_errf(eb, PL_EPARSE, "sweep CSV line %d: %s", cr.err_line, why);
      goto out;
    }
    if (got == 0)
      break;
    lineno = cr.line;
    char **cells = cr.f;
    int k = cr.nf;
    if (ncols < 0) {
      int have = 0;
      ncols = k;
      for (int i = 0; i < k; i++) {
        map[i] = col_find(cells[i], strlen(cells[i]));
        if (map[i] == C_SCHEDULE)
          have = 1;
      }
      if (!have) {
        rc = pl_errf(eb, PL_EPARSE, "sweep CSV line %d: the header has no "
                                    "'schedule' column",
                     lineno);
        goto out;
      }
      continue;
    }
    if (k != ncols) {
      rc = pl_errf(eb, PL_EPARSE, "sweep CSV line %d: %d cells, the header "
                                  "has %d",
                   lineno, k, ncols);
      goto out;
    }
    if (cnt == cap) {
      size_t nc = cap ? 2 * cap : 16;
      pl_sweep_row *nr = pl_realloc(*rows, nc * sizeof *nr);
      if (!nr) {
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        goto out;
      }
      *rows = nr;
      cap = nc;
    }
    pl_sweep_row *r = &(*rows)[cnt];
    row_init(r);
    for (int i = 0; i < k; i++)
      if (map[i] >= 0 && set_col(r, map[i], cells[i])) {
        rc = pl_errf(eb, PL_EPARSE, "sweep CSV line %d: bad value for %s: "
                                    "'%.40s'",
                     lineno, col_names[map[i]], cells[i]);
        goto out;
      }
    char where[32];
    snprintf(where, sizeof where, "CSV line %d", lineno);
    if ((rc = check_row(r, where, eb)))
      goto out;
    cnt++;
  }
  if (ncols < 0)
    rc = pl_errf(eb, PL_EPARSE, "sweep CSV: empty (no header line)");
  else
    rc = check_rows(*rows, cnt, eb);
out:
  pl_csv_free(&cr);
  if (rc) {
    pl_free(*rows);
    *rows = NULL;
    cnt = 0;
  } else if (!*rows) {
    *rows = pl_calloc(1, sizeof **rows);
    if (!*rows)
      rc = pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  *n = cnt;
  return rc;
}

int pl_plot_sweep_parse(const char *text, size_t len, pl_sweep_row **rows,
                        size_t *n, struct pl_errbuf *eb)
{
  *rows = NULL;
  *n = 0;
  /* A UTF-8 byte order mark (a spreadsheet's CSV) is skipped. */
  if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
    text += 3;
    len -= 3;
  }
  size_t i = 0;
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
                     text[i] == '\n'))
    i++;
  if (i < len && (text[i] == '[' || text[i] == '{'))
    return parse_json(text, len, rows, n, eb);
  return parse_csv(text, len, rows, n, eb);
}

int pl_plot_sweep_load(const char *path, pl_sweep_row **rows, size_t *n,
                       struct pl_errbuf *eb)
{
  char *text = NULL;
  size_t len = 0;
  *rows = NULL;
  *n = 0;
  int rc = pl_read_file(path, &text, &len, eb);
  if (rc)
    return rc;
  rc = pl_plot_sweep_parse(text, len, rows, n, eb);
  pl_free(text);
  if (rc && eb) {
    /* Prefix the file name once. */
    char msg[PL_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", eb->msg);
    pl_errf(eb, rc, "'%s': %s", path, msg);
  }
  return rc;
}

void pl_plot_sweep_free(pl_sweep_row *rows)
{
  pl_free(rows);
}

/* ------------------------------------------------------------ sweep plot */

static int cmp_cfg(const pl_sweep_row *a, const pl_sweep_row *b)
{
  int ka[4] = {a->stages, a->mb_size, a->chunks, a->microbatches};
  int kb[4] = {b->stages, b->mb_size, b->chunks, b->microbatches};
  for (int i = 0; i < 4; i++)
    if (ka[i] != kb[i])
      return ka[i] < kb[i] ? -1 : 1;
  return 0;
}

/* qsort order of row indices by configuration, then by row (stable). */
static const pl_sweep_row *cfg_rows;

static int cmp_cfg_idx(const void *a, const void *b)
{
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  int c = cmp_cfg(&cfg_rows[i], &cfg_rows[j]);
  return c ? c : (i > j) - (i < j);
}

static void cfg_label(const pl_sweep_row *r, char *buf, size_t len)
{
  size_t o = 0;
  buf[0] = 0;
  const struct {
    const char *pre;
    int v;
  } parts[] = {{"p", r->stages},
               {"m", r->microbatches},
               {"b", r->mb_size},
               {"v", r->chunks}};
  for (int i = 0; i < 4; i++)
    if (parts[i].v >= 0 && o < len) {
      int w = snprintf(buf + o, len - o, "%s%s%d", o ? " " : "", parts[i].pre,
                       parts[i].v);
      if (w > 0)
        o += (size_t)w;
    }
  if (!buf[0])
    snprintf(buf, len, "run");
}

/* Tableau 10, then six darker hues: every built-in schedule its own. */
static const unsigned sweep_colors[] = {0x1F77B4, 0xFF7F0E, 0x2CA02C,
                                        0xD62728, 0x9467BD, 0x8C564B,
                                        0xE377C2, 0x7F7F7F, 0xBCBD22,
                                        0x17BECF, 0x000080, 0x8B0000,
                                        0x006400, 0xFFD700, 0x000000,
                                        0x00CED1};

/* Indices of the first row of each schedule, in first-seen order, into
 * sch (n entries available); returns how many. */
static size_t sweep_schedules(const pl_sweep_row *rows, size_t n, size_t *sch)
{
  size_t nsch = 0;
  for (size_t i = 0; i < n; i++) {
    size_t j = 0;
    while (j < nsch && strcmp(rows[sch[j]].schedule, rows[i].schedule) != 0)
      j++;
    if (j == nsch)
      sch[nsch++] = i;
  }
  return nsch;
}

/* The plot clauses of the per-schedule blocks of sweep.dat: filled points
 * for rows that fit, open ones (not in the key) for rows that do not;
 * `style` sizes the points ("ps 1.5", "ps 0.8"). */
static int sweep_series(struct pl_buf *plots, const pl_sweep_row *rows,
                        const size_t *sch, size_t nsch, const char *style,
                        const char *open_style)
{
  int rc = 0;
  for (size_t s = 0; s < nsch; s++) {
    unsigned c = sweep_colors[s % (sizeof sweep_colors / sizeof sweep_colors[0])];
    rc |= pl_buf_addf(plots,
                      "%s'sweep.dat' index %zu using 1:($3 != 0 ? $2 : 1/0) "
                      "with points pt 7 %s lc rgb '#%06X' notitle",
                      s ? ", \\\n     " : "", s, style, c);
    rc |= pl_buf_addf(plots,
                      ", \\\n     'sweep.dat' index %zu using 1:($3 == 0 ? "
                      "$2 : 1/0) with points pt 6 %s lc rgb '#%06X' notitle",
                      s, open_style, c);
    /* The key shows full-size points whatever size the data are drawn at
     * (small ones when there are thousands). */
    rc |= pl_buf_addf(plots,
                      ", \\\n     keyentry with points pt 7 ps 1.5 lc rgb "
                      "'#%06X' title '", c);
    rc |= pl__plot_quote(plots, rows[sch[s]].schedule);
    rc |= pl_buf_addf(plots, "'");
  }
  return rc;
}

static const pl_sweep_row *front_rows;

static int cmp_front(const void *a, const void *b)
{
  const pl_sweep_row *x = &front_rows[*(const size_t *)a];
  const pl_sweep_row *y = &front_rows[*(const size_t *)b];
  if (x->tokens_per_second != y->tokens_per_second)
    return x->tokens_per_second > y->tokens_per_second ? -1 : 1;
  return x->peak_gib < y->peak_gib ? -1 : x->peak_gib > y->peak_gib;
}

/* Model sweeps: throughput against peak GiB per GPU (no per-point labels,
 * so it stays readable at any number of points), the Pareto front of the
 * points that fit, and o->mem_limit (GiB, > 0) as a vertical line. */
int pl_plot_sweep_pareto(const pl_sweep_row *rows, size_t n,
                         const pl_plot_opts *o, const char *path,
                         struct pl_errbuf *eb)
{
  static const pl_plot_opts defaults = PL_PLOT_OPTS_INIT;
  if (!o)
    o = &defaults;
  int fmt, rc0 = pl__plot_check_output(path, &fmt, eb);
  if (rc0)
    return rc0;
  if (!rows || n == 0)
    return pl_errf(eb, PL_EINVAL, "the sweep has no rows to plot");
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  size_t *sch = pl_calloc(n, sizeof *sch), nsch = 0, *idx = pl_calloc(n, sizeof *idx);
  struct pl_buf data, plots, title, limit;
  int rc = 0;
  char n1[32], n2[32];
  pl_buf_init(&data, 0);
  pl_buf_init(&plots, 0);
  pl_buf_init(&title, 0);
  pl_buf_init(&limit, 0);
  if (!sch || !idx) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  nsch = sweep_schedules(rows, n, sch);
  double xmax = o->mem_limit > 0 ? o->mem_limit : 0, ymax = 0;
  size_t drawn = 0;
  rc |= pl_buf_addf(&data, "# pipelab sweep: one block per schedule (gib "
                           "tokens fits), then the Pareto front\n");
  for (size_t s = 0; s < nsch && !rc; s++) {
    rc |= pl_buf_addf(&data, "%s# %s\n", s ? "\n\n" : "",
                      rows[sch[s]].schedule);
    for (size_t i = 0; i < n; i++) {
      const pl_sweep_row *r = &rows[i];
      if (strcmp(r->schedule, rows[sch[s]].schedule) != 0 ||
          !(r->tokens_per_second > 0) || !(r->peak_gib > 0))
        continue;
      if (r->peak_gib > xmax)
        xmax = r->peak_gib;
      if (r->tokens_per_second > ymax)
        ymax = r->tokens_per_second;
      drawn++;
      rc |= pl_buf_addf(&data, "%s %s %d\n", pl__plot_num(n1, r->peak_gib),
                        pl__plot_num(n2, r->tokens_per_second), r->fits);
    }
    rc |= pl_buf_addf(&data, "0 NaN 1\n");
  }
  /* The front: fitting points by throughput, keeping each that needs less
   * memory than every faster one. */
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (rows[i].fits && rows[i].tokens_per_second > 0 && rows[i].peak_gib > 0)
      idx[k++] = i;
  pthread_mutex_lock(&mu);
  front_rows = rows;
  qsort(idx, k, sizeof *idx, cmp_front);
  front_rows = NULL;
  pthread_mutex_unlock(&mu);
  rc |= pl_buf_addf(&data, "\n\n# Pareto front\n");
  double best = INFINITY;
  size_t nf = 0;
  for (size_t j = 0; j < k; j++)
    if (rows[idx[j]].peak_gib < best) {
      best = rows[idx[j]].peak_gib;
      idx[nf++] = idx[j];
    }
  for (size_t j = nf; j-- > 0;)
    rc |= pl_buf_addf(&data, "%s %s\n", pl__plot_num(n1, rows[idx[j]].peak_gib),
                      pl__plot_num(n2, rows[idx[j]].tokens_per_second));
  if (!nf)
    rc |= pl_buf_addf(&data, "0 NaN\n");
  rc |= sweep_series(&plots, rows, sch, nsch, "ps 0.8", "ps 0.8");
  rc |= pl_buf_addf(&plots, ", \\\n     'sweep.dat' index %zu using 1:2 with "
                            "linespoints lw 2 pt 4 ps 1.2 lc rgb '#000000' "
                            "title 'Pareto front'", nsch);
  if (o->mem_limit > 0)
    rc |= pl_buf_addf(&limit, "set arrow from %s, graph 0 to %s, graph 1 "
                              "nohead lw 2 dt 2 lc rgb '#C00000'\n"
                              "set label 'limit' at %s, graph 0.97 right "
                              "offset -0.5,0 tc rgb '#C00000'",
                      pl__plot_num(n1, o->mem_limit),
                      pl__plot_num(n1, o->mem_limit),
                      pl__plot_num(n2, o->mem_limit));
  if (o->title)
    rc |= pl__plot_quote(&title, o->title);
  else
    rc |= pl_buf_addf(&title, "sweep: throughput vs memory (%zu points, %zu "
                              "on the Pareto front)", drawn, nf);
  if (rc) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  char xm[32], ym[32];
  pl__plot_num(xm, xmax > 0 ? xmax * 1.08 : 1);
  pl__plot_num(ym, ymax > 0 ? ymax * 1.12 : 1);
  const char *kv[] = {"TITLE", title.buf, "XMAX", xm, "YMAX", ym,
                      "LIMIT", limit.buf ? limit.buf : "", "PLOTS", plots.buf,
                      NULL};
  struct pl__plot_file files[] = {{"sweep.dat", &data}};
  rc = pl__plot_run(o, path, o->width > 0 ? o->width : 1000,
                    o->height > 0 ? o->height : 600, "sweep_pareto.gp", kv,
                    files, 1, eb);
out:
  pl_free(sch);
  pl_free(idx);
  pl_buf_free(&data);
  pl_buf_free(&plots);
  pl_buf_free(&title);
  pl_buf_free(&limit);
  return rc;
}

int pl_plot_sweep(const pl_sweep_row *rows, size_t n, const pl_plot_opts *o,
                  const char *path, struct pl_errbuf *eb)
{
  static const pl_plot_opts defaults = PL_PLOT_OPTS_INIT;
  if (!o)
    o = &defaults;
  int fmt, rc = pl__plot_check_output(path, &fmt, eb);
  if (rc)
    return rc;
  if (!rows || n == 0)
    return pl_errf(eb, PL_EINVAL, "the sweep has no rows to plot");
  int metric = sweep_metric(rows, n);
  if (metric < 0)
    return pl_errf(eb, PL_EINVAL,
                   "the sweep has no value to plot (tokens_per_second, "
                   "throughput, iteration_seconds or iteration_time)");

  static const char *const ylabels[] = {
      "throughput (tokens/s)", "throughput (microbatches x size x dp per time unit)",
      "iteration time (s, lower is better)",
      "iteration time (time units, lower is better)"};
  /* Distinct configurations (sorted) and schedules (first-seen order). */
  size_t *cfg = pl_calloc(n, sizeof *cfg), ncfg = 0;
  size_t *sch = pl_calloc(n, sizeof *sch), nsch = 0;
  size_t *cfg_of = pl_calloc(n, sizeof *cfg_of);
  struct pl_buf data, plots, xtics, title;
  pl_buf_init(&data, 0);
  pl_buf_init(&plots, 0);
  pl_buf_init(&xtics, 0);
  pl_buf_init(&title, 0);
  if (!cfg || !sch || !cfg_of) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  /* Rows sorted by configuration (n log n: a sweep has thousands); the
   * first row of each run of equal ones stands for its configuration. */
  for (size_t i = 0; i < n; i++)
    cfg[i] = i;
  cfg_rows = rows;
  qsort(cfg, n, sizeof *cfg, cmp_cfg_idx);
  for (size_t k = 0; k < n; k++) {
    if (k == 0 || cmp_cfg(&rows[cfg[ncfg - 1]], &rows[cfg[k]]) != 0)
      cfg[ncfg++] = cfg[k];
    cfg_of[cfg[k]] = ncfg - 1;
  }
  nsch = sweep_schedules(rows, n, sch);
  double ymax = 0;
  char n1[32], n2[32];
  rc |= pl_buf_addf(&data, "# pipelab sweep: one block per schedule "
                           "(x y fits)\n");
  for (size_t s = 0; s < nsch && !rc; s++) {
    rc |= pl_buf_addf(&data, "%s# %s\n", s ? "\n\n" : "",
                      rows[sch[s]].schedule);
    /* Spread the schedules a little around each configuration so that
     * equal values stay visible. */
    double dx = nsch > 1 ? 0.5 * ((double)s / (double)(nsch - 1) - 0.5) : 0;
    for (size_t i = 0; i < n; i++) {
      if (strcmp(rows[i].schedule, rows[sch[s]].schedule) != 0)
        continue;
      double y = sweep_value(&rows[i], metric);
      if (y < 0)
        continue;
      if (y > ymax)
        ymax = y;
      rc |= pl_buf_addf(&data, "%s %s %d\n",
                        pl__plot_num(n1, (double)cfg_of[i] + dx),
                        pl__plot_num(n2, y), rows[i].fits);
    }
    /* gnuplot rejects an empty data block: add an invisible point. */
    rc |= pl_buf_addf(&data, "0 NaN 1\n");
  }
  /* Every configuration is labelled up to PL_SWEEP_ALL_LABELS of them;
   * beyond, every step-th one (about PL_SWEEP_FEW_LABELS labels, at a fixed
   * width) and the points shrink, so that thousands stay readable. */
  enum { PL_SWEEP_ALL_LABELS = 60, PL_SWEEP_FEW_LABELS = 24 };
  size_t step = ncfg <= PL_SWEEP_ALL_LABELS
                    ? 1
                    : (ncfg + PL_SWEEP_FEW_LABELS - 1) / PL_SWEEP_FEW_LABELS;
  size_t longest = 0;
  for (size_t j = 0; j < ncfg; j += step) {
    char lab[64];
    cfg_label(&rows[cfg[j]], lab, sizeof lab);
    if (strlen(lab) > longest)
      longest = strlen(lab);
    rc |= pl_buf_addf(&xtics, "%s'%s' %zu", j ? ", " : "", lab, j);
  }
  const char *ps = n <= 500    ? "ps 1.5"
                   : n <= 3000 ? "ps 0.9"
                               : "ps 0.5";
  char open_ps[32];
  snprintf(open_ps, sizeof open_ps, "%s lw %s", ps, n <= 500 ? "2" : "1");
  rc |= sweep_series(&plots, rows, sch, nsch, ps, open_ps);
  /* A key entry explaining the open circles, when any row does not fit. */
  for (size_t i = 0; i < n; i++)
    if (rows[i].fits == 0) {
      rc |= pl_buf_addf(&plots, ", \\\n     keyentry with points pt 6 ps "
                                "1.5 lw 2 lc rgb '#404040' title 'does not "
                                "fit'");
      break;
    }
  if (o->title)
    rc |= pl__plot_quote(&title, o->title);
  else
    rc |= pl_buf_addf(&title, "sweep: %s by configuration (%zu runs, %zu "
                              "schedules)",
                      metric < 2 ? "throughput" : "iteration time", n, nsch);
  if (rc) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  char xmax[32], ymx[32], bmargin[16];
  pl__plot_num(xmax, (double)ncfg - 0.5);
  pl__plot_num(ymx, ymax > 0 ? ymax * 1.12 : 1);
  snprintf(bmargin, sizeof bmargin, "%d", 4 + (int)(longest * 0.45));
  size_t shown = step > 1 ? PL_SWEEP_FEW_LABELS + 5 : ncfg;
  int width = o->width > 0 ? o->width : (int)(400 + 60 * shown);
  if (width < 800)
    width = 800;
  if (width > 4000)
    width = 4000;
  int height = o->height > 0 ? o->height : step > 1 ? 640 : 520;
  const char *kv[] = {"TITLE", title.buf, "YLABEL", ylabels[metric],
                      "XMAX", xmax, "YMAX", ymx, "XTICS", xtics.buf,
                      "BMARGIN", bmargin, "PLOTS", plots.buf, NULL};
  struct pl__plot_file files[] = {{"sweep.dat", &data}};
  rc = pl__plot_run(o, path, width, height, "sweep.gp", kv, files, 1, eb);
out:
  pl_free(cfg);
  pl_free(sch);
  pl_free(cfg_of);
  pl_buf_free(&data);
  pl_buf_free(&plots);
  pl_buf_free(&xtics);
  pl_buf_free(&title);
  return rc;
}
