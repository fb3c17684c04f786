/* catalog.c: adding GPUs and models to the catalog (`pipelab db add`),
 * catalog imports from CSV and JSON files, and the choice of importer for
 * `pipelab db import` (docs/database.md). One table of columns per catalog
 * table drives the parsing of CSV cells and JSON values, the checks and the
 * SQL, so the three ways in (a spec, a CSV row, a JSON object) share one
 * path. Every write is one BEGIN IMMEDIATE transaction. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sqlite3.h>

#include "models_int.h"

/* ------------------------------------------------------------- columns --- */

/* How a column is read, checked and stored. */
enum rule {
  R_NAME,    /* text key: 1..31 characters, not a number, no comma */
  R_TEXT,    /* free text (default in the column's dflt_text) */
  R_ALIASES, /* comma-separated names */
  R_POS,     /* double > 0, required */
  R_BYTES,   /* double > 0, stored as a whole INTEGER */
  R_OPT,     /* double >= 0; 0 = NULL (none / unknown) */
  R_EFF,     /* double in (0, 1]; 0 = default */
  R_COUNT,   /* int > 0; 0 = default */
  R_TIME,    /* double >= 0; negative = default */
  R_ARCH,    /* "gpt" | "llama" as enum pl_arch */
  R_INT,     /* int > 0, required */
  R_KV,      /* int > 0; 0 = heads */
  R_BOOL,    /* int 0 | 1; -1 = default */
  R_PARAMS   /* double >= 0; 0 = NULL */
};

struct col {
  const char *name; /* column of the table (and key of CSV / JSON) */
  int rule;
  size_t off, len;  /* field in the spec; len = text buffer size */
  int required;     /* in imports */
  double dflt;      /* value stored when the field is "default": NAN = the
                       table's own DEFAULT (column left out of the INSERT) */
  const char *dflt_text;
};

#define G(f) offsetof(pl_gpu_spec, f), sizeof(((pl_gpu_spec *)0)->f)
#define M(f) offsetof(pl_model_spec, f), sizeof(((pl_model_spec *)0)->f)

static const struct col gpu_cols[] = {
    {"name", R_NAME, G(name), 1, NAN, NULL},
    {"full_name", R_TEXT, G(full_name), 0, NAN, NULL},
    {"vendor", R_TEXT, G(vendor), 0, NAN, "unknown"},
    {"bf16_dense_flops", R_POS, G(bf16_flops), 1, NAN, NULL},
    {"hbm_bytes", R_BYTES, G(hbm_bytes), 1, NAN, NULL},
    {"hbm_bytes_per_s", R_POS, G(hbm_bandwidth), 1, NAN, NULL},
    {"scaleup_bytes_per_s", R_POS, G(scaleup_bandwidth), 1, NAN, NULL},
    {"scaleout_bytes_per_s", R_POS, G(scaleout_bandwidth), 1, NAN, NULL},
    {"host_link_bytes_per_s", R_OPT, G(host_bandwidth), 0, NAN, NULL},
    {"default_mfu", R_EFF, G(mfu), 0, 0.5, NULL},
    {"p2p_latency_us", R_TIME, G(p2p_latency_us), 0, 10, NULL},
    {"source", R_TEXT, G(source), 0, NAN, "user-defined"},
    {"fp8_dense_flops", R_OPT, G(fp8_flops), 0, NAN, NULL},
    {"fp4_dense_flops", R_OPT, G(fp4_flops), 0, NAN, NULL},
    {"sm_count", R_COUNT, G(sm_count), 0, NAN, NULL},
    {"gemm_efficiency", R_EFF, G(gemm_eff), 0, NAN, NULL},
    {"attn_efficiency", R_EFF, G(attn_eff), 0, NAN, NULL},
    {"hbm_efficiency", R_EFF, G(hbm_eff), 0, NAN, NULL},
    {"kernel_launch_us", R_TIME, G(launch_us), 0, NAN, NULL},
    {"scaleup_domain", R_COUNT, G(scaleup_domain), 0, NAN, NULL},
    {"gpus_per_node", R_COUNT, G(gpus_per_node), 0, NAN, NULL},
    {"scaleup_latency_us", R_TIME, G(scaleup_latency_us), 0, NAN, NULL},
    {"scaleout_latency_us", R_TIME, G(scaleout_latency_us), 0, NAN, NULL},
    {"scaleup_coll_efficiency", R_EFF, G(scaleup_coll_eff), 0, NAN, NULL},
    {"scaleout_coll_efficiency", R_EFF, G(scaleout_coll_eff), 0, NAN, NULL},
    {"aliases", R_ALIASES, G(aliases), 0, NAN, NULL},
    {"sustained_clock_ratio", R_EFF, G(clock_ratio), 0, NAN, NULL}};
#define N_GPU_COLS ((int)(sizeof gpu_cols / sizeof gpu_cols[0]))

static const struct col model_cols[] = {
    {"name", R_NAME, M(name), 1, NAN, NULL},
    {"full_name", R_TEXT, M(full_name), 0, NAN, NULL},
    {"arch", R_ARCH, M(arch), 0, NAN, NULL},
    {"layers", R_INT, M(layers), 1, NAN, NULL},
    {"hidden", R_INT, M(hidden), 1, NAN, NULL},
    {"heads", R_INT, M(heads), 1, NAN, NULL},
    {"kv_heads", R_KV, M(kv_heads), 0, NAN, NULL},
    {"ffn", R_INT, M(ffn), 1, NAN, NULL},
    {"vocab", R_INT, M(vocab), 1, NAN, NULL},
    {"seq_len", R_INT, M(seq_len), 1, NAN, NULL},
    {"tied_embeddings", R_BOOL, M(tied_embeddings), 0, NAN, NULL},
    {"learned_pos", R_BOOL, M(learned_pos), 0, NAN, NULL},
    {"published_params", R_PARAMS, M(published_params), 0, NAN, NULL},
    {"source", R_TEXT, M(source), 0, NAN, "user-defined"}};
