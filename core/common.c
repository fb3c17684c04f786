/* common.c: the base layer's error table, allocator hook, growable buffer,
 * file helpers, clock and version information (include/pipelab/core.h). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pipelab/core.h"
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
  json_set_alloc_funcs(pl_malloc, pl_free);
  return PL_OK;
}

/* Allocations refused in this thread (pl_alloc_failures). */
static _Thread_local unsigned long refused;

static void *counted(void *p)
{
  refused += p == NULL;
  return p;
}

void *pl_malloc(size_t n) { return counted(alloc.m(n ? n : 1)); }
void *pl_calloc(size_t n, size_t size)
{
  return counted(alloc.c(n ? n : 1, size ? size : 1));
}
void *pl_realloc(void *p, size_t n) { return counted(alloc.r(p, n ? n : 1)); }
unsigned long pl_alloc_failures(void) { return refused; }

void pl_mem_hint_huge(void *p, size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  /* madvise wants a page-aligned start; the kernel uses a huge page for
   * each aligned 2 MiB inside the advised range. A refusal (no THP, or a
   * block that is not a private mapping) is harmless. */
  long page = sysconf(_SC_PAGESIZE);
  if (!p || n < PL_HUGE_MIN || page <= 0)
    return;
  uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  uintptr_t e = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
  if (e > a)
    (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}
void pl_free(void *p)
{
  if (p)
    alloc.f(p);
}

/* The block's start is kept in the word just before the aligned address. */
void *pl_aligned_alloc(size_t align, size_t n)
{
  if (align < sizeof(void *) || (align & (align - 1)) ||
      n > SIZE_MAX - align - sizeof(void *))
    return NULL;
  char *raw = pl_malloc(n + align + sizeof(void *));
  if (!raw)
    return NULL;
  uintptr_t a = ((uintptr_t)(raw + sizeof(void *)) + (align - 1)) &
                ~(uintptr_t)(align - 1);
  ((void **)a)[-1] = raw;
  return (void *)a;
}

void pl_aligned_free(void *p)
{
  if (p)
    pl_free(((void **)p)[-1]);
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

/* Writes data to an open stream and closes it; 0 or -1 with errno set. */
static int write_close(FILE *f, const char *data, size_t len)
{
  size_t w = fwrite(data, 1, len, f);
  int e = w == len && fflush(f) == 0 ? 0 : (errno ? errno : EIO);
  if (fclose(f) != 0 && !e)
    e = errno ? errno : EIO;
  errno = e;
  return e ? -1 : 0;
}

/* Follows a chain of symbolic links from path to the name of the file it
 * finally designates (which need not exist yet: a dangling link is written
 * through, as fopen would). Returns a pl_malloc'ed path, or NULL with errno
 * set. */
static char *follow_links(const char *path)
{
  char *cur = pl_strdup(path);
  for (int depth = 0; cur && depth < 40; depth++) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
      return cur;
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 256;
    char *t = NULL;
    ssize_t n;
    for (;;) {
      char *nt = pl_realloc(t, cap);
      if (!nt)
        goto nomem;
      t = nt;
      if ((n = readlink(cur, t, cap)) < 0)
        goto fail;
      if ((size_t)n < cap)
        break;
      cap *= 2;
    }
    t[n] = 0;
    if (t[0] != '/') { /* relative to the link's directory */
      const char *slash = strrchr(cur, '/');
      size_t dl = slash ? (size_t)(slash - cur) + 1 : 0;
      char *abs = pl_malloc(dl + (size_t)n + 1);
      if (!abs)
        goto nomem;
      memcpy(abs, cur, dl);
      memcpy(abs + dl, t, (size_t)n + 1);
      pl_free(t);
      t = abs;
    }
    pl_free(cur);
    cur = t;
    continue;
  nomem:
    errno = ENOMEM;
  fail:
    pl_free(t);
    pl_free(cur);
    return NULL;
  }
  if (cur)
    errno = ELOOP;
  pl_free(cur);
  return NULL;
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
  /* The standard streams by name go through the streams themselves: a
   * second descriptor on a file the shell opened would start at offset 0
   * and overwrite what the stream writes. */
  static const char *const std_names[2][3] = {
      {"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"},
      {"/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"}};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 3; i++)
      if (strcmp(path, std_names[k][i]) == 0) {
        FILE *f = k ? stderr : stdout;
        if (fwrite(data, 1, len, f) != len || fflush(f) != 0)
          return pl_errf(eb, PL_EIO, "cannot write '%s': %s", path,
                         strerror(errno));
        return PL_OK;
      }
  /* Only a regular file is replaced by a rename: a FIFO, a device, a
   * directory (which fails) and the other /dev and /proc names are written
   * in place. */
  struct stat st;
  int exists = stat(path, &st) == 0;
  if ((exists && !S_ISREG(st.st_mode)) || strncmp(path, "/dev/", 5) == 0 ||
      strncmp(path, "/proc/", 6) == 0) {
    FILE *f = fopen(path, "wb");
    if (!f || write_close(f, data, len) != 0)
      return pl_errf(eb, PL_EIO, "cannot write '%s': %s", path,
                     strerror(errno));
    return PL_OK;
  }
  /* A symbolic link keeps pointing at the same name: its target is
   * replaced. The temporary file lies next to the target (a rename never
   * crosses file systems) under a unique name, so that two processes
   * saving to one path never write into each other's file. */
  char *target = follow_links(path), *tmp = NULL;
  int rc = PL_OK, fd = -1;
  if (!target)
    return pl_errf(eb, PL_EIO, "cannot write '%s': %s", path, strerror(errno));
  size_t n = strlen(target) + 16;
  if (!(tmp = pl_malloc(n))) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  snprintf(tmp, n, "%s.tmp.XXXXXX", target);
  if ((fd = mkstemp(tmp)) < 0) {
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': %s", path, strerror(errno));
    goto out;
  }
  /* mkstemp creates the file 0600; give it the mode the replaced file had,
   * or what a new file gets (0666 less the umask, read by setting it and
   * putting it back). */
  mode_t mode = exists ? st.st_mode & 07777 : 0;
  if (!exists) {
    mode_t mask = umask(022);
    umask(mask);
    mode = 0666 & ~mask;
  }
  (void)fchmod(fd, mode);
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    int e = errno;
    close(fd);
    errno = e;
  }
  if (!f || write_close(f, data, len) != 0) {
    rc = pl_errf(eb, PL_EIO, "cannot write '%s': %s", path, strerror(errno));
    remove(tmp);
    goto out;
  }
  if (rename(tmp, target) != 0) {
    rc = pl_errf(eb, PL_EIO, "cannot rename '%s' to '%s': %s", tmp, target,
                 strerror(errno));
    remove(tmp);
  }
out:
  pl_free(tmp);
  pl_free(target);
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
