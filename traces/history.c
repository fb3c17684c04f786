/* history.c: run history in the pipelab database: store a
 * result as a run, read it back, list runs with their drift from a
 * baseline. Prepared statements only; one BEGIN IMMEDIATE per record. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipelab/models.h"
#include "traces_int.h"

static int db_err(sqlite3 *s, int rc, const char *what, struct pl_errbuf *eb)
{
  int code = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED
                 ? PL_EDBLOCKED
                 : PL_EDB;
  return pl_errf(eb, code, "sqlite: %s: %s", what,
                 s ? sqlite3_errmsg(s) : sqlite3_errstr(rc));
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

int pl_history_record(struct pl_db *db, const pl_result *r,
                      const pl_history_params *hp, int64_t *id,
                      struct pl_errbuf *eb)
{
  /* The models module owns the runs tables and their one writer
   * (pl_db_run_save); history only maps its parameters onto it. */
  pl_history_params defaults = PL_HISTORY_PARAMS_INIT;
  if (!pl_db_sqlite(db))
    return pl_errf(eb, PL_EMISUSE, "no database");
  if (!hp)
    hp = &defaults;
  if (r->stages <= 0 || r->microbatches <= 0 ||
      r->virtual_stages < r->stages || r->chunks <= 0 ||
      !isfinite(r->makespan) || r->makespan < 0)
    return pl_errf(eb, PL_EINVAL, "cannot record a result without ranks, "
                   "microbatches or a finite makespan");
  int sim = strcmp(r->source, "sim") == 0;
  pl_run_info info = PL_RUN_INFO_INIT;
  info.kind = sim ? "simulated" : "real";
  info.backend = r->source[0] ? r->source : "sim";
  info.label = hp->label;
  info.model_name = hp->model_name;
  info.gpu_name = hp->gpu_name;
  info.cost_source = hp->cost_source ? hp->cost_source
                     : sim           ? "user"
                                     : "executed";
  info.params_json = hp->params_json;
  info.iteration_time = hp->iteration_time;
  return pl_db_run_save(db, &info, r, id, eb);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t len)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, len, "%s", t ? (const char *)t : "");
}

static double col_num(sqlite3_stmt *st, int i)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN
                                                    : sqlite3_column_double(st, i);
}

int pl_history_load(struct pl_db *db, int64_t id, pl_result *r,
                    struct pl_errbuf *eb)
{
  pl_result z = PL_RESULT_INIT;
  sqlite3 *s = pl_db_sqlite(db);
  sqlite3_stmt *st = NULL;
  int rc;
  *r = z;
  if (!s)
    return pl_errf(eb, PL_EMISUSE, "no database");
  rc = sqlite3_prepare_v2(s,
                          "SELECT schedule, backend, time_unit, mem_unit, "
                          "stages, virtual_stages, microbatches, chunks, "
                          "makespan_time, bubble_ratio, peak_mem FROM runs "
                          "WHERE id = ?1",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = db_err(s, rc, "cannot read runs", eb);
    goto fail;
  }
  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    rc = rc == SQLITE_DONE
             ? pl_errf(eb, PL_ENOTFOUND, "no run %lld in '%s'", (long long)id,
                       pl_db_path(db))
             : db_err(s, rc, "cannot read runs", eb);
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
    rc = db_err(s, rc, "cannot read run_ranks", eb);
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
    rc = db_err(s, rc, "cannot read run_ranks", eb);
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
    rc = db_err(s, rc, "cannot read run_ops", eb);
    goto fail;
  }
  sqlite3_bind_int64(st, 1, id);
  size_t cap = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int k = sqlite3_column_int(st, 0);
    char kind[8], kind2[8];
    col_text(st, 2, kind, sizeof kind);
    col_text(st, 5, kind2, sizeof kind2);
    int kd = pl__kind_from_name(kind);
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
      int k2 = pl__kind_from_name(kind2);
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
    rc = db_err(s, rc, "cannot read run_ops", eb);
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

