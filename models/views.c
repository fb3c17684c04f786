/* views.c: the fixed read-only views of the database behind `pipelab db
 * list / show / export / init` (docs/database.md): the SQL of each view and
 * one reader that turns a statement into a pl_db_table of text cells. The
 * caller (the CLI) only formats the table. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "models_int.h"

/* The calibration views take the id as text; CAST keeps "12" and 12 alike. */
#define CALIB_ID "CAST(?1 AS INTEGER)"

static const char *const view_sql[PL_DB_NVIEWS] = {
  [PL_DB_VIEW_GPUS] =
    "SELECT name, full_name, bf16_dense_flops / 1e12 AS bf16_tflops, "
    "round(hbm_bytes / 1073741824.0, 1) AS hbm_gib, "
    "hbm_bytes_per_s / 1e12 AS hbm_tb_per_s, "
    "scaleup_bytes_per_s / 1e9 AS scaleup_gb_per_s, "
    "scaleout_bytes_per_s / 1e9 AS scaleout_gb_per_s, default_mfu, "
    "p2p_latency_us, kind, fp8_dense_flops / 1e12 AS fp8_tflops, "
    "sm_count AS sms, scaleup_domain AS domain, gpus_per_node AS per_node "
    "FROM gpus ORDER BY kind DESC, name",
  [PL_DB_VIEW_MODELS] =
    "SELECT name, full_name, arch, layers, hidden, heads, kv_heads, ffn, "
    "vocab, seq_len, published_params / 1e9 AS published_params_b FROM models "
    "ORDER BY arch, layers * hidden * hidden, name",
  [PL_DB_VIEW_CALIBRATIONS] =
    "SELECT c.id, g.name AS gpu, c.device_name, c.host, c.method, "
    "strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at_ns / 1000000000, "
    "'unixepoch') AS created_utc, c.pipelab_version, c.driver_version, "
    "c.cuda_version, "
    "(SELECT count(*) FROM samples s WHERE s.calibration_id = c.id) AS "
    "samples, "
    "(SELECT count(*) FROM p2p_links l WHERE l.calibration_id = c.id) AS "
    "links, "
    "(SELECT count(*) FROM collectives k WHERE k.calibration_id = c.id) AS "
    "collectives FROM calibrations c JOIN gpus g ON g.id = c.gpu_id ORDER BY "
    "c.id",
  /* One line per imported nccl-tests run. */
  [PL_DB_VIEW_COLLECTIVES] =
    "SELECT k.calibration_id AS calibration, g.name AS gpu, k.op, "
    "k.n_ranks AS ranks, k.n_nodes AS nodes, count(*) AS sizes, "
    "min(k.size_bytes) AS min_bytes, max(k.size_bytes) AS max_bytes, "
    "max(k.busbw_bytes_per_s) / 1e9 AS peak_busbw_gb_per_s, c.host, "
    "strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at_ns / 1000000000, "
    "'unixepoch') AS created_utc FROM collectives k JOIN calibrations c ON "
    "c.id = k.calibration_id JOIN gpus g ON g.id = c.gpu_id GROUP BY "
    "k.calibration_id, k.op, k.n_ranks, k.n_nodes ORDER BY k.calibration_id, "
    "k.op, k.n_ranks",
  /* Every column in stored units; also found by an alias (schema 4). */
  [PL_DB_VIEW_GPU] =
    "SELECT name, full_name, vendor, kind, aliases, "
    "bf16_dense_flops, fp8_dense_flops, fp4_dense_flops, "
    "hbm_bytes, hbm_bytes_per_s, scaleup_bytes_per_s, "
    "scaleout_bytes_per_s, host_link_bytes_per_s, "
    "default_mfu, p2p_latency_us, sm_count, "
    "gemm_efficiency, attn_efficiency, hbm_efficiency, "
    "kernel_launch_us, scaleup_domain, gpus_per_node, "
    "scaleup_latency_us, scaleout_latency_us, "
    "scaleup_coll_efficiency, scaleout_coll_efficiency, "
    "sustained_clock_ratio, source FROM gpus WHERE name = ?1 COLLATE NOCASE "
    "OR full_name = ?1 COLLATE NOCASE OR instr(',' || lower(aliases) || ',', "
    "',' || lower(?1) || ',') > 0 "
    "ORDER BY (name = ?1 COLLATE NOCASE) DESC, id LIMIT 1",
  /* ?2: the parameter count computed by pl_model_params. */
  [PL_DB_VIEW_MODEL] =
    "SELECT name, full_name, arch, layers, hidden, heads, kv_heads, "
    "ffn, vocab, seq_len, tied_embeddings, learned_pos, "
    "published_params, ?2 AS params, source FROM models WHERE "
    "name = ?1 COLLATE NOCASE OR full_name = ?1 COLLATE NOCASE LIMIT 1",
  [PL_DB_VIEW_CALIBRATION] =
    "SELECT c.id, g.name AS gpu, c.device_name, c.host, "
    "c.driver_version, c.cuda_version, c.nccl_version, "
    "strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at_ns / "
    "1000000000, 'unixepoch') AS created_utc, "
    "c.pipelab_version, c.method, c.notes FROM "
    "calibrations c JOIN gpus g ON g.id = c.gpu_id "
    "WHERE c.id = " CALIB_ID,
  [PL_DB_VIEW_CALIBRATION_SAMPLES] =
    "SELECT op_kind AS op, layer_kind AS layer, "
    "model_name AS model, mb_size, seq_len, hidden, "
    "dtype, tp, mean_us, stddev_us, count FROM "
    "samples WHERE calibration_id = " CALIB_ID " ORDER BY id",
  [PL_DB_VIEW_CALIBRATION_LINKS] =
    "SELECT link_kind, latency_us, bytes_per_s / "
    "1e9 AS gb_per_s FROM p2p_links WHERE "
    "calibration_id = " CALIB_ID,
  [PL_DB_VIEW_CALIBRATION_COLLECTIVES] =
    "SELECT op, n_ranks AS ranks, n_nodes AS "
    "nodes, size_bytes, time_us, "
    "algbw_bytes_per_s / 1e9 AS algbw_gb_per_s, "
    "busbw_bytes_per_s / 1e9 AS busbw_gb_per_s "
    "FROM collectives WHERE calibration_id = " CALIB_ID " ORDER BY op, "
    "n_ranks, size_bytes",
  [PL_DB_VIEW_SAMPLES_CSV] =
    "SELECT s.calibration_id, g.name AS gpu, s.op_kind AS op, "
    "s.layer_kind AS layer, s.model_name AS model, s.mb_size, s.seq_len, "
    "s.hidden, s.dtype, s.tp, s.mean_us, s.stddev_us, s.count "
    "FROM samples s JOIN calibrations c ON c.id = s.calibration_id "
    "JOIN gpus g ON g.id = c.gpu_id ORDER BY s.calibration_id, s.id",
  [PL_DB_VIEW_ALL_GPUS] = "SELECT * FROM gpus ORDER BY id",
  [PL_DB_VIEW_ALL_MODELS] = "SELECT * FROM models ORDER BY id",
  [PL_DB_VIEW_ALL_CALIBRATIONS] =
    "SELECT c.*, g.name AS gpu FROM calibrations c "
    "JOIN gpus g ON g.id = c.gpu_id ORDER BY c.id",
  [PL_DB_VIEW_ALL_SAMPLES] = "SELECT * FROM samples ORDER BY id",
  [PL_DB_VIEW_ALL_P2P_LINKS] = "SELECT * FROM p2p_links ORDER BY id",
  [PL_DB_VIEW_ALL_COLLECTIVES] = "SELECT * FROM collectives ORDER BY id",
  [PL_DB_VIEW_COUNTS] =
    "SELECT (SELECT count(*) FROM gpus WHERE kind = 'gpu') AS gpus, "
    "(SELECT count(*) FROM gpus WHERE kind = 'cpu') AS cpus, "
    "(SELECT count(*) FROM models) AS models, "
    "(SELECT count(*) FROM calibrations) AS calibrations, "
    "(SELECT count(*) FROM runs) AS runs",
};

