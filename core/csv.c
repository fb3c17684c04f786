/* csv.c: the one RFC 4180 CSV reader and writer (include/pipelab/core.h).
 * Every CSV the library reads (PyTorch schedules, catalog imports, sample
 * imports, sweep files) goes through pl_csv_next, so quoting, line ends, a
 * byte order mark and error positions behave the same everywhere. */
#include <string.h>

#include "pipelab/core.h"

void pl_csv_init(struct pl_csv *r, const char *text, size_t len,
                 unsigned flags)
{
  memset(r, 0, sizeof *r);
  if (!text)
    len = 0;
  /* A UTF-8 byte order mark (spreadsheets write one) is not part of the
   * first field. */
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
    text += 3;
    len -= 3;
  }
  r->text = text ? text : "";
  r->len = len;
  r->flags = flags;
  r->max_fields = PL_CSV_MAX_FIELDS_DEFAULT;
  r->max_record = PL_CSV_MAX_RECORD_DEFAULT;
  r->next_line = 1;
  pl_buf_init(&r->data, 0);
}

const char *pl_csv_error_text(const struct pl_csv *r)
{
  switch (r->err_kind) {
  case PL_CSV_E_UNCLOSED:
    return "a quoted field is not closed (missing '\"')";
  case PL_CSV_E_AFTER_QUOTE:
    return "text after the closing quote of a field";
  case PL_CSV_E_FIELDS:
    return "too many fields";
  default:
    return r->err_why ? r->err_why : "out of memory";
  }
}

void pl_csv_free(struct pl_csv *r)
{
  pl_buf_free(&r->data);
  pl_free(r->f);
  pl_free(r->f_len);
  pl_free(r->f_line);
  pl_free(r->f_quoted);
  pl_free(r->off);
  r->f = NULL;
  r->f_len = r->off = NULL;
  r->f_line = r->f_quoted = NULL;
  r->cap = r->nf = 0;
}

static int fail(struct pl_csv *r, int code, int line, int cell, int kind,
                const char *why, struct pl_errbuf *eb)
{
  r->err_line = line;
  r->err_cell = cell;
  r->err_kind = kind;
  r->err_why = why;
  /* pl_buf keeps its text NUL-terminated, so the field read so far is a
   * string (empty after an allocation failure reset the buffer). */
  r->err_field = r->data.len >= r->field_start
                     ? r->data.buf + r->field_start
                     : r->data.buf;
  if (code == PL_ENOMEM)
    return pl_errf(eb, code, "out of memory");
  return pl_errf(eb, code, "line %d, cell %d: %s", line, cell, why);
}

static int grow(struct pl_csv *r)
{
  int cap = r->cap ? r->cap * 2 : 16;
  char **f = pl_realloc(r->f, (size_t)cap * sizeof *f);
  if (!f)
    return PL_ENOMEM;
  r->f = f;
  size_t *fl = pl_realloc(r->f_len, (size_t)cap * sizeof *fl);
  if (!fl)
    return PL_ENOMEM;
  r->f_len = fl;
  int *ln = pl_realloc(r->f_line, (size_t)cap * sizeof *ln);
  if (!ln)
    return PL_ENOMEM;
  r->f_line = ln;
  int *q = pl_realloc(r->f_quoted, (size_t)cap * sizeof *q);
  if (!q)
    return PL_ENOMEM;
  r->f_quoted = q;
  size_t *off = pl_realloc(r->off, (size_t)cap * sizeof *off);
  if (!off)
    return PL_ENOMEM;
  r->off = off;
  r->cap = cap;
  return PL_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }
static int is_end(char c) { return c == '\n' || c == '\r'; }

/* Consumes the line end at r->pos (LF, CRLF or CR). */
static void eat_eol(struct pl_csv *r)
{
  if (r->text[r->pos] == '\r' && r->pos + 1 < r->len &&
      r->text[r->pos + 1] == '\n')
    r->pos++;
  r->pos++;
  r->next_line++;
}

/* Appends bytes of the current field, within the record size limit. */
static int add(struct pl_csv *r, const char *s, size_t n, int cell,
               struct pl_errbuf *eb)
{
  if (n > r->max_record || r->data.len > r->max_record - n)
    return fail(r, PL_EPARSE, r->line, cell, PL_CSV_E_SIZE,
                "record too large", eb);
  if (pl_buf_add(&r->data, s, n))
    return fail(r, PL_ENOMEM, r->line, cell, PL_CSV_E_NOMEM,
                "out of memory", eb);
  return PL_OK;
}

