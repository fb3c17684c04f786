/* runs.c: saving simulated and executed runs into the runs, run_ranks and
 * run_ops tables (schema version 2; docs/database.md). */
#define _POSIX_C_SOURCE 200809L
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
  sqlite3 *s = pl_db_sqlite(db);
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
