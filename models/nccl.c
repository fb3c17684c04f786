/* nccl.c: measured collective performance: the nccl-tests log importer
 * (all_reduce_perf, reduce_scatter_perf, all_gather_perf, sendrecv_perf)
 * and the bus-bandwidth lookup (docs/database.md "nccl-tests logs"). The
 * whole log is parsed and checked before anything is written; the rows go
 * in with their calibration run in one transaction. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "models_int.h"

static const char *const op_names[PL_COLL_NOPS] = {
    "all_reduce", "reduce_scatter", "all_gather", "sendrecv"};

const char *pl_coll_op_name(int op)
{
  return op >= 0 && op < PL_COLL_NOPS ? op_names[op] : NULL;
}

/* ------------------------------------------------------------- parsing --- */

#define MAX_TOK 64

struct nrow {
  double size, time_us, algbw, busbw; /* busbw/algbw in GB/s as logged */
  int line;
};

struct nlog {
  const char *path;
  int banner_op, banner_line;   /* "# Collective test starting: x_perf" */
  char banner_name[48];         /* as written, for messages */
  int cmd_op, cmd_conflict;     /* "x_perf" seen on other lines */
  /* rank lines */
  int n_rank_lines, max_rank;
  int *rank_line;               /* [rank] line of its rank line, 0 = none */
  int rank_cap;
  char **hosts;
  int n_hosts, host_cap;
  char device[64], host0[128], nccl_version[32];
  /* the result table */
  int hdr_line, hdr_fields, t_idx; /* t_idx: out-of-place time field */
  int row_fields;               /* fields of the first row without header */
  char type[24], redop[24];
  struct nrow *rows;
  size_t n, cap;
  struct pl_errbuf *eb;
};

static void nlog_free(struct nlog *L)
{
  for (int i = 0; i < L->n_hosts; i++)
    pl_free(L->hosts[i]);
  pl_free(L->hosts);
  pl_free(L->rank_line);
  pl_free(L->rows);
}

