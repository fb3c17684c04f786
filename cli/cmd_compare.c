/* cmd_compare.c: `pipelab compare`: a predicted result against a real one
 * (docs/result-format.md); a CI gate with --max-error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipelab/models.h"
#include "pipelab/traces.h"

static const char usage[] =
  "usage: pipelab compare <predicted> <real> [--format (table|json|csv)]\n"
  "                       [--max-error <pct>] [--require-match]\n"
  "                       [--db <file>] [--record [--label <text>]]\n\n"
  "Compares a predicted result with a real one: per rank and op kind the mean\n"
  "op time error, the iteration-time error (%), the bubble-ratio difference\n"
  "(percentage points) and the per-rank peak activation difference. Ops are\n"
  "matched by (rank, op kind, microbatch, stage); ops found on only one side\n"
  "are counted and the first few listed.\n\n"
  "Each input is a result file (simulate/run --save), a Chrome trace written\n"
  "by --trace, a PyTorch profiler trace (see 'pipelab import kineto'), or\n"
  "run:<id>, a run stored in the database (see 'pipelab history').\n\n"
  "options:\n"
  "  --format <f>        table (default), json or csv\n"
  "  --max-error <pct>   exit 1 when |iteration-time error| is larger than pct\n"
  "  --require-match     exit 1 when the op sets differ\n"
  "  --db <file>         run database (default: $PIPELAB_DB, else\n"
  "                      ~/.local/share/pipelab/pipelab.db)\n"
  "  --record            store both results as runs (files only)\n"
  "  --label <text>      label of the recorded runs\n"
  "  -h, --help          this text\n\n"
  "Exit codes: 0 ok, 1 check failed, 2 usage, 3 unreadable or incompatible\n"
  "input.\n\n"
  "examples:\n"
  "  pipelab compare examples/sim-zb-h1-cpu.json examples/run-zb-h1-cpu.json\n"
  "  pipelab compare examples/sim-zb-h1-cpu.json examples/run-zb-h1-cpu.json "
  "--format json\n"
  "  pipelab compare examples/run-zb-h1-cpu.json examples/run-zb-h1-cpu.json "
  "--max-error 0 --require-match\n";

static const char *pct(double x)
{
  static char b[4][32];
  static int k;
  char *s = b[k++ & 3];
  if (!isfinite(x))
    return "n/a";
  snprintf(s, 32, "%+.2f%%", x);
  return s;
}

/* A ratio in percent, "n/a" when unknown (a rank only one side has). */
static const char *ratio_pct(double x)
{
  static char b[4][32];
  static int k;
  char *s = b[k++ & 3];
  if (!isfinite(x))
    return "n/a";
  snprintf(s, 32, "%.2f%%", 100 * x);
  return s;
}

static void print_ops(const char *label, const pl_op_rec *v, size_t n)
{
  if (!n)
    return;
  printf("  %s:", label);
  for (size_t i = 0; i < n && i < PL_COMPARE_LIST; i++) {
    char t[64];
    pl_op_format(&v[i].op, t, sizeof t);
    printf(" r%d:%s", v[i].rank, t);
  }
  printf("%s\n", n > PL_COMPARE_LIST ? " ..." : "");
}

static void print_table(const char *pn, const pl_result *p, const char *rn,
                        const pl_result *r, const pl_compare *c)
{
  const char *u = c->time_unit;
  printf("predicted  %s  (%s, %s, p=%d, m=%d)\n", pn, p->source, p->schedule,
         p->stages, p->microbatches);
  printf("real       %s  (%s, %s, p=%d, m=%d)%s\n", rn, r->source, r->schedule,
         r->stages, r->microbatches,
         c->time_factor != 1 ? "  [times converted]" : "");
  printf("iteration time  %s predicted, %s real: error %s\n",
         cli_dur(c->pred_iter, u), cli_dur(c->real_iter, u),
         pct(c->iter_error_pct));
  printf("bubble ratio    %.2f%% predicted, %.2f%% real: difference %+.2f "
         "points\n",
         100 * c->pred_bubble, 100 * c->real_bubble, c->bubble_diff_points);
  printf("error           (real - predicted) / predicted: + means the real "
         "run was slower or larger\n");
  printf("ops             %zu predicted, %zu real, %zu matched, %zu missing "
         "from real, %zu extra in real\n",
         c->pred_ops, c->real_ops, c->matched, c->missing, c->extra);
  print_ops("missing", c->missing_ops, c->missing);
  print_ops("extra", c->extra_ops, c->extra);
  if (c->per_op) {
    printf("\nmean op time per rank and kind\n");
    printf("%4s %3s %6s %12s %12s %12s %9s\n", "rank", "op", "count",
           "predicted", "real", "real-pred", "error%");
    for (size_t i = 0; i < c->n_kinds; i++) {
      const pl_compare_kind *k = &c->kinds[i];
      printf("%4d %3s %6zu %12s %12s %12s %9s\n", k->rank,
             pl_op_kind_name(k->kind), k->n, cli_dur(k->pred_mean, u),
             cli_dur(k->real_mean, u), cli_dur(k->error, u),
             pct(k->error_pct));
    }
  } else {
    printf("\n(no per-op rows in %s: op times not compared)\n",
           p->n_ops ? "the real result" : "the predicted result");
  }
  printf("\nper rank (peak activation%s)\n",
         c->mem_unit[0] ? "" : " in different units: not compared");
  printf("%4s %14s %14s %14s %10s %10s\n", "rank", "peak pred", "peak real",
         "difference", "bubble p.", "bubble r.");
  for (int i = 0; i < c->n_ranks; i++) {
    const pl_compare_rank *x = &c->ranks[i];
    const char *mu = c->mem_unit[0] ? c->mem_unit : p->mem_unit;
    printf("%4d %14s %14s %14s %10s %10s\n", x->rank, cli_mem(x->pred_peak, mu),
           cli_mem(x->real_peak, c->mem_unit[0] ? c->mem_unit : r->mem_unit),
           cli_mem(x->peak_diff, mu), ratio_pct(x->pred_bubble),
           ratio_pct(x->real_bubble));
  }
}