#define N_MODEL_COLS ((int)(sizeof model_cols / sizeof model_cols[0]))

#undef G
#undef M

/* The two catalog tables. */
struct table {
  const char *sql_name, *what; /* "gpus", "GPU" */
  const struct col *cols;
  int ncols;
  size_t spec_size;
};
static const struct table t_gpus = {"gpus", "GPU", gpu_cols, N_GPU_COLS,
                                    sizeof(pl_gpu_spec)};
static const struct table t_models = {"models", "model", model_cols,
                                      N_MODEL_COLS, sizeof(pl_model_spec)};

static int rule_is_int(int rule)
{
  return rule == R_COUNT || rule == R_ARCH || rule == R_INT ||
         rule == R_KV || rule == R_BOOL;
}

static int rule_is_text(int rule)
{
  return rule == R_NAME || rule == R_TEXT || rule == R_ALIASES;
}

static double *fld_d(void *spec, const struct col *c)
{
  return (double *)((char *)spec + c->off);
}
static int *fld_i(void *spec, const struct col *c)
{
  return (int *)((char *)spec + c->off);
}
static char *fld_s(void *spec, const struct col *c)
{
  return (char *)spec + c->off;
}

/* The "not given" value of a field (what an empty cell becomes). */
static void set_unset(void *spec, const struct col *c)
{
  if (rule_is_text(c->rule))
    fld_s(spec, c)[0] = 0;
  else if (c->rule == R_TIME)
    *fld_d(spec, c) = -1;
  else if (c->rule == R_BOOL)
    *fld_i(spec, c) = -1;
  else if (c->rule == R_ARCH)
    *fld_i(spec, c) = PL_ARCH_GPT;
  else if (rule_is_int(c->rule))
    *fld_i(spec, c) = 0;
  else
    *fld_d(spec, c) = 0;
}

/* ------------------------------------------------------------- checks --- */

static int all_digits(const char *s)
{
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* A key name: why (static) or NULL. */
static const char *bad_key(const char *s, size_t cap)
{
  size_t n = strnlen(s, cap);
  if (n == cap)
    return "must be at most 31 characters";
  if (n == 0)
    return "must not be empty";
  if (n > 31)
    return "must be at most 31 characters";
  if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
    return "must not start or end with a space";
  if (strchr(s, ','))
    return "must not contain a comma";
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20)
      return "must not contain control characters";
  if (all_digits(s))
    return "must not be a number ('db show <number>' shows a calibration)";
  return NULL;
}

/* Normalises a comma-separated alias list into out ("a,b"): spaces around
 * names dropped; each name checked like a key, not equal to the GPU's name,
 * not repeated. Returns NULL, or why (written there). */
static const char *norm_aliases(const char *in, size_t cap, const char *name,
                                char *out, size_t outlen, char *why,
                                size_t wl)
{
  char tmp[256];
  size_t n = strnlen(in, cap), used = 0;
  out[0] = 0;
  if (n == cap || n >= sizeof tmp || n >= outlen) {
    snprintf(why, wl, "must be at most %zu characters", outlen - 1);
    return why;
  }
  memcpy(tmp, in, n);
  tmp[n] = 0;
  if (strspn(tmp, " \t") == n)
    return NULL; /* no aliases */
  for (char *p = tmp;;) {
    char *c = strchr(p, ',');
    if (c)
      *c = 0;
    while (isspace((unsigned char)*p))
      p++;
    size_t l = strlen(p);
    while (l && isspace((unsigned char)p[l - 1]))
      p[--l] = 0;
    if (!l) {
      snprintf(why, wl, "an empty name in '%s'", in);
      return why;
    }
    const char *bad = bad_key(p, l + 1);
    if (bad) {
      snprintf(why, wl, "alias '%s' %s", p, bad);
      return why;
    }
    if (!strcasecmp(p, name)) {
      snprintf(why, wl, "alias '%s' is the GPU's own name", p);
      return why;
    }
    for (const char *q = out; *q;) {
      size_t ql = strcspn(q, ",");
      if (ql == l && !strncasecmp(q, p, l)) {
        snprintf(why, wl, "alias '%s' is listed twice", p);
        return why;
      }
      q += ql + (q[ql] == ',');
    }
    used += (size_t)snprintf(out + used, outlen - used, "%s%s",
                             used ? "," : "", p);
    if (!c)
      break;
    p = c + 1;
  }
  return NULL;
}

/* Checks one field of a spec (the library's view: 0 / negative values mean
 * "default" where the rule says so). *why receives the reason. */
static int check_field(const void *spec, const struct col *c, char *why,
                       size_t wl)
{
  const void *f = (const char *)spec + c->off;
  if (rule_is_text(c->rule)) {
    const char *s = f;
    if (strnlen(s, c->len) == c->len) {
      snprintf(why, wl, "must be at most %zu characters", c->len - 1);
      return -1;
    }
    if (c->rule == R_NAME) {
      const char *bad = bad_key(s, c->len);
      if (bad) {
        snprintf(why, wl, "%s", bad);
        return -1;
      }
    }
    return 0;
  }
  if (rule_is_int(c->rule)) {
    int v = *(const int *)f;
    switch (c->rule) {
    case R_ARCH:
      if (v != PL_ARCH_GPT && v != PL_ARCH_LLAMA) {
        snprintf(why, wl, "must be gpt or llama");
        return -1;
      }
      return 0;
    case R_INT:
      if (v <= 0) {
        snprintf(why, wl, "must be an integer > 0, got %d", v);
        return -1;
      }
      return 0;
    case R_BOOL:
      if (v < -1 || v > 1) {
        snprintf(why, wl, "must be 0 or 1, got %d", v);
        return -1;
      }
      return 0;
    default: /* R_COUNT, R_KV: 0 = default */
      if (v < 0) {
        snprintf(why, wl, "must be an integer > 0, got %d", v);
        return -1;
      }
      return 0;
    }
  }
  double v = *(const double *)f;
  if (!isfinite(v) || fabs(v) > 1e30) {
    snprintf(why, wl, "must be a finite number");
    return -1;
  }
  switch (c->rule) {
  case R_POS:
  case R_BYTES:
    if (!(v > 0)) {
      snprintf(why, wl, "must be > 0, got %g", v);
      return -1;
    }
    if (c->rule == R_BYTES && v > 9.2e18) {
      snprintf(why, wl, "is too large (%g bytes)", v);
      return -1;
    }
    return 0;
  case R_OPT:
  case R_PARAMS:
    if (v < 0) {
      snprintf(why, wl, "must be >= 0 (0 = none), got %g", v);
      return -1;
    }
    return 0;
  case R_EFF:
    if (v < 0 || v > 1) {
      snprintf(why, wl, "must be in (0, 1], got %g", v);
      return -1;
    }
    return 0;
  default: /* R_TIME: negative = default */
    return 0;
  }
}

