/* sched_int.h: the schedule handle's layout, shared by the sim/ sources. */
#ifndef PL_SCHED_INT_H
#define PL_SCHED_INT_H
#include "pipelab/pipelab.h"

struct pl_rank_list {
  pl_op *ops;
  size_t n, cap;
};

struct pl_sched {
  int p, n_stages, m, placement;
  char name[64];
  int *stage_rank;  /* [n_stages] */
  int *stage_chunk; /* [n_stages] local chunk index on its rank */
  struct pl_rank_list *ranks; /* [p] */
};

/* Recomputes stage_chunk from stage_rank. */
void pl__sched_update_chunks(pl_sched *s);
/* Rank of a stage under a named placement. */
int pl__placement_rank(int placement, int p, int n_stages, int stage);
#endif
