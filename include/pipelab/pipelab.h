/*
 * pipelab.h: the umbrella header and the pieces every module shares: the
 * error table, the caller-owned error buffer, the allocator hook, a growable
 * text buffer and version information.
 *
 * Module headers (one per top-level folder):
 *   pipelab/sim.h      schedule IR, generators, PyTorch CSV, engine, results
 *   pipelab/models.h   cost models: embedded catalog, analytic, SQLite store
 *   pipelab/traces.h   Chrome traces, result files, comparison, run history
 *   pipelab/plots.h    gnuplot figures
 *   pipelab/exec.h     executor (CPU threads, CUDA + NCCL)
 *   pipelab/kernels.h  the executor's workload kernels
 *   pipelab/api.h      one JSON-in / JSON-out entry point (bindings)
 *
 * Conventions (docs/architecture.md):
 * - Functions return int: 0 (PL_OK) or a negative pl_err code; results go
 *   through out-parameters. The library never prints and never exits.
 * - A detailed message goes into a caller-owned struct pl_errbuf when one is
 *   passed (it may be NULL).
 * - Opaque handles come in create/destroy (open/close) pairs; destroy accepts
 *   NULL.
 */
#ifndef PIPELAB_PIPELAB_H
#define PIPELAB_PIPELAB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The one error table. Numbers are fixed and never reused; new codes are
 * appended. Each row: name, number, message.
 */
#define PL_ERR_MAP(XX)                                                       \
  XX(OK, 0, "success")                                                       \
  XX(ENOMEM, 1, "out of memory")                                             \
  XX(EINVAL, 2, "invalid argument")                                          \
  XX(EPARSE, 3, "parse error")                                               \
  XX(EDEADLOCK, 4, "schedule deadlocks")                                     \
  XX(EDB, 5, "database error")                                               \
  XX(EDBLOCKED, 6, "database is locked")                                     \
  XX(ENODEV, 7, "no GPU or backend unavailable")                             \
  XX(ECUDA, 8, "CUDA error")                                                 \
  XX(ENCCL, 9, "NCCL error")                                                 \
  XX(EMISUSE, 10, "API misuse")                                              \
  XX(EIO, 11, "input/output error")                                          \
  XX(EINVALSCHED, 12, "invalid schedule")                                    \
  XX(ENOTFOUND, 13, "not found")                                             \
  XX(ETIMEDOUT, 14, "timed out")                                             \
  XX(ENOTSUP, 15, "not supported")                                           \
  XX(EDBVERSION, 16, "database is from a newer pipelab")                     \
  XX(ENOTADB, 17, "file is not a pipelab database")                          \
  XX(EINTR, 18, "interrupted")                                               \
  XX(ECHECK, 19, "check failed")                                             \
  XX(EEXTERNAL, 20, "external program failed")

enum pl_err {
#define PL__ERR_ENUM(name, num, msg) PL_##name = -(num),
  PL_ERR_MAP(PL__ERR_ENUM)
#undef PL__ERR_ENUM
};

/* Static message / name ("PL_EPARSE") for a code; never NULL. */
const char *pl_strerror(int err);
const char *pl_err_name(int err);

/*
 * Caller-owned detailed error: code plus a one-line message without a final
 * full stop ("rank 2 blocked at B5: waiting for B5 of stage 3").
 */
#define PL_ERRMSG_MAX 1024
struct pl_errbuf {
  int code;
  char msg[PL_ERRMSG_MAX];
};
#define PL_ERRBUF_INIT {0, {0}}

/*
 * Sets eb->code and formats eb->msg (eb may be NULL); returns code so that
 * callers can write `return pl_errf(eb, PL_EINVAL, "...")`.
 */
int pl_errf(struct pl_errbuf *eb, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Allocator hook (libuv's uv_replace_allocator): every allocation of the
 * library goes through these, so tests can inject failures. Not thread-safe:
 * call before any other pipelab function. Returns PL_EINVAL if any is NULL.
 */
typedef void *(*pl_malloc_fn)(size_t);
typedef void *(*pl_realloc_fn)(void *, size_t);
typedef void *(*pl_calloc_fn)(size_t, size_t);
typedef void (*pl_free_fn)(void *);
int pl_set_allocator(pl_malloc_fn m, pl_realloc_fn r, pl_calloc_fn c,
                     pl_free_fn f);
void *pl_malloc(size_t n);
void *pl_calloc(size_t n, size_t size);
void *pl_realloc(void *p, size_t n);
void pl_free(void *p);
/* Duplicates s with pl_malloc; caller frees with pl_free. NULL on ENOMEM. */
char *pl_strdup(const char *s);

/*
 * Growable text buffer with a hard size cap (curl's dynbuf). buf is always a
 * valid C string (""), even before the first append. On any failure the
 * buffer is freed and reset, so callers need no error-path cleanup.
 */
struct pl_buf {
  char *buf;
  size_t len, alloc, max;
};
#define PL_BUF_MAX_DEFAULT ((size_t)1 << 32)
void pl_buf_init(struct pl_buf *b, size_t max);
int pl_buf_add(struct pl_buf *b, const void *data, size_t len);
int pl_buf_addf(struct pl_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int pl_buf_vaddf(struct pl_buf *b, const char *fmt, va_list ap);
void pl_buf_reset(struct pl_buf *b);
/* Frees the storage and re-initialises the buffer. */
void pl_buf_free(struct pl_buf *b);
/* Takes the string (caller frees with pl_free); the buffer is reset. */
char *pl_buf_take(struct pl_buf *b);

/*
 * Writes data to path atomically so that a crash never leaves a
 * valid-looking partial file and two processes saving to one path never mix:
 * a regular file (or a new one) is written to a uniquely named temporary
 * file in the same directory, then renamed over it; a symbolic link's
 * target is replaced the same way. A FIFO, a device (/dev/stdout, /dev/null)
 * or anything else that is not a regular file is written in place. "-"
 * writes to stdout. Errors (a full disk included) are PL_EIO naming path.
 */
int pl_write_file_atomic(const char *path, const char *data, size_t len,
                         struct pl_errbuf *eb);
/* Reads a whole file; *out is pl_malloc'ed and NUL-terminated. */
int pl_read_file(const char *path, char **out, size_t *len,
                 struct pl_errbuf *eb);

/* Version string "0.1.0" and git revision. Static strings. */
const char *pl_version(void);
const char *pl_git_rev(void);
/* Comma-separated executor backends compiled in, e.g. "cpu" or "cpu,cuda". */
const char *pl_backends(void);

/* Monotonic clock in microseconds. */
double pl_now_us(void);

#ifdef __cplusplus
}
#endif

#include "pipelab/sim.h"

#endif