/* Checks a whole spec: *bad_col receives the offending column. */
static int check_spec(const struct table *t, const void *spec,
                      const char **bad_col, char *why, size_t wl)
{
  for (int i = 0; i < t->ncols; i++)
    if (check_field(spec, &t->cols[i], why, wl)) {
      *bad_col = t->cols[i].name;
      return -1;
    }
  if (t == &t_gpus) {
    const pl_gpu_spec *g = spec;
    char norm[sizeof g->aliases];
    if (norm_aliases(g->aliases, sizeof g->aliases, g->name, norm,
                     sizeof norm, why, wl)) {
      *bad_col = "aliases";
      return -1;
    }
    return 0;
  }
  const pl_model_spec *m = spec;
  int kv = m->kv_heads ? m->kv_heads : m->heads;
  if (kv > m->heads) {
    *bad_col = "kv_heads";
    snprintf(why, wl, "must be at most heads (%d), got %d", m->heads, kv);
    return -1;
  }
  if (m->heads % kv) {
    *bad_col = "kv_heads";
    snprintf(why, wl, "must divide heads (%d), got %d", m->heads, kv);
    return -1;
  }
  if (m->hidden % m->heads) {
    *bad_col = "hidden";
    snprintf(why, wl, "must be divisible by heads (%d), got %d", m->heads,
             m->hidden);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------- writing --- */

/* The id of the row named name (case-insensitive), its kind for GPUs; 0 when
 * there is none. */
static int find_row(pl_db *db, const struct table *t, const char *name,
                    int64_t *id, int *is_cpu, struct pl_errbuf *eb)
{
  char sql[160];
  sqlite3_stmt *st = NULL;
  snprintf(sql, sizeof sql, "SELECT id, %s FROM %s WHERE name = ?1 COLLATE "
           "NOCASE", t == &t_gpus ? "kind = 'cpu'" : "0", t->sql_name);
  int rc = sqlite3_prepare_v2(pl__db_sqlite(db), sql, -1, &st, NULL);
  *id = 0;
  *is_cpu = 0;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *id = sqlite3_column_int64(st, 0);
      *is_cpu = sqlite3_column_int(st, 1);
      rc = SQLITE_DONE;
    }
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? PL_OK : pl__db_fail(db, rc, "cannot read", eb);
}

/* Another GPU (not self_id) whose name or alias is `name`: its name into
 * other (empty when none). */
static int alias_owner(pl_db *db, const char *name, int64_t self_id,
                       char *other, size_t len, struct pl_errbuf *eb)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      pl__db_sqlite(db),
      "SELECT name FROM gpus WHERE id <> ?2 AND (name = ?1 COLLATE NOCASE OR "
      "instr(',' || lower(aliases) || ',', ',' || lower(?1) || ',') > 0) "
      "ORDER BY id LIMIT 1",
      -1, &st, NULL);
  other[0] = 0;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, self_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      snprintf(other, len, "%s", (const char *)sqlite3_column_text(st, 0));
      rc = SQLITE_DONE;
    }
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? PL_OK : pl__db_fail(db, rc, "cannot read", eb);
}

/*
 * Writes one checked spec inside the caller's transaction. *bad_col names
 * the column a refusal is about. PL_EDB "already exists" without replace.
 */
