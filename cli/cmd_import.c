/* cmd_import.c: `pipelab import kineto`: PyTorch profiler traces of a
 * pipelined run -> a "real" result file that compare and plot read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipelab/models.h"
#include "pipelab/traces.h"

static const char usage[] =
  "usage: pipelab import kineto <trace.json>... [-o <result.json>]\n"
  "                             [--rank-map <pid>:<rank>[,...]]\n"
  "                             [--track (auto|gpu|cpu)] [--iteration <n>]\n"
  "                             [--dialect (current|legacy)] [--schedule <name>]\n"
  "                             [--record [--db <file>] [--label <text>]]\n\n"
  "Imports PyTorch profiler (Kineto) Chrome traces of a run that used\n"
  "torch.distributed.pipelining: every action is a user annotation named\n"
  "'PP:<action>' ('PP:2F0', 'PP:1I3', 'PP:0W1', 'PP:3B2'). Give one trace per\n"
  "rank, or one trace holding several ranks. The result (source 'kineto',\n"
  "times in us) is what 'pipelab compare' and 'pipelab plot' read.\n\n"
  "options:\n"
  "  -o, --output <file>   result file to write (default: standard output)\n"
  "  --rank-map <list>     pid:rank pairs, for traces without distributedInfo\n"
  "                        (default: pids numbered in ascending order)\n"
  "  --track <t>           gpu: gpu_user_annotation ranges (stream time),\n"
  "                        cpu: user_annotation ranges (host time),\n"
  "                        auto (default): gpu when the trace has them\n"
  "  --iteration <n>       which profiled step to keep when actions repeat\n"
  "                        (0 = first, the default)\n"
  "  --dialect <d>         current (I = input backward, B = full backward;\n"
  "                        default) or legacy (B = input backward, BW = full)\n"
  "  --schedule <name>     schedule name stored in the result\n"
  "  --record              also store the result as a run in the database\n"
  "  --db <file>           run database (default: $PIPELAB_DB, else\n"
  "                        ~/.local/share/pipelab/pipelab.db)\n"
  "  --label <text>        label of the recorded run\n"
  "  -h, --help            this text\n\n"
  "The naming is documented in docs/trace-format.md.\n\n"
  "examples:\n"
  "  pipelab import kineto examples/kineto/rank0.json "
  "examples/kineto/rank1.json -o real.json\n"
  "  pipelab import kineto examples/kineto/rank0.json "
  "examples/kineto/rank1.json --track cpu\n"
  "  pipelab import kineto examples/kineto/rank0.json --schedule 1f1b "
  "-o rank0.json\n";

enum { OPT_RANK_MAP = 1000, OPT_TRACK, OPT_ITER, OPT_DIALECT, OPT_SCHED,
       OPT_RECORD, OPT_DB, OPT_LABEL };

static int parse_rank_map(const char *cmd, const char *s, int **out, size_t *n)
{
  size_t cap = 1;
  for (const char *q = s; *q; q++)
    cap += *q == ',';
  int *v = malloc(2 * cap * sizeof *v);
  if (!v)
    return cli_fail(PL_ENOMEM, "out of memory");
  size_t k = 0;
  const char *q = s;
  while (*q) {
    char *end;
    errno = 0;
    long pid = strtol(q, &end, 10);
    if (end == q || *end != ':' || errno || pid < -2147483647L ||
        pid > 2147483647L)
      goto bad;
    q = end + 1;
    long rank = strtol(q, &end, 10);
    if (end == q || (*end && *end != ',') || errno || rank < 0 ||
        rank > (1 << 20))
      goto bad;
    v[2 * k] = (int)pid;
    v[2 * k + 1] = (int)rank;
    k++;
    q = *end ? end + 1 : end;
  }
  if (!k)
    goto bad;
  *out = v;
  *n = k;
  return 0;
bad:
  free(v);
  return cli_usage(cmd, "--rank-map expects <pid>:<rank>[,<pid>:<rank>...], "
                   "got '%s'", s);
}

int cmd_import(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"rank-map", required_argument, NULL, OPT_RANK_MAP},
    {"track", required_argument, NULL, OPT_TRACK},
    {"iteration", required_argument, NULL, OPT_ITER},
    {"dialect", required_argument, NULL, OPT_DIALECT},
    {"schedule", required_argument, NULL, OPT_SCHED},
    {"record", no_argument, NULL, OPT_RECORD},
    {"db", required_argument, NULL, OPT_DB},
    {"label", required_argument, NULL, OPT_LABEL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "import";
  const char *out_path = "-";
  pl_kineto_opts ko = PL_KINETO_OPTS_INIT;
  int *rank_map = NULL;
  int opt, rc = 0, record = 0;
  const char *db_path = NULL, *label = NULL;
  while ((opt = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      printf("%s", usage);
      free(rank_map);
      return 0;
    case 'o':
      out_path = optarg;
      break;
    case OPT_RANK_MAP:
      free(rank_map);
      rank_map = NULL;
      if ((rc = parse_rank_map(cmd, optarg, &rank_map, &ko.n_rank_map)))
        return rc;
      ko.rank_map = rank_map;
      break;
    case OPT_TRACK:
      if (!strcmp(optarg, "auto"))
        ko.track = PL_KINETO_AUTO;
      else if (!strcmp(optarg, "gpu"))
        ko.track = PL_KINETO_GPU;
      else if (!strcmp(optarg, "cpu"))
        ko.track = PL_KINETO_CPU;
      else {
        rc = cli_usage(cmd, "--track must be auto, gpu or cpu, got '%s'",
                       optarg);
        goto out;
      }
      break;
    case OPT_ITER:
      if ((rc = cli_int(cmd, "--iteration", optarg, 0, 1000000, &ko.iteration)))
        goto out;
      break;
    case OPT_DIALECT:
      if (!strcmp(optarg, "current"))
        ko.dialect = PL_DIALECT_CURRENT;
      else if (!strcmp(optarg, "legacy"))
        ko.dialect = PL_DIALECT_LEGACY;
      else {
        rc = cli_usage(cmd, "--dialect must be current or legacy, got '%s'",
                       optarg);
        goto out;
      }
      break;
    case OPT_SCHED:
      ko.schedule = optarg;
      break;
    case OPT_RECORD:
      record = 1;
      break;
    case OPT_DB:
      db_path = optarg;
      break;
    case OPT_LABEL:
      label = optarg;
      break;
    default:
      rc = cli_bad_option(cmd, argv);
      goto out;
    }
  }
  if (optind >= argc) {
    rc = cli_usage(cmd, "expected a format, 'kineto', then trace files");
    goto out;
  }
  if (strcmp(argv[optind], "kineto") != 0) {
    rc = cli_usage(cmd, "unknown format '%s' (supported: kineto)",
                   argv[optind]);
    goto out;
  }
  optind++;
  if (optind >= argc) {
    rc = cli_usage(cmd, "expected at least one trace file after 'kineto'");
    goto out;
  }
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result r = PL_RESULT_INIT;
  pl_kineto_info info;
  rc = pl_kineto_load((const char *const *)&argv[optind], (size_t)(argc - optind),
                      &ko, &r, &info, &eb);
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
    goto out;
  }
  rc = pl_result_save(&r, out_path, &eb);
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
  } else {
    fprintf(stderr,
            "imported %zu ops on %d rank(s) from %zu file(s) (%s annotations)"
            "; skipped %zu comm action(s), %zu from other iterations\n",
            r.n_ops, r.stages, info.files,
            info.track == PL_KINETO_GPU   ? "gpu"
            : info.track == PL_KINETO_CPU ? "cpu"
                                          : "mixed",
            info.comm_actions, info.repeated);
    if (record) {
      pl_db *db;
      int64_t id;
      pl_history_params hp = PL_HISTORY_PARAMS_INIT;
      hp.label = label;
      if ((rc = pl_history_open(db_path, 1, &db, &eb)) == 0) {
        rc = pl_history_record(db, &r, &hp, &id, &eb);
        pl_db_close(db);
      }
      if (rc)
        rc = cli_fail_eb(&eb, rc);
      else
        fprintf(stderr, "recorded as run %lld\n", (long long)id);
    }
  }
  pl_result_free(&r);
out:
  free(rank_map);
  return rc;
}
