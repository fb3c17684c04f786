/*
 * csv.c: PyTorch schedule CSV (torch.distributed.pipelining) import and
 * export, and the PyTorch-level action table (pl_pt_sched) that keeps every
 * cell of such a file. Format and rules: docs/schedule-csv.md.
 *
 * Reading happens in three steps: the base layer's CSV reader (pl_csv_next)
 * splits the text into records and fields the way Python's csv module does
 * (LF, CRLF or CR line ends, RFC-4180 quotes); each field is parsed strictly by the action grammar
 * (action.c) into an action whose type is still "raw" (B and BW mean different things in the two dialects); once
 * the whole file has been seen, the dialect is decided and
 * the raw types are mapped to the current vocabulary. The stage -> rank map
 * is inferred on the way from the compute actions.
 */
#include <string.h>

#include "pipelab/pipelab.h"
#include "action.h"
#include "sched_int.h"

/* Limits that keep hostile input from asking for absurd allocations: the
 * stage index fits pl_op's int16, and stages x microbatches bounds the
 * per-(stage, microbatch) tables of validation and the dry run. */
#define CSV_MAX_STAGE PL__ACT_MAX_STAGE
#define CSV_MAX_MB PL__ACT_MAX_MB
#define CSV_MAX_RANKS 32767
#define CSV_MAX_KEYS ((long long)1 << 26)

/* ------------------------------------------------------------ names --- */

const char *pl_dialect_name(int dialect)
{
  switch (dialect) {
  case PL_DIALECT_AUTO: return "auto";
  case PL_DIALECT_CURRENT: return "current";
  case PL_DIALECT_LEGACY: return "legacy";
  default: return "?";
  }
}

static const char *const pt_names[PL_PT_NTYPES] = {
  "", "F", "I", "W", "B", "SEND_F", "RECV_F", "SEND_B", "RECV_B",
  "UNSHARD", "RESHARD", "REDUCE_GRAD", "OVERLAP_F_B", "SEND_F_RECV_B",
  "SEND_B_RECV_F"};

const char *pl_pt_type_name(int type)
{
  return type >= 0 && type < PL_PT_NTYPES ? pt_names[type] : "?";
}

static int type_has_mb(int type)
{
  return type != PL_PT_UNSHARD && type != PL_PT_RESHARD &&
         type != PL_PT_REDUCE_GRAD;
}

static int type_is_compute(int type)
{
  return type >= PL_PT_F && type <= PL_PT_B;
}

static int fmt_act(const pl_pt_act *a, char *buf, size_t len)
{
  int n;
  if (type_has_mb(a->type))
    n = snprintf(buf, len, "%d%s%d", a->stage, pl_pt_type_name(a->type),
                 a->mb);
  else
    n = snprintf(buf, len, "%d%s", a->stage, pl_pt_type_name(a->type));
  return n < 0 || (size_t)n >= len ? -1 : n;
}

int pl_pt_action_format(const pl_pt_action *a, char *buf, size_t len)
{
  char x[48], y[48];
  int n;
  if (!len)
    return PL_EINVAL;
  switch (a->type) {
  case PL_PT_IDLE:
    buf[0] = 0;
    return PL_OK;
  case PL_PT_OVERLAP_F_B:
    if (fmt_act(&a->sub[0], x, sizeof x) < 0 ||
        fmt_act(&a->sub[1], y, sizeof y) < 0)
      return PL_EINVAL;
    n = snprintf(buf, len, "(%s;%s)OVERLAP_F_B", x, y);
    break;
  case PL_PT_SEND_F_RECV_B:
  case PL_PT_SEND_B_RECV_F:
    /* Legacy fused comm has no current-dialect spelling; keep its own. */
    if (fmt_act(&a->sub[0], x, sizeof x) < 0 ||
        fmt_act(&a->sub[1], y, sizeof y) < 0)
      return PL_EINVAL;
    n = snprintf(buf, len, "%s_%s", x, y);
    break;
  default: {
    pl_pt_act s = {a->type, a->stage, a->mb};
    n = fmt_act(&s, buf, len);
  }
  }
  return n < 0 || (size_t)n >= len ? PL_EINVAL : PL_OK;
}

/* ------------------------------------------------------ the table --- */

struct pt_row {
  pl_pt_action *a;
  size_t n, cap;
  int line; /* CSV line the row started on (rank + 1 when built in code) */
};

