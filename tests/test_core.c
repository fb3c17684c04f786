/*
 * test_core.c: the base layer (core/): the RFC 4180 CSV reader and writer,
 * the strict number parser, the embedded files, aligned allocation, and
 * allocation-failure injection: a hook that refuses the k-th allocation,
 * for every k, in simulate (generate, validate, run), the CSV readers and
 * the result reader, each of which must answer PL_ENOMEM and free
 * everything it allocated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelab/pipelab.h"
#include "pipelab/traces.h"

/* ------------------------------------------------------------- CSV --- */

/* Reads every record of text and renders it as "f1|f2;f1;..." ("<>" for a
 * record of no fields), or "ERR line:cell why". */
static void csv_render(const char *text, size_t len, unsigned flags,
                       char *out, size_t ol)
{
  struct pl_csv r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc;
  out[0] = 0;
  pl_csv_init(&r, text, len, flags);
  while ((rc = pl_csv_next(&r, &eb)) > 0) {
    if (r.nf == 0)
      strncat(out, "<>", ol - strlen(out) - 1);
    for (int i = 0; i < r.nf; i++) {
      if (i)
        strncat(out, "|", ol - strlen(out) - 1);
      strncat(out, r.f[i], ol - strlen(out) - 1);
    }
    strncat(out, ";", ol - strlen(out) - 1);
  }
  if (rc < 0)
    snprintf(out, ol, "ERR %d:%d %s", r.err_line, r.err_cell, r.err_why);
  pl_csv_free(&r);
}

static void test_csv_reader(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    unsigned flags;
    const char *want;
  } cases[] = {
    {"a,b\nc,d\n", 0, "a|b;c|d;"},
    {"a,b\r\nc,d", 0, "a|b;c|d;"},           /* CRLF, no final newline */
    {"a,b\rc,d\r", 0, "a|b;c|d;"},           /* lone CR */
    {"\xef\xbb\xbf" "x,y\n", 0, "x|y;"},     /* BOM */
    {"\"a,1\",\"say \"\"hi\"\"\"\n", 0, "a,1|say \"hi\";"},
    {"\"two\nlines\",z\n", 0, "two\nlines|z;"},
    {"a,,\n", 0, "a||;"},                   /* empty fields */
    {"a\n\nb\n\n\n", 0, "a;<>;b;"},          /* blank = no fields; trailing
                                                blank lines are no records */
    {"a\n\nb\n", PL_CSV_SKIP_BLANK, "a;b;"},
    {" a , \"b\" \n", PL_CSV_TRIM, "a|b;"},
    {" a , b\n", 0, " a | b;"},
    {"# note, \"x\nh\n  # again\nv\n", PL_CSV_COMMENTS, "h;v;"},
    {"#x\n", 0, "#x;"},
    {"", 0, ""},
    {"\"a\"b\n", 0, "ERR 1:1 unexpected text after the closing quote"},
    {"x\ny,\"open\n", 0,
     "ERR 2:2 quoted field is not closed (missing '\"')"},
    {"\"a\nb\",\"c\"x\n", 0, "ERR 2:2 unexpected text after the closing "
                              "quote"},
    {"\"a\nb\",c,\"d\n", 0, "ERR 2:3 quoted field is not closed (missing "
                              "'\"')"},
  };
  char got[256];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    csv_render(cases[i].in, strlen(cases[i].in), cases[i].flags, got,
               sizeof got);
    if (strcmp(got, cases[i].want))
      fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
  }
  /* Positions of fields and the message of an error. */
  struct pl_csv r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  static const char t[] = "a,\"b\nb\",c\nd\n";
  pl_csv_init(&r, t, sizeof t - 1, 0);
  assert_int_equal(pl_csv_next(&r, &eb), 1);
  assert_int_equal(r.line, 1);
  assert_int_equal(r.nf, 3);
  assert_int_equal(r.f_line[2], 2);
  assert_int_equal(r.f_quoted[1], 1);
  assert_int_equal(r.f_quoted[2], 0);
  assert_int_equal(r.f_len[1], 3);
  assert_int_equal(pl_csv_next(&r, &eb), 1);
  assert_int_equal(r.line, 3);
  assert_string_equal(r.f[0], "d");
  assert_int_equal(pl_csv_next(&r, &eb), 0);
  pl_csv_free(&r);
  pl_csv_init(&r, "a,b,c\n", 6, 0);
  r.max_fields = 2;
  assert_int_equal(pl_csv_next(&r, &eb), PL_EPARSE);
  assert_string_equal(eb.msg, "line 1, cell 3: too many fields");
  pl_csv_free(&r);
  pl_csv_init(&r, "abcdef\n", 7, 0);
  r.max_record = 4;
  assert_int_equal(pl_csv_next(&r, &eb), PL_EPARSE);
  assert_string_equal(eb.msg, "line 1, cell 1: record too large");
  pl_csv_free(&r);
  /* A NUL byte is data. */
  pl_csv_init(&r, "a\0b,c", 5, 0);
  assert_int_equal(pl_csv_next(&r, &eb), 1);
  assert_int_equal(r.f_len[0], 3);
  pl_csv_free(&r);
}

