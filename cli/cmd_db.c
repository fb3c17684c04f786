/* cmd_db.c: `pipelab db`: create, list, show, import into and export the
 * cost database (docs/database.md). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "modelopts.h"
#include "pipelab/traces.h"

static const char usage[] =
  "usage: pipelab db init [--db <path>]\n"
  "       pipelab db list (gpus | models | calibrations | collectives)\n"
  "                       [--format (table|json|csv)]\n"
  "       pipelab db show <name | calibration-id> [--format (table|json|csv)]\n"
  "       pipelab db add gpu <name> --bf16-tflops X --hbm-gib X --hbm-tb-per-s X\n"
  "                      --scaleup-gb-per-s X --scaleout-gb-per-s X [gpu options]\n"
  "       pipelab db add model <name> --layers N --hidden N --heads N --ffn N\n"
  "                      --vocab N --seq N [model options]\n"
  "       pipelab db import <file> [--replace]                  (catalog CSV/JSON)\n"
  "       pipelab db import <file.csv> [--gpu <name>] [--host <h>] [--method <m>]\n"
  "                         [--driver <v>] [--cuda <v>] [--nccl <v>] [--notes <t>]\n"
  "       pipelab db import <log.txt> --gpu <name> [--op <op>] [--ranks N --nodes N]\n"
  "                         [--host ...]                       (nccl-tests log)\n"
  "       pipelab db export [--format (csv|json)]\n"
  "       pipelab db check [--format (table|json)]\n\n"
  "The cost database: a GPU and model catalog (built in, extended with 'db add'\n"
  "or catalog imports), calibration runs with measured per-layer times, P2P link\n"
  "costs and nccl-tests collectives, and saved runs. Created on first use at\n"
  "$PIPELAB_DB, else $XDG_DATA_HOME/pipelab/pipelab.db, else\n"
  "~/.local/share/pipelab/pipelab.db.\n\n"
  "'db check' runs SQLite's integrity check and the foreign-key check and\n"
  "exits 3 when the file is damaged (the first problems are printed).\n\n"
  "options:\n"
  "  --db <path>           database file (':memory:' for a throw-away one)\n"
  "  --format <f>          table (default; csv for export), json or csv\n"
  "  --replace             add, catalog import: update an existing name in place\n"
  "                        (it keeps its id); without it a taken name is exit 3\n"
  "  --gpu <name>          import: catalog GPU the samples or the nccl-tests log\n"
  "                        were measured on (samples: else the file's gpu column)\n"
  "  --host, --method, --driver, --cuda, --nccl, --notes\n"
  "                        import: calibration run metadata (method 'import' or\n"
  "                        'nccl-tests'; an nccl-tests log gives host and NCCL)\n"
  "  --op <op>             nccl-tests log: all_reduce, reduce_scatter, all_gather\n"
  "                        or sendrecv (default: from the log)\n"
  "  --ranks N, --nodes N  nccl-tests log: rank and node counts (default: the\n"
  "                        log's rank lines; needed when it has none)\n\n"
  "gpu options (human units; stored in SI units):\n"
  "  --bf16-tflops X       dense BF16 TFLOP/s         (required)\n"
  "  --hbm-gib X           HBM capacity, GiB (2^30)    (required)\n"
  "  --hbm-tb-per-s X      HBM bandwidth, TB/s         (required)\n"
  "  --scaleup-gb-per-s X  NVLink / xGMI GB/s per direction (required)\n"
  "  --scaleout-gb-per-s X NIC GB/s per direction per GPU   (required)\n"
  "  --fp8-tflops X, --fp4-tflops X   dense FP8 / FP4 TFLOP/s (default: none)\n"
  "  --sm-count N          SMs / CUs (108)\n"
  "  --gemm-efficiency x, --attn-efficiency x, --hbm-efficiency x\n"
  "                        fractions in (0, 1] (0.75, 0.5, 0.85)\n"
  "  --launch-us x         kernel launch floor, us (4)\n"
  "  --scaleup-domain N    GPUs per NVLink / xGMI domain (8)\n"
  "  --gpus-per-node N     GPUs per node (8)\n"
  "  --scaleup-latency-us x, --scaleout-latency-us x   per collective step (2, 6)\n"
  "  --scaleup-coll-efficiency x, --scaleout-coll-efficiency x\n"
  "                        NCCL bus bandwidth / link bandwidth, (0, 1] (0.8, 0.9)\n"
  "  --sustained-clock-ratio x  clock held under dense matrix load / the clock\n"
  "                        of the datasheet peak, (0, 1] (1)\n"
  "  --host-gb-per-s x     PCIe / C2C GB/s per direction (default: unknown)\n"
  "  --mfu x               analytic per-op fraction of peak, (0, 1] (0.5)\n"
  "  --p2p-latency-us x    latency of one P2P message, us (10)\n"
  "  --full-name S, --vendor S, --source S, --aliases a,b\n\n"
  "model options:\n"
  "  --layers N, --hidden N, --heads N, --ffn N, --vocab N, --seq N  (required)\n"
  "  --kv-heads N          KV heads (default: --heads); must divide --heads\n"
  "  --arch gpt|llama      (gpt)\n"
  "  --tied-embeddings | --untied-embeddings   (tied for gpt, untied for llama)\n"
  "  --learned-pos         learned position embeddings (default: none)\n"
  "  --params X            published size in billions (7 or 7B; 125M, 1.5T)\n"
  "  --full-name S, --source S\n\n"
  "Samples CSV: a header line, then one sample per line; columns op (F, B, W,\n"
  "BW), mb_size, seq_len, hidden, mean_us are required; layer (transformer,\n"
  "lm_head, embedding), model, dtype (bf16), tp (1), stddev_us (0), count (1)\n"
  "and gpu are optional. mean_us is ONE layer's time for one microbatch.\n"
  "Catalog CSV / JSON: columns (keys) of the gpus or models table in stored\n"
  "units; a JSON file is {\"gpus\": [...], \"models\": [...]} or an array.\n"
  "What a file is comes from its contents (docs/database.md).\n"
  "Environment: PIPELAB_DB_TIMEOUT_MS (busy timeout, default 5000).\n\n"
  "examples:\n"
  "  pipelab db list gpus\n"
  "  pipelab db show llama3-70b\n"
  "  pipelab db check\n";

enum { OPT_D_FORMAT = 1200, OPT_D_GPU, OPT_D_HOST, OPT_D_METHOD, OPT_D_DRIVER,
       OPT_D_CUDA, OPT_D_NCCL, OPT_D_NOTES, OPT_D_DB, OPT_D_REPLACE, OPT_D_OP,
       OPT_D_RANKS, OPT_D_NODES, OPT_D_ADD /* + index into add_opts */ };

