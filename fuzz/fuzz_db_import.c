/* fuzz_db_import.c: libFuzzer target for `pipelab db import` of a measured
 * samples CSV (models/db.c) into an in-memory database: one transaction per
 * input, all rows or none, every refusal with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "../models/models_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static pl_db *db;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (!db && pl_db_open(":memory:", 0, 0, &db, &eb)) {
    fprintf(stderr, "cannot open the database: %s\n", eb.msg);
    abort();
  }
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = (size & 1) ? "h100" : NULL; /* else the file's gpu column */
  size_t rows = 0;
  int rc = pl_db_import_csv_text(db, "fuzz.csv", (const char *)data, size,
                                 &ci, &rows, NULL, &eb);
  if (rc && !eb.msg[0]) {
    fprintf(stderr, "refused without a message (%d)\n", rc);
    abort();
  }
  sqlite3 *s = pl__db_sqlite(db);
  sqlite3_stmt *st = NULL;
  long long n = -1;
  if (sqlite3_prepare_v2(s, "SELECT count(*) FROM samples", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (n != (long long)(rc ? 0 : rows)) {
    fprintf(stderr, "%lld samples stored after an import of %zu rows (rc %d)\n",
            n, rows, rc);
    abort();
  }
  /* Start every input from the bare catalog. */
  sqlite3_exec(s, "DELETE FROM calibrations", NULL, NULL, NULL);
  return 0;
}
