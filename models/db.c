/* db.c: the SQLite store: open sequence, identity check, embedded
 * migrations, catalog lookups, calibration runs and CSV import
 * (docs/database.md). Every write is one BEGIN IMMEDIATE transaction; a file
 * that is not ours is reported and never modified. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "models_int.h"

struct pl_db {
  sqlite3 *db;
  char *path;
  int busy_ms;
  int in_calib;
  int64_t calib_id;
};

/* ------------------------------------------------------------ helpers --- */

/* The database's one error mapping: a SQLite result code to a pl_err and a
 * message that names the file; what says which step failed ("cannot read",
 * "cannot import into") except for a damaged or foreign file, whose message
 * is the same on every path. */
int pl__db_fail(pl_db *db, int rc, const char *what, struct pl_errbuf *eb)
{
  const char *path = db ? db->path : "?";
  const char *msg = db && db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return pl_errf(eb, PL_EDBLOCKED,
                   "%s database '%s': locked by another process (gave up "
                   "after %d ms)", what, path, db ? db->busy_ms : 0);
  case SQLITE_NOTADB:
  case SQLITE_CORRUPT:
    /* The file, not the step, is at fault: one message whatever met it. */
    return pl_errf(eb, PL_ENOTADB,
                   "cannot read database '%s': not a SQLite database or "
                   "corrupt (%s); file left untouched", path, msg);
  case SQLITE_READONLY:
    return pl_errf(eb, PL_EIO, "%s database '%s': the file or its directory "
                               "is read-only (%s)", what, path, msg);
  case SQLITE_CANTOPEN:
  case SQLITE_IOERR:
  case SQLITE_FULL:
  case SQLITE_PERM: {
    int se = db && db->db ? sqlite3_system_errno(db->db) : 0;
    return pl_errf(eb, PL_EIO, "%s database '%s': %s", what, path,
                   se ? strerror(se) : msg);
  }
  case SQLITE_CONSTRAINT:
    return pl_errf(eb, PL_EINVAL, "%s database '%s': %s", what, path, msg);
  default:
    return pl_errf(eb, PL_EDB, "%s database '%s': %s", what, path, msg);
  }
}

static int exec_sql(pl_db *db, const char *sql, const char *what,
                    struct pl_errbuf *eb)
{
  int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? PL_OK : pl__db_fail(db, rc, what, eb);
}

/* Runs a one-integer query ("PRAGMA user_version"). */
static int query_int(pl_db *db, const char *sql, int64_t *out,
                     struct pl_errbuf *eb)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int64(st, 0);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      *out = 0;
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? PL_OK : pl__db_fail(db, rc, "cannot read", eb);
}

static void copy_text(char *dst, size_t len, const unsigned char *s)
{
  snprintf(dst, len, "%s", s ? (const char *)s : "");
}

static int64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* mkdir -p of path's parent directory. */
static int make_parent(const char *path, struct pl_errbuf *eb)
{
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
    return pl_errf(eb, PL_EINVAL, "database path too long: '%s'", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return PL_OK;
  *slash = 0;
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = 0;
    if (mkdir(dir, 0777) && errno != EEXIST)
      return pl_errf(eb, PL_EIO, "cannot create directory '%s' for database "
                                 "'%s': %s", dir, path, strerror(errno));
    *p = '/';
  }
  if (mkdir(dir, 0777) && errno != EEXIST)
    return pl_errf(eb, PL_EIO, "cannot create directory '%s' for database "
                               "'%s': %s", dir, path, strerror(errno));
  return PL_OK;
}

/* ---------------------------------------------------------- migrations --- */

const char *pl_db_migration_sql(int version)
{
  for (const struct pl_embedded *e = pl_embedded_files(); e->name; e++) {
    const char *n = e->name;
    size_t l = strlen(n);
    if (l < 8 || strcmp(n + l - 4, ".sql") || n[3] != '_' || n[0] < '0' ||
        n[0] > '9' || n[1] < '0' || n[1] > '9' || n[2] < '0' || n[2] > '9')
      continue;
    if ((n[0] - '0') * 100 + (n[1] - '0') * 10 + (n[2] - '0') == version)
      return e->data;
  }
  return NULL;
}

/* Checks application_id / user_version / emptiness. *fresh = 1 for an empty
 * database that we may initialise. The three values come from ONE statement,
 * which SQLite runs in one read transaction: a database that another process
 * is creating at this moment is seen either empty or complete, never with
 * its tables but without its application_id. */
static int check_identity(pl_db *db, int64_t *uv, int *fresh,
                          struct pl_errbuf *eb)
{
  static const char sql[] =
      "SELECT (SELECT application_id FROM pragma_application_id), "
      "(SELECT user_version FROM pragma_user_version), "
      "(SELECT count(*) FROM sqlite_master)";
  int64_t app = 0, n = 0;
  sqlite3_stmt *st = NULL;
  *fresh = 0;
  *uv = 0;
  int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    app = sqlite3_column_int64(st, 0);
    *uv = sqlite3_column_int64(st, 1);
    n = sqlite3_column_int64(st, 2);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK)
    return pl__db_fail(db, rc, "cannot read", eb);
  if (app == 0 && *uv == 0 && n == 0) {
    *fresh = 1;
    return PL_OK;
  }
  if (app != PL_DB_APPLICATION_ID)
    return pl_errf(eb, PL_ENOTADB,
                   "cannot open database '%s': a SQLite database of another "
                   "application (application_id 0x%llx, not pipelab's 0x%x; "
                   "%lld schema objects); file left untouched", db->path,
                   (unsigned long long)app, PL_DB_APPLICATION_ID, (long long)n);
  if (*uv > PL_DB_SCHEMA_VERSION)
    return pl_errf(eb, PL_EDBVERSION,
                   "cannot open database '%s': schema version %lld is newer "
                   "than this pipelab's %d (pipelab %s); upgrade pipelab or "
                   "use another --db", db->path, (long long)*uv,
                   PL_DB_SCHEMA_VERSION, pl_version());
  return PL_OK;
}

