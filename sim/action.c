/*
 * action.c: the one grammar of PyTorch pipelining actions (action.h,
 * docs/schedule-csv.md, "The format" and "Dialects and detection"): `<stage><TYPE>[<mb>]` simple actions,
 * `(<a>;<b>)OVERLAP_F_B` fused compute and the legacy fused comm
 * `<s>SEND_F<mb>_<s2>RECV_B<mb2>`, the dialect detection and mapping, and
 * pl_action_parse, the one-action entry point the CSV cell parser and the
 * Kineto importer share.
 */
#include <string.h>

#include "action.h"

/* Longest names first so "BW0" is BW, not B followed by garbage. */
static const struct {
  const char *name;
  int raw;
} raw_names[] = {
  {"REDUCE_GRAD", PL__RAW_REDUCE_GRAD}, {"UNSHARD", PL__RAW_UNSHARD},
  {"RESHARD", PL__RAW_RESHARD}, {"SEND_F", PL__RAW_SEND_F}, {"RECV_F", PL__RAW_RECV_F},
  {"SEND_B", PL__RAW_SEND_B}, {"RECV_B", PL__RAW_RECV_B}, {"BW", PL__RAW_BW},
  {"F", PL__RAW_F}, {"I", PL__RAW_I}, {"B", PL__RAW_B}, {"W", PL__RAW_W}};

static int raw_has_mb(int raw)
{
  return raw != PL__RAW_UNSHARD && raw != PL__RAW_RESHARD && raw != PL__RAW_REDUCE_GRAD;
}

