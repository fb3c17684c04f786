/* test_plots.c: gnuplot figures (plots/). The data files are checked value
 * by value against the simulated result; the figures are rendered and their
 * headers read back (PNG signature and IHDR size, "%PDF", one SVG marker per
 * op). Rendering tests skip (77) when gnuplot is absent. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipelab/plots.h"

static char tmpdir[256];
static int have_gnuplot;

/* Simulates a named schedule with unit costs (F = B = W = 1) and records
 * ops and memory. */
static void make_result(const char *name, int p, int m, pl_result *r)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  gp.p = p;
  gp.m = m;
  assert_int_equal(pl_sched_gen(name, &gp, &s, &eb), 0);
  assert_int_equal(pl_costs_create(pl_sched_stages(s), p, &c), 0);
  pl_costs_uniform(c, pl_sched_chunks(s), 1, 1, 1, 0, 0.5);
  pl_result init = PL_RESULT_INIT;
  *r = init;
  assert_int_equal(
      pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM, r, &eb), 0);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

static void path_in(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", tmpdir, name);
}

static char *slurp(const char *path, size_t *len)
{
  /* Through a one-element array rather than &local: GCC 12 at -O3 takes
   * the address of a local scalar passed out for the pointer itself and
   * reports a dangling pointer (-Wdangling-pointer) where it is used. */
  char *t[1] = {NULL};
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_read_file(path, t, len, &eb), 0);
  return t[0];
}

static size_t count(const char *hay, const char *needle)
{
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* Counts the data lines of a timeline whose label is shown; *rows gets
 * the number of data lines. */
static size_t count_shown(const char *data, size_t *rows)
{
  size_t shown = 0;
  *rows = 0;
  for (const char *s = data; *s;) {
    const char *nl = strchr(s, '\n');
    if (*s != '#') {
      int show = -1;
      assert_int_equal(sscanf(s, "%*d %*f %*f %*s %*d %*d %*u %*s %d", &show),
                       1);
      shown += show == 1;
      (*rows)++;
    }
    if (!nl)
      break;
    s = nl + 1;
  }
  return shown;
}

/* Checks the PNG signature and returns the IHDR size. */
static void png_size(const char *path, unsigned *w, unsigned *h)
{
  size_t len;
  unsigned char *d = (unsigned char *)slurp(path, &len);
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a,
                                       0x1a, 0x0a};
  assert_true(len > 1000);
  assert_memory_equal(d, sig, 8);
  assert_memory_equal(d + 12, "IHDR", 4);
  *w = (unsigned)d[16] << 24 | (unsigned)d[17] << 16 | (unsigned)d[18] << 8 |
       d[19];
  *h = (unsigned)d[20] << 24 | (unsigned)d[21] << 16 | (unsigned)d[22] << 8 |
       d[23];
  pl_free(d);
}

static int exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

#define NEED_GNUPLOT()                                                        \
  do {                                                                        \
    if (!have_gnuplot)                                                        \
      skip();                                                                 \
  } while (0)

/* ------------------------------------------------------------ pure data */