/* ------------------------------------------------------ add options --- */

enum { FOR_GPU = 1, FOR_MODEL = 2 };
enum {
  A_NUM,    /* number > 0 times the unit */
  A_NONNEG, /* number >= 0 */
  A_EFF,    /* number in (0, 1] */
  A_INT,    /* integer >= 1 */
  A_TEXT,   /* string (length checked) */
  A_FLAG,   /* no argument */
  A_ARCH,   /* gpt | llama */
  A_PARAMS  /* billions, or with a K/M/B/T suffix */
};

/* One option of `db add`. field: byte offset in the spec, len for text. */
struct add_opt {
  const char *flag;
  int kinds, type, required;
  double unit;
  size_t off, len;
};

#define GF(f) offsetof(pl_gpu_spec, f), sizeof(((pl_gpu_spec *)0)->f)
#define MF(f) offsetof(pl_model_spec, f), sizeof(((pl_model_spec *)0)->f)
static const struct add_opt add_opts[] = {
  {"bf16-tflops", FOR_GPU, A_NUM, 1, 1e12, GF(bf16_flops)},
  {"hbm-gib", FOR_GPU, A_NUM, 1, 1073741824.0, GF(hbm_bytes)},
  {"hbm-tb-per-s", FOR_GPU, A_NUM, 1, 1e12, GF(hbm_bandwidth)},
  {"scaleup-gb-per-s", FOR_GPU, A_NUM, 1, 1e9, GF(scaleup_bandwidth)},
  {"scaleout-gb-per-s", FOR_GPU, A_NUM, 1, 1e9, GF(scaleout_bandwidth)},
  {"fp8-tflops", FOR_GPU, A_NUM, 0, 1e12, GF(fp8_flops)},
  {"fp4-tflops", FOR_GPU, A_NUM, 0, 1e12, GF(fp4_flops)},
  {"sm-count", FOR_GPU, A_INT, 0, 1, GF(sm_count)},
  {"gemm-efficiency", FOR_GPU, A_EFF, 0, 1, GF(gemm_eff)},
  {"attn-efficiency", FOR_GPU, A_EFF, 0, 1, GF(attn_eff)},
  {"hbm-efficiency", FOR_GPU, A_EFF, 0, 1, GF(hbm_eff)},
  {"launch-us", FOR_GPU, A_NONNEG, 0, 1, GF(launch_us)},
  {"scaleup-domain", FOR_GPU, A_INT, 0, 1, GF(scaleup_domain)},
  {"gpus-per-node", FOR_GPU, A_INT, 0, 1, GF(gpus_per_node)},
  {"scaleup-latency-us", FOR_GPU, A_NONNEG, 0, 1, GF(scaleup_latency_us)},
  {"scaleout-latency-us", FOR_GPU, A_NONNEG, 0, 1, GF(scaleout_latency_us)},
  {"scaleup-coll-efficiency", FOR_GPU, A_EFF, 0, 1, GF(scaleup_coll_eff)},
  {"scaleout-coll-efficiency", FOR_GPU, A_EFF, 0, 1, GF(scaleout_coll_eff)},
  {"sustained-clock-ratio", FOR_GPU, A_EFF, 0, 1, GF(clock_ratio)},
  {"host-gb-per-s", FOR_GPU, A_NUM, 0, 1e9, GF(host_bandwidth)},
  {"mfu", FOR_GPU, A_EFF, 0, 1, GF(mfu)},
  {"p2p-latency-us", FOR_GPU, A_NONNEG, 0, 1, GF(p2p_latency_us)},
  {"vendor", FOR_GPU, A_TEXT, 0, 1, GF(vendor)},
  {"aliases", FOR_GPU, A_TEXT, 0, 1, GF(aliases)},
  {"layers", FOR_MODEL, A_INT, 1, 1, MF(layers)},
  {"hidden", FOR_MODEL, A_INT, 1, 1, MF(hidden)},
  {"heads", FOR_MODEL, A_INT, 1, 1, MF(heads)},
  {"kv-heads", FOR_MODEL, A_INT, 0, 1, MF(kv_heads)},
  {"ffn", FOR_MODEL, A_INT, 1, 1, MF(ffn)},
  {"vocab", FOR_MODEL, A_INT, 1, 1, MF(vocab)},
  {"seq", FOR_MODEL, A_INT, 1, 1, MF(seq_len)},
  {"arch", FOR_MODEL, A_ARCH, 0, 1, MF(arch)},
  {"tied-embeddings", FOR_MODEL, A_FLAG, 0, 1, MF(tied_embeddings)},
  {"untied-embeddings", FOR_MODEL, A_FLAG, 0, 0, MF(tied_embeddings)},
  {"learned-pos", FOR_MODEL, A_FLAG, 0, 1, MF(learned_pos)},
  {"params", FOR_MODEL, A_PARAMS, 0, 1e9, MF(published_params)},
  /* Both; the offsets differ, add_spec picks the right one. */
  {"full-name", FOR_GPU | FOR_MODEL, A_TEXT, 0, 1, GF(full_name)},
  {"source", FOR_GPU | FOR_MODEL, A_TEXT, 0, 1, GF(source)},
};
#undef GF
#undef MF
#define N_ADD_OPTS ((int)(sizeof add_opts / sizeof add_opts[0]))

