/* test_catalog.c: the catalog of schema 4 and what adds to it: pl_db_add_gpu
 * and pl_db_add_model round trips (every field, the table defaults), replace
 * in place keeping the id, refusals that store nothing, alias lookup, the
 * seeded GPUs' figures, migration of a version 3 file with user rows,
 * catalog imports from CSV and JSON, and nccl-tests logs: exact stored
 * values for the fixtures in tests/data/nccl, both table layouts, bad input,
 * the bus-bandwidth lookup (exact, log2 interpolation, held, closest rank
 * count, scope) and a truncation / byte-flip robustness loop. */
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
#include <unistd.h>

#include <sqlite3.h>

#include "../models/models_int.h"

static char tmpdir[256];

static int setup(void **state)
{
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/pl_test_catalog_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", tmpdir, name);
  unlink(buf);
}

static void write_file(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void write_text(const char *path, const char *text)
{
  write_file(path, text, strlen(text));
}

/* Not inlined: gcc 12 at -O3 takes the pointer returned through &buf for a
 * pointer to the local variable itself (-Wdangling-pointer false positive). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static char *slurp(const char *path, size_t *len)
{
  char *buf = NULL;
  assert_int_equal(pl_read_file(path, &buf, len, NULL), PL_OK);
  return buf;
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

static double qdouble(pl_db *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  double v = NAN;
  assert_int_equal(sqlite3_prepare_v2(pl__db_sqlite(db), sql, -1, &st, NULL),
                   SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void qtext(pl_db *db, const char *sql, char *out, size_t len)
{
  sqlite3_stmt *st = NULL;
  out[0] = 0;
  assert_int_equal(sqlite3_prepare_v2(pl__db_sqlite(db), sql, -1, &st, NULL),
                   SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

static void exec_ok(pl_db *db, const char *sql)
{
  char *err = NULL;
  int rc = sqlite3_exec(pl__db_sqlite(db), sql, NULL, NULL, &err);
  if (rc)
    fprintf(stderr, "%s\n", err);
  sqlite3_free(err);
  assert_int_equal(rc, SQLITE_OK);
}

/* Everything the catalog stores, for "nothing stored" checks. */
static int64_t catalog_rows(pl_db *db)
{
  return count(db, "SELECT (SELECT count(*) FROM gpus) * 1000000 + "
                   "(SELECT count(*) FROM models) * 1000 + (SELECT "
                   "total(length(aliases)) FROM gpus)");
}

/* A GPU with every field set away from its default. */
static pl_gpu_spec full_gpu(void)
{
  pl_gpu_spec g;
  memset(&g, 0, sizeof g);
  snprintf(g.name, sizeof g.name, "x200");
  snprintf(g.full_name, sizeof g.full_name, "Example X200 SXM 96GB");
  snprintf(g.vendor, sizeof g.vendor, "Example");
  snprintf(g.source, sizeof g.source, "a datasheet, page 3");
  snprintf(g.aliases, sizeof g.aliases, " x200-sxm , x200-96gb");
  g.bf16_flops = 1234.5e12;
  g.hbm_bytes = 96.0 * 1073741824.0;
  g.hbm_bandwidth = 4.25e12;
  g.scaleup_bandwidth = 600e9;
  g.scaleout_bandwidth = 75e9;
  g.host_bandwidth = 128e9;
  g.mfu = 0.42;
  g.p2p_latency_us = 7.5;
  g.fp8_flops = 2469e12;
  g.fp4_flops = 4938e12;
  g.sm_count = 140;
  g.gemm_eff = 0.71;
  g.attn_eff = 0.52;
  g.hbm_eff = 0.9;
  g.launch_us = 0; /* 0 is a value here, not the default */
  g.scaleup_domain = 16;
  g.gpus_per_node = 4;
  g.scaleup_latency_us = 1.5;
  g.scaleout_latency_us = 0;
  g.scaleup_coll_eff = 0.83;
  g.scaleout_coll_eff = 0.91;
  g.clock_ratio = 0.93;
  return g;
}

static void assert_gpu_equal(const pl_gpu_spec *a, const pl_gpu_spec *b)
{
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->full_name, b->full_name);
  assert_string_equal(a->vendor, b->vendor);
  assert_string_equal(a->source, b->source);
  assert_true(a->bf16_flops == b->bf16_flops);
  assert_true(a->hbm_bytes == b->hbm_bytes);
  assert_true(a->hbm_bandwidth == b->hbm_bandwidth);
  assert_true(a->scaleup_bandwidth == b->scaleup_bandwidth);
  assert_true(a->scaleout_bandwidth == b->scaleout_bandwidth);
  assert_true(a->host_bandwidth == b->host_bandwidth);
  assert_true(a->mfu == b->mfu);
  assert_true(a->p2p_latency_us == b->p2p_latency_us);
  assert_true(a->fp8_flops == b->fp8_flops);
  assert_true(a->fp4_flops == b->fp4_flops);
  assert_int_equal(a->sm_count, b->sm_count);
  assert_true(a->gemm_eff == b->gemm_eff);
  assert_true(a->attn_eff == b->attn_eff);
  assert_true(a->hbm_eff == b->hbm_eff);
  assert_true(a->launch_us == b->launch_us);
  assert_int_equal(a->scaleup_domain, b->scaleup_domain);
  assert_int_equal(a->gpus_per_node, b->gpus_per_node);
  assert_true(a->scaleup_latency_us == b->scaleup_latency_us);
  assert_true(a->scaleout_latency_us == b->scaleout_latency_us);
  assert_true(a->scaleup_coll_eff == b->scaleup_coll_eff);
  assert_true(a->scaleout_coll_eff == b->scaleout_coll_eff);
  assert_true(a->clock_ratio == b->clock_ratio);
  assert_int_equal(a->is_cpu, b->is_cpu);
}

static pl_model_spec full_model(void)
{
  pl_model_spec m;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "mini-3b");
  snprintf(m.full_name, sizeof m.full_name, "Mini 3B");
  snprintf(m.source, sizeof m.source, "config.json of the release");
  m.arch = PL_ARCH_LLAMA;
  m.layers = 28;
  m.hidden = 3072;
  m.heads = 24;
  m.kv_heads = 8;
  m.ffn = 8192;
  m.vocab = 128256;
  m.seq_len = 8192;
  m.tied_embeddings = 1;
  m.learned_pos = 1;
  m.published_params = 3.2e9;
  return m;
}

static void assert_model_equal(const pl_model_spec *a, const pl_model_spec *b)
{
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->full_name, b->full_name);
  assert_string_equal(a->source, b->source);
  assert_int_equal(a->arch, b->arch);
  assert_int_equal(a->layers, b->layers);
  assert_int_equal(a->hidden, b->hidden);
  assert_int_equal(a->heads, b->heads);
  assert_int_equal(a->kv_heads, b->kv_heads);
  assert_int_equal(a->ffn, b->ffn);
  assert_int_equal(a->vocab, b->vocab);
  assert_int_equal(a->seq_len, b->seq_len);
  assert_int_equal(a->tied_embeddings, b->tied_embeddings);
  assert_int_equal(a->learned_pos, b->learned_pos);
  assert_true(a->published_params == b->published_params);
}

/* ------------------------------------------------------------ add/get --- */

