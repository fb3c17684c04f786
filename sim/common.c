/* common.c: error table, allocator hook, growable buffer, file helpers and
 * version information shared by every module. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipelab/pipelab.h"
#include "pl_config.h"
#include "pl_gitrev.h"

const char *pl_strerror(int err)
{
  switch (err) {
#define PL__ERR_MSG(name, num, msg) \
  case -(num):                      \
    return msg;
    PL_ERR_MAP(PL__ERR_MSG)
#undef PL__ERR_MSG
  }
  return "unknown error";
}

const char *pl_err_name(int err)
{
  switch (err) {
#define PL__ERR_NAME(name, num, msg) \
  case -(num):                       \
    return "PL_" #name;
    PL_ERR_MAP(PL__ERR_NAME)
#undef PL__ERR_NAME
  }
  return "PL_EUNKNOWN";
}

int pl_errf(struct pl_errbuf *eb, int code, const char *fmt, ...)
{
  if (eb) {
    va_list ap;
    va_start(ap, fmt);
    eb->code = code;
    vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* Allocator hook (libuv's uv_replace_allocator). */
static struct {
  pl_malloc_fn m;
  pl_realloc_fn r;
  pl_calloc_fn c;
  pl_free_fn f;
} alloc = {malloc, realloc, calloc, free};

int pl_set_allocator(pl_malloc_fn m, pl_realloc_fn r, pl_calloc_fn c,
                     pl_free_fn f)
{
  if (!m || !r || !c || !f)
    return PL_EINVAL;
  alloc.m = m;
  alloc.r = r;
  alloc.c = c;
  alloc.f = f;
  return PL_OK;
}

void *pl_malloc(size_t n) { return alloc.m(n ? n : 1); }
void *pl_calloc(size_t n, size_t size) { return alloc.c(n ? n : 1, size ? size : 1); }
void *pl_realloc(void *p, size_t n) { return alloc.r(p, n ? n : 1); }
void pl_free(void *p)
{
  if (p)
    alloc.f(p);
}

char *pl_strdup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = pl_malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* Growable buffer. */
static char pl__empty[1];

void pl_buf_init(struct pl_buf *b, size_t max)
{
  b->buf = pl__empty;
  b->len = 0;
  b->alloc = 0;
  b->max = max ? max : PL_BUF_MAX_DEFAULT;
}

void pl_buf_free(struct pl_buf *b)
{
  if (b->alloc)
    pl_free(b->buf);
  b->buf = pl__empty;
  b->len = b->alloc = 0;
}

void pl_buf_reset(struct pl_buf *b)
{
  b->len = 0;
  if (b->alloc)
    b->buf[0] = 0;
}

static int buf_grow(struct pl_buf *b, size_t need)
{
  if (need + 1 > b->max) {
    pl_buf_free(b);
    return PL_ENOMEM;
  }
  if (need + 1 <= b->alloc)
    return PL_OK;
  size_t n = b->alloc ? b->alloc : 256;
  while (n < need + 1)
    n *= 2;
  if (n > b->max)
    n = b->max;
  char *p = b->alloc ? pl_realloc(b->buf, n) : pl_malloc(n);
  if (!p) {
    pl_buf_free(b);
    return PL_ENOMEM;
  }
  if (!b->alloc)
    p[0] = 0;
  b->buf = p;
  b->alloc = n;
  return PL_OK;
}

int pl_buf_add(struct pl_buf *b, const void *data, size_t len)
{
  int rc = buf_grow(b, b->len + len);
  if (rc)
    return rc;
  memcpy(b->buf + b->len, data, len);
  b->len += len;
  b->buf[b->len] = 0;
  return PL_OK;
}

int pl_buf_vaddf(struct pl_buf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return PL_EINVAL;
  if ((size_t)n < sizeof small)
    return pl_buf_add(b, small, (size_t)n);
  int rc = buf_grow(b, b->len + (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return PL_OK;
}

int pl_buf_addf(struct pl_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int rc = pl_buf_vaddf(b, fmt, ap);
  va_end(ap);
  return rc;
}

char *pl_buf_take(struct pl_buf *b)
{
  char *s = b->alloc ? b->buf : pl_strdup("");
  b->buf = pl__empty;
  b->len = b->alloc = 0;
  return s;
}

int pl_write_file_atomic(const char *path, const char *data, size_t len,
                         struct pl_errbuf *eb)
{
  if (strcmp(path, "-") == 0) {
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
      return pl_errf(eb, PL_EIO, "cannot write to standard output: %s",
                     strerror(errno));
    return PL_OK;
  }
  size_t n = strlen(path) + 8;
  char *tmp = pl_malloc(n);
  if (!tmp)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  snprintf(tmp, n, "%s.tmp", path);
  int rc = PL_OK;
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': %s", path, strerror(errno));
    goto out;
  }
  size_t w = fwrite(data, 1, len, f);
  int cerr = fclose(f);
  if (w != len || cerr != 0) {
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': %s", path, strerror(errno));
    remove(tmp);
    goto out;
  }
  if (rename(tmp, path) != 0) {
    rc = pl_errf(eb, PL_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                 strerror(errno));
    remove(tmp);
  }
out:
  pl_free(tmp);
  return rc;
}

int pl_read_file(const char *path, char **out, size_t *len,
                 struct pl_errbuf *eb)
{
  *out = NULL;
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f)
    return pl_errf(eb, PL_EIO, "cannot open '%s': %s", path, strerror(errno));
  struct pl_buf b;
  pl_buf_init(&b, (size_t)1 << 31);
  char chunk[65536];
  size_t n;
  int rc = PL_OK;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if ((rc = pl_buf_add(&b, chunk, n)) != 0) {
      rc = pl_errf(eb, PL_ENOMEM, "'%s' is too large to read", path);
      break;
    }
  }
  if (!rc && ferror(f))
    rc = pl_errf(eb, PL_EIO, "cannot read '%s': %s", path, strerror(errno));
  if (f != stdin)
    fclose(f);
  if (rc) {
    pl_buf_free(&b);
    return rc;
  }
  if (len)
    *len = b.len;
  *out = pl_buf_take(&b);
  return *out ? PL_OK : pl_errf(eb, PL_ENOMEM, "out of memory");
}

const char *pl_version(void) { return PL_VERSION_STRING; }
const char *pl_git_rev(void) { return PL_GIT_REV; }

const char *pl_backends(void)
{
#ifdef PL_HAVE_CUDA
  return "cpu,cuda";
#else
  return "cpu";
#endif
}

double pl_now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}
