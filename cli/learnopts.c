/* learnopts.c: costs learned from a measured profile on the command line:
 * `pipelab calibrate --from FILE...` (learn, print, store) and the profile
 * loading that `simulate --costs-from` and `whatif --costs-from` share.
 * docs/learned-costs.md. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipelab/kernels.h"
#include "pipelab/models.h"
#include "pipelab/traces.h"
#include "learnopts.h"
#include "modelopts.h"

/* The workload section `pipelab run` writes into its result file. */
static int workload_of(const json_t *j, pl_workload *w)
{
  const json_t *wj = json_object_get(j, "workload");
  if (!json_is_object(wj))
    return 0;
  pl_workload z = PL_WORKLOAD_INIT;
  *w = z;
  w->layers = (int)json_integer_value(json_object_get(wj, "layers"));
  w->hidden = (int)json_integer_value(json_object_get(wj, "hidden"));
  w->seq = (int)json_integer_value(json_object_get(wj, "seq"));
  w->mb_size = (int)json_integer_value(json_object_get(wj, "mb_size"));
  w->attention = json_is_true(json_object_get(wj, "attention"));
  return w->layers > 0 && w->hidden > 0 && w->seq > 0 && w->mb_size > 0;
}

static int is_kineto(const json_t *j)
{
  if (!json_object_get(j, "traceEvents"))
    return 0;
  const char *tool = json_string_value(
      json_object_get(json_object_get(j, "otherData"), "tool"));
  return !(tool && !strcmp(tool, "pipelab"));
}

void learn_cli_init(struct learn_cli *lc)
{
  memset(lc, 0, sizeof *lc);
  lc->warmup = -1;
}