static void test_add_gpu_round_trip(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gpu_spec g = full_gpu(), back;
  assert_int_equal(pl_db_add_gpu(db, &g, 0, &eb), PL_OK);
  assert_int_equal(pl_db_get_gpu(db, "X200", &back, &eb), PL_OK);
  assert_gpu_equal(&back, &g);
  assert_string_equal(back.aliases, "x200-sxm,x200-96gb"); /* normalised */
  assert_int_equal(count(db, "SELECT count(*) FROM gpus WHERE name = 'x200' "
                             "AND kind = 'gpu' AND typeof(hbm_bytes) = "
                             "'integer'"), 1);
  /* Found by its full name and by each alias. */
  assert_int_equal(pl_db_get_gpu(db, "example x200 sxm 96gb", &back, &eb),
                   PL_OK);
  assert_string_equal(back.name, "x200");
  assert_int_equal(pl_db_get_gpu(db, "X200-96GB", &back, &eb), PL_OK);
  assert_string_equal(back.name, "x200");

  /* Only the required fields: everything else is the table's default. */
  pl_gpu_spec m;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "bare");
  m.bf16_flops = 100e12;
  m.hbm_bytes = 16.5 * 1073741824.0 + 0.4; /* rounded to whole bytes */
  m.hbm_bandwidth = 1e12;
  m.scaleup_bandwidth = 50e9;
  m.scaleout_bandwidth = 12.5e9;
  m.launch_us = m.scaleup_latency_us = m.scaleout_latency_us = -1;
  m.p2p_latency_us = -1;
  assert_int_equal(pl_db_add_gpu(db, &m, 0, &eb), PL_OK);
  assert_int_equal(pl_db_get_gpu(db, "bare", &back, &eb), PL_OK);
  assert_string_equal(back.full_name, "bare");
  assert_string_equal(back.vendor, "unknown");
  assert_string_equal(back.source, "user-defined");
  assert_string_equal(back.aliases, "");
  assert_true(back.hbm_bytes == 16.5 * 1073741824.0);
  assert_true(back.fp8_flops == 0 && back.fp4_flops == 0 &&
              back.host_bandwidth == 0);
  assert_int_equal(back.sm_count, 108);
  assert_true(back.gemm_eff == 0.75 && back.attn_eff == 0.5 &&
              back.hbm_eff == 0.85);
  assert_true(back.launch_us == 4);
  assert_int_equal(back.scaleup_domain, 8);
  assert_int_equal(back.gpus_per_node, 8);
  assert_true(back.scaleup_latency_us == 2 && back.scaleout_latency_us == 6);
  assert_true(back.scaleup_coll_eff == 0.8 && back.scaleout_coll_eff == 0.9);
  assert_true(back.mfu == 0.5 && back.p2p_latency_us == 10);
  assert_int_equal(count(db, "SELECT count(*) FROM gpus WHERE name = 'bare' "
                             "AND fp8_dense_flops IS NULL AND "
                             "host_link_bytes_per_s IS NULL"), 1);
  pl_db_close(db);
}

static void test_add_model_round_trip(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_model_spec m = full_model(), back;
  assert_int_equal(pl_db_add_model(db, &m, 0, &eb), PL_OK);
  assert_int_equal(pl_db_get_model(db, "MINI-3B", &back, &eb), PL_OK);
  assert_model_equal(&back, &m);
  assert_int_equal(pl_db_get_model(db, "Mini 3B", &back, &eb), PL_OK);
  assert_string_equal(back.name, "mini-3b");
  /* Defaults: kv_heads = heads, tied for GPT, untied for LLaMA, no learned
   * positions, no published size. */
  pl_model_spec g = full_model();
  snprintf(g.name, sizeof g.name, "tiny-gpt");
  g.full_name[0] = 0;
  g.source[0] = 0;
  g.arch = PL_ARCH_GPT;
  g.kv_heads = 0;
  g.tied_embeddings = g.learned_pos = -1;
  g.published_params = 0;
  assert_int_equal(pl_db_add_model(db, &g, 0, &eb), PL_OK);
  assert_int_equal(pl_db_get_model(db, "tiny-gpt", &back, &eb), PL_OK);
  assert_string_equal(back.full_name, "tiny-gpt");
  assert_string_equal(back.source, "user-defined");
  assert_int_equal(back.kv_heads, 24);
  assert_int_equal(back.tied_embeddings, 1);
  assert_int_equal(back.learned_pos, 0);
  assert_true(back.published_params == 0);
  snprintf(g.name, sizeof g.name, "tiny-llama");
  g.arch = PL_ARCH_LLAMA;
  assert_int_equal(pl_db_add_model(db, &g, 0, &eb), PL_OK);
  assert_int_equal(pl_db_get_model(db, "tiny-llama", &back, &eb), PL_OK);
  assert_int_equal(back.tied_embeddings, 0);
  assert_int_equal(count(db, "SELECT count(*) FROM models WHERE name = "
                             "'tiny-llama' AND published_params IS NULL AND "
                             "arch = 'llama'"), 1);
  pl_db_close(db);
}

static void test_replace_keeps_id(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gpu_spec g = full_gpu(), back;
  assert_int_equal(pl_db_add_gpu(db, &g, 0, &eb), PL_OK);
  int64_t id = count(db, "SELECT id FROM gpus WHERE name = 'x200'");
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "x200";
  ci.method = "test";
  int64_t cid;
  assert_int_equal(pl_db_calibration_begin(db, &ci, &cid, &eb), PL_OK);
  assert_int_equal(pl_db_calibration_commit(db, &eb), PL_OK);

  /* A duplicate without replace: refused, nothing changes. */
  int64_t before = catalog_rows(db);
  g.bf16_flops = 1e12;
  snprintf(g.name, sizeof g.name, "X200"); /* names are case-insensitive */
  assert_int_equal(pl_db_add_gpu(db, &g, 0, &eb), PL_EDB);
  assert_non_null(strstr(eb.msg, "GPU 'X200' already exists in ':memory:'"));
  assert_null(strchr(eb.msg, '\n'));
  assert_int_equal(catalog_rows(db), before);
  assert_int_equal(pl_db_get_gpu(db, "x200", &back, &eb), PL_OK);
  assert_true(back.bf16_flops == 1234.5e12);

  /* Replace: the same id, the new values, the calibration still points at
   * it; omitted optional fields fall back to the defaults. */
  g.sm_count = 0;
  g.aliases[0] = 0;
  assert_int_equal(pl_db_add_gpu(db, &g, 1, &eb), PL_OK);
  assert_int_equal(count(db, "SELECT id FROM gpus WHERE name = 'X200'"), id);
  assert_int_equal(pl_db_get_gpu(db, "x200", &back, &eb), PL_OK);
  assert_true(back.bf16_flops == 1e12);
  assert_int_equal(back.sm_count, 108);
  assert_string_equal(back.aliases, "");
  assert_int_equal(count(db, "SELECT gpu_id FROM calibrations"), id);
  assert_int_equal(count(db, "SELECT count(*) FROM gpus"), 13);

  /* Models alike. */
  pl_model_spec m = full_model(), mb;
  assert_int_equal(pl_db_add_model(db, &m, 0, &eb), PL_OK);
  int64_t mid = count(db, "SELECT id FROM models WHERE name = 'mini-3b'");
  m.layers = 30;
  assert_int_equal(pl_db_add_model(db, &m, 0, &eb), PL_EDB);
  assert_non_null(strstr(eb.msg, "model 'mini-3b' already exists"));
  assert_int_equal(pl_db_get_model(db, "mini-3b", &mb, &eb), PL_OK);
  assert_int_equal(mb.layers, 28);
  assert_int_equal(pl_db_add_model(db, &m, 1, &eb), PL_OK);
  assert_int_equal(pl_db_get_model(db, "mini-3b", &mb, &eb), PL_OK);
  assert_int_equal(mb.layers, 30);
  assert_int_equal(count(db, "SELECT id FROM models WHERE name = 'mini-3b'"),
                   mid);

  /* The CPU device is not a GPU to replace. */
  pl_gpu_spec c = full_gpu();
  snprintf(c.name, sizeof c.name, "cpu");
  c.aliases[0] = 0;
  before = catalog_rows(db);
  assert_int_equal(pl_db_add_gpu(db, &c, 1, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "CPU backend"));
  assert_int_equal(catalog_rows(db), before);
  pl_db_close(db);
}

/* Each bad spec is refused with a message naming the column; nothing is
 * stored. */
