/* cmd_plot.c: `pipelab plot`: gnuplot figures for reports (docs/plots.md).
 *   plot timeline  the pipeline timeline as in the zero-bubble paper
 *   plot memory    activation memory per rank over time
 *   plot compare   predicted vs real iteration time
 *   plot sweep     throughput by configuration from a sweep file */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelab/plots.h"
#include "pipelab/traces.h"
#include "simopts.h"

static const char usage[] =
  "usage: pipelab plot timeline (<result.json> | --schedule <name> ...) -o <file>\n"
  "       pipelab plot memory (<result.json> | --schedule <name> ...) -o <file>\n"
  "                           [--limit <x>]\n"
  "       pipelab plot compare <pred.json> <real.json> [<pred> <real> ...]\n"
  "                            -o <file> [--style (bars|scatter)]\n"
  "       pipelab plot sweep <sweep.(json|csv)> -o <file>\n\n"
  "Draws a figure with gnuplot (apt-get install gnuplot-nox). The format\n"
  "follows the extension of -o: .png, .svg or .pdf; '-o -' writes the\n"
  "figure to stdout (SVG, or --format png|pdf).\n\n"
  "  timeline   one row per rank (rank 0 at the top), every op a box coloured\n"
  "             by kind (F blue, B teal, W purple, BW green, FB orange) and\n"
  "             labelled with its microbatch, idle time white\n"
  "  memory     activation memory of every rank over time (step lines)\n"
  "  compare    iteration time predicted vs real, one pair of results per\n"
  "             schedule, with the error in percent\n"
  "  sweep      throughput (or iteration time) by configuration, one colour\n"
  "             per schedule; columns are listed in docs/plots.md\n\n"
  "options:\n"
  "  -o, --output <file>       the figure (.png, .svg or .pdf; - = stdout);\n"
  "                            required\n"
  "  --format <f>              with -o -: svg (default), png or pdf\n"
  "  --size <w>x<h>            size in pixels (default: from the data)\n"
  "  --title <text>            replaces the automatic title\n"
  "  --no-labels               timeline: no microbatch numbers in the boxes\n"
  "  --limit <x>               memory, sweep: a limit line at x, a plain\n"
  "                            number in the memory unit (GiB for a sweep)\n"
  "                            or a size such as 80GiB, 512MiB\n"
  "  --style <s>               compare: bars (default) or scatter\n"
  "A result is a result file ('pipelab simulate --save', 'pipelab run\n"
  "--save'), a Chrome trace written with --trace, or a PyTorch profiler trace.\n"
  "Instead of one,\n"
  "timeline and memory accept the schedule options of 'pipelab simulate':\n\n";

enum { OPT_SIZE = OPT_SIMOPTS_END + 1, OPT_TITLE, OPT_NO_LABELS, OPT_LIMIT,
       OPT_STYLE };

/* '-o -': the figure is drawn into a file of a private temporary directory
 * (gnuplot and the renderer need a file), which cmd_plot then copies to
 * stdout and removes. */
static struct {
  char dir[4096];
  char file[4160];
} to_stdout;

static int stdout_figure(const char *cmd, const char *ext)
{
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !tmp[0] || strlen(tmp) > 3000)
    tmp = "/tmp";
  snprintf(to_stdout.dir, sizeof to_stdout.dir, "%s/pipelab-out-XXXXXX", tmp);
  if (!mkdtemp(to_stdout.dir)) {
    int e = errno;
    to_stdout.dir[0] = 0;
    return cli_fail(PL_EIO, "pipelab %s: cannot create a temporary directory "
                            "in '%s' for -o -: %s", cmd, tmp, strerror(e));
  }
  snprintf(to_stdout.file, sizeof to_stdout.file, "%s/figure.%s",
           to_stdout.dir, ext);
  return 0;
}

/* Result files (--save), Chrome traces (--trace) and PyTorch profiler
 * traces: whatever pl_result_load reads. */
