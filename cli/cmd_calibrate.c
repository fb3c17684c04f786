/* cmd_calibrate.c: `pipelab calibrate`: measure one layer's F, B, W, BW and
 * P2P latency/bandwidth on a backend; print them and optionally store them
 * with provenance in the cost database. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipelab/exec.h"
#include "pipelab/models.h"
#include "learnopts.h"
#include "workloadopts.h"

enum { OPT_C_BACKEND = 1300, OPT_C_WARMUP, OPT_C_REPS, OPT_C_FORMAT, OPT_C_DB,
       OPT_C_GPU, OPT_C_NOTES, OPT_C_MAX_SPREAD };

static const char usage[] =
  "usage: pipelab calibrate [--backend cpu|cuda] [--hidden <h>] [--seq <s>]\n"
  "                         [--mb-size <b>] [--attention] [--warmup <n>]\n"
  "                         [--reps <n>] [--max-spread <pct>]\n"
  "                         [--format (table|json|csv)]\n"
  "                         [--db <file.db> [--gpu <device>]]\n"
  "       pipelab calibrate --from <file>... [--db <file.db>] (learned costs:\n"
  "                         'pipelab calibrate --from x --help')\n\n"
  "Measures, on the chosen backend, the time of ONE layer of the executor's\n"
  "workload for one microbatch: forward (F), input backward (B), weight\n"
  "backward (W) and full backward (BW), plus the first stage's input load, the\n"
  "last stage's loss, and P2P latency and bandwidth between two ranks.\n"
  "Warm-up runs are discarded; mean, standard deviation and minimum are over\n"
  "the repetitions. With --db the figures are stored as one calibration run\n"
  "(provenance: host, backend, pipelab version, time) in the cost database;\n"
  "`pipelab simulate --gpu <device> --db <file.db>` with the same workload\n"
  "flags then prices its ops with them. With --attention the layer includes\n"
  "the causal self-attention sub-block; such runs are not stored (--db) yet,\n"
  "because the database does not record the option.\n\n";

static const char opts_help[] =
  "measurement:\n"
  "  --backend <b>             cpu (default; one thread per rank, OpenBLAS\n"
  "                            single-threaded) or cuda\n"
  "  --warmup <n>              discarded runs first (default 3)\n"
  "  --reps <n>                measured repetitions (default 20, at least 2)\n"
  "  --max-spread <pct>        largest stddev / mean of F, B, W or BW (in %%,\n"
  "                            default 10) before the figures are flagged as\n"
  "                            untrusted: a warning, \"untrusted\" in the JSON\n"
  "                            and in the stored notes (so are 2 threads on\n"
  "                            1 core)\n"
  "output:\n"
  "  --format <f>              table (default), json or csv\n"
  "  --db <file.db>            store the run in this cost database\n"
  "  --gpu <name>              catalog device the run is filed under (with\n"
  "                            --db; default 'cpu' for --backend cpu, required\n"
  "                            for cuda: 'pipelab db list gpus')\n"
  "  --notes <text>            free text stored with the run\n\n"
  "examples:\n"
  "  pipelab calibrate --backend cpu --hidden 256 --seq 128 --reps 5\n"
  "  pipelab calibrate --backend cpu --hidden 256 --seq 128 --db cal.db\n"
  "  pipelab calibrate --hidden 64 --seq 32 --reps 3 --format json\n";

static json_t *stat_json(const pl_calib_stat *s)
{
  json_t *o = json_object();
  json_object_set_new(o, "mean_us", json_real(s->mean));
  json_object_set_new(o, "stddev_us", json_real(s->stddev));
  json_object_set_new(o, "min_us", json_real(s->min));
  json_object_set_new(o, "reps", json_integer(s->reps));
  return o;
}

/* Before measuring (minutes at large sizes): the database opens and the
 * device exists and matches the backend. A CPU measurement filed under a GPU
 * (or the reverse) would silently price a GPU what-if with host timings.
 * name receives the catalog spelling. */
static int check_device(const char *path, const char *gpu, int backend,
                        char *name, size_t len)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = NULL;
  pl_gpu_spec g;
  /* Read only: a usage error creates no file. A database that does not
   * exist yet is checked against the built-in catalog it will be created
   * with. */
  struct stat st;
  if (strcmp(path, ":memory:") && stat(path, &st) != 0 && errno == ENOENT)
    path = ":memory:";
  int rc = pl_db_open(path, PL_DB_READ_ONLY, 0, &db, &eb);
  if (rc)
    return cli_fail_eb(&eb, rc);
  rc = pl_db_get_gpu(db, gpu, &g, &eb);
  pl_db_close(db);
  if (rc == PL_ENOTFOUND)
    return cli_usage("calibrate", "%s", eb.msg);
  if (rc)
    return cli_fail_eb(&eb, rc);
  int cpu_backend = backend == PL_BACKEND_CPU;
  if (g.is_cpu != cpu_backend)
    return cli_usage("calibrate", "--backend %s measurements cannot be filed "
                     "under %s device '%s'; use --gpu %s",
                     pl_backend_name(backend), g.is_cpu ? "the cpu" : "GPU",
                     g.name, cpu_backend ? "cpu" : "<the GPU's catalog name>");
  snprintf(name, len, "%s", g.name);
  return 0;
}

