/* test_db.c: the SQLite store: catalog, migrations from schema version 1,
 * the robustness cases (not a database, another application's database, a
 * newer schema, a locked database, an unwritable location: each names the
 * file and leaves it untouched), the calibration API, measured costs that
 * win over analytic ones with interpolation flags, CSV import, and two
 * processes writing at once without losing rows. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../models/models_int.h"

static char tmpdir[256];

static int setup(void **state)
{
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/pl_test_db_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'",
           tmpdir, tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", tmpdir, name);
  unlink(buf);
}

static pl_db *open_ok(const char *path)
{
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_open(path, 0, 0, &db, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
  return db;
}

static int64_t count(pl_db *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  assert_int_equal(sqlite3_prepare_v2(pl__db_sqlite(db), sql, -1, &st, NULL),
                   SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static char *slurp(const char *path, size_t *len)
{
  char *buf = NULL;
  assert_int_equal(pl_read_file(path, &buf, len, NULL), PL_OK);
  return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

/* Raw sqlite3 statements for building test databases. */
static void raw_exec(const char *path, const char *sql)
{
  sqlite3 *s = NULL;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  char *err = NULL;
  int rc = sqlite3_exec(s, sql, NULL, NULL, &err);
  if (rc)
    fprintf(stderr, "%s\n", err);
  sqlite3_free(err);
  assert_int_equal(rc, SQLITE_OK);
  sqlite3_close(s);
}

/* ------------------------------------------------------------ catalog --- */

static void test_catalog(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  assert_int_equal(pl_db_schema_version(db), PL_DB_SCHEMA_VERSION);
  assert_int_equal(count(db, "PRAGMA application_id"), PL_DB_APPLICATION_ID);
  /* 5 GPUs of schema 1 + 6 of schema 4 */
  assert_int_equal(count(db, "SELECT count(*) FROM gpus WHERE kind = 'gpu'"), 11);
  assert_int_equal(count(db, "SELECT count(*) FROM gpus WHERE kind = 'cpu' "
                             "AND name = 'cpu'"), 1);
  assert_int_equal(count(db, "SELECT count(*) FROM models"), 18);
  assert_int_equal(count(db, "SELECT count(*) FROM models WHERE source = ''"),
                   0);
  /* Tables are STRICT and foreign keys are on. */
  assert_int_equal(count(db, "SELECT count(*) FROM pragma_table_list "
                             "WHERE schema = 'main' AND name IN ('gpus', "
                             "'models', 'calibrations', 'samples', "
                             "'p2p_links', 'runs', 'run_ranks', 'run_ops') "
                             "AND strict = 1"), 8);
  assert_int_equal(count(db, "PRAGMA foreign_keys"), 1);
  pl_gpu_spec g;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_get_gpu(db, "H100", &g, &eb), PL_OK);
  assert_string_equal(g.name, "h100");
  assert_true(g.bf16_flops == 989.4e12);
  assert_true(g.hbm_bytes == 80.0 * 1073741824.0);
  assert_true(g.hbm_bandwidth == 3.35e12);
  assert_true(g.scaleup_bandwidth == 450e9);
  assert_true(g.scaleout_bandwidth == 50e9);
  assert_true(g.mfu > 0 && g.mfu <= 1);
  assert_non_null(strstr(g.source, "datasheet"));
  assert_int_equal(pl_db_get_gpu(db, "a100", &g, NULL), PL_OK);
  assert_true(g.bf16_flops == 312e12);
  assert_true(g.hbm_bandwidth == 2.039e12);
  assert_int_equal(pl_db_get_gpu(db, "b200", &g, NULL), PL_OK);
  assert_true(g.bf16_flops == 2250e12);
  assert_int_equal(pl_db_get_gpu(db, "mi300x", &g, NULL), PL_OK);
  assert_true(g.hbm_bytes == 192.0 * 1073741824.0);
  assert_int_equal(pl_db_get_gpu(db, "h200", &g, NULL), PL_OK);
  assert_true(g.hbm_bandwidth == 4.8e12);
  assert_int_equal(pl_db_get_gpu(db, "v100", &g, &eb), PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, "unknown GPU 'v100'"));
  assert_non_null(strstr(eb.msg, "a100, a100-40gb, b200, b300, cpu, gb200, "
                                 "gb300, h100, h200, mi300x, mi325x, mi355x"));
  pl_model_spec m;
  assert_int_equal(pl_db_get_model(db, "Llama-3 70B", &m, NULL), PL_OK);
  assert_string_equal(m.name, "llama3-70b");
  assert_int_equal(m.arch, PL_ARCH_LLAMA);
  assert_int_equal(m.layers, 80);
  assert_int_equal(m.kv_heads, 8);
  assert_int_equal(m.ffn, 28672);
  assert_int_equal(m.vocab, 128256);
  assert_int_equal(pl_db_get_model(db, "zb-1.5b", &m, NULL), PL_OK);
  assert_int_equal(m.hidden, 2304);
  assert_int_equal(m.seq_len, 1024);
  pl_gpu_spec *gl = NULL;
  pl_model_spec *ml = NULL;
  size_t n = 0;
  assert_int_equal(pl_db_list_gpus(db, &gl, &n, NULL), PL_OK);
  assert_int_equal(n, 12); /* 11 GPUs and the cpu device, by name */
  assert_string_equal(gl[0].name, "a100");
  assert_string_equal(gl[4].name, "cpu");
  assert_true(gl[4].is_cpu && !gl[0].is_cpu);
  pl_free(gl);
  assert_int_equal(pl_db_list_models(db, &ml, &n, NULL), PL_OK);
  assert_int_equal(n, 18);
  pl_free(ml);
  /* CHECK constraints reject nonsense. */
  assert_int_not_equal(sqlite3_exec(pl__db_sqlite(db),
                                    "UPDATE gpus SET default_mfu = 2",
                                    NULL, NULL, NULL), SQLITE_OK);
  pl_db_close(db);
}