static void test_refusals(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int64_t before = catalog_rows(db);
  static const struct {
    int field;
    double v;
    const char *text;
    const char *needle;
  } bad_gpus[] = {
      {0, 0, NULL, "bf16_dense_flops: must be > 0"},
      {1, -5, NULL, "hbm_bytes: must be > 0"},
      {2, NAN, NULL, "hbm_bytes_per_s: must be a finite number"},
      {3, 1.5, NULL, "gemm_efficiency: must be in (0, 1]"},
      {4, -0.1, NULL, "scaleout_coll_efficiency: must be in (0, 1]"},
      {5, -3, NULL, "sm_count: must be an integer > 0"},
      {6, -1, NULL, "fp8_dense_flops: must be >= 0"},
      {7, 0, "", "name: must not be empty"},
      {7, 0, "123", "name: must not be a number"},
      {7, 0, "a,b", "name: must not contain a comma"},
      {7, 0, " pad", "must not start or end with a space"},
      {8, 0, "ok1,,ok2", "aliases: an empty name"},
      {8, 0, "x200", "the GPU's own name"},
      {8, 0, "dup,DUP", "listed twice"},
      {8, 0, "h100-sxm", "already a name of GPU 'h100'"},
      {8, 0, "b200", "already a name of GPU 'b200'"},
      {7, 0, "a100-80gb", "already a name of GPU 'a100'"},
  };
  for (size_t i = 0; i < sizeof bad_gpus / sizeof bad_gpus[0]; i++) {
    pl_gpu_spec g = full_gpu();
    switch (bad_gpus[i].field) {
    case 0: g.bf16_flops = bad_gpus[i].v; break;
    case 1: g.hbm_bytes = bad_gpus[i].v; break;
    case 2: g.hbm_bandwidth = bad_gpus[i].v; break;
    case 3: g.gemm_eff = bad_gpus[i].v; break;
    case 4: g.scaleout_coll_eff = bad_gpus[i].v; break;
    case 5: g.sm_count = (int)bad_gpus[i].v; break;
    case 6: g.fp8_flops = bad_gpus[i].v; break;
    case 7: snprintf(g.name, sizeof g.name, "%s", bad_gpus[i].text); break;
    default: snprintf(g.aliases, sizeof g.aliases, "%s", bad_gpus[i].text);
    }
    int rc = pl_db_add_gpu(db, &g, 0, &eb);
    if (rc != PL_EINVAL || !strstr(eb.msg, bad_gpus[i].needle))
      fail_msg("case %zu: rc %d, '%s' (wanted '%s')", i, rc, eb.msg,
               bad_gpus[i].needle);
    assert_null(strchr(eb.msg, '\n'));
    assert_int_equal(catalog_rows(db), before);
  }
  static const struct {
    int heads, kv, hidden, arch, tied;
    const char *needle;
  } bad_models[] = {
      {32, 5, 4096, PL_ARCH_LLAMA, 0, "kv_heads: must divide heads (32)"},
      {32, 64, 4096, PL_ARCH_LLAMA, 0, "kv_heads: must be at most heads"},
      {32, 8, 4100, PL_ARCH_LLAMA, 0, "hidden: must be divisible by heads"},
      {32, 8, 4096, 7, 0, "arch: must be gpt or llama"},
      {32, 8, 4096, PL_ARCH_GPT, 2, "tied_embeddings: must be 0 or 1"},
      {0, 0, 4096, PL_ARCH_GPT, 0, "heads: must be an integer > 0"},
      {32, -1, 4096, PL_ARCH_GPT, 0, "kv_heads: must be an integer > 0"},
  };
  for (size_t i = 0; i < sizeof bad_models / sizeof bad_models[0]; i++) {
    pl_model_spec m = full_model();
    m.heads = bad_models[i].heads;
    m.kv_heads = bad_models[i].kv;
    m.hidden = bad_models[i].hidden;
    m.arch = bad_models[i].arch;
    m.tied_embeddings = bad_models[i].tied;
    int rc = pl_db_add_model(db, &m, 0, &eb);
    if (rc != PL_EINVAL || !strstr(eb.msg, bad_models[i].needle))
      fail_msg("model case %zu: rc %d, '%s' (wanted '%s')", i, rc, eb.msg,
               bad_models[i].needle);
    assert_int_equal(catalog_rows(db), before);
  }
  /* Not inside someone else's open calibration. */
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = "h100";
  ci.method = "test";
  assert_int_equal(pl_db_calibration_begin(db, &ci, NULL, &eb), PL_OK);
  pl_gpu_spec g = full_gpu();
  assert_int_equal(pl_db_add_gpu(db, &g, 0, &eb), PL_EMISUSE);
  pl_db_calibration_rollback(db);
  assert_int_equal(catalog_rows(db), before);
  pl_db_close(db);
}

static void test_alias_lookup(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gpu_spec g;
  static const char *const pairs[][2] = {
      {"a100-80gb", "a100"},      {"A100-SXM4-80GB", "a100"},
      {"h100-sxm5", "h100"},      {"gb200-nvl72", "gb200"},
      {"a100-sxm4-40gb", "a100-40gb"}, {"mi300", "mi300x"},
      {"NVIDIA H100 SXM5 80GB", "h100"}};
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    assert_int_equal(pl_db_get_gpu(db, pairs[i][0], &g, &eb), PL_OK);
    assert_string_equal(g.name, pairs[i][1]);
  }
  /* A part of an alias is not an alias. */
  assert_int_equal(pl_db_get_gpu(db, "a100-80", &g, &eb), PL_ENOTFOUND);
  pl_db_close(db);
}

static void test_seeded_gpus(void **state)
{
  (void)state;
  pl_db *db = open_ok(":memory:");
  pl_gpu_spec *gl = NULL;
  size_t n = 0, gpus = 0;
  assert_int_equal(pl_db_list_gpus(db, &gl, &n, NULL), PL_OK);
  for (size_t i = 0; i < n; i++) {
    const pl_gpu_spec *g = &gl[i];
    if (g->is_cpu)
      continue;
    gpus++;
    if (!(g->bf16_flops > 0 && g->hbm_bytes > 0 && g->hbm_bandwidth > 0 &&
          g->scaleup_bandwidth > 0 && g->scaleout_bandwidth > 0 &&
          g->sm_count > 0 && g->scaleup_domain > 0 && g->gpus_per_node > 0))
      fail_msg("%s: a peak, bandwidth or count is not positive", g->name);
    const double eff[] = {g->mfu, g->gemm_eff, g->attn_eff, g->hbm_eff,
                          g->scaleup_coll_eff, g->scaleout_coll_eff};
    for (size_t k = 0; k < sizeof eff / sizeof eff[0]; k++)
      if (!(eff[k] > 0 && eff[k] <= 1))
        fail_msg("%s: efficiency %zu = %g is not in (0, 1]", g->name, k,
                 eff[k]);
    /* Lower precision is never slower; 0 = not supported. */
    assert_true(g->fp8_flops == 0 || g->fp8_flops >= g->bf16_flops);
    assert_true(g->fp4_flops == 0 || g->fp4_flops >= g->fp8_flops);
    assert_true(g->launch_us >= 0 && g->scaleup_latency_us >= 0 &&
                g->scaleout_latency_us >= 0 && g->p2p_latency_us >= 0);
    assert_true(g->host_bandwidth >= 0);
    assert_true(strlen(g->source) > 20 && strlen(g->vendor) > 0);
  }
  assert_int_equal(gpus, 11);
  pl_free(gl);
  pl_db_close(db);
}

/* A version 6 file with a learned profile migrates to the current schema:
 * the profile loads with the scatter it never had (sigma 0, no quantiles,
 * version 7) and no per-message host time (version 8). */
static void test_migration_learned_v6(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "v6.db");
  sqlite3 *s = NULL;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  for (int v = 1; v <= 6; v++)
    assert_int_equal(sqlite3_exec(s, pl_db_migration_sql(v), NULL, NULL,
                                  NULL), SQLITE_OK);
  char sql[2048];
  snprintf(sql, sizeof sql,
           "PRAGMA application_id=%d; PRAGMA user_version=6; "
           "INSERT INTO gpus (name, full_name, vendor, bf16_dense_flops, "
           "hbm_bytes, hbm_bytes_per_s, scaleup_bytes_per_s, "
           "scaleout_bytes_per_s, default_mfu, p2p_latency_us, source) VALUES "
           "('mycpu', 'My CPU', 'Me', 1e11, 17179869184, 1e10, 1e10, 1e9, "
           "0.3, 5, 'lab'); "
           "INSERT INTO calibrations (gpu_id, device_name, host, "
           "created_at_ns, pipelab_version, method) VALUES ((SELECT id FROM "
           "gpus WHERE name = 'mycpu'), 'My CPU', 'lab1', 1, '0.1.0', 'x'); "
           "INSERT INTO learned_profiles (calibration_id, source_sha256, "
           "source_kind, schedule, stages, virtual_stages, chunks, "
           "microbatches, iterations, workload_key, time_unit, op_gap_time, "
           "p2p_time, p2p_latency_time, have_split, measured_bw) VALUES (1, "
           "'%064d', 'cpu', '1f1b', 2, 2, 1, 4, 1, 'k6', 'us', 1, 50, 50, 0, "
           "1); "
           "INSERT INTO learned_costs (profile_id, stage, op_kind, "
           "median_time, count, derived) VALUES (1, 0, 'F', 100, 4, 0), "
           "(1, 0, 'BW', 200, 4, 0), (1, 1, 'F', 110, 4, 0), "
           "(1, 1, 'BW', 210, 4, 0)",
           0x504C4142, 0);
  assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(s);

  pl_db *db = open_ok(path);
  assert_int_equal(pl_db_schema_version(db), PL_DB_SCHEMA_VERSION);
  pl_learned *l = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  assert_int_equal(pl_db_learned_load(db, "mycpu", "k6", &l, NULL, &eb), PL_OK);
  assert_true(l->stage[1].t[PL_OP_BW].median == 210);
  assert_true(l->gap.median == 1 && l->comm.median == 50);
  assert_true(l->jitter == 0);
  assert_int_equal(l->n_jitter_q, 0);
  assert_true(l->msg.median == 0);
  assert_int_equal(l->msg.count, 0);
  pl_learned_free(l);
  pl_db_close(db);
  remove(path);
}

