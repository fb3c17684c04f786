/* plot.c: running gnuplot. A plot is a template (plots/<name>.gp, embedded in
 * the binary) plus data files, written into a private temporary directory;
 * gnuplot runs there with that directory as its working directory, so the
 * script names its files without any path and user-controlled paths never
 * reach the script. The figure is then copied to its destination through
 * pl_write_file_atomic (a unique temporary file + rename): a failed run
 * leaves nothing. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plot_int.h"

static const char install_hint[] =
    "gnuplot not found: install it with 'apt-get install gnuplot-nox'";

static const char *const fmt_ext[] = {"png", "svg", "pdf"};

const char *pl__plot_num(char buf[32], double x)
{
  /* gnuplot reads "NaN" as a missing value; "inf" would break a range. */
  if (!isfinite(x))
    snprintf(buf, 32, "NaN");
  else
    snprintf(buf, 32, "%.10g", x);
  return buf;
}

int pl__plot_quote(struct pl_buf *b, const char *s)
{
  for (; s && *s; s++) {
    int rc;
    if (*s == '\'')
      rc = pl_buf_add(b, "''", 2);
    else if ((unsigned char)*s < 0x20 || *s == 0x7f)
      rc = pl_buf_add(b, " ", 1);
    else
      rc = pl_buf_add(b, s, 1);
    if (rc)
      return rc;
  }
  return PL_OK;
}

void pl__plot_token(char *buf, size_t len, const char *s)
{
  size_t i = 0;
  if (!len)
    return;
  for (; s && s[i] && i + 1 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    buf[i] = (c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '#')
                 ? '_'
                 : (char)c;
  }
  buf[i] = 0;
  if (i == 0 && len > 1) {
    buf[0] = '-';
    buf[1] = 0;
  }
}

int pl_plot_format_from_path(const char *path, int *fmt, struct pl_errbuf *eb)
{
  const char *dot = path ? strrchr(path, '.') : NULL;
  const char *slash = path ? strrchr(path, '/') : NULL;
  if (dot && (!slash || dot > slash)) {
    for (int i = 0; i < 3; i++)
      if (strcasecmp(dot + 1, fmt_ext[i]) == 0) {
        *fmt = i;
        return PL_OK;
      }
  }
  return pl_errf(eb, PL_EINVAL,
                 "cannot tell the figure format of '%s': the output must end "
                 "in .png, .svg or .pdf",
                 path ? path : "(null)");
}

int pl__plot_check_output(const char *path, int *fmt, struct pl_errbuf *eb)
{
  if (!path || !path[0])
    return pl_errf(eb, PL_EINVAL, "no output file given (-o FILE.png|.svg|"
                                  ".pdf)");
  int rc = pl_plot_format_from_path(path, fmt, eb);
  if (rc)
    return rc;
  /* The directory must exist and be writable; checking now gives a clear
   * message before gnuplot runs at all. */
  char *dir = pl_strdup(path);
  if (!dir)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  char *slash = strrchr(dir, '/');
  const char *d = ".";
  if (slash == dir)
    d = "/";
  else if (slash) {
    *slash = 0;
    d = dir;
  }
  struct stat st;
  if (stat(d, &st) != 0)
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': directory '%s': %s", path, d,
                 strerror(errno));
  else if (!S_ISDIR(st.st_mode))
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': '%s' is not a directory",
                 path, d);
  else if (access(d, W_OK) != 0)
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': directory '%s': %s", path, d,
                 strerror(errno));
  else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': it is a directory", path);
  pl_free(dir);
  return rc;
}

static int is_exec(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int pl_plot_find_gnuplot(const char *hint, char *buf, size_t len,
                         struct pl_errbuf *eb)
{
  const char *name = hint && hint[0] ? hint : getenv("PIPELAB_GNUPLOT");
  const char *from = hint && hint[0] ? "given" : "$PIPELAB_GNUPLOT";
  if (name && name[0]) {
    if (strchr(name, '/')) {
      if (is_exec(name) && strlen(name) < len) {
        snprintf(buf, len, "%s", name);
        return PL_OK;
      }
      return pl_errf(eb, PL_EEXTERNAL,
                     "gnuplot not found: '%s' (%s) is not an executable "
                     "file; install gnuplot with 'apt-get install "
                     "gnuplot-nox'",
                     name, from);
    }
  } else {
    name = "gnuplot";
  }
  const char *path = getenv("PATH");
  if (!path || !path[0])
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t n = colon ? (size_t)(colon - path) : strlen(path);
    if (n > 0 && n + strlen(name) + 2 <= len) {
      snprintf(buf, len, "%.*s/%s", (int)n, path, name);
      if (is_exec(buf))
        return PL_OK;
    }
    path += n;
    if (*path == ':')
      path++;
  }
  buf[0] = 0;
  if (strcmp(name, "gnuplot") != 0)
    return pl_errf(eb, PL_EEXTERNAL,
                   "gnuplot not found: '%s' is not on PATH; install gnuplot "
                   "with 'apt-get install gnuplot-nox'",
                   name);
  return pl_errf(eb, PL_EEXTERNAL, "%s", install_hint);
}