static int put_row(pl_db *db, const struct table *t, const void *spec,
                   int replace, const char **bad_col, struct pl_errbuf *eb)
{
  const char *name = (const char *)spec; /* name is the first member */
  int64_t id = 0;
  int is_cpu = 0, rc;
  *bad_col = "name";
  if ((rc = find_row(db, t, name, &id, &is_cpu, eb)))
    return rc;
  if (id && !replace)
    return pl_errf(eb, PL_EDB, "%s '%s' already exists in '%s'; pick another "
                   "name or replace it (--replace)", t->what, name,
                   pl_db_path(db));
  if (id && is_cpu)
    return pl_errf(eb, PL_EINVAL, "'%s' is the CPU backend's calibration "
                   "device in '%s' and cannot be replaced by a GPU", name,
                   pl_db_path(db));
  char norm[128] = "";
  if (t == &t_gpus) {
    const pl_gpu_spec *g = spec;
    char why[256], other[64];
    if (norm_aliases(g->aliases, sizeof g->aliases, g->name, norm,
                     sizeof norm, why, sizeof why)) {
      *bad_col = "aliases";
      return pl_errf(eb, PL_EINVAL, "%s", why);
    }
    if ((rc = alias_owner(db, g->name, id, other, sizeof other, eb)))
      return rc;
    if (other[0])
      return pl_errf(eb, PL_EINVAL, "'%s' is already a name of GPU '%s' in "
                     "'%s'; pick another name", g->name, other,
                     pl_db_path(db));
    for (const char *p = norm; *p;) {
      const char *c = strchr(p, ',');
      size_t l = c ? (size_t)(c - p) : strlen(p);
      char a[64];
      snprintf(a, sizeof a, "%.*s", (int)l, p);
      if ((rc = alias_owner(db, a, id, other, sizeof other, eb)))
        return rc;
      if (other[0]) {
        *bad_col = "aliases";
        return pl_errf(eb, PL_EINVAL, "alias '%s' is already a name of GPU "
                       "'%s' in '%s'", a, other, pl_db_path(db));
      }
      p = c ? c + 1 : p + l;
    }
  }

  /* INSERT (the columns with a value) ... ON CONFLICT DO UPDATE of every
   * column: excluded.x is the inserted value or the column's DEFAULT. */
  struct pl_buf cols, vals, upd;
  pl_buf_init(&cols, 1 << 16);
  pl_buf_init(&vals, 1 << 16);
  pl_buf_init(&upd, 1 << 16);
  int bind_of[32], nb = 0;
  for (int i = 0; i < t->ncols; i++) {
    const struct col *c = &t->cols[i];
    int given = 1;
    if (c->rule == R_EFF || c->rule == R_COUNT)
      given = rule_is_int(c->rule) ? *fld_i((void *)spec, c) != 0
                                   : *fld_d((void *)spec, c) != 0;
    else if (c->rule == R_TIME)
      given = *fld_d((void *)spec, c) >= 0;
    bind_of[i] = 0;
    if (i) /* name (column 0) is matched; the update takes its spelling */
      pl_buf_addf(&upd, ", %s = excluded.%s", c->name, c->name);
    if (!given && isnan(c->dflt))
      continue; /* the table's DEFAULT */
    bind_of[i] = ++nb;
    pl_buf_addf(&cols, "%s%s", nb > 1 ? ", " : "", c->name);
    pl_buf_addf(&vals, "%s?%d", nb > 1 ? ", " : "", nb);
  }
  struct pl_buf q;
  pl_buf_init(&q, 1 << 16);
  pl_buf_addf(&q, "INSERT INTO %s (%s%s) VALUES (%s%s) ON CONFLICT(name) DO "
              "UPDATE SET name = excluded.name%s", t->sql_name, cols.buf,
              t == &t_gpus ? ", kind" : "", vals.buf,
              t == &t_gpus ? ", 'gpu'" : "", upd.buf);
  char *sql = cols.len && vals.len && upd.len ? pl_buf_take(&q) : NULL;
  pl_buf_free(&q);
  pl_buf_free(&cols);
  pl_buf_free(&vals);
  pl_buf_free(&upd);
  if (!sql)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  sqlite3_stmt *st = NULL;
  rc = sqlite3_prepare_v2(pl__db_sqlite(db), sql, -1, &st, NULL);
  pl_free(sql);
  if (rc == SQLITE_OK) {
    const pl_model_spec *m = t == &t_models ? spec : NULL;
    for (int i = 0; i < t->ncols; i++) {
      const struct col *c = &t->cols[i];
      int b = bind_of[i];
      if (!b)
        continue;
      if (rule_is_text(c->rule)) {
        const char *s = c->rule == R_ALIASES ? norm : fld_s((void *)spec, c);
        if (!s[0] && c->dflt_text)
          s = c->dflt_text;
        if (!s[0] && !strcmp(c->name, "full_name"))
          s = name;
        sqlite3_bind_text(st, b, s, -1, SQLITE_TRANSIENT);
      } else if (c->rule == R_ARCH) {
        sqlite3_bind_text(st, b, m->arch == PL_ARCH_LLAMA ? "llama" : "gpt",
                          -1, SQLITE_STATIC);
      } else if (c->rule == R_KV) {
        sqlite3_bind_int(st, b, m->kv_heads ? m->kv_heads : m->heads);
      } else if (c->rule == R_BOOL) {
        int v = *fld_i((void *)spec, c);
        if (v < 0) /* tied for GPT, untied for LLaMA; no learned positions */
          v = !strcmp(c->name, "tied_embeddings") && m->arch == PL_ARCH_GPT;
        sqlite3_bind_int(st, b, v);
      } else if (rule_is_int(c->rule)) {
        sqlite3_bind_int(st, b, *fld_i((void *)spec, c));
      } else {
        double v = *fld_d((void *)spec, c);
        int dflt = (c->rule == R_EFF && v == 0) || (c->rule == R_TIME && v < 0);
        if (dflt)
          v = c->dflt;
        if ((c->rule == R_OPT || c->rule == R_PARAMS) && v == 0)
          sqlite3_bind_null(st, b);
        else if (c->rule == R_BYTES)
          sqlite3_bind_int64(st, b, (sqlite3_int64)llround(v));
        else
          sqlite3_bind_double(st, b, v);
      }
    }
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return pl__db_fail(db, rc, "cannot write to", eb);
  return PL_OK;
}

static int begin(pl_db *db, struct pl_errbuf *eb)
{
  sqlite3 *s = pl__db_sqlite(db);
  if (!sqlite3_get_autocommit(s))
    return pl_errf(eb, PL_EMISUSE, "a transaction (calibration) is already "
                   "open on '%s'", pl_db_path(db));
  int rc = sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  return rc == SQLITE_OK ? PL_OK : pl__db_fail(db, rc, "cannot write to", eb);
}

static int commit(pl_db *db, struct pl_errbuf *eb)
{
  int rc = sqlite3_exec(pl__db_sqlite(db), "COMMIT", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    return PL_OK;
  rc = pl__db_fail(db, rc, "cannot commit to", eb);
  sqlite3_exec(pl__db_sqlite(db), "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

static void rollback(pl_db *db)
{
  if (!sqlite3_get_autocommit(pl__db_sqlite(db)))
    sqlite3_exec(pl__db_sqlite(db), "ROLLBACK", NULL, NULL, NULL);
}

static int add_one(pl_db *db, const struct table *t, const void *spec,
                   int replace, struct pl_errbuf *eb)
{
  char why[320];
  const char *col = NULL;
  int rc;
  if (!db || !spec)
    return pl_errf(eb, PL_EINVAL, "no database or no %s", t->what);
  if (check_spec(t, spec, &col, why, sizeof why))
    return pl_errf(eb, PL_EINVAL, "%s '%.31s': %s: %s", t->what,
                   (const char *)spec, col, why);
  if ((rc = begin(db, eb)))
    return rc;
  if ((rc = put_row(db, t, spec, replace, &col, eb))) {
    rollback(db);
    return rc;
  }
  return commit(db, eb);
}

int pl_db_add_gpu(pl_db *db, const pl_gpu_spec *g, int replace,
                  struct pl_errbuf *eb)
{
  return add_one(db, &t_gpus, g, replace, eb);
}

int pl_db_add_model(pl_db *db, const pl_model_spec *m, int replace,
                    struct pl_errbuf *eb)
{
  return add_one(db, &t_models, m, replace, eb);
}

/* ------------------------------------------------------- cell parsing --- */

/* Reads one cell (CSV text or a JSON value turned into text) into the
 * spec's field; empty = not given. Stricter than check_field: a value that
 * is given must be a real value (0 is no "default" here). */
static int parse_cell(void *spec, const struct col *c, const char *s,
                      char *why, size_t wl)
{
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  if (n == 0) {
    set_unset(spec, c);
    return 0;
  }
  if (rule_is_text(c->rule)) {
    if (n >= c->len) {
      snprintf(why, wl, "must be at most %zu characters", c->len - 1);
      return -1;
    }
    memcpy(fld_s(spec, c), s, n);
    fld_s(spec, c)[n] = 0;
    return 0;
  }
  char buf[64];
  if (n >= sizeof buf) {
    snprintf(why, wl, "'%.20s...' is not a number", s);
    return -1;
  }
  memcpy(buf, s, n);
  buf[n] = 0;
  if (c->rule == R_ARCH) {
    if (!strcasecmp(buf, "gpt"))
      *fld_i(spec, c) = PL_ARCH_GPT;
    else if (!strcasecmp(buf, "llama"))
      *fld_i(spec, c) = PL_ARCH_LLAMA;
    else {
      snprintf(why, wl, "must be gpt or llama, got '%s'", buf);
      return -1;
    }
    return 0;
  }
  if (c->rule == R_BOOL) {
    if (!strcmp(buf, "1") || !strcasecmp(buf, "true"))
      *fld_i(spec, c) = 1;
    else if (!strcmp(buf, "0") || !strcasecmp(buf, "false"))
      *fld_i(spec, c) = 0;
    else {
      snprintf(why, wl, "must be 0 or 1, got '%s'", buf);
      return -1;
    }
    return 0;
  }
  if (rule_is_int(c->rule)) {
    long v;
    if (pl_parse_long(buf, 1, 1L << 30, &v)) {
      snprintf(why, wl, "must be an integer from 1 to %ld, got '%s'",
               1L << 30, buf);
      return -1;
    }
    *fld_i(spec, c) = (int)v;
    return 0;
  }
  double v;
  if (pl_parse_double(buf, -1e30, 1e30, &v)) {
    snprintf(why, wl, "must be a number, got '%s'", buf);
    return -1;
  }
  switch (c->rule) {
  case R_POS:
  case R_BYTES:
    if (!(v > 0)) {
      snprintf(why, wl, "must be > 0, got '%s'", buf);
      return -1;
    }
    break;
  case R_OPT:
  case R_PARAMS:
  case R_TIME:
    if (v < 0) {
      snprintf(why, wl, "must be >= 0, got '%s'", buf);
      return -1;
    }
    break;
  case R_EFF:
    if (!(v > 0 && v <= 1)) {
      snprintf(why, wl, "must be in (0, 1], got '%s'", buf);
      return -1;
    }
    break;
  default:
    break;
  }
  *fld_d(spec, c) = v;
  return 0;
}

/* ---------------------------------------------------------- CSV reading --- */

/*
 * Catalog CSV files go through the base layer's RFC 4180 reader: unquoted
 * fields lose the spaces around them; blank lines and lines starting with
 * '#' are skipped. pl_csv_error_text words a syntax error.
 */
enum { CSV_FLAGS = PL_CSV_TRIM | PL_CSV_SKIP_BLANK | PL_CSV_COMMENTS };


/* ------------------------------------------------------ catalog import --- */

/* Parsed rows of either table, with where they came from. */
struct rows {
  const struct table *t;
  char *specs;   /* n * t->spec_size */
  char (*loc)[48];
  size_t n, cap;
};

static void *rows_add(struct rows *r, const char *loc)
{
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 16;
    char *ns = pl_realloc(r->specs, nc * r->t->spec_size);
    if (!ns)
      return NULL;
    r->specs = ns;
    char(*nl)[48] = pl_realloc(r->loc, nc * sizeof *nl);
    if (!nl)
      return NULL;
    r->loc = nl;
    r->cap = nc;
  }
  void *s = r->specs + r->n * r->t->spec_size;
  memset(s, 0, r->t->spec_size);
  for (int i = 0; i < r->t->ncols; i++)
    set_unset(s, &r->t->cols[i]);
  snprintf(r->loc[r->n], sizeof r->loc[0], "%s", loc);
  r->n++;
  return s;
}

static void rows_free(struct rows *r)
{
  pl_free(r->specs);
  pl_free(r->loc);
  r->specs = NULL;
  r->loc = NULL;
  r->n = r->cap = 0;
}

static int col_index(const struct table *t, const char *name)
{
  for (int i = 0; i < t->ncols; i++)
    if (!strcasecmp(t->cols[i].name, name))
      return i;
  return -1;
}

/* "name, full_name, ..." of a table. */
static void col_list(const struct table *t, char *buf, size_t len)
{
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < t->ncols && used < len; i++) {
    int k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                     t->cols[i].name);
    if (k < 0)
      break;
    used += (size_t)k;
  }
}

/* Which table a set of column names belongs to: columns that exist in only
 * one of them decide. 0 = neither, -1 = both. */
static const struct table *which_table(const char *const *names, int n,
                                       int *mixed)
{
  int g = 0, m = 0;
  *mixed = 0;
  for (int i = 0; i < n; i++) {
    int in_g = col_index(&t_gpus, names[i]) >= 0;
    int in_m = col_index(&t_models, names[i]) >= 0;
    g += in_g && !in_m;
    m += in_m && !in_g;
  }
  if (g && m)
    *mixed = 1;
  return g && !m ? &t_gpus : m && !g ? &t_models : NULL;
}

/* Copies eb's message, then formats "'path' loc, column c: msg" into eb. */
static int row_err(struct pl_errbuf *eb, int code, const char *path,
                   const char *loc, const char *col, const char *msg)
{
  char m[PL_ERRMSG_MAX];
  snprintf(m, sizeof m, "%s", msg);
  if (col)
    return pl_errf(eb, code, "'%s' %s, column %s: %s", path, loc, col, m);
  return pl_errf(eb, code, "'%s' %s: %s", path, loc, m);
}

/* Required columns present? (CSV header) */
static int need_required(const struct table *t, const int *have,
                         const char *path, int line, struct pl_errbuf *eb)
{
  for (int i = 0; i < t->ncols; i++)
    if (t->cols[i].required && !have[i])
      return pl_errf(eb, PL_EPARSE, "'%s' line %d: the header lacks the "
                     "required %s column '%s'", path, line, t->what,
                     t->cols[i].name);
  return PL_OK;
}

static int read_csv_records(struct pl_csv *cr, const char *path,
                            struct rows *gr, struct rows *mr,
                            struct pl_errbuf *eb)
{
  enum { MAXF = 64 };
  char **f;
  char why[320], known[512];
  int nf = 0, hdr_line = 0, r;
  int map[MAXF], have[32] = {0}, nh;
  r = pl_csv_next(cr, eb);
  if (r == PL_ENOMEM)
    return r;
  if (r < 0)
    return pl_errf(eb, PL_EPARSE, "'%s' line %d: %s", path, cr->err_line,
                   pl_csv_error_text(cr));
  f = cr->f;
  nf = cr->nf;
  hdr_line = cr->line;
  if (r == 0)
    return pl_errf(eb, PL_EPARSE, "'%s': empty file (expected a header line "
                   "of catalog columns such as name,bf16_dense_flops,...)",
                   path);
  int mixed;
  const struct table *t = which_table((const char *const *)f, nf, &mixed);
  for (int i = 0; i < nf; i++)
    if (!strcasecmp(f[i], "kind") || !strcasecmp(f[i], "id"))
      return pl_errf(eb, PL_EPARSE, "'%s' line %d: column '%s' is not "
                     "allowed (%s)", path, hdr_line, f[i],
                     !strcasecmp(f[i], "kind")
                         ? "a catalog import adds GPUs, kind 'gpu'"
                         : "ids are assigned by the database");
  if (!t)
    return pl_errf(eb, PL_EPARSE, "'%s' line %d: %s", path, hdr_line,
                   mixed ? "the header mixes GPU and model columns (one "
                           "table per CSV file)"
                         : "the header names no catalog column");
  struct rows *rs = t == &t_gpus ? gr : mr;
  nh = nf;
  for (int i = 0; i < nf; i++) {
    int k = col_index(t, f[i]);
    if (k < 0 || have[k]) {
      col_list(t, known, sizeof known);
      return pl_errf(eb, PL_EPARSE, "'%s' line %d: %s %s column '%s' "
                     "(known: %s)", path, hdr_line,
                     k < 0 ? "unknown" : "repeated", t->what, f[i], known);
    }
    have[k] = 1;
    map[i] = k;
  }
  int rc = need_required(t, have, path, hdr_line, eb);
  if (rc)
    return rc;
  for (;;) {
    r = pl_csv_next(cr, eb);
    if (r == PL_ENOMEM)
      return r;
    if (r < 0)
      return pl_errf(eb, PL_EPARSE, "'%s' line %d: %s", path, cr->err_line,
                     pl_csv_error_text(cr));
    if (r == 0)
      break;
    int rl = cr->line;
    f = cr->f;
    nf = cr->nf;
    char loc[48];
    snprintf(loc, sizeof loc, "line %d", rl);
    if (nf != nh)
      return pl_errf(eb, PL_EPARSE, "'%s' line %d: %d fields, the header "
                     "has %d", path, rl, nf, nh);
    void *spec = rows_add(rs, loc);
    if (!spec)
      return pl_errf(eb, PL_ENOMEM, "out of memory");
    for (int i = 0; i < nf; i++) {
      const struct col *c = &t->cols[map[i]];
      if (parse_cell(spec, c, f[i], why, sizeof why))
        return row_err(eb, PL_EPARSE, path, loc, c->name, why);
      if (c->required && !f[i][0])
        return row_err(eb, PL_EPARSE, path, loc, c->name,
                       "required, but empty");
    }
  }
  if (rs->n == 0)
    return pl_errf(eb, PL_EPARSE, "'%s': no rows after the header", path);
  return PL_OK;
}

static int read_csv(char *text, size_t len, const char *path,
                    struct rows *gr, struct rows *mr, struct pl_errbuf *eb)
{
  struct pl_csv cr;
  pl_csv_init(&cr, text, len, CSV_FLAGS);
  cr.max_fields = 64;
  int rc = read_csv_records(&cr, path, gr, mr, eb);
  pl_csv_free(&cr);
  return rc;
}

/* A JSON value as cell text; 0 = not given (null), -1 = wrong type. */
static int json_cell(json_t *v, const struct col *c, char *buf, size_t len)
{
  buf[0] = 0;
  if (json_is_null(v))
    return 0;
  if (rule_is_text(c->rule) || c->rule == R_ARCH) {
    if (json_is_string(v)) {
      snprintf(buf, len, "%s", json_string_value(v));
      return strlen(json_string_value(v)) < len ? 1 : -1;
    }
    if (c->rule == R_ALIASES && json_is_array(v)) {
      size_t i, used = 0;
      json_t *e;
      json_array_foreach(v, i, e) {
        if (!json_is_string(e))
          return -1;
        int k = snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                         json_string_value(e));
        if (k < 0 || (size_t)k >= len - used)
          return -1;
        used += (size_t)k;
      }
      return 1;
    }
    return -1;
  }
  if (c->rule == R_BOOL && json_is_boolean(v)) {
    snprintf(buf, len, "%d", json_is_true(v) ? 1 : 0);
    return 1;
  }
  if (json_is_integer(v)) {
    snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return 1;
  }
  if (json_is_real(v)) {
    snprintf(buf, len, "%.17g", json_real_value(v));
    return 1;
  }
  return -1;
}