/* ---------------------------------------------------------- migration --- */

static void test_migration_from_v1(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "v1.db");
  const char *v1 = pl_db_migration_sql(1);
  assert_non_null(v1);
  assert_null(pl_db_migration_sql(PL_DB_SCHEMA_VERSION + 1));
  /* A database as the first released pipelab created it. */
  sqlite3 *s = NULL;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  assert_int_equal(sqlite3_exec(s, v1, NULL, NULL, NULL), SQLITE_OK);
  char pragma[128];
  snprintf(pragma, sizeof pragma, "PRAGMA application_id=%d; "
                                  "PRAGMA user_version=1",
           PL_DB_APPLICATION_ID);
  assert_int_equal(sqlite3_exec(s, pragma, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(s,
                   "INSERT INTO calibrations (gpu_id, device_name, host, "
                   "created_at_ns, pipelab_version, method) VALUES ((SELECT "
                   "id FROM gpus WHERE name = 'a100'), 'A100', 'old', 1, "
                   "'0.0.1', 'synthetic'); INSERT INTO samples "
                   "(calibration_id, op_kind, layer_kind, mb_size, seq_len, "
                   "hidden, dtype, tp, mean_us, stddev_us, count) VALUES "
                   "(1, 'F', 'transformer', 1, 2048, 4096, 'bf16', 1, 1234.5, "
                   "1, 5)",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(s);

  pl_db *db = open_ok(path);
  assert_int_equal(pl_db_schema_version(db), PL_DB_SCHEMA_VERSION);
  /* Old rows survive, new tables exist and work. */
  assert_int_equal(count(db, "SELECT count(*) FROM samples WHERE mean_us = "
                             "1234.5 AND count = 5"), 1);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations WHERE host "
                             "= 'old'"), 1);
  /* Version 3 rebuilt samples: the old row kept its id and values, fp64 is
   * allowed, and the lookup index is back. */
  assert_int_equal(count(db, "SELECT id FROM samples WHERE mean_us = 1234.5"),
                   1);
  assert_int_equal(count(db, "SELECT count(*) FROM sqlite_master WHERE type "
                             "= 'index' AND name = 'samples_key'"), 1);
  assert_int_equal(sqlite3_exec(pl__db_sqlite(db), "INSERT INTO samples "
                   "(calibration_id, op_kind, layer_kind, mb_size, seq_len, "
                   "hidden, dtype, mean_us) VALUES (1, 'F', 'transformer', 1, "
                   "64, 128, 'fp64', 10)", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(count(db, "SELECT count(*) FROM samples"), 2);
  assert_int_equal(count(db, "SELECT count(*) FROM runs"), 0);
  assert_int_equal(
      sqlite3_exec(pl__db_sqlite(db),
                   "INSERT INTO runs (kind, backend, created_at_ns, host, "
                   "pipelab_version, schedule, stages, virtual_stages, "
                   "microbatches, chunks, cost_source, time_unit, mem_unit, "
                   "makespan_time, calibration_id) VALUES ('simulated', 'sim', "
                   "1, 'h', '0.1.0', '1f1b', 4, 4, 8, 1, 'measured', 'us', "
                   "'bytes', 100, 1); INSERT INTO run_ops VALUES (1, 0, 0, "
                   "'F', 0, 0, NULL, NULL, NULL, 0, 10)",
                   NULL, NULL, NULL),
      SQLITE_OK);
  assert_int_equal(count(db, "SELECT count(*) FROM run_ops"), 1);
  /* Foreign keys: deleting the run removes its ops. */
  assert_int_equal(sqlite3_exec(pl__db_sqlite(db), "DELETE FROM runs", NULL,
                                NULL, NULL), SQLITE_OK);
  assert_int_equal(count(db, "SELECT count(*) FROM run_ops"), 0);
  pl_db_close(db);
  /* Opening again does nothing more. */
  db = open_ok(path);
  assert_int_equal(count(db, "SELECT count(*) FROM gpus WHERE kind = 'gpu'"), 11);
  assert_int_equal(count(db, "SELECT count(*) FROM gpus WHERE kind = 'cpu' "
                             "AND name = 'cpu'"), 1);
  pl_db_close(db);
}

static void test_fresh_file_is_wal(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "sub/dir/fresh.db");
  pl_db *db = open_ok(path); /* creates the parent directories */
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(pl__db_sqlite(db), "PRAGMA journal_mode",
                                      -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  assert_string_equal(pl_db_path(db), path);
  pl_db_close(db);
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  tmp_path(path, sizeof path, "missing.db");
  assert_int_equal(pl_db_open(path, PL_DB_NO_CREATE, 0, &db, &eb),
                   PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, path));
  assert_null(db);
}

/* --------------------------------------------------------- robustness --- */

static void expect_refused(const char *path, int code, const char *needle)
{
  size_t len0, len1;
  char *before = slurp(path, &len0);
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_open(path, 0, 200, &db, &eb), code);
  assert_null(db);
  /* One line that names the file. */
  assert_non_null(strstr(eb.msg, path));
  assert_non_null(strstr(eb.msg, needle));
  assert_null(strchr(eb.msg, '\n'));
  char *after = slurp(path, &len1);
  assert_int_equal(len0, len1);
  assert_memory_equal(before, after, len0);
  pl_free(before);
  pl_free(after);
}