void pl_db_table_free(pl_db_table *t)
{
  if (!t)
    return;
  if (t->cells)
    for (size_t i = 0; i < t->nrow * (size_t)t->ncol; i++)
      pl_free(t->cells[i]);
  if (t->names)
    for (int c = 0; c < t->ncol; c++)
      pl_free(t->names[c]);
  pl_free(t->names);
  pl_free(t->cells);
  pl_free(t->types);
  memset(t, 0, sizeof *t);
}

static int cell_type(int sqlite_type)
{
  switch (sqlite_type) {
  case SQLITE_INTEGER: return PL_DB_INTEGER;
  case SQLITE_FLOAT: return PL_DB_REAL;
  case SQLITE_NULL: return PL_DB_NULL;
  default: return PL_DB_TEXT;
  }
}

/* Steps st to the end into t (already reset). */
static int read_table(pl_db *db, sqlite3_stmt *st, pl_db_table *t,
                      struct pl_errbuf *eb)
{
  int rc;
  t->ncol = sqlite3_column_count(st);
  t->names = pl_calloc((size_t)t->ncol + 1, sizeof *t->names);
  if (!t->names)
    goto nomem;
  for (int c = 0; c < t->ncol; c++)
    if (!(t->names[c] = pl_strdup(sqlite3_column_name(st, c))))
      goto nomem;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (t->nrow == t->cap) {
      size_t nc = t->cap ? t->cap * 2 : 32;
      char **cells = pl_realloc(t->cells, nc * (size_t)t->ncol * sizeof *cells);
      if (!cells)
        goto nomem;
      t->cells = cells;
      int *types = pl_realloc(t->types, nc * (size_t)t->ncol * sizeof *types);
      if (!types)
        goto nomem;
      t->types = types;
      t->cap = nc;
    }
    for (int c = 0; c < t->ncol; c++) {
      size_t i = t->nrow * (size_t)t->ncol + (size_t)c;
      t->types[i] = cell_type(sqlite3_column_type(st, c));
      t->cells[i] = NULL;
    }
    t->nrow++; /* counted now, so a failure below frees what was copied */
    for (int c = 0; c < t->ncol; c++) {
      size_t i = (t->nrow - 1) * (size_t)t->ncol + (size_t)c;
      if (t->types[i] == PL_DB_REAL) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.10g", sqlite3_column_double(st, c));
        t->cells[i] = pl_strdup(buf);
      } else if (t->types[i] != PL_DB_NULL) {
        t->cells[i] = pl_strdup((const char *)sqlite3_column_text(st, c));
      }
      if (t->types[i] != PL_DB_NULL && !t->cells[i])
        goto nomem;
    }
  }
  if (rc != SQLITE_DONE)
    return pl__db_fail(db, rc, "cannot read", eb);
  return PL_OK;
