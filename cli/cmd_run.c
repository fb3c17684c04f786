/* cmd_run.c: `pipelab run`: execute one iteration of a schedule for real
 * (CPU threads or CUDA) on the transformer-block workload and print the same
 * result as `simulate`, with measured per-rank peak activation bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/exec.h"
#include "pipelab/models.h"
#include "pipelab/traces.h"
#include "simopts.h"
#include "workloadopts.h"

enum { OPT_BACKEND = 1200, OPT_TIMEOUT, OPT_VERIFY, OPT_WARMUP, OPT_TRANSPORT };

static const char usage[] =
  "usage: pipelab run (--schedule <name> | --schedule-file <f.csv>)\n"
  "                   --stages <p> --microbatches <m> [--chunks <v>]\n"
  "                   [--backend cpu|cuda] [--transport threads|mpi]\n"
  "                   [--layers <n>] [--hidden <h>]\n"
  "                   [--seq <s>] [--mb-size <b>] [--seed <n>] [--attention]\n"
  "                   [--verify]\n"
  "                   [--warmup <n>] [--timeout <s>]\n"
  "                   [--format (table|json|csv)]\n"
  "                   [--trace <file.json>] [--save <result.json>]\n\n"
  "Executes training iterations of the schedule for real (warm-up ones, then\n"
  "the measured one): one thread per\n"
  "rank on the CPU backend, or the CUDA backend (one GPU per rank with NCCL,\n"
  "or ranks sharing one GPU through per-rank streams). Prints the same result\n"
  "as 'pipelab simulate' (times in microseconds) with the measured per-rank\n"
  "peak activation bytes; 'pipelab simulate' with the same workload flags\n"
  "predicts those bytes exactly.\n\n";

static const char run_help[] =
  "execution:\n"
  "  --backend <b>             cpu (default) or cuda\n"
  "  --transport <t>           threads (one process) or mpi (the processes of\n"
  "                            an mpirun / srun job share the ranks; process\n"
  "                            0 prints, the others print nothing); default:\n"
  "                            mpi when launched as several processes and\n"
  "                            built with MPI, else threads\n"
  "  --warmup <n>              iterations run and discarded first, on the same\n"
  "                            buffers (default 1: the measured iteration sees\n"
  "                            a training loop's steady state, as calibrate's\n"
  "                            timings do, not first-touch page faults)\n"
  "  --timeout <s>             watchdog: abort when every rank has been waiting\n"
  "                            this long with no progress anywhere (default\n"
  "                            60; a rank waiting for a long op is not stuck)\n"
  "  --verify                  also run the sequential reference and report\n"
  "                            gradient_check (fails with exit 1 when the loss\n"
  "                            or a gradient differs by more than 1e-9 relative)\n"
  "output:\n"
  "  --format <f>              table (default), json or csv\n"
  "  --trace <file.json>       Chrome trace of the measured run\n"
  "  --save <result.json>      result file with per-op rows and memory timeline\n"
  "\n"
  "exit codes: 0 ok, 1 failed (or gradient check failed), 2 usage,\n"
  "5 no GPU for --backend cuda, 6 CUDA/NCCL error, 7 invalid schedule,\n"
  "130 interrupted (Ctrl-C: nothing is written); a watchdog abort exits 1\n"
  "and names every blocked op. More ranks than cores (cpu backend) makes\n"
  "the timings untrusted: a warning, and \"untrusted\" in the JSON\n\n"
  "examples:\n"
  "  pipelab run --schedule zb-h1 --stages 2 --microbatches 8 --layers 4 "
  "--verify\n"
  "  pipelab run --schedule 1f1b --stages 2 --microbatches 4 --format json "
  "--save real.json\n"
  "  pipelab run --schedule-file examples/zb-h1-4x8.csv --hidden 64 --seq 32 "
  "--trace run.json\n";

static void print_table(const pl_sched *s, const pl_result *r,
                        const pl_workload *w, const pl_grad_check *gc,
                        double loss)
{
  printf("run %s on %s  (p=%d ranks, m=%d microbatches, v=%d chunks, %s "
         "placement)\n",
         r->schedule, r->source, r->stages, r->microbatches, r->chunks,
         pl_placement_name(pl_sched_placement(s)));
  printf("workload       %d layers, hidden %d, seq %d, mb-size %d, %s, "
         "fp64\n",
         w->layers, w->hidden, w->seq, w->mb_size,
         w->attention ? "causal attention + MLP" : "MLP only");
  printf("makespan       %s   (first start to last end)\n",
         cli_dur(r->makespan, r->time_unit));
  printf("max rank span  %s\n", cli_dur(r->max_rank_span, r->time_unit));
  printf("ideal          %s   (busy time per rank)\n",
         cli_dur(r->ideal, r->time_unit));
  printf("bubble ratio   %.2f%% of makespan, %.2f%% of span\n",
         100.0 * r->bubble_ratio, 100.0 * r->bubble_ratio_span);
  printf("peak activation %s (max over ranks)\n", cli_size(r->peak_mem));
  if (gc)
    printf("gradient check %s  (loss %.17g, max abs error %.3g, max rel "
           "error %.3g, tolerance %g)\n",
           gc->passed ? "passed" : "FAILED", loss, gc->max_abs_error,
           gc->max_rel_error, PL_GRAD_TOL);
  printf("\n%4s %12s %12s %12s %8s %14s\n", "rank", "busy", "first start",
         "last end", "bubble", "peak act.");
  for (int i = 0; i < r->stages; i++) {
    const pl_rank_result *rr = &r->ranks[i];
    printf("%4d %12s %12s %12s %7.2f%% %14s\n", rr->rank,
           cli_dur(rr->busy, r->time_unit), cli_dur(rr->first_start, r->time_unit),
           cli_dur(rr->last_end, r->time_unit), 100.0 * rr->bubble_ratio,
           cli_size(rr->peak_activation_bytes));
  }
}

/* PIPELAB_FAIL_RANK=<rank>[:<op position>[:hang]]: fault injection for
 * the failure-propagation and watchdog tests (that rank fails with PL_EIO
 * at that op, or waits there for a message nobody sends). */
