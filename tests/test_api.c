/* test_api.c: pl_api_call, the JSON-in / JSON-out entry point the Python
 * module uses (include/pipelab/api.h): answers parsed back with jansson and
 * checked against known values, every error path returns a message and no
 * output, and (under AddressSanitizer, scripts/test.sh) nothing leaks. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "pipelab/api.h"

/* Calls fn and parses the answer; fails the test on an error. */
static json_t *call_ok(const char *fn, const char *args)
{
  char *out = NULL, *err = NULL;
  int rc = pl_api_call(fn, args, &out, &err);
  if (rc)
    fail_msg("%s(%s): %s", fn, args, err ? err : "?");
  assert_null(err);
  assert_non_null(out);
  json_t *j = json_loads(out, 0, NULL);
  assert_non_null(j);
  pl_api_free(out);
  return j;
}

/* Calls fn expecting code, and err containing what. */
static void call_err(const char *fn, const char *args, int code,
                     const char *what)
{
  char *out = (char *)"x", *err = NULL;
  int rc = pl_api_call(fn, args, &out, &err);
  assert_int_equal(rc, code);
  assert_null(out);
  assert_non_null(err);
  if (!strstr(err, what))
    fail_msg("%s(%s): '%s' does not contain '%s'", fn, args, err, what);
  pl_api_free(err);
}

static double num(const json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  assert_true(json_is_number(v));
  return json_number_value(v);
}

static void test_simulate_1f1b(void **state)
{
  (void)state;
  json_t *j = call_ok("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
                                  "\"microbatches\": 8}");
  assert_true(num(j, "makespan") == 33);
  assert_true(num(j, "iteration_time") == 33);
  assert_true(fabs(num(j, "bubble_ratio") - 9.0 / 33) < 1e-12);
  assert_string_equal(json_string_value(json_object_get(j, "placement")),
                      "single");
  json_t *ranks = json_object_get(j, "ranks");
  assert_int_equal(json_array_size(ranks), 4);
  assert_true(num(json_array_get(ranks, 0), "peak_activation_units") == 4);
  assert_null(json_object_get(j, "ops"));
  json_decref(j);

  /* detail: 4 ranks x 8 microbatches x (F, BW). */
  j = call_ok("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
                          "\"microbatches\": 8, \"detail\": true}");
  assert_int_equal(json_array_size(json_object_get(j, "ops")), 64);
  assert_true(json_array_size(json_object_get(j, "memory")) > 0);
  json_decref(j);
}

static void test_simulate_gpipe_bubble(void **state)
{
  (void)state;
  static const int pm[][2] = {{4, 8}, {8, 24}, {2, 3}};
  for (size_t i = 0; i < sizeof pm / sizeof pm[0]; i++) {
    char args[128];
    int p = pm[i][0], m = pm[i][1];
    snprintf(args, sizeof args, "{\"schedule\": \"gpipe\", \"stages\": %d, "
             "\"microbatches\": %d}", p, m);
    json_t *j = call_ok("simulate", args);
    assert_true(fabs(num(j, "bubble_ratio") - (p - 1.0) / (m + p - 1)) <
                1e-12);
    json_decref(j);
  }
}

static void test_save_and_load(void **state)
{
  (void)state;
  char dir[] = "/tmp/pl_test_api_XXXXXX", args[512];
  assert_non_null(mkdtemp(dir));
  snprintf(args, sizeof args, "{\"schedule\": \"zb-h1\", \"stages\": 4, "
           "\"microbatches\": 8, \"save\": \"%s/r.json\", \"trace\": "
           "\"%s/t.json\"}", dir, dir);
  json_decref(call_ok("simulate", args));
  snprintf(args, sizeof args, "{\"path\": \"%s/r.json\"}", dir);
  json_t *j = call_ok("load_result", args);
  /* ZB-H1: 3m + (p - 1)(F + B - W) = 27; passed-through fields kept. */
  assert_true(num(j, "makespan") == 27);
  assert_true(num(j, "iteration_time") == 27);
  assert_int_equal(json_array_size(json_object_get(j, "ops")), 96);
  json_decref(j);
  snprintf(args, sizeof args, "{\"path\": \"%s/t.json\"}", dir);
  j = call_ok("load_result", args);
  assert_true(num(j, "makespan") == 27);
  json_decref(j);
  snprintf(args, sizeof args, "%s/r.json", dir);
  unlink(args);
  snprintf(args, sizeof args, "%s/t.json", dir);
  unlink(args);
  rmdir(dir);
}

