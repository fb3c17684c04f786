/*
 * core.h: the base layer every module builds on, and that depends on no
 * module: the error table and the caller-owned error buffer, the allocator
 * hook, a growable text buffer, whole-file reading and atomic writing, a
 * monotonic clock, version information, the files embedded into the
 * library, one RFC 4180 CSV reader and writer, and one strict number parser.
 *
 * Ownership: every pointer a function here hands out is either static (the
 * error strings, the version, the embedded files), owned by the caller and
 * released with pl_free (pl_strdup, pl_buf_take, pl_read_file), or owned by
 * the structure it lives in and valid until the next call on it (the fields
 * of a struct pl_csv record). The base layer never prints and never exits.
 */
#ifndef PIPELAB_CORE_H
#define PIPELAB_CORE_H

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
 * It also routes jansson through the hook (json_set_alloc_funcs, which is
 * process-wide): strings and objects jansson returns are then released
 * with pl_free / json_decref, never with free.
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
/* How many allocations the hook refused in the calling thread so far: a
 * library that reports failure without a reason (jansson's parser) ran out
 * of memory when this count moved during the call. */
unsigned long pl_alloc_failures(void);
/* Duplicates s with pl_malloc; caller frees with pl_free. NULL on ENOMEM. */
char *pl_strdup(const char *s);
/*
 * A hint for a large block from the hook that is about to be written whole
 * (a schedule's op array, the engine's end-time table): where the system
 * has transparent huge pages (Linux, madvise mode), the whole pages inside
 * [p, p + n) are backed by huge pages, which cuts the page faults of
 * touching it by up to 512x. Blocks under PL_HUGE_MIN bytes and systems
 * without the hint are left alone; never fails, never changes the contents.
 */
#define PL_HUGE_MIN ((size_t)4 << 20)
void pl_mem_hint_huge(void *p, size_t n);

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


/*
 * Aligned allocation through the allocator hook: align is a power of two
 * (at least sizeof(void *)); the block is released with pl_aligned_free
 * (which accepts NULL), never with pl_free. NULL on ENOMEM or overflow.
 */
void *pl_aligned_alloc(size_t align, size_t n);
void pl_aligned_free(void *p);

/*
 * Files embedded into the library at build time (SQL schema and migrations,
 * gnuplot templates; cmake/embed.cmake). The table and its strings are
 * static; data is NUL-terminated and len excludes the NUL.
 */
struct pl_embedded {
  const char *name; /* file name without directory, e.g. "001_init.sql" */
  const char *data;
  size_t len;
};
/* The whole table, ended by a row whose name is NULL. */
const struct pl_embedded *pl_embedded_files(void);
/* The file called name, or NULL. */
const struct pl_embedded *pl_embedded_find(const char *name);

/*
 * Strict numbers: the whole string is one decimal number, nothing before or
 * after it (no spaces, no hex, no "inf" or "nan"): an optional sign, digits,
 * and for a real an optional fraction and exponent. Returns 0, PL_EPARSE
 * when s is not such a number (empty or NULL included) or PL_EINVAL when it
 * is one but lies outside [lo, hi] (a real too large for a double is
 * outside); *out is written only on success.
 */
int pl_parse_long(const char *s, long lo, long hi, long *out);
int pl_parse_int(const char *s, int lo, int hi, int *out);
int pl_parse_double(const char *s, double lo, double hi, double *out);
/* The same over s[0 .. n-1], which need not be NUL-terminated. */
int pl_parse_long_n(const char *s, size_t n, long lo, long hi, long *out);
int pl_parse_double_n(const char *s, size_t n, double lo, double hi,
                      double *out);