struct pl_pt_sched {
  int p, n_stages, m;
  int *stage_rank;     /* [n_stages] */
  struct pt_row *rows; /* [p] */
  int rows_cap;
};

void pl_pt_destroy(pl_pt_sched *t)
{
  if (!t)
    return;
  for (int r = 0; r < t->p; r++)
    pl_free(t->rows[r].a);
  pl_free(t->rows);
  pl_free(t->stage_rank);
  pl_free(t);
}

/* Adds an empty row; used while reading, when the rank count grows. */
static int pt_add_row(pl_pt_sched *t, int line)
{
  if (t->p == t->rows_cap) {
    int cap = t->rows_cap ? t->rows_cap * 2 : 8;
    struct pt_row *r = pl_realloc(t->rows, (size_t)cap * sizeof *r);
    if (!r)
      return PL_ENOMEM;
    t->rows = r;
    t->rows_cap = cap;
  }
  memset(&t->rows[t->p], 0, sizeof t->rows[t->p]);
  t->rows[t->p].line = line;
  t->p++;
  return PL_OK;
}

static int pt_append(pl_pt_sched *t, int rank, const pl_pt_action *a)
{
  struct pt_row *row = &t->rows[rank];
  if (row->n == row->cap) {
    size_t cap = row->cap ? row->cap * 2 : 32;
    pl_pt_action *na = pl_realloc(row->a, cap * sizeof *na);
    if (!na)
      return PL_ENOMEM;
    row->a = na;
    row->cap = cap;
  }
  row->a[row->n++] = *a;
  return PL_OK;
}

