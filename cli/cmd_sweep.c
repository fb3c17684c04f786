#define _POSIX_C_SOURCE 200809L
/* cmd_sweep.c: `pipelab sweep`: search schedules and pipeline shapes under a
 * memory limit. With --model/--gpu the cost database prices every point
 * (tokens/s, GiB per rank, MFU); without, constant --tf/--tb/--tw costs give
 * a relative ranking in microbatches per time unit. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelab/traces.h"
#include "simopts.h"
#include "sweepmodel.h"

static const char usage[] =
  "usage: pipelab sweep --gpus <n> [--model <m> --gpu <g>] [--stages <list>]\n"
  "                     [--microbatches <range>] [--mb-size <list>]\n"
  "                     [--chunks <list>] [--schedules (all|<list>)]\n"
  "                     [--global-batch <b>] [--mem-limit <x>] [--top <k>]\n"
  "                     [--all] [--jobs <n>] [--format (table|json|csv)]\n\n"
  "Enumerates every valid (schedule, stages, microbatches, microbatch size,\n"
  "chunks) for N GPUs (data parallel = N / stages), simulates each and ranks\n"
  "them by throughput under the memory limit (default: the GPU's HBM with a\n"
  "model, none otherwise). Lists are '1,2,4'; ranges are '8..128' (every\n"
  "integer) or '8..128:8' (step 8).\n\n"
  "options:\n"
  "  --gpus <n>            GPUs in total (required)\n"
  "  --stages <list>       pipeline sizes (default: every divisor of n up to 64)\n"
  "  --microbatches <r>    microbatches per iteration (default 8..64:8)\n"
  "  --mb-size <list>      microbatch sizes in sequences (default 1)\n"
  "  --chunks <list>       chunks per rank for interleaved (default 2,4)\n"
  "  --schedules <list>    schedule names or 'all' (default all)\n"
  "  --global-batch <b>    sequences per iteration; fixes m = b / (dp * mb-size)\n"
  "  --mem-limit <x>       per-rank limit: bytes (80GiB) with a model, else units\n"
  "  --top <k>             rows in the table (default 10)\n"
  "  --all                 every row, rejected ones with the reason\n"
  "  --jobs <n>            worker threads (default: all cores)\n"
  "  --format <f>          table (default), json or csv\n"
  "  --tf --tb --tw --comm --mem-w-frac  constant costs when no model is given\n";

/* Parses "1,2,4" into a pl_malloc'ed array. */
static int parse_list(const char *cmd, const char *opt, const char *s,
                      int lo, int hi, int **out, int *n)
{
  char *dup = pl_strdup(s), *save = NULL;
  int cap = 0, k = 0, rc = 0;
  int *a = NULL;
  for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (k == cap) {
      cap = cap ? 2 * cap : 8;
      a = realloc(a, (size_t)cap * sizeof *a);
    }
    if ((rc = cli_int(cmd, opt, t, lo, hi, &a[k])))
      break;
    k++;
  }
  pl_free(dup);
  if (!rc && k == 0)
    rc = cli_usage(cmd, "%s needs at least one value", opt);
  if (rc) {
    free(a);
    return rc;
  }
  *out = a;
  *n = k;
  return 0;
}

/* Parses "8..128", "8..128:8" or a single number. */
static int parse_range(const char *cmd, const char *s, int *lo, int *hi,
                       int *step)
{
  char buf[64];
  if (strlen(s) >= sizeof buf)
    return cli_usage(cmd, "--microbatches range '%s' is too long", s);
  snprintf(buf, sizeof buf, "%s", s);
  char *dots = strstr(buf, "..");
  int rc;
  *step = 1;
  if (!dots) {
    if ((rc = cli_int(cmd, "--microbatches", buf, 1, 1 << 20, lo)))
      return rc;
    *hi = *lo;
    return 0;
  }
  *dots = 0;
  char *b = dots + 2, *colon = strchr(b, ':');
  if (colon) {
    *colon = 0;
    if ((rc = cli_int(cmd, "--microbatches step", colon + 1, 1, 1 << 20, step)))
      return rc;
  }
  if ((rc = cli_int(cmd, "--microbatches start", buf, 1, 1 << 20, lo)) ||
      (rc = cli_int(cmd, "--microbatches end", b, 1, 1 << 20, hi)))
    return rc;
  if (*hi < *lo)
    return cli_usage(cmd, "--microbatches range '%s' is empty (end before "
                          "start)", s);
  return 0;
}

static void progress(void *ctx, size_t done, size_t total)
{
  (void)ctx;
  term_progress("sweep", done, total);
}