static void test_migration_from_v3(void **state)
{
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "v3.db");
  sqlite3 *s = NULL;
  assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
  for (int v = 1; v <= 3; v++)
    assert_int_equal(sqlite3_exec(s, pl_db_migration_sql(v), NULL, NULL,
                                  NULL), SQLITE_OK);
  char sql[1024];
  snprintf(sql, sizeof sql,
           "PRAGMA application_id=%d; PRAGMA user_version=3; "
           "INSERT INTO gpus (name, full_name, vendor, bf16_dense_flops, "
           "hbm_bytes, hbm_bytes_per_s, scaleup_bytes_per_s, "
           "scaleout_bytes_per_s, default_mfu, p2p_latency_us, source) VALUES "
           "('mygpu', 'My GPU', 'Me', 1e14, 17179869184, 1e12, 1e11, 1e10, "
           "0.3, 5, 'lab'); "
           "INSERT INTO models (name, full_name, arch, layers, hidden, heads, "
           "kv_heads, ffn, vocab, seq_len, tied_embeddings, learned_pos, "
           "source) VALUES ('mymodel', 'Mine', 'gpt', 4, 256, 4, 4, 1024, "
           "1000, 128, 1, 1, 'lab'); "
           "INSERT INTO calibrations (gpu_id, device_name, host, "
           "created_at_ns, pipelab_version, method) VALUES ((SELECT id FROM "
           "gpus WHERE name = 'mygpu'), 'My GPU', 'lab1', 1, '0.1.0', 'x'); "
           "INSERT INTO samples (calibration_id, op_kind, layer_kind, "
           "mb_size, seq_len, hidden, dtype, mean_us) VALUES (1, 'F', "
           "'transformer', 1, 128, 256, 'fp64', 42.5)",
           0x504C4142);
  assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
  int64_t gid = 0;
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(s, "SELECT id FROM gpus WHERE name = 'mygpu'", -1, &st,
                     NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  gid = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(s);

  pl_db *db = open_ok(path);
  assert_int_equal(pl_db_schema_version(db), PL_DB_SCHEMA_VERSION);
  pl_gpu_spec g;
  pl_model_spec m;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  /* The user's rows survive with their ids; new columns hold defaults. */
  assert_int_equal(pl_db_get_gpu(db, "mygpu", &g, &eb), PL_OK);
  assert_true(g.bf16_flops == 1e14 && g.mfu == 0.3 && g.p2p_latency_us == 5);
  assert_int_equal(g.sm_count, 108);
  assert_true(g.gemm_eff == 0.75 && g.fp8_flops == 0);
  assert_string_equal(g.aliases, "");
  assert_int_equal(count(db, "SELECT id FROM gpus WHERE name = 'mygpu'"),
                   gid);
  assert_int_equal(pl_db_get_model(db, "mymodel", &m, &eb), PL_OK);
  assert_int_equal(m.hidden, 256);
  assert_int_equal(count(db, "SELECT count(*) FROM samples WHERE mean_us = "
                             "42.5 AND calibration_id = 1"), 1);
  assert_int_equal(count(db, "SELECT gpu_id FROM calibrations"), gid);
  /* Seeded rows got their schema 4 figures, new GPUs and the collectives
   * table are there. */
  assert_int_equal(pl_db_get_gpu(db, "h100", &g, &eb), PL_OK);
  assert_true(g.fp8_flops == 1978.9e12);
  assert_int_equal(g.sm_count, 132);
  assert_int_equal(pl_db_get_gpu(db, "gb200", &g, &eb), PL_OK);
  assert_int_equal(g.scaleup_domain, 72);
  /* Schema 5: the user's GPU takes the default sustained clock (1), the
   * seeded A100 its 1305 / 1410 MHz. */
  assert_int_equal(pl_db_get_gpu(db, "mygpu", &g, &eb), PL_OK);
  assert_true(g.clock_ratio == 1);
  assert_int_equal(pl_db_get_gpu(db, "a100", &g, &eb), PL_OK);
  assert_true(g.clock_ratio == 1305.0 / 1410.0);
  assert_int_equal(count(db, "SELECT count(*) FROM collectives"), 0);
  /* And the new writers work on it. */
  pl_gpu_spec x = full_gpu();
  assert_int_equal(pl_db_add_gpu(db, &x, 0, &eb), PL_OK);
  pl_db_close(db);
}

/* ------------------------------------------------------ catalog import --- */