int pl_pt_create(int ranks, int n_stages, const int *stage_rank,
                 pl_pt_sched **out, struct pl_errbuf *eb)
{
  *out = NULL;
  if (ranks < 1 || ranks > CSV_MAX_RANKS)
    return pl_errf(eb, PL_EINVAL, "ranks must be between 1 and %d, got %d",
                   CSV_MAX_RANKS, ranks);
  if (n_stages < 1 || n_stages > CSV_MAX_STAGE + 1 || !stage_rank)
    return pl_errf(eb, PL_EINVAL, "stages must be between 1 and %d, got %d",
                   CSV_MAX_STAGE + 1, n_stages);
  for (int g = 0; g < n_stages; g++)
    if (stage_rank[g] < 0 || stage_rank[g] >= ranks)
      return pl_errf(eb, PL_EINVAL,
                     "stage %d is mapped to rank %d, but there are ranks "
                     "0..%d", g, stage_rank[g], ranks - 1);
  pl_pt_sched *t = pl_calloc(1, sizeof *t);
  if (!t)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  t->stage_rank = pl_malloc((size_t)n_stages * sizeof *t->stage_rank);
  if (!t->stage_rank)
    goto nomem;
  memcpy(t->stage_rank, stage_rank, (size_t)n_stages * sizeof *stage_rank);
  t->n_stages = n_stages;
  for (int r = 0; r < ranks; r++)
    if (pt_add_row(t, r + 1))
      goto nomem;
  *out = t;
  return PL_OK;
nomem:
  pl_pt_destroy(t);
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

static int check_act(const pl_pt_sched *t, int rank, const pl_pt_act *a)
{
  if (a->type <= PL_PT_IDLE || a->type > PL_PT_REDUCE_GRAD)
    return 0;
  if (a->stage < 0 || a->stage >= t->n_stages)
    return 0;
  if (type_has_mb(a->type) ? (a->mb < 0 || a->mb > CSV_MAX_MB) : a->mb != -1)
    return 0;
  /* Compute runs on the rank that owns its stage; the lowering and the dry
   * run rely on this. */
  if (type_is_compute(a->type) && t->stage_rank[a->stage] != rank)
    return 0;
  return 1;
}

int pl_pt_push(pl_pt_sched *t, int rank, const pl_pt_action *a)
{
  if (!t || !a || rank < 0 || rank >= t->p)
    return PL_EINVAL;
  int mb = -1;
  switch (a->type) {
  case PL_PT_IDLE:
    break;
  case PL_PT_OVERLAP_F_B:
  case PL_PT_SEND_F_RECV_B:
  case PL_PT_SEND_B_RECV_F:
    if (a->n_sub != 2 || !check_act(t, rank, &a->sub[0]) ||
        !check_act(t, rank, &a->sub[1]))
      return PL_EINVAL;
    if (a->type == PL_PT_OVERLAP_F_B &&
        (!type_is_compute(a->sub[0].type) || !type_is_compute(a->sub[1].type)))
      return PL_EINVAL;
    mb = a->sub[0].mb > a->sub[1].mb ? a->sub[0].mb : a->sub[1].mb;
    break;
  default: {
    pl_pt_act s = {a->type, a->stage, a->mb};
    if (a->n_sub != 0 || !check_act(t, rank, &s))
      return PL_EINVAL;
    mb = a->mb;
  }
  }
  if (pt_append(t, rank, a))
    return PL_ENOMEM;
  if (mb + 1 > t->m)
    t->m = mb + 1;
  return PL_OK;
}

int pl_pt_ranks(const pl_pt_sched *t) { return t->p; }
int pl_pt_stages(const pl_pt_sched *t) { return t->n_stages; }
int pl_pt_microbatches(const pl_pt_sched *t) { return t->m; }

int pl_pt_stage_rank(const pl_pt_sched *t, int stage)
{
  return stage >= 0 && stage < t->n_stages ? t->stage_rank[stage] : -1;
}

const pl_pt_action *pl_pt_row(const pl_pt_sched *t, int rank, size_t *n)
{
  if (rank < 0 || rank >= t->p) {
    *n = 0;
    return NULL;
  }
  *n = t->rows[rank].n;
  return t->rows[rank].a;
}

size_t pl_pt_row_idle(const pl_pt_sched *t, int rank)
{
  size_t n, idle = 0;
  const pl_pt_action *a = pl_pt_row(t, rank, &n);
  for (size_t i = 0; i < n; i++)
    idle += a[i].type == PL_PT_IDLE;
  return idle;
}

int pl_pt_write_csv(const pl_pt_sched *t, struct pl_buf *b)
{
  char cell[128];
  for (int r = 0; r < t->p; r++) {
    const struct pt_row *row = &t->rows[r];
    for (size_t i = 0; i < row->n; i++) {
      if (pl_pt_action_format(&row->a[i], cell, sizeof cell))
        return PL_EINVAL;
      if ((i && pl_buf_add(b, ",", 1)) || pl_buf_add(b, cell, strlen(cell)))
        return PL_ENOMEM;
    }
    if (pl_buf_add(b, "\n", 1))
      return PL_ENOMEM;
  }
  return PL_OK;
}

/* ---------------------------------------------------- CSV reading --- */

/* Position and text of a cell, for messages. */
struct cellpos {
  int line, cell;
  char text[48];
};

/* Owner of each stage while reading. */
struct owner {
  int rank, line, cell;
};

struct reader {
  pl_pt_sched *t;
  struct pl__act_seen st;
  struct cellpos first_i, first_bw, first_fused; /* first offending token */
  int have_i, have_bw, have_fused;
  struct owner *own;
  int own_cap;
  int max_stage, max_mb;
  /* Max stage/mb of a cell, to point at the cell that made the table too
   * large. */
  struct cellpos max_stage_at, max_mb_at;
  size_t idle, comm, fused;
  const char *src; /* file name for messages or NULL */
  struct pl_errbuf *eb;
};

static int rd_err(struct reader *rd, int code, int line, int cell,
                  const char *text, const char *why)
{
  if (rd->src)
    return pl_errf(rd->eb, code, "'%s': line %d, cell %d: '%s': %s", rd->src,
                   line, cell, text, why);
  return pl_errf(rd->eb, code, "line %d, cell %d: '%s': %s", line, cell, text,
                 why);
}

static int note_stage(struct reader *rd, int rank, int line, int cell,
                      const char *text, int stage, int compute)
{
  if (stage > rd->max_stage) {
    rd->max_stage = stage;
    rd->max_stage_at.line = line;
    rd->max_stage_at.cell = cell;
    snprintf(rd->max_stage_at.text, sizeof rd->max_stage_at.text, "%s", text);
  }
  if (!compute)
    return 0;
  if (stage >= rd->own_cap) {
    int cap = rd->own_cap ? rd->own_cap : 16;
    while (cap <= stage)
      cap *= 2;
    struct owner *o = pl_realloc(rd->own, (size_t)cap * sizeof *o);
    if (!o)
      return pl_errf(rd->eb, PL_ENOMEM, "out of memory");
    for (int g = rd->own_cap; g < cap; g++)
      o[g].rank = -1;
    rd->own = o;
    rd->own_cap = cap;
  }
  struct owner *o = &rd->own[stage];
  if (o->rank < 0) {
    o->rank = rank;
    o->line = line;
    o->cell = cell;
  } else if (o->rank != rank) {
    char why[160];
    snprintf(why, sizeof why, "stage %d also runs on rank %d (line %d, cell "
             "%d); every stage must be on exactly one rank",
             stage, o->rank, o->line, o->cell);
    return rd_err(rd, PL_EINVALSCHED, line, cell, text, why);
  }
  return 0;
}

static void note_mb(struct reader *rd, int line, int cell, const char *text,
                    int mb)
{
  if (mb > rd->max_mb) {
    rd->max_mb = mb;
    rd->max_mb_at.line = line;
    rd->max_mb_at.cell = cell;
    snprintf(rd->max_mb_at.text, sizeof rd->max_mb_at.text, "%s", text);
  }
}

static void keep_pos(struct cellpos *p, int *have, int line, int cell,
                     const char *text)
{
  if (*have)
    return;
  *have = 1;
  p->line = line;
  p->cell = cell;
  snprintf(p->text, sizeof p->text, "%s", text);
}

/* Handles one field: strip, parse, record. */
static int rd_cell(struct reader *rd, const char *s, size_t n, int line,
                   int cell)
{
  char why[320], text[48];
  while (n && pl__act_is_space(s[0])) {
    s++;
    n--;
  }
  while (n && pl__act_is_space(s[n - 1]))
    n--;
  pl_pt_action a = PL_PT_ACTION_INIT;
  int rank = rd->t->p - 1, rc;
  if (n == 0) {
    rd->idle++;
    return pt_append(rd->t, rank, &a) ? pl_errf(rd->eb, PL_ENOMEM,
                                                "out of memory")
                                      : 0;
  }
  pl__act_show(s, n, text, sizeof text);
  if (pl__act_parse(s, n, &a, why, sizeof why))
    return rd_err(rd, PL_EPARSE, line, cell, text, why);
  struct pl__act_seen st = {0, 0, 0, 0};
  pl__act_note(&a, &st);
  if (st.has_i)
    keep_pos(&rd->first_i, &rd->have_i, line, cell, text);
  if (st.has_bw)
    keep_pos(&rd->first_bw, &rd->have_bw, line, cell, text);
  if (st.has_fused)
    keep_pos(&rd->first_fused, &rd->have_fused, line, cell, text);
  rd->st.has_i |= st.has_i;
  rd->st.has_bw |= st.has_bw;
  rd->st.has_w |= st.has_w;
  rd->st.has_fused |= st.has_fused;
  if (a.n_sub) {
    int compute = a.type == PL_PT_OVERLAP_F_B;
    if (compute)
      rd->fused++;
    else
      rd->comm++;
    for (int k = 0; k < 2; k++) {
      if ((rc = note_stage(rd, rank, line, cell, text, a.sub[k].stage,
                           compute)))
        return rc;
      note_mb(rd, line, cell, text, a.sub[k].mb);
    }
  } else {
    int raw = -1 - a.type;
    int compute = raw == PL__RAW_F || raw == PL__RAW_I || raw == PL__RAW_B ||
                  raw == PL__RAW_W || raw == PL__RAW_BW;
    if (!compute)
      rd->comm++;
    if ((rc = note_stage(rd, rank, line, cell, text, a.stage, compute)))
      return rc;
    note_mb(rd, line, cell, text, a.mb);
  }
  return pt_append(rd->t, rank, &a) ? pl_errf(rd->eb, PL_ENOMEM,
                                              "out of memory")
                                    : 0;
}

/* Splits the text into records and fields with the base layer's RFC 4180
 * reader (LF, CRLF or CR line ends, quotes, "" inside quotes, a byte order
 * mark skipped, as Python's csv module with utf-8-sig reads it) and feeds
 * each field to rd_cell. A blank line is a rank with no cells; blank lines
 * at the end are ignored. */
static int rd_split(struct reader *rd, const char *text, size_t len)
{
  struct pl_csv r;
  int rc;
  pl_csv_init(&r, text, len, 0);
  while ((rc = pl_csv_next(&r, rd->eb)) > 0) {
    if (rd->t->p >= CSV_MAX_RANKS) {
      rc = pl_errf(rd->eb, PL_EPARSE, "%s%s%smore than %d rows (ranks)",
                   rd->src ? "'" : "", rd->src ? rd->src : "",
                   rd->src ? "': " : "", CSV_MAX_RANKS);
      break;
    }
    if (pt_add_row(rd->t, r.line)) {
      rc = pl_errf(rd->eb, PL_ENOMEM, "out of memory");
      break;
    }
    rc = 0;
    for (int i = 0; i < r.nf && !rc; i++)
      rc = rd_cell(rd, r.f[i], r.f_len[i], r.f_line[i], i + 1);
    if (rc)
      break;
  }
  if (rc < 0 && r.err_kind && r.err_kind != PL_CSV_E_NOMEM) {
    char t2[48];
    rc = rd_err(rd, rc, r.err_line, r.err_cell,
                r.err_kind == PL_CSV_E_UNCLOSED
                    ? "\""
                    : pl__act_show(r.err_field, strlen(r.err_field), t2, sizeof t2),
                r.err_kind == PL_CSV_E_UNCLOSED
                    ? "quoted cell is not closed (missing '\"')"
                    : r.err_why);
  }
  pl_csv_free(&r);
  return rc < 0 ? rc : 0;
}

static int read_table(const char *text, size_t len, int dialect,
                      const char *src, pl_pt_sched **out, pl_csv_info *info,
                      struct pl_errbuf *eb)
{
  struct reader rd;
  int rc;
  char pre[512] = "";
  *out = NULL;
  if (info)
    memset(info, 0, sizeof *info);
  if (src)
    snprintf(pre, sizeof pre, "'%s': ", src);
  if (dialect != PL_DIALECT_AUTO && dialect != PL_DIALECT_CURRENT &&
      dialect != PL_DIALECT_LEGACY)
    return pl_errf(eb, PL_EINVAL, "unknown CSV dialect %d", dialect);
  if (!text && len)
    return pl_errf(eb, PL_EINVAL, "no text");
  memset(&rd, 0, sizeof rd);
  rd.max_stage = rd.max_mb = -1;
  rd.src = src;
  rd.eb = eb;
  rd.t = pl_calloc(1, sizeof *rd.t);
  if (!rd.t)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  if ((rc = rd_split(&rd, text ? text : "", len)))
    goto fail;
  if (rd.t->p == 0) {
    rc = pl_errf(eb, PL_EPARSE, "%sno rows: the file is empty (a schedule CSV "
                 "has one row per rank, one action per cell)", pre);
    goto fail;
  }
  if (rd.max_stage < 0 || rd.own_cap == 0) {
    rc = pl_errf(eb, PL_EPARSE, "%sno compute action (F, I, B, W) in %d "
                 "row%s", pre, rd.t->p, rd.t->p == 1 ? "" : "s");
    goto fail;
  }
  int S = rd.max_stage + 1;
  int m = rd.max_mb + 1;
  if ((long long)S * (m > 0 ? m : 1) > CSV_MAX_KEYS) {
    char why[160];
    snprintf(why, sizeof why, "%d stages x %d microbatches is too large "
             "(at most %lld (stage, microbatch) pairs)", S, m, CSV_MAX_KEYS);
    const struct cellpos *p = S >= m ? &rd.max_stage_at : &rd.max_mb_at;
    rc = rd_err(&rd, PL_EPARSE, p->line, p->cell, p->text, why);
    goto fail;
  }
  if (rd.max_stage >= rd.own_cap || rd.own[rd.max_stage].rank < 0) {
    rc = rd_err(&rd, PL_EINVALSCHED, rd.max_stage_at.line,
                rd.max_stage_at.cell, rd.max_stage_at.text,
                "this stage has no compute action in any row");
    goto fail;
  }
  for (int g = 0; g < S; g++)
    if (rd.own[g].rank < 0) {
      rc = pl_errf(eb, PL_EINVALSCHED,
                   "%sstage %d has no compute action in any row, but stages "
                   "up to %d are used (stages must be numbered 0 to S-1)",
                   pre, g, rd.max_stage);
      goto fail;
    }
  int d = dialect == PL_DIALECT_AUTO ? pl__act_dialect(&rd.st) : dialect;
  /* Report a token that does not belong to the dialect at its first
   * occurrence, before touching the table. */
  {
    const struct cellpos *bad = NULL;
    pl_pt_action probe = PL_PT_ACTION_INIT;
    if (d == PL_DIALECT_LEGACY && rd.have_i) {
      bad = &rd.first_i;
      probe.type = -1 - PL__RAW_I;
    } else if (d == PL_DIALECT_CURRENT && rd.have_bw) {
      bad = &rd.first_bw;
      probe.type = -1 - PL__RAW_BW;
    } else if (d == PL_DIALECT_CURRENT && rd.have_fused) {
      bad = &rd.first_fused;
      probe.type = PL_PT_SEND_F_RECV_B;
    }
    if (bad) {
      char why[320];
      pl__act_map(&probe, d, why, sizeof why);
      rc = rd_err(&rd, PL_EPARSE, bad->line, bad->cell, bad->text, why);
      goto fail;
    }
  }
  for (int r = 0; r < rd.t->p; r++)
    for (size_t i = 0; i < rd.t->rows[r].n; i++) {
      char why[320];
      if (pl__act_map(&rd.t->rows[r].a[i], d, why, sizeof why)) {
        rc = pl_errf(eb, PL_EPARSE, "%sline %d: %s", pre, rd.t->rows[r].line,
                     why);
        goto fail;
      }
    }
  rd.t->n_stages = S;
  rd.t->m = m;
  rd.t->stage_rank = pl_malloc((size_t)S * sizeof *rd.t->stage_rank);
  if (!rd.t->stage_rank) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto fail;
  }
  for (int g = 0; g < S; g++)
    rd.t->stage_rank[g] = rd.own[g].rank;
  if (info) {
    info->dialect = d;
    info->ranks = rd.t->p;
    info->stages = S;
    info->microbatches = m;
    info->idle_cells = rd.idle;
    info->comm_cells = rd.comm;
    info->fused_cells = rd.fused;
  }
  pl_free(rd.own);
  *out = rd.t;
  return PL_OK;
fail:
  pl_free(rd.own);
  pl_pt_destroy(rd.t);
  return rc;
}

