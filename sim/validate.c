/* validate.c: schedule validation (op counts, per-(stage, microbatch) order,
 * ownership) and deadlock detection. The deadlock check reuses the engine on
 * a zero-cost table: order, not time, decides whether a schedule finishes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

/* One part of an op: F, B, W or BW of (stage, mb), at a position of a rank's
 * list. A fused op has two parts. The parts are sorted by (stage, mb, kind,
 * discovery order) instead of being entered in a dense stages x microbatches
 * table, so the memory used follows the number of ops, never the largest
 * microbatch number a file names. Positions on one rank are comparable
 * because a stage lives on exactly one rank. */
struct part {
  int32_t g, mb, kind, pos; /* pos = list index */
  size_t seq;               /* discovery order: rank, then list position */
};

static int cmp_part(const void *pa, const void *pb)
{
  const struct part *a = pa, *b = pb;
#define CMP(f)                                                              \
  if (a->f != b->f)                                                         \
    return a->f < b->f ? -1 : 1;
  CMP(g) CMP(mb) CMP(kind) CMP(seq)
#undef CMP
  return 0;
}

static void part_name(int kind, int g, int mb, char *buf, size_t len)
{
  snprintf(buf, len, "%s%ds%d", pl_op_kind_name(kind), mb, g);
}

/* Range and ownership of one part; 0 or PL_EINVALSCHED. The op's name is
 * formatted only when there is an error to report. */
static int check_part(const pl_sched *s, int r, size_t i, int kind, int g,
                      int mb, struct pl_errbuf *eb)
{
  if (g >= 0 && g < s->n_stages && mb >= 0 && mb < s->m &&
      (s->mb_pipe ? pl_sched_op_rank(s, g, mb) : s->stage_rank[g]) == r)
    return 0;
  char name[48];
  part_name(kind, g, mb, name, sizeof name);
  if (g < 0 || g >= s->n_stages)
    return pl_errf(eb, PL_EINVALSCHED,
                   "rank %d position %zu: %s names stage %d, but the schedule "
                   "has stages 0..%d",
                   r, i, name, g, s->n_stages - 1);
  if (mb < 0 || mb >= s->m)
    return pl_errf(eb, PL_EINVALSCHED,
                   "rank %d position %zu: %s names microbatch %d, but the "
                   "schedule has microbatches 0..%d",
                   r, i, name, mb, s->m - 1);
  int owner = pl_sched_op_rank(s, g, mb);
  return pl_errf(eb, PL_EINVALSCHED,
                 "rank %d position %zu: %s runs stage %d%s, which is placed "
                 "on rank %d",
                 r, i, name, g, pl_sched_mb_pipe(s, mb) ? " (its copy)" : "",
                 owner);
}

/* The positions of the four parts of one (stage, mb), 0 = absent, else
 * position + 1. */
struct seen {
  int32_t f, b, w, bw;
};

/* The order rules of one (stage, mb) on rank r; 0 or PL_EINVALSCHED. */
static int check_key(int g, int r, int mb, const struct seen *e,
                     struct pl_errbuf *eb)
{
  if (!e->f)
    return pl_errf(eb, PL_EINVALSCHED,
                   "stage %d (rank %d) never runs the forward F%ds%d", g, r,
                   mb, g);
  if (e->bw && (e->b || e->w))
    return pl_errf(eb, PL_EINVALSCHED,
                   "stage %d (rank %d) runs microbatch %d both unsplit (BW) "
                   "and split (B/W); use one or the other",
                   g, r, mb);
  if (!e->bw && !e->b)
    return pl_errf(eb, PL_EINVALSCHED,
                   "stage %d (rank %d) never runs a backward (B%ds%d or "
                   "BW%ds%d)",
                   g, r, mb, g, mb, g);
  if (e->b && !e->w)
    return pl_errf(eb, PL_EINVALSCHED,
                   "stage %d (rank %d) runs B%ds%d but never its W%ds%d", g,
                   r, mb, g, mb, g);
  if (e->w && !e->b)
    return pl_errf(eb, PL_EINVALSCHED,
                   "stage %d (rank %d) runs W%ds%d but never its B%ds%d", g,
                   r, mb, g, mb, g);
  int back = e->b ? e->b : e->bw;
  if (back <= e->f)
    return pl_errf(eb, PL_EINVALSCHED,
                   "rank %d runs the backward of microbatch %d on stage %d "
                   "(position %d) before its forward (position %d)",
                   r, mb, g, back - 1, e->f - 1);
  if (e->w && e->w < e->b)
    return pl_errf(eb, PL_EINVALSCHED,
                   "rank %d runs W%ds%d (position %d) before B%ds%d "
                   "(position %d)",
                   r, mb, g, e->w - 1, mb, g, e->b - 1);
  return 0;
}

