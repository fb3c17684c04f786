/* cmd_db.c: `pipelab db`: create, list, show, import into and export the
 * cost database (docs/database.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "modelopts.h"

static const char usage[] =
  "usage: pipelab db init [--db <path>]\n"
  "       pipelab db list (gpus | models | calibrations) [--format (table|json|csv)]\n"
  "       pipelab db show <name | calibration-id> [--format (table|json|csv)]\n"
  "       pipelab db import <file.csv> [--gpu <name>] [--host <h>] [--method <m>]\n"
  "                         [--driver <v>] [--cuda <v>] [--nccl <v>] [--notes <t>]\n"
  "       pipelab db export [--format (csv|json)]\n"
  "       pipelab db check [--format (table|json)]\n\n"
  "The cost database: a GPU and model catalog (built in), calibration runs\n"
  "with measured per-layer times and P2P link costs, and saved runs. Created\n"
  "on first use at $PIPELAB_DB, else $XDG_DATA_HOME/pipelab/pipelab.db, else\n"
  "~/.local/share/pipelab/pipelab.db.\n\n"
  "'db check' runs SQLite's integrity check and the foreign-key check and\n"
  "exits 3 when the file is damaged (the first problems are printed).\n\n"
  "options:\n"
  "  --db <path>           database file (':memory:' for a throw-away one)\n"
  "  --format <f>          table (default; csv for export), json or csv\n"
  "  --gpu <name>          import: catalog GPU the samples were measured on\n"
  "                        (else the file's gpu column)\n"
  "  --host, --method, --driver, --cuda, --nccl, --notes\n"
  "                        import: calibration run metadata (method 'import')\n\n"
  "Import CSV: a header line, then one sample per line; columns op (F, B, W,\n"
  "BW), mb_size, seq_len, hidden, mean_us are required; layer (transformer,\n"
  "lm_head, embedding), model, dtype (bf16), tp (1), stddev_us (0), count (1)\n"
  "and gpu are optional. mean_us is ONE layer's time for one microbatch.\n"
  "Environment: PIPELAB_DB_TIMEOUT_MS (busy timeout, default 5000).\n";

enum { OPT_D_FORMAT = 1200, OPT_D_GPU, OPT_D_HOST, OPT_D_METHOD, OPT_D_DRIVER,
       OPT_D_CUDA, OPT_D_NCCL, OPT_D_NOTES, OPT_D_DB };

/* ----------------------------------------------------- query printing --- */

struct table {
  int ncol;
  char **names;
  size_t nrow, cap;
  char **cells;   /* nrow * ncol, NULL = SQL NULL */
  int *types;     /* SQLite column types per cell */
};

static void table_free(struct table *t)
{
  for (size_t i = 0; i < t->nrow * (size_t)t->ncol; i++)
    pl_free(t->cells[i]);
  for (int c = 0; c < t->ncol; c++)
    pl_free(t->names[c]);
  pl_free(t->names);
  pl_free(t->cells);
  pl_free(t->types);
  memset(t, 0, sizeof *t);
}

/* Runs sql (parameter ?1 = arg when not NULL) into t. */
static int run_query(pl_db *db, const char *sql, const char *arg,
                     struct table *t)
{
  sqlite3 *s = pl_db_sqlite(db);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s, sql, -1, &st, NULL);
  memset(t, 0, sizeof *t);
  if (rc != SQLITE_OK)
    goto fail;
  if (arg)
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
  t->ncol = sqlite3_column_count(st);
  t->names = pl_calloc((size_t)t->ncol, sizeof *t->names);
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
      int ty = sqlite3_column_type(st, c);
      t->types[i] = ty;
      t->cells[i] = NULL;
      if (ty == SQLITE_FLOAT) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.10g", sqlite3_column_double(st, c));
        t->cells[i] = pl_strdup(buf);
      } else if (ty != SQLITE_NULL) {
        t->cells[i] = pl_strdup((const char *)sqlite3_column_text(st, c));
      }
      if (ty != SQLITE_NULL && !t->cells[i]) {
        t->nrow++;
        goto nomem;
      }
    }
    t->nrow++;
  }
  if (rc != SQLITE_DONE)
    goto fail;
  sqlite3_finalize(st);
  return 0;