int pl_pt_read_csv(const char *text, size_t len, int dialect,
                   pl_pt_sched **out, pl_csv_info *info, struct pl_errbuf *eb)
{
  return read_table(text, len, dialect, NULL, out, info, eb);
}

int pl_pt_load_csv(const char *path, int dialect, pl_pt_sched **out,
                   pl_csv_info *info, struct pl_errbuf *eb)
{
  char *text;
  size_t len;
  *out = NULL;
  int rc = pl_read_file(path, &text, &len, eb);
  if (rc)
    return rc;
  rc = read_table(text, len, dialect, path, out, info, eb);
  pl_free(text);
  return rc;
}

/* ------------------------------------------------ pl_sched bridge --- */

static void op_to_action(const pl_op *op, pl_pt_action *a)
{
  static const int simple[] = {PL_PT_F, PL_PT_I, PL_PT_W, PL_PT_B};
  pl_pt_action z = PL_PT_ACTION_INIT;
  *a = z;
  if (op->kind == PL_OP_FB) {
    a->type = PL_PT_OVERLAP_F_B;
    a->n_sub = 2;
    a->sub[0].type = PL_PT_F;
    a->sub[0].stage = op->stage;
    a->sub[0].mb = op->mb;
    a->sub[1].type = op->kind2 == PL_OP_B ? PL_PT_I : PL_PT_B;
    a->sub[1].stage = op->stage2;
    a->sub[1].mb = op->mb2;
  } else {
    a->type = op->kind < 4 ? simple[op->kind] : PL_PT_IDLE;
    a->stage = op->stage;
    a->mb = op->mb;
  }
}