/* Switches the journal mode of a new file. That needs the file to itself,
 * and SQLite answers SQLITE_BUSY at once, without the busy handler, while
 * another process has it open (creating the same database, say): retried
 * with short sleeps until the busy timeout. */
static int set_journal_mode(pl_db *db, const char *sql, struct pl_errbuf *eb)
{
  double t0 = pl_now_us();
  int nap = 1;
  for (;;) {
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
      return PL_OK;
    if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
        pl_now_us() - t0 >= 1e3 * db->busy_ms)
      return pl__db_fail(db, rc, "cannot initialise", eb);
    sqlite3_sleep(nap);
    nap = nap < 32 ? 2 * nap : 50;
  }
}

static int migrate(pl_db *db, struct pl_errbuf *eb)
{
  int64_t uv = 0;
  int fresh, rc;
  if (sqlite3_db_readonly(db->db, "main") == 1)
    return pl_errf(eb, PL_EIO, "cannot initialise database '%s': the file is "
                               "read-only", db->path);
  /* The whole schema in one exclusive transaction: other processes see
   * the file before or after, never half-created. */
  rc = sqlite3_exec(db->db, "BEGIN EXCLUSIVE", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return pl__db_fail(db, rc, "cannot initialise", eb);
  /* Another process may have migrated while we waited for the lock. */
  if ((rc = check_identity(db, &uv, &fresh, eb)))
    goto fail;
  for (int v = (int)uv + 1; v <= PL_DB_SCHEMA_VERSION; v++) {
    const char *sql = pl_db_migration_sql(v);
    if (!sql) {
      rc = pl_errf(eb, PL_EDB, "cannot initialise database '%s': migration "
                               "%03d is not built in", db->path, v);
      goto fail;
    }
    if ((rc = exec_sql(db, sql, "cannot migrate", eb)))
      goto fail;
  }
  char pragma[96];
  snprintf(pragma, sizeof pragma,
           "PRAGMA application_id=%d; PRAGMA user_version=%d",
           PL_DB_APPLICATION_ID, PL_DB_SCHEMA_VERSION);
  if ((rc = exec_sql(db, pragma, "cannot initialise", eb)))
    goto fail;
  rc = sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot initialise", eb);
    goto fail;
  }
  return PL_OK;
fail:
  sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* ---------------------------------------------------------------- open --- */

int pl_db_default_path(char *buf, size_t len, struct pl_errbuf *eb)
{
  const char *env = getenv("PIPELAB_DB"), *xdg = getenv("XDG_DATA_HOME");
  const char *home = getenv("HOME");
  int n;
  if (env && env[0])
    n = snprintf(buf, len, "%s", env);
  else if (xdg && xdg[0] == '/')
    n = snprintf(buf, len, "%s/pipelab/pipelab.db", xdg);
  else if (home && home[0])
    n = snprintf(buf, len, "%s/.local/share/pipelab/pipelab.db", home);
  else
    return pl_errf(eb, PL_EINVAL, "no database location: set PIPELAB_DB, "
                                  "XDG_DATA_HOME or HOME, or pass --db");
  if (n < 0 || (size_t)n >= len)
    return pl_errf(eb, PL_EINVAL, "database path too long");
  return PL_OK;
}

int pl_db_env_timeout(int *ms, struct pl_errbuf *eb)
{
  const char *t = getenv("PIPELAB_DB_TIMEOUT_MS");
  *ms = 0;
  if (!t || !t[0])
    return PL_OK;
  long v;
  if (pl_parse_long(t, 1, PL_DB_TIMEOUT_MAX_MS, &v)) {
    char shown[40];
    snprintf(shown, sizeof shown, "%.32s%s", t, strlen(t) > 32 ? "..." : "");
    for (char *c = shown; *c; c++)
      if ((unsigned char)*c < 0x20)
        *c = '?';
    return pl_errf(eb, PL_EINVAL, "PIPELAB_DB_TIMEOUT_MS must be a whole "
                   "number of milliseconds from 1 to %d, got '%s'; fix it or "
                   "unset it for the default %d", PL_DB_TIMEOUT_MAX_MS, shown,
                   PL_DB_BUSY_TIMEOUT_MS);
  }
  *ms = (int)v;
  return PL_OK;
}

/* Can this process create files next to path (SQLite's -shm and -wal)? */
static int dir_writable(const char *path)
{
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
    return 0;
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    slash[slash == dir] = 0; /* "/x.db" -> "/" */
  return access(dir, W_OK | X_OK) == 0;
}

/* Opens an existing file in a directory this process cannot write, for
 * reading only (PL_DB_READ_ONLY). SQLite could not create the WAL index
 * (-shm) that even a reader needs there, so the file is opened immutable (no
 * locks, no side files): a shared database in a read-only directory is taken
 * not to change while it is read. A -wal file left there holds transactions
 * an immutable reader would miss, so then the plain read-only open is used,
 * which works when the -shm file is there too. */
static int open_read_only(pl_db *db, const char *path)
{
  char side[PATH_MAX];
  struct stat st;
  int immutable = !dir_writable(path);
  if (immutable &&
      snprintf(side, sizeof side, "%s-wal", path) < (int)sizeof side &&
      stat(side, &st) == 0 && st.st_size > 0)
    immutable = 0;
  if (!immutable)
    return sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY, NULL);
  /* A URI filename: "file:" + the path with %, ? and # escaped. */
  size_t n = strlen(path);
  char *uri = pl_malloc(3 * n + 32);
  if (!uri)
    return SQLITE_NOMEM;
  char *u = uri + sprintf(uri, "file:%s", path[0] == '/' ? "//" : "");
  for (const char *p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '%' || c == '?' || c == '#' || c <= 0x20 || c >= 0x7f)
      u += sprintf(u, "%%%02X", c);
    else
      *u++ = (char)c;
  }
  strcpy(u, "?mode=ro&immutable=1");
  int rc = sqlite3_open_v2(uri, &db->db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
  pl_free(uri);
  return rc;
}