static int fail_env(pl_exec_opts *xo)
{
  const char *v = getenv("PIPELAB_FAIL_RANK");
  if (!v || !*v)
    return 0;
  int rank = -1, pos = 0, n = 0;
  if (sscanf(v, "%d:%d%n", &rank, &pos, &n) != 2 &&
      sscanf(v, "%d%n", &rank, &n) != 1)
    n = -1;
  if (n >= 0 && !strcmp(v + n, ":hang"))
    xo->fail_hang = 1;
  else if (n >= 0 && v[n])
    n = -1;
  if (n < 0 || rank < 0 || pos < 0)
    return cli_usage("run", "PIPELAB_FAIL_RANK must be <rank>[:<op "
                     "position>[:hang]], got '%s'", v);
  xo->fail_rank = rank;
  xo->fail_op = pos;
  return 0;
}

static int run_main(int argc, char **argv, int quiet);

/* Under a launcher with the MPI transport, every process parses the same
 * command line and only process 0 speaks: the others send stdout and
 * stderr to /dev/null before anything can be printed (usage errors are the
 * same on every process, and a run's failure reaches process 0, which
 * prints it once). Every process exits with the same code. */
int cmd_run(int argc, char **argv)
{
  pl_launch la;
  pl_launch_detect(&la);
  int want = PL_TRANSPORT_AUTO;
  for (int i = 1; i < argc; i++) { /* before getopt: quiet from the start */
    const char *a = argv[i];
    if (!strcmp(a, "--"))
      break;
    if (!strcmp(a, "--transport") && i + 1 < argc)
      want = pl_transport_parse(argv[i + 1]);
    else if (!strncmp(a, "--transport=", 12))
      want = pl_transport_parse(a + 12);
  }
  int quiet = 0;
  if (la.size > 1 && la.rank != 0 &&
      pl_transport_resolve(want < 0 ? PL_TRANSPORT_AUTO : want, &la) ==
          PL_TRANSPORT_MPI) {
    quiet = 1;
    if (!freopen("/dev/null", "w", stdout) ||
        !freopen("/dev/null", "w", stderr))
      return CLI_EXIT_FAIL;
  }
  int rc = run_main(argc, argv, quiet);
  pl_exec_shutdown();
  return rc;
}