int learn_cli_load(const char *cmd, const char *const *files, size_t n,
                   const struct learn_cli *lc, pl_learned **out)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sha256 sha;
  json_t **docs = pl_calloc(n, sizeof *docs);
  pl_result *res = pl_calloc(n + 64, sizeof *res);
  const pl_result **iters = pl_calloc(n + 64, sizeof *iters);
  size_t n_res = 0, n_kin = 0;
  const char **kin_names = pl_calloc(n, sizeof *kin_names);
  json_t **kin_docs = pl_calloc(n, sizeof *kin_docs);
  pl_workload w;
  int have_wl = 0, rc = 0, skipped = 0;
  *out = NULL;
  if (!docs || !res || !iters || !kin_names || !kin_docs) {
    rc = cli_fail(PL_ENOMEM, "out of memory");
    goto done;
  }
  pl_sha256_init(&sha);
  for (size_t i = 0; i < n && !rc; i++) {
    char *text = NULL;
    size_t len = 0;
    if ((rc = pl_read_file(files[i], &text, &len, &eb))) {
      rc = cli_fail_eb(&eb, rc);
      break;
    }
    pl_sha256_update(&sha, text, len);
    json_error_t je;
    docs[i] = json_loadb(text, len, 0, &je);
    pl_free(text);
    if (!docs[i] || !json_is_object(docs[i])) {
      rc = cli_fail(PL_EPARSE, "%s: %s", files[i],
                    docs[i] ? "expected a JSON object (a result file or a "
                              "trace)"
                            : je.text);
      break;
    }
    if (is_kineto(docs[i])) {
      kin_names[n_kin] = files[i];
      kin_docs[n_kin++] = docs[i];
      continue;
    }
    pl_result z = PL_RESULT_INIT;
    res[n_res] = z;
    rc = json_object_get(docs[i], "traceEvents")
             ? pl_result_from_chrome(docs[i], &res[n_res], &eb)
             : pl_result_from_json(docs[i], &res[n_res], &eb);
    if (rc) {
      rc = cli_fail(rc, "%s: %s", files[i], eb.msg);
      break;
    }
    if (!have_wl)
      have_wl = workload_of(docs[i], &w);
    n_res++;
  }
  if (!rc && n_kin && n_res) {
    rc = cli_usage(cmd, "give either result files or Kineto traces (one per "
                        "rank), not both");
  }
  /* Kineto: every iteration the traces hold, from the first after the
   * warm-up (default: skip the first when there is more than one). */
  if (!rc && n_kin) {
    int first = lc->warmup;
    if (first < 0) {
      pl_kineto_opts ko = PL_KINETO_OPTS_INIT;
      pl_result probe = PL_RESULT_INIT;
      ko.iteration = 1;
      ko.schedule = lc->schedule;
      first = pl_kineto_import(kin_docs, kin_names, n_kin, &ko, &probe, NULL,
                               &eb) == 0;
      pl_result_free(&probe);
    }
    skipped = first;
    for (int k = first; k < first + 64; k++) {
      pl_kineto_opts ko = PL_KINETO_OPTS_INIT;
      pl_result z = PL_RESULT_INIT;
      ko.iteration = k;
      ko.schedule = lc->schedule;
      res[n_res] = z;
      int e = pl_kineto_import(kin_docs, kin_names, n_kin, &ko, &res[n_res],
                               NULL, &eb);
      if (e) {
        pl_result_free(&res[n_res]);
        if (k == first)
          rc = cli_fail_eb(&eb, e);
        break;
      }
      n_res++;
    }
  } else if (!rc && lc->warmup > 0) {
    /* result files: each is one measured iteration; skip the first ones */
    if ((size_t)lc->warmup >= n_res)
      rc = cli_fail(PL_EPARSE, "--warmup %d leaves none of the %zu "
                    "iteration%s", lc->warmup, n_res, n_res == 1 ? "" : "s");
    skipped = lc->warmup;
  }
  if (!rc) {
    size_t from = n_kin ? 0 : (size_t)(skipped > 0 ? skipped : 0);
    for (size_t i = from; i < n_res; i++)
      iters[i - from] = &res[i];
    pl_learn_opts lo = PL_LEARN_OPTS_INIT;
    lo.min_samples = lc->min_samples;
    lo.b_frac = lc->b_frac;
    lo.bandwidth = lc->bandwidth;
    if (have_wl)
      lo.msg_bytes = (double)pl_wl_msg_bytes(&w);
    if (lc->msg_bytes > 0)
      lo.msg_bytes = lc->msg_bytes;
    pl_learned *l = NULL;
    rc = pl_learn_fit(iters, n_res - from, &lo, &l, &eb);
    if (rc) {
      rc = cli_fail_eb(&eb, rc);
    } else {
      pl_sha256_hex(&sha, l->source_sha256);
      snprintf(l->git_rev, sizeof l->git_rev, "%s", pl_git_rev());
      if (lc->workload_key)
        snprintf(l->workload_key, sizeof l->workload_key, "%s",
                 lc->workload_key);
      else if (have_wl)
        snprintf(l->workload_key, sizeof l->workload_key,
                 "executor:layers=%d,hidden=%d,seq=%d,mb=%d%s", w.layers,
                 w.hidden, w.seq, w.mb_size, w.attention ? ",attention" : "");
      else
        snprintf(l->workload_key, sizeof l->workload_key, "profile:%s",
                 l->schedule);
      *out = l;
    }
  }
done:
  for (size_t i = 0; i < n_res; i++)
    pl_result_free(&res[i]);
  for (size_t i = 0; docs && i < n; i++)
    json_decref(docs[i]);
  pl_free(docs);
  pl_free(res);
  pl_free(iters);
  pl_free(kin_names);
  pl_free(kin_docs);
  return rc;
}

/* ------------------------------------------------------------ printing --- */

static const char *const kind_names[4] = {"F", "B", "W", "BW"};

static json_t *stat_json(const pl_learned_stat *s)
{
  json_t *o = json_object();
  json_object_set_new(o, "median", json_real(s->median));
  json_object_set_new(o, "dispersion", json_real(s->dispersion));
  json_object_set_new(o, "min", json_real(s->min));
  json_object_set_new(o, "max", json_real(s->max));
  json_object_set_new(o, "count", json_integer(s->count));
  json_object_set_new(o, "excluded", json_integer(s->excluded));
  json_object_set_new(o, "derived", json_boolean(s->derived));
  return o;
}

