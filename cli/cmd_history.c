/* cmd_history.c: `pipelab history`: list recorded runs and flag those whose
 * iteration time moved beyond a threshold from a baseline; `history record`
 * stores result files. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pipelab/models.h"
#include "pipelab/traces.h"

static const char usage[] =
  "usage: pipelab history [--db <file>] [--schedule <name>] [--stages <p>]\n"
  "                       [--microbatches <m>] [--baseline <id>]\n"
  "                       [--threshold <pct>] [--limit <n>] [--fail-on-drift]\n"
  "                       [--format (table|json|csv)]\n"
  "   or: pipelab history record <result.json>... [--db <file>] [--label <text>]\n\n"
  "Lists the runs stored in the database (by --record or 'history record'),\n"
  "oldest first, with each run's drift: the change of its iteration time\n"
  "(makespan) against a baseline, by default the first run of the same case\n"
  "(kind, backend, schedule, stages, microbatches, chunks, time unit). Runs\n"
  "that moved more than the threshold are flagged with '!'.\n\n"
  "options:\n"
  "  --db <file>          database (default: $PIPELAB_DB, else\n"
  "                       ~/.local/share/pipelab/pipelab.db)\n"
  "  --schedule <name>    only runs of this schedule\n"
  "  --stages <p>         only runs with p ranks\n"
  "  --microbatches <m>   only runs with m microbatches\n"
  "  --baseline <id>      compare every run with run <id>\n"
  "  --threshold <pct>    flag runs whose |drift| is larger (default 5)\n"
  "  --limit <n>          only the newest n runs\n"
  "  --fail-on-drift      exit 1 when a listed run is flagged\n"
  "  --format <f>         table (default), json or csv\n"
  "  --label <text>       (record) label stored with each run\n"
  "  -h, --help           this text\n\n"
  "examples:\n"
  "  pipelab history record examples/run-zb-h1-cpu.json --label baseline\n"
  "  pipelab history --limit 10\n"
  "  pipelab history --threshold 10 --fail-on-drift\n";

enum { OPT_DB = 1000, OPT_SCHED, OPT_STAGES, OPT_MB, OPT_BASE, OPT_THR,
       OPT_LIMIT, OPT_FAIL, OPT_FMT, OPT_LABEL };

static const char *numx(double x) { return isfinite(x) ? cli_num(x) : "-"; }

static void when(int64_t ns, char *buf, size_t len)
{
  time_t t = (time_t)(ns / 1000000000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, len, "?");
}

static int do_record(const char *cmd, const char *db_path, const char *label,
                     int n, char **files)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db;
  int rc;
  /* Every file is read before the database is opened (and perhaps
   * created): an unreadable one leaves no new database behind. */
  for (int i = 0; i < n; i++) {
    pl_result r;
    if ((rc = pl_result_load(files[i], &r, &eb)))
      return cli_fail_eb(&eb, rc);
    pl_result_free(&r);
  }
  if ((rc = pl_history_open(db_path, 1, &db, &eb)))
    return cli_fail_eb(&eb, rc);
  (void)cmd;
  for (int i = 0; i < n && !rc; i++) {
    pl_result r;
    int64_t id;
    pl_history_params hp = PL_HISTORY_PARAMS_INIT;
    hp.label = label;
    if ((rc = pl_result_load(files[i], &r, &eb))) {
      rc = cli_fail_eb(&eb, rc);
      break;
    }
    rc = pl_history_record(db, &r, &hp, &id, &eb);
    pl_result_free(&r);
    if (rc) {
      rc = cli_fail_eb(&eb, rc);
      break;
    }
    printf("%lld\n", (long long)id);
    fprintf(stderr, "recorded '%s' as run %lld in '%s'\n", files[i],
            (long long)id, pl_db_path(db));
  }
  pl_db_close(db);
  return rc;
}