static int json_row(json_t *o, const struct table *t, struct rows *rs,
                    const char *path, const char *loc, struct pl_errbuf *eb)
{
  char why[640], known[512], cell[512];
  const char *key;
  json_t *v;
  int have[32] = {0};
  void *spec = rows_add(rs, loc);
  if (!spec)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  json_object_foreach(o, key, v) {
    if (!strcmp(key, "kind") || !strcmp(key, "id"))
      return row_err(eb, PL_EPARSE, path, loc, key,
                     !strcmp(key, "kind")
                         ? "not allowed (a catalog import adds GPUs, kind "
                           "'gpu')"
                         : "not allowed (ids are assigned by the database)");
    int k = col_index(t, key);
    if (k < 0) {
      col_list(t, known, sizeof known);
      snprintf(why, sizeof why, "unknown %s column (known: %s)", t->what,
               known);
      return row_err(eb, PL_EPARSE, path, loc, key, why);
    }
    const struct col *c = &t->cols[k];
    int jr = json_cell(v, c, cell, sizeof cell);
    if (jr < 0)
      return row_err(eb, PL_EPARSE, path, loc, key,
                     rule_is_text(c->rule) || c->rule == R_ARCH
                         ? "must be a string"
                         : "must be a number");
    if (parse_cell(spec, c, cell, why, sizeof why))
      return row_err(eb, PL_EPARSE, path, loc, key, why);
    have[k] = jr > 0 && cell[0];
  }
  for (int i = 0; i < t->ncols; i++)
    if (t->cols[i].required && !have[i])
      return row_err(eb, PL_EPARSE, path, loc, t->cols[i].name,
                     "required, but missing");
  return PL_OK;
}