json_t *learn_cli_json(const pl_learned *l)
{
  json_t *o = json_object();
  json_object_set_new(o, "schedule", json_string(l->schedule));
  json_object_set_new(o, "source", json_string(l->source));
  json_object_set_new(o, "stages", json_integer(l->ranks));
  json_object_set_new(o, "virtual_stages", json_integer(l->stages));
  json_object_set_new(o, "chunks", json_integer(l->chunks));
  json_object_set_new(o, "microbatches", json_integer(l->microbatches));
  json_object_set_new(o, "iterations", json_integer(l->iterations));
  json_object_set_new(o, "time_unit", json_string(l->time_unit));
  json_object_set_new(o, "workload_key", json_string(l->workload_key));
  json_object_set_new(o, "source_sha256", json_string(l->source_sha256));
  json_object_set_new(o, "git_rev", json_string(l->git_rev));
  if (l->device[0])
    json_object_set_new(o, "device", json_string(l->device));
  json_t *st = json_array();
  for (int g = 0; g < l->stages; g++) {
    json_t *sj = json_object();
    json_object_set_new(sj, "stage", json_integer(g));
    for (int k = 0; k < 4; k++) {
      const pl_learned_stat *t = &l->stage[g].t[k];
      if (t->count || t->derived)
        json_object_set_new(sj, kind_names[k], stat_json(t));
    }
    json_array_append_new(st, sj);
  }
  json_object_set_new(o, "stage_costs", st);
  json_object_set_new(o, "op_overhead", stat_json(&l->gap));
  json_object_set_new(o, "msg_overhead", stat_json(&l->msg));
  json_t *p2p = stat_json(&l->comm);
  json_object_set_new(p2p, "latency", json_real(l->latency));
  json_object_set_new(p2p, "bandwidth_bytes_per_unit", json_real(l->bandwidth));
  json_object_set_new(p2p, "msg_bytes", json_real(l->msg_bytes));
  json_object_set_new(o, "p2p", p2p);
  json_object_set_new(o, "b_frac", json_real(l->b_frac));
  json_object_set_new(o, "have_split", json_boolean(l->have_split));
  json_object_set_new(o, "fused_ops_skipped", json_integer(l->fused_skipped));
  json_t *jt = json_object(), *qs = json_array();
  json_object_set_new(jt, "sigma", json_real(l->jitter));
  for (int k = 0; k < l->n_jitter_q; k++)
    json_array_append_new(qs, json_real(l->jitter_q[k]));
  json_object_set_new(jt, "log_ratio_quantiles", qs);
  json_object_set_new(o, "jitter", jt);
  return o;
}

