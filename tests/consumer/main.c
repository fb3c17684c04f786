/* main.c: a program outside the pipelab tree, built against the installed
 * library (tests/consumer/test_install.sh builds it with CMake's
 * find_package and with pkg-config). Simulates 1F1B on p = 4 ranks with
 * m = 8 microbatches at unit costs and checks the makespan, 33 = 3 * (m +
 * p - 1) (tf + tb + tw of one rank per microbatch, the fill and drain of p
 * - 1 stages), and the bubble ratio 9/33; then the same through the JSON
 * entry point. Exit 0 when every check holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <pipelab/api.h>
#include <pipelab/pipelab.h>

static int fails;

static void check(int ok, const char *what)
{
  printf("%s: %s\n", ok ? "ok" : "FAIL", what);
  fails += !ok;
}

int main(void)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  pl_sched *s = NULL;
  pl_costs *c = NULL;
  pl_result r = PL_RESULT_INIT;
  gp.p = 4;
  gp.m = 8;
  int rc = pl_sched_gen("1f1b", &gp, &s, &eb);
  if (!rc)
    rc = pl_costs_create(pl_sched_stages(s), pl_sched_ranks(s), &c);
  if (!rc)
    rc = pl_costs_uniform(c, 1, 1.0, 1.0, 1.0, 0.0, 0.5);
  if (!rc)
    rc = pl_sim_run(s, c, 0, &r, &eb);
  if (rc) {
    fprintf(stderr, "consumer: %s: %s\n", pl_err_name(rc), eb.msg);
    return 1;
  }
  printf("pipelab %s: 1f1b p=4 m=8 makespan %g, bubble ratio %g\n",
         pl_version(), r.makespan, r.bubble_ratio);
  check(r.makespan == 33.0, "makespan 33");
  check(fabs(r.bubble_ratio - 9.0 / 33.0) < 1e-12, "bubble ratio 9/33");
  check(r.stages == 4 && r.microbatches == 8, "shape 4 x 8");
  pl_result_free(&r);
  pl_costs_destroy(c);
  pl_sched_destroy(s);

  char *out = NULL, *err = NULL;
  rc = pl_api_call("simulate",
                   "{\"schedule\": \"1f1b\", \"stages\": 4, "
                   "\"microbatches\": 8}", &out, &err);
  check(rc == 0 && out && strstr(out, "\"makespan\":33,") != NULL,
        "pl_api_call simulate makespan 33");
  pl_api_free(out);
  pl_api_free(err);
  out = err = NULL;
  rc = pl_api_call("simulate", "{\"schedule\": \"1f1b\"}", &out, &err);
  check(rc == PL_EINVAL && !out && err && strstr(err, "missing 'stages'"),
        "pl_api_call error message");
  pl_api_free(out);
  pl_api_free(err);
  return fails ? 1 : 0;
}