static int perr(struct nlog *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct nlog *L, int line, const char *fmt, ...)
{
  char m[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  if (line > 0)
    return pl_errf(L->eb, PL_EPARSE, "'%s' line %d: %s", L->path, line, m);
  return pl_errf(L->eb, PL_EPARSE, "'%s': %s", L->path, m);
}

/* Splits s in place at blanks. */
static int tokens(char *s, char **t, int max)
{
  int n = 0;
  for (;;) {
    while (*s == ' ' || *s == '\t')
      s++;
    if (!*s)
      return n;
    if (n == max)
      return max + 1;
    t[n++] = s;
    while (*s && *s != ' ' && *s != '\t')
      s++;
    if (*s)
      *s++ = 0;
  }
}

static int is_uint(const char *s)
{
  if (!*s || strlen(s) > 18)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

static int num(const char *s, double *v)
{
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return !errno && end != s && !*end && isfinite(*v);
}

static int op_of_test(const char *name)
{
  for (int k = 0; k < PL_COLL_NOPS; k++) {
    size_t l = strlen(op_names[k]);
    if (!strncmp(name, op_names[k], l) && !strcmp(name + l, "_perf"))
      return k;
  }
  return -1;
}

/* "x_perf" of a known collective anywhere in the line (a command line). */
static void note_command(struct nlog *L, const char *s)
{
  for (int k = 0; k < PL_COLL_NOPS; k++) {
    char pat[40];
    snprintf(pat, sizeof pat, "%s_perf", op_names[k]);
    const char *p = strstr(s, pat);
    /* "all_reduce_perf" is not "reduce_scatter_perf"'s tail and vice versa;
     * require no identifier character before the name. */
    while (p && p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
      p = strstr(p + 1, pat);
    if (!p)
      continue;
    if (L->cmd_op >= 0 && L->cmd_op != k)
      L->cmd_conflict = 1;
    L->cmd_op = k;
  }
}

static int add_host(struct nlog *L, const char *h)
{
  for (int i = 0; i < L->n_hosts; i++)
    if (!strcmp(L->hosts[i], h))
      return 0;
  if (L->n_hosts == L->host_cap) {
    int nc = L->host_cap ? L->host_cap * 2 : 8;
    char **nh = pl_realloc(L->hosts, (size_t)nc * sizeof *nh);
    if (!nh)
      return -1;
    L->hosts = nh;
    L->host_cap = nc;
  }
  if (!(L->hosts[L->n_hosts] = pl_strdup(h)))
    return -1;
  L->n_hosts++;
  return 0;
}

/* "#  Rank  0 Group  0 Pid  12345 on  host device  0 [0x07] NVIDIA H100
 * 80GB HBM3" (older versions: no Group). t[0] is "Rank". */
static int rank_line(struct nlog *L, char **t, int nt, int line)
{
  int on = -1, dev = -1;
  for (int i = 2; i < nt; i++) {
    if (on < 0 && !strcmp(t[i], "on") && i + 1 < nt)
      on = i;
    else if (on >= 0 && !strcmp(t[i], "device")) {
      dev = i;
      break;
    }
  }
  if (nt < 2 || !is_uint(t[1]) || on < 0 || dev < 0)
    return 0; /* not a rank line */
  long r = strtol(t[1], NULL, 10);
  if (r > (1 << 20))
    return perr(L, line, "rank %ld is out of range", r);
  if (r >= L->rank_cap) {
    int nc = L->rank_cap ? L->rank_cap : 64;
    while (nc <= r)
      nc *= 2;
    int *nr = pl_realloc(L->rank_line, (size_t)nc * sizeof *nr);
    if (!nr)
      return pl_errf(L->eb, PL_ENOMEM, "out of memory");
    memset(nr + L->rank_cap, 0, (size_t)(nc - L->rank_cap) * sizeof *nr);
    L->rank_line = nr;
    L->rank_cap = nc;
  }
  if (L->rank_line[r])
    return perr(L, line, "rank %ld is listed twice (also line %d): was "
                "nccl-tests built without MPI=1, so that every process ran "
                "its own test? Import one process's log, or pass the rank "
                "and node counts", r, L->rank_line[r]);
  L->rank_line[r] = line;
  L->n_rank_lines++;
  if (r > L->max_rank)
    L->max_rank = (int)r;
  if (add_host(L, t[on + 1]))
    return pl_errf(L->eb, PL_ENOMEM, "out of memory");
  if (L->n_rank_lines == 1) {
    snprintf(L->host0, sizeof L->host0, "%s", t[on + 1]);
    size_t used = 0;
    int first = dev + 2; /* after "device N"; skip the bus id "[0x07]" */
    if (first < nt && t[first][0] == '[')
      first++;
    L->device[0] = 0;
    for (int i = first; i < nt; i++) {
      int k = snprintf(L->device + used, sizeof L->device - used, "%s%s",
                       used ? " " : "", t[i]);
      if (k < 0 || (size_t)k >= sizeof L->device - used)
        break;
      used += (size_t)k;
    }
  }
  return 0;
}

/* "# nccl-tests version 2.13.9 nccl-headers=21903 nccl-library=21903" or an
 * NCCL INFO line "NCCL version 2.18.3+cuda12.2". */
static void note_version(struct nlog *L, const char *s)
{
  const char *p = strstr(s, "nccl-library=");
  if (p) {
    long c = strtol(p + 13, NULL, 10);
    if (c >= 20900)
      snprintf(L->nccl_version, sizeof L->nccl_version, "%ld.%ld.%ld",
               c / 10000, c % 10000 / 100, c % 100);
    else if (c >= 2000)
      snprintf(L->nccl_version, sizeof L->nccl_version, "%ld.%ld.%ld",
               c / 1000, c % 1000 / 100, c % 100);
    return;
  }
  if (!L->nccl_version[0] && (p = strstr(s, "NCCL version ")) != NULL) {
    p += 13;
    size_t l = strcspn(p, " +\t\r");
    if (l && l < sizeof L->nccl_version)
      snprintf(L->nccl_version, sizeof L->nccl_version, "%.*s", (int)l, p);
  }
}

static int comment_line(struct nlog *L, char *s, int line)
{
  const char *b = strstr(s, "Collective test starting:");
  if (b) {
    char name[48] = "";
    b += strlen("Collective test starting:");
    while (*b == ' ' || *b == '\t')
      b++;
    size_t l = strcspn(b, " \t\r");
    snprintf(name, sizeof name, "%.*s", (int)(l < 47 ? l : 47), b);
    int op = op_of_test(name);
    if (L->banner_line && strcmp(name, L->banner_name))
      return perr(L, line, "a second test (%s; %s started at line %d): "
                  "import one nccl-tests run per file", name,
                  L->banner_name, L->banner_line);
    if (!L->banner_line) {
      L->banner_line = line;
      L->banner_op = op;
      snprintf(L->banner_name, sizeof L->banner_name, "%s", name);
    }
    return 0;
  }
  if (strstr(s, "nccl-tests version")) {
    note_version(L, s);
    return 0;
  }
  note_command(L, s);
  char *t[MAX_TOK];
  int nt = tokens(s + 1, t, MAX_TOK);
  if (nt < 1 || nt > MAX_TOK)
    return 0;
  if (!strcmp(t[0], "Rank"))
    return rank_line(L, t, nt, line);
  if (!strcmp(t[0], "size") && nt >= 8) {
    int ti = -1, has_busbw = 0;
    for (int i = 1; i < nt; i++) {
      if (ti < 0 && !strcmp(t[i], "time"))
        ti = i;
      has_busbw |= !strcmp(t[i], "busbw");
    }
    if (ti < 0 || !has_busbw || ti + 8 != nt)
      return perr(L, line, "a table header this importer does not know "
                  "(expected size, count, type, [redop, root,] then time, "
                  "algbw, busbw, #wrong out-of-place and in-place)");
    if (L->n)
      return perr(L, line, "a second result table (the first one starts at "
                  "line %d): import one nccl-tests run per file",
                  L->hdr_line);
    L->hdr_line = line;
    L->hdr_fields = nt;
    L->t_idx = ti;
  }
  return 0;
}

/* A number >= 0 or "N/A" (nccl-tests' #wrong / error columns, in-place). */
static int num_or_na(const char *s, double lo)
{
  double v;
  return !strcmp(s, "N/A") || (num(s, &v) && v >= lo);
}

static int data_line(struct nlog *L, char *s, int line)
{
  char *t[MAX_TOK];
  int nt = tokens(s, t, MAX_TOK);
  int want = L->hdr_line ? L->hdr_fields : L->row_fields;
  if (nt > MAX_TOK)
    return perr(L, line, "not a row of the result table (too many fields)");
  if (want ? nt != want : nt < 11 || nt > 13)
    return perr(L, line, "%d fields, a row of this table has %s%d (a "
                "truncated or damaged row?)", nt, want ? "" : "11 to ",
                want ? want : 13);
  if (!want)
    L->row_fields = nt;
  int ti = L->hdr_line ? L->t_idx : nt - 8;
  double size, v[8];
  if (!is_uint(t[0]) || !is_uint(t[1]))
    return perr(L, line, "size and count must be whole numbers, got '%s' "
                "and '%s'", t[0], t[1]);
  size = strtod(t[0], NULL);
  if (size > 4.6e18)
    return perr(L, line, "size %s is out of range", t[0]);
  double tmp;
  if (num(t[2], &tmp))
    return perr(L, line, "the type column holds a number ('%s'): columns "
                "are out of place", t[2]);
  static const char *const what[4] = {"time", "algbw", "busbw", "#wrong"};
  for (int k = 0; k < 8; k++) {
    const char *f = t[ti + k];
    int ok;
    if (k == 3 || k == 7 || k >= 4)
      ok = num_or_na(f, 0);
    else
      ok = num(f, &v[k]) && v[k] >= 0;
    if (ok && k == 0 && !(v[0] > 0))
      ok = 0;
    if (!ok)
      return perr(L, line, "%s %s must be a number%s, got '%s'",
                  k < 4 ? "out-of-place" : "in-place", what[k % 4],
                  k == 0 ? " > 0" : k == 3 || k >= 4 ? " >= 0 or N/A"
                                                     : " >= 0", f);
  }
  if (size == 0)
    return 0; /* nccl-tests prints size-0 rows for tiny ranges */
  for (size_t i = 0; i < L->n; i++)
    if (L->rows[i].size == size)
      return perr(L, line, "size %s is listed twice (also line %d): import "
                  "logs of one data type and one reduction (-d <type> -o "
                  "<op>)", t[0], L->rows[i].line);
  if (L->n == L->cap) {
    size_t nc = L->cap ? L->cap * 2 : 32;
    struct nrow *nr = pl_realloc(L->rows, nc * sizeof *nr);
    if (!nr)
      return pl_errf(L->eb, PL_ENOMEM, "out of memory");
    L->rows = nr;
    L->cap = nc;
  }
  if (!L->n) {
    snprintf(L->type, sizeof L->type, "%s", t[2]);
    snprintf(L->redop, sizeof L->redop, "%s", ti > 3 ? t[3] : "");
  }
  struct nrow *r = &L->rows[L->n++];
  r->size = size;
  r->time_us = v[0];
  r->algbw = v[1];
  r->busbw = v[2];
  r->line = line;
  return 0;
}

static int parse_log(struct nlog *L, char *text, size_t len)
{
  int line = 0, rc;
  if (memchr(text, 0, len))
    return perr(L, 0, "binary data, not an nccl-tests log");
  for (size_t i = 0; i < len;) {
    char *s = text + i;
    char *nl = memchr(s, '\n', len - i);
    size_t e = nl ? (size_t)(nl - text) : len;
    int complete = nl != NULL;
    text[e] = 0; /* text has a NUL at len (its copy) */
    i = e + 1;
    line++;
    size_t l = strlen(s);
    if (l && s[l - 1] == '\r')
      s[--l] = 0;
    while (*s == ' ' || *s == '\t')
      s++;
    if (!*s)
      continue;
    if (strstr(s, "NCCL version "))
      note_version(L, s);
    if (*s == '#') {
      if ((rc = comment_line(L, s, line)))
        return rc;
      continue;
    }
    if (*s >= '0' && *s <= '9') {
      if (!complete)
        return perr(L, line, "truncated row: the file ends inside it (no "
                    "line break after the last row)");
      if ((rc = data_line(L, s, line)))
        return rc;
      continue;
    }
    note_command(L, s); /* mpirun ... all_reduce_perf -b 8 -e 8G */
  }
  return PL_OK;
}

/* ------------------------------------------------------------- import --- */

int pl_db_import_nccl(pl_db *db, const char *path, const pl_calib_info *info,
                      int op, int ranks, int nodes, size_t *n_rows,
                      int64_t *calib_id, struct pl_errbuf *eb)
{
  char *text = NULL;
  size_t len = 0;
  int rc;
  if (n_rows)
    *n_rows = 0;
  if (calib_id)
    *calib_id = 0;
  if (!path)
    return pl_errf(eb, PL_EINVAL, "no database, file or calibration info");
  if ((rc = pl_read_file(path, &text, &len, eb)))
    return rc;
  rc = pl_db_import_nccl_text(db, path, text, len, info, op, ranks, nodes,
                              n_rows, calib_id, eb);
  pl_free(text);
  return rc;
}

int pl_db_import_nccl_text(pl_db *db, const char *path, const char *data,
                           size_t len, const pl_calib_info *info, int op,
                           int ranks, int nodes, size_t *n_rows,
                           int64_t *calib_id, struct pl_errbuf *eb)
{
  struct nlog L;
  char *text = NULL;
  int rc;
  if (n_rows)
    *n_rows = 0;
  if (calib_id)
    *calib_id = 0;
  if (!db || !path || !info || (!data && len))
    return pl_errf(eb, PL_EINVAL, "no database, file or calibration info");
  if (op < -1 || op >= PL_COLL_NOPS)
    return pl_errf(eb, PL_EINVAL, "unknown collective %d (all_reduce, "
                   "reduce_scatter, all_gather, sendrecv)", op);
  if (ranks < 0 || nodes < 0 || (ranks > 0 && nodes > ranks))
    return pl_errf(eb, PL_EINVAL, "rank and node counts must be > 0 with "
                   "nodes <= ranks, got %d ranks on %d nodes", ranks, nodes);
  memset(&L, 0, sizeof L);
  L.path = path;
  L.banner_op = L.cmd_op = -1;
  L.max_rank = -1;
  L.eb = eb;
  /* the parser cuts its copy into lines */
  if (!(text = pl_malloc(len + 1)))
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  if (len)
    memcpy(text, data, len);
  text[len] = 0;
  if ((rc = parse_log(&L, text, len)))
    goto out;
  if (!info->gpu || !info->gpu[0]) {
    rc = pl_errf(eb, PL_EINVAL, "'%s': no GPU: pass --gpu <name> (the log's "
                 "devices: %s)", path, L.device[0] ? L.device : "unknown");
    goto out;
  }
  if (L.n == 0) {
    rc = perr(&L, 0, "no data rows (an nccl-tests log has rows such as "
              "'1048576  262144  float  sum  -1  ...' under its '#  size  "
              "count  type ...' header)");
    goto out;
  }
  if (op < 0)
    op = L.banner_line ? L.banner_op : L.cmd_conflict ? -1 : L.cmd_op;
  if (op < 0) {
    if (L.banner_line)
      rc = perr(&L, L.banner_line, "%s is not a collective pipelab stores "
                "(all_reduce_perf, reduce_scatter_perf, all_gather_perf, "
                "sendrecv_perf)", L.banner_name);
    else
      rc = perr(&L, 0, "cannot tell which collective this is%s: pass --op "
                "(all_reduce, reduce_scatter, all_gather or sendrecv)",
                L.cmd_conflict ? " (several *_perf programs are named)" : "");
    goto out;
  }
  if (L.n_rank_lines && L.max_rank + 1 != L.n_rank_lines && !ranks) {
    rc = perr(&L, 0, "the rank lines list %d ranks but go up to rank %d: "
              "some are missing", L.n_rank_lines, L.max_rank);
    goto out;
  }
  int n_ranks = ranks > 0 ? ranks : L.n_rank_lines;
  int n_nodes = nodes > 0 ? nodes : L.n_rank_lines ? L.n_hosts : 0;
  if (!n_ranks || !n_nodes) {
    rc = perr(&L, 0, "no rank lines ('#  Rank  0 Group  0 Pid ... on <host> "
              "device ...'): pass the rank and node counts (--ranks N "
              "--nodes N)");
    goto out;
  }
  if (n_nodes > n_ranks) {
    rc = perr(&L, 0, "%d nodes for %d ranks", n_nodes, n_ranks);
    goto out;
  }

  pl_calib_info ci = *info;
  char notes[256];
  const char *base = strrchr(path, '/');
  if (!ci.method || !ci.method[0])
    ci.method = "nccl-tests";
  if ((!ci.host || !ci.host[0]) && L.host0[0])
    ci.host = L.host0;
  if ((!ci.device_name || !ci.device_name[0]) && L.device[0])
    ci.device_name = L.device;
  if ((!ci.nccl_version || !ci.nccl_version[0]) && L.nccl_version[0])
    ci.nccl_version = L.nccl_version;
  if (!ci.notes || !ci.notes[0]) {
    snprintf(notes, sizeof notes, "nccl-tests %s_perf log '%s': %d ranks on "
             "%d node%s, %s%s%s", op_names[op], base ? base + 1 : path,
             n_ranks, n_nodes, n_nodes == 1 ? "" : "s", L.type,
             L.redop[0] ? " " : "", L.redop);
    ci.notes = notes;
  }
  int64_t id = 0;
  if ((rc = pl_db_calibration_begin(db, &ci, &id, eb)))
    goto out;
  sqlite3_stmt *st = NULL;
  int src = sqlite3_prepare_v2(
      pl__db_sqlite(db),
      "INSERT INTO collectives (calibration_id, op, n_ranks, n_nodes, "
      "size_bytes, time_us, algbw_bytes_per_s, busbw_bytes_per_s) VALUES "
      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      -1, &st, NULL);
  for (size_t i = 0; src == SQLITE_OK && i < L.n; i++) {
    const struct nrow *r = &L.rows[i];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, op_names[op], -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, n_ranks);
    sqlite3_bind_int(st, 4, n_nodes);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)r->size);
    sqlite3_bind_double(st, 6, r->time_us);
    sqlite3_bind_double(st, 7, r->algbw * 1e9);
    sqlite3_bind_double(st, 8, r->busbw * 1e9);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
      src = SQLITE_OK;
      sqlite3_reset(st);
    }
  }
  sqlite3_finalize(st);
  if (src != SQLITE_OK) {
    rc = pl__db_fail(db, src, "cannot import into", eb);
    pl_db_calibration_rollback(db);
    goto out;
  }
  if ((rc = pl_db_calibration_commit(db, eb)))
    goto out;
  if (n_rows)
    *n_rows = L.n;
  if (calib_id)
    *calib_id = id;