static void print_learned(const pl_learned *l)
{
  const char *u = l->time_unit;
  printf("learned from %s (%s): p=%d, %d virtual stages, m=%d, %d "
         "iteration%s; workload %s\n", l->schedule, l->source, l->ranks,
         l->stages, l->microbatches, l->iterations,
         l->iterations == 1 ? "" : "s", l->workload_key);
  printf("source sha256 %s\n\n", l->source_sha256);
  printf("%5s %-3s %12s %9s %12s %12s %6s %5s\n", "stage", "op", "median",
         "spread", "min", "max", "n", "out");
  for (int g = 0; g < l->stages; g++)
    for (int k = 0; k < 4; k++) {
      const pl_learned_stat *t = &l->stage[g].t[k];
      if (t->derived)
        printf("%5d %-3s %12s %9s %12s %12s %6s %5s\n", g, kind_names[k],
               cli_dur(t->median, u), "derived", "", "", "", "");
      else if (t->count)
        printf("%5d %-3s %12s %8.2f%% %12s %12s %6d %5d\n", g, kind_names[k],
               cli_dur(t->median, u), 100 * t->dispersion, cli_dur(t->min, u),
               cli_dur(t->max, u), t->count, t->excluded);
    }
  printf("\nop overhead  %s per op (median of %d gaps, spread %.1f%%)\n",
         cli_dur(l->gap.median, u), l->gap.count, 100 * l->gap.dispersion);
  printf("per message  %s host time at each end (median of %d gaps next to "
         "messages, spread %.1f%%)\n", cli_dur(l->msg.median, u),
         l->msg.count, 100 * l->msg.dispersion);
  printf("p2p          %s per message waited for (median of %d waits, spread "
         "%.1f%%)", cli_dur(l->comm.median, u), l->comm.count,
         100 * l->comm.dispersion);
  if (l->bandwidth > 0)
    printf(": both copies + latency %s + %s at %s/%s\n",
           cli_dur(l->latency, u), cli_size(l->msg_bytes),
           cli_size(l->bandwidth), u);
  else
    printf(": both copies + latency %s%s%s%s\n", cli_dur(l->latency, u),
           l->msg_bytes > 0 ? " (one size, " : "",
           l->msg_bytes > 0 ? cli_size(l->msg_bytes) : "",
           l->msg_bytes > 0 ? ")" : "");
  if (!l->have_split)
    printf("B/W split    none: the profile has only full backward ops; "
           "schedules with separate B and W need --b-frac\n");
  else if (l->b_frac > 0)
    printf("B/W split    B = %.3f x BW, W = the rest (--b-frac)\n", l->b_frac);
  if (l->n_jitter_q >= 2)
    printf("scatter      op time / its median within an iteration: robust "
           "sigma %.3f of the log, 5th-95th percentile x%.3f .. x%.3f, "
           "slowest x%.3f (--jitter auto)\n", l->jitter,
           exp(l->jitter_q[1]), exp(l->jitter_q[l->n_jitter_q - 2]),
           exp(l->jitter_q[l->n_jitter_q - 1]));
  if (l->fused_skipped)
    printf("fused F&B ops left out: %d\n", l->fused_skipped);
}

/* ------------------------------------------------------ calibrate --from --- */

enum { OPT_L_FROM = 1400, OPT_L_DB, OPT_L_GPU, OPT_L_FORMAT, OPT_L_WORKLOAD,
       OPT_L_BFRAC, OPT_L_WARMUP, OPT_L_MIN, OPT_L_NOTES, OPT_L_BW,
       OPT_L_MSG, OPT_L_SCHED, OPT_L_MODEL, OPT_L_MB, OPT_L_SEQ, OPT_L_TP };