static void test_csv_writer(void **state)
{
  (void)state;
  static const char *const row[] = {"plain", "a,b",  "say \"hi\"",
                                    "two\nlines", " pad", "", "#c", "cr\r"};
  struct pl_buf b;
  pl_buf_init(&b, 0);
  assert_int_equal(pl_csv_add_row(&b, row, 8), 0);
  assert_string_equal(b.buf, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\","
                             "\" pad\",,\"#c\",\"cr\r\"\n");
  static const char *const one[] = {""};
  assert_int_equal(pl_csv_add_row(&b, one, 1), 0);
  /* Everything reads back as written, with or without TRIM / COMMENTS. */
  for (unsigned flags = 0; flags < 8; flags++) {
    struct pl_csv r;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_csv_init(&r, b.buf, b.len, flags);
    assert_int_equal(pl_csv_next(&r, &eb), 1);
    assert_int_equal(r.nf, 8);
    for (int i = 0; i < 8; i++)
      assert_string_equal(r.f[i], row[i]);
    assert_int_equal(pl_csv_next(&r, &eb), 1);
    assert_int_equal(r.nf, 1);
    assert_string_equal(r.f[0], "");
    assert_int_equal(pl_csv_next(&r, &eb), 0);
    pl_csv_free(&r);
  }
  pl_buf_free(&b);
}

/* ----------------------------------------------------------- numbers --- */