static void test_not_a_database(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "notes.txt");
  char text[8192];
  for (size_t i = 0; i < sizeof text; i++)
    text[i] = (char)('a' + i % 26);
  write_file(path, text, sizeof text);
  expect_refused(path, PL_ENOTADB, "not a SQLite database");
}

static void test_foreign_database(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "other.db");
  raw_exec(path, "CREATE TABLE t(x); INSERT INTO t VALUES (42)");
  expect_refused(path, PL_ENOTADB, "another application");
  tmp_path(path, sizeof path, "other2.db");
  raw_exec(path, "PRAGMA application_id = 1234; CREATE TABLE t(x)");
  expect_refused(path, PL_ENOTADB, "application_id 0x4d2");
}

static void test_newer_schema(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "newer.db");
  pl_db_close(open_ok(path));
  raw_exec(path, "PRAGMA user_version = 99");
  expect_refused(path, PL_EDBVERSION, "schema version 99 is newer");
}

static void test_locked(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "locked.db");
  pl_db_close(open_ok(path));
  /* Another connection holds the write lock. */
  sqlite3 *other = NULL;
  assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  /* Reading still works in WAL mode ... */
  assert_int_equal(pl_db_open(path, 0, 100, &db, &eb), PL_OK);
  /* ... writing waits for the busy timeout and then says so. */
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "h100";
  ci.method = "test";
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_EDBLOCKED);
  assert_non_null(strstr(eb.msg, path));
  assert_non_null(strstr(eb.msg, "locked"));
  assert_non_null(strstr(eb.msg, "100 ms"));
  pl_db_close(db);
  /* A fresh file locked by someone else: the migration cannot start. */
  char path2[512];
  tmp_path(path2, sizeof path2, "locked2.db");
  sqlite3 *o2 = NULL;
  assert_int_equal(sqlite3_open(path2, &o2), SQLITE_OK);
  assert_int_equal(sqlite3_exec(o2, "PRAGMA journal_mode=DELETE; "
                                    "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                   SQLITE_OK);
  db = NULL;
  int rc = pl_db_open(path2, 0, 100, &db, &eb);
  assert_int_equal(rc, PL_EDBLOCKED);
  assert_non_null(strstr(eb.msg, path2));
  sqlite3_exec(o2, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(o2);
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
}

static void test_unwritable_location(void **state)
{
  (void)state;
  char file[512], path[600];
  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  /* The parent "directory" is a file: nobody can create it, not even root. */
  tmp_path(file, sizeof file, "plainfile");
  write_file(file, "x", 1);
  snprintf(path, sizeof path, "%s/sub/p.db", file);
  assert_int_equal(pl_db_open(path, 0, 0, &db, &eb), PL_EIO);
  assert_non_null(strstr(eb.msg, path));
  assert_null(db);
  snprintf(path, sizeof path, "%s/p.db", file);
  assert_int_equal(pl_db_open(path, 0, 0, &db, &eb), PL_EIO);
  assert_non_null(strstr(eb.msg, path));
  /* A directory is not a database. */
  assert_int_equal(pl_db_open(tmpdir, 0, 0, &db, &eb), PL_EIO);
  assert_non_null(strstr(eb.msg, "is a directory"));
  if (geteuid() == 0) {
    fprintf(stderr, "note: running as root, skipping the read-only "
                    "directory case (root ignores permissions)\n");
    return;
  }
  char dir[512];
  tmp_path(dir, sizeof dir, "ro");
  assert_int_equal(mkdir(dir, 0555), 0);
  snprintf(path, sizeof path, "%s/p.db", dir);
  assert_int_equal(pl_db_open(path, 0, 0, &db, &eb), PL_EIO);
  assert_non_null(strstr(eb.msg, path));
  chmod(dir, 0755);
}

/* --------------------------------------------------------- calibration --- */

static void add(pl_db *db, int op, int b, int s, int hidden, double us)
{
  pl_sample x = PL_SAMPLE_INIT;
  x.op_kind = op;
  x.mb_size = b;
  x.seq_len = s;
  x.hidden = hidden;
  x.mean_us = us;
  x.stddev_us = us / 100;
  x.count = 10;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_calibration_add_sample(db, &x, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
}

static void test_calibration_api(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sample x = PL_SAMPLE_INIT;
  x.seq_len = x.hidden = 1;
  x.mean_us = 1;
  assert_int_equal(pl_db_calibration_add_sample(db, &x, &eb), PL_EMISUSE);
  assert_int_equal(pl_db_calibration_commit(db, &eb), PL_EMISUSE);
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "h100";
  ci.method = "synthetic";
  ci.host = "node17";
  ci.driver_version = "550.54";
  ci.cuda_version = "13.0";
  int64_t id = 0;
  assert_int_equal(pl_db_calibration_begin(db, &ci, &id, &eb), PL_OK);
  assert_true(id > 0);
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_EMISUSE);
  add(db, PL_OP_F, 1, 2048, 4096, 1000);
  /* A sample that violates a CHECK constraint is refused with the reason. */
  x = (pl_sample)PL_SAMPLE_INIT;
  x.seq_len = 2048;
  x.hidden = 4096;
  x.mean_us = -5;
  assert_int_equal(pl_db_calibration_add_sample(db, &x, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "CHECK constraint failed"));
  pl_link_cost l = {"ib", 12.5, 45e9};
  assert_int_equal(pl_db_calibration_add_link(db, &l, &eb), PL_OK);
  assert_int_equal(pl_db_calibration_commit(db, &eb), PL_OK);
  assert_int_equal(count(db, "SELECT count(*) FROM samples"), 1);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations WHERE host = "
                             "'node17' AND driver_version = '550.54' AND "
                             "pipelab_version IS NOT NULL"), 1);
  double lat, bw;
  assert_int_equal(pl_db_link_cost(db, "H100", "ib", &lat, &bw, &eb), PL_OK);
  assert_true(lat == 12.5 && bw == 45e9);
  assert_int_equal(pl_db_link_cost(db, "h100", "nvlink", &lat, &bw, &eb),
                   PL_ENOTFOUND);
  /* Rollback leaves nothing behind. */
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_OK);
  add(db, PL_OP_F, 2, 2048, 4096, 2000);
  pl_db_calibration_rollback(db);
  assert_int_equal(count(db, "SELECT count(*) FROM samples"), 1);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations"), 1);
  /* An unknown GPU. */
  ci.gpu = "tpu";
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_ENOTFOUND);
  pl_db_close(db);
}