nomem:
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

int pl_db_view_read(pl_db *db, pl_db_view v, const char *arg,
                    pl_db_table *out, struct pl_errbuf *eb)
{
  static const pl_db_table z = PL_DB_TABLE_INIT;
  sqlite3 *s = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  double params = 0;
  int rc;
  *out = z;
  if (!s)
    return pl_errf(eb, PL_EMISUSE, "no database");
  if ((int)v < 0 || v >= PL_DB_NVIEWS)
    return pl_errf(eb, PL_EINVAL, "unknown database view %d", (int)v);
  int takes_arg = v == PL_DB_VIEW_GPU || v == PL_DB_VIEW_MODEL ||
                  (v >= PL_DB_VIEW_CALIBRATION &&
                   v <= PL_DB_VIEW_CALIBRATION_COLLECTIVES);
  if (takes_arg && !arg)
    return pl_errf(eb, PL_EINVAL, "database view %d needs an argument",
                   (int)v);
  if (v == PL_DB_VIEW_MODEL) {
    pl_model_spec m;
    rc = pl_db_get_model(db, arg, &m, eb);
    if (rc == PL_ENOTFOUND) {
      if (eb) {
        eb->code = 0;
        eb->msg[0] = 0;
      }
      params = 0; /* the statement finds no row either */
    } else if (rc) {
      return rc;
    } else {
      params = pl_model_params(&m);
    }
  }
  rc = sqlite3_prepare_v2(s, view_sql[v], -1, &st, NULL);
  if (rc != SQLITE_OK) {
    rc = pl__db_fail(db, rc, "cannot read", eb);
    goto done;
  }
  if (takes_arg)
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
  if (v == PL_DB_VIEW_MODEL) {
    /* A whole count is an integer cell (174604259328, not 1.746e+11). */
    if (params == floor(params) && fabs(params) < 9e18)
      sqlite3_bind_int64(st, 2, (sqlite3_int64)params);
    else
      sqlite3_bind_double(st, 2, params);
  }
  rc = read_table(db, st, out, eb);
done:
  sqlite3_finalize(st);
  if (rc)
    pl_db_table_free(out);
  return rc;
}