static int store(const char *path, const char *gpu, const char *notes,
                 const pl_calib *cal)
{
  static const char default_notes[] =
      "pipelab executor workload: pre-LN block (layer norm, GELU MLP 4h, "
      "residual; no attention), fp64";
  char why[CLI_UNTRUSTED_LINE], noted[4096];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = NULL;
  int rc = pl_db_open(path, 0, 0, &db, &eb);
  if (rc)
    return cli_fail_eb(&eb, rc);
  pl_calib_info info = PL_CALIB_INFO_INIT;
  char method[64], dev[96];
  snprintf(method, sizeof method, "pipelab calibrate --backend %s",
           cal->backend);
  snprintf(dev, sizeof dev, "%s",
           strcmp(cal->backend, "cpu") ? "cuda device 0"
                                       : "cpu (OpenBLAS, 1 thread per rank)");
  info.gpu = gpu;
  info.device_name = dev;
  info.method = method;
  info.notes = notes ? notes : default_notes;
  if (cal->n_untrusted) { /* the database keeps the doubt with the figures */
    snprintf(noted, sizeof noted, "%s; untrusted: %s", info.notes,
             cli_join_untrusted(cal->n_untrusted, cal->untrusted, why,
                                sizeof why));
    info.notes = noted;
  }
  int64_t id = 0;
  rc = pl_db_calibration_begin(db, &info, &id, &eb);
  /* One layer's F/B/W/BW, then the first stage's input load and the last
   * stage's loss as the workload's 'embedding' and 'lm_head' forward
   * (docs/database.md), stored when measured. */
  const struct {
    const char *layer_kind;
    int op_kind, optional;
    const pl_calib_stat *stat;
  } rows[6] = {{"transformer", PL_OP_F, 0, &cal->t[PL_OP_F]},
               {"transformer", PL_OP_B, 0, &cal->t[PL_OP_B]},
               {"transformer", PL_OP_W, 0, &cal->t[PL_OP_W]},
               {"transformer", PL_OP_BW, 0, &cal->t[PL_OP_BW]},
               {"embedding", PL_OP_F, 1, &cal->input},
               {"lm_head", PL_OP_F, 1, &cal->loss}};
  for (int i = 0; i < 6 && !rc; i++) {
    if (rows[i].optional && !(rows[i].stat->mean > 0))
      continue;
    pl_sample s = PL_SAMPLE_INIT;
    s.op_kind = rows[i].op_kind;
    s.layer_kind = rows[i].layer_kind;
    s.mb_size = cal->w.mb_size;
    s.seq_len = cal->w.seq;
    s.hidden = cal->w.hidden;
    s.dtype = "fp64";
    s.mean_us = rows[i].stat->mean;
    s.stddev_us = rows[i].stat->stddev;
    s.count = rows[i].stat->reps;
    rc = pl_db_calibration_add_sample(db, &s, &eb);
  }
  if (!rc) {
    pl_link_cost l = {"local", cal->p2p_latency_us,
                      cal->p2p_bandwidth > 0 ? cal->p2p_bandwidth * 1e6
                                              : PL_LINK_NO_BANDWIDTH};
    rc = pl_db_calibration_add_link(db, &l, &eb);
  }
  if (!rc && cli_interrupted()) /* Ctrl-C while storing: no rows */
    rc = pl_errf(&eb, PL_EINTR, "interrupted: nothing stored");
  if (!rc)
    rc = pl_db_calibration_commit(db, &eb);
  if (rc) {
    pl_db_calibration_rollback(db);
    pl_db_close(db);
    return cli_fail_eb(&eb, rc);
  }
  fprintf(stderr, "stored calibration %lld in '%s'\n", (long long)id, path);
  pl_db_close(db);
  return 0;
}