int pl_csv_next(struct pl_csv *r, struct pl_errbuf *eb)
{
  const char *t = r->text;
  size_t len = r->len;
  int rc;
  r->nf = 0;
  r->field_start = 0;
  pl_buf_reset(&r->data);
  for (;;) { /* lines that are not records */
    if (r->pos >= len)
      return 0;
    size_t s = r->pos;
    while (s < len && is_blank(t[s]))
      s++;
    int blank = s >= len || is_end(t[s]);
    if ((blank && (r->flags & PL_CSV_SKIP_BLANK)) ||
        (!blank && t[s] == '#' && (r->flags & PL_CSV_COMMENTS))) {
      r->pos = s;
      while (r->pos < len && !is_end(t[r->pos]))
        r->pos++;
      if (r->pos < len)
        eat_eol(r);
      continue;
    }
    if (!is_end(t[r->pos]))
      break;
    /* An empty line: a record of no fields, unless only empty lines
     * follow. */
    if (r->eol_end <= r->pos) {
      s = r->pos;
      while (s < len && is_end(t[s]))
        s++;
      r->eol_end = s;
    }
    if (r->eol_end >= len) {
      r->pos = len;
      return 0;
    }
    r->line = r->next_line;
    eat_eol(r);
    return 1;
  }
  r->line = r->next_line;
  for (;;) {
    int cell = r->nf + 1, fline = r->next_line, quoted = 0;
    size_t start = r->field_start = r->data.len;
    if (r->nf == r->max_fields)
      return fail(r, PL_EPARSE, fline, cell, PL_CSV_E_FIELDS,
                  "too many fields", eb);
    if (r->nf == r->cap && grow(r))
      return fail(r, PL_ENOMEM, fline, cell, PL_CSV_E_NOMEM,
                  "out of memory", eb);
    if (r->flags & PL_CSV_TRIM)
      while (r->pos < len && is_blank(t[r->pos]))
        r->pos++;
    if (r->pos < len && t[r->pos] == '"') {
      quoted = 1;
      r->pos++;
      for (;;) {
        size_t a = r->pos;
        while (r->pos < len && t[r->pos] != '"') {
          if (t[r->pos] == '\n' ||
              (t[r->pos] == '\r' && !(r->pos + 1 < len && t[r->pos + 1] == '\n')))
            r->next_line++;
          r->pos++;
        }
        if ((rc = add(r, t + a, r->pos - a, cell, eb)))
          return rc;
        if (r->pos >= len)
          return fail(r, PL_EPARSE, fline, cell, PL_CSV_E_UNCLOSED,
                      "quoted field is not closed (missing '\"')", eb);
        if (r->pos + 1 < len && t[r->pos + 1] == '"') {
          if ((rc = add(r, "\"", 1, cell, eb)))
            return rc;
          r->pos += 2;
          continue;
        }
        r->pos++;
        break;
      }
      if (r->flags & PL_CSV_TRIM)
        while (r->pos < len && is_blank(t[r->pos]))
          r->pos++;
      if (r->pos < len && t[r->pos] != ',' && !is_end(t[r->pos]))
        return fail(r, PL_EPARSE, fline, cell, PL_CSV_E_AFTER_QUOTE,
                    "unexpected text after the closing quote", eb);
    } else {
      size_t a = r->pos;
      while (r->pos < len && t[r->pos] != ',' && !is_end(t[r->pos]))
        r->pos++;
      size_t e = r->pos;
      if (r->flags & PL_CSV_TRIM)
        while (e > a && is_blank(t[e - 1]))
          e--;
      if ((rc = add(r, t + a, e - a, cell, eb)))
        return rc;
    }
    if (pl_buf_add(&r->data, "", 1)) /* the field's NUL */
      return fail(r, PL_ENOMEM, fline, cell, PL_CSV_E_NOMEM,
                  "out of memory", eb);
    r->off[r->nf] = start;
    r->f_len[r->nf] = r->data.len - 1 - start;
    r->f_line[r->nf] = fline;
    r->f_quoted[r->nf] = quoted;
    r->nf++;
    if (r->pos < len && t[r->pos] == ',') {
      r->pos++;
      continue;
    }
    if (r->pos < len)
      eat_eol(r);
    break;
  }
  for (int i = 0; i < r->nf; i++)
    r->f[i] = r->data.buf + r->off[i];
  return 1;
}

int pl_csv_add_field(struct pl_buf *b, const char *s, size_t len)
{
  int quote = len && (is_blank(s[0]) || is_blank(s[len - 1]) || s[0] == '#');
  for (size_t i = 0; i < len && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || is_end(s[i]);
  if (!quote)
    return pl_buf_add(b, s, len) ? PL_ENOMEM : PL_OK;
  if (pl_buf_add(b, "\"", 1))
    return PL_ENOMEM;
  for (size_t i = 0; i < len;) {
    const char *q = memchr(s + i, '"', len - i);
    size_t n = q ? (size_t)(q - (s + i)) + 1 : len - i;
    if (pl_buf_add(b, s + i, n) || (q && pl_buf_add(b, "\"", 1)))
      return PL_ENOMEM;
    i += n;
  }
  return pl_buf_add(b, "\"", 1) ? PL_ENOMEM : PL_OK;
}

int pl_csv_add_row(struct pl_buf *b, const char *const *fields, int n)
{
  /* One empty field alone would read back as a blank line. */
  if (n == 1 && !fields[0][0])
    return pl_buf_add(b, "\"\"\n", 3) ? PL_ENOMEM : PL_OK;
  for (int i = 0; i < n; i++)
    if ((i && pl_buf_add(b, ",", 1)) ||
        pl_csv_add_field(b, fields[i], strlen(fields[i])))
      return PL_ENOMEM;
  return pl_buf_add(b, "\n", 1) ? PL_ENOMEM : PL_OK;
}