/* ----------------------------------------------------- query printing --- */

/* Reads view v (arg: its parameter) into t; prints the error (exit code). */
static int run_view(pl_db *db, pl_db_view v, const char *arg, pl_db_table *t)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_db_view_read(db, v, arg, t, &eb);
  return rc ? cli_fail_eb(&eb, rc) : 0;
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

static json_t *cell_json(const pl_db_table *t, size_t r, int c)
{
  size_t i = r * (size_t)t->ncol + (size_t)c;
  const char *v = t->cells[i];
  switch (t->types[i]) {
  case PL_DB_NULL: return json_null();
  case PL_DB_INTEGER: return json_integer(strtoll(v, NULL, 10));
  case PL_DB_REAL: return json_real(strtod(v, NULL));
  default: return json_string(v);
  }
}

static json_t *table_json(const pl_db_table *t)
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

static void print_table(const pl_db_table *t, enum cli_format fmt)
{
  if (fmt == CLI_FMT_JSON) {
    json_t *a = table_json(t);
    pl_json_dumpf(a, stdout, JSON_INDENT(2));
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
    int num = t->nrow && (t->types[c] == PL_DB_INTEGER ||
                          t->types[c] == PL_DB_REAL);
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
      int num = t->types[i] == PL_DB_INTEGER || t->types[i] == PL_DB_REAL;
      if (c == t->ncol - 1 && !num)
        printf("%s%s", c ? "  " : "", v);
      else
        printf("%s%*.*s", c ? "  " : "", num ? w[c] : -w[c], w[c], v);
    }
    putchar('\n');
  }
  pl_free(w);
}