static void test_whatif(void **state)
{
  (void)state;
  json_t *j = call_ok("whatif", "{\"stages\": 4, \"microbatches\": 8, "
                      "\"tf\": 1, \"tb\": 1, \"tw\": 1, \"comm\": 0.25, "
                      "\"p2p\": \"blocking\", \"schedules\": "
                      "[\"1f1b\", \"zb-h1\"]}");
  json_t *rows = json_object_get(j, "schedules");
  assert_int_equal(json_array_size(rows), 2);
  assert_true(num(json_array_get(rows, 0), "iteration_time") == 41.5);
  /* zb-h1 cannot pair its blocking transfers: a row with the error. */
  const char *e = json_string_value(json_object_get(json_array_get(rows, 1),
                                                    "error"));
  assert_non_null(e);
  assert_non_null(strstr(e, "deadlocks"));
  json_decref(j);
}

static void test_sweep(void **state)
{
  (void)state;
  json_t *j = call_ok("sweep", "{\"gpus\": 16, \"microbatches\": "
                      "\"8..64:8\", \"tf\": 16, \"tb\": 16, \"tw\": 12, "
                      "\"comm\": 0.1, \"mem_limit\": 1, \"top\": 3, "
                      "\"jobs\": 2}");
  json_t *rows = json_object_get(j, "rows");
  assert_int_equal(json_array_size(rows), 3);
  json_t *best = json_array_get(rows, 0);
  /* p = 1, dp = 16: m (tf + tb + tw), throughput m dp / iteration. */
  assert_true(num(best, "stages") == 1 && num(best, "dp") == 16);
  assert_true(num(best, "iteration_time") ==
              num(best, "microbatches") * 44);
  assert_true(fabs(num(best, "throughput") - 16.0 / 44) < 1e-12);
  json_decref(j);
  /* The runtime keys: a one-microbatch GPipe chain through 4 stages (each
   * 1/4 of the totals) costs p (T_F + T_B + T_W) + 2 (p - 1)(o_s + c + o_r)
   * = 12 + 6 (0.25 + 0.5 + 0.125) = 17.25 under async transfers; the
   * answer names the runtime it priced with. */
  j = call_ok("sweep", "{\"gpus\": 4, \"stages\": [4], \"microbatches\": "
              "\"1..1\", \"schedules\": [\"gpipe\"], \"tf\": 4, \"tb\": 4, "
              "\"tw\": 4, \"comm\": 0.5, \"send_overhead\": 0.25, "
              "\"recv_overhead\": 0.125, \"local_handoff\": \"copied\"}");
  best = json_array_get(json_object_get(j, "rows"), 0);
  assert_true(num(best, "iteration_time") == 17.25);
  json_t *rt = json_object_get(j, "runtime");
  assert_string_equal(json_string_value(json_object_get(rt, "p2p")), "async");
  assert_true(num(rt, "send_overhead") == 0.25);
  assert_true(num(rt, "recv_overhead") == 0.125);
  assert_string_equal(json_string_value(json_object_get(rt, "local_handoff")),
                      "copied");
  json_decref(j);
}

static void test_misc(void **state)
{
  (void)state;
  json_t *j = call_ok("schedules", NULL);
  assert_true(json_array_size(j) >= 8);
  json_decref(j);
  j = call_ok("version", "");
  assert_string_equal(json_string_value(json_object_get(j, "version")),
                      pl_version());
  json_decref(j);
  /* Outputs not wanted: still runs, nothing to free. */
  assert_int_equal(pl_api_call("version", "{}", NULL, NULL), 0);
  assert_int_equal(pl_api_call("nope", "{}", NULL, NULL), PL_EINVAL);
  pl_api_free(NULL);
}

/* The runtime options of the simulate request against docs/transfers.md:
 * 1F1B with an op gap g, (m+p-1)(T_F + T_BW + 2g) - g (section 4), and
 * blocking P2P with every message c, 11 (T_F + T_BW) + 34 c (section 2). */
static void test_simulate_request(void **state)
{
  (void)state;
  json_t *j = call_ok("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
                                  "\"microbatches\": 8, \"op_gap\": 0.5}");
  assert_true(num(j, "makespan") == 11 * 4 - 0.5);
  json_decref(j);
  j = call_ok("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
                          "\"microbatches\": 8, \"p2p\": \"blocking\", "
                          "\"comm\": 0.5, \"a2a\": 0, \"rank_speed\": [1]}");
  assert_true(num(j, "makespan") == 33 + 34 * 0.5);
  json_decref(j);
  j = call_ok("simulate", "{\"schedule\": \"zb-auto\", \"stages\": 4, "
                          "\"microbatches\": 8, \"mem_limit\": [4, 4, 3, 3]}");
  assert_true(num(j, "makespan") == 27);
  json_decref(j);
  j = call_ok("whatif", "{\"stages\": 4, \"microbatches\": 8, \"tf\": 1, "
                        "\"tb\": 1, \"tw\": 1, \"comm\": 0, \"a2a\": 0.5, "
                        "\"schedules\": \"1f1b\"}");
  json_t *row = json_array_get(json_object_get(j, "schedules"), 0);
  assert_true(num(row, "makespan") == 11 * (1 + 0.5 + 2 + 0.5));
  json_decref(j);
}

