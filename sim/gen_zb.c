/* gen_zb.c: zero-bubble and V-shaped generators (issue 3). Placeholder until
 * that issue lands: each returns PL_ENOTSUP with a clear message. */
#include "pipelab/pipelab.h"

#define PL__ZB_STUB(fn, name)                                               \
  int fn(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb)     \
  {                                                                         \
    (void)gp;                                                               \
    *out = NULL;                                                            \
    return pl_errf(eb, PL_ENOTSUP, "schedule '%s' is not implemented yet",  \
                   name);                                                   \
  }
PL__ZB_STUB(pl_gen_zb_h1, "zb-h1")
PL__ZB_STUB(pl_gen_zb_h2, "zb-h2")
PL__ZB_STUB(pl_gen_zb_auto, "zb-auto")
PL__ZB_STUB(pl_gen_zb_v, "zb-v")
PL__ZB_STUB(pl_gen_v_half, "v-half")
PL__ZB_STUB(pl_gen_v_min, "v-min")