int pl_pt_from_sched(const pl_sched *s, pl_pt_sched **out,
                     struct pl_errbuf *eb)
{
  *out = NULL;
  if (pl_sched_replicated(s))
    return pl_errf(eb, PL_ENOTSUP,
                   "schedule '%s' places copies of its stages on a second "
                   "rank, which PyTorch's schedule CSV cannot express",
                   s->name);
  int rc = pl_pt_create(s->p, s->n_stages, s->stage_rank, out, eb);
  if (rc)
    return rc;
  for (int r = 0; r < s->p; r++)
    for (size_t i = 0; i < s->ranks[r].n; i++) {
      pl_pt_action a;
      char name[64];
      op_to_action(&s->ranks[r].ops[i], &a);
      if ((rc = pl_pt_push(*out, r, &a)) != 0) {
        pl_op_format(&s->ranks[r].ops[i], name, sizeof name);
        pl_pt_destroy(*out);
        *out = NULL;
        return rc == PL_ENOMEM
                   ? pl_errf(eb, rc, "out of memory")
                   : pl_errf(eb, PL_EINVALSCHED,
                             "rank %d position %zu: %s cannot be written as "
                             "a PyTorch action (bad stage, microbatch or "
                             "owner rank)", r, i, name);
      }
    }
  return PL_OK;
}