static void test_format_from_path(void **state)
{
  (void)state;
  static const struct {
    const char *path;
    int rc, fmt;
  } cases[] = {
      {"a.png", 0, PL_PLOT_PNG},     {"dir/b.svg", 0, PL_PLOT_SVG},
      {"C.PDF", 0, PL_PLOT_PDF},     {"x.Png", 0, PL_PLOT_PNG},
      {"x.jpg", PL_EINVAL, -1},      {"noext", PL_EINVAL, -1},
      {"dir.png/file", PL_EINVAL, -1}, {"x.png.bak", PL_EINVAL, -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    int fmt = -1;
    int rc = pl_plot_format_from_path(cases[i].path, &fmt, &eb);
    assert_int_equal(rc, cases[i].rc);
    if (!rc)
      assert_int_equal(fmt, cases[i].fmt);
    else
      assert_non_null(strstr(eb.msg, ".png, .svg or .pdf"));
  }
}

static void test_timeline_data_rows(void **state)
{
  (void)state;
  pl_result r;
  make_result("1f1b", 4, 8, &r);
  /* 1F1B: one F and one BW per (stage, microbatch). */
  assert_int_equal(r.n_ops, 4 * 8 * 2);
  struct pl_buf b;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_buf_init(&b, 0);
  assert_int_equal(pl_plot_timeline_data(&r, 0, &b, &eb), 0);
  size_t row = 0;
  char *save = NULL;
  for (char *line = strtok_r(b.buf, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#')
      continue;
    int rank, mb, stage, show;
    unsigned color;
    double st, en;
    char kind[8], label[16], name[32];
    assert_int_equal(sscanf(line, "%d %lf %lf %7s %d %d %u %15s %d %31s",
                            &rank, &st, &en, kind, &mb, &stage, &color, label,
                            &show, name),
                     10);
    assert_true(row < r.n_ops);
    const pl_op_rec *o = &r.ops[row];
    assert_int_equal(rank, o->rank);
    assert_true(st == o->start);
    assert_true(en == o->end);
    assert_string_equal(kind, pl_op_kind_name(o->op.kind));
    assert_int_equal(mb, o->op.mb);
    assert_int_equal(stage, o->op.stage);
    assert_int_equal(color, pl_plot_kind_color(o->op.kind));
    assert_int_equal(atoi(label), o->op.mb);
    /* At the default width every unit-time box is wide enough. */
    assert_int_equal(show, 1);
    row++;
  }
  assert_int_equal(row, r.n_ops);
  /* Rank 0 starts with F0 at 0 and the last op of 1F1B p=4 m=8 (unit
   * costs, BW = 2) ends at the makespan 2*(m + p - 1) + ... = 33. */
  assert_true(r.ops[0].start == 0.0 && r.ops[0].end == 1.0);
  assert_true(r.makespan == 33.0);
  pl_buf_free(&b);

  /* At 100 px for 33 units a 1-unit box is 0.2 px: no label fits. */
  pl_buf_init(&b, 0);
  assert_int_equal(pl_plot_timeline_data(&r, 100, &b, &eb), 0);
  assert_int_equal(count_shown(b.buf, &row), 0);
  assert_int_equal(row, r.n_ops);
  pl_buf_free(&b);
  pl_result_free(&r);
}

static void test_kind_colors_distinct(void **state)
{
  (void)state;
  for (int a = 0; a < PL_OP_NKINDS; a++)
    for (int b = a + 1; b < PL_OP_NKINDS; b++)
      assert_int_not_equal(pl_plot_kind_color(a), pl_plot_kind_color(b));
}

static void check_memory_data(const char *name, const double *want)
{
  pl_result r;
  make_result(name, 4, 8, &r);
  struct pl_buf b;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_buf_init(&b, 0);
  assert_int_equal(pl_plot_memory_data(&r, &b, &eb), 0);
  /* Blocks are separated by two blank lines: p blocks. */
  assert_int_equal(count(b.buf, "\n\n\n"), 3);
  int rank = -1;
  double peak[4] = {0}, last_t = -1, last_v = -1;
  char *save = NULL;
  for (char *line = strtok_r(b.buf, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "# rank ", 7)) {
      if (rank >= 0) {
        assert_true(last_t == r.makespan);
        assert_true(last_v == 0.0);
      }
      rank = atoi(line + 7);
      last_t = -1;
      continue;
    }
    if (line[0] == '#')
      continue;
    double t, v;
    assert_int_equal(sscanf(line, "%lf %lf", &t, &v), 2);
    if (last_t < 0)
      assert_true(t == 0.0 && v == 0.0); /* every block starts at (0, 0) */
    assert_true(t >= last_t);
    last_t = t;
    last_v = v;
    if (v > peak[rank])
      peak[rank] = v;
  }
  assert_int_equal(rank, 3);
  assert_true(last_t == r.makespan);
  /* The drawn peaks are the engine's peaks. */
  for (int k = 0; k < 4; k++) {
    assert_true(peak[k] == r.ranks[k].peak_mem);
    if (peak[k] != want[k])
      fail_msg("%s rank %d: peak %g, want %g", name, k, peak[k], want[k]);
  }
  pl_buf_free(&b);
  pl_result_free(&r);
}

static void test_memory_data_blocks(void **state)
{
  (void)state;
  /* 1F1B: p - k microbatches in flight on rank k (M_B = 1 unit). ZB-H1
   * also keeps M_W = 0.5 per deferred W: 4, 3.5, 3, 2.5 (the paper's
   * "1F1B memory" up to the W parts). */
  static const double f1b[4] = {4, 3, 2, 1}, zbh1[4] = {4, 3.5, 3, 2.5};
  check_memory_data("1f1b", f1b);
  check_memory_data("zb-h1", zbh1);
}

static void test_sweep_parse(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sweep_row *rows;
  size_t n;
  const char csv[] =
      "# comment\n"
      "microbatches,schedule,stages,tokens_per_second,fits,extra\r\n"
      "8,1f1b,4,1200.5,true,x\n"
      "16,\"zb-h1\",4,1500,0,y\n";
  assert_int_equal(pl_plot_sweep_parse(csv, strlen(csv), &rows, &n, &eb), 0);
  assert_int_equal(n, 2);
  assert_string_equal(rows[0].schedule, "1f1b");
  assert_int_equal(rows[0].microbatches, 8);
  assert_int_equal(rows[0].stages, 4);
  assert_true(rows[0].tokens_per_second == 1200.5);
  assert_int_equal(rows[0].fits, 1);
  assert_int_equal(rows[0].mb_size, -1);
  assert_true(rows[0].iteration_seconds == -1);
  assert_string_equal(rows[1].schedule, "zb-h1");
  assert_int_equal(rows[1].fits, 0);
  pl_plot_sweep_free(rows);

  /* A quoted cell may hold a comma and "" for a quote. */
  const char quoted[] = "schedule,tokens_per_second\n"
                        "\"zb, \"\"v\"\"\" ,10\n";
  assert_int_equal(pl_plot_sweep_parse(quoted, strlen(quoted), &rows, &n, &eb),
                   0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].schedule, "zb, \"v\"");
  assert_true(rows[0].tokens_per_second == 10);
  pl_plot_sweep_free(rows);

  const char js[] =
      "{\"rows\": [{\"schedule\": \"zb-v\", \"stages\": 8, \"chunks\": 2, "
      "\"iteration_seconds\": 1.25, \"peak_gib\": 30.5, \"fits\": false}]}";
  assert_int_equal(pl_plot_sweep_parse(js, strlen(js), &rows, &n, &eb), 0);
  assert_int_equal(n, 1);
  assert_int_equal(rows[0].chunks, 2);
  assert_true(rows[0].iteration_seconds == 1.25);
  assert_true(rows[0].peak_gib == 30.5);
  assert_int_equal(rows[0].fits, 0);
  pl_plot_sweep_free(rows);

  /* The unit-free columns of `pipelab sweep` without a model, with a
   * rejected row (status, reason, no throughput). */
  const char sweep_csv[] =
      "rank,schedule,stages,microbatches,mb_size,chunks,dp,throughput,"
      "iteration_time,bubble_ratio,peak_activation_units,mfu,fits,reason\n"
      "1,zb-h1,2,16,1,1,4,2.612244898,24.5,0.0204082,1,0,true,\"\"\n"
      "2,gpipe,2,8,1,1,4,2.37037037,13.5,0.111111,4,0,false,\"out of "
      "memory (peak 4 > limit 1)\"\n"
      ",interleaved,2,7,1,2,4,,,,,,,\"needs m % p == 0, \"\"m\"\" is 7\"\n";
  assert_int_equal(
      pl_plot_sweep_parse(sweep_csv, strlen(sweep_csv), &rows, &n, &eb), 0);
  assert_int_equal(n, 3);
  assert_true(rows[0].throughput == 2.612244898);
  assert_true(rows[0].iteration_time == 24.5);
  assert_true(rows[1].peak_units == 4);
  assert_int_equal(rows[0].fits, 1);
  assert_int_equal(rows[1].fits, 0);
  assert_int_equal(rows[2].fits, -1);
  assert_true(rows[2].throughput == -1);
  assert_true(rows[0].tokens_per_second == -1);
  pl_plot_sweep_free(rows);
  const char sweep_json[] =
      "{\"gpus\": 8, \"rows\": [{\"rank\": 1, \"schedule\": \"1f1b\", "
      "\"stages\": 2, \"status\": \"ok\", \"throughput\": 2.5}, "
      "{\"schedule\": \"gpipe\", \"stages\": 2, \"status\": \"rejected\", "
      "\"throughput\": 2.4, \"reason\": \"out of memory\"}]}";
  assert_int_equal(
      pl_plot_sweep_parse(sweep_json, strlen(sweep_json), &rows, &n, &eb), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rows[0].fits, 1);
  assert_int_equal(rows[1].fits, 0);
  pl_plot_sweep_free(rows);

  static const struct {
    const char *text, *msg;
  } bad[] = {
      {"stages,tokens_per_second\n4,10\n", "no 'schedule' column"},
      {"schedule,stages,tokens_per_second\n1f1b,four,10\n",
       "line 2: bad value for stages"},
      {"schedule,stages\n1f1b,4\n", "no row has a value to plot"},
      {"schedule,tokens_per_second\n1f1b,10,3\n", "line 2: 3 cells"},
      {"schedule,tokens_per_second\n1f1b,10\n\"zb,2\n",
       "line 3: unterminated quote"},
      {"[{\"schedule\": \"a\", \"tokens_per_second\": -5}]",
       "bad value for tokens_per_second"},
      {"[1, 2]", "row 0: not an object"},
      {"{\"rows\": 3}", "expected an array"},
      {"[{\"schedule\": ", "sweep JSON, line 1"},
      {"", "empty"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct pl_errbuf e2 = PL_ERRBUF_INIT;
    assert_int_equal(
        pl_plot_sweep_parse(bad[i].text, strlen(bad[i].text), &rows, &n, &e2),
        PL_EPARSE);
    assert_null(rows);
    if (!strstr(e2.msg, bad[i].msg))
      fail_msg("case %zu: '%s' lacks '%s'", i, e2.msg, bad[i].msg);
  }
}

/* ------------------------------------------------------- error handling */

static void test_errors(void **state)
{
  (void)state;
  pl_result r, empty = PL_RESULT_INIT;
  make_result("1f1b", 2, 4, &r);
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char out[512];

  path_in(out, sizeof out, "x.jpg");
  assert_int_equal(pl_plot_timeline(&r, NULL, out, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "must end in .png, .svg or .pdf"));
  assert_false(exists(out));

  assert_int_equal(pl_plot_timeline(&r, NULL, "/nonexistent-dir/t.png", &eb),
                   PL_EIO);
  assert_non_null(strstr(eb.msg, "cannot write '/nonexistent-dir/t.png'"));
  assert_int_equal(pl_plot_memory(&r, NULL, tmpdir, &eb), PL_EINVAL);

  /* A directory named like a figure. */
  path_in(out, sizeof out, "adir.png");
  assert_int_equal(mkdir(out, 0700), 0);
  assert_int_equal(pl_plot_timeline(&r, NULL, out, &eb), PL_EIO);
  assert_non_null(strstr(eb.msg, "is a directory"));
  rmdir(out);

  path_in(out, sizeof out, "none.png");
  assert_int_equal(pl_plot_timeline(&empty, NULL, out, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "no per-op rows"));
  assert_int_equal(pl_plot_memory(&empty, NULL, out, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "no memory timeline"));
  assert_int_equal(pl_plot_sweep(NULL, 0, NULL, out, &eb), PL_EINVAL);
  assert_int_equal(pl_plot_compare(NULL, NULL, 0, NULL, out, &eb), PL_EINVAL);

  /* gnuplot missing: one line naming the package. */
  pl_plot_opts o = PL_PLOT_OPTS_INIT;
  o.gnuplot = "/nonexistent/gnuplot";
  assert_int_equal(pl_plot_timeline(&r, &o, out, &eb), PL_EEXTERNAL);
  assert_non_null(strstr(eb.msg, "gnuplot not found"));
  assert_non_null(strstr(eb.msg, "apt-get install gnuplot-nox"));
  assert_null(strchr(eb.msg, '\n'));
  {
    char *old_path = getenv("PATH") ? pl_strdup(getenv("PATH")) : NULL;
    char *old_env = getenv("PIPELAB_GNUPLOT")
                        ? pl_strdup(getenv("PIPELAB_GNUPLOT"))
                        : NULL;
    setenv("PATH", "/nonexistent", 1);
    unsetenv("PIPELAB_GNUPLOT");
    assert_int_equal(pl_plot_timeline(&r, NULL, out, &eb), PL_EEXTERNAL);
    assert_string_equal(eb.msg, "gnuplot not found: install it with "
                                "'apt-get install gnuplot-nox'");
    if (old_path)
      setenv("PATH", old_path, 1);
    if (old_env)
      setenv("PIPELAB_GNUPLOT", old_env, 1);
    pl_free(old_path);
    pl_free(old_env);
  }
  assert_false(exists(out));

  /* A gnuplot that fails: its stderr becomes the message, and neither the
   * figure nor its temporary name is left behind. */
  char fake[512];
  path_in(fake, sizeof fake, "fake-gnuplot.sh");
  FILE *f = fopen(fake, "w");
  assert_non_null(f);
  fputs("#!/bin/sh\necho 'plot x' >&2\necho '       ^' >&2\n"
        "echo '\"script.gp\" line 3: boom here' >&2\n: > out.png\nexit 1\n",
        f);
  fclose(f);
  chmod(fake, 0755);
  o.gnuplot = fake;
  assert_int_equal(pl_plot_timeline(&r, &o, out, &eb), PL_EEXTERNAL);
  assert_string_equal(eb.msg, "gnuplot failed (exit status 1): "
                              "\"script.gp\" line 3: boom here");
  assert_false(exists(out));
  char tmpname[600];
  snprintf(tmpname, sizeof tmpname, "%s.tmp", out);
  assert_false(exists(tmpname));

  /* Exits 0 but writes nothing: still an error, not an empty figure. */
  f = fopen(fake, "w");
  assert_non_null(f);
  fputs("#!/bin/sh\nexit 0\n", f);
  fclose(f);
  assert_int_equal(pl_plot_timeline(&r, &o, out, &eb), PL_EEXTERNAL);
  assert_non_null(strstr(eb.msg, "wrote no figure"));
  assert_false(exists(out));

  /* Hangs: killed at the timeout. */
  f = fopen(fake, "w");
  assert_non_null(f);
  fputs("#!/bin/sh\nexec sleep 30\n", f);
  fclose(f);
  o.timeout_s = 0.3;
  assert_int_equal(pl_plot_timeline(&r, &o, out, &eb), PL_ETIMEDOUT);
  assert_false(exists(out));
  unlink(fake);
  pl_result_free(&r);
}

/* ------------------------------------------------------------ rendering */

static void test_timeline_png(void **state)
{
  (void)state;
  NEED_GNUPLOT();
  pl_result r;
  make_result("zb-h1", 4, 8, &r);
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char out[512];
  unsigned w, h;
  path_in(out, sizeof out, "tl.png");
  assert_int_equal(pl_plot_timeline_file(&r, out, &eb), 0);
  png_size(out, &w, &h);
  /* Automatic size: 34 px per rank plus 120 px of title, axis and key;
   * 30 px per median op (1 unit) plus 94 px of margins. */
  assert_int_equal(h, 42 + 78 + 34 * 4);
  assert_int_equal(w, 30 * 27 + 70 + 24); /* ZB-H1 p=4 m=8: makespan 27 */
  assert_true(r.makespan == 27.0);

  pl_plot_opts o = PL_PLOT_OPTS_INIT;
  o.width = 1234;
  o.height = 321;
  o.title = "it's a 'quoted' title\nwith a newline";
  path_in(out, sizeof out, "tl2.PNG");
  assert_int_equal(pl_plot_timeline(&r, &o, out, &eb), 0);
  png_size(out, &w, &h);
  assert_int_equal(w, 1234);
  assert_int_equal(h, 321);
  pl_result_free(&r);
}

static void test_timeline_svg_one_marker_per_op(void **state)
{
  (void)state;
  NEED_GNUPLOT();
  static const struct {
    const char *name;
    int p, m;
    size_t ops;
  } cases[] = {{"1f1b", 4, 8, 64}, {"zb-h1", 4, 8, 96}, {"zb-v", 4, 8, 192},
               {"interleaved", 2, 4, 32}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pl_result r;
    make_result(cases[i].name, cases[i].p, cases[i].m, &r);
    assert_int_equal(r.n_ops, cases[i].ops);
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    char out[512];
    path_in(out, sizeof out, "tl.svg");
    assert_int_equal(pl_plot_timeline(&r, NULL, out, &eb), 0);
    size_t len;
    char *svg = slurp(out, &len);
    assert_non_null(strstr(svg, "<svg"));
    assert_int_equal(count(svg, "pl-op:"), cases[i].ops);
    /* The first op of rank 0 is F0 on stage 0 from 0 to its end. */
    char first[96];
    snprintf(first, sizeof first, "pl-op:F0s0 rank 0 [0, %g]",
             r.ops[0].end);
    assert_non_null(strstr(svg, first));
    assert_non_null(strstr(svg, cases[i].name));
    pl_free(svg);
    pl_result_free(&r);
  }
}

static void test_timeline_fused_fb(void **state)
{
  (void)state;
  NEED_GNUPLOT();
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  assert_int_equal(pl_sched_load_csv(PL_TEST_DATA
                                     "/pytorch/dualpipev_4rank_10mb.csv",
                                     PL_DIALECT_AUTO, &s, NULL, &eb),
                   0);
  assert_int_equal(pl_costs_create(pl_sched_stages(s), pl_sched_ranks(s), &c),
                   0);
  pl_costs_uniform(c, pl_sched_chunks(s), 1, 1, 1, 0, 0.5);
  pl_result r = PL_RESULT_INIT;
  assert_int_equal(
      pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM, &r, &eb), 0);
  size_t fb = 0;
  for (size_t i = 0; i < r.n_ops; i++)
    fb += r.ops[i].op.kind == PL_OP_FB;
  assert_true(fb > 0);
  struct pl_buf b;
  pl_buf_init(&b, 0);
  assert_int_equal(pl_plot_timeline_data(&r, 0, &b, &eb), 0);
  /* Every fused op is labelled "forward mb/backward mb" in FB orange. */
  char color[32];
  snprintf(color, sizeof color, " %u ", pl_plot_kind_color(PL_OP_FB));
  assert_int_equal(count(b.buf, " FB "), fb);
  pl_buf_free(&b);
  char out[512];
  path_in(out, sizeof out, "dualpipev.svg");
  assert_int_equal(pl_plot_timeline(&r, NULL, out, &eb), 0);
  size_t len;
  char *svg = slurp(out, &len);
  assert_int_equal(count(svg, "pl-op:"), r.n_ops);
  assert_non_null(strstr(svg, "FB (fused F&amp;B)"));
  pl_free(svg);
  path_in(out, sizeof out, "dualpipev.png");
  assert_int_equal(pl_plot_timeline(&r, NULL, out, &eb), 0);
  unsigned w, h;
  png_size(out, &w, &h);
  assert_int_equal(h, 42 + 78 + 34 * 4);
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

static void test_memory_png_svg_pdf(void **state)
{
  (void)state;
  NEED_GNUPLOT();
  pl_result r;
  make_result("1f1b", 4, 8, &r);
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char out[512];
  unsigned w, h;
  path_in(out, sizeof out, "mem.png");
  assert_int_equal(pl_plot_memory_file(&r, 3.5, out, &eb), 0);
  png_size(out, &w, &h);
  assert_int_equal(w, 1000);
  assert_int_equal(h, 480);
  path_in(out, sizeof out, "mem.svg");
  assert_int_equal(pl_plot_memory_file(&r, 3.5, out, &eb), 0);
  size_t len;
  char *svg = slurp(out, &len);
  assert_non_null(strstr(svg, "limit 3.5 units"));
  for (int k = 0; k < 4; k++) {
    char key[16];
    snprintf(key, sizeof key, ">rank %d<", k);
    assert_non_null(strstr(svg, key));
  }
  pl_free(svg);
  path_in(out, sizeof out, "mem.pdf");
  assert_int_equal(pl_plot_memory_file(&r, 0, out, &eb), 0);
  char *pdf = slurp(out, &len);
  assert_true(len > 1000);
  assert_memory_equal(pdf, "%PDF", 4);
  pl_free(pdf);
  pl_result_free(&r);
}

static void test_compare_plots(void **state)
{
  (void)state;
  NEED_GNUPLOT();
  pl_result a, b, c, d;
  make_result("1f1b", 4, 8, &a);
  make_result("1f1b", 4, 8, &b);
  make_result("zb-h1", 4, 8, &c);
  make_result("zb-h1", 4, 8, &d);
  /* "Real" runs: 10 % and 5 % slower than predicted. */
  b.makespan *= 1.1;
  d.makespan *= 1.05;
  const pl_result *pred[] = {&a, &c}, *real[] = {&b, &d};
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char out[512];
  unsigned w, h;
  path_in(out, sizeof out, "cmp.png");
  assert_int_equal(pl_plot_compare(pred, real, 2, NULL, out, &eb), 0);
  png_size(out, &w, &h);
  assert_int_equal(w, 640);
  assert_int_equal(h, 480);
  path_in(out, sizeof out, "cmp.svg");
  assert_int_equal(pl_plot_compare(pred, real, 2, NULL, out, &eb), 0);
  size_t len;
  char *svg = slurp(out, &len);
  /* error = (real - predicted) / predicted (pl_error_pct, what compare
   * prints): 10 % and 5 %. */
  assert_non_null(strstr(svg, "+10.0%"));
  assert_non_null(strstr(svg, "+5.0%"));
  assert_non_null(strstr(svg, "(real - predicted) / predicted"));
  assert_non_null(strstr(svg, ">1f1b<"));
  assert_non_null(strstr(svg, ">zb-h1<"));
  pl_free(svg);
  pl_plot_opts o = PL_PLOT_OPTS_INIT;
  o.style = PL_PLOT_SCATTER;
  path_in(out, sizeof out, "cmp_scatter.png");
  assert_int_equal(pl_plot_compare(pred, real, 2, &o, out, &eb), 0);
  png_size(out, &w, &h);
  assert_int_equal(w, 700);

  /* Units: us against ms converts; "unit" against "us" does not. */
  snprintf(b.time_unit, sizeof b.time_unit, "ms");
  snprintf(a.time_unit, sizeof a.time_unit, "us");
  snprintf(c.time_unit, sizeof c.time_unit, "us");
  snprintf(d.time_unit, sizeof d.time_unit, "us");
  path_in(out, sizeof out, "cmp_units.png");
  assert_int_equal(pl_plot_compare(pred, real, 2, NULL, out, &eb), 0);
  snprintf(d.time_unit, sizeof d.time_unit, "unit");
  assert_int_equal(pl_plot_compare(pred, real, 2, NULL, out, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "cannot compare times in 'unit'"));
  pl_result_free(&a);
  pl_result_free(&b);
  pl_result_free(&c);
  pl_result_free(&d);
}

static void test_sweep_plot(void **state)
{
  (void)state;
  NEED_GNUPLOT();
  const char csv[] =
      "schedule,stages,microbatches,mb_size,chunks,tokens_per_second,"
      "iteration_seconds,peak_gib,fits\n"
      "1f1b,4,8,1,1,1000,2.0,20,1\n"
      "zb-h1,4,8,1,1,1200,1.7,20,1\n"
      "1f1b,4,16,1,1,1100,3.7,20,1\n"
      "zb-h1,4,16,1,1,1300,3.1,20,1\n"
      "zb-v,4,16,1,2,1350,3.0,90,0\n";
  pl_sweep_row *rows;
  size_t n;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_plot_sweep_parse(csv, strlen(csv), &rows, &n, &eb), 0);
  assert_int_equal(n, 5);
  char out[512];
  path_in(out, sizeof out, "sweep.svg");
  assert_int_equal(pl_plot_sweep(rows, n, NULL, out, &eb), 0);
  size_t len;
  char *svg = slurp(out, &len);
  /* Three configurations, sorted; three schedules in the key. */
  assert_non_null(strstr(svg, "p4 m8 b1 v1"));
  assert_non_null(strstr(svg, "p4 m16 b1 v1"));
  assert_non_null(strstr(svg, "p4 m16 b1 v2"));
  assert_non_null(strstr(svg, ">zb-v<"));
  assert_non_null(strstr(svg, "does not fit"));
  assert_non_null(strstr(svg, "throughput (tokens/s)"));
  pl_free(svg);
  path_in(out, sizeof out, "sweep.png");
  assert_int_equal(pl_plot_sweep(rows, n, NULL, out, &eb), 0);
  unsigned w, h;
  png_size(out, &w, &h);
  assert_int_equal(w, 800);
  assert_int_equal(h, 520);
  pl_plot_sweep_free(rows);
}