static const char from_usage[] =
  "usage: pipelab calibrate --from <file>... [--db <file.db> [--gpu <device>]]\n"
  "                         [--b-frac <x>] [--warmup <n>] [--min-samples <n>]\n"
  "                         [--workload <key> | --model <name> [--mb-size <b>]\n"
  "                          [--seq <s>] [--tp <t>]] [--format (table|json)]\n\n"
  "Learns costs from a measured iteration: a result file of 'pipelab run\n"
  "--save' (several: pooled) or PyTorch profiler (Kineto) traces, one per\n"
  "rank, with PP:<action> annotations. Per (stage, op kind): the median over\n"
  "microbatches, its spread (1.4826 MAD / median) and outliers excluded (over\n"
  "5 robust deviations); the per-op runtime overhead; the P2P time per\n"
  "message. With --db they are stored, with the profile's SHA-256, schedule,\n"
  "device, workload key, date and git revision, in one transaction; then\n"
  "'pipelab whatif --db' and 'pipelab simulate --db' price every schedule\n"
  "from them. Too few samples or a missing op kind: one line, exit 3,\n"
  "nothing stored.\n\n"
  "  --from <file>             profile (repeat it, or list more files after it)\n"
  "  --db <file.db>            store the learned costs\n"
  "  --gpu <device>            catalog device to file them under (default\n"
  "                            'cpu' for a CPU-backend result; required\n"
  "                            otherwise)\n"
  "  --b-frac <x>              B / (B + W) to split a profile's full backward\n"
  "                            (BW) ops, for zero-bubble schedules (0 < x < 1)\n"
  "  --warmup <n>              iterations to skip (Kineto: default 1 when the\n"
  "                            trace holds several; result files: 0, 'run'\n"
  "                            drops its warm-up itself)\n"
  "  --min-samples <n>         fewest samples per (stage, op kind) (default 3)\n"
  "  --bandwidth <B>           link bytes per time unit: splits the P2P time\n"
  "                            into latency + bytes / bandwidth\n"
  "  --msg-bytes <n>           bytes per message (default: from the run's\n"
  "                            workload)\n"
  "  --workload <key>          what was profiled (default: the run's workload,\n"
  "                            e.g. executor:layers=4,hidden=128,seq=128,mb=1)\n"
  "  --model <name>            file the costs under a catalog model's key: a\n"
  "                            later --model --gpu prices with them\n"
  "  --schedule <name>         name of the profiled schedule (Kineto)\n"
  "  --notes <text>            free text stored with the costs\n"
  "  --format <f>              table (default) or json\n\n"
  "examples:\n"
  "  pipelab run --schedule 1f1b --stages 2 --microbatches 8 --save real.json\n"
  "  pipelab calibrate --from real.json --b-frac 0.72 --db cal.db\n"
  "  pipelab whatif --db cal.db\n"
  "  pipelab calibrate --from examples/kineto/rank0.json "
  "examples/kineto/rank1.json\n";

