/* sched.c: the schedule IR (ordered op list per rank plus stage placement). */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

const char *pl_op_kind_name(int kind)
{
  static const char *names[] = {"F", "B", "W", "BW", "FB"};
  return kind >= 0 && kind < PL_OP_NKINDS ? names[kind] : "?";
}

const char *pl_placement_name(int placement)
{
  switch (placement) {
  case PL_PLACE_SINGLE: return "single";
  case PL_PLACE_LOOP: return "loop";
  case PL_PLACE_V: return "v";
  default: return "custom";
  }
}

int pl_op_format(const pl_op *op, char *buf, size_t len)
{
  int n;
  if (op->kind == PL_OP_FB)
    n = snprintf(buf, len, "F%ds%d&%s%ds%d", op->mb, op->stage,
                 pl_op_kind_name(op->kind2), op->mb2, op->stage2);
  else
    n = snprintf(buf, len, "%s%ds%d", pl_op_kind_name(op->kind), op->mb,
                 op->stage);
  return n < 0 || (size_t)n >= len ? PL_EINVAL : PL_OK;
}

int pl__placement_rank(int placement, int p, int n_stages, int stage)
{
  switch (placement) {
  case PL_PLACE_V: {
    /* Waves: segment k = stage / p runs down the ranks when even, up when
     * odd (docs/architecture.md, placement). */
    int k = stage / p, q = stage % p;
    return (k % 2 == 0) ? q : p - 1 - q;
  }
  case PL_PLACE_SINGLE:
  case PL_PLACE_LOOP:
  default:
    (void)n_stages;
    return stage % p;
  }
}

void pl__sched_update_chunks(pl_sched *s)
{
  /* Local chunk index = order of the stage among its rank's stages. */
  for (int r = 0; r < s->p; r++) {
    int c = 0;
    for (int g = 0; g < s->n_stages; g++)
      if (s->stage_rank[g] == r)
        s->stage_chunk[g] = c++;
  }
}

int pl_sched_create(int p, int n_stages, int m, int placement, pl_sched **out,
                    struct pl_errbuf *eb)
{
  *out = NULL;
  if (p < 1 || p > 32767)
    return pl_errf(eb, PL_EINVAL, "ranks must be between 1 and 32767, got %d", p);
  if (n_stages < p || n_stages > 32767)
    return pl_errf(eb, PL_EINVAL,
                   "stages must be at least the ranks (%d) and at most 32767, got %d",
                   p, n_stages);
  if (m < 1)
    return pl_errf(eb, PL_EINVAL, "microbatches must be at least 1, got %d", m);
  if (placement == PL_PLACE_CUSTOM)
    placement = PL_PLACE_LOOP;
  pl_sched *s = pl_calloc(1, sizeof *s);
  if (!s)
    goto fail;
  s->p = p;
  s->n_stages = n_stages;
  s->m = m;
  s->placement = placement;
  s->pipe_len = n_stages;
  s->stage_rank = pl_calloc((size_t)n_stages, sizeof *s->stage_rank);
  s->stage_chunk = pl_calloc((size_t)n_stages, sizeof *s->stage_chunk);
  s->ranks = pl_calloc((size_t)p, sizeof *s->ranks);
  if (!s->stage_rank || !s->stage_chunk || !s->ranks)
    goto fail;
  for (int g = 0; g < n_stages; g++)
    s->stage_rank[g] = pl__placement_rank(placement, p, n_stages, g);
  pl__sched_update_chunks(s);
  *out = s;
  return PL_OK;
fail:
  pl_sched_destroy(s);
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

void pl_sched_destroy(pl_sched *s)
{
  if (!s)
    return;
  if (s->ranks)
    for (int r = 0; r < s->p; r++)
      if (!s->ranks[r].in_slab)
        pl_free(s->ranks[r].ops);
  pl_free(s->slab);
  pl_free(s->ranks);
  pl_free(s->stage_rank);
  pl_free(s->stage_chunk);
  pl_free(s->replica_rank);
  pl_free(s->mb_pipe);
  pl_free(s);
}

int pl_sched_set_stage_rank(pl_sched *s, int stage, int rank)
{
  if (stage < 0 || stage >= s->n_stages || rank < 0 || rank >= s->p)
    return PL_EINVAL;
  s->stage_rank[stage] = rank;
  s->placement = PL_PLACE_CUSTOM;
  pl__sched_update_chunks(s);
  return PL_OK;
}

void pl_sched_detect_placement(pl_sched *s)
{
  static const int cand[] = {PL_PLACE_LOOP, PL_PLACE_V};
  s->placement = PL_PLACE_CUSTOM;
  for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
    int ok = 1;
    for (int g = 0; g < s->n_stages && ok; g++)
      ok = s->stage_rank[g] == pl__placement_rank(cand[i], s->p, s->n_stages, g);
    if (ok) {
      s->placement = (cand[i] == PL_PLACE_LOOP && s->n_stages == s->p)
                         ? PL_PLACE_SINGLE
                         : cand[i];
      return;
    }
  }
}