int pl_db_open(const char *path, unsigned flags, int busy_timeout_ms,
               pl_db **out, struct pl_errbuf *eb)
{
  char def[PATH_MAX];
  int rc, fresh = 0, memory;
  int64_t uv = 0;
  pl_db *db = NULL;
  *out = NULL;
  if (busy_timeout_ms <= 0 && (rc = pl_db_env_timeout(&busy_timeout_ms, eb)))
    return rc;
  if (!path || !path[0]) {
    if ((rc = pl_db_default_path(def, sizeof def, eb)))
      return rc;
    path = def;
  }
  memory = strcmp(path, ":memory:") == 0;
  int read_only = 0;
  if (!memory) {
    struct stat st;
    if (stat(path, &st) == 0) {
      if (S_ISDIR(st.st_mode))
        return pl_errf(eb, PL_EIO, "cannot open database '%s': is a "
                                   "directory", path);
      read_only = (flags & PL_DB_READ_ONLY) != 0;
    } else if (flags & PL_DB_NO_CREATE) {
      return pl_errf(eb, PL_ENOTFOUND, "no such database '%s' (create it "
                                       "with 'pipelab db init')", path);
    } else if ((rc = make_parent(path, eb))) {
      return rc;
    }
  }
  db = pl_calloc(1, sizeof *db);
  if (!db || !(db->path = pl_strdup(path))) {
    pl_free(db);
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  db->busy_ms = busy_timeout_ms > 0 ? busy_timeout_ms : PL_DB_BUSY_TIMEOUT_MS;
  if (read_only && !dir_writable(path)) {
    /* A current database is read as it is; an empty or older one needs
     * the read-write open below to be initialised or migrated (and fails
     * there, saying the file is read-only). */
    if ((rc = open_read_only(db, path)) != SQLITE_OK) {
      rc = pl__db_fail(db, rc, "cannot open", eb);
      goto fail;
    }
    sqlite3_extended_result_codes(db->db, 1);
    sqlite3_busy_timeout(db->db, db->busy_ms);
    if ((rc = exec_sql(db, "PRAGMA foreign_keys=ON", "cannot open", eb)) ||
        (rc = check_identity(db, &uv, &fresh, eb)))
      goto fail;
    if (!fresh && uv == PL_DB_SCHEMA_VERSION) {
      *out = db;
      return PL_OK;
    }
    sqlite3_close_v2(db->db);
    db->db = NULL;
  }
  rc = sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE |
                       ((flags & PL_DB_NO_CREATE) ? 0 : SQLITE_OPEN_CREATE),
                       NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot open", eb);
    goto fail;
  }
  sqlite3_extended_result_codes(db->db, 1);
  sqlite3_busy_timeout(db->db, db->busy_ms);
  if ((rc = exec_sql(db, "PRAGMA foreign_keys=ON", "cannot open", eb)))
    goto fail;
  /* The first real read: a non-database fails here (SQLITE_NOTADB). */
  if ((rc = check_identity(db, &uv, &fresh, eb)))
    goto fail;
  if (fresh && !memory) {
    const char *jm = (flags & PL_DB_JOURNAL_DELETE) ? "PRAGMA journal_mode=DELETE"
                                                    : "PRAGMA journal_mode=WAL";
    if ((rc = set_journal_mode(db, jm, eb)))
      goto fail;
  }
  if ((rc = exec_sql(db, "PRAGMA synchronous=NORMAL", "cannot open", eb)))
    goto fail;
  if (uv < PL_DB_SCHEMA_VERSION && (rc = migrate(db, eb)))
    goto fail;
  /* A reader in a writable directory opens the file as a writer would (so
   * the last connection still checkpoints and removes the -wal and -shm
   * files), but SQLite refuses any change through it. */
  if (read_only && (rc = exec_sql(db, "PRAGMA query_only=ON", "cannot open",
                                  eb)))
    goto fail;
  *out = db;
  return PL_OK;
fail:
  pl_db_close(db);
  return rc;
}

void pl_db_close(pl_db *db)
{
  if (!db)
    return;
  if (db->in_calib)
    pl_db_calibration_rollback(db);
  sqlite3_close_v2(db->db);
  pl_free(db->path);
  pl_free(db);
}

const char *pl_db_path(const pl_db *db) { return db ? db->path : NULL; }

struct sqlite3 *pl__db_sqlite(pl_db *db) { return db ? db->db : NULL; }

int pl_db_schema_version(pl_db *db)
{
  int64_t v = -1;
  if (query_int(db, "PRAGMA user_version", &v, NULL))
    return -1;
  return (int)v;
}

/* --------------------------------------------------------------- check --- */