nomem:
  sqlite3_finalize(st);
  table_free(t);
  return cli_fail(PL_ENOMEM, "out of memory");
fail: {
    int code = (rc & 0xff) == SQLITE_BUSY ? PL_EDBLOCKED : PL_EDB;
    int ex = cli_fail(code, "cannot read database '%s': %s", pl_db_path(db),
                      sqlite3_errmsg(s));
    sqlite3_finalize(st);
    table_free(t);
    return ex;
  }
}

static void csv_field(const char *s)
{
  if (!s)
    return;
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, stdout);
    return;
  }
  putchar('"');
  for (; *s; s++) {
    if (*s == '"')
      putchar('"');
    putchar(*s);
  }
  putchar('"');
}

static json_t *cell_json(const struct table *t, size_t r, int c)
{
  size_t i = r * (size_t)t->ncol + (size_t)c;
  const char *v = t->cells[i];
  switch (t->types[i]) {
  case SQLITE_NULL: return json_null();
  case SQLITE_INTEGER: return json_integer(strtoll(v, NULL, 10));
  case SQLITE_FLOAT: return json_real(strtod(v, NULL));
  default: return json_string(v);
  }
}

static json_t *table_json(const struct table *t)
{
  json_t *a = json_array();
  for (size_t r = 0; r < t->nrow; r++) {
    json_t *o = json_object();
    for (int c = 0; c < t->ncol; c++)
      json_object_set_new(o, t->names[c], cell_json(t, r, c));
    json_array_append_new(a, o);
  }
  return a;
}

static void print_table(const struct table *t, enum cli_format fmt)
{
  if (fmt == CLI_FMT_JSON) {
    json_t *a = table_json(t);
    json_dumpf(a, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    putchar('\n');
    json_decref(a);
    return;
  }
  if (fmt == CLI_FMT_CSV) {
    for (int c = 0; c < t->ncol; c++) {
      if (c)
        putchar(',');
      csv_field(t->names[c]);
    }
    putchar('\n');
    for (size_t r = 0; r < t->nrow; r++) {
      for (int c = 0; c < t->ncol; c++) {
        if (c)
          putchar(',');
        csv_field(t->cells[r * (size_t)t->ncol + (size_t)c]);
      }
      putchar('\n');
    }
    return;
  }
  int *w = pl_calloc((size_t)t->ncol, sizeof *w);
  if (!w)
    return;
  for (int c = 0; c < t->ncol; c++) {
    w[c] = (int)strlen(t->names[c]);
    for (size_t r = 0; r < t->nrow; r++) {
      const char *v = t->cells[r * (size_t)t->ncol + (size_t)c];
      int l = v ? (int)strlen(v) : 1;
      if (l > w[c])
        w[c] = l > 60 ? 60 : l;
    }
  }
  for (int c = 0; c < t->ncol; c++) {
    /* Headers line up with their column: numbers are right-aligned. */
    int num = t->nrow && (t->types[c] == SQLITE_INTEGER ||
                          t->types[c] == SQLITE_FLOAT);
    if (num)
      printf("%s%*s", c ? "  " : "", w[c], t->names[c]);
    else
      printf("%s%-*s", c ? "  " : "", c == t->ncol - 1 ? 0 : w[c],
             t->names[c]);
  }
  putchar('\n');
  for (size_t r = 0; r < t->nrow; r++) {
    for (int c = 0; c < t->ncol; c++) {
      size_t i = r * (size_t)t->ncol + (size_t)c;
      const char *v = t->cells[i] ? t->cells[i] : "-";
      int num = t->types[i] == SQLITE_INTEGER || t->types[i] == SQLITE_FLOAT;
      if (c == t->ncol - 1 && !num)
        printf("%s%s", c ? "  " : "", v);
      else
        printf("%s%*.*s", c ? "  " : "", num ? w[c] : -w[c], w[c], v);
    }
    putchar('\n');
  }
  pl_free(w);
}

static int query_print(pl_db *db, const char *sql, const char *arg,
                       enum cli_format fmt, size_t *nrow)
{
  struct table t;
  int rc = run_query(db, sql, arg, &t);
  if (rc)
    return rc;
  if (nrow)
    *nrow = t.nrow;
  if (!nrow || t.nrow)
    print_table(&t, fmt);
  table_free(&t);
  return 0;
}

/* -------------------------------------------------------------- check --- */

static int cmd_check(pl_db *db, enum cli_format fmt)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char report[2048];
  int problems = 0;
  int rc = pl_db_check(db, &problems, report, sizeof report, &eb);
  if (rc)
    return cli_fail_eb(&eb, rc);
  if (fmt == CLI_FMT_JSON) {
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(pl_db_path(db)));
    json_object_set_new(o, "schema_version",
                        json_integer(pl_db_schema_version(db)));
    json_object_set_new(o, "ok", json_boolean(problems == 0));
    json_object_set_new(o, "problems", json_integer(problems));
    json_t *a = json_array();
    for (char *line = report, *nl; problems && line && *line; line = nl) {
      nl = strchr(line, '\n');
      if (nl)
        *nl++ = 0;
      json_array_append_new(a, json_string(line));
    }
    json_object_set_new(o, "report", a);
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
  } else if (problems == 0) {
    printf("database %s: ok (schema version %d; integrity check and foreign "
           "keys clean)\n", pl_db_path(db), pl_db_schema_version(db));
  } else {
    /* The first 10 lines; the JSON lists up to SQLite's 100. */
    char *line = report;
    for (int i = 0; i < 10 && line && *line; i++) {
      char *nl = strchr(line, '\n');
      if (nl)
        *nl++ = 0;
      printf("%s\n", line);
      line = nl;
    }
    if (line && *line)
      printf("... (more: --format json lists up to 100)\n");
  }
  if (problems) {
    fprintf(stderr, "pipelab db: database '%s' is damaged: %d problem%s "
                    "(restore a backup, or re-import: 'pipelab db export' "
                    "reads what is left)\n", pl_db_path(db), problems,
            problems == 1 ? "" : "s");
    return CLI_EXIT_DATA;
  }
  return 0;
}

