/* sched_int.h: the schedule handle's layout, shared by the sim/ sources. */
#ifndef PL_SCHED_INT_H
#define PL_SCHED_INT_H
#include "pipelab/pipelab.h"

struct pl_rank_list {
  pl_op *ops;    /* own allocation, or a part of the schedule's slab */
  size_t n, cap;
  int in_slab;   /* ops lies in pl_sched.slab (not freed on its own) */
};

struct pl_sched {
  int p, n_stages, m, placement;
  char name[64];
  int *stage_rank;  /* [n_stages] */
  int *stage_chunk; /* [n_stages] local chunk index on its rank */
  struct pl_rank_list *ranks; /* [p] */
  /* One block holding every rank's list (pl__sched_reserve), or NULL. A
   * list that outgrows its part moves to its own allocation. */
  pl_op *slab;
  /* Replicated stages (bidirectional schedules): replica_rank[g] is the
   * rank holding the second copy of stage g (NULL when no stage has one);
   * mb_pipe[mb] is 1 when microbatch mb runs through the copies. */
  int *replica_rank;   /* [n_stages] or NULL */
  unsigned char *mb_pipe; /* [m] or NULL */
  /* Stages per pipeline: n_stages, except in the engine's expanded form of
   * a replicated schedule (two pipelines of n_stages / 2 stages each). */
  int pipe_len;
};

/* pl_sched_validate always through its sorting path (the one a sparse
 * schedule takes), for tests that compare it with the dense path. */
int pl__sched_validate_sorted(const pl_sched *s, struct pl_errbuf *eb);
/* The expanded form of a replicated schedule: 2S stages, stage S + g the
 * copy of stage g, each op renumbered by its microbatch's pipeline;
 * pipe_len = S. *out owned by the caller. */
int pl__sched_expand(const pl_sched *s, pl_sched **out);

/* Reserves room for per_rank ops on every rank in one block (huge pages
 * where the system has them), before the first push: generators that know
 * their op counts fill it without reallocations. PL_ENOMEM (nothing
 * reserved) or PL_EINVAL when a list is not empty. */
int pl__sched_reserve(pl_sched *s, size_t per_rank);

/* pl_sched_push for the generators' loops: inline while the list has
 * room. */
static inline int pl__sched_push_op(pl_sched *s, int rank, int kind,
                                    int stage, int mb)
{
  struct pl_rank_list *l = &s->ranks[rank];
  pl_op op = PL_OP_INIT;
  op.kind = (uint8_t)kind;
  op.stage = (int16_t)stage;
  op.mb = mb;
  if (l->n < l->cap) {
    l->ops[l->n++] = op;
    return PL_OK;
  }
  return pl_sched_push(s, rank, op);
}

/* Copies every setting of src (rank speeds, transfers, runtime, jitter,
 * sources, units) into dst, a table of its own stages (allocated by
 * pl_costs_create) with src's number of ranks; dst's stage costs are left
 * alone. For a table that must differ from src only in its stages. */
void pl__costs_copy_settings(pl_costs *dst, const pl_costs *src);

/* Recomputes stage_chunk from stage_rank. */
void pl__sched_update_chunks(pl_sched *s);
/* Rank of a stage under a named placement. */
int pl__placement_rank(int placement, int p, int n_stages, int stage);

/* Zero-bubble family (gen_zb.c, zb_auto.c, gen_v.c). */
/* PL_EINVAL unless gp->v == want and p, m are usable by the named schedule. */
int pl__zb_check_chunks(const pl_gen_params *gp, int want, const char *name,
                        struct pl_errbuf *eb);
/* Common checks of the V generators (2 chunks, costs, limit); *lim gets
 * the activation limit in units of M_B (gp->mem_limit or p). */
int pl__v_check(const pl_gen_params *gp, const char *name, double *lim,
                struct pl_errbuf *eb);
/* zb-auto with the limit fixed at p (ZB-1p) or 2p (ZB-2p) units. */
int pl__gen_zb_1p(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb);
int pl__gen_zb_2p(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb);
#endif
