/* test_gpu_exec.c: the CUDA backend (ranks sharing the visible GPUs through
 * per-rank streams and device copies). Skips (exit 77) without a GPU. For
 * 1f1b, zb-h1 and interleaved at p = 2 and every other generated schedule at
 * p = 2: loss and gradients equal the CPU sequential reference within 1e-9
 * (fp64 on the GPU; only summation order differs: cuBLAS blocking and the
 * atomic layer-norm parameter sums), measured peak activation bytes equal
 * the simulator's prediction exactly, op order equals the schedule's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/exec.h"

static void run_one(const pl_gen_info *gi, int p)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = p;
  gp.m = 2 * p;
  pl_sched *s = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_sched_gen(gi->name, &gp, &s, &eb) != 0)
    return;
  int S = pl_sched_stages(s);
  pl_workload w = PL_WORKLOAD_INIT;
  w.layers = 2 * S;
  w.hidden = 64;
  w.seq = 16;
  w.mb_size = 2;
  w.microbatches = gp.m;
  pl_exec_opts o = PL_EXEC_OPTS_INIT;
  o.backend = PL_BACKEND_CUDA;
  o.flags = PL_EXEC_RECORD_OPS;
  o.timeout_s = 60;
  pl_result res = PL_RESULT_INIT;
  pl_exec_grads g = PL_EXEC_GRADS_INIT, ref = PL_EXEC_GRADS_INIT;
  int rc = pl_exec_run(s, &w, &o, &res, &g, &eb);
  if (rc)
    fprintf(stderr, "%s p=%d: %s\n", gi->name, p, eb.msg);
  assert_int_equal(rc, 0);
  assert_string_equal(res.source, "cuda");
  assert_int_equal(pl_exec_reference(&w, &ref, NULL, &eb), 0);
  pl_grad_check gc;
  assert_int_equal(pl_exec_grads_compare(&g, &ref, PL_GRAD_TOL, &gc, &eb), 0);
  fprintf(stderr, "%s p=%d: loss %.17g ref %.17g max_rel %.3g makespan %.0f "
          "us\n", gi->name, p, g.loss, ref.loss, gc.max_rel_error,
          res.makespan);
  assert_true(gc.passed);
  pl_costs *c;
  assert_int_equal(pl_costs_create(S, p, &c), 0);
  assert_int_equal(pl_wl_apply_mem_costs(&w, c, &eb), 0);
  pl_result sim = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &sim, &eb), 0);
  for (int r = 0; r < p; r++) {
    assert_true(res.ranks[r].peak_activation_bytes == sim.ranks[r].peak_mem);
    assert_true(res.ranks[r].end_mem == 0);
  }
  size_t k = 0;
  for (int r = 0; r < p; r++) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++, k++)
      assert_memory_equal(&res.ops[k].op, &ops[i], sizeof ops[i]);
  }
  pl_result_free(&sim);
  pl_costs_destroy(c);
  pl_result_free(&res);
  pl_exec_grads_free(&g);
  pl_exec_grads_free(&ref);
  pl_sched_destroy(s);
}

static void test_gpu_schedules(void **state)
{
  (void)state;
  for (const pl_gen_info *gi = pl_gen_list(); gi->name; gi++)
    run_one(gi, 2);
  run_one(pl_gen_find("1f1b"), 4);
}

int main(void)
{
  const char *why = NULL;
  if (pl_cuda_devices(&why) == 0) {
    fprintf(stderr, "skipped: no usable GPU (%s)\n", why ? why : "unknown");
    return 77;
  }
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gpu_schedules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