int pl_db_check(pl_db *db, int *problems, char *report, size_t len,
                struct pl_errbuf *eb)
{
  static const char *const sql[2] = {
      "PRAGMA integrity_check(100)",
      "SELECT 'foreign key: ' || \"table\" || ' row ' || coalesce(rowid, '?') "
      "|| ' refers to a missing ' || parent FROM pragma_foreign_key_check"};
  struct pl_buf b;
  int n = 0, rc = PL_OK;
  pl_buf_init(&b, PL_BUF_MAX_DEFAULT); /* truncated when copied out */
  for (int i = 0; i < 2 && !rc; i++) {
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db->db, sql[i], -1, &st, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(st, 0);
      src = SQLITE_OK;
      if (i == 0 && t && !strcmp(t, "ok"))
        continue; /* integrity_check's single "ok" row */
      n++;
      pl_buf_addf(&b, "%s%s", b.len ? "\n" : "", t ? t : "(null)");
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
      rc = pl__db_fail(db, src, "cannot check", eb);
  }
  if (report && len) {
    snprintf(report, len, "%s", b.buf ? b.buf : "");
  }
  pl_buf_free(&b);
  *problems = n;
  return rc;
}

/* ------------------------------------------------------------- catalog --- */

#define GPU_COLS                                                             \
  "name, full_name, bf16_dense_flops, hbm_bytes, hbm_bytes_per_s, "          \
  "scaleup_bytes_per_s, scaleout_bytes_per_s, default_mfu, p2p_latency_us, " \
  "source, kind = 'cpu', coalesce(fp8_dense_flops, 0), "                      \
  "coalesce(fp4_dense_flops, 0), coalesce(host_link_bytes_per_s, 0), "        \
  "sm_count, gemm_efficiency, attn_efficiency, hbm_efficiency, "              \
  "kernel_launch_us, scaleup_domain, gpus_per_node, scaleup_latency_us, "     \
  "scaleout_latency_us, scaleup_coll_efficiency, scaleout_coll_efficiency, "  \
  "vendor, aliases, sustained_clock_ratio"
#define MODEL_COLS                                                           \
  "name, full_name, arch, layers, hidden, heads, kv_heads, ffn, vocab, "     \
  "seq_len, tied_embeddings, learned_pos, coalesce(published_params, 0), "   \
  "source"

static void row_gpu(sqlite3_stmt *st, pl_gpu_spec *g)
{
  memset(g, 0, sizeof *g);
  copy_text(g->name, sizeof g->name, sqlite3_column_text(st, 0));
  copy_text(g->full_name, sizeof g->full_name, sqlite3_column_text(st, 1));
  g->bf16_flops = sqlite3_column_double(st, 2);
  g->hbm_bytes = sqlite3_column_double(st, 3);
  g->hbm_bandwidth = sqlite3_column_double(st, 4);
  g->scaleup_bandwidth = sqlite3_column_double(st, 5);
  g->scaleout_bandwidth = sqlite3_column_double(st, 6);
  g->mfu = sqlite3_column_double(st, 7);
  g->p2p_latency_us = sqlite3_column_double(st, 8);
  copy_text(g->source, sizeof g->source, sqlite3_column_text(st, 9));
  g->is_cpu = sqlite3_column_int(st, 10);
  g->fp8_flops = sqlite3_column_double(st, 11);
  g->fp4_flops = sqlite3_column_double(st, 12);
  g->host_bandwidth = sqlite3_column_double(st, 13);
  g->sm_count = sqlite3_column_int(st, 14);
  g->gemm_eff = sqlite3_column_double(st, 15);
  g->attn_eff = sqlite3_column_double(st, 16);
  g->hbm_eff = sqlite3_column_double(st, 17);
  g->launch_us = sqlite3_column_double(st, 18);
  g->scaleup_domain = sqlite3_column_int(st, 19);
  g->gpus_per_node = sqlite3_column_int(st, 20);
  g->scaleup_latency_us = sqlite3_column_double(st, 21);
  g->scaleout_latency_us = sqlite3_column_double(st, 22);
  g->scaleup_coll_eff = sqlite3_column_double(st, 23);
  g->scaleout_coll_eff = sqlite3_column_double(st, 24);
  copy_text(g->vendor, sizeof g->vendor, sqlite3_column_text(st, 25));
  copy_text(g->aliases, sizeof g->aliases, sqlite3_column_text(st, 26));
  g->clock_ratio = sqlite3_column_double(st, 27);
}

static void row_model(sqlite3_stmt *st, pl_model_spec *m)
{
  memset(m, 0, sizeof *m);
  copy_text(m->name, sizeof m->name, sqlite3_column_text(st, 0));
  copy_text(m->full_name, sizeof m->full_name, sqlite3_column_text(st, 1));
  const unsigned char *arch = sqlite3_column_text(st, 2);
  m->arch = arch && !strcmp((const char *)arch, "llama") ? PL_ARCH_LLAMA
                                                         : PL_ARCH_GPT;
  m->layers = sqlite3_column_int(st, 3);
  m->hidden = sqlite3_column_int(st, 4);
  m->heads = sqlite3_column_int(st, 5);
  m->kv_heads = sqlite3_column_int(st, 6);
  m->ffn = sqlite3_column_int(st, 7);
  m->vocab = sqlite3_column_int(st, 8);
  m->seq_len = sqlite3_column_int(st, 9);
  m->tied_embeddings = sqlite3_column_int(st, 10);
  m->learned_pos = sqlite3_column_int(st, 11);
  m->published_params = sqlite3_column_double(st, 12);
  copy_text(m->source, sizeof m->source, sqlite3_column_text(st, 13));
}

/* "a100, b200, ..." of a catalog table into buf. */
static void list_names(pl_db *db, const char *table, char *buf, size_t len)
{
  char sql[96];
  sqlite3_stmt *st = NULL;
  size_t used = 0;
  buf[0] = 0;
  snprintf(sql, sizeof sql, "SELECT name FROM %s ORDER BY name", table);
  if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) == SQLITE_OK)
    while (sqlite3_step(st) == SQLITE_ROW && used + 40 < len) {
      int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                       (const char *)sqlite3_column_text(st, 0));
      if (n > 0)
        used += (size_t)n;
    }
  sqlite3_finalize(st);
}