static void test_numbers(void **state)
{
  (void)state;
  long l = 7;
  int i = 7;
  double d = 7;
  assert_int_equal(pl_parse_long("42", 0, 100, &l), 0);
  assert_int_equal(l, 42);
  assert_int_equal(pl_parse_long("-3", -5, 5, &l), 0);
  assert_int_equal(l, -3);
  assert_int_equal(pl_parse_long("+3", -5, 5, &l), 0);
  assert_int_equal(l, 3);
  static const char *const bad_int[] = {"", " 1", "1 ", "1.0", "0x10", "1e3",
                                        "--1", "+", "12a", "one"};
  for (size_t k = 0; k < sizeof bad_int / sizeof bad_int[0]; k++)
    if (pl_parse_long(bad_int[k], -100, 100000, &l) != PL_EPARSE)
      fail_msg("'%s' read as an integer", bad_int[k]);
  assert_int_equal(pl_parse_long(NULL, 0, 1, &l), PL_EPARSE);
  assert_int_equal(pl_parse_long("101", 0, 100, &l), PL_EINVAL);
  assert_int_equal(pl_parse_long("99999999999999999999999", 0, 100, &l),
                   PL_EINVAL);
  assert_int_equal(l, 3); /* untouched on failure */
  assert_int_equal(pl_parse_int("2147483647", 0, 2147483647, &i), 0);
  assert_int_equal(i, 2147483647);
  assert_int_equal(pl_parse_long_n("123xyz", 3, 0, 1000, &l), 0);
  assert_int_equal(l, 123);

  assert_int_equal(pl_parse_double("2.5", 0, 10, &d), 0);
  assert_true(d == 2.5);
  assert_int_equal(pl_parse_double("-1e-3", -1, 1, &d), 0);
  assert_true(d == -1e-3);
  assert_int_equal(pl_parse_double(".5", 0, 1, &d), 0);
  assert_true(d == 0.5);
  assert_int_equal(pl_parse_double("5.", 0, 10, &d), 0);
  assert_true(d == 5.0);
  assert_int_equal(pl_parse_double("1E+2", 0, 1000, &d), 0);
  assert_true(d == 100.0);
  static const char *const bad_real[] = {"", ".", "e3", "1e", "1e+", "inf",
                                         "nan", "0x1p3", " 1", "1 ", "1,5",
                                         "1.2.3", "--1"};
  for (size_t k = 0; k < sizeof bad_real / sizeof bad_real[0]; k++)
    if (pl_parse_double(bad_real[k], -1e300, 1e300, &d) != PL_EPARSE)
      fail_msg("'%s' read as a number", bad_real[k]);
  assert_int_equal(pl_parse_double("1e400", 0, HUGE_VAL, &d), PL_EINVAL);
  assert_int_equal(pl_parse_double("11", 0, 10, &d), PL_EINVAL);
  assert_int_equal(pl_parse_double_n("0.25;", 4, 0, 1, &d), 0);
  assert_true(d == 0.25);
}

/* ------------------------------------------------- embedded, aligned --- */

static void test_embedded_and_aligned(void **state)
{
  (void)state;
  const struct pl_embedded *e = pl_embedded_find("001_init.sql");
  assert_non_null(e);
  assert_int_equal(strlen(e->data), e->len);
  assert_non_null(strstr(e->data, "CREATE TABLE"));
  assert_null(pl_embedded_find("no-such-file"));
  size_t n = 0;
  for (const struct pl_embedded *f = pl_embedded_files(); f->name; f++)
    n++;
  assert_true(n >= 5);
  for (size_t align = sizeof(void *); align <= 4096; align *= 2) {
    char *p = pl_aligned_alloc(align, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % align, 0);
    memset(p, 1, 100);
    pl_aligned_free(p);
  }
  assert_null(pl_aligned_alloc(24, 10));
  assert_null(pl_aligned_alloc(64, SIZE_MAX - 8));
  pl_aligned_free(NULL);
}

/* ------------------------------------------------ failure injection --- */

/* Refuses the fail_at-th allocation (1-based; 0 = none) and counts the
 * blocks alive, so that a leak shows without a sanitizer too. */
static long n_alloc, fail_at, live;
static int refused;

static int take(void)
{
  if (++n_alloc == fail_at) {
    refused = 1;
    return 0;
  }
  return 1;
}
static void *f_malloc(size_t n)
{
  void *p = take() ? malloc(n) : NULL;
  live += p != NULL;
  return p;
}
static void *f_calloc(size_t n, size_t s)
{
  void *p = take() ? calloc(n, s) : NULL;
  live += p != NULL;
  return p;
}
static void *f_realloc(void *p, size_t n)
{
  if (!take())
    return NULL;
  void *q = realloc(p, n);
  live += q && !p;
  return q;
}
static void f_free(void *p)
{
  live -= p != NULL;
  free(p);
}

/* jansson's own allocations, counted but never refused: jansson 2.14's
 * lexer ignores a failed append to its token buffer and then copies past
 * the end of the string it allocated (a heap overflow under injection), so
 * the readers that parse JSON are tested at every allocation site of
 * pipelab and of the objects jansson builds, not of its lexer. */
static int shield_json;
static void *j_malloc(size_t n)
{
  void *p = malloc(n);
  live += p != NULL;
  return p;
}