int pl_pt_to_sched(const pl_pt_sched *t, pl_sched **out, struct pl_errbuf *eb)
{
  pl_sched *s = NULL;
  int rc;
  *out = NULL;
  for (int r = 0; r < t->p; r++) {
    int any = 0;
    for (size_t i = 0; i < t->rows[r].n && !any; i++) {
      int ty = t->rows[r].a[i].type;
      any = type_is_compute(ty) || ty == PL_PT_OVERLAP_F_B;
    }
    if (!any)
      return pl_errf(eb, PL_EINVALSCHED,
                     "line %d: rank %d runs no compute action (a blank line "
                     "is a rank with no actions)", t->rows[r].line, r);
  }
  if (t->m < 1)
    return pl_errf(eb, PL_EINVALSCHED, "the schedule names no microbatch");
  if ((rc = pl_sched_create(t->p, t->n_stages, t->m, PL_PLACE_LOOP, &s, eb)))
    return rc;
  memcpy(s->stage_rank, t->stage_rank, (size_t)t->n_stages * sizeof(int));
  pl__sched_update_chunks(s);
  pl_sched_detect_placement(s);
  for (int r = 0; r < t->p; r++)
    for (size_t i = 0; i < t->rows[r].n; i++) {
      pl_op op;
      int k = pl__act_to_op(&t->rows[r].a[i], &op);
      if (k < 0) {
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "line %d, cell %zu: OVERLAP_F_B must pair one F with "
                     "one I or B", t->rows[r].line, i + 1);
        goto fail;
      }
      if (k == 1 && pl_sched_push(s, r, op)) {
        rc = pl_errf(eb, PL_ENOMEM, "out of memory");
        goto fail;
      }
    }
  *out = s;
  return PL_OK;