/* The executor workload's calibrations (schema 3): fp64 samples under the
 * cpu device, the newest calibration per (mb, seq) point, time per token
 * interpolated between points and held past them. */
static void wl_add(pl_db *db, const char *kind, int op, int mb, int seq,
                   double us)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sample x = PL_SAMPLE_INIT;
  x.op_kind = op;
  x.layer_kind = kind;
  x.mb_size = mb;
  x.seq_len = seq;
  x.hidden = 128;
  x.dtype = "fp64";
  x.mean_us = us;
  assert_int_equal(pl_db_calibration_add_sample(db, &x, &eb), PL_OK);
}

static void test_workload_costs(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gpu_spec g;
  assert_int_equal(pl_db_get_gpu(db, "cpu", &g, &eb), PL_OK);
  assert_true(g.is_cpu);
  assert_int_equal(pl_db_get_gpu(db, "h100", &g, &eb), PL_OK);
  assert_false(g.is_cpu);
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "cpu";
  ci.method = "pipelab calibrate --backend cpu";
  /* Calibration 1: (mb 1, seq 64), every op, input, loss and the link. */
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_OK);
  wl_add(db, "transformer", PL_OP_F, 1, 64, 100);
  wl_add(db, "transformer", PL_OP_B, 1, 64, 110);
  wl_add(db, "transformer", PL_OP_W, 1, 64, 40);
  wl_add(db, "transformer", PL_OP_BW, 1, 64, 150);
  wl_add(db, "embedding", PL_OP_F, 1, 64, 5);
  wl_add(db, "lm_head", PL_OP_F, 1, 64, 7);
  pl_link_cost l = {"local", 3, 1e9};
  assert_int_equal(pl_db_calibration_add_link(db, &l, &eb), PL_OK);
  assert_int_equal(pl_db_calibration_commit(db, &eb), PL_OK);
  /* Calibration 2: (mb 1, seq 128), no BW. */
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_OK);
  wl_add(db, "transformer", PL_OP_F, 1, 128, 220);
  wl_add(db, "transformer", PL_OP_B, 1, 128, 240);
  wl_add(db, "transformer", PL_OP_W, 1, 128, 90);
  assert_int_equal(pl_db_calibration_commit(db, &eb), PL_OK);
  /* An fp64 sample of another hidden size under a GPU never mixes in. */
  ci.gpu = "h100";
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_OK);
  wl_add(db, "transformer", PL_OP_F, 1, 64, 1);
  assert_int_equal(pl_db_calibration_commit(db, &eb), PL_OK);

  pl_wl_costs wc;
  /* Exact point of the older calibration: still measured (newest per
   * point, not newest overall). */
  assert_int_equal(pl_db_workload_costs(db, "cpu", "fp64", 128, 1, 64, &wc,
                                        &eb), PL_OK);
  assert_true(wc.t[PL_OP_F] == 100 && wc.t[PL_OP_B] == 110 &&
              wc.t[PL_OP_W] == 40 && wc.t[PL_OP_BW] == 150);
  assert_int_equal(wc.source[PL_OP_F], PL_SRC_MEASURED);
  assert_int_equal(wc.source[PL_OP_BW], PL_SRC_MEASURED);
  assert_true(wc.input_us == 5 && wc.loss_us == 7);
  assert_true(wc.have_link && wc.latency_us == 3 && wc.bytes_per_us == 1000);
  assert_int_equal(wc.calibration_id, 2);
  /* seq 96: time per token halfway between 100/64 and 220/128. */
  assert_int_equal(pl_db_workload_costs(db, "cpu", "fp64", 128, 1, 96, &wc,
                                        &eb), PL_OK);
  assert_float_equal(wc.t[PL_OP_F], 96 * (100.0 / 64 + 220.0 / 128) / 2,
                     1e-9);
  assert_float_equal(wc.t[PL_OP_B], 96 * (110.0 / 64 + 240.0 / 128) / 2,
                     1e-9);
  assert_int_equal(wc.source[PL_OP_F], PL_SRC_INTERPOLATED);
  /* seq 128: F measured; BW only at seq 64, held per token: 150 / 64 x 128. */
  assert_int_equal(pl_db_workload_costs(db, "cpu", "fp64", 128, 1, 128, &wc,
                                        &eb), PL_OK);
  assert_true(wc.t[PL_OP_F] == 220);
  assert_float_equal(wc.t[PL_OP_BW], 300, 1e-9);
  assert_int_equal(wc.source[PL_OP_BW], PL_SRC_EXTRAPOLATED);
  assert_float_equal(wc.input_us, 10, 1e-9);
  /* mb 2 at seq 64: twice the tokens, the per-token time of mb 1. */
  assert_int_equal(pl_db_workload_costs(db, "cpu", "fp64", 128, 2, 64, &wc,
                                        &eb), PL_OK);
  assert_float_equal(wc.t[PL_OP_F], 200, 1e-9);
  assert_int_equal(wc.source[PL_OP_F], PL_SRC_EXTRAPOLATED);
  /* Nothing for hidden 256, nor in bf16: a message that says what to run. */
  assert_int_equal(pl_db_workload_costs(db, "cpu", "fp64", 256, 1, 64, &wc,
                                        &eb), PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, "hidden 256"));
  assert_non_null(strstr(eb.msg, "pipelab calibrate"));
  assert_int_equal(pl_db_workload_costs(db, "cpu", "bf16", 128, 1, 64, &wc,
                                        &eb), PL_ENOTFOUND);
  /* The GPU's fp64 sample has F only: B and W are missing. */
  assert_int_equal(pl_db_workload_costs(db, "h100", "fp64", 128, 1, 64, &wc,
                                        &eb), PL_ENOTFOUND);
  /* Only the five dtypes are stored. */
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_OK);
  pl_sample x = PL_SAMPLE_INIT;
  x.seq_len = x.hidden = 64;
  x.mean_us = 1;
  x.dtype = "fp63";
  assert_int_equal(pl_db_calibration_add_sample(db, &x, &eb), PL_EINVAL);
  pl_db_calibration_rollback(db);
  pl_db_close(db);
}


