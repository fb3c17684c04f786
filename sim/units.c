/* units.c: the one place where figures are made readable: durations in the
 * largest unit that keeps 3-4 significant digits, bytes in KiB/MiB/GiB,
 * activation units to two decimals, the matching axis scales for plots,
 * and the rounding that keeps accumulated float noise out of results. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"

static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

double pl_round_digits(double x, double scale, int digits)
{
  if (!isfinite(x) || !isfinite(scale) || x == 0)
    return x;
  scale = fabs(scale) > fabs(x) ? fabs(scale) : fabs(x);
  /* k decimals keep `digits` significant digits of scale. */
  int k = digits - 1 - (int)floor(log10(scale));
  if (k > 22 || k < -22)
    return x;
  /* Both steps are one correctly rounded operation on exact operands (an
   * integer below 2^53 and an exact power of ten), so the result is the
   * double nearest to the decimal. */
  if (k >= 0) {
    double n = nearbyint(x * p10[k]);
    return fabs(n) < 9007199254740992.0 ? n / p10[k] : x;
  }
  double n = nearbyint(x / p10[-k]);
  return fabs(n) < 9007199254740992.0 ? n * p10[-k] : x;
}

double pl_denoise(double x, double scale)
{
  return pl_round_digits(x, scale, PL_DENOISE_DIGITS);
}

/* Display units of time, microseconds each. */
static const struct {
  const char *name;
  double us;
} tunits[] = {{"ns", 1e-3}, {"us", 1}, {"ms", 1e3}, {"s", 1e6}};

double pl_time_display(double t, const char *unit, const char **shown)
{
  double us = pl_time_unit_us(unit);
  *shown = unit && unit[0] ? unit : "unit";
  if (!(us > 0) || !isfinite(t))
    return 1;
  double a = fabs(t) * us;
  int k = 1; /* us for 0 */
  if (a > 0) {
    k = 0;
    while (k + 1 < 4 && a >= tunits[k + 1].us)
      k++;
  }
  *shown = tunits[k].name;
  return us / tunits[k].us;
}

double pl_bytes_display(double bytes, const char **shown)
{
  static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double a = fabs(bytes), f = 1;
  int k = 0;
  while (k < 4 && isfinite(a) && a >= 1024.0 * f) {
    f *= 1024.0;
    k++;
  }
  *shown = names[k];
  return 1.0 / f;
}

/* v with `sig` significant digits (no exponent; at least 0 decimals);
 * strip removes trailing zeros of the fraction. */
static int fixed(char *buf, size_t len, double v, int sig, int strip)
{
  int dec = 0;
  if (v != 0) {
    dec = sig - 1 - (int)floor(log10(fabs(v)));
    if (dec < 0)
      dec = 0;
    /* 999.96 rounds to 1000.0: one decimal fewer. */
    char t[64];
    snprintf(t, sizeof t, "%.*f", dec, v);
    const char *d = strchr(t, '.');
    int ints = (int)(d ? d - t : (long)strlen(t)) - (v < 0);
    if (dec > 0 && ints > sig - dec)
      dec = sig - ints > 0 ? sig - ints : 0;
  }
  int n = snprintf(buf, len, "%.*f", dec, v == 0 ? 0.0 : v);
  if (n < 0 || (size_t)n >= len)
    return PL_EINVAL;
  if (strip && strchr(buf, '.')) {
    char *e = buf + strlen(buf) - 1;
    while (*e == '0')
      *e-- = 0;
    if (*e == '.')
      *e = 0;
  }
  if (!strcmp(buf, "-0"))
    snprintf(buf, len, "0");
  return PL_OK;
}

int pl_fmt_duration(char *buf, size_t len, double t, const char *unit)
{
  if (!isfinite(t))
    return snprintf(buf, len, "n/a") < (int)len ? PL_OK : PL_EINVAL;
  const char *shown;
  double f = pl_time_display(t, unit, &shown);
  char num[64];
  /* A unit the tool cannot convert ("unit") keeps its exact small
   * numbers: 4 significant digits without trailing zeros. */
  int real = pl_time_unit_us(unit) > 0;
  if (fixed(num, sizeof num, t * f, 4, !real))
    return PL_EINVAL;
  int n = snprintf(buf, len, "%s %s", num, shown);
  return n < 0 || (size_t)n >= len ? PL_EINVAL : PL_OK;
}

int pl_fmt_bytes(char *buf, size_t len, double bytes)
{
  if (!isfinite(bytes))
    return snprintf(buf, len, "n/a") < (int)len ? PL_OK : PL_EINVAL;
  const char *shown;
  double f = pl_bytes_display(bytes, &shown);
  int n = f == 1 ? snprintf(buf, len, "%.0f B", bytes)
                 : snprintf(buf, len, "%.2f %s", bytes * f, shown);
  return n < 0 || (size_t)n >= len ? PL_EINVAL : PL_OK;
}

int pl_fmt_mem(char *buf, size_t len, double x, const char *mem_unit)
{
  if (mem_unit && !strcmp(mem_unit, "bytes"))
    return pl_fmt_bytes(buf, len, x);
  if (!isfinite(x))
    return snprintf(buf, len, "n/a") < (int)len ? PL_OK : PL_EINVAL;
  char num[64];
  snprintf(num, sizeof num, "%.2f", x);
  /* Rounded to two decimals; exact multiples keep no zeros ("4 units"). */
  char *e = num + strlen(num) - 1;
  while (*e == '0')
    *e-- = 0;
  if (*e == '.')
    *e = 0;
  if (!strcmp(num, "-0"))
    snprintf(num, sizeof num, "0");
  int n = snprintf(buf, len, "%s %s", num,
                   mem_unit && mem_unit[0] ? mem_unit : "units");
  return n < 0 || (size_t)n >= len ? PL_EINVAL : PL_OK;
}