int pl__act_is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Renders up to 40 characters of s for a message, control bytes as '?'. */
const char *pl__act_show(const char *s, size_t n, char *buf, size_t len)
{
  size_t k = 0, max = len - 4;
  for (size_t i = 0; i < n && k < max; i++)
    buf[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
  if (n > max) {
    buf[k++] = '.';
    buf[k++] = '.';
    buf[k++] = '.';
  }
  buf[k] = 0;
  return buf;
}

/* Reads a decimal number at *pos; too large values are flagged, never
 * wrapped. Returns the number of digits read. */
static size_t read_num(const char *s, size_t n, size_t *pos, long max,
                       long *val, int *too_big)
{
  size_t start = *pos;
  long v = 0;
  *too_big = 0;
  while (*pos < n && is_digit(s[*pos])) {
    if (!*too_big) {
      v = v * 10 + (s[*pos] - '0');
      if (v > max)
        *too_big = 1;
    }
    (*pos)++;
  }
  *val = v;
  return *pos - start;
}

/* Parses `<stage><TYPE>[<mb>]` at *pos into a raw action. On error writes
 * the reason into why and returns -1. */
static int parse_simple(const char *s, size_t n, size_t *pos, pl_pt_act *a,
                        char *why, size_t wl)
{
  char tmp[48];
  long v;
  int big;
  size_t at = *pos;
  if (read_num(s, n, pos, PL__ACT_MAX_STAGE, &v, &big) == 0) {
    snprintf(why, wl, "expected an action <stage><TYPE><microbatch> such as "
             "'2F0' at '%s'", pl__act_show(s + at, n - at, tmp, sizeof tmp));
    return -1;
  }
  if (big) {
    snprintf(why, wl, "stage number '%s' is too large (at most %d)",
             pl__act_show(s + at, *pos - at, tmp, sizeof tmp), PL__ACT_MAX_STAGE);
    return -1;
  }
  a->stage = (int32_t)v;
  a->type = PL__RAW_NONE;
  for (size_t k = 0; k < sizeof raw_names / sizeof raw_names[0]; k++) {
    size_t l = strlen(raw_names[k].name);
    if (n - *pos >= l && memcmp(s + *pos, raw_names[k].name, l) == 0) {
      a->type = raw_names[k].raw;
      *pos += l;
      break;
    }
  }
  if (a->type == PL__RAW_NONE) {
    size_t e = *pos;
    while (e < n && !is_digit(s[e]) && s[e] != ';' && s[e] != ')')
      e++;
    if (e == *pos)
      snprintf(why, wl, "missing action type after stage %ld (expected F, "
               "I, B, W, SEND_F, RECV_F, SEND_B, RECV_B, UNSHARD, RESHARD or "
               "REDUCE_GRAD)", v);
    else
      snprintf(why, wl, "unknown action type '%s' (expected F, I, B, W, "
               "SEND_F, RECV_F, SEND_B, RECV_B, UNSHARD, RESHARD or "
               "REDUCE_GRAD)", pl__act_show(s + *pos, e - *pos, tmp, sizeof tmp));
    return -1;
  }
  size_t mstart = *pos;
  size_t nd = read_num(s, n, pos, PL__ACT_MAX_MB, &v, &big);
  const char *tn = NULL;
  for (size_t k = 0; k < sizeof raw_names / sizeof raw_names[0]; k++)
    if (raw_names[k].raw == a->type)
      tn = raw_names[k].name;
  if (raw_has_mb(a->type)) {
    if (nd == 0) {
      snprintf(why, wl, "%s needs a microbatch number (e.g. '%d%s0')", tn,
               a->stage, tn);
      return -1;
    }
    if (big) {
      snprintf(why, wl, "microbatch number '%s' is too large (at most %d)",
               pl__act_show(s + mstart, *pos - mstart, tmp, sizeof tmp), PL__ACT_MAX_MB);
      return -1;
    }
    a->mb = (int32_t)v;
  } else {
    if (nd) {
      snprintf(why, wl, "%s takes no microbatch number", tn);
      return -1;
    }
    a->mb = -1;
  }
  return 0;
}

/* Parses one stripped, non-empty cell into a raw action (types are enum
 * raw; compounds carry the pl_pt type). */
int pl__act_parse(const char *s, size_t n, pl_pt_action *a, char *why,
                  size_t wl)
{
  char tmp[48];
  pl_pt_action z = PL_PT_ACTION_INIT;
  *a = z;
  if (s[0] == '(') {
    const char *close = memchr(s, ')', n);
    if (!close) {
      snprintf(why, wl, "'(' without a closing ')'");
      return -1;
    }
    size_t ce = (size_t)(close - s);
    const char *rest = close + 1;
    size_t rl = n - ce - 1;
    if (rl != 11 || memcmp(rest, "OVERLAP_F_B", 11) != 0) {
      snprintf(why, wl, "expected OVERLAP_F_B after ')', got '%s'",
               pl__act_show(rest, rl, tmp, sizeof tmp));
      return -1;
    }
    a->type = PL_PT_OVERLAP_F_B;
    size_t i = 1;
    int k = 0;
    while (i <= ce) {
      size_t e = i;
      while (e < ce && s[e] != ';')
        e++;
      size_t b0 = i, b1 = e;
      while (b0 < b1 && pl__act_is_space(s[b0]))
        b0++;
      while (b1 > b0 && pl__act_is_space(s[b1 - 1]))
        b1--;
      if (b1 > b0) {
        if (k == 2) {
          snprintf(why, wl, "OVERLAP_F_B takes two actions, got more");
          return -1;
        }
        size_t pos = 0;
        if (parse_simple(s + b0, b1 - b0, &pos, &a->sub[k], why, wl))
          return -1;
        if (pos != b1 - b0) {
          snprintf(why, wl, "unexpected '%s' after an action inside ( )",
                   pl__act_show(s + b0 + pos, b1 - b0 - pos, tmp, sizeof tmp));
          return -1;
        }
        k++;
      }
      i = e + 1;
    }
    if (k != 2) {
      snprintf(why, wl, "OVERLAP_F_B takes two actions, got %d", k);
      return -1;
    }
    int t0 = a->sub[0].type, t1 = a->sub[1].type;
    int bwd0 = t0 == PL__RAW_I || t0 == PL__RAW_B || t0 == PL__RAW_BW;
    int bwd1 = t1 == PL__RAW_I || t1 == PL__RAW_B || t1 == PL__RAW_BW;
    if (!((t0 == PL__RAW_F && bwd1) || (t1 == PL__RAW_F && bwd0))) {
      snprintf(why, wl, "OVERLAP_F_B pairs one forward (F) with one backward "
               "(I or B)");
      return -1;
    }
    a->n_sub = 2;
    return 0;
  }
  size_t pos = 0;
  pl_pt_act x;
  if (parse_simple(s, n, &pos, &x, why, wl))
    return -1;
  if ((x.type == PL__RAW_SEND_F || x.type == PL__RAW_SEND_B) && pos < n &&
      s[pos] == '_' && pos + 1 < n && is_digit(s[pos + 1])) {
    /* Legacy fused comm: <s>SEND_F<mb>_<s2>RECV_B<mb2>. */
    pl_pt_act y;
    pos++;
    if (parse_simple(s, n, &pos, &y, why, wl))
      return -1;
    int want = x.type == PL__RAW_SEND_F ? PL__RAW_RECV_B : PL__RAW_RECV_F;
    if (y.type != want) {
      snprintf(why, wl, "a fused %s must be followed by %s",
               x.type == PL__RAW_SEND_F ? "SEND_F" : "SEND_B",
               x.type == PL__RAW_SEND_F ? "RECV_B" : "RECV_F");
      return -1;
    }
    a->type = x.type == PL__RAW_SEND_F ? PL_PT_SEND_F_RECV_B : PL_PT_SEND_B_RECV_F;
    a->n_sub = 2;
    a->sub[0] = x;
    a->sub[1] = y;
  } else {
    a->type = -1 - x.type; /* raw, mapped later; negative = simple */
    a->stage = x.stage;
    a->mb = x.mb;
  }
  if (pos != n) {
    snprintf(why, wl, "unexpected '%s' after the action",
             pl__act_show(s + pos, n - pos, tmp, sizeof tmp));
    return -1;
  }
  return 0;
}

/* Maps a raw simple type to the current vocabulary; -1 if the token does
 * not exist in the dialect. */
static int map_raw(int raw, int dialect)
{
  switch (raw) {
  case PL__RAW_F: return PL_PT_F;
  case PL__RAW_I: return dialect == PL_DIALECT_LEGACY ? -1 : PL_PT_I;
  case PL__RAW_B: return dialect == PL_DIALECT_LEGACY ? PL_PT_I : PL_PT_B;
  case PL__RAW_W: return PL_PT_W;
  case PL__RAW_BW: return dialect == PL_DIALECT_LEGACY ? PL_PT_B : -1;
  case PL__RAW_SEND_F: return PL_PT_SEND_F;
  case PL__RAW_RECV_F: return PL_PT_RECV_F;
  case PL__RAW_SEND_B: return PL_PT_SEND_B;
  case PL__RAW_RECV_B: return PL_PT_RECV_B;
  case PL__RAW_UNSHARD: return PL_PT_UNSHARD;
  case PL__RAW_RESHARD: return PL_PT_RESHARD;
  case PL__RAW_REDUCE_GRAD: return PL_PT_REDUCE_GRAD;
  default: return -1;
  }
}

void pl__act_note(const pl_pt_action *a, struct pl__act_seen *st)
{
  if (a->type == PL_PT_SEND_F_RECV_B || a->type == PL_PT_SEND_B_RECV_F) {
    st->has_fused = 1;
    return;
  }
  pl_pt_act one = {a->type < 0 ? -1 - a->type : PL__RAW_NONE, a->stage, a->mb};
  const pl_pt_act *parts = a->n_sub ? a->sub : &one;
  int np = a->n_sub ? a->n_sub : 1;
  for (int k = 0; k < np; k++) {
    st->has_i |= parts[k].type == PL__RAW_I;
    st->has_bw |= parts[k].type == PL__RAW_BW;
    st->has_w |= parts[k].type == PL__RAW_W;
  }
}

int pl__act_dialect(const struct pl__act_seen *st)
{
  if (st->has_i)
    return PL_DIALECT_CURRENT;
  if (st->has_bw || st->has_fused)
    return PL_DIALECT_LEGACY;
  if (st->has_w)
    return PL_DIALECT_LEGACY;
  return PL_DIALECT_CURRENT;
}

/* Maps a raw cell in place. Returns 0, or -1 with why set. */
int pl__act_map(pl_pt_action *a, int dialect, char *why, size_t wl)
{
  if (a->type == PL_PT_IDLE)
    return 0;
  if (a->type == PL_PT_SEND_F_RECV_B || a->type == PL_PT_SEND_B_RECV_F) {
    if (dialect != PL_DIALECT_LEGACY) {
      snprintf(why, wl, "fused %s exists only in the legacy dialect (use "
               "--dialect legacy, or separate SEND and RECV cells)",
               pl_pt_type_name(a->type));
      return -1;
    }
    a->sub[0].type = map_raw(a->sub[0].type, dialect);
    a->sub[1].type = map_raw(a->sub[1].type, dialect);
    return 0;
  }
  pl_pt_act one = {a->type < 0 ? -1 - a->type : PL__RAW_NONE, a->stage, a->mb};
  pl_pt_act *parts = a->n_sub ? a->sub : &one;
  int np = a->n_sub ? a->n_sub : 1;
  for (int k = 0; k < np; k++) {
    int raw = parts[k].type, t = map_raw(raw, dialect);
    if (t < 0) {
      if (raw == PL__RAW_I)
        snprintf(why, wl, "I (input backward) does not exist in the legacy "
                 "dialect, where B is the input backward (use --dialect "
                 "current)");
      else
        snprintf(why, wl, "BW (full backward) exists only in the legacy "
                 "dialect; the current dialect writes it B (use --dialect "
                 "legacy if B means input backward in this file)");
      return -1;
    }
    parts[k].type = t;
  }
  if (!a->n_sub)
    a->type = one.type;
  return 0;
}


/* Converts a compute cell to an op: 1 compute, 0 nothing to run, -1 a
 * compound that is not F plus I/B. */
int pl__act_to_op(const pl_pt_action *a, pl_op *op)
{
  pl_op z = PL_OP_INIT;
  *op = z;
  switch (a->type) {
  case PL_PT_F: op->kind = PL_OP_F; break;
  case PL_PT_I: op->kind = PL_OP_B; break;
  case PL_PT_W: op->kind = PL_OP_W; break;
  case PL_PT_B: op->kind = PL_OP_BW; break;
  case PL_PT_OVERLAP_F_B: {
    int fi = a->sub[0].type == PL_PT_F ? 0 : 1;
    const pl_pt_act *f = &a->sub[fi], *b = &a->sub[1 - fi];
    if (f->type != PL_PT_F || (b->type != PL_PT_I && b->type != PL_PT_B))
      return -1;
    op->kind = PL_OP_FB;
    op->stage = (int16_t)f->stage;
    op->mb = f->mb;
    op->stage2 = (int16_t)b->stage;
    op->mb2 = b->mb;
    op->kind2 = b->type == PL_PT_I ? PL_OP_B : PL_OP_BW;
    return 1;
  }
  default: return 0;
  }
  op->stage = (int16_t)a->stage;
  op->mb = a->mb;
  return 1;
}

/* ---------------------------------------------------- one action --- */

int pl_action_parse(const char *cell, size_t len, int dialect, pl_op *op,
                    struct pl_errbuf *eb)
{
  char why[320], text[48];
  pl_pt_action a;
  pl_op z = PL_OP_INIT;
  *op = z;
  if (!cell)
    len = 0;
  while (len && pl__act_is_space(cell[0])) {
    cell++;
    len--;
  }
  while (len && pl__act_is_space(cell[len - 1]))
    len--;
  if (len == 0)
    return pl_errf(eb, PL_EPARSE, "empty action");
  pl__act_show(cell, len, text, sizeof text);
  if (pl__act_parse(cell, len, &a, why, sizeof why))
    return pl_errf(eb, PL_EPARSE, "'%s': %s", text, why);
  if (dialect == PL_DIALECT_AUTO) {
    struct pl__act_seen st = {0, 0, 0, 0};
    pl__act_note(&a, &st);
    dialect = pl__act_dialect(&st);
  }
  if (pl__act_map(&a, dialect, why, sizeof why))
    return pl_errf(eb, PL_EPARSE, "'%s': %s", text, why);
  int k = pl__act_to_op(&a, op);
  if (k < 0)
    return pl_errf(eb, PL_EPARSE, "'%s': OVERLAP_F_B must pair one F with one "
                   "I or B", text);
  return k;
}

int pl_csv_parse_action(const char *cell, size_t len, int dialect, pl_op *op,
                        struct pl_errbuf *eb)
{
  return pl_action_parse(cell, len, dialect, op, eb);
}
