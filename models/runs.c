/* runs.c: the runs, run_ranks and run_ops tables (schema version 2;
 * docs/database.md): saving simulated and executed runs, reading one back and
 * listing them. Every SQL statement on these tables is here. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "models_int.h"

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
  if (s && s[0])
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static void bind_pos_int(sqlite3_stmt *st, int i, int64_t v)
{
  if (v > 0)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

static void bind_nonneg(sqlite3_stmt *st, int i, double v)
{
  if (v >= 0)
    sqlite3_bind_double(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

/* µs per time unit; 0 when the unit is not a time (e.g. "unit"). */
static double us_per_unit(const char *u)
{
  if (!strcmp(u, "us")) return 1;
  if (!strcmp(u, "ns")) return 1e-3;
  if (!strcmp(u, "ms")) return 1e3;
  if (!strcmp(u, "s")) return 1e6;
  return 0;
}

static int step_done(pl_db *db, sqlite3_stmt *st, struct pl_errbuf *eb)
{
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? PL_OK : pl__db_fail(db, rc, "cannot save a run to", eb);
}

int pl_db_run_save(pl_db *db, const pl_run_info *info, const pl_result *r,
                   int64_t *id, struct pl_errbuf *eb)
{
  sqlite3 *s = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  char host[256] = "unknown";
  int rc;
  int64_t run_id;
  if (id)
    *id = 0;
  if (!info || !r || r->stages < 1)
    return pl_errf(eb, PL_EINVAL, "pl_db_run_save needs a result");
  if (info->host && info->host[0])
    snprintf(host, sizeof host, "%s", info->host);
  else if (gethostname(host, sizeof host - 1) != 0)
    snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = 0;
  int64_t now = info->created_at_ns;
  if (now <= 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  }
  rc = sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return pl__db_fail(db, rc, "cannot save a run to", eb);
  rc = sqlite3_prepare_v2(
      s,
      "INSERT INTO runs (kind, backend, label, created_at_ns, host, "
      "pipelab_version, git_rev, schedule, stages, virtual_stages, "
      "microbatches, chunks, model_name, gpu_name, mb_size, seq_len, tp, dp, "
      "cost_source, calibration_id, params_json, time_unit, "
      "us_per_time_unit, mem_unit, makespan_time, iteration_time, "
      "bubble_ratio, peak_mem, iteration_seconds, tokens_per_second, mfu) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
      "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, "
      "?29, ?30, ?31)",
      -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot save a run to", eb);
    goto fail;
  }
  sqlite3_bind_text(st, 1, info->kind ? info->kind : "simulated", -1,
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, info->backend ? info->backend
                           : r->source[0] ? r->source : "sim",
                    -1, SQLITE_TRANSIENT);
  bind_text_or_null(st, 3, info->label);
  sqlite3_bind_int64(st, 4, now);
  sqlite3_bind_text(st, 5, host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, pl_version(), -1, SQLITE_STATIC);
  bind_text_or_null(st, 7, pl_git_rev());
  sqlite3_bind_text(st, 8, r->schedule[0] ? r->schedule : "unnamed", -1,
                    SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 9, r->stages);
  sqlite3_bind_int(st, 10, r->virtual_stages > 0 ? r->virtual_stages : r->stages);
  sqlite3_bind_int(st, 11, r->microbatches);
  sqlite3_bind_int(st, 12, r->chunks > 0 ? r->chunks : 1);
  bind_text_or_null(st, 13, info->model_name);
  bind_text_or_null(st, 14, info->gpu_name);
  bind_pos_int(st, 15, info->mb_size);
  bind_pos_int(st, 16, info->seq_len);
  bind_pos_int(st, 17, info->tp);
  bind_pos_int(st, 18, info->dp);
  sqlite3_bind_text(st, 19, info->cost_source ? info->cost_source : "user", -1,
                    SQLITE_TRANSIENT);
  bind_pos_int(st, 20, info->calibration_id);
  sqlite3_bind_text(st, 21, info->params_json ? info->params_json : "{}", -1,
                    SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 22, r->time_unit[0] ? r->time_unit : "unit", -1,
                    SQLITE_TRANSIENT);
  bind_nonneg(st, 23, us_per_unit(r->time_unit) > 0 ? us_per_unit(r->time_unit)
                                                     : -1);
  sqlite3_bind_text(st, 24, !strcmp(r->mem_unit, "bytes") ? "bytes" : "units",
                    -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 25, r->makespan);
  bind_nonneg(st, 26, info->iteration_time);
  sqlite3_bind_double(st, 27, r->bubble_ratio);
  sqlite3_bind_double(st, 28, r->peak_mem);
  bind_nonneg(st, 29, info->iteration_seconds);
  bind_nonneg(st, 30, info->tokens_per_second);
  bind_nonneg(st, 31, info->mfu);
  if ((rc = step_done(db, st, eb)))
    goto fail;
  sqlite3_finalize(st);
  st = NULL;
  run_id = sqlite3_last_insert_rowid(s);

  rc = sqlite3_prepare_v2(
      s,
      "INSERT INTO run_ranks (run_id, rank, busy_time, first_start_time, "
      "last_end_time, bubble_ratio, peak_mem, static_bytes, peak_bytes, "
      "hbm_bytes, ops) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
      -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot save a run to", eb);
    goto fail;
  }
  for (int i = 0; i < r->stages && r->ranks; i++) {
    const pl_rank_result *rr = &r->ranks[i];
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, rr->rank);
    sqlite3_bind_double(st, 3, rr->busy);
    sqlite3_bind_double(st, 4, rr->first_start);
    sqlite3_bind_double(st, 5, rr->last_end);
    sqlite3_bind_double(st, 6, rr->bubble_ratio);
    sqlite3_bind_double(st, 7, rr->peak_mem);
    if (info->static_bytes) {
      sqlite3_bind_int64(st, 8, (sqlite3_int64)(info->static_bytes[i] + 0.5));
      if (!strcmp(r->mem_unit, "bytes"))
        sqlite3_bind_int64(st, 9, (sqlite3_int64)(info->static_bytes[i] +
                                                  rr->peak_mem + 0.5));
    }
    if (info->hbm_bytes)
      sqlite3_bind_int64(st, 10, (sqlite3_int64)(info->hbm_bytes[i] + 0.5));
    sqlite3_bind_int64(st, 11, (sqlite3_int64)rr->n_ops);
    if ((rc = step_done(db, st, eb)))
      goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;

  if (r->ops && r->n_ops) {
    rc = sqlite3_prepare_v2(
        s,
        "INSERT INTO run_ops (run_id, rank, idx, op_kind, stage, mb, op_kind2, "
        "stage2, mb2, start_time, end_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8, ?9, ?10, ?11)",
        -1, &st, NULL);
    if (rc != SQLITE_OK) {
      rc = pl__db_fail(db, rc, "cannot save a run to", eb);
      goto fail;
    }
    for (size_t i = 0; i < r->n_ops; i++) {
      const pl_op_rec *o = &r->ops[i];
      sqlite3_bind_int64(st, 1, run_id);
      sqlite3_bind_int(st, 2, o->rank);
      sqlite3_bind_int(st, 3, o->index);
      sqlite3_bind_text(st, 4, pl_op_kind_name(o->op.kind), -1, SQLITE_STATIC);
      sqlite3_bind_int(st, 5, o->op.stage);
      sqlite3_bind_int(st, 6, o->op.mb);
      if (o->op.kind == PL_OP_FB) {
        sqlite3_bind_text(st, 7, pl_op_kind_name(o->op.kind2), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int(st, 8, o->op.stage2);
        sqlite3_bind_int(st, 9, o->op.mb2);
      }
      sqlite3_bind_double(st, 10, o->start);
      sqlite3_bind_double(st, 11, o->end);
      if ((rc = step_done(db, st, eb)))
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  rc = sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot save a run to", eb);
    goto fail;
  }
  if (id)
    *id = run_id;
  return PL_OK;
fail:
  sqlite3_finalize(st);
  sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* ------------------------------------------------------------ reading --- */

static void col_text(sqlite3_stmt *st, int i, char *out, size_t len)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, len, "%s", t ? (const char *)t : "");
}

static double col_num(sqlite3_stmt *st, int i)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL
             ? NAN
             : sqlite3_column_double(st, i);
}