/* The parts of op (one, two for a fused op) into kinds/gs/mbs; the count, or
 * -1 with the error in eb for a bad kind. */
static int op_parts(const pl_op *op, int r, size_t i, int kinds[2], int gs[2],
                    int mbs[2], struct pl_errbuf *eb)
{
  kinds[0] = op->kind;
  gs[0] = op->stage;
  mbs[0] = op->mb;
  if (op->kind == PL_OP_FB) {
    if (op->kind2 != PL_OP_B && op->kind2 != PL_OP_BW) {
      pl_errf(eb, PL_EINVALSCHED,
              "rank %d position %zu: a fused op's backward part must be B or "
              "BW",
              r, i);
      return -1;
    }
    kinds[0] = PL_OP_F;
    kinds[1] = op->kind2;
    gs[1] = op->stage2;
    mbs[1] = op->mb2;
    return 2;
  }
  if (op->kind > PL_OP_BW) {
    pl_errf(eb, PL_EINVALSCHED, "rank %d position %zu: bad op kind %d", r, i,
            op->kind);
    return -1;
  }
  return 1;
}

/* Collects the parts of every op in rank and list order. Stops at the first
 * op with a bad kind, stage, microbatch or owner: its message goes to *bad
 * (rc returned), the parts before it are kept. */
static int collect(const pl_sched *s, struct part *v, size_t *n,
                   struct pl_errbuf *bad)
{
  size_t k = 0;
  int rc = 0;
  for (int r = 0; r < s->p && !rc; r++) {
    const struct pl_rank_list *l = &s->ranks[r];
    for (size_t i = 0; i < l->n && !rc; i++) {
      int kinds[2], gs[2], mbs[2];
      int np = op_parts(&l->ops[i], r, i, kinds, gs, mbs, bad);
      if (np < 0) {
        rc = PL_EINVALSCHED;
        break;
      }
      for (int h = 0; h < np && !rc; h++) {
        rc = check_part(s, r, i, kinds[h], gs[h], mbs[h], bad);
        if (!rc) {
          v[k] = (struct part){gs[h], mbs[h], kinds[h], (int32_t)i, k};
          k++;
        }
      }
    }
  }
  *n = k;
  return rc;
}

/* State of one (stage, mb) in the dense pass: which parts were seen, and
 * whether a backward came before its F or a W before its B on the rank's
 * list (the only order errors; their positions are looked up when
 * reported). */
enum {
  ST_F = 1, ST_B = 2, ST_W = 4, ST_BW = 8, ST_BACK_EARLY = 16, ST_W_EARLY = 32
};

static uint8_t kind_bit(int kind)
{
  return kind == PL_OP_F ? ST_F : kind == PL_OP_B ? ST_B
                                : kind == PL_OP_W ? ST_W : ST_BW;
}

/* Position + 1 of the first part (kind, g, mb) on rank r's list, 0 if none
 * (error path only: a scan of one rank). */
static int32_t find_pos(const pl_sched *s, int r, int kind, int g, int mb)
{
  const struct pl_rank_list *l = &s->ranks[r];
  for (size_t i = 0; i < l->n; i++) {
    int kinds[2], gs[2], mbs[2];
    int np = op_parts(&l->ops[i], r, i, kinds, gs, mbs, NULL);
    for (int h = 0; h < np; h++)
      if (kinds[h] == kind && gs[h] == g && mbs[h] == mb)
        return (int32_t)i + 1;
  }
  return 0;
}

/* Validation over a dense stages x microbatches table of one state byte per
 * (stage, mb), when that table is no larger than a few entries per op
 * (every generated schedule): one pass in rank and list order finds the
 * first bad part or the first repeat (the same one the sorting path
 * reports), then every (stage, mb) is checked in order. Positions are
 * looked up and text is formatted only for the error that is reported. */