static void test_import_catalog_csv(void **state)
{
  (void)state;
  char path[512];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  size_t ng = 9, nm = 9;
  pl_db *db = open_ok(":memory:");
  tmp_path(path, sizeof path, "gpus.csv");
  write_text(path,
             "# two GPUs, SI units as stored\n"
             "name,full_name,vendor,bf16_dense_flops,hbm_bytes,hbm_bytes_per_s,"
             "scaleup_bytes_per_s,scaleout_bytes_per_s,sm_count,"
             "gemm_efficiency,aliases,source,fp8_dense_flops\r\n"
             "y100,Example Y100,Example,5e14,34359738368,2e12,3e11,5e10,96,"
             "0.7,\"y100-sxm, y100-32gb\",\"sheet, p. 2\",1e15\r\n"
             "\n"
             "y50,,,2.5e14,17179869184,1e12,1.5e11,2.5e10,,,,,\n");
  assert_int_equal(pl_db_import_catalog(db, path, 0, &ng, &nm, &eb), PL_OK);
  assert_int_equal(ng, 2);
  assert_int_equal(nm, 0);
  pl_gpu_spec g;
  assert_int_equal(pl_db_get_gpu(db, "y100-32gb", &g, &eb), PL_OK);
  assert_string_equal(g.name, "y100");
  assert_string_equal(g.source, "sheet, p. 2");
  assert_string_equal(g.aliases, "y100-sxm,y100-32gb");
  assert_true(g.bf16_flops == 5e14 && g.hbm_bytes == 34359738368.0 &&
              g.fp8_flops == 1e15 && g.gemm_eff == 0.7);
  assert_int_equal(g.sm_count, 96);
  assert_int_equal(pl_db_get_gpu(db, "y50", &g, &eb), PL_OK);
  assert_string_equal(g.full_name, "y50");
  assert_int_equal(g.sm_count, 108);
  assert_true(g.gemm_eff == 0.75);
  int kind = -1;
  assert_int_equal(pl_db_import_kind(path, &kind, &eb), PL_OK);
  assert_int_equal(kind, PL_IMPORT_CATALOG);

  /* Models, and their import kind. */
  tmp_path(path, sizeof path, "models.csv");
  write_text(path, "name,arch,layers,hidden,heads,kv_heads,ffn,vocab,seq_len,"
                   "published_params\n"
                   "m-small,llama,4,512,8,2,1536,32000,2048,5.5e7\n"
                   "g-small,gpt,4,512,8,,2048,50257,1024,\n");
  assert_int_equal(pl_db_import_kind(path, &kind, &eb), PL_OK);
  assert_int_equal(kind, PL_IMPORT_CATALOG);
  assert_int_equal(pl_db_import_catalog(db, path, 0, &ng, &nm, &eb), PL_OK);
  assert_int_equal(nm, 2);
  pl_model_spec m;
  assert_int_equal(pl_db_get_model(db, "m-small", &m, &eb), PL_OK);
  assert_int_equal(m.arch, PL_ARCH_LLAMA);
  assert_int_equal(m.kv_heads, 2);
  assert_int_equal(m.tied_embeddings, 0);
  assert_true(m.published_params == 5.5e7);
  assert_int_equal(pl_db_get_model(db, "g-small", &m, &eb), PL_OK);
  assert_int_equal(m.kv_heads, 8);
  assert_int_equal(m.tied_embeddings, 1);

  /* Bad rows: one line naming the file, line and column; nothing stored
   * (the good first row is rolled back too). */
  static const struct {
    const char *csv, *needle;
  } bad[] = {
      {"name,bf16_dense_flops,hbm_bytes,hbm_bytes_per_s,scaleup_bytes_per_s,"
       "scaleout_bytes_per_s\nz1,1e14,1e9,1e12,1e11,1e10\n"
       "z2,1e14,-1e9,1e12,1e11,1e10\n",
       "line 3, column hbm_bytes: must be > 0, got '-1e9'"},
      {"name,bf16_dense_flops,hbm_bytes,hbm_bytes_per_s,scaleup_bytes_per_s\n"
       "z1,1e14,1e9,1e12,1e11\n",
       "line 1: the header lacks the required GPU column "
       "'scaleout_bytes_per_s'"},
      {"name,bf16_dense_flops,hbm_bytes,hbm_bytes_per_s,scaleup_bytes_per_s,"
       "scaleout_bytes_per_s,gemm_efficiency\nz1,1e14,1e9,1e12,1e11,1e10,"
       "fast\n",
       "line 2, column gemm_efficiency: must be a number, got 'fast'"},
      {"name,kind,bf16_dense_flops\nz1,gpu,1\n",
       "line 1: column 'kind' is not allowed"},
      {"name,layers,hidden,heads,ffn,vocab,seq_len,arch\n"
       "q1,2,64,4,256,100,128,gpt\nq2,2,64,4,256,100,128,mamba\n",
       "line 3, column arch: must be gpt or llama, got 'mamba'"},
      {"name,layers,hidden,heads,ffn,vocab,seq_len\n"
       "q1,2,64,4,256,100,128\nq1,2,64,4,256,100,128\n",
       "line 3, column name: model 'q1' appears twice (also line 2)"},
      {"name,layers,hidden,heads,ffn,vocab,seq_len\n"
       "llama3-8b,2,64,4,256,100,128\n",
       "line 2, column name: model 'llama3-8b' already exists"},
      {"name,layers,hidden,heads,ffn,vocab,seq_len\nq1,2,64,4,256,100\n",
       "line 2: 6 fields, the header has 7"},
      {"name,layers,hidden,heads,kv_heads,ffn,vocab,seq_len\n"
       "q1,2,64,4,3,256,100,128\n",
       "line 2, column kv_heads: must divide heads (4), got 3"},
      {"name,layers,hidden,heads,ffn,vocab,seq_len,source\n"
       "q1,2,64,4,256,100,128,\"open\n",
       "a quoted field is not closed"},
  };
  int64_t before = catalog_rows(db);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tmp_path(path, sizeof path, "bad.csv");
    write_text(path, bad[i].csv);
    int rc = pl_db_import_catalog(db, path, 0, &ng, &nm, &eb);
    if (rc != PL_EPARSE || !strstr(eb.msg, bad[i].needle) ||
        !strstr(eb.msg, "bad.csv'"))
      fail_msg("case %zu: rc %d '%s' (wanted '%s')", i, rc, eb.msg,
               bad[i].needle);
    assert_null(strchr(eb.msg, '\n'));
    assert_int_equal(catalog_rows(db), before);
    assert_int_equal(ng + nm, 0);
  }
  /* --replace turns the duplicate into an update in place. */
  int64_t id = count(db, "SELECT id FROM models WHERE name = 'llama3-8b'");
  write_text(path, "name,layers,hidden,heads,ffn,vocab,seq_len\n"
                   "llama3-8b,2,64,4,256,100,128\n");
  assert_int_equal(pl_db_import_catalog(db, path, 1, &ng, &nm, &eb), PL_OK);
  assert_int_equal(count(db, "SELECT id FROM models WHERE name = "
                             "'llama3-8b' AND layers = 2"), id);
  pl_db_close(db);
}

static void test_import_catalog_json(void **state)
{
  (void)state;
  char path[512];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  size_t ng = 0, nm = 0;
  int kind = -1;
  pl_db *db = open_ok(":memory:");
  tmp_path(path, sizeof path, "cat.json");
  write_text(path,
             "{\"gpus\": [{\"name\": \"j1\", \"bf16_dense_flops\": 4e14, "
             "\"hbm_bytes\": 68719476736, \"hbm_bytes_per_s\": 3e12, "
             "\"scaleup_bytes_per_s\": 4.5e11, \"scaleout_bytes_per_s\": 5e10, "
             "\"aliases\": [\"j1-sxm\", \"j1-64gb\"], \"fp4_dense_flops\": null, "
             "\"kernel_launch_us\": 0}],\n"
             " \"models\": [{\"name\": \"jm\", \"arch\": \"llama\", \"layers\": "
             "2, \"hidden\": 128, \"heads\": 4, \"kv_heads\": 1, \"ffn\": 512, "
             "\"vocab\": 1000, \"seq_len\": 256, \"tied_embeddings\": true}]}\n");
  assert_int_equal(pl_db_import_kind(path, &kind, &eb), PL_OK);
  assert_int_equal(kind, PL_IMPORT_CATALOG);
  assert_int_equal(pl_db_import_catalog(db, path, 0, &ng, &nm, &eb), PL_OK);
  assert_int_equal(ng, 1);
  assert_int_equal(nm, 1);
  pl_gpu_spec g;
  assert_int_equal(pl_db_get_gpu(db, "j1-64gb", &g, &eb), PL_OK);
  assert_true(g.hbm_bytes == 68719476736.0 && g.launch_us == 0 &&
              g.fp4_flops == 0);
  pl_model_spec m;
  assert_int_equal(pl_db_get_model(db, "jm", &m, &eb), PL_OK);
  assert_int_equal(m.tied_embeddings, 1);
  assert_int_equal(m.kv_heads, 1);

  /* An array of objects: the keys say which table. */
  tmp_path(path, sizeof path, "arr.json");
  write_text(path, "[{\"name\": \"jm2\", \"layers\": 2, \"hidden\": 128, "
                   "\"heads\": 4, \"ffn\": 512, \"vocab\": 1000, \"seq_len\": "
                   "256}, {\"name\": \"j2\", \"bf16_dense_flops\": 1e14, "
                   "\"hbm_bytes\": 1e10, \"hbm_bytes_per_s\": 1e12, "
                   "\"scaleup_bytes_per_s\": 1e11, \"scaleout_bytes_per_s\": "
                   "1e10}]");
  assert_int_equal(pl_db_import_catalog(db, path, 0, &ng, &nm, &eb), PL_OK);
  assert_int_equal(ng, 1);
  assert_int_equal(nm, 1);

  static const struct {
    const char *json, *needle;
  } bad[] = {
      {"{\"gpus\": [{\"name\": \"k1\", \"bf16_dense_flops\": 1e14, "
       "\"hbm_bytes\": 1e10, \"hbm_bytes_per_s\": 1e12, "
       "\"scaleup_bytes_per_s\": 1e11, \"scaleout_bytes_per_s\": 1e10}, "
       "{\"name\": \"k2\", \"bf16_dense_flops\": \"fast\"}]}",
       "gpus[1], column bf16_dense_flops: must be a number"},
      {"{\"models\": [{\"name\": \"k3\", \"layers\": 2, \"hidden\": 128, "
       "\"heads\": 4, \"ffn\": 512, \"vocab\": 1000}]}",
       "models[0], column seq_len: required, but missing"},
      {"[{\"name\": \"k4\", \"kind\": \"cpu\", \"bf16_dense_flops\": 1}]",
       "[0], column kind: not allowed"},
      {"[{\"name\": \"k5\", \"wings\": 2}]",
       "[0]: neither a GPU"},
      {"{\"gpus\": [], \"runs\": []}", "unknown key 'runs'"},
      {"{\"gpus\": [{\"name\": ", "line 1"},
      {"[{\"name\": \"k6\", \"layers\": -2, \"hidden\": 128, \"heads\": 4, "
       "\"ffn\": 512, \"vocab\": 1000, \"seq_len\": 256}]",
       "[0], column layers: must be an integer"},
  };
  int64_t before = catalog_rows(db);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tmp_path(path, sizeof path, "bad.json");
    write_text(path, bad[i].json);
    int rc = pl_db_import_catalog(db, path, 0, &ng, &nm, &eb);
    if (rc != PL_EPARSE || !strstr(eb.msg, bad[i].needle) ||
        !strstr(eb.msg, "bad.json'"))
      fail_msg("case %zu: rc %d '%s' (wanted '%s')", i, rc, eb.msg,
               bad[i].needle);
    assert_int_equal(catalog_rows(db), before);
  }
  pl_db_close(db);
}