/* The temporary directory is removed after success and after failure. */
static void test_no_temp_left(void **state)
{
  (void)state;
  NEED_GNUPLOT();
  char sub[512];
  path_in(sub, sizeof sub, "tmpcheck");
  assert_int_equal(mkdir(sub, 0700), 0);
  char *old = getenv("TMPDIR") ? pl_strdup(getenv("TMPDIR")) : NULL;
  setenv("TMPDIR", sub, 1);
  pl_result r;
  make_result("1f1b", 2, 4, &r);
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char out[512];
  path_in(out, sizeof out, "tmpcheck.png");
  assert_int_equal(pl_plot_timeline(&r, NULL, out, &eb), 0);
  pl_plot_opts o = PL_PLOT_OPTS_INIT;
  o.gnuplot = "/bin/false";
  assert_int_equal(pl_plot_memory(&r, &o, out, &eb), PL_EEXTERNAL);
  DIR *d = opendir(sub);
  assert_non_null(d);
  struct dirent *e;
  int entries = 0;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      entries++;
  closedir(d);
  assert_int_equal(entries, 0);
  rmdir(sub);
  if (old)
    setenv("TMPDIR", old, 1);
  else
    unsetenv("TMPDIR");
  pl_free(old);
  pl_result_free(&r);
}