static int get_one(pl_db *db, const char *table, const char *cols,
                   const char *kind, const char *name, void *out,
                   void (*row)(sqlite3_stmt *, void *), struct pl_errbuf *eb)
{
  char sql[2048];
  sqlite3_stmt *st = NULL;
  /* GPUs also answer to their aliases (schema 4), after name and full name */
  snprintf(sql, sizeof sql,
           "SELECT %s FROM %s WHERE name = ?1 COLLATE NOCASE OR "
           "full_name = ?1 COLLATE NOCASE%s ORDER BY (name = ?1 COLLATE "
           "NOCASE) DESC, id LIMIT 1", cols, table,
           strcmp(table, "gpus") ? ""
                                 : " OR instr(',' || lower(aliases) || ',', "
                                   "',' || lower(?1) || ',') > 0");
  int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    row(st, out);
    sqlite3_finalize(st);
    return PL_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return pl__db_fail(db, rc, "cannot read", eb);
  char names[768];
  list_names(db, table, names, sizeof names);
  return pl_errf(eb, PL_ENOTFOUND, "unknown %s '%s' (known: %s)", kind, name,
                 names);
}

static void row_gpu_v(sqlite3_stmt *st, void *p) { row_gpu(st, p); }
static void row_model_v(sqlite3_stmt *st, void *p) { row_model(st, p); }

int pl_db_get_gpu(pl_db *db, const char *name, pl_gpu_spec *out,
                  struct pl_errbuf *eb)
{
  return get_one(db, "gpus", GPU_COLS, "GPU", name, out, row_gpu_v, eb);
}

int pl_db_get_model(pl_db *db, const char *name, pl_model_spec *out,
                    struct pl_errbuf *eb)
{
  return get_one(db, "models", MODEL_COLS, "model", name, out, row_model_v,
                 eb);
}

static int list_all(pl_db *db, const char *sql, size_t elem, void **out,
                    size_t *n, void (*row)(sqlite3_stmt *, void *),
                    struct pl_errbuf *eb)
{
  sqlite3_stmt *st = NULL;
  char *arr = NULL;
  size_t cnt = 0, cap = 0;
  int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  *out = NULL;
  *n = 0;
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      char *na = pl_realloc(arr, nc * elem);
      if (!na) {
        sqlite3_finalize(st);
        pl_free(arr);
        return pl_errf(eb, PL_ENOMEM, "out of memory");
      }
      arr = na;
      cap = nc;
    }
    row(st, arr + cnt * elem);
    cnt++;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    pl_free(arr);
    return pl__db_fail(db, rc, "cannot read", eb);
  }
  *out = arr;
  *n = cnt;
  return PL_OK;
}

int pl_db_list_gpus(pl_db *db, pl_gpu_spec **out, size_t *n,
                    struct pl_errbuf *eb)
{
  return list_all(db, "SELECT " GPU_COLS " FROM gpus ORDER BY name",
                  sizeof **out, (void **)out, n, row_gpu_v, eb);
}

int pl_db_list_models(pl_db *db, pl_model_spec **out, size_t *n,
                      struct pl_errbuf *eb)
{
  return list_all(db, "SELECT " MODEL_COLS " FROM models ORDER BY arch, "
                      "layers * hidden * hidden, name",
                  sizeof **out, (void **)out, n, row_model_v, eb);
}

/* --------------------------------------------------------- calibration --- */

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
  if (s && s[0])
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

int pl_db_calibration_begin(pl_db *db, const pl_calib_info *info, int64_t *id,
                            struct pl_errbuf *eb)
{
  char host[256] = "unknown";
  sqlite3_stmt *st = NULL;
  pl_gpu_spec g;
  int rc;
  if (!db || !info || !info->gpu || !info->method || !info->method[0])
    return pl_errf(eb, PL_EINVAL, "calibration needs a GPU and a method");
  if (db->in_calib)
    return pl_errf(eb, PL_EMISUSE, "a calibration is already open on '%s'",
                   db->path);
  if ((rc = pl_db_get_gpu(db, info->gpu, &g, eb)))
    return rc;
  if (info->host && info->host[0])
    snprintf(host, sizeof host, "%s", info->host);
  else if (gethostname(host, sizeof host - 1) != 0)
    snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = 0;
  rc = sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return pl__db_fail(db, rc, "cannot write to", eb);
  rc = sqlite3_prepare_v2(
      db->db,
      "INSERT INTO calibrations (gpu_id, device_name, host, driver_version, "
      "cuda_version, nccl_version, created_at_ns, pipelab_version, method, "
      "notes) VALUES ((SELECT id FROM gpus WHERE name = ?1 COLLATE NOCASE), "
      "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, g.name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, info->device_name && info->device_name[0]
                                 ? info->device_name : g.full_name,
                      -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, host, -1, SQLITE_TRANSIENT);
    bind_opt_text(st, 4, info->driver_version);
    bind_opt_text(st, 5, info->cuda_version);
    bind_opt_text(st, 6, info->nccl_version);
    sqlite3_bind_int64(st, 7, info->created_at_ns > 0 ? info->created_at_ns
                                                      : now_ns());
    sqlite3_bind_text(st, 8, info->pipelab_version ? info->pipelab_version
                                                   : pl_version(),
                      -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, info->method, -1, SQLITE_TRANSIENT);
    bind_opt_text(st, 10, info->notes);
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    rc = pl__db_fail(db, rc, "cannot write to", eb);
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  db->in_calib = 1;
  db->calib_id = sqlite3_last_insert_rowid(db->db);
  if (id)
    *id = db->calib_id;
  return PL_OK;
}