static int load_result(const char *path, pl_result *r)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_result_load(path, r, &eb);
  if (rc)
    return eb.msg[0] ? cli_fail_eb(&eb, rc)
                     : cli_fail(rc, "cannot read '%s': %s", path,
                                pl_strerror(rc));
  return 0;
}

/* The usage, the schedule options plot timeline and memory take, and
 * examples. */
static int print_help(void)
{
  struct sim_opts so;
  simopts_init(&so);
  simopts_accept(&so, SIMOPTS_ALL & ~SIMOPTS_OPTIMIZER, 0, NULL);
  fputs(usage, stdout);
  simopts_print_help(&so);
  printf("\nexamples:\n"
         "  pipelab plot timeline --schedule zb-h1 --stages 4 --microbatches 8 "
         "-o zb-h1.png\n"
         "  pipelab plot memory examples/run-zb-h1-cpu.json -o mem.svg\n"
         "  pipelab plot compare examples/sim-zb-h1-cpu.json "
         "examples/run-zb-h1-cpu.json -o cmp.png\n");
  return 0;
}

static int parse_size(const char *cmd, const char *s, pl_plot_opts *po)
{
  char *end;
  errno = 0;
  long w = strtol(s, &end, 10);
  if (errno || end == s || (*end != 'x' && *end != 'X'))
    goto bad;
  const char *h0 = end + 1;
  long h = strtol(h0, &end, 10);
  if (errno || end == h0 || *end || w < 100 || h < 100 || w > 20000 ||
      h > 20000)
    goto bad;
  po->width = (int)w;
  po->height = (int)h;
  return 0;
bad:
  return cli_usage(cmd, "--size must be <width>x<height> in pixels, each "
                        "from 100 to 20000, got '%s'", s);
}

static int plot_main(int argc, char **argv);

int cmd_plot(int argc, char **argv)
{
  to_stdout.dir[0] = 0;
  int rc = plot_main(argc, argv);
  if (!to_stdout.dir[0])
    return rc;
  /* Read back and removed before stdout is written: a reader that goes
   * away (SIGPIPE) must not leave the directory behind. */
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char *fig = NULL;
  size_t len = 0;
  if (rc == 0 && (rc = pl_read_file(to_stdout.file, &fig, &len, &eb)))
    rc = cli_fail_eb(&eb, rc);
  remove(to_stdout.file);
  rmdir(to_stdout.dir);
  if (rc == 0)
    rc = cli_write_out("-", fig, len);
  pl_free(fig);
  return rc;
}