int cmd_calibrate_from(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"from", required_argument, NULL, OPT_L_FROM},
    {"db", required_argument, NULL, OPT_L_DB},
    {"gpu", required_argument, NULL, OPT_L_GPU},
    {"format", required_argument, NULL, OPT_L_FORMAT},
    {"workload", required_argument, NULL, OPT_L_WORKLOAD},
    {"b-frac", required_argument, NULL, OPT_L_BFRAC},
    {"warmup", required_argument, NULL, OPT_L_WARMUP},
    {"min-samples", required_argument, NULL, OPT_L_MIN},
    {"notes", required_argument, NULL, OPT_L_NOTES},
    {"bandwidth", required_argument, NULL, OPT_L_BW},
    {"msg-bytes", required_argument, NULL, OPT_L_MSG},
    {"schedule", required_argument, NULL, OPT_L_SCHED},
    {"model", required_argument, NULL, OPT_L_MODEL},
    {"mb-size", required_argument, NULL, OPT_L_MB},
    {"seq", required_argument, NULL, OPT_L_SEQ},
    {"tp", required_argument, NULL, OPT_L_TP},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "calibrate";
  struct learn_cli lc;
  enum cli_format fmt = CLI_FMT_TABLE;
  const char *dbpath = NULL, *gpu = NULL, *notes = NULL, *model = NULL;
  int mb = 0, seq = 0, tp = 1, opt, rc;
  const char **files = pl_calloc((size_t)argc + 1, sizeof *files);
  size_t nf = 0;
  if (!files)
    return cli_fail(PL_ENOMEM, "out of memory");
  learn_cli_init(&lc);
  optind = 1; /* permuting: options may follow the files of --from */
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    rc = 0;
    switch (opt) {
    case 'h':
      fputs(from_usage, stdout);
      pl_free(files);
      return 0;
    case OPT_L_FROM: files[nf++] = optarg; break;
    case OPT_L_DB: dbpath = optarg; break;
    case OPT_L_GPU: gpu = optarg; break;
    case OPT_L_NOTES: notes = optarg; break;
    case OPT_L_WORKLOAD: lc.workload_key = optarg; break;
    case OPT_L_SCHED: lc.schedule = optarg; break;
    case OPT_L_MODEL: model = optarg; break;
    case OPT_L_FORMAT: rc = cli_format(cmd, optarg, 3, &fmt); break;
    case OPT_L_BFRAC:
      rc = cli_double(cmd, "--b-frac", optarg, 1e-6, 1 - 1e-6, &lc.b_frac);
      break;
    case OPT_L_WARMUP: rc = cli_int(cmd, "--warmup", optarg, 0, 1000, &lc.warmup); break;
    case OPT_L_MIN: rc = cli_int(cmd, "--min-samples", optarg, 1, 1000000, &lc.min_samples); break;
    case OPT_L_BW: rc = cli_double(cmd, "--bandwidth", optarg, 1e-12, 1e18, &lc.bandwidth); break;
    case OPT_L_MSG: rc = cli_bytes(cmd, "--msg-bytes", optarg, &lc.msg_bytes); break;
    case OPT_L_MB: rc = cli_int(cmd, "--mb-size", optarg, 1, 1 << 20, &mb); break;
    case OPT_L_SEQ: rc = cli_int(cmd, "--seq", optarg, 1, 1 << 24, &seq); break;
    case OPT_L_TP: rc = cli_int(cmd, "--tp", optarg, 1, 1 << 16, &tp); break;
    default:
      pl_free(files);
      return cli_bad_option(cmd, argv);
    }
    if (rc) {
      pl_free(files);
      return rc;
    }
  }
  for (int i = optind; i < argc; i++) /* --from a.json b.json */
    files[nf++] = argv[i];
  if (!nf) {
    pl_free(files);
    return cli_usage(cmd, "--from needs at least one profile file");
  }
  if (model && lc.workload_key) {
    pl_free(files);
    return cli_usage(cmd, "give --workload or --model, not both");
  }
  if (gpu && !dbpath) {
    pl_free(files);
    return cli_usage(cmd, "--gpu only applies with --db <file.db>");
  }
  pl_learned *l = NULL;
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char key[128];
  rc = 0;
  if (model || dbpath) {
    if ((rc = cli_db_open(dbpath, 0, &db)))
      goto out;
  }
  if (model) {
    pl_model_spec ms;
    pl_train_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    if ((rc = pl_db_get_model(db, model, &ms, &eb))) {
      rc = rc == PL_ENOTFOUND ? cli_usage(cmd, "%s", eb.msg)
                              : cli_fail_eb(&eb, rc);
      goto out;
    }
    cfg.mb_size = mb;
    cfg.seq_len = seq;
    cfg.tp = tp;
    pl_learned_model_key(&ms, &cfg, key, sizeof key);
    lc.workload_key = key;
  }
  if ((rc = learn_cli_load(cmd, files, nf, &lc, &l)))
    goto out;
  if (dbpath) {
    if (!gpu && !strcmp(l->source, "cpu"))
      gpu = "cpu";
    if (!gpu) {
      rc = cli_usage(cmd, "--db with a %s profile needs --gpu <catalog "
                          "device> to file the costs under ('pipelab db "
                          "list gpus')", l->source);
      goto out;
    }
    pl_gpu_spec g;
    if ((rc = pl_db_get_gpu(db, gpu, &g, &eb))) {
      rc = rc == PL_ENOTFOUND ? cli_usage(cmd, "%s", eb.msg)
                              : cli_fail_eb(&eb, rc);
      goto out;
    }
    snprintf(l->device, sizeof l->device, "%s", g.name);
  }
  if (fmt == CLI_FMT_JSON) {
    json_t *o = learn_cli_json(l);
    pl_json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
  } else {
    print_learned(l);
  }
  if (dbpath) {
    pl_calib_info info = PL_CALIB_INFO_INIT;
    char method[160], defnotes[4200];
    snprintf(method, sizeof method, "pipelab calibrate --from (%s, %s)",
             l->schedule, l->source);
    snprintf(defnotes, sizeof defnotes, "learned from %zu file%s: %s%s", nf,
             nf == 1 ? "" : "s", files[0], nf > 1 ? ", ..." : "");
    info.gpu = l->device;
    info.method = method;
    info.notes = notes ? notes : defnotes;
    int64_t id = 0;
    if (cli_interrupted()) {
      rc = cli_fail_interrupted();
      goto out;
    }
    if ((rc = pl_db_learned_store(db, l, &info, &id, &eb))) {
      rc = cli_fail_eb(&eb, rc);
      goto out;
    }
    fprintf(stderr, "stored learned costs %lld (%s, device %s) in '%s'\n",
            (long long)id, l->workload_key, l->device, dbpath);
  }