static int query_print(pl_db *db, pl_db_view v, const char *arg,
                       enum cli_format fmt, size_t *nrow)
{
  pl_db_table t;
  int rc = run_view(db, v, arg, &t);
  if (rc)
    return rc;
  if (nrow)
    *nrow = t.nrow;
  if (!nrow || t.nrow)
    print_table(&t, fmt);
  pl_db_table_free(&t);
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

/* Key/value view of one row (show). */
static int show_kv(pl_db *db, pl_db_view v, const char *arg,
                   enum cli_format fmt, int *found)
{
  pl_db_table t;
  int rc = run_view(db, v, arg, &t);
  if (rc)
    return rc;
  *found = t.nrow > 0;
  if (!t.nrow) {
    pl_db_table_free(&t);
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
    pl_json_dumpf(json_array_get(a, 0), stdout,
               JSON_INDENT(2));
    putchar('\n');
    json_decref(a);
  } else {
    print_table(&t, fmt);
  }
  pl_db_table_free(&t);
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
    if ((rc = show_kv(db, PL_DB_VIEW_CALIBRATION, ids, fmt, &found)))
      return rc;
    if (!found)
      return cli_fail(PL_ENOTFOUND, "no calibration %ld in '%s' ('pipelab db "
                                    "list calibrations')", id, pl_db_path(db));
    if (fmt == CLI_FMT_TABLE) {
      printf("\n");
      size_t n = 0;
      if ((rc = query_print(db, PL_DB_VIEW_CALIBRATION_SAMPLES, ids, fmt,
                            &n)))
        return rc;
      if ((rc = query_print(db, PL_DB_VIEW_CALIBRATION_LINKS, ids, fmt, &n)))
        return rc;
      if ((rc = query_print(db, PL_DB_VIEW_CALIBRATION_COLLECTIVES, ids, fmt,
                            &n)))
        return rc;
    }
    return 0;
  }
  /* A GPU (by name, full name or alias), else a model. */
  if ((rc = show_kv(db, PL_DB_VIEW_GPU, name, fmt, &found)) || found)
    return rc;
  if ((rc = show_kv(db, PL_DB_VIEW_MODEL, name, fmt, &found)) || found)
    return rc;
  return cli_fail(PL_ENOTFOUND, "'%s' is neither a GPU, a model nor a "
                                "calibration id in '%s' ('pipelab db list "
                                "gpus|models|calibrations')", name,
                  pl_db_path(db));
}

static int cmd_export(pl_db *db, enum cli_format fmt)
{
  if (fmt != CLI_FMT_JSON)
    return query_print(db, PL_DB_VIEW_SAMPLES_CSV, NULL, CLI_FMT_CSV, NULL);
  static const struct {
    const char *key;
    pl_db_view view;
  } parts[] = {
    {"gpus", PL_DB_VIEW_ALL_GPUS},
    {"models", PL_DB_VIEW_ALL_MODELS},
    {"calibrations", PL_DB_VIEW_ALL_CALIBRATIONS},
    {"samples", PL_DB_VIEW_ALL_SAMPLES},
    {"p2p_links", PL_DB_VIEW_ALL_P2P_LINKS},
    {"collectives", PL_DB_VIEW_ALL_COLLECTIVES},
  };
  json_t *top = json_object();
  json_object_set_new(top, "application_id", json_integer(PL_DB_APPLICATION_ID));
  json_object_set_new(top, "schema_version",
                      json_integer(pl_db_schema_version(db)));
  json_object_set_new(top, "pipelab_version", json_string(pl_version()));
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    pl_db_table t;
    int rc = run_view(db, parts[i].view, NULL, &t);
    if (rc) {
      json_decref(top);
      return rc;
    }
    json_object_set_new(top, parts[i].key, table_json(&t));
    pl_db_table_free(&t);
  }
  pl_json_dumpf(top, stdout, JSON_INDENT(2));
  putchar('\n');
  json_decref(top);
  return 0;
}

/* --------------------------------------------------------------- add --- */

/* "--params 7" (billions), "7B", "125M", "1.5T", "350K": parameters. */
static int parse_params(const char *cmd, const char *s, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end), mul = 1e9;
  if (!errno && end != s && *end && !end[1]) {
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1e3; end++; break;
    case 'M': mul = 1e6; end++; break;
    case 'B': mul = 1e9; end++; break;
    case 'T': mul = 1e12; end++; break;
    default: break;
    }
  }
  if (errno || end == s || *end || !isfinite(v) || !(v > 0))
    return cli_usage(cmd, "--params must be a size in billions such as 7, "
                          "7B, 125M or 1.5T, got '%s'", s);
  if (mul == 1e9 && !isalpha((unsigned char)s[strlen(s) - 1]) && v > 1e5)
    return cli_usage(cmd, "--params is in billions (7 for a 7B model), got "
                          "'%s'", s);
  *out = v * mul;
  return 0;
}