static int run_main(int argc, char **argv, int quiet)
{
  static const struct option longopts[] = {
    SIMOPTS_LONG,
    WORKLOADOPTS_LONG,
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"save", required_argument, NULL, OPT_SAVE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "run";
  struct sim_opts o;
  struct workload_opts wo;
  enum cli_format fmt = CLI_FMT_TABLE;
  const char *trace = NULL, *save = NULL;
  pl_exec_opts xo = PL_EXEC_OPTS_INIT;
  xo.warmup = 1;
  xo.stop = cli_stop_flag();
  int verify = 0, opt, rc;
  simopts_init(&o);
  /* Real times in us: the simulated runtime (--p2p, --op-gap), speeds,
   * units and the optimizer rule do not apply; the costs only steer the
   * generators that search with them. */
  simopts_accept(&o, SIMOPTS_SCHED | SIMOPTS_SHAPE | SIMOPT(OPT_MEM_LIMIT),
                 SIMOPTS_COSTS,
                 "it measures real times (us) with its own transfers");
  workloadopts_init(&wo, cmd);
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      fputs(usage, stdout);
      simopts_print_help(&o);
      printf("%s%s", workloadopts_help, run_help);
      return 0;
    case '?':
    case ':':
      return cli_bad_option(cmd, argv);
    case OPT_FORMAT:
      if ((rc = cli_format(cmd, optarg, 7, &fmt)))
        return rc;
      continue;
    case OPT_TRACE: trace = optarg; continue;
    case OPT_SAVE: save = optarg; continue;
    case OPT_VERIFY: verify = 1; continue;
    case OPT_BACKEND:
      xo.backend = pl_backend_parse(optarg);
      if (xo.backend < 0)
        return cli_usage(cmd, "--backend must be cpu or cuda, got '%s'",
                         optarg);
      continue;
    case OPT_TRANSPORT:
      xo.transport = pl_transport_parse(optarg);
      if (xo.transport < 0 || xo.transport == PL_TRANSPORT_AUTO)
        return cli_usage(cmd, "--transport must be threads or mpi, got '%s'",
                         optarg);
      continue;
    case OPT_WARMUP:
      if ((rc = cli_int(cmd, "--warmup", optarg, 0, 1000, &xo.warmup)))
        return rc;
      continue;
    case OPT_TIMEOUT:
      if ((rc = cli_double(cmd, "--timeout", optarg, 1e-3, 1e6,
                           &xo.timeout_s)))
        return rc;
      continue;
    default:
      break;
    }
    rc = workloadopts_handle(&wo, opt, optarg);
    if (rc >= 0) {
      if (rc)
        return rc;
      continue;
    }
    rc = simopts_handle(&o, cmd, opt, optarg);
    if (rc)
      return rc < 0 ? cli_bad_option(cmd, argv) : rc;
  }
  if ((rc = cli_no_positionals(cmd, argc, argv)) ||
      (rc = simopts_check(&o, cmd, 1)) || (rc = fail_env(&xo)))
    return rc;
  pl_launch la;
  pl_launch_detect(&la);
  const char *twhy;
  int tk = pl_transport_resolve(xo.transport, &la);
  if (!pl_transport_built(tk, &twhy))
    return cli_fail(PL_ENOTSUP, "--transport %s: %s",
                    pl_transport_name(tk), twhy);
  if (la.size > 1 && tk == PL_TRANSPORT_THREADS &&
      xo.transport == PL_TRANSPORT_AUTO && xo.backend == PL_BACKEND_CPU &&
      !pl_transport_built(PL_TRANSPORT_MPI, &twhy))
    return cli_fail(PL_ENOTSUP, "launched as %d processes (%s), but the "
                    "MPI transport is not available (%s): every process "
                    "would run the whole pipeline alone; install the MPI "
                    "plugin, or pass --transport threads to do exactly that",
                    la.size, la.from, twhy);
  if (xo.backend == PL_BACKEND_CUDA) {
    const char *why;
    /* Before the device check: the answer must not depend on the machine. */
    if (wo.attention)
      return cli_fail(PL_EINVAL, "--backend cuda: attention is not "
                                 "implemented on the CUDA backend yet");
    /* Loads the CUDA plugin: its absence is the loader's line, as is. */
    if (pl_cuda_devices(&why) == 0)
      return cli_fail(PL_ENODEV, "--backend cuda: %s%s",
                      pl_backend_cuda_vt() ? "no GPU: " : "", why);
  }

  pl_sched *s;
  pl_costs *c;
  if ((rc = simopts_build(&o, cmd, NULL, &s, &c)))
    return rc;
  pl_workload w;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result res = PL_RESULT_INIT;
  pl_exec_grads g = PL_EXEC_GRADS_INIT, ref = PL_EXEC_GRADS_INIT;
  pl_grad_check gc;
  json_t *j = NULL;
  if ((rc = workloadopts_get(&wo, pl_sched_stages(s), pl_sched_microbatches(s),
                             &w)))
    goto out;
  {
    /* The trace's cost table, from the library's cost provider: the
     * constants in microseconds with the workload's activation bytes. */
    pl_cost_request rq = o.rq.costs; /* the constants of the options */
    pl_costs *wc = NULL;
    rq.time_unit = "us";
    rq.workload = &w;
    rq.rank_speed = c->rank_speed;
    if ((rc = pl_cost_provide(&rq, s, &wc, NULL, &eb))) {
      rc = rc == PL_EINVAL ? cli_usage(cmd, "%s", eb.msg)
                           : cli_fail_eb(&eb, rc);
      goto out;
    }
    pl_costs_destroy(c);
    c = wc;
  }
  if (trace || save)
    xo.flags = PL_EXEC_RECORD_OPS | PL_EXEC_RECORD_MEM;
  rc = pl_exec_run(s, &w, &xo, &res, verify ? &g : NULL, &eb);
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
    goto out;
  }
  if (quiet) /* process 0 verifies, writes and prints */
    goto out;
  if (verify) {
    if ((rc = pl_exec_reference(&w, &ref, xo.stop, &eb)) ||
        (rc = pl_exec_grads_compare(&g, &ref, PL_GRAD_TOL, &gc, &eb))) {
      rc = cli_fail_eb(&eb, rc);
      goto out;
    }
  }
  if (cli_interrupted()) { /* after the last op: still write nothing */
    rc = cli_fail_interrupted();
    goto out;
  }
  cli_warn_untrusted(res.n_untrusted, res.untrusted);
  if (trace && (rc = pl_trace_write_chrome(&res, s, c, 1.0, trace, &eb))) {
    rc = cli_fail_eb(&eb, rc);
    goto out;
  }
  j = pl_result_to_json(&res);
  json_object_set_new(j, "placement",
                      json_string(pl_placement_name(pl_sched_placement(s))));
  json_object_set_new(j, "backend", json_string(res.source));
  json_object_set_new(j, "transport", json_string(pl_transport_name(tk)));
  json_object_set_new(j, "processes",
                      json_integer(tk == PL_TRANSPORT_MPI ? la.size : 1));
  json_object_set_new(j, "iteration_time", json_real(res.makespan));
  json_object_set_new(j, "warmup_iterations", json_integer(xo.warmup));
  json_t *wj = json_object();
  json_object_set_new(wj, "layers", json_integer(w.layers));
  json_object_set_new(wj, "hidden", json_integer(w.hidden));
  json_object_set_new(wj, "seq", json_integer(w.seq));
  json_object_set_new(wj, "mb_size", json_integer(w.mb_size));
  json_object_set_new(wj, "seed", json_integer((json_int_t)w.seed));
  json_object_set_new(wj, "attention", json_boolean(w.attention));
  json_object_set_new(wj, "dtype", json_string("fp64"));
  json_object_set_new(j, "workload", wj);
  if (verify) {
    json_t *gj = json_object();
    json_object_set_new(gj, "max_abs_error", json_real(gc.max_abs_error));
    json_object_set_new(gj, "max_rel_error", json_real(gc.max_rel_error));
    json_object_set_new(gj, "loss", json_real(g.loss));
    json_object_set_new(gj, "reference_loss", json_real(ref.loss));
    json_object_set_new(gj, "tolerance", json_real(PL_GRAD_TOL));
    json_object_set_new(gj, "passed", json_boolean(gc.passed));
    json_object_set_new(j, "gradient_check", gj);
  }
  if (save) {
    json_t *sj = json_deep_copy(j);
    char *text = NULL;
    if (sj && pl_result_add_detail_json(sj, &res) == 0)
      text = pl_json_dumps(sj, JSON_INDENT(1));
    json_decref(sj);
    if (!text) {
      rc = cli_fail(PL_ENOMEM, "cannot build the result file");
      goto out;
    }
    rc = cli_write_out(save, text, strlen(text));
    pl_free(text);
    if (rc)
      goto out;
  }
  if (fmt == CLI_FMT_TABLE) {
    print_table(s, &res, &w, verify ? &gc : NULL, g.loss);
  } else if (fmt == CLI_FMT_JSON) {
    pl_json_dumpf(j, stdout, JSON_INDENT(2));
    putchar('\n');
  } else {
    struct pl_buf b;
    pl_buf_init(&b, 0);
    pl_result_to_csv(&res, &b);
    fwrite(b.buf, 1, b.len, stdout);
    pl_buf_free(&b);
  }
  if (verify && !gc.passed)
    rc = cli_fail(PL_ECHECK, "gradient check failed: max relative error %g "
                  "exceeds %g", gc.max_rel_error, PL_GRAD_TOL);
out:
  json_decref(j);
  pl_exec_grads_free(&g);
  pl_exec_grads_free(&ref);
  pl_result_free(&res);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
  return rc;
}