out:
  pl_learned_free(l);
  pl_db_close(db);
  pl_free(files);
  return rc;
}

/* ------------------------------------------- simulate / whatif sources --- */

int learn_cli_resolve(const char *cmd, const char *const *files, size_t n,
                      const struct learn_cli *lc, const char *db_path,
                      pl_learned **out)
{
  *out = NULL;
  if (n)
    return learn_cli_load(cmd, files, n, lc, out);
  if (!db_path)
    return 0;
  /* --db alone: its newest learned costs, when it holds any */
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_open(db_path, PL_DB_NO_CREATE, 0, &db, &eb);
  if (rc == PL_ENOTFOUND)
    return 0;
  if (rc)
    return cli_fail_eb(&eb, rc);
  rc = pl_db_learned_load(db, NULL, NULL, out, NULL, &eb);
  pl_db_close(db);
  if (rc == PL_ENOTFOUND)
    return 0;
  return rc ? cli_fail_eb(&eb, rc) : 0;
}

void learn_cli_apply_opts(const pl_learned *l, struct sim_opts *o)
{
  const pl_learned_stage *s0 = &l->stage[0];
  int f = l->stages / (l->ranks > 0 ? l->ranks : 1); /* profile chunks */
  if (!o->have_p) {
    o->rq.p = l->ranks;
    o->have_p = 1;
  }
  if (!o->have_m) {
    o->rq.m = l->microbatches;
    o->have_m = 1;
  }
  /* per-rank figures (what the generators that use costs and the tables
   * read): stage 0's times times the profile's chunks per rank */
  o->rq.costs.tf = f * s0->t[PL_OP_F].median;
  if (l->have_split) {
    o->rq.costs.tb = f * s0->t[PL_OP_B].median;
    o->rq.costs.tw = f * s0->t[PL_OP_W].median;
  } else {
    o->rq.costs.tb = o->rq.costs.tw = f * 0.5 * s0->t[PL_OP_BW].median;
  }
  o->rq.costs.comm = pl_learned_wire(l); /* the copies are the overheads */
  o->rq.costs.time_unit = l->time_unit;
  if (!(o->seen & SIMOPT(OPT_OP_GAP)))
    o->rq.op_gap = l->gap.median;
  if (!(o->seen & SIMOPT(OPT_SEND_OVH)))
    o->rq.send_overhead = l->msg.median;
  if (!(o->seen & SIMOPT(OPT_RECV_OVH)))
    o->rq.recv_overhead = l->msg.median;

}

int learn_cli_jitter(struct sim_opts *o, const char *cmd,
                     const pl_learned *learned, size_t n_from)
{
  const int jitter_auto = o->jitter_auto;
  if (jitter_auto && !learned)
    return cli_usage(cmd, "--jitter auto takes the op-time variability of a "
                          "learned profile: add --costs-from FILE, or give a "
                          "number");
  if (jitter_auto && !n_from && !(learned->jitter > 0) &&
      learned->n_jitter_q < 2)
    return cli_usage(cmd, "--jitter auto: the stored profile has no op-time "
                          "scatter (stored before schema 7); learn it again "
                          "with 'calibrate --from', or give a number");
  if (jitter_auto) { /* the profile's scatter, its shape included */
    o->rq.jitter = learned->jitter;
    o->rq.jitter_q = learned->jitter_q;
    o->rq.n_jitter_q = learned->n_jitter_q;
  }
  return simopts_jitter_check(o, cmd);
}