/* ------------------------------------------------------------- nccl --- */

static void fixture(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/nccl/%s", PL_TEST_DATA, name);
}

static int import_log(pl_db *db, const char *path, const char *gpu, int op,
                      int ranks, int nodes, size_t *n, int64_t *cid,
                      struct pl_errbuf *eb)
{
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  ci.gpu = gpu;
  return pl_db_import_nccl(db, path, &ci, op, ranks, nodes, n, cid, eb);
}

/* One stored row: time, algbw, busbw at a size of calibration cid. */
static void stored(pl_db *db, int64_t cid, const char *size, double *t,
                   double *alg, double *bus)
{
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT %%s FROM collectives WHERE "
           "calibration_id = %lld AND size_bytes = %s", (long long)cid, size);
  char q[320];
  snprintf(q, sizeof q, sql, "time_us");
  *t = qdouble(db, q);
  snprintf(q, sizeof q, sql, "algbw_bytes_per_s");
  *alg = qdouble(db, q);
  snprintf(q, sizeof q, sql, "busbw_bytes_per_s");
  *bus = qdouble(db, q);
}

static void test_nccl_single_node(void **state)
{
  (void)state;
  char path[512], txt[128], sql[256];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = open_ok(":memory:");
  fixture(path, sizeof path, "all_reduce_8rank_1node.txt");
  int kind = -1;
  assert_int_equal(pl_db_import_kind(path, &kind, &eb), PL_OK);
  assert_int_equal(kind, PL_IMPORT_NCCL);
  size_t n = 0;
  int64_t cid = 0;
  int rc = import_log(db, path, "h100", -1, 0, 0, &n, &cid, &eb);
  if (rc)
    fail_msg("%s", eb.msg);
  assert_int_equal(n, 31);
  assert_true(cid > 0);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM collectives WHERE "
           "calibration_id = %lld AND op = 'all_reduce' AND n_ranks = 8 AND "
           "n_nodes = 1", (long long)cid);
  assert_int_equal(count(db, sql), 31);
  assert_int_equal(count(db, "SELECT min(size_bytes) FROM collectives"), 8);
  assert_int_equal(count(db, "SELECT max(size_bytes) FROM collectives"),
                   8589934592LL);
  /* Exact values as logged (GB/s -> bytes/s). */
  double t, alg, bus;
  stored(db, cid, "8", &t, &alg, &bus);
  assert_true(t == 17.38 && alg == 0.00 * 1e9 && bus == 0.00 * 1e9);
  stored(db, cid, "1073741824", &t, &alg, &bus);
  assert_true(t == 5152.6 && alg == 208.39 * 1e9 && bus == 364.68 * 1e9);
  stored(db, cid, "2147483648", &t, &alg, &bus);
  assert_true(t == 10224 && alg == 210.04 * 1e9 && bus == 367.57 * 1e9);
  stored(db, cid, "8388608", &t, &alg, &bus);
  assert_true(t == 62.47 && alg == 134.29 * 1e9 && bus == 235.00 * 1e9);
  /* The calibration run says where it came from. */
  qtext(db, "SELECT method || '|' || host || '|' || device_name || '|' || "
            "nccl_version FROM calibrations", txt, sizeof txt);
  assert_string_equal(txt, "nccl-tests|dgx-h100-07|NVIDIA H100 80GB HBM3|"
                           "2.19.3");
  pl_db_close(db);
}

static void test_nccl_two_nodes(void **state)
{
  (void)state;
  char path[512], txt[128];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = open_ok(":memory:");
  fixture(path, sizeof path, "all_reduce_16rank_2node.txt");
  size_t n = 0;
  int64_t cid = 0;
  /* No banner: the op comes from the mpirun command line; NCCL INFO and
   * MPI lines inside and around the table are skipped. */
  int rc = import_log(db, path, "h100-sxm", -1, 0, 0, &n, &cid, &eb);
  if (rc)
    fail_msg("%s", eb.msg);
  assert_int_equal(n, 31);
  assert_int_equal(count(db, "SELECT count(*) FROM collectives WHERE op = "
                             "'all_reduce' AND n_ranks = 16 AND n_nodes = 2"),
                   31);
  double t, alg, bus;
  stored(db, cid, "64", &t, &alg, &bus);
  assert_true(t == 38.94 && alg == 0.00 * 1e9 && bus == 0.00 * 1e9);
  stored(db, cid, "8589934592", &t, &alg, &bus);
  assert_true(t == 44871 && alg == 191.44 * 1e9 && bus == 358.95 * 1e9);
  qtext(db, "SELECT g.name || '|' || host || '|' || nccl_version FROM "
            "calibrations c JOIN gpus g ON g.id = c.gpu_id", txt, sizeof txt);
  assert_string_equal(txt, "h100|gpu-a01|2.18.5");
  /* Overrides win over the rank lines. */
  rc = import_log(db, path, "h100", -1, 32, 4, &n, &cid, &eb);
  assert_int_equal(rc, PL_OK);
  assert_int_equal(count(db, "SELECT count(*) FROM collectives WHERE "
                             "n_ranks = 32 AND n_nodes = 4"), 31);
  pl_db_close(db);
}

/* The layouts without root (redop only) and without redop and root. */
static void test_nccl_layouts(void **state)
{
  (void)state;
  char path[512];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = open_ok(":memory:");
  size_t n = 0;
  int64_t cid = 0;
  fixture(path, sizeof path, "all_gather_8rank_old.txt");
  int rc = import_log(db, path, "a100", -1, 0, 0, &n, &cid, &eb);
  if (rc)
    fail_msg("%s", eb.msg);
  assert_int_equal(n, 21); /* the two size-0 rows are skipped */
  assert_int_equal(count(db, "SELECT count(*) FROM collectives WHERE op = "
                             "'all_gather' AND n_ranks = 8 AND n_nodes = 1"),
                   21);
  double t, alg, bus;
  stored(db, cid, "33554432", &t, &alg, &bus);
  assert_true(t == 154.7 && alg == 216.85 * 1e9 && bus == 189.75 * 1e9);
  fixture(path, sizeof path, "reduce_scatter_4rank_redop.txt");
  rc = import_log(db, path, "a100", -1, 0, 0, &n, &cid, &eb);
  if (rc)
    fail_msg("%s", eb.msg);
  assert_int_equal(n, 12);
  stored(db, cid, "2097152", &t, &alg, &bus);
  assert_true(t == 26.29 && alg == 79.77 * 1e9 && bus == 59.83 * 1e9);
  assert_int_equal(count(db, "SELECT count(*) FROM collectives WHERE op = "
                             "'reduce_scatter' AND n_ranks = 4"), 12);
  /* --op forces the collective. */
  rc = import_log(db, path, "a100", PL_COLL_SENDRECV, 0, 0, &n, &cid, &eb);
  assert_int_equal(rc, PL_OK);
  assert_int_equal(count(db, "SELECT count(*) FROM collectives WHERE op = "
                             "'sendrecv'"), 12);
  assert_string_equal(pl_coll_op_name(PL_COLL_ALL_REDUCE), "all_reduce");
  assert_string_equal(pl_coll_op_name(PL_COLL_REDUCE_SCATTER),
                      "reduce_scatter");
  assert_string_equal(pl_coll_op_name(PL_COLL_ALL_GATHER), "all_gather");
  assert_string_equal(pl_coll_op_name(PL_COLL_SENDRECV), "sendrecv");
  assert_null(pl_coll_op_name(PL_COLL_NOPS));
  assert_null(pl_coll_op_name(-1));
  pl_db_close(db);
}