out:
  nlog_free(&L);
  pl_free(text);
  return rc;
}

/* -------------------------------------------------------------- lookup --- */

int pl_db_collective_busbw(pl_db *db, const char *gpu, int op, int n_ranks,
                           int n_nodes, double size_bytes, double *busbw,
                           int *n_used, struct pl_errbuf *eb)
{
  pl_gpu_spec g;
  int rc;
  if (!db || !gpu || !busbw)
    return pl_errf(eb, PL_EINVAL, "no database, GPU or output");
  if (!pl_coll_op_name(op))
    return pl_errf(eb, PL_EINVAL, "unknown collective %d", op);
  if (n_ranks < 1 || n_nodes < 1 || n_nodes > n_ranks || !(size_bytes > 0) ||
      !isfinite(size_bytes))
    return pl_errf(eb, PL_EINVAL, "collective lookup needs ranks >= nodes >= "
                   "1 and a size > 0 (got %d ranks, %d nodes, %g bytes)",
                   n_ranks, n_nodes, size_bytes);
  if ((rc = pl_db_get_gpu(db, gpu, &g, eb)))
    return rc;
  /* The newest calibration of this GPU with rows of op in the scope; in
   * it, the run whose rank count is closest (ties: the larger), then the
   * node count closest (ties: the larger). */
  static const char pick[] =
      "SELECT k.calibration_id, k.n_ranks, k.n_nodes FROM collectives k "
      "JOIN calibrations c ON c.id = k.calibration_id "
      "JOIN gpus g ON g.id = c.gpu_id "
      "WHERE g.name = ?1 COLLATE NOCASE AND k.op = ?2 "
      "AND (k.n_nodes > 1) = ?3 "
      "ORDER BY k.calibration_id DESC, abs(k.n_ranks - ?4), k.n_ranks DESC, "
      "abs(k.n_nodes - ?5), k.n_nodes DESC LIMIT 1";
  sqlite3 *s = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  int64_t cid = 0;
  int nr = 0, nn = 0;
  int src = sqlite3_prepare_v2(s, pick, -1, &st, NULL);
  if (src == SQLITE_OK) {
    sqlite3_bind_text(st, 1, g.name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, op_names[op], -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, n_nodes > 1);
    sqlite3_bind_int(st, 4, n_ranks);
    sqlite3_bind_int(st, 5, n_nodes);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
      cid = sqlite3_column_int64(st, 0);
      nr = sqlite3_column_int(st, 1);
      nn = sqlite3_column_int(st, 2);
      src = SQLITE_DONE;
    }
  }
  sqlite3_finalize(st);
  if (src != SQLITE_DONE)
    return pl__db_fail(db, src, "cannot read", eb);
  if (!cid)
    return pl_errf(eb, PL_ENOTFOUND, "no measured %s for %s on %s (import an "
                   "nccl-tests log with 'pipelab db import')", op_names[op],
                   g.name, n_nodes > 1 ? "several nodes" : "one node");
  /* Its sizes in order; repeated sizes are averaged. */
  src = sqlite3_prepare_v2(
      s,
      "SELECT size_bytes, CASE WHEN count(*) = 1 THEN max(busbw_bytes_per_s) "
      "ELSE avg(busbw_bytes_per_s) END FROM collectives WHERE "
      "calibration_id = ?1 AND op = ?2 AND n_ranks = ?3 AND n_nodes = ?4 "
      "GROUP BY size_bytes ORDER BY size_bytes",
      -1, &st, NULL);
  double ps = 0, pb = 0, res = 0;
  int have = 0, done = 0;
  if (src == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_text(st, 2, op_names[op], -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, nr);
    sqlite3_bind_int(st, 4, nn);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
      double sz = sqlite3_column_double(st, 0);
      double b = sqlite3_column_double(st, 1);
      if (!done) {
        if (size_bytes == sz || (!have && size_bytes < sz)) {
          res = b; /* exact, or held below the range */
          done = 1;
        } else if (size_bytes < sz) {
          double f = (log2(size_bytes) - log2(ps)) / (log2(sz) - log2(ps));
          res = pb + (b - pb) * f;
          done = 1;
        }
      }
      ps = sz;
      pb = b;
      have = 1;
    }
  }
  sqlite3_finalize(st);
  if (src != SQLITE_DONE)
    return pl__db_fail(db, src, "cannot read", eb);
  if (!have)
    return pl_errf(eb, PL_ENOTFOUND, "no measured %s for %s", op_names[op],
                   g.name);
  *busbw = done ? res : pb; /* held above the range */
  if (n_used)
    *n_used = nr;
  return PL_OK;
}