int pl_history_list(struct pl_db *db, const pl_history_query *q,
                    pl_history_run **out, size_t *n, struct pl_errbuf *eb)
{
  pl_history_query dq = PL_HISTORY_QUERY_INIT;
  sqlite3 *s = pl_db_sqlite(db);
  sqlite3_stmt *st = NULL;
  pl_history_run *v = NULL;
  size_t k = 0, cap = 0;
  int rc;
  *out = NULL;
  *n = 0;
  if (!s)
    return pl_errf(eb, PL_EMISUSE, "no database");
  if (!q)
    q = &dq;
  double thr = q->threshold_pct > 0 ? q->threshold_pct : 5;
  rc = sqlite3_prepare_v2(
      s,
      "SELECT id, created_at_ns, kind, backend, schedule, coalesce(label, ''),"
      " host, pipelab_version, time_unit, stages, microbatches, chunks, "
      "makespan_time, bubble_ratio, peak_mem FROM runs WHERE "
      "(?1 IS NULL OR schedule = ?1) AND (?2 = 0 OR stages = ?2) AND "
      "(?3 = 0 OR microbatches = ?3) ORDER BY id",
      -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = db_err(s, rc, "cannot list runs", eb);
    goto fail;
  }
  bind_text(st, 1, q->schedule);
  sqlite3_bind_int(st, 2, q->stages);
  sqlite3_bind_int(st, 3, q->microbatches);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (k == cap) {
      size_t nc = cap ? 2 * cap : 64;
      pl_history_run *nv = pl_realloc(v, nc * sizeof *nv);
      if (!nv) {
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        goto fail;
      }
      v = nv;
      cap = nc;
    }
    pl_history_run *x = &v[k++];
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
    x->drift_pct = NAN;
  }
  if (rc != SQLITE_DONE) {
    rc = db_err(s, rc, "cannot list runs", eb);
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;

  /* Baselines: an explicit run, or the first run of the same case. */
  double base_ms = NAN;
  char base_unit[8] = "";
  if (q->baseline) {
    pl_result b;
    if ((rc = pl_history_load(db, q->baseline, &b, eb)))
      goto fail;
    base_ms = b.makespan;
    snprintf(base_unit, sizeof base_unit, "%s", b.time_unit);
    pl_result_free(&b);
  }
  for (size_t i = 0; i < k; i++) {
    pl_history_run *x = &v[i];
    double ref = NAN, f = 1;
    if (q->baseline) {
      x->baseline = q->baseline;
      ref = base_ms;
      if (strcmp(base_unit, x->time_unit)) {
        double a = pl_time_unit_us(base_unit), b = pl_time_unit_us(x->time_unit);
        f = a > 0 && b > 0 ? b / a : NAN;
      }
    } else {
      for (size_t j = 0; j < i; j++) {
        const pl_history_run *y = &v[j];
        if (!strcmp(y->kind, x->kind) && !strcmp(y->backend, x->backend) &&
            !strcmp(y->schedule, x->schedule) && y->stages == x->stages &&
            y->microbatches == x->microbatches && y->chunks == x->chunks &&
            !strcmp(y->time_unit, x->time_unit)) {
          x->baseline = y->id;
          ref = y->makespan;
          break;
        }
      }
    }
    if (x->baseline && x->baseline != x->id && ref > 0 && isfinite(f)) {
      x->drift_pct = 100.0 * (x->makespan * f - ref) / ref;
      x->flagged = fabs(x->drift_pct) > thr;
    }
  }
  if (q->limit && k > q->limit) {
    memmove(v, v + (k - q->limit), q->limit * sizeof *v);
    k = q->limit;
  }
  *out = v;
  *n = k;
  return PL_OK;
fail:
  sqlite3_finalize(st);
  pl_free(v);
  return rc;
}

int pl_history_open(const char *path, int create, struct pl_db **db,
                    struct pl_errbuf *eb)
{
  char buf[4096];
  *db = NULL;
  if (!path) {
    int rc = pl_db_default_path(buf, sizeof buf, eb);
    if (rc)
      return rc;
    path = buf;
  }
  return pl_db_open(path, create ? 0 : PL_DB_NO_CREATE | PL_DB_READ_ONLY, 0,
                    db, eb);
}

int pl_result_load_any(const char *spec, const char *db_path, pl_result *r,
                       struct pl_errbuf *eb)
{
  pl_result z = PL_RESULT_INIT;
  *r = z;
  if (strncmp(spec, "run:", 4) != 0)
    return pl_result_load(spec, r, eb);
  char *end;
  long long id = strtoll(spec + 4, &end, 10);
  if (end == spec + 4 || *end || id <= 0)
    return pl_errf(eb, PL_EINVAL, "'%s': expected run:<id> with a positive id",
                   spec);
  pl_db *db;
  int rc = pl_history_open(db_path, 0, &db, eb);
  if (rc)
    return rc;
  rc = pl_history_load(db, id, r, eb);
  pl_db_close(db);
  return rc;
}