static int read_json(const char *text, size_t len, const char *path,
                     struct rows *gr, struct rows *mr, struct pl_errbuf *eb)
{
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  int rc = PL_OK;
  if (!root)
    return pl_errf(eb, PL_EPARSE, "'%s' line %d, column %d: %s", path,
                   je.line, je.column, je.text);
  if (json_is_object(root)) {
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
      const struct table *t = !strcmp(key, "gpus")     ? &t_gpus
                              : !strcmp(key, "models") ? &t_models
                                                       : NULL;
      if (!t) {
        rc = pl_errf(eb, PL_EPARSE, "'%s': unknown key '%s' (a catalog file "
                     "has \"gpus\" and \"models\" arrays)", path, key);
        break;
      }
      if (!json_is_array(v)) {
        rc = pl_errf(eb, PL_EPARSE, "'%s': \"%s\" must be an array of "
                     "objects", path, key);
        break;
      }
      size_t i;
      json_t *o;
      json_array_foreach(v, i, o) {
        char loc[48];
        snprintf(loc, sizeof loc, "%s[%zu]", key, i);
        if (!json_is_object(o)) {
          rc = row_err(eb, PL_EPARSE, path, loc, NULL, "not an object");
          break;
        }
        if ((rc = json_row(o, t, t == &t_gpus ? gr : mr, path, loc, eb)))
          break;
      }
      if (rc)
        break;
    }
  } else if (json_is_array(root)) {
    size_t i;
    json_t *o;
    json_array_foreach(root, i, o) {
      char loc[48];
      snprintf(loc, sizeof loc, "[%zu]", i);
      if (!json_is_object(o)) {
        rc = row_err(eb, PL_EPARSE, path, loc, NULL, "not an object");
        break;
      }
      const char *names[64];
      int n = 0, mixed;
      const char *key;
      json_t *v;
      json_object_foreach(o, key, v) {
        if (n < 64)
          names[n++] = key;
      }
      const struct table *t = which_table(names, n, &mixed);
      if (!t) {
        rc = row_err(eb, PL_EPARSE, path, loc, NULL,
                     mixed ? "mixes GPU and model columns"
                           : "neither a GPU (bf16_dense_flops, hbm_bytes, "
                             "...) nor a model (layers, hidden, heads, ...)");
        break;
      }
      if ((rc = json_row(o, t, t == &t_gpus ? gr : mr, path, loc, eb)))
        break;
    }
  } else {
    rc = pl_errf(eb, PL_EPARSE, "'%s': expected a JSON object {\"gpus\": "
                 "[...], \"models\": [...]} or an array of objects", path);
  }
  if (!rc && gr->n + mr->n == 0)
    rc = pl_errf(eb, PL_EPARSE, "'%s': no GPUs and no models", path);
  json_decref(root);
  return rc;
}