/* Runs op with the k-th allocation refused, for k = 1, 2, ... until op
 * completes without reaching its k-th allocation. Each refused run must
 * return PL_ENOMEM and leave no block alive. Returns the number of
 * allocation sites exercised. */
static long inject(const char *what, int (*op)(void *ctx, char *msg),
                   void *ctx)
{
  char msg[PL_ERRMSG_MAX];
  for (long k = 1;; k++) {
    n_alloc = 0;
    fail_at = k;
    refused = 0;
    live = 0;
    msg[0] = 0;
    pl_set_allocator(f_malloc, f_realloc, f_calloc, f_free);
    if (shield_json)
      json_set_alloc_funcs(j_malloc, f_free);
    int rc = op(ctx, msg);
    pl_set_allocator(malloc, realloc, calloc, free);
    if (live != 0)
      fail_msg("%s: allocation %ld refused: %ld block(s) leaked (rc %d, %s)",
               what, k, live, rc, msg);
    if (!refused) {
      if (rc != 0)
        fail_msg("%s: rc %d without a refused allocation: %s", what, rc,
                 msg);
      if (getenv("PL_TEST_VERBOSE"))
        print_message("%s: %ld allocation sites\n", what, k - 1);
      return k - 1;
    }
    if (rc != PL_ENOMEM)
      fail_msg("%s: allocation %ld refused: rc %d (%s), want PL_ENOMEM",
               what, k, rc, msg);
  }
}

struct sim_case {
  const char *sched;
  int p, m;
  double makespan;
};

static int op_simulate(void *ctx, char *msg)
{
  struct sim_case *sc = ctx;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_result res = PL_RESULT_INIT;
  gp.p = sc->p;
  gp.m = sc->m;
  int rc = pl_sched_gen(sc->sched, &gp, &s, &eb);
  if (!rc)
    rc = pl_sched_validate(s, &eb);
  if (!rc)
    rc = pl_costs_create(pl_sched_stages(s), pl_sched_ranks(s), &c);
  if (!rc)
    rc = pl_costs_uniform(c, pl_sched_chunks(s), 1, 1, 1, 0, 0.5);
  if (!rc)
    rc = pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM, &res, &eb);
  if (!rc && sc->makespan < 0)
    sc->makespan = res.makespan;
  if (!rc && fabs(res.makespan - sc->makespan) > 1e-9) {
    snprintf(eb.msg, sizeof eb.msg, "makespan %g, want %g", res.makespan,
             sc->makespan);
    rc = PL_ECHECK;
  }
  snprintf(msg, PL_ERRMSG_MAX, "%s", eb.msg);
  pl_result_free(&res);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  return rc;
}