int pl_db_calibration_add_sample(pl_db *db, const pl_sample *s,
                                 struct pl_errbuf *eb)
{
  sqlite3_stmt *st = NULL;
  if (!db || !db->in_calib)
    return pl_errf(eb, PL_EMISUSE, "add_sample without calibration_begin");
  if (s->op_kind < PL_OP_F || s->op_kind > PL_OP_BW)
    return pl_errf(eb, PL_EINVAL, "sample op kind must be F, B, W or BW");
  int rc = sqlite3_prepare_v2(
      db->db,
      "INSERT INTO samples (calibration_id, op_kind, layer_kind, model_name, "
      "mb_size, seq_len, hidden, dtype, tp, mean_us, stddev_us, count) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
      -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, db->calib_id);
    sqlite3_bind_text(st, 2, pl_op_kind_name(s->op_kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s->layer_kind ? s->layer_kind : "transformer", -1,
                      SQLITE_TRANSIENT);
    bind_opt_text(st, 4, s->model);
    sqlite3_bind_int(st, 5, s->mb_size);
    sqlite3_bind_int(st, 6, s->seq_len);
    sqlite3_bind_int(st, 7, s->hidden);
    sqlite3_bind_text(st, 8, s->dtype ? s->dtype : "bf16", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 9, s->tp);
    sqlite3_bind_double(st, 10, s->mean_us);
    sqlite3_bind_double(st, 11, s->stddev_us);
    sqlite3_bind_int(st, 12, s->count);
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? PL_OK : pl__db_fail(db, rc, "cannot add a sample to", eb);
}

int pl_db_calibration_add_link(pl_db *db, const pl_link_cost *l,
                               struct pl_errbuf *eb)
{
  sqlite3_stmt *st = NULL;
  if (!db || !db->in_calib)
    return pl_errf(eb, PL_EMISUSE, "add_link without calibration_begin");
  int rc = sqlite3_prepare_v2(
      db->db,
      "INSERT INTO p2p_links (calibration_id, link_kind, latency_us, "
      "bytes_per_s) VALUES (?1, ?2, ?3, ?4)",
      -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, db->calib_id);
    sqlite3_bind_text(st, 2, l->link_kind ? l->link_kind : "", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, l->latency_us);
    sqlite3_bind_double(st, 4, l->bandwidth);
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? PL_OK : pl__db_fail(db, rc, "cannot add a link to", eb);
}

int pl_db_calibration_commit(pl_db *db, struct pl_errbuf *eb)
{
  if (!db || !db->in_calib)
    return pl_errf(eb, PL_EMISUSE, "commit without calibration_begin");
  int rc = sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot commit to", eb);
    pl_db_calibration_rollback(db);
    return rc;
  }
  db->in_calib = 0;
  return PL_OK;
}

void pl_db_calibration_rollback(pl_db *db)
{
  if (!db || !db->in_calib)
    return;
  sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
  db->in_calib = 0;
}

int pl_db_has_measurements(pl_db *db, const char *gpu, int *yes,
                           struct pl_errbuf *eb)
{
  sqlite3_stmt *st = NULL;
  *yes = 0;
  int rc = sqlite3_prepare_v2(
      db->db,
      "SELECT EXISTS (SELECT 1 FROM calibrations c JOIN gpus g "
      "ON g.id = c.gpu_id WHERE g.name = ?1 COLLATE NOCASE)",
      -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, gpu, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    *yes = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return PL_OK;
  }
  sqlite3_finalize(st);
  return pl__db_fail(db, rc, "cannot read", eb);
}

int pl_db_link_cost(pl_db *db, const char *gpu, const char *link_kind,
                    double *latency_us, double *bandwidth,
                    struct pl_errbuf *eb)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db->db,
      "SELECT l.latency_us, l.bytes_per_s FROM p2p_links l "
      "JOIN calibrations c ON c.id = l.calibration_id "
      "JOIN gpus g ON g.id = c.gpu_id "
      "WHERE g.name = ?1 COLLATE NOCASE AND l.link_kind = ?2 "
      "ORDER BY c.id DESC LIMIT 1",
      -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, gpu, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, link_kind, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
  }
  if (rc == SQLITE_ROW) {
    *latency_us = sqlite3_column_double(st, 0);
    *bandwidth = sqlite3_column_double(st, 1);
    sqlite3_finalize(st);
    return PL_OK;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE)
    return pl_errf(eb, PL_ENOTFOUND, "no measured %s link for %s", link_kind,
                   gpu);
  return pl__db_fail(db, rc, "cannot read", eb);
}

