/* pl_test.h: helpers the cmocka tests share. Include after <cmocka.h> and
 * "pipelab/pipelab.h" (or a module header that declares the generators). */
#ifndef PL_TEST_H
#define PL_TEST_H

/* Generates schedule `name` (v = 0: the generator's default chunks) and
 * validates it; fails the test, naming the shape, when either fails. */
static inline pl_sched *pl_test_gen(const char *name, int p, int m, int v)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = m;
  gp.v = v;
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_sched_gen(name, &gp, &s, &eb))
    fail_msg("%s p=%d m=%d v=%d: %s", name, p, m, v, eb.msg);
  if (pl_sched_validate(s, &eb))
    fail_msg("%s p=%d m=%d v=%d invalid: %s", name, p, m, v, eb.msg);
  return s;
}

#endif