/* Checks and converts one `db add` option into the spec. */
static int add_value(const char *cmd, const struct add_opt *o, const char *v,
                     void *spec, int kind)
{
  char *end;
  if (o->type == A_TEXT) {
    /* full-name and source sit at different offsets in the two specs */
    char *dst;
    size_t len;
    if (kind == FOR_MODEL && !strcmp(o->flag, "full-name")) {
      dst = ((pl_model_spec *)spec)->full_name;
      len = sizeof ((pl_model_spec *)spec)->full_name;
    } else if (kind == FOR_MODEL && !strcmp(o->flag, "source")) {
      dst = ((pl_model_spec *)spec)->source;
      len = sizeof ((pl_model_spec *)spec)->source;
    } else if (kind == FOR_GPU && !strcmp(o->flag, "source")) {
      dst = ((pl_gpu_spec *)spec)->source;
      len = sizeof ((pl_gpu_spec *)spec)->source;
    } else {
      dst = (char *)spec + o->off;
      len = o->len;
    }
    if (strlen(v) >= len)
      return cli_usage(cmd, "--%s must be at most %zu characters", o->flag,
                       len - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
  }
  if (o->type == A_FLAG) {
    *(int *)((char *)spec + o->off) = (int)o->unit;
    return 0;
  }
  if (o->type == A_ARCH) {
    int *a = (int *)((char *)spec + o->off);
    if (!strcasecmp(v, "gpt"))
      *a = PL_ARCH_GPT;
    else if (!strcasecmp(v, "llama"))
      *a = PL_ARCH_LLAMA;
    else
      return cli_usage(cmd, "--arch must be gpt or llama, got '%s'", v);
    return 0;
  }
  if (o->type == A_INT) {
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < 1 || x > (1L << 30))
      return cli_usage(cmd, "--%s must be an integer from 1 to %ld, got "
                            "'%s'", o->flag, 1L << 30, v);
    *(int *)((char *)spec + o->off) = (int)x;
    return 0;
  }
  double x = 0;
  if (o->type == A_PARAMS) {
    int rc = parse_params(cmd, v, &x);
    if (rc)
      return rc;
    *(double *)((char *)spec + o->off) = x;
    return 0;
  }
  errno = 0;
  x = strtod(v, &end);
  int ok = !errno && end != v && !*end && isfinite(x) && x <= 1e15;
  if (o->type == A_NUM && !(ok && x > 0))
    return cli_usage(cmd, "--%s must be a number > 0, got '%s'", o->flag, v);
  if (o->type == A_NONNEG && !(ok && x >= 0))
    return cli_usage(cmd, "--%s must be a number >= 0, got '%s'", o->flag, v);
  if (o->type == A_EFF && !(ok && x > 0 && x <= 1))
    return cli_usage(cmd, "--%s must be a fraction in (0, 1], got '%s'",
                     o->flag, v);
  x *= o->unit;
  if (!strcmp(o->flag, "hbm-gib"))
    x = round(x); /* whole bytes */
  *(double *)((char *)spec + o->off) = x;
  return 0;
}

/* `db add gpu|model <name> ...`: val[i] is add_opts[i]'s value (NULL = not
 * given). Everything is checked before the database is opened. */
static int cmd_add(const char *cmd, const char *what, const char *name,
                   const char *const *val, int replace, const char *path)
{
  int kind = !strcmp(what, "gpu") ? FOR_GPU
             : !strcmp(what, "model") ? FOR_MODEL : 0;
  if (!kind)
    return cli_usage(cmd, "'db add' adds a gpu or a model, not '%s'", what);
  char missing[512] = "";
  size_t ml = 0;
  for (int i = 0; i < N_ADD_OPTS; i++) {
    const struct add_opt *o = &add_opts[i];
    if (val[i] && !(o->kinds & kind))
      return cli_usage(cmd, "--%s does not apply to 'db add %s'", o->flag,
                       what);
    if (!val[i] && o->required && (o->kinds & kind) && ml < sizeof missing)
      ml += (size_t)snprintf(missing + ml, sizeof missing - ml, "%s--%s",
                             ml ? ", " : "", o->flag);
  }
  if (missing[0])
    return cli_usage(cmd, "'db add %s' needs %s", what, missing);
  pl_gpu_spec g;
  pl_model_spec m;
  memset(&g, 0, sizeof g);
  memset(&m, 0, sizeof m);
  void *spec = kind == FOR_GPU ? (void *)&g : (void *)&m;
  size_t cap = kind == FOR_GPU ? sizeof g.name : sizeof m.name;
  if (strlen(name) >= cap || !name[0])
    return cli_usage(cmd, "a %s name must be 1 to %zu characters, got '%s'",
                     what, cap - 1, name);
  memcpy(spec, name, strlen(name) + 1); /* name is the first member */
  /* "not given" for the fields where 0 is a value */
  g.launch_us = g.scaleup_latency_us = g.scaleout_latency_us = -1;
  g.p2p_latency_us = -1;
  m.tied_embeddings = m.learned_pos = -1;
  int tied = -1, rc;
  for (int i = 0; i < N_ADD_OPTS; i++) {
    if (!val[i])
      continue;
    if (add_opts[i].off == offsetof(pl_model_spec, tied_embeddings) &&
        add_opts[i].type == A_FLAG && kind == FOR_MODEL) {
      if (tied >= 0 && tied != (int)add_opts[i].unit)
        return cli_usage(cmd, "--tied-embeddings and --untied-embeddings "
                              "exclude each other");
      tied = (int)add_opts[i].unit;
    }
    if ((rc = add_value(cmd, &add_opts[i], val[i], spec, kind)))
      return rc;
  }
  if (kind == FOR_MODEL) {
    int kv = m.kv_heads ? m.kv_heads : m.heads;
    if (kv > m.heads || m.heads % kv)
      return cli_usage(cmd, "--kv-heads must divide --heads (%d), got %d",
                       m.heads, kv);
    if (m.hidden % m.heads)
      return cli_usage(cmd, "--hidden must be divisible by --heads (%d), got "
                            "%d", m.heads, m.hidden);
  }

  pl_db *db = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if ((rc = cli_db_open(path, 0, &db)))
    return rc;
  int existed = 0;
  {
    /* For the message only: the library decides. */
    pl_gpu_spec tg;
    pl_model_spec tm;
    existed = kind == FOR_GPU ? pl_db_get_gpu(db, name, &tg, NULL) == PL_OK &&
                                    !strcasecmp(tg.name, name)
                              : pl_db_get_model(db, name, &tm, NULL) ==
                                        PL_OK &&
                                    !strcasecmp(tm.name, name);
  }
  int e = kind == FOR_GPU ? pl_db_add_gpu(db, &g, replace, &eb)
                          : pl_db_add_model(db, &m, replace, &eb);
  if (e == PL_EINVAL || e == PL_EDB)
    rc = cli_fail(e, "db add: %s", eb.msg);
  else if (e)
    rc = cli_fail_eb(&eb, e);
  else
    printf("%s %s '%s' %s %s\n", existed ? "replaced" : "added",
           kind == FOR_GPU ? "GPU" : "model", name,
           existed ? "in place (same id) in" : "to", pl_db_path(db));
  pl_db_close(db);
  return rc;
}