int pl__db_samples(pl_db *db, const char *gpu, const char *model,
                   const char *layer_kind, int op_kind, int hidden, int tp,
                   const char *dtype, int per_point, struct pl__point **out,
                   size_t *n, int64_t *calib_id, struct pl_errbuf *eb)
{
  /* The newest calibration with samples for the key wins (per_point: the
   * newest one per (mb_size, seq_len) point); repeated points inside it are
   * averaged, weighted by their counts. */
  static const char sql[] =
      "WITH k AS (SELECT s.* FROM samples s "
      "  JOIN calibrations c ON c.id = s.calibration_id "
      "  JOIN gpus g ON g.id = c.gpu_id "
      "  WHERE g.name = ?1 COLLATE NOCASE AND s.layer_kind = ?2 "
      "  AND s.op_kind = ?3 AND s.hidden = ?4 AND s.tp = ?5 "
      "  AND s.dtype = ?7 "
      "  AND (s.model_name IS NULL OR s.model_name = ?6 COLLATE NOCASE)) "
      "SELECT mb_size, seq_len, sum(mean_us * count) / sum(count), "
      "  max(calibration_id) FROM k "
      "WHERE calibration_id = (SELECT max(calibration_id) FROM k k2 "
      "  WHERE ?8 = 0 OR (k2.mb_size = k.mb_size AND k2.seq_len = k.seq_len)) "
      "GROUP BY mb_size, seq_len ORDER BY seq_len, mb_size";
  sqlite3_stmt *st = NULL;
  struct pl__point *pts = NULL;
  size_t cnt = 0, cap = 0;
  *out = NULL;
  *n = 0;
  int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, gpu, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, layer_kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, pl_op_kind_name(op_kind), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, hidden);
    sqlite3_bind_int(st, 5, tp);
    sqlite3_bind_text(st, 6, model ? model : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, dtype, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 8, per_point);
  }
  if (calib_id)
    *calib_id = 0;
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      struct pl__point *np = pl_realloc(pts, nc * sizeof *np);
      if (!np) {
        sqlite3_finalize(st);
        pl_free(pts);
        return pl_errf(eb, PL_ENOMEM, "out of memory");
      }
      pts = np;
      cap = nc;
    }
    pts[cnt].b = sqlite3_column_double(st, 0);
    pts[cnt].s = sqlite3_column_double(st, 1);
    pts[cnt].us = sqlite3_column_double(st, 2);
    if (calib_id && sqlite3_column_int64(st, 3) > *calib_id)
      *calib_id = sqlite3_column_int64(st, 3);
    cnt++;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    pl_free(pts);
    return pl__db_fail(db, rc, "cannot read", eb);
  }
  *out = pts;
  *n = cnt;
  return PL_OK;
}

/* ---------------------------------------------------------- CSV import --- */

enum { COL_OP, COL_LAYER, COL_MODEL, COL_MB, COL_SEQ, COL_HIDDEN, COL_DTYPE,
       COL_TP, COL_MEAN, COL_STDDEV, COL_COUNT, COL_GPU, COL_CALIB, NCOLS };
static const char *const col_names[NCOLS] = {
    "op", "layer", "model", "mb_size", "seq_len", "hidden", "dtype", "tp",
    "mean_us", "stddev_us", "count", "gpu", "calibration_id"};
#define KNOWN_COLS                                                           \
  "op, layer, model, mb_size, seq_len, hidden, dtype, tp, mean_us, "         \
  "stddev_us, count, gpu, calibration_id"

/* Sample files go through the base layer's RFC 4180 reader: unquoted fields
 * lose the spaces around them; blank lines and lines starting with '#' are
 * skipped. pl_csv_error_text words a syntax error. */
enum { CSV_FLAGS = PL_CSV_TRIM | PL_CSV_SKIP_BLANK | PL_CSV_COMMENTS };


static int parse_int_field(const char *s, long lo, long hi, int *out)
{
  long v;
  if (pl_parse_long(s, lo, hi, &v))
    return -1;
  *out = (int)v;
  return 0;
}

static int parse_dbl_field(const char *s, double lo, double *out)
{
  return pl_parse_double(s, lo, 1e300, out) ? -1 : 0;
}

int pl_db_import_csv(pl_db *db, const char *path, const pl_calib_info *info,
                     size_t *n_rows, int64_t *calib_id, struct pl_errbuf *eb)
{
  char *text = NULL;
  size_t len = 0;
  if (n_rows)
    *n_rows = 0;
  if (calib_id)
    *calib_id = 0;
  int rc = pl_read_file(path, &text, &len, eb);
  if (rc)
    return rc;
  rc = pl_db_import_csv_text(db, path, text, len, info, n_rows, calib_id, eb);
  pl_free(text);
  return rc;
}

