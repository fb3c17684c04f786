/* fuzz_tables.c: libFuzzer target for the readers of small user tables
 * that have no target of their own. The first byte of the input picks the
 * reader (its value modulo 4), the rest is the file:
 *   0  a per-stage costs CSV (--stage-costs; sim/costs.c) for 1 to 8
 *      stages (the second byte modulo 8, plus 1, then the file); what it
 *      accepts is simulated (GPipe, two microbatches), as simulate does;
 *   1  a sweep file for `plot sweep` (JSON or CSV; plots/);
 *   2  a catalog file (`db import`/`db add` of GPUs and models, CSV or
 *      JSON; models/catalog.c) into an in-memory database: all rows or
 *      none;
 *   3  an nccl-tests log (`db import`; models/nccl.c): all rows or none.
 * A refusal without a message, a partial import, a crash, a leak or
 * undefined behaviour stops the fuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../models/models_int.h"
#include "pipelab/plots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void refused(int rc, const struct pl_errbuf *eb)
{
  if (rc && !eb->msg[0]) {
    fprintf(stderr, "refused without a message (%d)\n", rc);
    abort();
  }
}

static long long count(pl_db *db, const char *table)
{
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  sqlite3_stmt *st = NULL;
  long long n = -1;
  if (sqlite3_prepare_v2(pl__db_sqlite(db), sql, -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static void stage_costs(const char *text, size_t len, int n_stages)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_costs *c = NULL;
  if (pl_costs_create(n_stages, n_stages, &c))
    abort();
  int rc = pl_costs_read_stage_csv(c, text, len, &eb);
  refused(rc, &eb);
  if (!rc) {
    pl_gen_params gp = PL_GEN_PARAMS_INIT;
    gp.p = n_stages;
    gp.m = 2;
    pl_sched *s = NULL;
    pl_result r = PL_RESULT_INIT;
    if (pl_sched_gen("gpipe", &gp, &s, &eb))
      abort();
    /* huge times may be refused by the engine, with a message */
    eb.msg[0] = 0;
    refused(pl_sim_run(s, c, 0, &r, &eb), &eb);
    pl_result_free(&r);
    pl_sched_destroy(s);
  }
  pl_costs_destroy(c);
}

static void sweep_file(const char *text, size_t len)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sweep_row *rows = NULL;
  size_t n = 0;
  int rc = pl_plot_sweep_parse(text, len, &rows, &n, &eb);
  refused(rc, &eb);
  if (!rc) {
    if (!n) {
      fprintf(stderr, "accepted a sweep file without rows\n");
      abort();
    }
    for (size_t i = 0; i < n; i++)
      if (!memchr(rows[i].schedule, 0, sizeof rows[i].schedule))
        abort();
  }
  pl_plot_sweep_free(rows);
}

static pl_db *open_db(void)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = NULL;
  if (pl_db_open(":memory:", 0, 0, &db, &eb)) {
    fprintf(stderr, "cannot open the database: %s\n", eb.msg);
    abort();
  }
  return db;
}

static void catalog(pl_db **db, const char *text, size_t len, int replace)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  long long g0 = count(*db, "gpus"), m0 = count(*db, "models");
  size_t ng = 0, nm = 0;
  int rc = pl_db_import_catalog_text(*db, "fuzz.csv", text, len, replace,
                                     &ng, &nm, &eb);
  refused(rc, &eb);
  long long g1 = count(*db, "gpus"), m1 = count(*db, "models");
  if (rc ? (g1 != g0 || m1 != m0 || ng || nm)
         : (g1 < g0 || m1 < m0 || g1 > g0 + (long long)ng ||
            m1 > m0 + (long long)nm)) {
    fprintf(stderr, "catalog import (rc %d, %zu gpus, %zu models): gpus "
            "%lld -> %lld, models %lld -> %lld\n", rc, ng, nm, g0, g1, m0,
            m1);
    abort();
  }
  if (!rc) { /* start the next input from the built-in catalog */
    pl_db_close(*db);
    *db = open_db();
  }
}

static void nccl_log(pl_db *db, const char *text, size_t len, uint8_t k)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "a100";
  /* with and without the rank and node counts given */
  int ranks = (k & 1) ? 8 : 0, nodes = (k & 1) ? 1 : 0;
  size_t rows = 0;
  long long n0 = count(db, "collectives");
  int rc = pl_db_import_nccl_text(db, "fuzz.log", text, len, &ci, -1, ranks,
                                  nodes, &rows, NULL, &eb);
  refused(rc, &eb);
  long long n1 = count(db, "collectives");
  if (n1 != n0 + (long long)(rc ? 0 : rows)) {
    fprintf(stderr, "%lld collectives rows after an import of %zu (rc %d), "
            "%lld before\n", n1, rows, rc, n0);
    abort();
  }
  if (!rc)
    sqlite3_exec(pl__db_sqlite(db),
                 "DELETE FROM collectives; DELETE FROM calibrations", NULL,
                 NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static pl_db *db;
  if (!db)
    db = open_db();
  if (size < 1)
    return 0;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  switch (data[0] % 4) {
  case 0:
    if (len >= 1)
      stage_costs(text + 1, len - 1, 1 + (uint8_t)text[0] % 8);
    break;
  case 1: sweep_file(text, len); break;
  case 2: catalog(&db, text, len, data[0] & 4); break;
  default: nccl_log(db, text, len, data[0] >> 2); break;
  }
  return 0;
}