/* Checks the parsed rows (before anything is written). */
static int check_rows(const char *path, const struct rows *rs,
                      struct pl_errbuf *eb)
{
  char why[320];
  const char *col = NULL;
  const struct table *t = rs->t;
  for (size_t i = 0; i < rs->n; i++) {
    const char *spec = rs->specs + i * t->spec_size;
    if (check_spec(t, spec, &col, why, sizeof why))
      return row_err(eb, PL_EPARSE, path, rs->loc[i], col, why);
    for (size_t j = 0; j < i; j++)
      if (!strcasecmp(spec, rs->specs + j * t->spec_size)) {
        snprintf(why, sizeof why, "%s '%s' appears twice (also %s)", t->what,
                 spec, rs->loc[j]);
        return row_err(eb, PL_EPARSE, path, rs->loc[i], "name", why);
      }
  }
  return PL_OK;
}

/* Writes the checked rows inside the caller's transaction. */
static int store_rows(pl_db *db, const char *path, const struct rows *rs,
                      int replace, struct pl_errbuf *eb)
{
  const char *col = NULL;
  const struct table *t = rs->t;
  for (size_t i = 0; i < rs->n; i++) {
    int rc = put_row(db, t, rs->specs + i * t->spec_size, replace, &col, eb);
    if (rc)
      return rc == PL_EDBLOCKED || rc == PL_ENOMEM
                 ? rc
                 : row_err(eb, PL_EPARSE, path, rs->loc[i], col, eb->msg);
  }
  return PL_OK;
}