static int kind_from_name(const char *s)
{
  for (int k = 0; k < PL_OP_NKINDS; k++)
    if (strcmp(s, pl_op_kind_name(k)) == 0)
      return k;
  return -1;
}

int pl_db_run_load(pl_db *db, int64_t id, pl_result *r, struct pl_errbuf *eb)
{
  static const char what[] = "cannot read";
  pl_result z = PL_RESULT_INIT;
  sqlite3 *s = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  int rc;
  *r = z;
  if (!s)
    return pl_errf(eb, PL_EMISUSE, "no database");
  rc = sqlite3_prepare_v2(s,
                          "SELECT schedule, backend, time_unit, mem_unit, "
                          "stages, virtual_stages, microbatches, chunks "
                          "FROM runs WHERE id = ?1",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, what, eb);
    goto fail;
  }
  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    rc = rc == SQLITE_DONE
             ? pl_errf(eb, PL_ENOTFOUND, "no run %lld in '%s'", (long long)id,
                       pl_db_path(db))
             : pl__db_fail(db, rc, what, eb);
    goto fail;
  }
  col_text(st, 0, r->schedule, sizeof r->schedule);
  col_text(st, 1, r->source, sizeof r->source);
  col_text(st, 2, r->time_unit, sizeof r->time_unit);
  col_text(st, 3, r->mem_unit, sizeof r->mem_unit);
  r->stages = sqlite3_column_int(st, 4);
  r->virtual_stages = sqlite3_column_int(st, 5);
  r->microbatches = sqlite3_column_int(st, 6);
  r->chunks = sqlite3_column_int(st, 7);
  sqlite3_finalize(st);
  st = NULL;
  if (r->stages <= 0 || r->stages > (1 << 20)) {
    rc = pl_errf(eb, PL_EPARSE, "run %lld has %d stages", (long long)id,
                 r->stages);
    goto fail;
  }
  r->ranks = pl_calloc((size_t)r->stages, sizeof *r->ranks);
  if (!r->ranks) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto fail;
  }
  for (int i = 0; i < r->stages; i++) {
    r->ranks[i].rank = i;
    r->ranks[i].peak_mem = NAN;
    r->ranks[i].peak_activation_bytes = -1;
  }
  rc = sqlite3_prepare_v2(s,
                          "SELECT rank, busy_time, first_start_time, "
                          "last_end_time, peak_mem, ops FROM run_ranks WHERE "
                          "run_id = ?1",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, what, eb);
    goto fail;
  }
  sqlite3_bind_int64(st, 1, id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int k = sqlite3_column_int(st, 0);
    if (k < 0 || k >= r->stages)
      continue;
    pl_rank_result *rr = &r->ranks[k];
    rr->busy = sqlite3_column_double(st, 1);
    rr->first_start = sqlite3_column_double(st, 2);
    rr->last_end = sqlite3_column_double(st, 3);
    rr->peak_mem = col_num(st, 4);
    rr->n_ops = (size_t)sqlite3_column_int64(st, 5);
  }
  if (rc != SQLITE_DONE) {
    rc = pl__db_fail(db, rc, what, eb);
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  rc = sqlite3_prepare_v2(s,
                          "SELECT rank, idx, op_kind, stage, mb, op_kind2, "
                          "stage2, mb2, start_time, end_time FROM run_ops "
                          "WHERE run_id = ?1 ORDER BY rank, idx",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, what, eb);
    goto fail;
  }
  sqlite3_bind_int64(st, 1, id);
  size_t cap = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int k = sqlite3_column_int(st, 0);
    char kind[8], kind2[8];
    col_text(st, 2, kind, sizeof kind);
    col_text(st, 5, kind2, sizeof kind2);
    int kd = kind_from_name(kind);
    if (k < 0 || k >= r->stages || kd < 0)
      continue;
    if (r->n_ops == cap) {
      size_t nc = cap ? 2 * cap : 256;
      pl_op_rec *v = pl_realloc(r->ops, nc * sizeof *v);
      if (!v) {
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        goto fail;
      }
      r->ops = v;
      cap = nc;
    }
    pl_op_rec *o = &r->ops[r->n_ops++];
    pl_op op = PL_OP_INIT;
    op.kind = (uint8_t)kd;
    op.stage = (int16_t)sqlite3_column_int(st, 3);
    op.mb = sqlite3_column_int(st, 4);
    if (kd == PL_OP_FB) {
      int k2 = kind_from_name(kind2);
      op.kind2 = (uint8_t)(k2 == PL_OP_B ? PL_OP_B : PL_OP_BW);
      op.stage2 = (int16_t)sqlite3_column_int(st, 6);
      op.mb2 = sqlite3_column_int(st, 7);
    }
    o->rank = k;
    o->index = sqlite3_column_int(st, 1);
    o->op = op;
    o->start = sqlite3_column_double(st, 8);
    o->end = sqlite3_column_double(st, 9);
  }
  if (rc != SQLITE_DONE) {
    rc = pl__db_fail(db, rc, what, eb);
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  /* The summary is derived from the rank rows exactly as the engine does. */
  pl_result_summarize(r);
  return PL_OK;
fail:
  sqlite3_finalize(st);
  pl_result_free(r);
  return rc;
}

