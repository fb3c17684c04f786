/* validate.c: schedule validation (op counts, per-(stage, microbatch) order,
 * ownership) and deadlock detection. The deadlock check reuses the engine on
 * a zero-cost table: order, not time, decides whether a schedule finishes. */
#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

/* Per (stage, mb) bookkeeping: position (rank list index + 1) of each part,
 * 0 = absent. Positions on one rank are comparable because a stage lives on
 * exactly one rank. */
struct seen {
  int32_t f, b, w, bw;
};

static int check_part(const pl_sched *s, int r, size_t i, int kind, int g,
                      int mb, struct seen *tab, struct pl_errbuf *eb)
{
  char name[48];
  snprintf(name, sizeof name, "%s%ds%d", pl_op_kind_name(kind), mb, g);
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
  if (s->stage_rank[g] != r)
    return pl_errf(eb, PL_EINVALSCHED,
                   "rank %d position %zu: %s runs stage %d, which is placed "
                   "on rank %d",
                   r, i, name, g, s->stage_rank[g]);
  struct seen *e = &tab[(size_t)g * (size_t)s->m + (size_t)mb];
  int32_t *slot = kind == PL_OP_F   ? &e->f
                  : kind == PL_OP_B ? &e->b
                  : kind == PL_OP_W ? &e->w
                                    : &e->bw;
  if (*slot)
    return pl_errf(eb, PL_EINVALSCHED,
                   "rank %d position %zu: %s appears twice (first at "
                   "position %d)",
                   r, i, name, *slot - 1);
  *slot = (int32_t)i + 1;
  return 0;
}

int pl_sched_validate(const pl_sched *s, struct pl_errbuf *eb)
{
  size_t n_keys = (size_t)s->n_stages * (size_t)s->m;
  struct seen *tab = pl_calloc(n_keys ? n_keys : 1, sizeof *tab);
  int rc = 0;
  if (!tab)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  for (int r = 0; r < s->p && !rc; r++) {
    const struct pl_rank_list *l = &s->ranks[r];
    for (size_t i = 0; i < l->n && !rc; i++) {
      const pl_op *op = &l->ops[i];
      if (op->kind == PL_OP_FB) {
        if (op->kind2 != PL_OP_B && op->kind2 != PL_OP_BW) {
          rc = pl_errf(eb, PL_EINVALSCHED,
                       "rank %d position %zu: a fused op's backward part "
                       "must be B or BW",
                       r, i);
          break;
        }
        rc = check_part(s, r, i, PL_OP_F, op->stage, op->mb, tab, eb);
        if (!rc)
          rc = check_part(s, r, i, op->kind2, op->stage2, op->mb2, tab, eb);
      } else if (op->kind <= PL_OP_BW) {
        rc = check_part(s, r, i, op->kind, op->stage, op->mb, tab, eb);
      } else {
        rc = pl_errf(eb, PL_EINVALSCHED, "rank %d position %zu: bad op kind %d",
                     r, i, op->kind);
      }
    }
  }
  for (int g = 0; g < s->n_stages && !rc; g++) {
    int r = s->stage_rank[g];
    for (int mb = 0; mb < s->m && !rc; mb++) {
      const struct seen *e = &tab[(size_t)g * (size_t)s->m + (size_t)mb];
      if (!e->f)
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "stage %d (rank %d) never runs the forward F%ds%d", g, r,
                     mb, g);
      else if (e->bw && (e->b || e->w))
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "stage %d (rank %d) runs microbatch %d both unsplit (BW) "
                     "and split (B/W); use one or the other",
                     g, r, mb);
      else if (!e->bw && !e->b)
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "stage %d (rank %d) never runs a backward (B%ds%d or "
                     "BW%ds%d)",
                     g, r, mb, g, mb, g);
      else if (e->b && !e->w)
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "stage %d (rank %d) runs B%ds%d but never its W%ds%d", g,
                     r, mb, g, mb, g);
      else if (e->w && !e->b)
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "stage %d (rank %d) runs W%ds%d but never its B%ds%d", g,
                     r, mb, g, mb, g);
      else if ((e->b ? e->b : e->bw) < e->f ||
               ((e->b ? e->b : e->bw) == e->f))
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "rank %d runs the backward of microbatch %d on stage %d "
                     "(position %d) before its forward (position %d)",
                     r, mb, g, (e->b ? e->b : e->bw) - 1, e->f - 1);
      else if (e->w && e->w < e->b)
        rc = pl_errf(eb, PL_EINVALSCHED,
                     "rank %d runs W%ds%d (position %d) before B%ds%d "
                     "(position %d)",
                     r, mb, g, e->w - 1, mb, g, e->b - 1);
    }
  }
  pl_free(tab);
  if (rc)
    return rc;

  /* Deadlock: run the engine on zero costs. */
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