int cmd_sweep(int argc, char **argv)
{
  enum { O_GPUS = 3000, O_STAGES, O_MB, O_MBS, O_CHUNKS, O_SCHED, O_GB, O_LIM,
         O_TOP, O_ALL, O_JOBS, O_FMT, O_TF, O_TB, O_TW, O_COMM, O_WFRAC };
  static const struct option longopts[] = {
    {"gpus", required_argument, NULL, O_GPUS},
    {"stages", required_argument, NULL, O_STAGES},
    {"microbatches", required_argument, NULL, O_MB},
    {"mb-size", required_argument, NULL, O_MBS},
    {"chunks", required_argument, NULL, O_CHUNKS},
    {"schedules", required_argument, NULL, O_SCHED},
    {"global-batch", required_argument, NULL, O_GB},
    {"mem-limit", required_argument, NULL, O_LIM},
    {"top", required_argument, NULL, O_TOP},
    {"all", no_argument, NULL, O_ALL},
    {"jobs", required_argument, NULL, O_JOBS},
    {"format", required_argument, NULL, O_FMT},
    {"tf", required_argument, NULL, O_TF},
    {"tb", required_argument, NULL, O_TB},
    {"tw", required_argument, NULL, O_TW},
    {"comm", required_argument, NULL, O_COMM},
    {"mem-w-frac", required_argument, NULL, O_WFRAC},
    SWEEPMODEL_LONG,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "sweep";
  pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
  int *stages = NULL, *mbs = NULL, *chunks = NULL, n_st = 0, n_mbs = 0,
      n_ch = 0, top = 10, all = 0, have_gpus = 0;
  const char *sched = NULL, *limit = NULL;
  enum cli_format fmt = CLI_FMT_TABLE;
  struct sweepmodel sm;
  int opt, rc = 0, gb = 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  sweepmodel_init(&sm);
  sp.m_lo = 8;
  sp.m_hi = 64;
  sp.m_step = 8;
  sp.jobs = cores > 0 ? (int)cores : 1;
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      printf("%s%s", usage, sweepmodel_help);
      rc = -1;
      goto out;
    case O_GPUS: have_gpus = 1;
      rc = cli_int(cmd, "--gpus", optarg, 1, 1 << 20, &sp.gpus); break;
    case O_STAGES:
      free(stages);
      rc = parse_list(cmd, "--stages", optarg, 1, 4096, &stages, &n_st); break;
    case O_MB: rc = parse_range(cmd, optarg, &sp.m_lo, &sp.m_hi, &sp.m_step); break;
    case O_MBS:
      free(mbs);
      rc = parse_list(cmd, "--mb-size", optarg, 1, 1 << 16, &mbs, &n_mbs); break;
    case O_CHUNKS:
      free(chunks);
      rc = parse_list(cmd, "--chunks", optarg, 1, 64, &chunks, &n_ch); break;
    case O_SCHED: sched = optarg; break;
    case O_GB: rc = cli_int(cmd, "--global-batch", optarg, 1, 1 << 30, &gb); break;
    case O_LIM: limit = optarg; break;
    case O_TOP: rc = cli_int(cmd, "--top", optarg, 1, 1 << 30, &top); break;
    case O_ALL: all = 1; break;
    case O_JOBS: rc = cli_int(cmd, "--jobs", optarg, 1, 256, &sp.jobs); break;
    case O_FMT: rc = cli_format(cmd, optarg, 7, &fmt); break;
    case O_TF: rc = cli_double(cmd, "--tf", optarg, 0, 1e300, &sp.tf); break;
    case O_TB: rc = cli_double(cmd, "--tb", optarg, 0, 1e300, &sp.tb); break;
    case O_TW: rc = cli_double(cmd, "--tw", optarg, 0, 1e300, &sp.tw); break;
    case O_COMM: rc = cli_double(cmd, "--comm", optarg, 0, 1e300, &sp.comm); break;
    case O_WFRAC:
      rc = cli_double(cmd, "--mem-w-frac", optarg, 0, 1, &sp.mem_w_frac); break;
    case '?':
    case ':': rc = cli_bad_option(cmd, argv); break;
    default:
      rc = sweepmodel_handle(&sm, cmd, opt, optarg);
      if (rc < 0)
        rc = cli_bad_option(cmd, argv);
    }
    if (rc)
      goto out;
  }
  if ((rc = cli_no_positionals(cmd, argc, argv)))
    goto out;
  if (!have_gpus) {
    rc = cli_usage(cmd, "missing --gpus <n> (the GPUs to spread over)");
    goto out;
  }
  sp.global_batch = gb;
  if (!stages) {
    /* Every divisor of N up to 64. */
    stages = malloc(64 * sizeof *stages);
    for (int p = 1; p <= 64 && p <= sp.gpus; p++)
      if (sp.gpus % p == 0)
        stages[n_st++] = p;
  }
  if (!mbs) {
    mbs = malloc(sizeof *mbs);
    mbs[0] = 1;
    n_mbs = 1;
  }
  if (!chunks) {
    chunks = malloc(2 * sizeof *chunks);
    chunks[0] = 2;
    chunks[1] = 4;
    n_ch = 2;
  }
  sp.stages = stages;
  sp.n_stages = n_st;
  sp.mb_sizes = mbs;
  sp.n_mb = n_mbs;
  sp.chunks = chunks;
  sp.n_chunks = n_ch;
  const char *names[64];
  char *sched_dup = NULL;
  if (sched && strcmp(sched, "all") != 0) {
    char *save = NULL;
    int k = 0;
    sched_dup = pl_strdup(sched);
    for (char *t = strtok_r(sched_dup, ",", &save); t && k < 64;
         t = strtok_r(NULL, ",", &save)) {
      if (!pl_gen_find(t)) {
        rc = cli_usage(cmd, "unknown schedule '%s' in --schedules "
                            "('pipelab schedules' lists them)", t);
        pl_free(sched_dup);
        goto out;
      }
      names[k++] = t;
    }
    sp.schedules = names;
    sp.n_schedules = k;
  }
  if ((rc = sweepmodel_prepare(&sm, cmd, limit, &sp)))
    goto out_names;

  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sweep_point *pts = NULL;
  pl_sweep_eval *evs = NULL;
  size_t n = 0, *order = NULL;
  if ((rc = pl_sweep_enumerate(&sp, &pts, &evs, &n, &eb))) {
    rc = rc == PL_EINVAL ? cli_usage(cmd, "%s", eb.msg) : cli_fail_eb(&eb, rc);
    goto out_names;
  }
  double t0 = pl_now_us();
  rc = pl_sweep_run(&sp, sweepmodel_callbacks(&sm), pts, evs, n, progress,
                    NULL, cli_stop_flag(), &eb);
  double secs = (pl_now_us() - t0) / 1e6;
  term_progress_end();
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
    goto out_free;
  }
  if (cli_interrupted()) { /* after the last point: still no table */
    rc = cli_fail_interrupted();
    goto out_free;
  }
  if (pl_sweep_rank(evs, n, &order)) {
    rc = cli_fail(PL_ENOMEM, "out of memory");
    goto out_free;
  }
  size_t ok = 0;
  for (size_t i = 0; i < n; i++)
    ok += evs[i].status == PL_SWEEP_OK;
  size_t rows = all ? n : (ok < (size_t)top ? ok : (size_t)top);
  const char *tu = sweepmodel_active(&sm) ? "tokens/s" : "mb/unit";
  if (fmt == CLI_FMT_JSON) {
    json_t *a = json_array();
    for (size_t r = 0; r < rows; r++) {
      size_t i = order[r];
      json_t *o = json_object();
      json_object_set_new(o, "rank", json_integer((json_int_t)r + 1));
      json_object_set_new(o, "schedule", json_string(pts[i].schedule));
      json_object_set_new(o, "stages", json_integer(pts[i].p));
      json_object_set_new(o, "microbatches", json_integer(pts[i].m));
      json_object_set_new(o, "mb_size", json_integer(pts[i].mb_size));
      json_object_set_new(o, "chunks", json_integer(pts[i].v));
      json_object_set_new(o, "dp", json_integer(pts[i].dp));
      json_object_set_new(o, "status", json_string(evs[i].status == PL_SWEEP_OK
                                                       ? "ok" : "rejected"));
      if (evs[i].status == PL_SWEEP_OK || evs[i].iteration_time > 0) {
        sweepmodel_json(&sm, o, &pts[i], &evs[i]);
      }
      if (evs[i].status != PL_SWEEP_OK)
        json_object_set_new(o, "reason", json_string(evs[i].reason));
      json_array_append_new(a, o);
    }
    json_t *top_o = json_object();
    json_object_set_new(top_o, "gpus", json_integer(sp.gpus));
    json_object_set_new(top_o, "points", json_integer((json_int_t)n));
    json_object_set_new(top_o, "accepted", json_integer((json_int_t)ok));
    json_object_set_new(top_o, "seconds", json_real(secs));
    json_object_set_new(top_o, "rows", a);
    json_dumpf(top_o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    putchar('\n');
    json_decref(top_o);
  } else if (fmt == CLI_FMT_CSV) {
    sweepmodel_csv_header(&sm);
    for (size_t r = 0; r < rows; r++)
      sweepmodel_csv_row(&sm, r + 1, &pts[order[r]], &evs[order[r]]);
  } else {
    fprintf(stderr, "sweep: %zu points, %zu accepted, %.2f s (%.0f "
                    "configurations/min)\n",
            n, ok, secs, secs > 0 ? (double)n / secs * 60 : 0);
    sweepmodel_table(&sm, tu, pts, evs, order, rows);
  }
  if (ok == 0) {
    fprintf(stderr, "error: no configuration is valid: use --all to see why "
                    "each was rejected\n");
    rc = CLI_EXIT_FAIL;
  }
out_free:
  pl_free(order);
  pl_free(pts);
  pl_free(evs);
out_names:
  pl_free(sched_dup);
out:
  free(stages);
  free(mbs);
  free(chunks);
  sweepmodel_free(&sm);
  return rc < 0 ? 0 : rc;
}
