/*
 * cli.h: what every subcommand of the `pipelab` tool shares. The library
 * never prints; everything that reaches a terminal goes through here.
 *
 * Conventions (docs/cli.md):
 * - A subcommand is `int cmd_<name>(int argc, char **argv)` registered in the
 *   table in main.c; argv[0] is the subcommand name. It returns the process
 *   exit code.
 * - Exit codes are frozen: 0 ok, 1 runtime failure (or a check that failed),
 *   2 usage error, 3 data or database error, 4 database locked, 5 no GPU /
 *   backend unavailable, 6 CUDA/NCCL failure, 7 invalid or deadlocking
 *   schedule, 8 out of memory (a --fail-on-oom gate), 130 interrupted.
 * - stdout carries data only; diagnostics go to stderr in git's style
 *   ("error: cannot open 'x.csv': No such file or directory").
 * - Usage errors are ONE line: what is wrong and how to fix it, then exit 2.
 */
#ifndef PL_CLI_H
#define PL_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "pipelab/pipelab.h"

enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAIL = 1,
  CLI_EXIT_USAGE = 2,
  CLI_EXIT_DATA = 3,
  CLI_EXIT_LOCKED = 4,
  CLI_EXIT_NODEV = 5,
  CLI_EXIT_GPU = 6,
  CLI_EXIT_SCHED = 7,
  CLI_EXIT_OOM = 8,
  CLI_EXIT_INTR = 130
};

/* Output formats for --format. */
enum cli_format { CLI_FMT_TABLE = 0, CLI_FMT_JSON = 1, CLI_FMT_CSV = 2 };

/* Prints "pipelab <cmd>: <msg> (see 'pipelab <cmd> --help')" on one line to
 * stderr and returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "error: <msg>" to stderr and returns the exit code for the library
 * error code err (cli_exit_code). */
int cli_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints "error: <eb->msg>" (or pl_strerror) and returns the exit code. */
int cli_fail_eb(const struct pl_errbuf *eb, int err);
/* "error: N <what>s do not fit in HBM (--fail-on-oom)"; returns
 * CLI_EXIT_OOM. */
int cli_fail_oom(int n, const char *what);
/* "warning: ..." to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The untrusted reasons of a pl_result or a pl_calib joined with "; " into
 * buf (CLI_UNTRUSTED_LINE bytes hold them all); returns buf. */
#define CLI_UNTRUSTED_LINE (PL_UNTRUSTED_MAX * (PL_UNTRUSTED_LEN + 2))
const char *cli_join_untrusted(int n, const char (*why)[PL_UNTRUSTED_LEN],
                               char *buf, size_t len);
/* One "warning: measurement cannot be trusted: a; b" line when n > 0. */
void cli_warn_untrusted(int n, const char (*why)[PL_UNTRUSTED_LEN]);
/* Maps a pl_err code to the frozen exit code. */
int cli_exit_code(int err);

/*
 * Strict number parsing for option values: the whole string must be a
 * number in [lo, hi]. On failure prints a usage line naming the option and
 * returns CLI_EXIT_USAGE; 0 on success.
 */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
            int *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out);
/* --local-handoff free|copied: *copied = 0 or 1 (pl_costs.local_overhead). */
int cli_local_handoff(const char *cmd, const char *s, int *copied);
/* Parses "80GiB", "1.5e9", "512MB", "4096" (bytes). */
int cli_bytes(const char *cmd, const char *opt, const char *s, double *out);
/* Parses --mem-limit: a plain number is activation units (*is_bytes = 0),
 * a number with a byte suffix ("80GiB") bytes (*is_bytes = 1). */
int cli_mem_limit(const char *cmd, const char *s, double *out, int *is_bytes);
/* Parses --format; allowed is a mask of 1<<CLI_FMT_*. */
int cli_format(const char *cmd, const char *s, unsigned allowed,
               enum cli_format *out);
/* Reports an unknown option / missing argument after getopt_long returned
 * '?' or ':' (opterr is 0). argv is the subcommand's vector. */
int cli_bad_option(const char *cmd, char **argv);
/* Rejects stray positional arguments: returns CLI_EXIT_USAGE after one line
 * if optind < argc, else 0. */
int cli_no_positionals(const char *cmd, int argc, char **argv);

/* Writes text to a file path ("-" = stdout) atomically; prints the error. */
int cli_write_out(const char *path, const char *data, size_t len);

/* Formats a number with up to 6 significant digits in the C locale, without
 * trailing zeros ("33", "28.5", "0.212121"). Static rotating buffers: valid
 * for 8 calls. */
const char *cli_num(double x);
/* What human tables print (pl_fmt_duration, pl_fmt_mem, pl_fmt_bytes):
 * a time in `unit` shown in the largest of ns/us/ms/s that keeps 4
 * significant digits ("515.0 ms"), memory in GiB/MiB with two decimals or
 * in activation units to two decimals, bytes in B/KiB/MiB/GiB; "n/a" for a
 * non-finite value. Static rotating buffers: valid for 8 calls each. JSON
 * and CSV keep raw numbers. */
const char *cli_dur(double t, const char *unit);
const char *cli_mem(double x, const char *mem_unit);
const char *cli_size(double bytes);

/* ---- terminal (term.c) ---- */
/* 1 if stderr is a TTY, TERM is not dumb and progress is not disabled. */
int term_progress_enabled(void);
void term_disable_progress(void);
/* Color on stdout/stderr: honours NO_COLOR and --color. */
int term_color(FILE *f);
void term_set_color_mode(int mode); /* 0 auto, 1 always, 2 never */
/* Terminal width: COLUMNS, then TIOCGWINSZ, else 79. */
int term_width(void);
/* Progress bar on stderr: label, done of total; throttled to ~10 Hz; call
 * term_progress_end when finished (clears the line). */
void term_progress(const char *label, size_t done, size_t total);
void term_progress_end(void);

/*
 * SIGINT (Ctrl-C), for the commands that poll it (main.c's table): the
 * first one sets a flag and restores the default action, so a second one
 * ends the process at once. A SIGINT that was ignored when pipelab started
 * stays ignored. Long loops poll the flag (cli_stop_flag() is what library
 * calls take as `stop`); the command then stores nothing partial and exits
 * CLI_EXIT_INTR after cli_fail_interrupted()'s one line.
 */
void cli_catch_sigint(void);
int cli_interrupted(void);
volatile const int *cli_stop_flag(void);
/* "error: interrupted"; returns CLI_EXIT_INTR. */
int cli_fail_interrupted(void);

/* ---- subcommands (one file each) ---- */
int cmd_simulate(int argc, char **argv);
int cmd_schedules(int argc, char **argv);
int cmd_whatif(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

#endif