/* ------------------------------------------------------------ queries --- */

static const char sql_gpus[] =
  "SELECT name, full_name, bf16_dense_flops / 1e12 AS bf16_tflops, "
  "round(hbm_bytes / 1073741824.0, 1) AS hbm_gib, "
  "hbm_bytes_per_s / 1e12 AS hbm_tb_per_s, "
  "scaleup_bytes_per_s / 1e9 AS scaleup_gb_per_s, "
  "scaleout_bytes_per_s / 1e9 AS scaleout_gb_per_s, default_mfu, "
  "p2p_latency_us, kind FROM gpus ORDER BY kind DESC, name";

static const char sql_models[] =
  "SELECT name, full_name, arch, layers, hidden, heads, kv_heads, ffn, vocab, "
  "seq_len, published_params / 1e9 AS published_params_b FROM models "
  "ORDER BY arch, layers * hidden * hidden, name";

static const char sql_calibs[] =
  "SELECT c.id, g.name AS gpu, c.device_name, c.host, c.method, "
  "strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at_ns / 1000000000, 'unixepoch') "
  "AS created_utc, c.pipelab_version, c.driver_version, c.cuda_version, "
  "(SELECT count(*) FROM samples s WHERE s.calibration_id = c.id) AS samples, "
  "(SELECT count(*) FROM p2p_links l WHERE l.calibration_id = c.id) AS links "
  "FROM calibrations c JOIN gpus g ON g.id = c.gpu_id ORDER BY c.id";

static const char sql_export_csv[] =
  "SELECT s.calibration_id, g.name AS gpu, s.op_kind AS op, "
  "s.layer_kind AS layer, s.model_name AS model, s.mb_size, s.seq_len, "
  "s.hidden, s.dtype, s.tp, s.mean_us, s.stddev_us, s.count "
  "FROM samples s JOIN calibrations c ON c.id = s.calibration_id "
  "JOIN gpus g ON g.id = c.gpu_id ORDER BY s.calibration_id, s.id";

