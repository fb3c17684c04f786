/*
 * learned.c: storing and loading learned costs (tables learned_profiles
 * and learned_costs, models/006_learned.sql). A profile is written inside
 * its own calibration run, so the calibrations row carries the device,
 * host, date, pipelab version and method, and the whole profile is one
 * transaction.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "models_int.h"

static const char *const kind_names[4] = {"F", "B", "W", "BW"};

static void bind_pos_or_null(sqlite3_stmt *st, int i, double x)
{
  if (x > 0)
    sqlite3_bind_double(st, i, x);
  else
    sqlite3_bind_null(st, i);
}

int pl_db_learned_store(pl_db *db, const pl_learned *l,
                        const pl_calib_info *info, int64_t *id,
                        struct pl_errbuf *eb)
{
  if (id)
    *id = 0;
  if (!db || !l || !info || !l->stage || !l->workload_key[0])
    return pl_errf(eb, PL_EINVAL, "store learned costs: bad arguments (a "
                   "profile with a workload key and calibration info)");
  if (strlen(l->source_sha256) != 64)
    return pl_errf(eb, PL_EINVAL, "store learned costs: the profile has no "
                   "source hash");
  pl_calib_info ci = *info;
  if (!ci.gpu)
    ci.gpu = l->device;
  int64_t cal = 0;
  int rc = pl_db_calibration_begin(db, &ci, &cal, eb);
  if (rc)
    return rc;
  sqlite3 *q = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  int src = sqlite3_prepare_v2(
      q,
      "INSERT INTO learned_profiles (calibration_id, source_sha256, "
      "source_kind, schedule, stages, virtual_stages, chunks, microbatches, "
      "iterations, workload_key, git_rev, time_unit, op_gap_time, "
      "op_gap_dispersion, op_gap_count, p2p_time, p2p_dispersion, p2p_count, "
      "p2p_latency_time, p2p_bytes_per_time, msg_bytes, b_frac, have_split, "
      "measured_bw, jitter_sigma, msg_overhead_time, msg_overhead_dispersion, "
      "msg_overhead_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
      "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
      "?24, ?25, ?26, ?27, ?28)",
      -1, &st, NULL);
  if (src == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, cal);
    sqlite3_bind_text(st, 2, l->source_sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, l->source[0] ? l->source : "file", -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, l->schedule, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, l->ranks);
    sqlite3_bind_int(st, 6, l->stages);
    sqlite3_bind_int(st, 7, l->chunks);
    sqlite3_bind_int(st, 8, l->microbatches);
    sqlite3_bind_int(st, 9, l->iterations > 0 ? l->iterations : 1);
    sqlite3_bind_text(st, 10, l->workload_key, -1, SQLITE_TRANSIENT);
    if (l->git_rev[0])
      sqlite3_bind_text(st, 11, l->git_rev, -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(st, 11);
    sqlite3_bind_text(st, 12, l->time_unit, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 13, l->gap.median);
    sqlite3_bind_double(st, 14, l->gap.dispersion);
    sqlite3_bind_int(st, 15, l->gap.count);
    sqlite3_bind_double(st, 16, l->comm.median);
    sqlite3_bind_double(st, 17, l->comm.dispersion);
    sqlite3_bind_int(st, 18, l->comm.count);
    sqlite3_bind_double(st, 19, l->latency);
    bind_pos_or_null(st, 20, l->bandwidth);
    bind_pos_or_null(st, 21, l->msg_bytes);
    bind_pos_or_null(st, 22, l->b_frac);
    sqlite3_bind_int(st, 23, l->have_split != 0);
    sqlite3_bind_int(st, 24, l->measured_bw != 0);
    sqlite3_bind_double(st, 25, l->jitter >= 0 ? l->jitter : 0);
    sqlite3_bind_double(st, 26, l->msg.median >= 0 ? l->msg.median : 0);
    sqlite3_bind_double(st, 27, l->msg.dispersion);
    sqlite3_bind_int(st, 28, l->msg.count);
    src = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  st = NULL;
  int64_t pid = sqlite3_last_insert_rowid(q);
  if (src != SQLITE_DONE) {
    rc = pl__db_fail(db, src, "cannot store a learned profile in", eb);
    goto fail;
  }
  src = sqlite3_prepare_v2(
      q,
      "INSERT INTO learned_costs (profile_id, stage, op_kind, median_time, "
      "dispersion, min_time, max_time, count, excluded, derived) VALUES "
      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      -1, &st, NULL);
  for (int g = 0; g < l->stages && src == SQLITE_OK; g++) {
    for (int k = 0; k < 4; k++) {
      const pl_learned_stat *t = &l->stage[g].t[k];
      if (!t->count && !t->derived)
        continue; /* not in the profile */
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, pid);
      sqlite3_bind_int(st, 2, g);
      sqlite3_bind_text(st, 3, kind_names[k], -1, SQLITE_STATIC);
      sqlite3_bind_double(st, 4, t->median);
      sqlite3_bind_double(st, 5, t->dispersion);
      sqlite3_bind_double(st, 6, t->min);
      sqlite3_bind_double(st, 7, t->max);
      sqlite3_bind_int(st, 8, t->count);
      sqlite3_bind_int(st, 9, t->excluded);
      sqlite3_bind_int(st, 10, t->derived != 0);
      if ((src = sqlite3_step(st)) != SQLITE_DONE)
        break;
      src = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  if (src == SQLITE_OK && l->n_jitter_q >= 2) {
    src = sqlite3_prepare_v2(q,
                             "INSERT INTO learned_jitter (profile_id, k, "
                             "log_ratio) VALUES (?1, ?2, ?3)",
                             -1, &st, NULL);
    for (int k = 0; k < l->n_jitter_q && k < PL_JITTER_Q && src == SQLITE_OK;
         k++) {
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, pid);
      sqlite3_bind_int(st, 2, k);
      sqlite3_bind_double(st, 3, l->jitter_q[k]);
      src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(q);
    }
    sqlite3_finalize(st);
  }
  if (src != SQLITE_OK) {
    rc = pl__db_fail(db, src, "cannot store learned costs in", eb);
    goto fail;
  }
  if ((rc = pl_db_calibration_commit(db, eb)))
    return rc;
  if (id)
    *id = pid;
  return PL_OK;
