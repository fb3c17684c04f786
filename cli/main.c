/* main.c: `pipelab` entry point: global options and the subcommand table
 * (git's builtin table: adding a command is one row plus one file). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pipelab/exec.h"
#include "pl_config.h"

struct cmd {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
  /* 1: its long loops poll the SIGINT flag (cli_catch_sigint); the others
   * keep the default action, so Ctrl-C ends them at once. */
  int polls_sigint;
};

static const struct cmd cmds[] = {
  {"simulate", cmd_simulate, "predict one iteration of a schedule", 0},
  {"whatif", cmd_whatif, "compare every schedule for one case (the main job)", 0},
  {"schedules", cmd_schedules, "list the built-in schedules", 0},
  {"validate", cmd_validate, "check a schedule for errors and deadlocks", 0},
  {"convert", cmd_convert, "write a schedule as PyTorch CSV, lower it, dry-run it", 0},
  {"run", cmd_run, "execute a schedule for real (cpu or cuda backend)", 1},
  {"calibrate", cmd_calibrate, "measure op costs and store them in the database", 1},
  {"db", cmd_db, "inspect and edit the cost database", 0},
  {"compare", cmd_compare, "compare a predicted with a real result", 0},
  {"history", cmd_history, "list recorded runs and flag drift", 0},
  {"plot", cmd_plot, "draw timelines, memory, sweeps and comparisons (gnuplot)", 0},
  {"import", cmd_import, "import a PyTorch profiler (Kineto) trace as a result", 0},
  {"sweep", cmd_sweep, "search schedules and shapes under a memory limit", 1},
  {NULL, NULL, NULL, 0}};

static void usage(FILE *f)
{
  fprintf(f, "usage: pipelab [--version] [--help] [--color=(auto|always|never)]"
             " <command> [<args>]\n\n"
             "Predict, run and compare pipeline-parallel training schedules.\n\n"
             "commands:\n");
  for (const struct cmd *c = cmds; c->name; c++)
    fprintf(f, "   %-10s %s\n", c->name, c->summary);
  fprintf(f, "\n'pipelab <command> --help' or 'pipelab help <command>' shows a "
             "command's options.\n"
             "Exit codes: 0 ok, 1 failure, 2 usage, 3 data/database, 4 "
             "database locked,\n5 no GPU, 6 CUDA/NCCL, 7 invalid schedule, "
             "8 out of memory (--fail-on-oom),\n130 interrupted.\n\n"
             "examples:\n"
             "  pipelab whatif                  # every schedule, the preset zb-1.5b\n"
             "  pipelab simulate --schedule zb-h1 --stages 4 --microbatches 8\n"
             "  pipelab validate --schedule-file examples/zb-h1-4x8.csv\n");
}

/* The version, the backends this process can run (cpu, and cuda when its
 * plugin loads) and every plugin found: name, kind, what it was built
 * against and its file, or why it does not load. */
static void version(void)
{
  pl_plugin_info *pi = NULL;
  size_t n = 0;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_plugins_find(&pi, &n, &eb))
    n = 0;
  int cuda = 0;
  for (size_t i = 0; i < n; i++)
    cuda |= pi[i].loaded && !strcmp(pi[i].name, "cuda");
  printf("pipelab %s (%s)\nbackends: cpu%s\n", pl_version(), pl_git_rev(),
         cuda ? ",cuda" : "");
  if (!n) {
    char dirs[2048];
    if (pl_plugin_dirs(dirs, sizeof dirs))
      printf("plugins: none (searched %s)\n", dirs);
    else
      printf("plugins: none (no plugin directory; PIPELAB_PLUGIN_DIR "
             "names one)\n");
  } else {
    printf("plugins:\n");
  }
  for (size_t i = 0; i < n; i++) {
    if (pi[i].loaded)
      printf("  %-5s %-9s %s (%s)\n", pi[i].name, pi[i].kind, pi[i].path,
             pi[i].detail);
    else
      printf("  %-5s not loadable: %s\n", pi[i].name, pi[i].detail);
  }
  pl_free(pi);
}

static const struct cmd *find(const char *name)
{
  for (const struct cmd *c = cmds; c->name; c++)
    if (strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

/* Data that could not be written is an error: output to a full disk or a
 * closed descriptor must not exit 0 with the output lost. Flushes and closes
 * stdout; when that fails and nothing else did, says so in one line and
 * returns the data error code. A reader that went away (EPIPE) chose to stop
 * reading and is not reported. */
static int finish_stdout(int rc)
{
  errno = 0;
  int bad = fflush(stdout) != 0 || ferror(stdout);
  int e = errno;
  if (fclose(stdout) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  if (!bad || e == EPIPE)
    return rc;
  if (rc == CLI_EXIT_OK) {
    fprintf(stderr, "error: cannot write to standard output: %s\n",
            strerror(e ? e : EIO));
    rc = CLI_EXIT_DATA;
  }
  return rc;
}

static int run(int argc, char **argv)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
      version();
      return 0;
    } else if (!strncmp(a, "--color=", 8)) {
      const char *m = a + 8;
      if (!strcmp(m, "auto"))
        term_set_color_mode(0);
      else if (!strcmp(m, "always"))
        term_set_color_mode(1);
      else if (!strcmp(m, "never"))
        term_set_color_mode(2);
      else {
        fprintf(stderr, "pipelab: --color must be auto, always or never, got "
                        "'%s'\n", m);
        return CLI_EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "pipelab: unknown option '%s' (see 'pipelab --help')\n",
              a);
      return CLI_EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *name = argv[i];
  if (!strcmp(name, "help")) {
    if (i + 1 >= argc) {
      usage(stdout);
      return 0;
    }
    const struct cmd *c = find(argv[i + 1]);
    if (!c) {
      fprintf(stderr, "pipelab: '%s' is not a pipelab command (see 'pipelab "
                      "--help')\n", argv[i + 1]);
      return CLI_EXIT_USAGE;
    }
    char *hv[] = {(char *)c->name, "--help", NULL};
    return c->fn(2, hv);
  }
  if (!strcmp(name, "version")) {
    version();
    return 0;
  }
  const struct cmd *c = find(name);
  if (!c) {
    fprintf(stderr, "pipelab: '%s' is not a pipelab command (see 'pipelab "
                    "--help')\n", name);
    return CLI_EXIT_USAGE;
  }
  if (c->polls_sigint)
    cli_catch_sigint();
  /* Each subcommand parses its own vector with getopt_long; optind = 0
   * forces glibc to re-initialise. */
  optind = 0;
  opterr = 0;
  return c->fn(argc - i, argv + i);
}

int main(int argc, char **argv) { return finish_stdout(run(argc, argv)); }