static void rm_rf_tmp(void)
{
  DIR *d = opendir(tmpdir);
  if (!d)
    return;
  struct dirent *e;
  char p[600];
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(tmpdir);
}

int main(void)
{
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/test_plots-XXXXXX",
           base && base[0] ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  char gp[1024];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  have_gnuplot = pl_plot_find_gnuplot(NULL, gp, sizeof gp, &eb) == 0;
  const struct CMUnitTest data_tests[] = {
      cmocka_unit_test(test_format_from_path),
      cmocka_unit_test(test_timeline_data_rows),
      cmocka_unit_test(test_kind_colors_distinct),
      cmocka_unit_test(test_memory_data_blocks),
      cmocka_unit_test(test_sweep_parse),
      cmocka_unit_test(test_errors),
  };
  const struct CMUnitTest render_tests[] = {
      cmocka_unit_test(test_timeline_png),
      cmocka_unit_test(test_timeline_svg_one_marker_per_op),
      cmocka_unit_test(test_timeline_fused_fb),
      cmocka_unit_test(test_memory_png_svg_pdf),
      cmocka_unit_test(test_compare_plots),
      cmocka_unit_test(test_sweep_plot),
      cmocka_unit_test(test_no_temp_left),
  };
  int rc = cmocka_run_group_tests_name("plots data", data_tests, NULL, NULL);
  if (have_gnuplot)
    rc |= cmocka_run_group_tests_name("plots rendering", render_tests, NULL,
                                      NULL);
  rm_rf_tmp();
  if (rc)
    return 1;
  if (!have_gnuplot) {
    fprintf(stderr, "skipped: %s; the rendering tests did not run\n", eb.msg);
    return 77;
  }
  return 0;
}