fail:
  pl_db_calibration_rollback(db);
  return rc;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(dst, len, "%s", t ? (const char *)t : "");
}

int pl_db_learned_load(pl_db *db, const char *device,
                       const char *workload_key, pl_learned **out,
                       int64_t *id, struct pl_errbuf *eb)
{
  if (out)
    *out = NULL;
  if (id)
    *id = 0;
  if (!db || !out)
    return pl_errf(eb, PL_EINVAL, "load learned costs: bad arguments");
  sqlite3 *q = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  int src = sqlite3_prepare_v2(
      q,
      "SELECT p.id, p.source_sha256, p.source_kind, p.schedule, p.stages, "
      "p.virtual_stages, p.chunks, p.microbatches, p.iterations, "
      "p.workload_key, coalesce(p.git_rev, ''), p.time_unit, p.op_gap_time, "
      "p.op_gap_dispersion, p.op_gap_count, p.p2p_time, p.p2p_dispersion, "
      "p.p2p_count, p.p2p_latency_time, coalesce(p.p2p_bytes_per_time, 0), "
      "coalesce(p.msg_bytes, 0), coalesce(p.b_frac, 0), p.have_split, "
      "p.measured_bw, g.name, c.created_at_ns, p.jitter_sigma, "
      "p.msg_overhead_time, p.msg_overhead_dispersion, p.msg_overhead_count "
      "FROM learned_profiles p JOIN calibrations c ON c.id = p.calibration_id "
      "JOIN gpus g ON g.id = c.gpu_id "
      "WHERE (?1 IS NULL OR g.name = ?1 COLLATE NOCASE) "
      "AND (?2 IS NULL OR p.workload_key = ?2) "
      "ORDER BY c.created_at_ns DESC, p.id DESC LIMIT 1",
      -1, &st, NULL);
  if (src != SQLITE_OK)
    return pl__db_fail(db, src, "cannot read learned costs from", eb);
  if (device)
    sqlite3_bind_text(st, 1, device, -1, SQLITE_TRANSIENT);
  if (workload_key)
    sqlite3_bind_text(st, 2, workload_key, -1, SQLITE_TRANSIENT);
  src = sqlite3_step(st);
  if (src == SQLITE_DONE) {
    sqlite3_finalize(st);
    return pl_errf(eb, PL_ENOTFOUND, "no learned costs in '%s'%s%s%s%s%s: "
                   "learn them with 'pipelab calibrate --from <result.json> "
                   "--db %s'", pl_db_path(db), device ? " for device " : "",
                   device ? device : "", workload_key ? " (workload " : "",
                   workload_key ? workload_key : "", workload_key ? ")" : "",
                   pl_db_path(db));
  }
  if (src != SQLITE_ROW) {
    sqlite3_finalize(st);
    return pl__db_fail(db, src, "cannot read learned costs from", eb);
  }
  int S = sqlite3_column_int(st, 5);
  pl_learned *l = NULL;
  if (pl_learned_alloc(S, &l)) {
    sqlite3_finalize(st);
    return pl_errf(eb, PL_EDB, "'%s': learned profile with %d virtual stages "
                   "cannot be read", pl_db_path(db), S);
  }
  int64_t pid = sqlite3_column_int64(st, 0);
  copy_col(l->source_sha256, sizeof l->source_sha256, st, 1);
  copy_col(l->source, sizeof l->source, st, 2);
  copy_col(l->schedule, sizeof l->schedule, st, 3);
  l->ranks = sqlite3_column_int(st, 4);
  l->chunks = sqlite3_column_int(st, 6);
  l->microbatches = sqlite3_column_int(st, 7);
  l->iterations = sqlite3_column_int(st, 8);
  copy_col(l->workload_key, sizeof l->workload_key, st, 9);
  copy_col(l->git_rev, sizeof l->git_rev, st, 10);
  copy_col(l->time_unit, sizeof l->time_unit, st, 11);
  l->gap.median = sqlite3_column_double(st, 12);
  l->gap.dispersion = sqlite3_column_double(st, 13);
  l->gap.count = sqlite3_column_int(st, 14);
  l->comm.median = sqlite3_column_double(st, 15);
  l->comm.dispersion = sqlite3_column_double(st, 16);
  l->comm.count = sqlite3_column_int(st, 17);
  l->latency = sqlite3_column_double(st, 18);
  l->bandwidth = sqlite3_column_double(st, 19);
  l->msg_bytes = sqlite3_column_double(st, 20);
  l->b_frac = sqlite3_column_double(st, 21);
  l->have_split = sqlite3_column_int(st, 22);
  l->measured_bw = sqlite3_column_int(st, 23);
  copy_col(l->device, sizeof l->device, st, 24);
  l->created_at_ns = sqlite3_column_int64(st, 25);
  l->jitter = sqlite3_column_double(st, 26);
  l->msg.median = sqlite3_column_double(st, 27);
  l->msg.dispersion = sqlite3_column_double(st, 28);
  l->msg.count = sqlite3_column_int(st, 29);
  sqlite3_finalize(st);
  st = NULL;
  src = sqlite3_prepare_v2(
      q,
      "SELECT stage, op_kind, median_time, dispersion, min_time, max_time, "
      "count, excluded, derived FROM learned_costs WHERE profile_id = ?1",
      -1, &st, NULL);
  if (src == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, pid);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
      int g = sqlite3_column_int(st, 0);
      const char *k = (const char *)sqlite3_column_text(st, 1);
      int kk = -1;
      for (int i = 0; i < 4 && k; i++)
        if (!strcmp(k, kind_names[i]))
          kk = i;
      if (g < 0 || g >= S || kk < 0)
        continue;
      pl_learned_stat *t = &l->stage[g].t[kk];
      t->median = sqlite3_column_double(st, 2);
      t->dispersion = sqlite3_column_double(st, 3);
      t->min = sqlite3_column_double(st, 4);
      t->max = sqlite3_column_double(st, 5);
      t->count = sqlite3_column_int(st, 6);
      t->excluded = sqlite3_column_int(st, 7);
      t->derived = sqlite3_column_int(st, 8);
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  if (src == SQLITE_DONE) {
    /* the scatter's quantiles (schema 7): all of them in order, or none */
    int n = 0, ok = 1;
    src = sqlite3_prepare_v2(q,
                             "SELECT k, log_ratio FROM learned_jitter WHERE "
                             "profile_id = ?1 ORDER BY k",
                             -1, &st, NULL);
    if (src == SQLITE_OK) {
      sqlite3_bind_int64(st, 1, pid);
      while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n >= PL_JITTER_Q || sqlite3_column_int(st, 0) != n)
          ok = 0;
        else
          l->jitter_q[n++] = sqlite3_column_double(st, 1);
      }
    }
    sqlite3_finalize(st);
    l->n_jitter_q = ok && n >= 2 ? n : 0;
  }
  if (src != SQLITE_DONE) {
    pl_learned_free(l);
    return pl__db_fail(db, src, "cannot read learned costs from", eb);
  }
  *out = l;
  if (id)
    *id = pid;
  return PL_OK;
}