/* pl_db_check: clean on a fresh database; a row whose parent is missing
 * (written with foreign keys off, as an old tool might) is reported. Page
 * damage is covered end to end by tests/cli/test_db.sh. */
static void test_check(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char report[512];
  int problems = -1;
  assert_int_equal(pl_db_check(db, &problems, report, sizeof report, &eb),
                   PL_OK);
  assert_int_equal(problems, 0);
  assert_string_equal(report, "");
  assert_int_equal(sqlite3_exec(pl__db_sqlite(db), "PRAGMA foreign_keys = OFF; "
                   "INSERT INTO samples (calibration_id, op_kind, layer_kind, "
                   "mb_size, seq_len, hidden, dtype, mean_us) VALUES (999, "
                   "'F', 'transformer', 1, 64, 128, 'fp64', 10); PRAGMA "
                   "foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(pl_db_check(db, &problems, report, sizeof report, &eb),
                   PL_OK);
  assert_int_equal(problems, 1);
  assert_string_equal(report, "foreign key: samples row 1 refers to a "
                              "missing calibrations");
  /* A short report buffer truncates, never overflows. */
  char tiny[8];
  assert_int_equal(pl_db_check(db, &problems, tiny, sizeof tiny, &eb), PL_OK);
  assert_string_equal(tiny, "foreign");
  pl_db_close(db);
}

/* Measured times override the analytic ones, interpolated and flagged. */
static void test_measured_costs(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  pl_model_spec m;
  pl_gpu_spec g;
  assert_int_equal(pl_db_get_model(db, "llama2-7b", &m, NULL), PL_OK);
  assert_int_equal(pl_db_get_gpu(db, "h100", &g, NULL), PL_OK);
  pl_train_cfg cfg = PL_TRAIN_CFG_INIT;
  cfg.flash_attn = 1;
  /* The flat model's times (FLOPs / (peak x efficiency)) are the reference
   * here: closed forms; the kernel model interpolates the same way. */
  cfg.mfu = g.mfu;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 4;
  gp.m = 8;
  pl_sched *s = NULL;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, NULL), PL_OK);
  pl_costs *c = NULL;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  /* Analytic first (nothing measured). */
  assert_int_equal(pl_cost_build(db, &m, &g, &cfg, s, &c, &plan, NULL), PL_OK);
  for (int k = PL_OP_F; k <= PL_OP_BW; k++)
    assert_int_equal(c->source[k], PL_SRC_ANALYTIC);
  double an_f = c->stage[1].t[PL_OP_F] / plan.layers[1];
  double an_b = c->stage[1].t[PL_OP_B] / plan.layers[1];
  double an_w = c->stage[1].t[PL_OP_W] / plan.layers[1];
  int layers1 = plan.layers[1];
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  /* Measure F, B, W at b = 1 and b = 4 (s = 4096): twice the analytic time
   * at b = 1, three times at b = 4. */
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "h100";
  ci.method = "test";
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, NULL), PL_OK);
  double an4[3];
  {
    pl_train_cfg c4 = cfg;
    c4.mb_size = 4;
    pl_layer_cost l4;
    assert_int_equal(pl_cost_layer(&m, &c4, &l4, NULL, NULL, NULL), PL_OK);
    double fpus = g.bf16_flops * g.mfu / 1e6;
    an4[0] = l4.flops[PL_OP_F] / fpus;
    an4[1] = l4.flops[PL_OP_B] / fpus;
    an4[2] = l4.flops[PL_OP_W] / fpus;
  }
  add(db, PL_OP_F, 1, 4096, 4096, 2 * an_f);
  add(db, PL_OP_B, 1, 4096, 4096, 2 * an_b);
  add(db, PL_OP_W, 1, 4096, 4096, 2 * an_w);
  add(db, PL_OP_F, 4, 4096, 4096, 3 * an4[0]);
  add(db, PL_OP_B, 4, 4096, 4096, 3 * an4[1]);
  add(db, PL_OP_W, 4, 4096, 4096, 3 * an4[2]);
  /* A sample of another hidden size must not be used. */
  add(db, PL_OP_F, 1, 4096, 8192, 1);
  assert_int_equal(pl_db_calibration_commit(db, NULL), PL_OK);

  /* b = 1: the measured point itself. */
  assert_int_equal(pl_cost_build(db, &m, &g, &cfg, s, &c, &plan, NULL), PL_OK);
  assert_int_equal(c->source[PL_OP_F], PL_SRC_MEASURED);
  assert_int_equal(c->source[PL_OP_B], PL_SRC_MEASURED);
  assert_int_equal(c->source[PL_OP_W], PL_SRC_MEASURED);
  assert_int_equal(c->source[PL_OP_BW], PL_SRC_MEASURED); /* = B + W */
  assert_int_equal(plan.layers[1], layers1);
  double t1 = c->stage[1].t[PL_OP_F];
  assert_true(fabs(t1 - 2 * an_f * layers1) < 1e-6 * t1);
  assert_true(fabs(c->stage[1].t[PL_OP_BW] -
                   2 * (an_b + an_w) * layers1) < 1e-6 * t1);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  /* b = 2: between the points, ratio 2 + 1/3. */
  cfg.mb_size = 2;
  pl_layer_cost l2;
  assert_int_equal(pl_cost_layer(&m, &cfg, &l2, NULL, NULL, NULL), PL_OK);
  assert_int_equal(pl_cost_build(db, &m, &g, &cfg, s, &c, &plan, NULL), PL_OK);
  assert_int_equal(c->source[PL_OP_F], PL_SRC_INTERPOLATED);
  double want = (2 + 1.0 / 3) * l2.flops[PL_OP_F] / (g.bf16_flops * g.mfu / 1e6);
  assert_true(fabs(c->stage[1].t[PL_OP_F] / plan.layers[1] - want) <
              1e-9 * want);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  /* b = 8 and s = 2048: outside the measured range. */
  cfg.mb_size = 8;
  assert_int_equal(pl_cost_build(db, &m, &g, &cfg, s, &c, &plan, NULL), PL_OK);
  assert_int_equal(c->source[PL_OP_F], PL_SRC_EXTRAPOLATED);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  cfg.mb_size = 1;
  cfg.seq_len = 2048;
  assert_int_equal(pl_cost_build(db, &m, &g, &cfg, s, &c, &plan, NULL), PL_OK);
  assert_int_equal(c->source[PL_OP_W], PL_SRC_EXTRAPOLATED);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  /* tp = 2 has no samples: analytic again. */
  cfg.seq_len = 0;
  cfg.tp = 2;
  assert_int_equal(pl_cost_build(db, &m, &g, &cfg, s, &c, &plan, NULL), PL_OK);
  assert_int_equal(c->source[PL_OP_F], PL_SRC_ANALYTIC);
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  pl_sched_destroy(s);
  pl_db_close(db);
}