int pl_db_import_csv_text(pl_db *db, const char *path, const char *data,
                          size_t len, const pl_calib_info *info,
                          size_t *n_rows, int64_t *calib_id,
                          struct pl_errbuf *eb)
{
  char gpu[64] = "";
  size_t rows = 0;
  int idx[NCOLS], rc, line_no = 0, header = 1, begun = 0;
  pl_calib_info ci = *info;
  struct pl_csv cr;
  if (n_rows)
    *n_rows = 0;
  if (calib_id)
    *calib_id = 0;
  if (db->in_calib)
    return pl_errf(eb, PL_EMISUSE, "a calibration is already open on '%s'",
                   db->path);
  if (!ci.method)
    ci.method = "import";
  if (!data && len)
    return pl_errf(eb, PL_EINVAL, "no text");
  if (len && memchr(data, 0, len))
    return pl_errf(eb, PL_EPARSE, "'%s': binary data, not a CSV file", path);
  for (int i = 0; i < NCOLS; i++)
    idx[i] = -1;
  /* The reader skips a UTF-8 byte order mark (spreadsheets write one). */
  pl_csv_init(&cr, data, len, CSV_FLAGS);
  for (;;) {
    int got = pl_csv_next(&cr, eb);
    if (got == PL_ENOMEM) {
      rc = got;
      goto fail;
    }
    if (got < 0) {
      rc = pl_errf(eb, PL_EPARSE, "'%s' line %d: %s", path, cr.err_line,
                   pl_csv_error_text(&cr));
      goto fail;
    }
    if (got == 0)
      break;
    line_no = cr.line;
    char **f = cr.f;
    int nf = cr.nf;
    if (header) {
      if (nf > NCOLS) {
        rc = pl_errf(eb, PL_EPARSE, "'%s' line %d: too many columns (known: "
                                    KNOWN_COLS ")", path, line_no);
        goto fail;
      }
      for (int i = 0; i < nf; i++) {
        int k;
        for (k = 0; k < NCOLS; k++)
          if (!strcasecmp(f[i], col_names[k]))
            break;
        if (k == NCOLS || idx[k] >= 0) {
          rc = pl_errf(eb, PL_EPARSE, "'%s' line %d: %s column '%s' (known: "
                                      KNOWN_COLS ")", path, line_no,
                       k == NCOLS ? "unknown" : "repeated", f[i]);
          goto fail;
        }
        idx[k] = i;
      }
      if (!ci.gpu && idx[COL_GPU] < 0) {
        rc = pl_errf(eb, PL_EINVAL, "'%s': no GPU: pass --gpu <name> or add a "
                                    "gpu column", path);
        goto fail;
      }
      static const int req[] = {COL_OP, COL_MB, COL_SEQ, COL_HIDDEN, COL_MEAN};
      for (size_t r = 0; r < sizeof req / sizeof req[0]; r++)
        if (idx[req[r]] < 0) {
          rc = pl_errf(eb, PL_EPARSE, "'%s' line %d: the header lacks the "
                                      "required column '%s'", path, line_no,
                       col_names[req[r]]);
          goto fail;
        }
      header = 0;
      continue;
    }
    int ncols = 0;
    for (int k = 0; k < NCOLS; k++)
      if (idx[k] >= 0)
        ncols++;
    if (nf != ncols) {
      rc = pl_errf(eb, PL_EPARSE, "'%s' line %d: %d fields, the header has %d",
                   path, line_no, nf, ncols);
      goto fail;
    }
    pl_sample s = PL_SAMPLE_INIT;
    const char *op = f[idx[COL_OP]];
    const char *bad = NULL;
    if (!strcmp(op, "F")) s.op_kind = PL_OP_F;
    else if (!strcmp(op, "B")) s.op_kind = PL_OP_B;
    else if (!strcmp(op, "W")) s.op_kind = PL_OP_W;
    else if (!strcmp(op, "BW")) s.op_kind = PL_OP_BW;
    else bad = "op must be F, B, W or BW";
    if (!bad && idx[COL_LAYER] >= 0) {
      s.layer_kind = f[idx[COL_LAYER]];
      if (strcmp(s.layer_kind, "transformer") && strcmp(s.layer_kind, "lm_head") &&
          strcmp(s.layer_kind, "embedding"))
        bad = "layer must be transformer, lm_head or embedding";
    }
    if (!bad && idx[COL_MODEL] >= 0 && f[idx[COL_MODEL]][0])
      s.model = f[idx[COL_MODEL]];
    if (!bad && parse_int_field(f[idx[COL_MB]], 1, 1 << 20, &s.mb_size))
      bad = "mb_size must be an integer >= 1";
    if (!bad && parse_int_field(f[idx[COL_SEQ]], 1, 1 << 30, &s.seq_len))
      bad = "seq_len must be an integer >= 1";
    if (!bad && parse_int_field(f[idx[COL_HIDDEN]], 1, 1 << 24, &s.hidden))
      bad = "hidden must be an integer >= 1";
    if (!bad && idx[COL_DTYPE] >= 0) {
      s.dtype = f[idx[COL_DTYPE]];
      if (strcmp(s.dtype, "bf16") && strcmp(s.dtype, "fp16") &&
          strcmp(s.dtype, "fp32") && strcmp(s.dtype, "fp8") &&
          strcmp(s.dtype, "fp64"))
        bad = "dtype must be bf16, fp16, fp32, fp8 or fp64";
    }
    if (!bad && idx[COL_TP] >= 0 &&
        parse_int_field(f[idx[COL_TP]], 1, 1 << 16, &s.tp))
      bad = "tp must be an integer >= 1";
    if (!bad && (parse_dbl_field(f[idx[COL_MEAN]], 0, &s.mean_us) ||
                 s.mean_us <= 0))
      bad = "mean_us must be a number > 0";
    if (!bad && idx[COL_STDDEV] >= 0 &&
        parse_dbl_field(f[idx[COL_STDDEV]], 0, &s.stddev_us))
      bad = "stddev_us must be a number >= 0";
    if (!bad && idx[COL_COUNT] >= 0 &&
        parse_int_field(f[idx[COL_COUNT]], 1, INT_MAX, &s.count))
      bad = "count must be an integer >= 1";
    if (!bad && idx[COL_GPU] >= 0) {
      const char *rg = f[idx[COL_GPU]];
      if (!begun && !ci.gpu)
        snprintf(gpu, sizeof gpu, "%s", rg);
      else if (strcasecmp(rg, ci.gpu ? ci.gpu : gpu))
        bad = "all rows must name the same gpu (one calibration run per file)";
    }
    if (bad) {
      rc = pl_errf(eb, PL_EPARSE, "'%s' line %d: %s", path, line_no, bad);
      goto fail;
    }
    if (!begun) {
      if (!ci.gpu)
        ci.gpu = gpu;
      if ((rc = pl_db_calibration_begin(db, &ci, calib_id, eb)))
        goto out;
      begun = 1;
    }
    if ((rc = pl_db_calibration_add_sample(db, &s, eb))) {
      if (rc == PL_EINVAL) {
        /* eb->msg is both the destination and an argument: copy it. */
        char why[PL_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", eb ? eb->msg : "invalid sample");
        rc = pl_errf(eb, PL_EPARSE, "'%s' line %d: %s", path, line_no, why);
      }
      goto fail;
    }
    rows++;
  }
  if (header) {
    rc = pl_errf(eb, PL_EPARSE, "'%s': empty file (expected a header line "
                                "such as op,mb_size,seq_len,hidden,mean_us)",
                 path);
    goto fail;
  }
  if (rows == 0) {
    rc = pl_errf(eb, PL_EPARSE, "'%s': no sample rows after the header", path);
    goto fail;
  }
  if ((rc = pl_db_calibration_commit(db, eb)))
    goto out;
  if (n_rows)
    *n_rows = rows;
  goto out;
fail:
  pl_db_calibration_rollback(db);
out:
  pl_csv_free(&cr);
  return rc;
}