static const struct pl_embedded *find_template(const char *name)
{
  return pl_embedded_find(name);
}

/* Replaces @KEY@ (KEY = upper-case letters, digits, '_') from kv. An unknown
 * key is a template bug: PL_EMISUSE. Any other '@' is copied as is. */
static int fill_template(const struct pl_embedded *t, const char *const *kv,
                         struct pl_buf *out, struct pl_errbuf *eb)
{
  const char *s = t->data, *end = t->data + t->len;
  while (s < end) {
    const char *at = memchr(s, '@', (size_t)(end - s));
    if (!at)
      return pl_buf_add(out, s, (size_t)(end - s)) ? pl_errf(eb, PL_ENOMEM,
                                                             "out of memory")
                                                   : PL_OK;
    if (pl_buf_add(out, s, (size_t)(at - s)))
      return pl_errf(eb, PL_ENOMEM, "out of memory");
    const char *k = at + 1;
    while (k < end && ((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
                       *k == '_'))
      k++;
    if (k == at + 1 || k >= end || *k != '@') {
      if (pl_buf_add(out, "@", 1))
        return pl_errf(eb, PL_ENOMEM, "out of memory");
      s = at + 1;
      continue;
    }
    size_t klen = (size_t)(k - at - 1);
    const char *val = NULL;
    for (size_t i = 0; kv[i]; i += 2)
      if (strlen(kv[i]) == klen && memcmp(kv[i], at + 1, klen) == 0) {
        val = kv[i + 1];
        break;
      }
    if (!val)
      return pl_errf(eb, PL_EMISUSE, "template %s: no value for @%.*s@",
                     t->name, (int)klen, at + 1);
    if (pl_buf_add(out, val, strlen(val)))
      return pl_errf(eb, PL_ENOMEM, "out of memory");
    s = k + 1;
  }
  return PL_OK;
}

static int write_in(const char *dir, const char *name, const char *data,
                    size_t len, struct pl_errbuf *eb)
{
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f)
    return pl_errf(eb, PL_EIO, "cannot write '%s': %s", p, strerror(errno));
  size_t w = fwrite(data, 1, len, f);
  if (fclose(f) != 0 || w != len)
    return pl_errf(eb, PL_EIO, "cannot write '%s': %s", p, strerror(errno));
  return PL_OK;
}

