/* num.c: the one strict number parser (include/pipelab/core.h): a whole
 * string that is one decimal number, or PL_EPARSE. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/core.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Checks the syntax of s[0 .. n-1]: [+-]digits, and for a real an optional
 * fraction and exponent (".5" and "5." are numbers, "." and "e3" are not).
 * Returns 1 when it is one. */
static int syntax_ok(const char *s, size_t n, int real)
{
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '+' || s[i] == '-'))
    i++;
  while (i < n && is_digit(s[i]))
    i++, digits++;
  if (real && i < n && s[i] == '.') {
    i++;
    while (i < n && is_digit(s[i]))
      i++, digits++;
  }
  if (!digits)
    return 0;
  if (real && i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    size_t ed = 0;
    while (i < n && is_digit(s[i]))
      i++, ed++;
    if (!ed)
      return 0;
  }
  return i == n;
}

/* Copies s[0 .. n-1] to a NUL-terminated buffer for strtol / strtod; a
 * number longer than the buffer is refused as not a number. */
static int copy_num(const char *s, size_t n, char *buf, size_t len)
{
  if (!s || n == 0 || n >= len)
    return -1;
  memcpy(buf, s, n);
  buf[n] = 0;
  return 0;
}

int pl_parse_long_n(const char *s, size_t n, long lo, long hi, long *out)
{
  char buf[400];
  if (copy_num(s, n, buf, sizeof buf) || !syntax_ok(buf, n, 0))
    return PL_EPARSE;
  char *end;
  errno = 0;
  long v = strtol(buf, &end, 10);
  if (errno == ERANGE || v < lo || v > hi)
    return PL_EINVAL;
  if (errno || *end)
    return PL_EPARSE;
  *out = v;
  return PL_OK;
}

int pl_parse_long(const char *s, long lo, long hi, long *out)
{
  return pl_parse_long_n(s, s ? strlen(s) : 0, lo, hi, out);
}

int pl_parse_int(const char *s, int lo, int hi, int *out)
{
  long v;
  int rc = pl_parse_long(s, lo, hi, &v);
  if (!rc)
    *out = (int)v;
  return rc;
}

int pl_parse_double_n(const char *s, size_t n, double lo, double hi,
                      double *out)
{
  char buf[400];
  if (copy_num(s, n, buf, sizeof buf) || !syntax_ok(buf, n, 1))
    return PL_EPARSE;
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (*end)
    return PL_EPARSE; /* a locale whose decimal point is not '.' */
  /* Underflow to zero or a subnormal is a value; overflow is not. */
  if (!isfinite(v) || !(v >= lo && v <= hi))
    return PL_EINVAL;
  *out = v;
  return PL_OK;
}

int pl_parse_double(const char *s, double lo, double hi, double *out)
{
  return pl_parse_double_n(s, s ? strlen(s) : 0, lo, hi, out);
}