int pl_sched_push(pl_sched *s, int rank, pl_op op)
{
  if (rank < 0 || rank >= s->p)
    return PL_EINVAL;
  struct pl_rank_list *l = &s->ranks[rank];
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    pl_op *p;
    if (l->in_slab) { /* outgrew its part of the slab: move out */
      if ((p = pl_malloc(cap * sizeof *p)) != NULL)
        memcpy(p, l->ops, l->n * sizeof *p);
    } else {
      p = pl_realloc(l->ops, cap * sizeof *p);
    }
    if (!p)
      return PL_ENOMEM;
    l->ops = p;
    l->cap = cap;
    l->in_slab = 0;
  }
  l->ops[l->n++] = op;
  return PL_OK;
}

int pl__sched_reserve(pl_sched *s, size_t per_rank)
{
  size_t p = (size_t)s->p;
  if (s->slab)
    return PL_EINVAL;
  for (size_t r = 0; r < p; r++)
    if (s->ranks[r].n)
      return PL_EINVAL;
  if (per_rank == 0)
    return PL_OK;
  /* Each rank's part starts an odd number of 64-byte lines after the
   * previous one: the engine reads all ranks' lists in turns, and parts
   * whose length is a multiple of 4 KiB would map every rank's current
   * line to the same cache set. */
  const size_t line = 64 / sizeof(pl_op);
  if (per_rank > SIZE_MAX / sizeof(pl_op) / p - 2 * line)
    return PL_ENOMEM;
  size_t stride = (per_rank + line - 1) / line * line;
  if ((stride / line) % 2 == 0)
    stride += line;
  size_t bytes = p * stride * sizeof(pl_op);
  pl_op *slab = pl_malloc(bytes);
  if (!slab)
    return PL_ENOMEM;
  pl_mem_hint_huge(slab, bytes);
  for (size_t r = 0; r < p; r++) {
    struct pl_rank_list *l = &s->ranks[r];
    pl_free(l->ops);
    l->ops = slab + r * stride;
    l->cap = stride;
    l->in_slab = 1;
  }
  s->slab = slab;
  return PL_OK;
}

int pl_sched_push3(pl_sched *s, int rank, int kind, int stage, int mb)
{
  pl_op op = PL_OP_INIT;
  op.kind = (uint8_t)kind;
  op.stage = (int16_t)stage;
  op.mb = mb;
  return pl_sched_push(s, rank, op);
}

void pl_sched_set_name(pl_sched *s, const char *name)
{
  snprintf(s->name, sizeof s->name, "%s", name ? name : "");
}

const char *pl_sched_name(const pl_sched *s) { return s->name; }
int pl_sched_ranks(const pl_sched *s) { return s->p; }
int pl_sched_stages(const pl_sched *s) { return s->n_stages; }
int pl_sched_microbatches(const pl_sched *s) { return s->m; }
int pl_sched_chunks(const pl_sched *s) { return s->n_stages / s->p; }
int pl_sched_placement(const pl_sched *s) { return s->placement; }

int pl_sched_stage_rank(const pl_sched *s, int stage)
{
  return stage >= 0 && stage < s->n_stages ? s->stage_rank[stage] : -1;
}

int pl_sched_stage_chunk(const pl_sched *s, int stage)
{
  return stage >= 0 && stage < s->n_stages ? s->stage_chunk[stage] : -1;
}

const pl_op *pl_sched_rank_ops(const pl_sched *s, int rank, size_t *n)
{
  if (rank < 0 || rank >= s->p) {
    *n = 0;
    return NULL;
  }
  *n = s->ranks[rank].n;
  return s->ranks[rank].ops;
}

size_t pl_sched_total_ops(const pl_sched *s)
{
  size_t t = 0;
  for (int r = 0; r < s->p; r++)
    t += s->ranks[r].n;
  return t;
}

