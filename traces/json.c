/* json.c: JSON text with every real number in its shortest round-trip
 * form. Jansson prints reals with "%.17g", which shows 36.3 as
 * 36.299999999999997; reading either text back gives the same double, so
 * the shortest one is printed instead. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces_int.h"

int pl_fmt_real(char *buf, size_t len, double x)
{
  int n = -1;
  if (!isfinite(x))
    return PL_EINVAL;
  /* 15 digits always round-trip decimal -> double -> decimal; the first
   * precision that reads back as x is the shortest form of x. */
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, len, "%.*g", prec, x == 0 ? 0.0 : x);
    if (n < 0 || (size_t)n >= len)
      return PL_EINVAL;
    if (strtod(buf, NULL) == x)
      break;
  }
  /* Jansson's exponent style: 1e+300 -> 1e300, 1e-05 -> 1e-5. */
  char *e = strchr(buf, 'e');
  if (e) {
    char *d = e + 1, *w = e + 1;
    if (*d == '+')
      d++;
    else if (*d == '-')
      *w++ = *d++;
    while (*d == '0' && d[1])
      d++;
    memmove(w, d, strlen(d) + 1);
  }
  return PL_OK;
}

/* Rewrites the reals of jansson's text (numbers with '.', 'e' or 'E'
 * outside strings) in their shortest form, keeping them reals. */
static char *shorten(const char *in)
{
  struct pl_buf b;
  pl_buf_init(&b, 0);
  size_t n = strlen(in);
  int rc = 0;
  for (size_t i = 0; i < n && !rc;) {
    if (in[i] == '"') {
      size_t j = i + 1;
      while (j < n && in[j] != '"')
        j += in[j] == '\\' ? 2 : 1;
      j = j < n ? j + 1 : n;
      rc = pl_buf_add(&b, in + i, j - i);
      i = j;
      continue;
    }
    if (in[i] == '-' || isdigit((unsigned char)in[i])) {
      size_t j = i + 1;
      int real = 0;
      while (j < n && (isdigit((unsigned char)in[j]) || strchr(".eE+-", in[j]))) {
        real |= in[j] == '.' || in[j] == 'e' || in[j] == 'E';
        j++;
      }
      char num[64], out[48];
      if (real && j - i < sizeof num) {
        memcpy(num, in + i, j - i);
        num[j - i] = 0;
        if (pl_fmt_real(out, sizeof out, strtod(num, NULL)) == 0) {
          if (!strpbrk(out, ".e"))
            strcat(out, ".0");
          rc = pl_buf_add(&b, out, strlen(out));
          i = j;
          continue;
        }
      }
      rc = pl_buf_add(&b, in + i, j - i);
      i = j;
      continue;
    }
    size_t j = i + 1;
    while (j < n && in[j] != '"' && in[j] != '-' && !isdigit((unsigned char)in[j]))
      j++;
    rc = pl_buf_add(&b, in + i, j - i);
    i = j;
  }
  if (rc)
    return NULL;
  return pl_buf_take(&b);
}

char *pl_json_dumps(const json_t *j, size_t flags)
{
  char *raw = json_dumps(j, flags | JSON_REAL_PRECISION(17));
  if (!raw)
    return NULL;
  char *s = shorten(raw);
  pl_free(raw); /* jansson allocates through the hook */
  return s;
}

int pl_json_dumpf(const json_t *j, FILE *f, size_t flags)
{
  char *s = pl_json_dumps(j, flags);
  if (!s)
    return PL_ENOMEM;
  size_t len = strlen(s);
  int rc = fwrite(s, 1, len, f) == len ? PL_OK : PL_EIO;
  pl_free(s);
  return rc;
}
