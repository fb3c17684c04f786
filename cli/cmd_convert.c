/* cmd_convert.c: `pipelab convert`: write a schedule (generated or read
 * from a PyTorch CSV) as PyTorch schedule CSV, compute_only or lowered to
 * compute_comms, and run PyTorch's unit-time dry run (docs/schedule-csv.md). */
#include <string.h>

#include "simopts.h"

enum { OPT_TO = OPT_SIMOPTS_END + 1, OPT_UNIT_TIME };

static const char usage[] =
  "usage: pipelab convert (--schedule <name> --stages <p> --microbatches <m>\n"
  "                        [--chunks <v>] | --schedule-file <f.csv>\n"
  "                        [--dialect (auto|current|legacy)])\n"
  "                       [--to (compute|comms)] [-o <file>]\n"
  "                       [--unit-time [--format (table|json|csv)]]\n\n"
  "Writes the schedule as a PyTorch torch.distributed.pipelining schedule CSV\n"
  "(no header, row = rank, cell = action; current dialect: F forward, I input\n"
  "backward, W weight backward, B full backward, (aF m;bB n)OVERLAP_F_B).\n\n"
  "  --to compute              compute_only CSV (default): F/I/W/B and\n"
  "                            OVERLAP_F_B, no idle cells\n"
  "  --to comms                compute_comms CSV: lowered like PyTorch's\n"
  "                            runtime (_merge_bw, then _add_send_recv inserts\n"
  "                            SEND_F/RECV_F/SEND_B/RECV_B); a file that already\n"
  "                            has comm actions is written as it is\n"
  "  -o, --output <file>       write the CSV there (default: stdout)\n"
  "  --unit-time               run PyTorch's unit-time dry run\n"
  "                            (_simulate_comms_compute) on the compute_comms\n"
  "                            form and print its step count and, per rank,\n"
  "                            actions, slots and idle slots; the CSV is then\n"
  "                            written only with -o\n"
  "  --format <f>              table (default), json or csv (--unit-time)\n\n"
  "Reading a CSV prints the detected dialect and what was dropped on stderr.\n"
  "Exit codes: 0 ok, 2 usage, 3 unreadable or malformed CSV (names file, line\n"
  "and cell), 7 invalid schedule or a dry run that does not progress.\n\n";

static void print_report(enum cli_format fmt, int steps,
                         const pl_pt_sched *sim)
{
  int p = pl_pt_ranks(sim);
  if (fmt == CLI_FMT_JSON) {
    printf("{\"steps\": %d, \"ranks\": [", steps);
    for (int r = 0; r < p; r++) {
      size_t n, idle = pl_pt_row_idle(sim, r);
      pl_pt_row(sim, r, &n);
      printf("%s{\"rank\": %d, \"actions\": %zu, \"slots\": %zu, "
             "\"idle\": %zu}", r ? ", " : "", r, n - idle, n, idle);
    }
    printf("]}\n");
  } else if (fmt == CLI_FMT_CSV) {
    printf("rank,actions,slots,idle,steps\n");
    for (int r = 0; r < p; r++) {
      size_t n, idle = pl_pt_row_idle(sim, r);
      pl_pt_row(sim, r, &n);
      printf("%d,%zu,%zu,%zu,%d\n", r, n - idle, n, idle, steps);
    }
  } else {
    printf("unit-time dry run (PyTorch _simulate_comms_compute): %d steps\n",
           steps);
    printf("%4s %8s %8s %8s\n", "rank", "actions", "slots", "idle");
    for (int r = 0; r < p; r++) {
      size_t n, idle = pl_pt_row_idle(sim, r);
      pl_pt_row(sim, r, &n);
      printf("%4d %8zu %8zu %8zu\n", r, n - idle, n, idle);
    }
  }
}