static int plot_main(int argc, char **argv)
{
  static const struct option longopts[] = {
    SIMOPTS_LONG,
    {"output", required_argument, NULL, 'o'},
    {"size", required_argument, NULL, OPT_SIZE},
    {"title", required_argument, NULL, OPT_TITLE},
    {"no-labels", no_argument, NULL, OPT_NO_LABELS},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"style", required_argument, NULL, OPT_STYLE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "plot";
  if (argc < 2)
    return cli_usage(cmd, "missing the figure: timeline, memory, compare or "
                          "sweep");
  const char *kind = argv[1];
  if (!strcmp(kind, "--help") || !strcmp(kind, "-h") ||
      !strcmp(kind, "help")) {
    return print_help();
  }
  int k_tl = !strcmp(kind, "timeline"), k_mem = !strcmp(kind, "memory");
  int k_cmp = !strcmp(kind, "compare"), k_sw = !strcmp(kind, "sweep");
  if (!k_tl && !k_mem && !k_cmp && !k_sw)
    return cli_usage(cmd, "unknown figure '%s': use timeline, memory, "
                          "compare or sweep",
                     kind);

  struct sim_opts so;
  pl_plot_opts po = PL_PLOT_OPTS_INIT;
  const char *out = NULL, *fig_format = NULL;
  int opt, rc, sim_given = 0, have_limit = 0, have_style = 0;
  int limit_bytes = 0; /* --limit was given as a size ("80GiB") */
  const char *limit_arg = NULL;
  int sub_argc = argc - 1;
  char **sub_argv = argv + 1;
  simopts_init(&so);
  /* A timeline or memory figure has no iteration time to add a step to. */
  simopts_accept(&so, SIMOPTS_ALL & ~SIMOPTS_OPTIMIZER, 0,
                 "a figure draws the ops, not the optimizer step");
  optind = 0;
  while ((opt = getopt_long(sub_argc, sub_argv, "ho:", longopts, NULL)) !=
         -1) {
    switch (opt) {
    case 'h':
      return print_help();
    case '?':
    case ':': return cli_bad_option(cmd, sub_argv);
    case 'o': out = optarg; continue;
    case OPT_SIZE:
      if ((rc = parse_size(cmd, optarg, &po)))
        return rc;
      continue;
    case OPT_TITLE: po.title = optarg; continue;
    case OPT_FORMAT:
      if (strcmp(optarg, "svg") && strcmp(optarg, "png") &&
          strcmp(optarg, "pdf"))
        return cli_usage(cmd, "--format must be svg, png or pdf, got '%s'",
                         optarg);
      fig_format = optarg;
      continue;
    case OPT_NO_LABELS: po.labels = 0; continue;
    case OPT_LIMIT:
      have_limit = 1;
      /* A plain number is in the figure's unit (the result's memory unit,
       * GiB for a sweep); a size ("80GiB") is bytes. */
      if ((rc = cli_mem_limit(cmd, optarg, &po.mem_limit, &limit_bytes)))
        return rc;
      limit_arg = optarg;
      continue;
    case OPT_STYLE:
      have_style = 1;
      if (!strcmp(optarg, "bars"))
        po.style = PL_PLOT_BARS;
      else if (!strcmp(optarg, "scatter"))
        po.style = PL_PLOT_SCATTER;
      else
        return cli_usage(cmd, "--style must be bars or scatter, got '%s'",
                         optarg);
      continue;
    default:
      rc = simopts_handle(&so, cmd, opt, optarg);
      if (rc)
        return rc < 0 ? cli_bad_option(cmd, sub_argv) : rc;
      sim_given = 1;
    }
  }
  int npos = sub_argc - optind;
  char **pos = sub_argv + optind;
  if (!out)
    return cli_usage(cmd, "missing -o <file.png|.svg|.pdf> (or -o - for "
                          "stdout)");
  int out_stdout = !strcmp(out, "-");
  if (fig_format && !out_stdout)
    return cli_usage(cmd, "--format applies to -o - only (the extension of "
                          "'%s' picks its format)", out);
  if (!out_stdout) {
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    int fmt;
    if (pl_plot_format_from_path(out, &fmt, &eb))
      return cli_usage(cmd, "%s", eb.msg);
  }
  if (have_limit && !k_mem && !k_sw)
    return cli_usage(cmd, "--limit applies to 'plot memory' and 'plot sweep' "
                          "only");
  if (have_style && !k_cmp)
    return cli_usage(cmd, "--style applies to 'plot compare' only");
  if (!po.labels && !k_tl)
    return cli_usage(cmd, "--no-labels applies to 'plot timeline' only");
  if (sim_given && !(k_tl || k_mem))
    return cli_usage(cmd, "schedule options apply to 'plot timeline' and "
                          "'plot memory' only");

  /* Everything is checked: from here on a figure is written. */
  if (out_stdout) {
    if ((rc = stdout_figure(cmd, fig_format ? fig_format : "svg")))
      return rc;
    out = to_stdout.file;
  }
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (k_tl || k_mem) {
    pl_result res = PL_RESULT_INIT;
    if (sim_given) {
      if (npos)
        return cli_usage(cmd, "give a result file or schedule options, not "
                              "both");
      if ((rc = simopts_check(&so, cmd, 1)))
        return rc;
      pl_sched *s;
      pl_costs *c;
      if ((rc = simopts_build(&so, cmd, NULL, &s, &c)))
        return rc;
      rc = pl_sim_run(s, c, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM, &res, &eb);
      if (rc)
        rc = cli_fail_eb(&eb, rc);
      else
        rc = simopts_check_times(&so, cmd, c, &res, 0);
      pl_sched_destroy(s);
      pl_costs_destroy(c);
      if (rc) {
        pl_result_free(&res);
        return rc;
      }
    } else {
      if (npos != 1)
        return cli_usage(cmd, npos ? "give one result file" :
                              "missing <result.json> (or --schedule <name> "
                              "--stages <p> --microbatches <m>)");
      if ((rc = load_result(pos[0], &res)))
        return rc;
    }
    if (k_mem && limit_bytes && strcmp(res.mem_unit, "bytes") != 0) {
      rc = cli_usage(cmd, "--limit %s is a size, but this result counts "
                          "memory in %s; give a plain number in %s",
                     limit_arg, res.mem_unit, res.mem_unit);
      pl_result_free(&res);
      return rc;
    }
    rc = k_tl ? pl_plot_timeline(&res, &po, out, &eb)
              : pl_plot_memory(&res, &po, out, &eb);
    pl_result_free(&res);
    return rc ? cli_fail_eb(&eb, rc) : 0;
  }

  if (k_cmp) {
    if (npos < 2 || npos % 2)
      return cli_usage(cmd, "plot compare needs pairs of result files: "
                            "<pred.json> <real.json> [...], got %d file%s",
                       npos, npos == 1 ? "" : "s");
    pl_result *rs = pl_calloc((size_t)npos, sizeof *rs);
    const pl_result **pred = pl_calloc((size_t)npos / 2, sizeof *pred);
    const pl_result **real = pl_calloc((size_t)npos / 2, sizeof *real);
    int loaded = 0;
    rc = 0;
    if (!rs || !pred || !real)
      rc = cli_fail(PL_ENOMEM, "out of memory");
    for (int i = 0; i < npos && !rc; i++) {
      pl_result init = PL_RESULT_INIT;
      rs[i] = init;
      rc = load_result(pos[i], &rs[i]);
      loaded = i + 1;
      if (i % 2 == 0)
        pred[i / 2] = &rs[i];
      else
        real[i / 2] = &rs[i];
    }
    if (!rc) {
      rc = pl_plot_compare(pred, real, (size_t)npos / 2, &po, out, &eb);
      if (rc)
        rc = cli_fail_eb(&eb, rc);
    }
    for (int i = 0; rs && i < loaded; i++)
      pl_result_free(&rs[i]);
    pl_free(rs);
    pl_free(pred);
    pl_free(real);
    return rc;
  }

  /* sweep */
  if (npos != 1)
    return cli_usage(cmd, "plot sweep needs one sweep file (.json or .csv)");
  pl_sweep_row *rows;
  size_t n;
  if ((rc = pl_plot_sweep_load(pos[0], &rows, &n, &eb)))
    return cli_fail_eb(&eb, rc);
  /* A model sweep (tokens/s and GiB per GPU) draws throughput against
   * memory with its Pareto front; a constant-cost sweep by configuration. */
  int pareto = 0;
  for (size_t i = 0; i < n; i++)
    pareto |= rows[i].tokens_per_second > 0 && rows[i].peak_gib > 0;
  if (limit_bytes)
    po.mem_limit /= 1073741824.0; /* the sweep figure's axis is in GiB */
  rc = pareto ? pl_plot_sweep_pareto(rows, n, &po, out, &eb)
              : pl_plot_sweep(rows, n, &po, out, &eb);
  pl_plot_sweep_free(rows);
  return rc ? cli_fail_eb(&eb, rc) : 0;
}
