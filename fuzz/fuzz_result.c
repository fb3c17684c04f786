/* fuzz_result.c: libFuzzer target for the result reader: result files
 * (--save) and pipelab Chrome traces (--trace), read back by compare and
 * plot (traces/result_read.c). Whatever is accepted must be written back
 * and read again into the same result (fuzz/roundtrip.h), and its
 * cross-rank edges (what compare and the trace writer use) listed. A result
 * file is also a profile (`calibrate --from`, `simulate --costs-from`):
 * what it accepts is learned from (models/learn.c), and what is learned
 * prices a schedule of the profile's shape that is then simulated. */
#include <stdint.h>

#include "pipelab/models.h"
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void refused(int rc, const struct pl_errbuf *eb)
{
  if (rc && !eb->msg[0]) {
    fprintf(stderr, "refused without a message (%d)\n", rc);
    abort();
  }
}

/* The profile path: learn, price 1F1B at the profile's p, simulate. */
static void learn(const char *data, size_t size)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  json_error_t je;
  json_t *j = json_loadb(data, size, 0, &je);
  pl_result r = PL_RESULT_INIT;
  if (!j)
    return;
  int rc = json_is_object(j) && json_object_get(j, "traceEvents")
               ? pl_result_from_chrome(j, &r, &eb)
               : pl_result_from_json(j, &r, &eb);
  json_decref(j);
  if (rc)
    return;
  const pl_result *it[1] = {&r};
  pl_learn_opts lo = PL_LEARN_OPTS_INIT;
  pl_learned *l = NULL;
  eb.msg[0] = 0;
  rc = pl_learn_fit(it, 1, &lo, &l, &eb);
  refused(rc, &eb);
  if (!rc) {
    if (!(l->gap.median >= 0) || !(l->comm.median >= 0) ||
        !(l->msg.median >= 0) || !(l->latency >= 0)) {
      fprintf(stderr, "learned a negative or NaN time\n");
      abort();
    }
    pl_gen_params gp = PL_GEN_PARAMS_INIT;
    gp.p = l->ranks;
    gp.m = l->ranks;
    pl_sched *s = NULL;
    pl_costs *c = NULL;
    pl_result out = PL_RESULT_INIT;
    int split = 0;
    if (l->ranks >= 1 && l->ranks <= 64 &&
        !pl_sched_gen("1f1b", &gp, &s, &eb)) {
      eb.msg[0] = 0;
      rc = pl_costs_create(pl_sched_stages(s), l->ranks, &c);
      if (!rc)
        rc = pl_learned_apply(l, s, c, &split, &eb);
      if (!rc)
        rc = pl_sim_run(s, c, 0, &out, &eb);
      if (rc != PL_ENOMEM)
        refused(rc, &eb);
    }
    pl_result_free(&out);
    pl_costs_destroy(c);
    pl_sched_destroy(s);
  }
  pl_learned_free(l);
  pl_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char why[512];
  if (rt_result_text((const char *)data, size, why, sizeof why)) {
    fprintf(stderr, "round trip: %s\n", why);
    abort();
  }
  learn((const char *)data, size);
  return 0;
}
