/* util.c: messages, exit codes, strict option parsing and file output for
 * the subcommands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* Replaces control characters so hostile input cannot inject terminal
 * escapes into our messages (git does the same). */
static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
  char buf[4096];
  vsnprintf(buf, sizeof buf, fmt, ap);
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 && *p != '\n')
      *p = '?';
  fprintf(stderr, "%s%s\n", prefix, buf);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20)
      *p = ' ';
  fprintf(stderr, "pipelab %s: %s (see 'pipelab %s --help')\n", cmd, buf, cmd);
  return CLI_EXIT_USAGE;
}

int cli_exit_code(int err)
{
  switch (err) {
  case PL_OK: return CLI_EXIT_OK;
  case PL_EINVAL: return CLI_EXIT_USAGE;
  case PL_EPARSE:
  case PL_EDB:
  case PL_EDBVERSION:
  case PL_ENOTADB:
  case PL_EIO: return CLI_EXIT_DATA;
  case PL_EDBLOCKED: return CLI_EXIT_LOCKED;
  case PL_ENODEV: return CLI_EXIT_NODEV;
  case PL_ECUDA:
  case PL_ENCCL: return CLI_EXIT_GPU;
  case PL_EDEADLOCK:
  case PL_EINVALSCHED: return CLI_EXIT_SCHED;
  case PL_EINTR: return CLI_EXIT_INTR;
  default: return CLI_EXIT_FAIL;
  }
}

int cli_fail(int err, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("error: ", fmt, ap);
  va_end(ap);
  return cli_exit_code(err);
}

int cli_fail_oom(int n, const char *what)
{
  cli_fail(PL_ECHECK, "%d %s%s do%s not fit in HBM (--fail-on-oom)", n, what,
           n == 1 ? "" : "s", n == 1 ? "es" : "");
  return CLI_EXIT_OOM;
}

int cli_fail_eb(const struct pl_errbuf *eb, int err)
{
  const char *m = eb && eb->msg[0] ? eb->msg : pl_strerror(err);
  return cli_fail(err, "%s", m);
}

void cli_warn(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("warning: ", fmt, ap);
  va_end(ap);
}

const char *cli_join_untrusted(int n, const char (*why)[PL_UNTRUSTED_LEN],
                               char *buf, size_t len)
{
  buf[0] = 0;
  for (int i = 0; i < n; i++) {
    if (i)
      strncat(buf, "; ", len - strlen(buf) - 1);
    strncat(buf, why[i], len - strlen(buf) - 1);
  }
  return buf;
}

void cli_warn_untrusted(int n, const char (*why)[PL_UNTRUSTED_LEN])
{
  char line[CLI_UNTRUSTED_LINE];
  if (n > 0)
    cli_warn("measurement cannot be trusted: %s",
             cli_join_untrusted(n, why, line, sizeof line));
}

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi,
            int *out)
{
  long v;
  if (pl_parse_long(s, lo, hi, &v))
    return cli_usage(cmd, "%s must be an integer from %ld to %ld, got '%s'",
                     opt, lo, hi, s);
  *out = (int)v;
  return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out)
{
  double v;
  if (pl_parse_double(s, lo, hi, &v))
    return cli_usage(cmd, "%s must be a number from %g to %g, got '%s'", opt,
                     lo, hi, s);
  *out = v;
  return 0;
}

int cli_local_handoff(const char *cmd, const char *s, int *copied)
{
  if (strcmp(s, "free") && strcmp(s, "copied"))
    return cli_usage(cmd, "--local-handoff must be free or copied, got '%s'",
                     s);
  *copied = s[0] == 'c';
  return 0;
}

int cli_bytes(const char *cmd, const char *opt, const char *s, double *out)
{
  static const struct {
    const char *suf;
    double mul;
  } sufs[] = {{"", 1},         {"B", 1},        {"KB", 1e3},
              {"MB", 1e6},     {"GB", 1e9},     {"TB", 1e12},
              {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
              {"TiB", 1099511627776.0}};
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !isfinite(v) || v < 0)
    goto bad;
  for (size_t i = 0; i < sizeof sufs / sizeof sufs[0]; i++)
    if (strcasecmp(end, sufs[i].suf) == 0) {
      if (!isfinite(v * sufs[i].mul))
        goto bad;
      *out = v * sufs[i].mul;
      return 0;
    }
bad:
  return cli_usage(cmd, "%s must be a size such as 80GiB, 512MB or 4096, got "
                        "'%s'", opt, s);
}