static char *fixture_text(const char *name, size_t *len)
{
  char path[512];
  fixture(path, sizeof path, name);
  return slurp(path, len);
}

/* Replaces the first occurrence of from in text with to; a new string. */
static char *replaced(const char *text, const char *from, const char *to)
{
  const char *p = strstr(text, from);
  assert_non_null(p);
  size_t a = (size_t)(p - text), lf = strlen(from), lt = strlen(to);
  char *out = malloc(strlen(text) - lf + lt + 1);
  memcpy(out, text, a);
  memcpy(out + a, to, lt);
  strcpy(out + a + lt, p + lf);
  return out;
}

static void test_nccl_bad_input(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = open_ok(":memory:");
  size_t len, n;
  int64_t cid;
  char *good = fixture_text("all_reduce_8rank_1node.txt", &len);
  const char *hdr_end = strstr(good, "(GB/s)       \n");
  assert_non_null(hdr_end);
  size_t head_len = (size_t)(hdr_end - good) + strlen("(GB/s)       \n");
  char *header_only = malloc(head_len + 1);
  memcpy(header_only, good, head_len);
  header_only[head_len] = 0;
  char *no_ranks = strdup(good);
  for (char *p = no_ranks; (p = strstr(p, "#  Rank")) != NULL; p++)
    memcpy(p, "#  Renk", 7);
  struct {
    char *text;
    int op, ranks, nodes;
    const char *needle;
  } bad[] = {
      {header_only, -1, 0, 0, "no data rows"},
      {replaced(good, "364.68       0   5223.1", "364.68"), -1, 0, 0,
       "line 45: 11 fields, a row of this table has 13"},
      {replaced(good, "364.68", "36x.68"), -1, 0, 0,
       "line 45: out-of-place busbw must be a number >= 0, got '36x.68'"},
      {replaced(good, "  5152.6", "  -515.6"), -1, 0, 0,
       "out-of-place time must be a number > 0"},
      {no_ranks, -1, 0, 0, "no rank lines"},
      {no_ranks, -1, 8, 0, "no rank lines"},
      {replaced(good, "  1073741824", "  2147483648"), -1, 0, 0,
       "size 2147483648 is listed twice (also line 45)"},
      {replaced(good, "all_reduce_perf", "alltoall_perf"), -1, 0, 0,
       "alltoall_perf is not a collective pipelab stores"},
      {replaced(good, "#  Rank  3 Group", "#  Rank  2 Group"), -1, 0, 0,
       "rank 2 is listed twice"},
      {replaced(good, "#  Rank  7 Group", "#  Rank  9 Group"), -1, 0, 0,
       "go up to rank 9"},
      {replaced(good, "# Out of bounds", "# Collective test starting: "
                "all_gather_perf\n# Out"), -1, 0, 0, "a second test"},
      {replaced(good, "# Out of bounds", "#       size         count      "
                "type   redop    root     time   algbw   busbw #wrong     "
                "time   algbw   busbw #wrong\n# Out"), -1, 0, 0,
       "a second result table"},
      {replaced(good, "1073741824     268435456     float",
                "1073741824     268435456     12"), -1, 0, 0,
       "the type column holds a number"},
  };
  /* The last row without its line break: a truncated file. */
  const char *last = strstr(good, "  8589934592");
  size_t cut = (size_t)(strchr(last, '\n') - good);
  char *trunc = malloc(cut + 1);
  memcpy(trunc, good, cut);
  trunc[cut] = 0;
  char tpath[512];
  tmp_path(tpath, sizeof tpath, "bad.txt");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 1; i++) {
    const char *text = i < sizeof bad / sizeof bad[0] ? bad[i].text : trunc;
    const char *needle = i < sizeof bad / sizeof bad[0]
                             ? bad[i].needle
                             : "line 48: truncated row";
    write_text(tpath, text);
    int rc = i < sizeof bad / sizeof bad[0]
                 ? import_log(db, tpath, "h100", bad[i].op, bad[i].ranks,
                              bad[i].nodes, &n, &cid, &eb)
                 : import_log(db, tpath, "h100", -1, 0, 0, &n, &cid, &eb);
    if (rc != PL_EPARSE || !strstr(eb.msg, needle) ||
        !strstr(eb.msg, "bad.txt'"))
      fail_msg("case %zu: rc %d '%s' (wanted '%s')", i, rc, eb.msg, needle);
    assert_null(strchr(eb.msg, '\n'));
    assert_int_equal(n, 0);
    assert_int_equal(count(db, "SELECT count(*) FROM collectives"), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM calibrations"), 0);
  }
  /* The overrides make a log without rank lines usable; --op one with an
   * unknown test. */
  write_text(tpath, no_ranks);
  assert_int_equal(import_log(db, tpath, "h100", -1, 8, 1, &n, &cid, &eb),
                   PL_OK);
  assert_int_equal(n, 31);
  write_text(tpath, bad[7].text);
  assert_int_equal(import_log(db, tpath, "h100", PL_COLL_ALL_REDUCE, 0, 0, &n,
                              &cid, &eb), PL_OK);
  /* No GPU, an unknown GPU. */
  write_text(tpath, good);
  assert_int_equal(import_log(db, tpath, NULL, -1, 0, 0, &n, &cid, &eb),
                   PL_EINVAL);
  assert_non_null(strstr(eb.msg, "NVIDIA H100 80GB HBM3"));
  assert_int_equal(import_log(db, tpath, "v100", -1, 0, 0, &n, &cid, &eb),
                   PL_ENOTFOUND);
  assert_int_equal(count(db, "SELECT count(*) FROM calibrations"), 2);
  for (size_t i = 1; i < sizeof bad / sizeof bad[0]; i++)
    if (bad[i].text != no_ranks)
      free(bad[i].text);
  free(no_ranks);
  free(header_only);
  free(trunc);
  pl_free(good);
  pl_db_close(db);
}

/* ------------------------------------------------------------ lookup --- */