/* Key/value view of one row (show). */
static int show_kv(pl_db *db, const char *sql, const char *arg,
                   enum cli_format fmt, int *found)
{
  struct table t;
  int rc = run_query(db, sql, arg, &t);
  if (rc)
    return rc;
  *found = t.nrow > 0;
  if (!t.nrow) {
    table_free(&t);
    return 0;
  }
  if (fmt == CLI_FMT_TABLE) {
    int w = 0;
    for (int c = 0; c < t.ncol; c++)
      if ((int)strlen(t.names[c]) > w)
        w = (int)strlen(t.names[c]);
    for (int c = 0; c < t.ncol; c++)
      printf("%-*s  %s\n", w, t.names[c], t.cells[c] ? t.cells[c] : "-");
  } else if (fmt == CLI_FMT_JSON) {
    json_t *a = table_json(&t);
    json_dumpf(json_array_get(a, 0), stdout,
               JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    putchar('\n');
    json_decref(a);
  } else {
    print_table(&t, fmt);
  }
  table_free(&t);
  return 0;
}

static int cmd_show(pl_db *db, const char *name, enum cli_format fmt)
{
  int found = 0, rc;
  char *end;
  long id = strtol(name, &end, 10);
  if (*end == 0 && end != name) {
    char ids[32];
    snprintf(ids, sizeof ids, "%ld", id);
    if ((rc = show_kv(db, "SELECT c.id, g.name AS gpu, c.device_name, c.host, "
                          "c.driver_version, c.cuda_version, c.nccl_version, "
                          "strftime('%Y-%m-%dT%H:%M:%SZ', c.created_at_ns / "
                          "1000000000, 'unixepoch') AS created_utc, "
                          "c.pipelab_version, c.method, c.notes FROM "
                          "calibrations c JOIN gpus g ON g.id = c.gpu_id "
                          "WHERE c.id = CAST(?1 AS INTEGER)", ids, fmt,
                      &found)))
      return rc;
    if (!found)
      return cli_fail(PL_ENOTFOUND, "no calibration %ld in '%s' ('pipelab db "
                                    "list calibrations')", id, pl_db_path(db));
    if (fmt == CLI_FMT_TABLE) {
      printf("\n");
      size_t n = 0;
      if ((rc = query_print(db, "SELECT op_kind AS op, layer_kind AS layer, "
                                "model_name AS model, mb_size, seq_len, hidden, "
                                "dtype, tp, mean_us, stddev_us, count FROM "
                                "samples WHERE calibration_id = CAST(?1 AS "
                                "INTEGER) ORDER BY id", ids, fmt, &n)))
        return rc;
      if ((rc = query_print(db, "SELECT link_kind, latency_us, bytes_per_s / "
                                "1e9 AS gb_per_s FROM p2p_links WHERE "
                                "calibration_id = CAST(?1 AS INTEGER)", ids,
                            fmt, &n)))
        return rc;
    }
    return 0;
  }
  if ((rc = show_kv(db, "SELECT name, full_name, vendor, bf16_dense_flops, "
                        "hbm_bytes, hbm_bytes_per_s, scaleup_bytes_per_s, "
                        "scaleout_bytes_per_s, host_link_bytes_per_s, "
                        "default_mfu, p2p_latency_us, source FROM gpus WHERE "
                        "name = ?1 COLLATE NOCASE OR full_name = ?1 COLLATE "
                        "NOCASE", name, fmt, &found)) || found)
    return rc;
  pl_model_spec m;
  if (pl_db_get_model(db, name, &m, NULL) == PL_OK) {
    char extra[512];
    snprintf(extra, sizeof extra,
             "SELECT name, full_name, arch, layers, hidden, heads, kv_heads, "
             "ffn, vocab, seq_len, tied_embeddings, learned_pos, "
             "published_params, %.17g AS params, source FROM models WHERE "
             "name = ?1 COLLATE NOCASE OR full_name = ?1 COLLATE NOCASE",
             pl_model_params(&m));
    return show_kv(db, extra, name, fmt, &found);
  }
  return cli_fail(PL_ENOTFOUND, "'%s' is neither a GPU, a model nor a "
                                "calibration id in '%s' ('pipelab db list "
                                "gpus|models|calibrations')", name,
                  pl_db_path(db));
}

static int cmd_export(pl_db *db, enum cli_format fmt)
{
  if (fmt != CLI_FMT_JSON)
    return query_print(db, sql_export_csv, NULL, CLI_FMT_CSV, NULL);
  struct table g, m, c, s, l;
  int rc;
  if ((rc = run_query(db, "SELECT * FROM gpus ORDER BY id", NULL, &g)))
    return rc;
  if ((rc = run_query(db, "SELECT * FROM models ORDER BY id", NULL, &m))) {
    table_free(&g);
    return rc;
  }
  if ((rc = run_query(db, "SELECT c.*, g.name AS gpu FROM calibrations c "
                          "JOIN gpus g ON g.id = c.gpu_id ORDER BY c.id",
                      NULL, &c))) {
    table_free(&g);
    table_free(&m);
    return rc;
  }
  if ((rc = run_query(db, "SELECT * FROM samples ORDER BY id", NULL, &s))) {
    table_free(&g);
    table_free(&m);
    table_free(&c);
    return rc;
  }
  if ((rc = run_query(db, "SELECT * FROM p2p_links ORDER BY id", NULL, &l))) {
    table_free(&g);
    table_free(&m);
    table_free(&c);
    table_free(&s);
    return rc;
  }
  json_t *top = json_object();
  json_object_set_new(top, "application_id", json_integer(PL_DB_APPLICATION_ID));
  json_object_set_new(top, "schema_version",
                      json_integer(pl_db_schema_version(db)));
  json_object_set_new(top, "pipelab_version", json_string(pl_version()));
  json_object_set_new(top, "gpus", table_json(&g));
  json_object_set_new(top, "models", table_json(&m));
  json_object_set_new(top, "calibrations", table_json(&c));
  json_object_set_new(top, "samples", table_json(&s));
  json_object_set_new(top, "p2p_links", table_json(&l));
  json_dumpf(top, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  putchar('\n');
  json_decref(top);
  table_free(&g);
  table_free(&m);
  table_free(&c);
  table_free(&s);
  table_free(&l);
  return 0;
}

int cmd_db(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"db", required_argument, NULL, OPT_D_DB},
    {"format", required_argument, NULL, OPT_D_FORMAT},
    {"gpu", required_argument, NULL, OPT_D_GPU},
    {"host", required_argument, NULL, OPT_D_HOST},
    {"method", required_argument, NULL, OPT_D_METHOD},
    {"driver", required_argument, NULL, OPT_D_DRIVER},
    {"cuda", required_argument, NULL, OPT_D_CUDA},
    {"nccl", required_argument, NULL, OPT_D_NCCL},
    {"notes", required_argument, NULL, OPT_D_NOTES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "db", *path = NULL, *fmt_arg = NULL;
  pl_calib_info ci = PL_CALIB_INFO_INIT;
  enum cli_format fmt = CLI_FMT_TABLE;
  int opt, rc;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h': fputs(usage, stdout); return 0;
    case OPT_D_DB: path = optarg; break;
    case OPT_D_FORMAT: fmt_arg = optarg; break;
    case OPT_D_GPU: ci.gpu = optarg; break;
    case OPT_D_HOST: ci.host = optarg; break;
    case OPT_D_METHOD: ci.method = optarg; break;
    case OPT_D_DRIVER: ci.driver_version = optarg; break;
    case OPT_D_CUDA: ci.cuda_version = optarg; break;
    case OPT_D_NCCL: ci.nccl_version = optarg; break;
    case OPT_D_NOTES: ci.notes = optarg; break;
    default: return cli_bad_option(cmd, argv);
    }
  }
  if (optind >= argc)
    return cli_usage(cmd, "missing subcommand: init, list, show, import, "
                          "export or check");
  const char *sub = argv[optind];
  int npos = argc - optind - 1;
  char **pos = argv + optind + 1;
  int is_import = !strcmp(sub, "import"), is_export = !strcmp(sub, "export");
  int is_check = !strcmp(sub, "check");
  if (strcmp(sub, "init") && strcmp(sub, "list") && strcmp(sub, "show") &&
      !is_import && !is_export && !is_check)
    return cli_usage(cmd, "unknown subcommand '%s' (init, list, show, import, "
                          "export or check)", sub);
  if (fmt_arg) {
    if (!strcmp(sub, "init") || is_import)
      return cli_usage(cmd, "--format does not apply to 'db %s'", sub);
    if ((rc = cli_format(cmd, fmt_arg, is_export ? 6 : is_check ? 3 : 7,
                         &fmt)))
      return rc;
  } else if (is_export) {
    fmt = CLI_FMT_CSV;
  }
  if (!is_import && (ci.gpu || ci.host || ci.method || ci.driver_version ||
                     ci.cuda_version || ci.nccl_version || ci.notes))
    return cli_usage(cmd, "--gpu/--host/--method/--driver/--cuda/--nccl/"
                          "--notes only apply to 'db import'");
  int want = !strcmp(sub, "list") || !strcmp(sub, "show") || is_import ? 1 : 0;
  if (npos != want) {
    if (!strcmp(sub, "list"))
      return cli_usage(cmd, "'db list' needs one of gpus, models, "
                            "calibrations");
    if (!strcmp(sub, "show"))
      return cli_usage(cmd, "'db show' needs one name (a GPU, a model or a "
                            "calibration id)");
    if (is_import)
      return cli_usage(cmd, "'db import' needs one file.csv");
    return cli_usage(cmd, "unexpected argument '%s'", pos[0]);
  }
  const char *what = NULL;
  if (!strcmp(sub, "list")) {
    what = !strcmp(pos[0], "gpus") ? sql_gpus
           : !strcmp(pos[0], "models") ? sql_models
           : !strcmp(pos[0], "calibrations") ? sql_calibs : NULL;
    if (!what)
      return cli_usage(cmd, "'db list' lists gpus, models or calibrations, "
                            "not '%s'", pos[0]);
  }