int cmd_convert(int argc, char **argv)
{
  static const struct option longopts[] = {
    SIMOPTS_LONG,
    {"to", required_argument, NULL, OPT_TO},
    {"output", required_argument, NULL, 'o'},
    {"unit-time", no_argument, NULL, OPT_UNIT_TIME},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "convert";
  struct sim_opts o;
  enum cli_format fmt = CLI_FMT_TABLE;
  const char *output = NULL;
  int to_comms = 0, unit_time = 0, have_fmt = 0, opt, rc;
  simopts_init(&o);
  simopts_accept(&o, SIMOPTS_SCHED | SIMOPTS_SHAPE | SIMOPT(OPT_MEM_LIMIT),
                 SIMOPTS_COSTS, "it writes the order of the ops, not times");
  while ((opt = getopt_long(argc, argv, "+ho:", longopts, NULL)) != -1) {
    if (opt == 'h') {
      fputs(usage, stdout);
      simopts_print_help(&o);
      printf("\nexamples:\n"
             "  pipelab convert --schedule zb-h1 --stages 4 --microbatches 8 -o zb.csv\n"
             "  pipelab convert --schedule-file examples/zb-h1-4x8.csv --to comms\n"
             "  pipelab convert --schedule-file examples/zb-h1-4x8.csv --unit-time\n");
      return 0;
    }
    if (opt == '?' || opt == ':')
      return cli_bad_option(cmd, argv);
    switch (opt) {
    case OPT_TO:
      if (!strcmp(optarg, "compute"))
        to_comms = 0;
      else if (!strcmp(optarg, "comms"))
        to_comms = 1;
      else
        return cli_usage(cmd, "--to must be compute or comms, got '%s'",
                         optarg);
      continue;
    case 'o':
      if (!optarg[0])
        return cli_usage(cmd, "-o needs a file name ('-' for stdout)");
      output = optarg;
      continue;
    case OPT_UNIT_TIME:
      unit_time = 1;
      continue;
    case OPT_FORMAT:
      if ((rc = cli_format(cmd, optarg, 7, &fmt)))
        return rc;
      have_fmt = 1;
      continue;
    default:
      break;
    }
    rc = simopts_handle(&o, cmd, opt, optarg);
    if (rc)
      return rc < 0 ? cli_bad_option(cmd, argv) : rc;
  }
  if ((rc = cli_no_positionals(cmd, argc, argv)) ||
      (rc = simopts_check(&o, cmd, 1)))
    return rc;
  if (have_fmt && !unit_time)
    return cli_usage(cmd, "--format applies to the --unit-time report; the "
                          "CSV itself has one format");

  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *file = NULL, *src = NULL, *comms = NULL, *sim = NULL;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_csv_info info;
  struct pl_buf out;
  pl_buf_init(&out, PL_BUF_MAX_DEFAULT);
  memset(&info, 0, sizeof info);
  if (o.schedule_file) {
    /* The action table keeps what the schedule drops (idle cells, comm
     * actions); a malformed file is reported here, once. */
    rc = pl_pt_load_csv(o.schedule_file, o.dialect, &file, &info, &eb);
    if (rc) {
      rc = cli_fail_eb(&eb, rc);
      goto done;
    }
  }
  /* Generates or re-reads the schedule, checks --stages/--microbatches
   * against the file and validates it. */
  if ((rc = simopts_build(&o, cmd, NULL, &s, &c)))
    goto done;
  if (file)
    fprintf(stderr,
            "note: '%s': %s dialect (%s), %d ranks, %d stages, %d "
            "microbatches; %zu idle cells, %zu comm actions, %zu "
            "OVERLAP_F_B\n",
            o.schedule_file, pl_dialect_name(info.dialect),
            o.dialect == PL_DIALECT_AUTO ? "detected" : "forced", info.ranks,
            info.stages, info.microbatches, info.idle_cells, info.comm_cells,
            info.fused_cells);
  if (file) {
    src = file;
  } else if ((rc = pl_pt_from_sched(s, &src, &eb))) {
    rc = cli_fail_eb(&eb, rc);
    goto done;
  }
  if (to_comms || unit_time) {
    if (file && info.comm_cells > 0) {
      comms = file; /* already compute_comms: used as it is */
    } else if ((rc = pl_pt_lower(src, &comms, &eb))) {
      rc = cli_fail_eb(&eb, rc);
      goto done;
    }
  }
  rc = to_comms ? pl_pt_write_csv(comms, &out) : pl_sched_write_csv(s, &out);
  if (rc) {
    rc = cli_fail(rc, "cannot format the schedule as CSV: %s",
                  pl_strerror(rc));
    goto done;
  }
  if (unit_time) {
    int steps = 0;
    if ((rc = pl_pt_unit_time(comms, &sim, &steps, &eb))) {
      rc = cli_fail_eb(&eb, rc);
      goto done;
    }
    if (output && (rc = cli_write_out(output, out.buf, out.len)))
      goto done;
    print_report(fmt, steps, sim);
  } else {
    rc = cli_write_out(output ? output : "-", out.buf, out.len);
  }
done:
  pl_buf_free(&out);
  pl_pt_destroy(sim);
  if (comms != file)
    pl_pt_destroy(comms);
  if (src != file)
    pl_pt_destroy(src);
  pl_pt_destroy(file);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
  return rc;
}