/* ------------------------------------------------------------- import --- */

static void test_import_csv(void **state)
{
  (void)state;
  char path[512], csv[512];
  tmp_path(path, sizeof path, "import.db");
  tmp_path(csv, sizeof csv, "samples.csv");
  static const char good[] =
      "# comment\n"
      "op,layer,model,mb_size,seq_len,hidden,dtype,tp,mean_us,stddev_us,count\r\n"
      "F,transformer,,1,4096,4096,bf16,1,1000,5,10\r\n"
      "B,transformer,llama2-7b,1,4096,4096,bf16,1,1100,5,10\n"
      "\n"
      "BW,lm_head,,1,4096,4096,bf16,1,900,0,3\n";
  write_file(csv, good, sizeof good - 1);
  pl_db *db = open_ok(path);
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "a100";
  size_t n = 0;
  int64_t id = 0;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_import_csv(db, csv, &ci, &n, &id, &eb), PL_OK);
  assert_int_equal(n, 3);
  assert_true(id > 0);
  assert_int_equal(count(db, "SELECT count(*) FROM samples WHERE "
                             "model_name = 'llama2-7b'"), 1);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations WHERE method "
                             "= 'import'"), 1);
  /* Bad input: the file and line are named, nothing is stored. */
  static const struct { const char *text, *needle; } bad[] = {
    {"op,mb_size,seq_len,hidden,mean_us\nF,1,4096,4096,-3\n", "line 2: mean_us"},
    {"op,mb_size,seq_len,hidden,mean_us\nX,1,4096,4096,3\n", "line 2: op must"},
    {"op,mb_size,seq_len,hidden,mean_us\nF,1,4096,4096,3\nF,1,4096\n",
     "line 3: 3 fields"},
    {"op,mb_size,seq_len,hidden,bogus\n", "unknown column 'bogus'"},
    {"op,mb_size,seq_len,mean_us\n", "required column 'hidden'"},
    {"op,mb_size,seq_len,hidden,mean_us\n", "no sample rows"},
    {"", "empty file"},
    {"op,mb_size,seq_len,hidden,mean_us\nF,1x,4096,4096,3\n", "line 2: mb_size"},
    {"op,mb_size,seq_len,hidden,mean_us\nF,1,4096,4096,3\n\"F,1\n",
     "line 3: a quoted field is not closed"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_file(csv, bad[i].text, strlen(bad[i].text));
    assert_int_equal(pl_db_import_csv(db, csv, &ci, &n, NULL, &eb), PL_EPARSE);
    if (!strstr(eb.msg, bad[i].needle))
      fprintf(stderr, "case %zu: %s\n", i, eb.msg);
    assert_non_null(strstr(eb.msg, bad[i].needle));
    assert_non_null(strstr(eb.msg, csv));
  }
  assert_int_equal(count(db, "SELECT count(*) FROM samples"), 3);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations"), 1);
  /* The gpu column replaces --gpu; it must not change within a file. */
  static const char withgpu[] =
      "gpu,op,mb_size,seq_len,hidden,mean_us\nh200,F,1,1,1,1\nh200,B,1,1,1,2\n";
  write_file(csv, withgpu, sizeof withgpu - 1);
  pl_calib_info ci2 = PL_CALIB_INFO_INIT;
  assert_int_equal(pl_db_import_csv(db, csv, &ci2, &n, NULL, &eb), PL_OK);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations c JOIN gpus g "
                             "ON g.id = c.gpu_id WHERE g.name = 'h200'"), 1);
  static const char mixed[] =
      "gpu,op,mb_size,seq_len,hidden,mean_us\nh200,F,1,1,1,1\na100,B,1,1,1,2\n";
  write_file(csv, mixed, sizeof mixed - 1);
  assert_int_equal(pl_db_import_csv(db, csv, &ci2, &n, NULL, &eb), PL_EPARSE);
  assert_non_null(strstr(eb.msg, "same gpu"));
  assert_int_equal(count(db, "SELECT count(*) FROM samples"), 5);
  /* A quoted field may hold a comma and "" for a quote. */
  static const char quoted[] =
      "op,model,mb_size,seq_len,hidden,mean_us\n"
      "F, \"my \"\"big\"\", model\" ,1,1,1,1\n";
  write_file(csv, quoted, sizeof quoted - 1);
  assert_int_equal(pl_db_import_csv(db, csv, &ci, &n, NULL, &eb), PL_OK);
  assert_int_equal(n, 1);
  assert_int_equal(count(db, "SELECT count(*) FROM samples WHERE "
                             "model_name = 'my \"big\", model'"), 1);
  pl_db_close(db);
}