  pl_db *db = NULL;
  if ((rc = cli_db_open(path, 0, &db)))
    return rc;
  if (!strcmp(sub, "init")) {
    struct table t;
    if (!(rc = run_query(db, "SELECT (SELECT count(*) FROM gpus WHERE kind = "
                             "'gpu'), (SELECT count(*) FROM gpus WHERE kind "
                             "= 'cpu'), (SELECT count(*) FROM models), "
                             "(SELECT count(*) FROM calibrations), (SELECT "
                             "count(*) FROM runs)",
                         NULL, &t))) {
      printf("database %s: schema version %d, %s GPUs + %s CPU device, %s "
             "models, %s calibrations, %s runs\n", pl_db_path(db),
             pl_db_schema_version(db), t.cells[0], t.cells[1], t.cells[2],
             t.cells[3], t.cells[4]);
      table_free(&t);
    }
  } else if (is_check) {
    rc = cmd_check(db, fmt);
  } else if (what) {
    rc = query_print(db, what, NULL, fmt, NULL);
  } else if (!strcmp(sub, "show")) {
    rc = cmd_show(db, pos[0], fmt);
  } else if (is_import) {
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    size_t n = 0;
    int64_t id = 0;
    int e = pl_db_import_csv(db, pos[0], &ci, &n, &id, &eb);
    if (e)
      rc = e == PL_EINVAL || e == PL_ENOTFOUND ? cli_fail_eb(&eb, PL_EPARSE)
                                               : cli_fail_eb(&eb, e);
    else
      printf("imported %zu samples from %s as calibration %lld into %s\n", n,
             pos[0], (long long)id, pl_db_path(db));
  } else {
    rc = cmd_export(db, fmt);
  }
  pl_db_close(db);
  return rc;
}