static void test_collective_busbw(void **state)
{
  (void)state;
  char path[512];
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_db *db = open_ok(":memory:");
  size_t n;
  int64_t c1, c2;
  double bw = -1;
  int used = 0;
  fixture(path, sizeof path, "all_reduce_8rank_1node.txt");
  assert_int_equal(import_log(db, path, "h100", -1, 0, 0, &n, &c1, &eb),
                   PL_OK);
  /* Only one node measured: several nodes are not found, nor other ops or
   * GPUs. */
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 16,
                                          2, 1e6, &bw, &used, &eb),
                   PL_ENOTFOUND);
  assert_non_null(strstr(eb.msg, "several nodes"));
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_GATHER, 8,
                                          1, 1e6, &bw, &used, &eb),
                   PL_ENOTFOUND);
  assert_int_equal(pl_db_collective_busbw(db, "a100", PL_COLL_ALL_REDUCE, 8,
                                          1, 1e6, &bw, &used, &eb),
                   PL_ENOTFOUND);
  fixture(path, sizeof path, "all_reduce_16rank_2node.txt");
  assert_int_equal(import_log(db, path, "h100", -1, 0, 0, &n, &c2, &eb),
                   PL_OK);

  /* Exact at a stored size (also through an alias). */
  assert_int_equal(pl_db_collective_busbw(db, "h100-sxm", PL_COLL_ALL_REDUCE,
                                          8, 1, 1073741824.0, &bw, &used,
                                          &eb), PL_OK);
  assert_true(bw == 364.68e9);
  assert_int_equal(used, 8);
  /* Between two sizes: linear in log2(size). */
  double x = 1.5 * 1073741824.0, s0 = 1073741824.0, s1 = 2147483648.0;
  double b0 = 364.68e9, b1 = 367.57e9;
  double want = b0 + (b1 - b0) * (log2(x) - log2(s0)) / (log2(s1) - log2(s0));
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 8, 1,
                                          x, &bw, &used, &eb), PL_OK);
  assert_true(fabs(bw - want) <= 1e-12 * want);
  assert_true(fabs(bw - (b0 + (b1 - b0) * log2(1.5))) <= 1e-6 * want);
  x = 3e6; /* between 2 MiB (125.45) and 4 MiB (183.14) */
  want = 125.45e9 + (183.14e9 - 125.45e9) * (log2(x) - log2(2097152.0));
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 8, 1,
                                          x, &bw, &used, &eb), PL_OK);
  assert_true(fabs(bw - want) <= 1e-12 * want);
  /* Held beyond the measured range. */
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 8, 1,
                                          64e9, &bw, &used, &eb), PL_OK);
  assert_true(bw == 356.34e9);
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 8, 1,
                                          1, &bw, &used, &eb), PL_OK);
  assert_true(bw == 0.0);
  /* Several nodes: the 16-rank run (the only one of that scope). */
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 64,
                                          8, 8589934592.0, &bw, &used, &eb),
                   PL_OK);
  assert_true(bw == 358.95e9);
  assert_int_equal(used, 16);
  /* The closest rank count inside the newest single-node calibration: add
   * a 4-rank run to it. 5 ranks -> 4; 6 ranks (a tie) -> the larger, 8. */
  char sql[512];
  snprintf(sql, sizeof sql, "INSERT INTO collectives (calibration_id, op, "
           "n_ranks, n_nodes, size_bytes, time_us, algbw_bytes_per_s, "
           "busbw_bytes_per_s) VALUES (%lld, 'all_reduce', 4, 1, 1048576, "
           "30, 35e9, 52.5e9), (%lld, 'all_reduce', 4, 1, 4194304, 60, "
           "70e9, 105e9)", (long long)c1, (long long)c1);
  exec_ok(db, sql);
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 5, 1,
                                          2097152.0, &bw, &used, &eb), PL_OK);
  assert_int_equal(used, 4);
  assert_true(fabs(bw - (52.5e9 + (105e9 - 52.5e9) * 0.5)) <= 1e-3);
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 6, 1,
                                          1048576.0, &bw, &used, &eb), PL_OK);
  assert_int_equal(used, 8);
  assert_true(bw == 80.16e9);
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 2, 1,
                                          1048576.0, &bw, NULL, &eb), PL_OK);
  assert_true(bw == 52.5e9);
  /* Bad requests. */
  assert_int_equal(pl_db_collective_busbw(db, "h100", 9, 8, 1, 1e6, &bw,
                                          &used, &eb), PL_EINVAL);
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 8,
                                          9, 1e6, &bw, &used, &eb), PL_EINVAL);
  assert_int_equal(pl_db_collective_busbw(db, "h100", PL_COLL_ALL_REDUCE, 8,
                                          1, 0, &bw, &used, &eb), PL_EINVAL);
  assert_int_equal(pl_db_collective_busbw(db, "nope", PL_COLL_ALL_REDUCE, 8,
                                          1, 1e6, &bw, &used, &eb),
                   PL_ENOTFOUND);
  pl_db_close(db);
}

/* ---------------------------------------------------------- robustness --- */

/* Complete data rows (with size > 0) in the first len bytes of a fixture. */
static size_t complete_rows(const char *text, size_t len)
{
  size_t rows = 0;
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(text + i, '\n', len - i);
    if (!nl)
      break;
    size_t s = i;
    while (text[s] == ' ')
      s++;
    if (text[s] >= '1' && text[s] <= '9')
      rows++;
    i = (size_t)(nl - text) + 1;
  }
  return rows;
}

static void robust_one(pl_db *db, const char *path, const char *text,
                       size_t len, size_t *stored_total, size_t *n_out)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  size_t n = 777;
  int64_t cid = -1;
  write_file(path, text, len);
  int64_t before = count(db, "SELECT count(*) FROM collectives");
  int64_t cb = count(db, "SELECT count(*) FROM calibrations");
  int rc = import_log(db, path, "h100", -1, 0, 0, &n, &cid, &eb);
  int64_t after = count(db, "SELECT count(*) FROM collectives");
  if (rc) {
    /* None: nothing stored, the outputs say so. */
    assert_int_equal(after, before);
    assert_int_equal(count(db, "SELECT count(*) FROM calibrations"), cb);
    assert_int_equal(n, 0);
    assert_true(eb.msg[0] != 0 && !strchr(eb.msg, '\n'));
    *n_out = 0;
    return;
  }
  /* All: every parsed row is stored under the new calibration. */
  assert_true(n > 0);
  assert_int_equal(after - before, (int64_t)n);
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM collectives WHERE "
           "calibration_id = %lld", (long long)cid);
  assert_int_equal(count(db, sql), (int64_t)n);
  *stored_total += n;
  *n_out = n;
  /* Keep the database small. */
  snprintf(sql, sizeof sql, "DELETE FROM calibrations WHERE id = %lld",
           (long long)cid);
  exec_ok(db, sql);
}

static void test_nccl_robustness(void **state)
{
  (void)state;
  static const char *const files[] = {"all_reduce_16rank_2node.txt",
                                      "all_reduce_8rank_1node.txt"};
  char path[512];
  /* Tens of thousands of small files: tmpfs when there is one. */
  if (access("/dev/shm", W_OK) == 0)
    snprintf(path, sizeof path, "/dev/shm/pl_test_catalog_%ld.txt",
             (long)getpid());
  else
    tmp_path(path, sizeof path, "fuzz.txt");
  pl_db *db = open_ok(":memory:");
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    size_t len, total = 0, n, full;
    char *text = fixture_text(files[f], &len);
    full = complete_rows(text, len);
    assert_int_equal(full, 31);
    /* Every prefix: all of its complete rows, or none. A prefix that ends
     * right after a row's line break must import exactly the rows so far
     * (the rank lines and the table header come before them). */
    size_t first_row_end = 0;
    for (size_t k = 0; k <= len; k++) {
      robust_one(db, path, text, k, &total, &n);
      size_t rows = complete_rows(text, k);
      if (n)
        assert_int_equal(n, rows);
      if (!first_row_end && rows == 1)
        first_row_end = k;
      if (k > 0 && text[k - 1] == '\n' && rows > 0) {
        size_t s = k - 1;
        while (s > 0 && text[s - 1] != '\n')
          s--;
        while (text[s] == ' ')
          s++;
        if (text[s] >= '1' && text[s] <= '9' && n != rows)
          fail_msg("%s: prefix of %zu bytes: %zu rows imported, %zu complete",
                   files[f], k, n, rows);
      }
    }
    assert_true(first_row_end > 0);
    assert_true(total > 0);
    /* Every byte replaced by characters that break numbers, lines, comments
     * and fields: never a crash, and all rows (at most the one damaged row
     * less: a row turned into a comment or noise line) or none. */
    static const char repl[] = {'\n', '\r', '#', 'x', '7', '\0'};
    char *copy = malloc(len);
    for (size_t i = 0; i < len; i++)
      for (size_t r = 0; r < sizeof repl; r++) {
        if (text[i] == repl[r])
          continue;
        memcpy(copy, text, len);
        copy[i] = repl[r];
        robust_one(db, path, copy, len, &total, &n);
        if (n && !(n == full || n + 1 == full))
          fail_msg("%s: byte %zu -> 0x%02x: %zu rows of %zu", files[f], i,
                   (unsigned char)repl[r], n, full);
      }
    /* And a pseudo-random mix of several flips at once. */
    unsigned seed = 12345;
    for (int it = 0; it < 2000; it++) {
      memcpy(copy, text, len);
      for (int k = 0; k < 1 + it % 4; k++) {
        seed = seed * 1103515245u + 12345u;
        size_t pos = (seed >> 8) % len;
        seed = seed * 1103515245u + 12345u;
        copy[pos] = (char)(seed >> 16);
      }
      robust_one(db, path, copy, len, &total, &n);
      assert_true(n <= full);
    }
    free(copy);
    pl_free(text);
  }
  assert_int_equal(count(db, "SELECT count(*) FROM collectives"), 0);
  unlink(path);
  pl_db_close(db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_gpu_round_trip),
      cmocka_unit_test(test_add_model_round_trip),
      cmocka_unit_test(test_replace_keeps_id),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_alias_lookup),
      cmocka_unit_test(test_seeded_gpus),
      cmocka_unit_test(test_migration_from_v3),
      cmocka_unit_test(test_migration_learned_v6),
      cmocka_unit_test(test_import_catalog_csv),
      cmocka_unit_test(test_import_catalog_json),
      cmocka_unit_test(test_nccl_single_node),
      cmocka_unit_test(test_nccl_two_nodes),
      cmocka_unit_test(test_nccl_layouts),
      cmocka_unit_test(test_nccl_bad_input),
      cmocka_unit_test(test_collective_busbw),
      cmocka_unit_test(test_nccl_robustness),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
