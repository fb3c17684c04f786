/* gen.c: the table of named schedule generators. Adding a schedule is one
 * row here plus its generator function (git's builtin table idea). */
#include <strings.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

static const pl_gen_info gens[] = {
  {"gpipe", "GPipe fill-drain: all forwards, then all full backwards", 1,
   PL_PLACE_SINGLE, pl_gen_gpipe, 0},
  {"1f1b", "1F1B (PipeDream-Flush): warm-up forwards, then one F one BW", 1,
   PL_PLACE_SINGLE, pl_gen_1f1b, 0},
  {"interleaved", "Megatron interleaved 1F1B, v chunks per rank (m % p == 0)",
   2, PL_PLACE_LOOP, pl_gen_interleaved, PL_GEN_USES_GROUP},
  {"zb-h1", "Zero Bubble H1: 1F1B memory, W deferred to fill the cool-down", 1,
   PL_PLACE_SINGLE, pl_gen_zb_h1, 0},
  {"zb-h2", "Zero Bubble H2: 2x warm-up, zero bubble on the span (m >= 2p)", 1,
   PL_PLACE_SINGLE, pl_gen_zb_h2, 0},
  {"zb-auto", "Zero Bubble automatic scheduler under --mem-limit", 1,
   PL_PLACE_SINGLE, pl_gen_zb_auto,
   PL_GEN_USES_COSTS | PL_GEN_USES_MEM_LIMIT},
  {"zb-1p", "ZB-1p: zb-auto with the limit fixed at p units (1F1B memory)", 1,
   PL_PLACE_SINGLE, pl__gen_zb_1p, PL_GEN_USES_COSTS},
  {"zb-2p", "ZB-2p: zb-auto with the limit fixed at 2p units", 1,
   PL_PLACE_SINGLE, pl__gen_zb_2p, PL_GEN_USES_COSTS},
  {"zb-v", "ZB-V: V placement, 1F1B memory, zero bubble for m >= 2p", 2,
   PL_PLACE_V, pl_gen_zb_v, PL_GEN_USES_COSTS | PL_GEN_USES_MEM_LIMIT},
  {"v-half", "V-Half: V placement, half of 1F1B's activation memory", 2,
   PL_PLACE_V, pl_gen_v_half, 0},
  {"v-min", "V-Min: V placement, a third of 1F1B's activation memory", 2,
   PL_PLACE_V, pl_gen_v_min, 0},
  {"dualpipev", "DualPipeV (PyTorch): V placement, fused F&B ops (m >= 2p)",
   2, PL_PLACE_V, pl_gen_dualpipev, 0},
  {"interleaved-zb", "PyTorch interleaved zero bubble (ZB1P) over v chunks", 2,
   PL_PLACE_LOOP, pl_gen_interleaved_zb, 0},
  {"interleaved-relaxed",
   "PyTorch interleaved 1F1B: m % p != 0 and m < p allowed", 2,
   PL_PLACE_LOOP, pl_gen_interleaved_relaxed, 0},
  {"looped-bfs", "PyTorch looped BFS: all forwards chunk by chunk then backwards",
   2, PL_PLACE_LOOP, pl_gen_looped_bfs, 0},
  {"zbv-pytorch", "PyTorch's fixed ZB-V pattern (zb-v is the greedy one)", 2,
   PL_PLACE_V, pl_gen_zbv_pytorch, 0},
  {"hanayo", "Hanayo: wave-like placement, --waves W (2W chunks per rank)",
   4, PL_PLACE_V, pl_gen_hanayo, 0},
  {"chimera", "Chimera: two 1F1B pipelines in opposite directions, weights "
   "duplicated", 1, PL_PLACE_SINGLE, pl_gen_chimera, 0},
  {"dualpipe", "DualPipe (DeepSeek-V3): bidirectional, fused F&B, weights "
   "duplicated", 1, PL_PLACE_SINGLE, pl_gen_dualpipe, 0},
  {NULL, NULL, 0, 0, NULL, 0}};

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

int pl_gen_placement(const char *name, int v)
{
  if (v <= 1)
    return PL_PLACE_SINGLE;
  const pl_gen_info *gi = pl_gen_find(name);
  return gi && gi->placement != PL_PLACE_SINGLE ? gi->placement
                                                 : PL_PLACE_LOOP;
}
