/* test_validate.c: pl_sched_validate's two paths (the dense stages x
 * microbatches table every generated schedule takes, and the sorting path of
 * sparse schedules) give the same result and the same message for the same
 * schedule, valid or broken in each way validation knows; and
 * pl_sched_validate_order is pl_sched_validate without the deadlock run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

static const struct {
  const char *csv; /* current dialect: I = B, B = BW */
  int rc;
  const char *msg; /* exact message of both paths, "" when valid */
} cases[] = {
  {"0F0,0F1,0B0,0B1\n", 0, ""},
  {"0F0,0I0,0W0\n1F0,1I0,1W0\n", 0, ""},
  {"0F0,0F0,0B0\n", PL_EINVALSCHED,
   "rank 0 position 1: F0s0 appears twice (first at position 0)"},
  {"0F0,0B0,0F1,0B1,0B0\n", PL_EINVALSCHED,
   "rank 0 position 4: BW0s0 appears twice (first at position 1)"},
  {"0F0,0I0\n", PL_EINVALSCHED,
   "stage 0 (rank 0) runs B0s0 but never its W0s0"},
  {"0F0,0W0\n", PL_EINVALSCHED,
   "stage 0 (rank 0) never runs a backward (B0s0 or BW0s0)"},
  {"0F0,0W0,0B0\n", PL_EINVALSCHED,
   "stage 0 (rank 0) runs microbatch 0 both unsplit (BW) and split (B/W); "
   "use one or the other"},
  {"0F0,0W0,0I0\n", PL_EINVALSCHED,
   "rank 0 runs W0s0 (position 1) before B0s0 (position 2)"},
  {"0B0,0F0\n", PL_EINVALSCHED,
   "rank 0 runs the backward of microbatch 0 on stage 0 (position 0) before "
   "its forward (position 1)"},
  {"0I0,0F0,0W0\n", PL_EINVALSCHED,
   "rank 0 runs the backward of microbatch 0 on stage 0 (position 0) before "
   "its forward (position 1)"},
  {"0F0,0B0,0F2,0B2\n", PL_EINVALSCHED,
   "stage 0 (rank 0) never runs the forward F1s0"},
  {"0F0,0B0,0I0,0W0\n", PL_EINVALSCHED,
   "stage 0 (rank 0) runs microbatch 0 both unsplit (BW) and split (B/W); use "
   "one or the other"},
  {"0F0,0F1,0B1\n", PL_EINVALSCHED,
   "stage 0 (rank 0) never runs a backward (B0s0 or BW0s0)"},
  {"0F0,0B0\n1F0\n", PL_EINVALSCHED,
   "stage 1 (rank 1) never runs a backward (B0s1 or BW0s1)"},
  /* The first repeat in rank order wins over later order errors. */
  {"0B0,0F0,0F0\n", PL_EINVALSCHED,
   "rank 0 position 2: F0s0 appears twice (first at position 1)"},
  /* Valid order, but it cannot finish. */
  {"0F0,0B0,0F1,0B1\n1F1,1B1,1F0,1B0\n", PL_EDEADLOCK, NULL},
};

static void test_paths_agree(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct pl_errbuf eb = PL_ERRBUF_INIT, ed = PL_ERRBUF_INIT,
                     es = PL_ERRBUF_INIT, eo = PL_ERRBUF_INIT;
    pl_sched *s = NULL;
    int rc = pl_sched_read_csv(cases[i].csv, strlen(cases[i].csv),
                               PL_DIALECT_CURRENT, &s, NULL, &eb);
    if (rc)
      fail_msg("case %zu: read: %s", i, eb.msg);
    int rd = pl_sched_validate(s, &ed);
    int rs = pl__sched_validate_sorted(s, &es);
    int ro = pl_sched_validate_order(s, &eo);
    if (rd != cases[i].rc || rs != rd)
      fail_msg("case %zu: dense %d '%s', sorted %d '%s', want %d", i, rd,
               ed.msg, rs, es.msg, cases[i].rc);
    assert_string_equal(ed.msg, es.msg);
    if (cases[i].msg)
      assert_string_equal(ed.msg, cases[i].msg);
    if (rd == PL_EDEADLOCK) {
      /* The order is fine; only the engine sees the cycle. */
      assert_int_equal(ro, 0);
      pl_costs *c = NULL;
      assert_int_equal(pl_costs_create(pl_sched_stages(s), pl_sched_ranks(s),
                                       &c), 0);
      pl_costs_uniform(c, 1, 1, 1, 1, 0, 0.5);
      pl_result r = PL_RESULT_INIT;
      struct pl_errbuf er = PL_ERRBUF_INIT;
      assert_int_equal(pl_sim_run(s, c, 0, &r, &er), PL_EDEADLOCK);
      assert_string_equal(er.msg, ed.msg);
      pl_result_free(&r);
      pl_costs_destroy(c);
    } else {
      assert_int_equal(ro, rd);
      assert_string_equal(eo.msg, ed.msg);
    }
    pl_sched_destroy(s);
  }
}

/* A generated schedule of a few hundred thousand ops is valid both ways. */
static void test_generated_valid_both_ways(void **state)
{
  (void)state;
  static const char *const names[] = {"1f1b", "interleaved", "zb-h1",
                                      "gpipe"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    pl_gen_params gp = PL_GEN_PARAMS_INIT;
    gp.p = 16;
    gp.m = 4096;
    gp.v = strcmp(names[k], "interleaved") ? 1 : 2;
    pl_sched *s = NULL;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    if (pl_sched_gen(names[k], &gp, &s, &eb))
      fail_msg("%s: %s", names[k], eb.msg);
    assert_int_equal(pl_sched_validate(s, &eb), 0);
    assert_int_equal(pl__sched_validate_sorted(s, &eb), 0);
    assert_int_equal(pl_sched_validate_order(s, &eb), 0);
    pl_sched_destroy(s);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_paths_agree),
    cmocka_unit_test(test_generated_valid_both_ways),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