static void remove_dir(const char *dir)
{
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* The last non-blank lines of gnuplot's stderr, joined on one line. gnuplot
 * reports an error as the offending line, a caret line, then
 * '"script.gp" line N: message'; the message line is the useful one. */
static void stderr_summary(const char *text, char *buf, size_t len)
{
  buf[0] = 0;
  if (!text)
    return;
  const char *best = NULL;
  size_t best_len = 0;
  for (const char *s = text; *s;) {
    const char *nl = strchr(s, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    const char *q = s;
    while (q < s + n && (*q == ' ' || *q == '\t' || *q == '^'))
      q++;
    if (q < s + n) {
      best = s;
      best_len = n;
    }
    s += n;
    if (*s == '\n')
      s++;
  }
  if (!best)
    return;
  while (best_len && (*best == ' ' || *best == '\t')) {
    best++;
    best_len--;
  }
  if (best_len >= len)
    best_len = len - 1;
  for (size_t i = 0; i < best_len; i++)
    buf[i] = ((unsigned char)best[i] < 0x20) ? ' ' : best[i];
  buf[best_len] = 0;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs gnuplot script.gp in dir, stderr into dir/gnuplot.err. */
static int run_gnuplot(const char *gnuplot, const char *dir, double timeout_s,
                       struct pl_errbuf *eb)
{
  char errpath[4096];
  snprintf(errpath, sizeof errpath, "%s/gnuplot.err", dir);
  char *const argv[] = {(char *)"gnuplot", (char *)"script.gp", NULL};
  pid_t pid = fork();
  if (pid < 0)
    return pl_errf(eb, PL_EEXTERNAL, "cannot start gnuplot: fork: %s",
                   strerror(errno));
  if (pid == 0) {
    /* Child: only async-signal-safe calls until exec. */
    int in = open("/dev/null", O_RDONLY);
    int out = open("/dev/null", O_WRONLY);
    int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
        dup2(err, 2) < 0 || chdir(dir) != 0)
      _exit(126);
    execv(gnuplot, argv);
    static const char msg[] = "cannot execute gnuplot\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
  }
  int status = 0;
  double deadline = now_s() + (timeout_s > 0 ? timeout_s : 120.0);
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid)
      break;
    if (w < 0 && errno != EINTR)
      return pl_errf(eb, PL_EEXTERNAL, "waiting for gnuplot: %s",
                     strerror(errno));
    if (now_s() > deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
      return pl_errf(eb, PL_ETIMEDOUT, "gnuplot did not finish within %g s",
                     timeout_s > 0 ? timeout_s : 120.0);
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  char *errtext = NULL;
  size_t errlen = 0;
  struct pl_errbuf eb2 = PL_ERRBUF_INIT;
  pl_read_file(errpath, &errtext, &errlen, &eb2);
  char summary[600];
  stderr_summary(errtext, summary, sizeof summary);
  pl_free(errtext);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return PL_OK;
  if (WIFSIGNALED(status))
    return pl_errf(eb, PL_EEXTERNAL, "gnuplot was killed by signal %d%s%s",
                   WTERMSIG(status), summary[0] ? ": " : "", summary);
  return pl_errf(eb, PL_EEXTERNAL, "gnuplot failed (exit status %d): %s",
                 WEXITSTATUS(status),
                 summary[0] ? summary : "no message on stderr");
}

static void terminal_line(int fmt, int w, int h, char *buf, size_t len)
{
  switch (fmt) {
  case PL_PLOT_SVG:
    snprintf(buf, len,
             "set terminal svg size %d,%d noenhanced font 'Sans,11' "
             "background rgb 'white'",
             w, h);
    break;
  case PL_PLOT_PDF:
    /* pdfcairo measures in inches: 100 pixels to the inch keeps the
     * proportions and the font size of the PNG. */
    snprintf(buf, len,
             "set terminal pdfcairo size %.2fin,%.2fin noenhanced "
             "font 'Sans,7' background rgb 'white'",
             w / 100.0, h / 100.0);
    break;
  default:
    snprintf(buf, len,
             "set terminal pngcairo size %d,%d noenhanced font 'Sans,10' "
             "background rgb 'white'",
             w, h);
    break;
  }
}

int pl__plot_run(const pl_plot_opts *o, const char *path, int width,
                 int height, const char *tmpl, const char *const *kv,
                 const struct pl__plot_file *files, size_t nfiles,
                 struct pl_errbuf *eb)
{
  static const pl_plot_opts defaults = PL_PLOT_OPTS_INIT;
  int fmt, rc;
  char gnuplot[4096];
  char dir[4096] = "";
  char term[256], outname[32];
  const char **allkv = NULL;
  char *fig = NULL;
  size_t figlen = 0, nkv = 0;
  struct pl_buf script;
  pl_buf_init(&script, (size_t)64 << 20);
  if (!o)
    o = &defaults;

  if ((rc = pl__plot_check_output(path, &fmt, eb)) != 0)
    goto out;
  if ((rc = pl_plot_find_gnuplot(o->gnuplot, gnuplot, sizeof gnuplot, eb)))
    goto out;
  const struct pl_embedded *t = find_template(tmpl);
  if (!t) {
    rc = pl_errf(eb, PL_EMISUSE, "no embedded gnuplot template '%s'", tmpl);
    goto out;
  }
  if (width < 64)
    width = 64;
  if (height < 64)
    height = 64;
  if (width > 20000)
    width = 20000;
  if (height > 20000)
    height = 20000;
  terminal_line(fmt, width, height, term, sizeof term);
  snprintf(outname, sizeof outname, "out.%s", fmt_ext[fmt]);

  while (kv && kv[nkv])
    nkv += 2;
  allkv = pl_calloc(nkv + 5, sizeof *allkv);
  if (!allkv) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  allkv[0] = "TERMINAL";
  allkv[1] = term;
  allkv[2] = "OUTPUT";
  allkv[3] = outname;
  for (size_t i = 0; i < nkv; i++)
    allkv[4 + i] = kv[i];
  if ((rc = fill_template(t, allkv, &script, eb)))
    goto out;

  const char *tmpdir = getenv("TMPDIR");
  if (!tmpdir || !tmpdir[0] || strlen(tmpdir) > 3000)
    tmpdir = "/tmp";
  snprintf(dir, sizeof dir, "%s/pipelab-plot-XXXXXX", tmpdir);
  if (!mkdtemp(dir)) {
    rc = pl_errf(eb, PL_EIO, "cannot create a temporary directory in '%s': "
                             "%s",
                 tmpdir, strerror(errno));
    dir[0] = 0;
    goto out;
  }
  for (size_t i = 0; i < nfiles; i++)
    if ((rc = write_in(dir, files[i].name, files[i].data->buf,
                       files[i].data->len, eb)))
      goto out;
  if ((rc = write_in(dir, "script.gp", script.buf, script.len, eb)))
    goto out;
  if ((rc = run_gnuplot(gnuplot, dir, o->timeout_s, eb)))
    goto out;

  char figpath[4200];
  snprintf(figpath, sizeof figpath, "%s/%s", dir, outname);
  struct pl_errbuf eb2 = PL_ERRBUF_INIT;
  if (pl_read_file(figpath, &fig, &figlen, &eb2) || figlen == 0) {
    rc = pl_errf(eb, PL_EEXTERNAL, "gnuplot finished but wrote no figure "
                                   "(is the %s terminal available?)",
                 fmt == PL_PLOT_PNG   ? "pngcairo"
                 : fmt == PL_PLOT_PDF ? "pdfcairo"
                                      : "svg");
    goto out;
  }
  rc = pl_write_file_atomic(path, fig, figlen, eb);
out:
  if (dir[0])
    remove_dir(dir);
  pl_free(fig);
  pl_free(allkv);
  pl_buf_free(&script);
  return rc;
}