static int validate_dense(const pl_sched *s, uint8_t *t, struct pl_errbuf *eb)
{
  size_t m = (size_t)s->m;
  /* Locals: the table's byte stores could alias any field read here. */
  const unsigned n_stages = (unsigned)s->n_stages, um = (unsigned)s->m;
  const int *srank = s->stage_rank;
  const int plain = s->mb_pipe == NULL;
  /* The state after a part of kind k (F, B, W, BW) in state v, 0 for a
   * repeat (the general path reports it). */
  uint8_t next[PL_OP_BW + 1][64];
  for (int k = 0; k <= PL_OP_BW; k++)
    for (int v = 0; v < 64; v++) {
      uint8_t bit = kind_bit(k), nv = (uint8_t)(v | bit);
      if ((bit & (ST_B | ST_BW)) && !(v & ST_F))
        nv |= ST_BACK_EARLY;
      if (bit == ST_W && !(v & ST_B))
        nv |= ST_W_EARLY;
      next[k][v] = (v & bit) ? 0 : nv;
    }
  for (int r = 0; r < s->p; r++) {
    const struct pl_rank_list *l = &s->ranks[r];
    const pl_op *ops = l->ops;
    const size_t n = l->n;
    for (size_t i = 0; i < n; i++) {
      /* The common case inline: one part, in range, on its own rank, not
       * seen before. Anything else (an error included) takes the general
       * path below, which reaches the same state or reports. */
      const pl_op *op = &ops[i];
      if (op->kind <= PL_OP_BW && plain && (unsigned)op->stage < n_stages &&
          (unsigned)op->mb < um && srank[op->stage] == r) {
        uint8_t *e = &t[(size_t)op->stage * m + (size_t)op->mb];
        uint8_t nv = next[op->kind][*e];
        if (nv) {
          *e = nv;
          continue;
        }
      }
      int kinds[2], gs[2], mbs[2];
      int np = op_parts(op, r, i, kinds, gs, mbs, eb);
      if (np < 0)
        return PL_EINVALSCHED;
      for (int h = 0; h < np; h++) {
        int rc = check_part(s, r, i, kinds[h], gs[h], mbs[h], eb);
        if (rc)
          return rc;
        uint8_t *e = &t[(size_t)gs[h] * m + (size_t)mbs[h]];
        uint8_t bit = kind_bit(kinds[h]);
        if (*e & bit) {
          char name[48];
          part_name(kinds[h], gs[h], mbs[h], name, sizeof name);
          return pl_errf(eb, PL_EINVALSCHED,
                         "rank %d position %zu: %s appears twice (first at "
                         "position %d)",
                         r, i, name,
                         find_pos(s, r, kinds[h], gs[h], mbs[h]) - 1);
        }
        if ((bit & (ST_B | ST_BW)) && !(*e & ST_F))
          *e |= ST_BACK_EARLY;
        if (bit == ST_W && !(*e & ST_B))
          *e |= ST_W_EARLY;
        *e |= bit;
      }
    }
  }
  for (int g = 0; g < s->n_stages; g++)
    for (size_t mb = 0; mb < m; mb++) {
      uint8_t e = t[(size_t)g * m + mb];
      if (e == (ST_F | ST_BW) || e == (ST_F | ST_B | ST_W))
        continue; /* complete and in order */
      int r = s->mb_pipe ? pl_sched_op_rank(s, g, (int)mb) : s->stage_rank[g];
      struct seen x = {0, 0, 0, 0};
      if (e & ST_F)
        x.f = find_pos(s, r, PL_OP_F, g, (int)mb);
      if (e & ST_B)
        x.b = find_pos(s, r, PL_OP_B, g, (int)mb);
      if (e & ST_W)
        x.w = find_pos(s, r, PL_OP_W, g, (int)mb);
      if (e & ST_BW)
        x.bw = find_pos(s, r, PL_OP_BW, g, (int)mb);
      int rc = check_key(g, r, (int)mb, &x, eb);
      if (rc)
        return rc;
    }
  return 0;
}

static int check_deadlock(const pl_sched *s, struct pl_errbuf *eb);
static int validate(const pl_sched *s, int deadlock, int dense,
                    struct pl_errbuf *eb);

int pl_sched_validate(const pl_sched *s, struct pl_errbuf *eb)
{
  return validate(s, 1, 1, eb);
}