int cli_mem_limit(const char *cmd, const char *s, double *out, int *is_bytes)
{
  char *end;
  (void)strtod(s, &end);
  *is_bytes = !(end != s && *end == 0);
  int rc = *is_bytes ? cli_bytes(cmd, "--mem-limit", s, out)
                     : cli_double(cmd, "--mem-limit", s, 0, 1e300, out);
  if (!rc && !(*out > 0))
    return cli_usage(cmd, "--mem-limit must be above 0 (activation units, "
                          "or a size such as 80GiB), got '%s'", s);
  return rc;
}

int cli_format(const char *cmd, const char *s, unsigned allowed,
               enum cli_format *out)
{
  static const char *names[] = {"table", "json", "csv"};
  for (int i = 0; i < 3; i++)
    if ((allowed & (1u << i)) && strcmp(s, names[i]) == 0) {
      *out = (enum cli_format)i;
      return 0;
    }
  char list[64] = "";
  for (int i = 0; i < 3; i++)
    if (allowed & (1u << i)) {
      if (list[0])
        strncat(list, "|", sizeof list - strlen(list) - 1);
      strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
  return cli_usage(cmd, "--format must be one of %s, got '%s'", list, s);
}

int cli_bad_option(const char *cmd, char **argv)
{
  const char *arg = argv[optind - 1];
  if (optopt && optopt != '?')
    return cli_usage(cmd, "option '-%c' is unknown or needs a value", optopt);
  return cli_usage(cmd, "option '%s' is unknown or needs a value", arg);
}

int cli_no_positionals(const char *cmd, int argc, char **argv)
{
  if (optind < argc)
    return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
  return 0;
}

int cli_write_out(const char *path, const char *data, size_t len)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_write_file_atomic(path, data, len, &eb);
  if (rc)
    return cli_fail_eb(&eb, rc);
  return 0;
}

const char *cli_num(double x)
{
  static char bufs[8][40];
  static int k;
  char *b = bufs[k++ & 7];
  if (x == 0) /* also turns -0 into 0 */
    return "0";
  if (!isfinite(x)) {
    snprintf(b, 40, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    return b;
  }
  /* Large times keep their digits (1281517.5 us), small values keep six
   * significant ones. */
  snprintf(b, 40, fabs(x) >= 1e5 ? "%.10g" : "%.6g", x);
  return b;
}

const char *cli_dur(double t, const char *unit)
{
  static char bufs[8][48];
  static int k;
  char *b = bufs[k++ & 7];
  if (pl_fmt_duration(b, 48, t, unit))
    snprintf(b, 48, "?");
  return b;
}

const char *cli_mem(double x, const char *mem_unit)
{
  static char bufs[8][48];
  static int k;
  char *b = bufs[k++ & 7];
  if (pl_fmt_mem(b, 48, x, mem_unit))
    snprintf(b, 48, "?");
  return b;
}

const char *cli_size(double bytes)
{
  static char bufs[8][48];
  static int k;
  char *b = bufs[k++ & 7];
  if (pl_fmt_bytes(b, 48, bytes))
    snprintf(b, 48, "?");
  return b;
}

/* The stop flag that long library loops poll (pl_sweep_run, pl_exec_run,
 * pl_exec_calibrate, pl_exec_reference take a `volatile const int *`). */
_Static_assert(_Generic((sig_atomic_t)0, int: 1, default: 0),
               "sig_atomic_t must be int: the flag is passed as volatile int");
static volatile sig_atomic_t interrupted;

/* The first SIGINT only sets the flag; SA_RESETHAND has already restored
 * SIG_DFL, so a second one ends the process at once. */
static void on_sigint(int sig)
{
  (void)sig;
  interrupted = 1;
}

void cli_catch_sigint(void)
{
  struct sigaction sa, old;
  /* A SIGINT ignored by whoever started us (nohup, a background job of a
   * script) stays ignored. */
  if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
    return;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND; /* no SA_RESTART: blocking calls return */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

int cli_interrupted(void) { return interrupted != 0; }

volatile const int *cli_stop_flag(void) { return &interrupted; }

int cli_fail_interrupted(void)
{
  return cli_fail(PL_EINTR, "interrupted");
}