/* ------------------------------------------------------------ import --- */

struct import_opts {
  pl_calib_info ci;
  const char *op_arg, *ranks_arg, *nodes_arg;
  int replace;
};

static int cmd_import_file(const char *cmd, const char *file,
                           const struct import_opts *io, const char *path)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  const pl_calib_info *ci = &io->ci;
  int kind = PL_IMPORT_NCCL, op = -1, ranks = 0, nodes = 0, rc, e;
  int meta = ci->gpu || ci->host || ci->method || ci->driver_version ||
             ci->cuda_version || ci->nccl_version || ci->notes;
  if (io->op_arg) {
    for (op = 0; op < PL_COLL_NOPS; op++)
      if (!strcmp(io->op_arg, pl_coll_op_name(op)))
        break;
    if (op == PL_COLL_NOPS)
      return cli_usage(cmd, "--op must be all_reduce, reduce_scatter, "
                            "all_gather or sendrecv, got '%s'", io->op_arg);
  }
  if (io->ranks_arg &&
      (rc = cli_int(cmd, "--ranks", io->ranks_arg, 1, 1 << 20, &ranks)))
    return rc;
  if (io->nodes_arg &&
      (rc = cli_int(cmd, "--nodes", io->nodes_arg, 1, 1 << 20, &nodes)))
    return rc;
  if (ranks && nodes > ranks)
    return cli_usage(cmd, "--nodes (%d) cannot exceed --ranks (%d)", nodes,
                     ranks);
  /* What the file is: from its contents, unless nccl options say so;
   * standard input ("-") can be read once only: a samples CSV, as ever. */
  if (!io->op_arg && !ranks && !nodes) {
    if (!strcmp(file, "-"))
      kind = PL_IMPORT_SAMPLES;
    else if ((e = pl_db_import_kind(file, &kind, &eb)))
      return cli_fail_eb(&eb, e);
  }
  if (kind != PL_IMPORT_NCCL && (io->op_arg || ranks || nodes))
    return cli_usage(cmd, "--op/--ranks/--nodes only apply to nccl-tests "
                          "logs");
  if (kind == PL_IMPORT_CATALOG && meta)
    return cli_usage(cmd, "'%s' is a catalog file: --gpu/--host/--method/"
                          "--driver/--cuda/--nccl/--notes apply to samples "
                          "and nccl-tests imports", file);
  if (kind != PL_IMPORT_CATALOG && io->replace)
    return cli_usage(cmd, "--replace applies to 'db add' and catalog "
                          "imports, and '%s' is %s", file,
                     kind == PL_IMPORT_NCCL ? "an nccl-tests log"
                                            : "a samples CSV");
  if (kind == PL_IMPORT_NCCL && !ci->gpu)
    return cli_usage(cmd, "'db import' of an nccl-tests log needs --gpu "
                          "<name> (the catalog GPU it ran on)");

  pl_db *db = NULL;
  if ((rc = cli_db_open(path, 0, &db)))
    return rc;
  size_t n = 0, nm = 0;
  int64_t id = 0;
  if (kind == PL_IMPORT_CATALOG)
    e = pl_db_import_catalog(db, file, io->replace, &n, &nm, &eb);
  else if (kind == PL_IMPORT_NCCL)
    e = pl_db_import_nccl(db, file, ci, op, ranks, nodes, &n, &id, &eb);
  else
    e = pl_db_import_csv(db, file, ci, &n, &id, &eb);
  /* Bad data, an unknown GPU, a taken name: exit 3 */
  if (e)
    rc = e == PL_EINVAL || e == PL_ENOTFOUND ? cli_fail_eb(&eb, PL_EPARSE)
                                             : cli_fail_eb(&eb, e);
  else if (kind == PL_IMPORT_CATALOG) {
    char what[96];
    if (n && nm)
      snprintf(what, sizeof what, "%zu GPU%s and %zu model%s", n,
               n == 1 ? "" : "s", nm, nm == 1 ? "" : "s");
    else if (nm)
      snprintf(what, sizeof what, "%zu model%s", nm, nm == 1 ? "" : "s");
    else
      snprintf(what, sizeof what, "%zu GPU%s", n, n == 1 ? "" : "s");
    printf("imported %s from %s into %s%s\n", what, file, pl_db_path(db),
           io->replace ? " (existing names replaced in place)" : "");
  }
  else if (kind == PL_IMPORT_NCCL) {
    pl_db_table t;
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (!(rc = run_view(db, PL_DB_VIEW_CALIBRATION_COLLECTIVES, ids, &t))) {
      if (t.nrow)
        printf("imported %zu %s sizes (%s ranks on %s node%s) from %s as "
               "calibration %lld into %s\n", n, t.cells[0], t.cells[1],
               t.cells[2], strcmp(t.cells[2], "1") ? "s" : "", file,
               (long long)id, pl_db_path(db));
      pl_db_table_free(&t);
    }
  } else
    printf("imported %zu samples from %s as calibration %lld into %s\n", n,
           file, (long long)id, pl_db_path(db));
  pl_db_close(db);
  return rc;
}