int pl_sched_validate_order(const pl_sched *s, struct pl_errbuf *eb)
{
  return validate(s, 0, 1, eb);
}

int pl__sched_validate_sorted(const pl_sched *s, struct pl_errbuf *eb)
{
  return validate(s, 1, 0, eb);
}

static int validate(const pl_sched *s, int deadlock, int dense,
                    struct pl_errbuf *eb)
{
  /* A microbatch of the second pipeline needs a copy of every stage. */
  for (int mb = 0; s->mb_pipe && mb < s->m; mb++)
    if (s->mb_pipe[mb])
      for (int g = 0; g < s->n_stages; g++)
        if (s->replica_rank[g] < 0)
          return pl_errf(eb, PL_EINVALSCHED,
                         "microbatch %d runs through the stage copies, but "
                         "stage %d has no copy",
                         mb, g);
  size_t n_parts = 0, n = 0;
  for (int r = 0; r < s->p; r++)
    n_parts += 2 * s->ranks[r].n;
  size_t keys = (size_t)(s->n_stages > 0 ? s->n_stages : 0) *
                (size_t)(s->m > 0 ? s->m : 0);
  if (dense && keys && keys <= 8 * n_parts + 65536) {
    uint8_t *t = pl_calloc(keys, sizeof *t);
    if (!t)
      return pl_errf(eb, PL_ENOMEM, "out of memory");
    int rc = validate_dense(s, t, eb);
    pl_free(t);
    return rc || !deadlock ? rc : check_deadlock(s, eb);
  }
  struct part *v = pl_malloc((n_parts ? n_parts : 1) * sizeof *v);
  if (!v)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  struct pl_errbuf bad = PL_ERRBUF_INIT;
  int bad_rc = collect(s, v, &n, &bad), rc = 0;
  qsort(v, n, sizeof *v, cmp_part);
  /* A part seen twice: report the repeat found first in rank order; it
   * comes before any range error (collect stopped there). */
  const struct part *dup = NULL, *first = NULL;
  for (size_t i = 1; i < n; i++)
    if (v[i].g == v[i - 1].g && v[i].mb == v[i - 1].mb &&
        v[i].kind == v[i - 1].kind && (!dup || v[i].seq < dup->seq)) {
      dup = &v[i];
      first = &v[i - 1];
      while (first > v && first[-1].g == dup->g && first[-1].mb == dup->mb &&
             first[-1].kind == dup->kind)
        first--;
    }
  if (dup) {
    char name[48];
    part_name(dup->kind, dup->g, dup->mb, name, sizeof name);
    rc = pl_errf(eb, PL_EINVALSCHED,
                 "rank %d position %d: %s appears twice (first at "
                 "position %d)",
                 pl_sched_op_rank(s, dup->g, dup->mb), dup->pos, name,
                 first->pos);
  } else if (bad_rc) {
    rc = pl_errf(eb, bad_rc, "%s", bad.msg);
  }
  /* Every (stage, mb) in order: its parts are one run of the sorted list,
   * or it has none. */
  size_t i = 0;
  for (int g = 0; g < s->n_stages && !rc; g++)
    for (int mb = 0; mb < s->m && !rc; mb++) {
      struct seen e = {0, 0, 0, 0};
      for (; i < n && v[i].g == g && v[i].mb == mb; i++) {
        int32_t at = v[i].pos + 1;
        switch (v[i].kind) {
        case PL_OP_F: e.f = at; break;
        case PL_OP_B: e.b = at; break;
        case PL_OP_W: e.w = at; break;
        default: e.bw = at;
        }
      }
      rc = check_key(g, pl_sched_op_rank(s, g, mb), mb, &e, eb);
    }
  pl_free(v);
  return rc || !deadlock ? rc : check_deadlock(s, eb);
}

/* Deadlock: run the engine on zero costs. */
static int check_deadlock(const pl_sched *s, struct pl_errbuf *eb)
{
  int rc;
  pl_costs *c = NULL;
  if (pl_costs_create(s->n_stages, s->p, &c))
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  pl_costs_uniform(c, 1, 0, 0, 0, 0, 0);
  pl_result res = PL_RESULT_INIT;
  rc = pl_sim_run(s, c, 0, &res, eb);
  pl_result_free(&res);
  pl_costs_destroy(c);
  return rc;
}