static void test_enomem_simulate(void **state)
{
  (void)state;
  /* 1F1B at F = B = W = 1: (m + p - 1) (F + B + W) = 11 x 3. The others are
   * first run without injection (makespan < 0 records the value), which
   * must land between the ideal m (F + B + W) = 24 and 1F1B's 33. */
  struct sim_case cases[] = {
    {"1f1b", 4, 8, 33.0},
    {"interleaved", 4, 8, -1},
    {"zb-h1", 4, 8, -1},
    {"zb-v", 4, 8, -1},
    {"zb-auto", 4, 8, -1},
    {"dualpipev", 4, 8, -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char msg[PL_ERRMSG_MAX];
    if (cases[i].makespan < 0) {
      if (op_simulate(&cases[i], msg))
        fail_msg("%s: %s", cases[i].sched, msg);
      assert_true(cases[i].makespan >= 24.0 && cases[i].makespan <= 33.0);
    }
    long sites = inject(cases[i].sched, op_simulate, &cases[i]);
    assert_true(sites >= 5);
  }
}

static const char pt_csv[] =
    "\xef\xbb\xbf" "0F0,0F1,0I0,0W0,,0I1,0W1\r\n"
    "1F0,\"1I0\",1W0,1F1,1I1,1W1\r\n";

static int op_pt_csv(void *ctx, char *msg)
{
  (void)ctx;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  struct pl_buf b;
  pl_buf_init(&b, 0);
  int rc = pl_sched_read_csv(pt_csv, sizeof pt_csv - 1, PL_DIALECT_AUTO, &s,
                             NULL, &eb);
  if (!rc && (pl_sched_ranks(s) != 2 || pl_sched_microbatches(s) != 2))
    rc = PL_ECHECK;
  if (!rc)
    rc = pl_sched_write_csv(s, &b);
  snprintf(msg, PL_ERRMSG_MAX, "%s", eb.msg);
  pl_buf_free(&b);
  pl_sched_destroy(s);
  return rc;
}

static int op_core_csv(void *ctx, char *msg)
{
  (void)ctx;
  static const char text[] = "name,\"value, quoted\"\n\"x\"\"y\",1\n"
                             "z,\"two\nlines\"\n";
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  struct pl_csv r;
  struct pl_buf out;
  int rc, rows = 0;
  pl_buf_init(&out, 0);
  pl_csv_init(&r, text, sizeof text - 1, 0);
  while ((rc = pl_csv_next(&r, &eb)) > 0) {
    rows++;
    if ((rc = pl_csv_add_row(&out, (const char *const *)r.f, r.nf)))
      break;
  }
  pl_csv_free(&r);
  if (!rc && (rows != 3 || strcmp(out.buf, text)))
    rc = PL_ECHECK;
  snprintf(msg, PL_ERRMSG_MAX, "%s", eb.msg);
  pl_buf_free(&out);
  return rc;
}

static void test_enomem_csv(void **state)
{
  (void)state;
  assert_true(inject("core CSV", op_core_csv, NULL) >= 3);
  assert_true(inject("schedule CSV", op_pt_csv, NULL) >= 5);
}

static int op_result_load(void *ctx, char *msg)
{
  const char *path = ctx;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result r = PL_RESULT_INIT;
  int rc = pl_result_load(path, &r, &eb);
  /* 1F1B runs F and BW: two ops per (stage, microbatch). */
  if (!rc && (r.makespan != 33.0 || r.n_ops != 4 * 8 * 2))
    rc = PL_ECHECK;
  snprintf(msg, PL_ERRMSG_MAX, "%s", eb.msg);
  pl_result_free(&r);
  return rc;
}

static void test_enomem_result_reader(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_result res = PL_RESULT_INIT;
  gp.p = 4;
  gp.m = 8;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, &eb), 0);
  assert_int_equal(pl_costs_create(4, 4, &c), 0);
  assert_int_equal(pl_costs_uniform(c, 1, 1, 1, 1, 0, 0.5), 0);
  assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM,
                              &res, &eb), 0);
  assert_true(res.makespan == 33.0);
  char saved[512], trace[512];
  snprintf(saved, sizeof saved, PL_BUILD_DIR "/test_core_result_%ld.json",
           (long)getpid());
  snprintf(trace, sizeof trace, PL_BUILD_DIR "/test_core_trace_%ld.json",
           (long)getpid());
  assert_int_equal(pl_result_save(&res, saved, &eb), 0);
  assert_int_equal(pl_trace_write_chrome(&res, s, c, 1, trace, &eb), 0);
  shield_json = 1;
  assert_true(inject("result file", op_result_load, saved) >= 3);
  assert_true(inject("chrome trace", op_result_load, trace) >= 3);
  shield_json = 0;
  remove(saved);
  remove(trace);
  pl_result_free(&res);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_csv_reader),
    cmocka_unit_test(test_csv_writer),
    cmocka_unit_test(test_numbers),
    cmocka_unit_test(test_embedded_and_aligned),
    cmocka_unit_test(test_enomem_simulate),
    cmocka_unit_test(test_enomem_csv),
    cmocka_unit_test(test_enomem_result_reader),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