int cmd_history(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"schedule", required_argument, NULL, OPT_SCHED},
    {"stages", required_argument, NULL, OPT_STAGES},
    {"microbatches", required_argument, NULL, OPT_MB},
    {"baseline", required_argument, NULL, OPT_BASE},
    {"threshold", required_argument, NULL, OPT_THR},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"fail-on-drift", no_argument, NULL, OPT_FAIL},
    {"format", required_argument, NULL, OPT_FMT},
    {"label", required_argument, NULL, OPT_LABEL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "history";
  const char *db_path = NULL, *label = NULL;
  pl_history_query q = PL_HISTORY_QUERY_INIT;
  enum cli_format fmt = CLI_FMT_TABLE;
  int fail = 0, opt, rc, x;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      printf("%s", usage);
      return 0;
    case OPT_DB: db_path = optarg; break;
    case OPT_SCHED: q.schedule = optarg; break;
    case OPT_LABEL: label = optarg; break;
    case OPT_FAIL: fail = 1; break;
    case OPT_STAGES:
      if ((rc = cli_int(cmd, "--stages", optarg, 1, 1 << 20, &q.stages)))
        return rc;
      break;
    case OPT_MB:
      if ((rc = cli_int(cmd, "--microbatches", optarg, 1, 1 << 30,
                        &q.microbatches)))
        return rc;
      break;
    case OPT_BASE:
      if ((rc = cli_int(cmd, "--baseline", optarg, 1, 2147483647, &x)))
        return rc;
      q.baseline = x;
      break;
    case OPT_THR:
      if ((rc = cli_double(cmd, "--threshold", optarg, 1e-9, 1e9,
                           &q.threshold_pct)))
        return rc;
      break;
    case OPT_LIMIT:
      if ((rc = cli_int(cmd, "--limit", optarg, 1, 2147483647, &x)))
        return rc;
      q.limit = (size_t)x;
      break;
    case OPT_FMT:
      if ((rc = cli_format(cmd, optarg, 7, &fmt)))
        return rc;
      break;
    default:
      return cli_bad_option(cmd, argv);
    }
  }
  if (optind < argc) {
    if (strcmp(argv[optind], "record") != 0)
      return cli_usage(cmd, "unknown argument '%s' (did you mean 'history "
                       "record <file>'?)", argv[optind]);
    if (optind + 1 >= argc)
      return cli_usage(cmd, "'history record' expects result files");
    return do_record(cmd, db_path, label, argc - optind - 1,
                     &argv[optind + 1]);
  }

  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db;
  pl_history_run *v = NULL;
  size_t n = 0;
  rc = pl_history_open(db_path, 0, &db, &eb);
  if (rc == PL_ENOTFOUND) {
    fprintf(stderr, "no run database yet (%s); record runs with --record or "
                    "'pipelab history record'\n", eb.msg);
    db = NULL;
  } else if (rc) {
    return cli_fail_eb(&eb, rc);
  } else if ((rc = pl_history_list(db, &q, &v, &n, &eb))) {
    pl_db_close(db);
    return cli_fail_eb(&eb, rc);
  }
  double thr = q.threshold_pct > 0 ? q.threshold_pct : 5;
  size_t flagged = 0;
  for (size_t i = 0; i < n; i++)
    flagged += v[i].flagged != 0;
  if (fmt == CLI_FMT_JSON) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
      const pl_history_run *r = &v[i];
      char t[40];
      when(r->created_at_ns, t, sizeof t);
      json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:s}",
                            "id", (json_int_t)r->id, "created", t, "kind",
                            r->kind, "backend", r->backend, "schedule",
                            r->schedule, "stages", r->stages, "microbatches",
                            r->microbatches, "chunks", r->chunks, "time_unit",
                            r->time_unit, "label", r->label, "host", r->host);
      json_object_set_new(o, "makespan", isfinite(r->makespan)
                                             ? json_real(r->makespan)
                                             : json_null());
      json_object_set_new(o, "bubble_ratio", isfinite(r->bubble_ratio)
                                                 ? json_real(r->bubble_ratio)
                                                 : json_null());
      json_object_set_new(o, "baseline", r->baseline
                                             ? json_integer(r->baseline)
                                             : json_null());
      json_object_set_new(o, "drift_pct", isfinite(r->drift_pct)
                                              ? json_real(r->drift_pct)
                                              : json_null());
      json_object_set_new(o, "flagged", json_boolean(r->flagged));
      json_array_append_new(a, o);
    }
    pl_json_dumpf(a, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(a);
  } else if (fmt == CLI_FMT_CSV) {
    printf("id,created,kind,backend,schedule,stages,microbatches,chunks,"
           "makespan,time_unit,bubble_ratio,baseline,drift_pct,flagged,label\n");
    for (size_t i = 0; i < n; i++) {
      const pl_history_run *r = &v[i];
      char t[40];
      when(r->created_at_ns, t, sizeof t);
      printf("%lld,%s,%s,%s,%s,%d,%d,%d,%s,%s,%s,%lld,%s,%d,\"", (long long)r->id,
             t, r->kind, r->backend, r->schedule, r->stages, r->microbatches,
             r->chunks, numx(r->makespan), r->time_unit, numx(r->bubble_ratio),
             (long long)r->baseline, isfinite(r->drift_pct) ? cli_num(r->drift_pct) : "",
             r->flagged);
      for (const char *c = r->label; *c; c++) {
        if (*c == '"')
          putchar('"');
        putchar(*c);
      }
      printf("\"\n");
    }
  } else {
    printf("%5s %-20s %-9s %-7s %-14s %3s %5s %2s %14s %8s %5s %9s  %s\n",
           "id", "created (UTC)", "kind", "backend", "schedule", "p", "m", "v",
           "makespan", "bubble", "base", "drift", "label");
    for (size_t i = 0; i < n; i++) {
      const pl_history_run *r = &v[i];
      char t[40], d[32] = "-", b[24] = "-";
      when(r->created_at_ns, t, sizeof t);
      if (isfinite(r->drift_pct))
        snprintf(d, sizeof d, "%+.2f%%%s", r->drift_pct, r->flagged ? "!" : "");
      if (r->baseline && r->baseline != r->id)
        snprintf(b, sizeof b, "%lld", (long long)r->baseline);
      printf("%5lld %-20s %-9s %-7s %-14s %3d %5d %2d %14s %7.2f%% %5s %9s  %s\n",
             (long long)r->id, t, r->kind, r->backend, r->schedule, r->stages,
             r->microbatches, r->chunks, cli_dur(r->makespan, r->time_unit),
             100 * r->bubble_ratio, b, d, r->label);
    }
    if (flagged)
      printf("%zu run(s) moved more than %s%% from their baseline (!)\n",
             flagged, cli_num(thr));
  }
  pl_free(v);
  pl_db_close(db);
  if (fail && flagged) {
    fprintf(stderr, "error: %zu run(s) drifted more than %s%%\n", flagged,
            cli_num(thr));
    return CLI_EXIT_FAIL;
  }
  return 0;
}