/*
 * RFC 4180 CSV reader over a text in memory (the caller keeps text alive
 * while reading). Fields are separated by ',', records end with LF, CRLF or
 * a lone CR; a field that starts with '"' is quoted: it may hold commas,
 * line breaks and "" for one quote, and only a separator or a record end
 * may follow its closing quote. A UTF-8 byte order mark at the start is
 * skipped. A blank line is a record of no fields (unless PL_CSV_SKIP_BLANK);
 * blank lines at the very end of the text are not records.
 *
 * Usage:
 *   struct pl_csv r;
 *   pl_csv_init(&r, text, len, PL_CSV_TRIM | PL_CSV_SKIP_BLANK);
 *   while ((rc = pl_csv_next(&r, eb)) > 0)
 *     for (int i = 0; i < r.nf; i++) use(r.f[i], r.f_len[i]);
 *   pl_csv_free(&r);
 *
 * pl_csv_next returns 1 with a record in nf / f / f_len / f_line / line
 * (NUL-terminated copies owned by the reader, valid until the next call),
 * 0 at the end of the text, or a negative code: PL_EPARSE for bad syntax or
 * a record over the limits, PL_ENOMEM. On an error, eb gets "line L, cell
 * C: reason" and err_line / err_cell / err_kind / err_why / err_field hold
 * the same position and reason so that a caller can word its own message.
 */
enum {
  PL_CSV_TRIM = 1,       /* drop spaces and tabs around every field (and
                            between a closing quote and the separator) */
  PL_CSV_SKIP_BLANK = 2, /* skip lines that hold only spaces and tabs */
  PL_CSV_COMMENTS = 4    /* skip lines whose first non-blank byte is '#' */
};
enum pl_csv_error {
  PL_CSV_OK = 0,
  PL_CSV_E_UNCLOSED,    /* a quoted field runs to the end of the text */
  PL_CSV_E_AFTER_QUOTE, /* text between a closing quote and the separator */
  PL_CSV_E_FIELDS,      /* more than max_fields fields */
  PL_CSV_E_SIZE,        /* more than max_record bytes */
  PL_CSV_E_NOMEM
};
#define PL_CSV_MAX_FIELDS_DEFAULT 65536
#define PL_CSV_MAX_RECORD_DEFAULT ((size_t)1 << 30)
struct pl_csv {
  /* Set by pl_csv_init; the limits may be lowered before the first read. */
  const char *text;
  size_t len, pos;
  unsigned flags;
  int max_fields;    /* more fields in one record: PL_EPARSE */
  size_t max_record; /* more bytes of field text in one record: PL_EPARSE */
  int next_line;     /* line of the next byte to read (1-based) */
  /* The current record. */
  int line;          /* the line it starts on */
  int nf;            /* its field count (0 for a blank line) */
  char **f;          /* [nf] field text, NUL-terminated */
  size_t *f_len;     /* [nf] field length (a field may hold a NUL byte) */
  int *f_line;       /* [nf] line each field starts on */
  int *f_quoted;     /* [nf] 1 where the field was quoted */
  /* The last error's position (1-based), kind (enum pl_csv_error), reason
   * and the text of the field it stopped in, as far as it was read
   * (NUL-terminated, owned by the reader). */
  int err_line, err_cell, err_kind;
  const char *err_why;
  const char *err_field;
  /* Private. */
  struct pl_buf data;
  size_t *off;
  size_t eol_end;     /* end of the last run of empty lines seen */
  size_t field_start; /* offset of the field being read in data */
  int cap;
};
void pl_csv_init(struct pl_csv *r, const char *text, size_t len,
                 unsigned flags);
int pl_csv_next(struct pl_csv *r, struct pl_errbuf *eb);
/* Frees the reader's storage (not text); safe to call twice. */
void pl_csv_free(struct pl_csv *r);
/* The reason of the last syntax error in words for a one-line message
 * ("a quoted field is not closed (missing '\"')", ...); static storage or
 * r->err_why. */
const char *pl_csv_error_text(const struct pl_csv *r);

/*
 * CSV writer: appends one field, quoted (with "" for each quote) when it
 * holds a separator, a quote, a line break, or starts or ends with a space
 * or tab, so that any reader gets the same bytes back. pl_csv_add_row
 * appends n fields separated by ',' and ended by "\n". PL_ENOMEM (the
 * buffer is then freed, as every pl_buf failure does).
 */
int pl_csv_add_field(struct pl_buf *b, const char *s, size_t len);
int pl_csv_add_row(struct pl_buf *b, const char *const *fields, int n);

#ifdef __cplusplus
}
#endif

#endif
