/* bench_csv.h: the benchmarks' reader for their data files in bench/data:
 * plain CSV with a header line, no quoted field before the last one a
 * benchmark uses. */
#ifndef PL_BENCH_CSV_H
#define PL_BENCH_CSV_H
#include <string.h>

/* Cuts the line ending off `line` and splits it at commas into at most max
 * fields (pointers into line); returns their count. */
static int bench_csv_split(char *line, char **f, int max)
{
  int n = 0;
  char *p = line;
  line[strcspn(line, "\r\n")] = 0;
  while (n < max) {
    f[n++] = p;
    char *c = strchr(p, ',');
    if (!c)
      break;
    *c = 0;
    p = c + 1;
  }
  return n;
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