int pl_db_run_list(pl_db *db, const char *schedule, int stages,
                   int microbatches, pl_db_run_row **out, size_t *n,
                   struct pl_errbuf *eb)
{
  sqlite3 *s = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  pl_db_run_row *v = NULL;
  size_t k = 0, cap = 0;
  int rc;
  *out = NULL;
  *n = 0;
  if (!s)
    return pl_errf(eb, PL_EMISUSE, "no database");
  rc = sqlite3_prepare_v2(
      s,
      "SELECT id, created_at_ns, kind, backend, schedule, coalesce(label, ''),"
      " host, pipelab_version, time_unit, stages, microbatches, chunks, "
      "makespan_time, bubble_ratio, peak_mem FROM runs WHERE "
      "(?1 IS NULL OR schedule = ?1) AND (?2 = 0 OR stages = ?2) AND "
      "(?3 = 0 OR microbatches = ?3) ORDER BY id",
      -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot read", eb);
    goto fail;
  }
  bind_text_or_null(st, 1, schedule);
  sqlite3_bind_int(st, 2, stages);
  sqlite3_bind_int(st, 3, microbatches);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (k == cap) {
      size_t nc = cap ? 2 * cap : 64;
      pl_db_run_row *nv = pl_realloc(v, nc * sizeof *nv);
      if (!nv) {
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        goto fail;
      }
      v = nv;
      cap = nc;
    }
    pl_db_run_row *x = &v[k++];
    memset(x, 0, sizeof *x);
    x->id = sqlite3_column_int64(st, 0);
    x->created_at_ns = sqlite3_column_int64(st, 1);
    col_text(st, 2, x->kind, sizeof x->kind);
    col_text(st, 3, x->backend, sizeof x->backend);
    col_text(st, 4, x->schedule, sizeof x->schedule);
    col_text(st, 5, x->label, sizeof x->label);
    col_text(st, 6, x->host, sizeof x->host);
    col_text(st, 7, x->version, sizeof x->version);
    col_text(st, 8, x->time_unit, sizeof x->time_unit);
    x->stages = sqlite3_column_int(st, 9);
    x->microbatches = sqlite3_column_int(st, 10);
    x->chunks = sqlite3_column_int(st, 11);
    x->makespan = col_num(st, 12);
    x->bubble_ratio = col_num(st, 13);
    x->peak_mem = col_num(st, 14);
  }
  if (rc != SQLITE_DONE) {
    rc = pl__db_fail(db, rc, "cannot read", eb);
    goto fail;
  }
  sqlite3_finalize(st);
  *out = v;
  *n = k;
  return PL_OK;
fail:
  sqlite3_finalize(st);
  pl_free(v);
  return rc;
}