/* A new database NAME.db (path) and a CSV file NAME.csv (csv, 512 bytes
 * each) holding text. */
static pl_db *import_fixture(const char *name, const char *text, char *path,
                             char *csv)
{
  char db_name[64], csv_name[64];
  snprintf(db_name, sizeof db_name, "%s.db", name);
  snprintf(csv_name, sizeof csv_name, "%s.csv", name);
  tmp_path(path, 512, db_name);
  tmp_path(csv, 512, csv_name);
  write_file(csv, text, strlen(text));
  return open_ok(path);
}

/* A byte order mark before the header (a spreadsheet's "CSV UTF-8") is
 * skipped, not read as part of the column name 'op'; text in memory is
 * imported the same way as a file. */
static void test_import_bom(void **state)
{
  (void)state;
  char path[512], csv[512];
  static const char text[] = "\xef\xbb\xbf" "op,mb_size,seq_len,hidden,mean_us\r\n"
                             "F,1,4096,4096,1000\r\n";
  pl_db *db = import_fixture("bom", text, path, csv);
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "h100";
  size_t n = 0;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_import_csv(db, csv, &ci, &n, NULL, &eb);
  if (rc)
    fail_msg("%s", eb.msg);
  assert_int_equal(n, 1);
  /* Not NUL-terminated: only len bytes are read. */
  char buf[sizeof text + 8];
  memcpy(buf, text, sizeof text - 1);
  memcpy(buf + sizeof text - 1, "B,1,x", 5);
  assert_int_equal(pl_db_import_csv_text(db, "mem.csv", buf, sizeof text - 1,
                                         &ci, &n, NULL, &eb), PL_OK);
  assert_int_equal(n, 1);
  assert_int_equal(count(db, "SELECT count(*) FROM samples"), 2);
  pl_db_close(db);
}

/* A row the database refuses (here a trigger) is reported as
 * "'FILE' line N: <the database's reason>": the message used to be
 * formatted into the buffer it was read from. */
