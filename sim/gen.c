/* gen.c: the table of named schedule generators. Adding a schedule is one
 * row here plus its generator function (git's builtin table idea). */
#include <strings.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

static const pl_gen_info gens[] = {
  {"gpipe", "GPipe fill-drain: all forwards, then all full backwards", 1,
   PL_PLACE_SINGLE, pl_gen_gpipe},
  {"1f1b", "1F1B (PipeDream-Flush): warm-up forwards, then one F one BW", 1,
   PL_PLACE_SINGLE, pl_gen_1f1b},
  {"interleaved", "Megatron interleaved 1F1B, v chunks per rank (m % p == 0)",
   2, PL_PLACE_LOOP, pl_gen_interleaved},
  {"zb-h1", "Zero Bubble H1: 1F1B memory, W deferred to fill the cool-down", 1,
   PL_PLACE_SINGLE, pl_gen_zb_h1},
  {"zb-h2", "Zero Bubble H2: 2x warm-up, zero bubble on the span (m >= 2p)", 1,
   PL_PLACE_SINGLE, pl_gen_zb_h2},
  {"zb-auto", "Zero Bubble automatic scheduler under --mem-limit", 1,
   PL_PLACE_SINGLE, pl_gen_zb_auto},
  {"zb-1p", "ZB-1p: zb-auto with the limit fixed at p units (1F1B memory)", 1,
   PL_PLACE_SINGLE, pl__gen_zb_1p},
  {"zb-2p", "ZB-2p: zb-auto with the limit fixed at 2p units", 1,
   PL_PLACE_SINGLE, pl__gen_zb_2p},
  {"zb-v", "ZB-V: V placement, 1F1B memory, zero bubble for m >= 2p", 2,
   PL_PLACE_V, pl_gen_zb_v},
  {"v-half", "V-Half: V placement, half of 1F1B's activation memory", 2,
   PL_PLACE_V, pl_gen_v_half},
  {"v-min", "V-Min: V placement, a third of 1F1B's activation memory", 2,
   PL_PLACE_V, pl_gen_v_min},
  {"dualpipev", "DualPipeV (PyTorch): V placement, fused F&B ops (m >= 2p)",
   2, PL_PLACE_V, pl_gen_dualpipev},
  {"interleaved-zb", "PyTorch interleaved zero bubble (ZB1P) over v chunks", 2,
   PL_PLACE_LOOP, pl_gen_interleaved_zb},
  {"interleaved-relaxed",
   "PyTorch interleaved 1F1B: m % p != 0 and m < p allowed", 2,
   PL_PLACE_LOOP, pl_gen_interleaved_relaxed},
  {"looped-bfs", "PyTorch looped BFS: all forwards chunk by chunk then backwards",
   2, PL_PLACE_LOOP, pl_gen_looped_bfs},
  {"zbv-pytorch", "PyTorch's fixed ZB-V pattern (zb-v is the greedy one)", 2,
   PL_PLACE_V, pl_gen_zbv_pytorch},
  {NULL, NULL, 0, 0, NULL}};

const pl_gen_info *pl_gen_list(void) { return gens; }

const pl_gen_info *pl_gen_find(const char *name)
{
  if (!name)
    return NULL;
  for (const pl_gen_info *g = gens; g->name; g++)
    if (strcasecmp(g->name, name) == 0)
      return g;
  return NULL;
}

int pl_sched_gen(const char *name, const pl_gen_params *gp, pl_sched **out,
                 struct pl_errbuf *eb)
{
  *out = NULL;
  const pl_gen_info *g = pl_gen_find(name);
  if (!g)
    return pl_errf(eb, PL_EINVAL, "unknown schedule '%s'", name ? name : "");
  if (gp->p < 1)
    return pl_errf(eb, PL_EINVAL, "stages (ranks) must be at least 1, got %d",
                   gp->p);
  if (gp->m < 1)
    return pl_errf(eb, PL_EINVAL, "microbatches must be at least 1, got %d",
                   gp->m);
  pl_gen_params q = *gp;
  if (q.v == 0)
    q.v = g->default_chunks;
  int rc = g->gen(&q, out, eb);
  if (rc == 0)
    pl_sched_set_name(*out, g->name);
  return rc;
}