int cmd_calibrate(int argc, char **argv)
{
  static const struct option longopts[] = {
    WORKLOADOPTS_LONG,
    {"backend", required_argument, NULL, OPT_C_BACKEND},
    {"warmup", required_argument, NULL, OPT_C_WARMUP},
    {"reps", required_argument, NULL, OPT_C_REPS},
    {"format", required_argument, NULL, OPT_C_FORMAT},
    {"db", required_argument, NULL, OPT_C_DB},
    {"gpu", required_argument, NULL, OPT_C_GPU},
    {"notes", required_argument, NULL, OPT_C_NOTES},
    {"max-spread", required_argument, NULL, OPT_C_MAX_SPREAD},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "calibrate";
  /* --from FILE...: learn costs from a measured profile (learnopts.c) */
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--from") || !strncmp(argv[i], "--from=", 7))
      return cmd_calibrate_from(argc, argv);
  struct workload_opts wo;
  enum cli_format fmt = CLI_FMT_TABLE;
  int backend = PL_BACKEND_CPU, warmup = 3, reps = 20, opt, rc;
  double max_spread = 100 * PL_CALIB_MAX_SPREAD; /* percent */
  const char *dbpath = NULL, *gpu = NULL, *notes = NULL;
  workloadopts_init(&wo, cmd);
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      printf("%s%s%s", usage, workloadopts_help, opts_help);
      return 0;
    case '?':
    case ':':
      return cli_bad_option(cmd, argv);
    case OPT_C_BACKEND:
      backend = pl_backend_parse(optarg);
      if (backend < 0)
        return cli_usage(cmd, "--backend must be cpu or cuda, got '%s'",
                         optarg);
      continue;
    case OPT_C_WARMUP:
      if ((rc = cli_int(cmd, "--warmup", optarg, 0, 100000, &warmup)))
        return rc;
      continue;
    case OPT_C_REPS:
      if ((rc = cli_int(cmd, "--reps", optarg, 2, 1000000, &reps)))
        return rc;
      continue;
    case OPT_C_FORMAT:
      if ((rc = cli_format(cmd, optarg, 7, &fmt)))
        return rc;
      continue;
    case OPT_C_DB: dbpath = optarg; continue;
    case OPT_C_GPU: gpu = optarg; continue;
    case OPT_C_NOTES: notes = optarg; continue;
    case OPT_C_MAX_SPREAD:
      if ((rc = cli_double(cmd, "--max-spread", optarg, 0, 1e6, &max_spread)))
        return rc;
      continue;
    default:
      break;
    }
    rc = workloadopts_handle(&wo, opt, optarg);
    if (rc)
      return rc < 0 ? cli_bad_option(cmd, argv) : rc;
  }
  if ((rc = cli_no_positionals(cmd, argc, argv)))
    return rc;
  if (dbpath && !gpu && backend == PL_BACKEND_CPU)
    gpu = "cpu";
  if (dbpath && !gpu)
    return cli_usage(cmd, "--db with --backend cuda needs --gpu <catalog "
                          "name> to file the run under ('pipelab db list "
                          "gpus')");
  if (gpu && !dbpath)
    return cli_usage(cmd, "--gpu only applies with --db <file.db>");
  /* The database files workload calibrations under hidden/seq/mb-size
   * only: attention timings stored there would price the MLP-only block. */
  if (dbpath && wo.attention)
    return cli_usage(cmd, "--attention calibrations cannot be stored with "
                          "--db yet (the database does not record the "
                          "attention option); drop --db or --attention");
  if (backend == PL_BACKEND_CUDA) {
    const char *why;
    if (wo.attention)
      return cli_fail(PL_EINVAL, "--backend cuda: attention is not "
                                 "implemented on the CUDA backend yet");
    /* Loads the CUDA plugin: its absence is the loader's line, as is. */
    if (pl_cuda_devices(&why) == 0)
      return cli_fail(PL_ENODEV, "--backend cuda: %s%s",
                      pl_backend_cuda_vt() ? "no GPU: " : "", why);
  }
  pl_workload w;
  if ((rc = workloadopts_get(&wo, 0, 1, &w)))
    return rc;
  char devname[32];
  if (dbpath && (rc = check_device(dbpath, gpu, backend, devname,
                                   sizeof devname)))
    return rc;
  pl_calib cal;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if ((rc = pl_exec_calibrate(&w, backend, warmup, reps, &cal,
                              cli_stop_flag(), &eb)))
    return cli_fail_eb(&eb, rc);
  if (cli_interrupted()) /* after the last repetition: store nothing */
    return cli_fail_interrupted();
  pl_calib_trust(&cal, max_spread / 100);
  cli_warn_untrusted(cal.n_untrusted, cal.untrusted);
  static const char *names[4] = {"F", "B", "W", "BW"};
  static const int kinds[4] = {PL_OP_F, PL_OP_B, PL_OP_W, PL_OP_BW};
  if (fmt == CLI_FMT_JSON) {
    json_t *o = json_object();
    json_object_set_new(o, "backend", json_string(cal.backend));
    json_object_set_new(o, "pipelab_version", json_string(pl_version()));
    json_object_set_new(o, "git_rev", json_string(pl_git_rev()));
    json_t *wj = json_object();
    json_object_set_new(wj, "hidden", json_integer(w.hidden));
    json_object_set_new(wj, "seq", json_integer(w.seq));
    json_object_set_new(wj, "mb_size", json_integer(w.mb_size));
    json_object_set_new(wj, "attention", json_boolean(w.attention));
    json_object_set_new(wj, "dtype", json_string("fp64"));
    json_object_set_new(o, "workload", wj);
    json_object_set_new(o, "warmup", json_integer(warmup));
    json_t *per = json_object();
    for (int i = 0; i < 4; i++)
      json_object_set_new(per, names[i], stat_json(&cal.t[kinds[i]]));
    json_object_set_new(o, "per_layer", per);
    json_object_set_new(o, "input", stat_json(&cal.input));
    json_object_set_new(o, "loss", stat_json(&cal.loss));
    json_t *p2p = json_object();
    json_object_set_new(p2p, "latency_us", json_real(cal.p2p_latency_us));
    json_object_set_new(p2p, "bandwidth_bytes_per_us",
                        json_real(cal.p2p_bandwidth));
    json_object_set_new(p2p, "msg_bytes", json_real(cal.msg_bytes));
    json_object_set_new(p2p, "small", stat_json(&cal.p2p_small));
    json_object_set_new(p2p, "msg", stat_json(&cal.p2p_msg));
    json_object_set_new(o, "p2p", p2p);
    if (cal.n_untrusted) {
      json_t *u = json_array();
      for (int i = 0; i < cal.n_untrusted; i++)
        json_array_append_new(u, json_string(cal.untrusted[i]));
      json_object_set_new(o, "untrusted", u);
    }
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    putchar('\n');
    json_decref(o);
  } else if (fmt == CLI_FMT_CSV) {
    printf("backend,what,hidden,seq,mb_size,mean_us,stddev_us,min_us,reps\n");
    for (int i = 0; i < 4; i++) {
      const pl_calib_stat *s = &cal.t[kinds[i]];
      printf("%s,%s,%d,%d,%d,%.6g,%.6g,%.6g,%d\n", cal.backend, names[i],
             w.hidden, w.seq, w.mb_size, s->mean, s->stddev, s->min, s->reps);
    }
    const pl_calib_stat *ex[4] = {&cal.input, &cal.loss, &cal.p2p_small,
                                  &cal.p2p_msg};
    const char *exn[4] = {"input", "loss", "p2p_8B", "p2p_msg"};
    for (int i = 0; i < 4; i++)
      printf("%s,%s,%d,%d,%d,%.6g,%.6g,%.6g,%d\n", cal.backend, exn[i],
             w.hidden, w.seq, w.mb_size, ex[i]->mean, ex[i]->stddev,
             ex[i]->min, ex[i]->reps);
  } else {
    printf("calibration on %s: one layer, hidden %d, seq %d, mb-size %d, "
           "%s, fp64 (%d warm-up, %d reps)\n\n",
           cal.backend, w.hidden, w.seq, w.mb_size,
           w.attention ? "causal attention + MLP" : "MLP only (no attention)",
           warmup, reps);
    printf("%-8s %12s %12s %12s\n", "op", "mean", "stddev", "min");
    for (int i = 0; i < 4; i++) {
      const pl_calib_stat *s = &cal.t[kinds[i]];
      printf("%-8s %12s %12s %12s\n", names[i], cli_dur(s->mean, "us"),
             cli_dur(s->stddev, "us"), cli_dur(s->min, "us"));
    }
    printf("%-8s %12s %12s %12s\n", "input", cli_dur(cal.input.mean, "us"),
           cli_dur(cal.input.stddev, "us"), cli_dur(cal.input.min, "us"));
    printf("%-8s %12s %12s %12s\n", "loss", cli_dur(cal.loss.mean, "us"),
           cli_dur(cal.loss.stddev, "us"), cli_dur(cal.loss.min, "us"));
    printf("\np2p latency   %s (8-byte message, one way)\n",
           cli_dur(cal.p2p_latency_us, "us"));
    printf("p2p message   %s for %s; bandwidth %s/s\n",
           cli_dur(cal.p2p_msg.mean, "us"), cli_size(cal.msg_bytes),
           cli_size(cal.p2p_bandwidth * 1e6));
  }
  if (dbpath)
    return store(dbpath, devname, notes, &cal);
  return 0;
}