static void test_import_error_message(void **state)
{
  (void)state;
  char path[512], csv[512];
  pl_db *db = import_fixture("refuse", "op,mb_size,seq_len,hidden,mean_us\n"
                                       "F,1,4096,4096,1000\n", path, csv);
  assert_int_equal(sqlite3_exec(pl__db_sqlite(db),
                                "CREATE TEMP TRIGGER no_samples BEFORE INSERT "
                                "ON main.samples BEGIN SELECT RAISE(ABORT, "
                                "'samples are frozen'); END",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "h100";
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_import_csv(db, csv, &ci, NULL, NULL, &eb), PL_EPARSE);
  char want[1200];
  snprintf(want, sizeof want, "'%s' line 2: cannot add a sample to database "
           "'%s': samples are frozen", csv, path);
  assert_string_equal(eb.msg, want);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations"), 0);
  pl_db_close(db);
}

/* Two processes import into the same file at once: no row is lost. */
static void test_concurrent_writers(void **state)
{
  (void)state;
  enum { FILES = 5, ROWS = 400 };
  char path[512], csv[512];
  tmp_path(path, sizeof path, "conc.db");
  tmp_path(csv, sizeof csv, "conc.csv");
  struct pl_buf b;
  pl_buf_init(&b, 0);
  pl_buf_addf(&b, "op,mb_size,seq_len,hidden,mean_us\n");
  for (int i = 0; i < ROWS; i++)
    pl_buf_addf(&b, "F,%d,2048,4096,%d\n", i + 1, 100 + i);
  write_file(csv, b.buf, b.len);
  pl_buf_free(&b);
  pl_db_close(open_ok(path));
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    assert_true(kids[k] >= 0);
    if (kids[k] == 0) {
      pl_db *db = NULL;
      int bad = 0;
      if (pl_db_open(path, 0, 30000, &db, NULL))
        _exit(2);
      pl_calib_info ci = PL_CALIB_INFO_INIT;
      ci.gpu = "h100";
      for (int f = 0; f < FILES; f++)
        bad |= pl_db_import_csv(db, csv, &ci, NULL, NULL, NULL) != PL_OK;
      pl_db_close(db);
      _exit(bad);
    }
  }
  for (int k = 0; k < 2; k++) {
    int st = 0;
    assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  pl_db *db = open_ok(path);
  assert_int_equal(count(db, "SELECT count(*) FROM samples"), 2 * FILES * ROWS);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations"), 2 * FILES);
  /* Each calibration holds exactly its own file's rows. */
  assert_int_equal(count(db, "SELECT count(*) FROM (SELECT calibration_id "
                             "FROM samples GROUP BY calibration_id HAVING "
                             "count(*) = 400)"), 2 * FILES);
  pl_db_close(db);
}

/* Runs: a simulated 1F1B with every op, rank rows and metadata. */
static void test_run_save(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 4;
  gp.m = 8;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_result r = PL_RESULT_INIT;
  assert_int_equal(pl_sched_gen("1f1b", &gp, &s, NULL), PL_OK);
  assert_int_equal(pl_costs_create(4, 4, &c), PL_OK);
  assert_int_equal(pl_costs_uniform(c, 1, 1, 1, 1, 0, 0.5), PL_OK);
  assert_int_equal(pl_sim_run(s, c, PL_SIM_RECORD_OPS, &r, NULL), PL_OK);
  pl_run_info info = PL_RUN_INFO_INIT;
  info.label = "baseline";
  info.params_json = "{\"tf\": 1, \"tb\": 1}";
  info.iteration_time = r.makespan;
  double stat[4] = {10, 20, 30, 40};
  info.static_bytes = stat;
  int64_t id = 0;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_run_save(db, &info, &r, &id, &eb);
  if (rc)
    fprintf(stderr, "%s\n", eb.msg);
  assert_int_equal(rc, PL_OK);
  assert_true(id > 0);
  assert_int_equal(count(db, "SELECT count(*) FROM runs WHERE schedule = "
                             "'1f1b' AND makespan_time = 33 AND stages = 4 "
                             "AND microbatches = 8 AND cost_source = 'user' "
                             "AND kind = 'simulated' AND us_per_time_unit IS "
                             "NULL AND label = 'baseline'"), 1);
  assert_int_equal(count(db, "SELECT json_extract(params_json, '$.tb') FROM "
                             "runs"), 1);
  assert_int_equal(count(db, "SELECT count(*) FROM run_ranks"), 4);
  assert_int_equal(count(db, "SELECT static_bytes FROM run_ranks WHERE rank "
                             "= 2"), 30);
  /* 4 ranks x 8 microbatches x (F + BW) ops, busy time m (tf + tb + tw). */
  assert_int_equal(count(db, "SELECT count(*) FROM run_ops"), 64);
  assert_int_equal(count(db, "SELECT sum(end_time - start_time) FROM run_ops "
                             "WHERE rank = 0"), 24);
  assert_int_equal(count(db, "SELECT max(end_time) FROM run_ops"), 33);
  /* Bad JSON: refused, nothing half-written. */
  info.params_json = "{not json";
  assert_int_equal(pl_db_run_save(db, &info, &r, NULL, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "CHECK constraint failed"));
  assert_int_equal(count(db, "SELECT count(*) FROM runs"), 1);
  assert_int_equal(count(db, "SELECT count(*) FROM run_ops"), 64);
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
  pl_db_close(db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_catalog),
    cmocka_unit_test(test_migration_from_v1),
    cmocka_unit_test(test_fresh_file_is_wal),
    cmocka_unit_test(test_not_a_database),
    cmocka_unit_test(test_foreign_database),
    cmocka_unit_test(test_newer_schema),
    cmocka_unit_test(test_locked),
    cmocka_unit_test(test_unwritable_location),
    cmocka_unit_test(test_calibration_api),
    cmocka_unit_test(test_measured_costs),
    cmocka_unit_test(test_workload_costs),
    cmocka_unit_test(test_check),
    cmocka_unit_test(test_import_csv),
    cmocka_unit_test(test_import_bom),
    cmocka_unit_test(test_import_error_message),
    cmocka_unit_test(test_concurrent_writers),
    cmocka_unit_test(test_run_save),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