int cmd_db(int argc, char **argv)
{
  static struct option longopts[16 + N_ADD_OPTS + 1];
  static const struct option base[] = {
    {"db", required_argument, NULL, OPT_D_DB},
    {"format", required_argument, NULL, OPT_D_FORMAT},
    {"gpu", required_argument, NULL, OPT_D_GPU},
    {"host", required_argument, NULL, OPT_D_HOST},
    {"method", required_argument, NULL, OPT_D_METHOD},
    {"driver", required_argument, NULL, OPT_D_DRIVER},
    {"cuda", required_argument, NULL, OPT_D_CUDA},
    {"nccl", required_argument, NULL, OPT_D_NCCL},
    {"notes", required_argument, NULL, OPT_D_NOTES},
    {"replace", no_argument, NULL, OPT_D_REPLACE},
    {"op", required_argument, NULL, OPT_D_OP},
    {"ranks", required_argument, NULL, OPT_D_RANKS},
    {"nodes", required_argument, NULL, OPT_D_NODES},
    {"help", no_argument, NULL, 'h'}};
  int nbase = (int)(sizeof base / sizeof base[0]);
  for (int i = 0; i < nbase; i++)
    longopts[i] = base[i];
  for (int i = 0; i < N_ADD_OPTS; i++) {
    longopts[nbase + i].name = add_opts[i].flag;
    longopts[nbase + i].has_arg =
        add_opts[i].type == A_FLAG ? no_argument : required_argument;
    longopts[nbase + i].flag = NULL;
    longopts[nbase + i].val = OPT_D_ADD + i;
  }
  memset(&longopts[nbase + N_ADD_OPTS], 0, sizeof longopts[0]);

  const char *cmd = "db", *path = NULL, *fmt_arg = NULL;
  const char *add_val[N_ADD_OPTS] = {NULL};
  const char *add_given = NULL;
  struct import_opts io;
  memset(&io, 0, sizeof io);
  io.ci = (pl_calib_info)PL_CALIB_INFO_INIT;
  pl_calib_info *ci = &io.ci;
  enum cli_format fmt = CLI_FMT_TABLE;
  int opt, rc;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h': fputs(usage, stdout); return 0;
    case OPT_D_DB: path = optarg; break;
    case OPT_D_FORMAT: fmt_arg = optarg; break;
    case OPT_D_GPU: ci->gpu = optarg; break;
    case OPT_D_HOST: ci->host = optarg; break;
    case OPT_D_METHOD: ci->method = optarg; break;
    case OPT_D_DRIVER: ci->driver_version = optarg; break;
    case OPT_D_CUDA: ci->cuda_version = optarg; break;
    case OPT_D_NCCL: ci->nccl_version = optarg; break;
    case OPT_D_NOTES: ci->notes = optarg; break;
    case OPT_D_REPLACE: io.replace = 1; break;
    case OPT_D_OP: io.op_arg = optarg; break;
    case OPT_D_RANKS: io.ranks_arg = optarg; break;
    case OPT_D_NODES: io.nodes_arg = optarg; break;
    default:
      if (opt >= OPT_D_ADD && opt < OPT_D_ADD + N_ADD_OPTS) {
        int i = opt - OPT_D_ADD;
        add_val[i] = add_opts[i].type == A_FLAG ? "1" : optarg;
        add_given = add_opts[i].flag;
        break;
      }
      return cli_bad_option(cmd, argv);
    }
  }
  if (optind >= argc)
    return cli_usage(cmd, "missing subcommand: init, list, show, add, import, "
                          "export or check");
  const char *sub = argv[optind];
  int npos = argc - optind - 1;
  char **pos = argv + optind + 1;
  int is_import = !strcmp(sub, "import"), is_export = !strcmp(sub, "export");
  int is_check = !strcmp(sub, "check"), is_add = !strcmp(sub, "add");
  if (strcmp(sub, "init") && strcmp(sub, "list") && strcmp(sub, "show") &&
      !is_import && !is_export && !is_check && !is_add)
    return cli_usage(cmd, "unknown subcommand '%s' (init, list, show, add, "
                          "import, export or check)", sub);
  if (fmt_arg) {
    if (!strcmp(sub, "init") || is_import || is_add)
      return cli_usage(cmd, "--format does not apply to 'db %s'", sub);
    if ((rc = cli_format(cmd, fmt_arg, is_export ? 6 : is_check ? 3 : 7,
                         &fmt)))
      return rc;
  } else if (is_export) {
    fmt = CLI_FMT_CSV;
  }
  if (!is_import && (ci->gpu || ci->host || ci->method || ci->driver_version ||
                     ci->cuda_version || ci->nccl_version || ci->notes))
    return cli_usage(cmd, "--gpu/--host/--method/--driver/--cuda/--nccl/"
                          "--notes only apply to 'db import'");
  if (!is_import && (io.op_arg || io.ranks_arg || io.nodes_arg))
    return cli_usage(cmd, "--op/--ranks/--nodes only apply to 'db import' of "
                          "an nccl-tests log");
  if (!is_import && !is_add && io.replace)
    return cli_usage(cmd, "--replace only applies to 'db add' and 'db "
                          "import'");
  if (!is_add && add_given)
    return cli_usage(cmd, "--%s only applies to 'db add'", add_given);
  int want = is_add ? 2 : !strcmp(sub, "list") || !strcmp(sub, "show") ||
                          is_import ? 1 : 0;
  if (npos != want) {
    if (!strcmp(sub, "list"))
      return cli_usage(cmd, "'db list' needs one of gpus, models, "
                            "calibrations, collectives");
    if (!strcmp(sub, "show"))
      return cli_usage(cmd, "'db show' needs one name (a GPU, a model or a "
                            "calibration id)");
    if (is_import)
      return cli_usage(cmd, "'db import' needs one file");
    if (is_add)
      return cli_usage(cmd, "'db add' needs gpu or model and a name ('db add "
                            "gpu <name> --bf16-tflops ...')");
    return cli_usage(cmd, "unexpected argument '%s'", pos[0]);
  }
  if (is_add)
    return cmd_add(cmd, pos[0], pos[1], add_val, io.replace, path);
  if (is_import)
    return cmd_import_file(cmd, pos[0], &io, path);
  int what = -1;
  if (!strcmp(sub, "list")) {
    what = !strcmp(pos[0], "gpus") ? PL_DB_VIEW_GPUS
           : !strcmp(pos[0], "models") ? PL_DB_VIEW_MODELS
           : !strcmp(pos[0], "calibrations") ? PL_DB_VIEW_CALIBRATIONS
           : !strcmp(pos[0], "collectives") ? PL_DB_VIEW_COLLECTIVES : -1;
    if (what < 0)
      return cli_usage(cmd, "'db list' lists gpus, models, calibrations or "
                            "collectives, not '%s'", pos[0]);
  }

  /* init creates the database; list, show, export and check only read. */
  pl_db *db = NULL;
  if ((rc = !strcmp(sub, "init") ? cli_db_open(path, 0, &db)
                                 : cli_db_open_read(path, &db)))
    return rc;
  if (!strcmp(sub, "init")) {
    pl_db_table t;
    if (!(rc = run_view(db, PL_DB_VIEW_COUNTS, NULL, &t))) {
      printf("database %s: schema version %d, %s GPUs + %s CPU device, %s "
             "models, %s calibrations, %s runs\n", pl_db_path(db),
             pl_db_schema_version(db), t.cells[0], t.cells[1], t.cells[2],
             t.cells[3], t.cells[4]);
      pl_db_table_free(&t);
    }
  } else if (is_check) {
    rc = cmd_check(db, fmt);
  } else if (what >= 0) {
    rc = query_print(db, (pl_db_view)what, NULL, fmt, NULL);
  } else if (!strcmp(sub, "show")) {
    rc = cmd_show(db, pos[0], fmt);
  } else {
    rc = cmd_export(db, fmt);
  }
  pl_db_close(db);
  return rc;
}