static void test_errors(void **state)
{
  (void)state;
  call_err("nope", "{}", PL_EINVAL, "unknown function 'nope'");
  call_err(NULL, "{}", PL_EINVAL, "no function");
  call_err("simulate", "{", PL_EINVAL, "not valid JSON");
  call_err("simulate", "[1]", PL_EINVAL, "must be a JSON object");
  call_err("simulate", "{\"stages\": 1, \"stages\": 2}", PL_EINVAL,
           "not valid JSON");
  call_err("simulate", "{\"schedule\": \"1f1b\"}", PL_EINVAL,
           "missing 'stages'");
  call_err("simulate", "{\"schedule\": \"nope\", \"stages\": 4, "
           "\"microbatches\": 8}", PL_EINVAL, "unknown schedule 'nope'");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"tff\": 1}", PL_EINVAL,
           "unknown argument 'tff'");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4.5, "
           "\"microbatches\": 8}", PL_EINVAL, "'stages' must be an integer");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"mem_w_frac\": 2}", PL_EINVAL,
           "'mem_w_frac' must be between 0 and 1");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"p2p\": \"sync\"}", PL_EINVAL,
           "'p2p' must be async");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"rank_speed\": [1, 1, 1, 1, 1]}",
           PL_EINVAL, "'rank_speed' lists 5 ranks");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"tf\": 1e300, \"tb\": 1e300}", PL_EINVAL,
           "beyond the largest time");
  call_err("simulate", "{\"schedule\": \"zb-h1\", \"stages\": 4, "
           "\"microbatches\": 8, \"comm\": 0.25, \"p2p\": \"blocking\"}",
           PL_EDEADLOCK, "rank 0 blocked");
  /* The simulate request's options (pl_sim_request): every error after a
   * list was read frees it (ASan in scripts/test.sh). */
  call_err("simulate", "{\"schedule\": \"zb-auto\", \"stages\": 4, "
           "\"microbatches\": 8, \"mem_limit\": [4, 4, 3]}", PL_EINVAL,
           "give one per rank");
  call_err("simulate", "{\"schedule\": \"zb-v\", \"stages\": 4, "
           "\"microbatches\": 8, \"mem_limit\": [4, 4, 3, 3]}", PL_EINVAL,
           "zb-auto only");
  call_err("simulate", "{\"schedule\": \"zb-auto\", \"stages\": 4, "
           "\"microbatches\": 8, \"mem_limit\": [4, 0.5, 3, 3]}",
           PL_EINVAL, "at least 1 activation unit");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"rank_speed\": [1, 2], \"p2p\": \"x\"}",
           PL_EINVAL, "'p2p' must be async");
  call_err("simulate", "{\"schedule\": \"hanayo\", \"stages\": 4, "
           "\"microbatches\": 8, \"waves\": 2, \"chunks\": 4}", PL_EINVAL,
           "'waves' or 'chunks'");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"replica_allreduce\": 1}", PL_EINVAL,
           "stage copies");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"stage_costs\": \"/nonexistent/c.csv\"}",
           PL_EIO, "/nonexistent/c.csv");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"fb_overlap\": 2}", PL_EINVAL,
           "'fb_overlap' must be between 0 and 1");
  call_err("simulate", "{\"schedule\": \"1f1b\", \"stages\": 4, "
           "\"microbatches\": 8, \"model\": \"llama3-8b\"}", PL_ENOTSUP,
           "pricing by a model");
  call_err("simulate", "{\"schedule_file\": \"/nonexistent/s.csv\"}",
           PL_EIO, "/nonexistent/s.csv");
  call_err("whatif", "{\"schedules\": [\"1f1b\", \"nope\"]}", PL_EINVAL,
           "unknown schedule 'nope'");
  call_err("sweep", "{}", PL_EINVAL, "missing 'gpus'");
  call_err("sweep", "{\"gpus\": 4, \"local_handoff\": \"moved\"}",
           PL_EINVAL, "'local_handoff' must be free or copied");
  call_err("sweep", "{\"gpus\": 4, \"p2p\": \"sideways\"}", PL_EINVAL,
           "'p2p' must be async");
  call_err("sweep", "{\"gpus\": 8, \"microbatches\": \"64..8\"}", PL_EINVAL,
           "'microbatches' takes");
  call_err("load_result", "{}", PL_EINVAL, "missing 'path'");
  call_err("load_result", "{\"path\": \"/nonexistent/r.json\"}", PL_EIO,
           "/nonexistent/r.json");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_simulate_1f1b),
    cmocka_unit_test(test_simulate_gpipe_bubble),
    cmocka_unit_test(test_save_and_load),
    cmocka_unit_test(test_whatif),
    cmocka_unit_test(test_sweep),
    cmocka_unit_test(test_misc),
    cmocka_unit_test(test_simulate_request),
    cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
