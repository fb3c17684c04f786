/* bench_csv.h: the benchmarks' reader for their data files in bench/data:
 * CSV with a header line, read with the library's RFC 4180 reader
 * (pl_csv_next), so a quoted field may hold commas and "" for a quote.
 * Blank lines are skipped. */
#ifndef PL_BENCH_CSV_H
#define PL_BENCH_CSV_H
#include <stdio.h>
#include <string.h>

#include "pipelab/core.h"

struct bench_csv {
  const char *who;  /* the benchmark's name, for messages */
  const char *path;
  char *text;       /* the whole file */
  struct pl_csv r;  /* r.f / r.nf: the current record */
};

/* Reads the file at path and its header line (left in c->r.f, c->r.nf);
 * 0, or -1 with a message on stderr (nothing left to close). */
static int bench_csv_open(struct bench_csv *c, const char *who,
                          const char *path)
{
  size_t len = 0;
  memset(c, 0, sizeof *c);
  c->who = who;
  c->path = path;
  if (pl_read_file(path, &c->text, &len, NULL)) {
    fprintf(stderr, "%s: cannot open %s\n", who, path);
    return -1;
  }
  pl_csv_init(&c->r, c->text, len, PL_CSV_SKIP_BLANK);
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_csv_next(&c->r, &eb);
  if (rc <= 0) {
    fprintf(stderr, "%s: %s: %s\n", who, path,
            rc ? eb.msg : "empty (no header line)");
    pl_csv_free(&c->r);
    pl_free(c->text);
    c->text = NULL;
    return -1;
  }
  return 0;
}

/* Reads the next record into c->r.f / c->r.nf; 1, 0 at the end of the
 * file, or -1 with a message on stderr. */
static int bench_csv_next(struct bench_csv *c)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_csv_next(&c->r, &eb);
  if (rc < 0) {
    fprintf(stderr, "%s: %s: %s\n", c->who, c->path, eb.msg);
    return -1;
  }
  return rc;
}

static void bench_csv_close(struct bench_csv *c)
{
  pl_csv_free(&c->r);
  pl_free(c->text);
  c->text = NULL;
}

/* Index of the column named want among the n header fields, or -1. */
static int bench_csv_col(char **names, int n, const char *want)
{
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], want))
      return i;
  return -1;
}
#endif