fail:
  pl_sched_destroy(s);
  return rc;
}

int pl_sched_read_csv(const char *text, size_t len, int dialect,
                      pl_sched **out, pl_csv_info *info, struct pl_errbuf *eb)
{
  pl_pt_sched *t;
  *out = NULL;
  int rc = read_table(text, len, dialect, NULL, &t, info, eb);
  if (rc)
    return rc;
  rc = pl_pt_to_sched(t, out, eb);
  pl_pt_destroy(t);
  return rc;
}

int pl_sched_load_csv(const char *path, int dialect, pl_sched **out,
                      pl_csv_info *info, struct pl_errbuf *eb)
{
  pl_pt_sched *t;
  *out = NULL;
  int rc = pl_pt_load_csv(path, dialect, &t, info, eb);
  if (rc)
    return rc;
  rc = pl_pt_to_sched(t, out, eb);
  pl_pt_destroy(t);
  if (rc && eb) {
    char msg[PL_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", eb->msg);
    pl_errf(eb, rc, "'%s': %s", path, msg);
  }
  return rc;
}

int pl_sched_write_csv(const pl_sched *s, struct pl_buf *b)
{
  char cell[128];
  if (pl_sched_replicated(s))
    return PL_ENOTSUP; /* replicated stages: see pl_pt_from_sched */
  for (int r = 0; r < s->p; r++) {
    for (size_t i = 0; i < s->ranks[r].n; i++) {
      pl_pt_action a;
      op_to_action(&s->ranks[r].ops[i], &a);
      if (pl_pt_action_format(&a, cell, sizeof cell))
        return PL_EINVAL;
      if ((i && pl_buf_add(b, ",", 1)) || pl_buf_add(b, cell, strlen(cell)))
        return PL_ENOMEM;
    }
    if (pl_buf_add(b, "\n", 1))
      return PL_ENOMEM;
  }
  return PL_OK;
}