int cmd_compare(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"format", required_argument, NULL, 'f'},
    {"max-error", required_argument, NULL, 'e'},
    {"require-match", no_argument, NULL, 'r'},
    {"db", required_argument, NULL, 'd'},
    {"record", no_argument, NULL, 'R'},
    {"label", required_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "compare";
  enum cli_format fmt = CLI_FMT_TABLE;
  double max_err = -1;
  int require = 0, record = 0, opt, rc;
  const char *db_path = NULL, *label = NULL;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      printf("%s", usage);
      return 0;
    case 'f':
      if ((rc = cli_format(cmd, optarg, 7, &fmt)))
        return rc;
      break;
    case 'e':
      if ((rc = cli_double(cmd, "--max-error", optarg, 0, 1e9, &max_err)))
        return rc;
      break;
    case 'r':
      require = 1;
      break;
    case 'd':
      db_path = optarg;
      break;
    case 'R':
      record = 1;
      break;
    case 'l':
      label = optarg;
      break;
    default:
      return cli_bad_option(cmd, argv);
    }
  }
  if (argc - optind != 2)
    return cli_usage(cmd, "expected two files, <predicted> and <real>, got %d",
                     argc - optind);
  const char *pn = argv[optind], *rn = argv[optind + 1];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result p = PL_RESULT_INIT, r = PL_RESULT_INIT;
  pl_compare c = PL_COMPARE_INIT;
  if ((rc = pl_result_load_any(pn, db_path, &p, &eb)) ||
      (rc = pl_result_load_any(rn, db_path, &r, &eb))) {
    /* A run:<id> without its database, or not in it: a missing input. */
    rc = cli_fail_eb(&eb, rc == PL_ENOTFOUND ? PL_EIO : rc);
    goto out;
  }
  if ((rc = pl_compare_results(&p, &r, &c, &eb))) {
    /* Incompatible inputs are a data problem, not a usage error. */
    cli_fail_eb(&eb, rc);
    rc = rc == PL_EINVAL ? CLI_EXIT_DATA : cli_exit_code(rc);
    goto out;
  }
  if (fmt == CLI_FMT_TABLE) {
    print_table(pn, &p, rn, &r, &c);
  } else if (fmt == CLI_FMT_JSON) {
    json_t *j = pl_compare_to_json(&c);
    json_object_set_new(j, "predicted", json_string(pn));
    json_object_set_new(j, "real", json_string(rn));
    pl_json_dumpf(j, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(j);
  } else {
    struct pl_buf b;
    pl_buf_init(&b, 0);
    pl_compare_to_csv(&c, &b);
    fwrite(b.buf, 1, b.len, stdout);
    pl_buf_free(&b);
  }
  fflush(stdout);
  if (record) {
    pl_db *db;
    if ((rc = pl_history_open(db_path, 1, &db, &eb))) {
      rc = cli_fail_eb(&eb, rc);
      goto out;
    }
    const char *names[2] = {pn, rn};
    const pl_result *res[2] = {&p, &r};
    for (int i = 0; i < 2 && !rc; i++) {
      pl_history_params hp = PL_HISTORY_PARAMS_INIT;
      int64_t id;
      hp.label = label;
      if (!strncmp(names[i], "run:", 4))
        continue; /* already stored */
      if ((rc = pl_history_record(db, res[i], &hp, &id, &eb)))
        rc = cli_fail_eb(&eb, rc);
      else
        fprintf(stderr, "recorded '%s' as run %lld\n", names[i], (long long)id);
    }
    pl_db_close(db);
    if (rc)
      goto out;
  }
  const pl_result *in[2] = {&p, &r};
  const char *in_name[2] = {pn, rn};
  for (int i = 0; i < 2; i++) /* e.g. a run with more ranks than cores */
    if (in[i]->n_untrusted) {
      char why[CLI_UNTRUSTED_LINE];
      cli_warn("'%s' cannot be trusted: %s", in_name[i],
               cli_join_untrusted(in[i]->n_untrusted, in[i]->untrusted, why,
                                  sizeof why));
    }
  if (c.missing || c.extra)
    cli_warn("op sets differ: %zu op(s) missing from '%s', %zu extra", c.missing,
             rn, c.extra);
  rc = 0;
  if (max_err >= 0 && !(fabs(c.iter_error_pct) <= max_err)) {
    fprintf(stderr, "error: iteration-time error %s exceeds --max-error %s%%\n",
            pct(c.iter_error_pct), cli_num(max_err));
    rc = CLI_EXIT_FAIL;
  }
  if (require && (c.missing || c.extra)) {
    fprintf(stderr, "error: op sets differ (--require-match)\n");
    rc = CLI_EXIT_FAIL;
  }
out:
  pl_compare_free(&c);
  pl_result_free(&p);
  pl_result_free(&r);
  return rc;
}