int pl_sched_clone(const pl_sched *s, pl_sched **out)
{
  pl_sched *c;
  int rc = pl_sched_create(s->p, s->n_stages, s->m, PL_PLACE_LOOP, &c, NULL);
  if (rc)
    return rc;
  c->placement = s->placement;
  memcpy(c->name, s->name, sizeof c->name);
  memcpy(c->stage_rank, s->stage_rank, (size_t)s->n_stages * sizeof(int));
  memcpy(c->stage_chunk, s->stage_chunk, (size_t)s->n_stages * sizeof(int));
  c->pipe_len = s->pipe_len;
  if (s->replica_rank) {
    c->replica_rank = pl_malloc((size_t)s->n_stages * sizeof(int));
    c->mb_pipe = pl_malloc((size_t)s->m);
    if (!c->replica_rank || !c->mb_pipe) {
      pl_sched_destroy(c);
      return PL_ENOMEM;
    }
    memcpy(c->replica_rank, s->replica_rank, (size_t)s->n_stages * sizeof(int));
    memcpy(c->mb_pipe, s->mb_pipe, (size_t)s->m);
  }
  for (int r = 0; r < s->p; r++)
    for (size_t i = 0; i < s->ranks[r].n; i++)
      if ((rc = pl_sched_push(c, r, s->ranks[r].ops[i])) != 0) {
        pl_sched_destroy(c);
        return rc;
      }
  *out = c;
  return PL_OK;
}

/* ----------------------------------------------------- replicated stages */

static int ensure_replicas(pl_sched *s)
{
  if (s->replica_rank)
    return PL_OK;
  s->replica_rank = pl_malloc((size_t)s->n_stages * sizeof(int));
  s->mb_pipe = pl_calloc((size_t)s->m, 1);
  if (!s->replica_rank || !s->mb_pipe) {
    pl_free(s->replica_rank);
    pl_free(s->mb_pipe);
    s->replica_rank = NULL;
    s->mb_pipe = NULL;
    return PL_ENOMEM;
  }
  for (int g = 0; g < s->n_stages; g++)
    s->replica_rank[g] = -1;
  return PL_OK;
}

int pl_sched_set_replica(pl_sched *s, int stage, int rank)
{
  if (stage < 0 || stage >= s->n_stages || rank < 0 || rank >= s->p)
    return PL_EINVAL;
  int rc = ensure_replicas(s);
  if (rc)
    return rc;
  s->replica_rank[stage] = rank;
  return PL_OK;
}

int pl_sched_replica_rank(const pl_sched *s, int stage)
{
  if (!s->replica_rank || stage < 0 || stage >= s->n_stages)
    return -1;
  return s->replica_rank[stage];
}

int pl_sched_set_mb_pipe(pl_sched *s, int mb, int pipe)
{
  if (mb < 0 || mb >= s->m || pipe < 0 || pipe > 1)
    return PL_EINVAL;
  int rc = ensure_replicas(s);
  if (rc)
    return rc;
  s->mb_pipe[mb] = (unsigned char)pipe;
  return PL_OK;
}

int pl_sched_mb_pipe(const pl_sched *s, int mb)
{
  if (!s->mb_pipe || mb < 0 || mb >= s->m)
    return 0;
  return s->mb_pipe[mb];
}

int pl_sched_replicated(const pl_sched *s)
{
  if (!s->replica_rank)
    return 0;
  for (int g = 0; g < s->n_stages; g++)
    if (s->replica_rank[g] >= 0)
      return 1;
  return 0;
}

int pl_sched_op_rank(const pl_sched *s, int stage, int mb)
{
  if (stage < 0 || stage >= s->n_stages)
    return -1;
  if (s->mb_pipe && mb >= 0 && mb < s->m && s->mb_pipe[mb])
    return s->replica_rank[stage];
  return s->stage_rank[stage];
}

int pl__sched_expand(const pl_sched *s, pl_sched **out)
{
  const int S = s->n_stages;
  pl_sched *e;
  *out = NULL;
  if (2 * S > 32767)
    return PL_EINVAL;
  int rc = pl_sched_create(s->p, 2 * S, s->m, PL_PLACE_LOOP, &e, NULL);
  if (rc)
    return rc;
  e->placement = PL_PLACE_CUSTOM;
  e->pipe_len = S;
  memcpy(e->name, s->name, sizeof e->name);
  for (int g = 0; g < S; g++) {
    e->stage_rank[g] = s->stage_rank[g];
    e->stage_rank[S + g] =
        s->replica_rank && s->replica_rank[g] >= 0 ? s->replica_rank[g]
                                                   : s->stage_rank[g];
  }
  pl__sched_update_chunks(e);
  for (int r = 0; r < s->p; r++)
    for (size_t i = 0; i < s->ranks[r].n; i++) {
      pl_op op = s->ranks[r].ops[i];
      if (op.mb >= 0 && op.mb < s->m && pl_sched_mb_pipe(s, op.mb))
        op.stage = (int16_t)(op.stage + S);
      if (op.kind == PL_OP_FB && op.mb2 >= 0 && op.mb2 < s->m &&
          pl_sched_mb_pipe(s, op.mb2))
        op.stage2 = (int16_t)(op.stage2 + S);
      if ((rc = pl_sched_push(e, r, op)) != 0) {
        pl_sched_destroy(e);
        return rc;
      }
    }
  *out = e;
  return PL_OK;
}