/* Bytes of a UTF-8 byte order mark at the start of text (0 or 3): skipped
 * by every reader, as spreadsheets write one. */
static size_t bom_len(const char *text, size_t len)
{
  return len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0;
}

static int is_json_text(const char *text, size_t len)
{
  size_t i = bom_len(text, len);
  while (i < len && isspace((unsigned char)text[i]))
    i++;
  return i < len && (text[i] == '{' || text[i] == '[');
}

int pl_db_import_catalog(pl_db *db, const char *path, int replace,
                         size_t *n_gpus, size_t *n_models,
                         struct pl_errbuf *eb)
{
  char *text = NULL;
  size_t len = 0;
  int rc;
  if (n_gpus)
    *n_gpus = 0;
  if (n_models)
    *n_models = 0;
  if ((rc = pl_read_file(path, &text, &len, eb)))
    return rc;
  rc = pl_db_import_catalog_text(db, path, text, len, replace, n_gpus,
                                 n_models, eb);
  pl_free(text);
  return rc;
}

int pl_db_import_catalog_text(pl_db *db, const char *path, const char *data,
                              size_t len, int replace, size_t *n_gpus,
                              size_t *n_models, struct pl_errbuf *eb)
{
  struct rows gr = {&t_gpus, NULL, NULL, 0, 0};
  struct rows mr = {&t_models, NULL, NULL, 0, 0};
  int rc;
  if (n_gpus)
    *n_gpus = 0;
  if (n_models)
    *n_models = 0;
  if (!db || !path || (!data && len))
    return pl_errf(eb, PL_EINVAL, "no database or catalog text");
  /* the CSV reader cuts its copy into cells */
  char *text = pl_malloc(len + 1);
  if (!text)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  if (len)
    memcpy(text, data, len);
  text[len] = 0;
  size_t bom = bom_len(text, len);
  if (memchr(text, 0, len))
    rc = pl_errf(eb, PL_EPARSE, "'%s': binary data, not a catalog file",
                 path);
  else if (is_json_text(text, len))
    rc = read_json(text + bom, len - bom, path, &gr, &mr, eb);
  else
    rc = read_csv(text + bom, len - bom, path, &gr, &mr, eb);
  if (!rc && !(rc = check_rows(path, &gr, eb)) &&
      !(rc = check_rows(path, &mr, eb)) && !(rc = begin(db, eb))) {
    if (!(rc = store_rows(db, path, &gr, replace, eb)) &&
        !(rc = store_rows(db, path, &mr, replace, eb)))
      rc = commit(db, eb);
    else
      rollback(db);
  }
  if (!rc) {
    if (n_gpus)
      *n_gpus = gr.n;
    if (n_models)
      *n_models = mr.n;
  }
  rows_free(&gr);
  rows_free(&mr);
  pl_free(text);
  return rc;
}

/* ------------------------------------------------------- import kinds --- */

/* Does a line look like nccl-tests output? Its rank lines ("#  Rank  0
 * Group  0 Pid ... on host device ..."), the table header, the banner. */
static int nccl_line(const char *s, size_t n)
{
  static const char *const marks[] = {
      "out-of-place", "Collective test starting", "nccl-tests version",
      "# Using devices", "Avg bus bandwidth"};
  char buf[256];
  if (n >= sizeof buf)
    n = sizeof buf - 1;
  memcpy(buf, s, n);
  buf[n] = 0;
  for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
    if (strstr(buf, marks[i]))
      return 1;
  const char *p = buf;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p != '#')
    return 0;
  p++;
  while (*p == ' ' || *p == '\t')
    p++;
  return !strncmp(p, "Rank ", 5) && strstr(p, " on ") && strstr(p, "device");
}

int pl_db_import_kind(const char *path, int *kind, struct pl_errbuf *eb)
{
  char *text = NULL;
  size_t len = 0;
  int rc = pl_read_file(path, &text, &len, eb);
  *kind = PL_IMPORT_SAMPLES;
  if (rc)
    return rc;
  if (is_json_text(text, len)) {
    *kind = PL_IMPORT_CATALOG;
    pl_free(text);
    return PL_OK;
  }
  /* nccl-tests anywhere in the file wins over a CSV header. */
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(text + i, '\n', len - i);
    size_t e = nl ? (size_t)(nl - text) : len;
    if (nccl_line(text + i, e - i)) {
      *kind = PL_IMPORT_NCCL;
      pl_free(text);
      return PL_OK;
    }
    i = e + 1;
  }
  /* The first record of a CSV: catalog columns? */
  if (!memchr(text, 0, len)) {
    struct pl_csv cr;
    int mixed;
    pl_csv_init(&cr, text, len, CSV_FLAGS);
    cr.max_fields = 64;
    if (pl_csv_next(&cr, NULL) > 0) {
      char **f = cr.f;
      int nf = cr.nf, named = 0, kind_col = 0;
      for (int i = 0; i < nf; i++) {
        named |= !strcasecmp(f[i], "name");
        kind_col |= !strcasecmp(f[i], "kind");
      }
      if (named && (which_table((const char *const *)f, nf, &mixed) ||
                    mixed || kind_col))
        *kind = PL_IMPORT_CATALOG;
    }
    pl_csv_free(&cr);
  }
  pl_free(text);
  return PL_OK;
}
