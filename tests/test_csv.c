/*
 * test_csv.c: PyTorch schedule CSV import/export, lowering and the unit-time
 * dry run against PyTorch's own test artifacts (tests/data/pytorch/) and
 * their golden values (docs/schedule-csv.md, tests/data/pytorch/README.md), plus dialect
 * detection, position-accurate parse errors and the round-trip property over
 * every generator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "../fuzz/roundtrip.h"

#define DATA PL_TEST_DATA "/pytorch/"
#define ZB_COMPUTE DATA "zb1p_2rank_2stagep_compute.csv"
#define ZB_COMMS DATA "zb1p_2rank_2stagep_comms.csv"
#define DPV DATA "dualpipev_4rank_10mb.csv"

static char *slurp(const char *path, size_t *len)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  char *t = NULL;
  int rc = pl_read_file(path, &t, len, &eb);
  if (rc)
    fail_msg("cannot read %s: %s", path, eb.msg);
  return t;
}

static pl_pt_sched *load_pt(const char *path, pl_csv_info *info)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *t = NULL;
  int rc = pl_pt_load_csv(path, PL_DIALECT_AUTO, &t, info, &eb);
  if (rc)
    fail_msg("load %s: %s", path, eb.msg);
  return t;
}

static size_t count_type(const pl_pt_sched *t, int rank, int type)
{
  size_t n, k = 0;
  const pl_pt_action *a = pl_pt_row(t, rank, &n);
  for (size_t i = 0; i < n; i++)
    k += a[i].type == type;
  return k;
}

/* --------------------------------------------------------- zb1p ------- */

static void test_zb1p_compute_loads(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  pl_csv_info info;
  assert_int_equal(pl_sched_load_csv(ZB_COMPUTE, PL_DIALECT_AUTO, &s, &info,
                                     &eb), 0);
  assert_int_equal(info.dialect, PL_DIALECT_CURRENT);
  assert_int_equal(info.ranks, 2);
  assert_int_equal(info.stages, 4);
  assert_int_equal(info.microbatches, 8);
  assert_int_equal(info.idle_cells, 2);
  assert_int_equal(info.comm_cells, 0);
  assert_int_equal(info.fused_cells, 0);
  assert_int_equal(pl_sched_ranks(s), 2);
  assert_int_equal(pl_sched_stages(s), 4);
  assert_int_equal(pl_sched_microbatches(s), 8);
  assert_int_equal(pl_sched_chunks(s), 2);
  assert_int_equal(pl_sched_placement(s), PL_PLACE_LOOP);
  for (int g = 0; g < 4; g++)
    assert_int_equal(pl_sched_stage_rank(s, g), g % 2);
  /* 49 cells per row, one of them idle; every stage 8 F, 8 I (pipelab B),
   * 8 W. */
  int cnt[4][PL_OP_NKINDS] = {{0}};
  for (int r = 0; r < 2; r++) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    assert_int_equal(n, 48);
    for (size_t i = 0; i < n; i++)
      cnt[ops[i].stage][ops[i].kind]++;
  }
  for (int g = 0; g < 4; g++) {
    assert_int_equal(cnt[g][PL_OP_F], 8);
    assert_int_equal(cnt[g][PL_OP_B], 8);
    assert_int_equal(cnt[g][PL_OP_W], 8);
    assert_int_equal(cnt[g][PL_OP_BW], 0);
  }
  assert_int_equal(pl_sched_validate(s, &eb), 0);
  pl_sched_destroy(s);
}

static void assert_same_cells(const pl_pt_sched *a, const pl_pt_sched *b)
{
  assert_int_equal(pl_pt_ranks(a), pl_pt_ranks(b));
  for (int r = 0; r < pl_pt_ranks(a); r++) {
    size_t na, nb;
    const pl_pt_action *x = pl_pt_row(a, r, &na);
    const pl_pt_action *y = pl_pt_row(b, r, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
      char cx[128], cy[128];
      assert_int_equal(pl_pt_action_format(&x[i], cx, sizeof cx), 0);
      assert_int_equal(pl_pt_action_format(&y[i], cy, sizeof cy), 0);
      if (strcmp(cx, cy))
        fail_msg("rank %d cell %zu: got %s, expected %s", r, i + 1, cx, cy);
    }
  }
}

static void test_zb1p_lowering_golden(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *comp = load_pt(ZB_COMPUTE, NULL);
  pl_pt_sched *ref = load_pt(ZB_COMMS, NULL);
  size_t n;
  pl_pt_row(comp, 0, &n);
  assert_int_equal(n, 49);
  pl_pt_row(comp, 1, &n);
  assert_int_equal(n, 49);
  assert_int_equal(pl_pt_row_idle(comp, 0), 1);
  assert_int_equal(pl_pt_row_idle(comp, 1), 1);
  /* The 4th cell of rank 0 and the 1st of rank 1 are the idle ones. */
  assert_int_equal(pl_pt_row(comp, 0, &n)[3].type, PL_PT_IDLE);
  assert_int_equal(pl_pt_row(comp, 1, &n)[0].type, PL_PT_IDLE);

  pl_pt_sched *merged = NULL;
  assert_int_equal(pl_pt_merge_bw(comp, &merged, &eb), 0);
  pl_pt_row(merged, 0, &n);
  assert_int_equal(n, 32);
  assert_int_equal(count_type(merged, 0, PL_PT_B), 16);
  assert_int_equal(count_type(merged, 0, PL_PT_I), 0);
  pl_pt_row(merged, 1, &n);
  assert_int_equal(n, 48);
  assert_int_equal(count_type(merged, 1, PL_PT_B), 0);
  assert_int_equal(count_type(merged, 1, PL_PT_I), 16);

  pl_pt_sched *comms = NULL;
  assert_int_equal(pl_pt_add_send_recv(merged, &comms, &eb), 0);
  pl_pt_row(comms, 0, &n);
  assert_int_equal(n, 80);
  pl_pt_row(comms, 1, &n);
  assert_int_equal(n, 96);
  assert_same_cells(comms, ref);

  /* pl_pt_lower = merge + send/recv. */
  pl_pt_sched *low = NULL;
  assert_int_equal(pl_pt_lower(comp, &low, &eb), 0);
  assert_same_cells(low, ref);

  pl_pt_destroy(low);
  pl_pt_destroy(comms);
  pl_pt_destroy(merged);
  pl_pt_destroy(ref);
  pl_pt_destroy(comp);
}

static void test_zb1p_unit_time(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *comp = load_pt(ZB_COMPUTE, NULL);
  pl_pt_sched *low = NULL, *sim = NULL;
  int steps = 0;
  assert_int_equal(pl_pt_lower(comp, &low, &eb), 0);
  assert_int_equal(pl_pt_unit_time(low, &sim, &steps, &eb), 0);
  assert_int_equal(steps, 113);
  size_t n;
  pl_pt_row(sim, 0, &n);
  assert_int_equal(n, 112);
  assert_int_equal(pl_pt_row_idle(sim, 0), 32);
  pl_pt_row(sim, 1, &n);
  assert_int_equal(n, 113);
  assert_int_equal(pl_pt_row_idle(sim, 1), 17);
  /* Non-idle slots are exactly the lowered actions. */
  assert_int_equal(112 - 32, 80);
  pl_pt_destroy(sim);

  /* The comms CSV simulated directly: the same 113 steps. */
  pl_pt_sched *ref = load_pt(ZB_COMMS, NULL);
  steps = 0;
  assert_int_equal(pl_pt_unit_time(ref, NULL, &steps, &eb), 0);
  assert_int_equal(steps, 113);
  pl_pt_destroy(ref);

  /* The compute CSV without lowering is not runnable by these rules: the
   * F of stage 1 waits forever for a RECV_F nobody places. */
  assert_int_equal(pl_pt_unit_time(comp, NULL, &steps, &eb), PL_EDEADLOCK);
  assert_non_null(strstr(eb.msg, "rank 1 next action 1F0"));
  pl_pt_destroy(low);
  pl_pt_destroy(comp);
}

/* ---------------------------------------------------- DualPipeV ------- */

static void test_dualpipev_fixture(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  pl_csv_info info;
  assert_int_equal(pl_sched_load_csv(DPV, PL_DIALECT_AUTO, &s, &info, &eb), 0);
  assert_int_equal(info.dialect, PL_DIALECT_CURRENT);
  assert_int_equal(info.ranks, 4);
  assert_int_equal(info.stages, 8);
  assert_int_equal(info.microbatches, 10);
  assert_int_equal(info.idle_cells, 0);
  assert_int_equal(info.fused_cells, 9 + 10 + 11 + 11);
  assert_int_equal(pl_sched_placement(s), PL_PLACE_V);
  for (int r = 0; r < 4; r++) {
    assert_int_equal(pl_sched_stage_rank(s, r), r);
    assert_int_equal(pl_sched_stage_rank(s, 7 - r), r);
  }
  static const size_t len[4] = {38, 36, 34, 33}, fused[4] = {9, 10, 11, 11};
  for (int r = 0; r < 4; r++) {
    size_t n, f = 0;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++)
      f += ops[i].kind == PL_OP_FB;
    assert_int_equal(n, len[r]);
    assert_int_equal(f, fused[r]);
  }
  /* Stage 0: 6 full B, 4 I, 4 W; stages 3 and 4: 8 B, 2 I, 2 W. */
  int cnt[8][PL_OP_NKINDS] = {{0}};
  for (int r = 0; r < 4; r++) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    for (size_t i = 0; i < n; i++) {
      if (ops[i].kind == PL_OP_FB) {
        cnt[ops[i].stage][PL_OP_F]++;
        cnt[ops[i].stage2][ops[i].kind2]++;
      } else {
        cnt[ops[i].stage][ops[i].kind]++;
      }
    }
  }
  for (int g = 0; g < 8; g++) {
    assert_int_equal(cnt[g][PL_OP_F], 10);
    assert_int_equal(cnt[g][PL_OP_B], cnt[g][PL_OP_W]);
    assert_int_equal(cnt[g][PL_OP_BW] + cnt[g][PL_OP_B], 10);
  }
  assert_int_equal(cnt[0][PL_OP_BW], 6);
  assert_int_equal(cnt[0][PL_OP_B], 4);
  assert_int_equal(cnt[3][PL_OP_BW], 8);
  assert_int_equal(cnt[4][PL_OP_BW], 8);
  assert_int_equal(cnt[4][PL_OP_W], 2);
  assert_int_equal(pl_sched_validate(s, &eb), 0);

  /* Timed simulation with per-chunk costs F = I = W = 1, full B = 2,
   * F&B = 1 + 2 = 3 (fb_overlap 0), zero communication. Memory follows the
   * fixture README: "F allocates one unit, B or W frees it" (B = PyTorch's
   * full backward, W the weight backward after a split I; I frees nothing).
   * The engine frees mem_b - mem_w at pipelab B (= PyTorch I), mem_w at W
   * and mem_b at BW, so mem_b = mem_w = 1 expresses exactly that. */
  pl_costs *c = NULL;
  assert_int_equal(pl_costs_create(8, 4, &c), 0);
  for (int g = 0; g < 8; g++) {
    c->stage[g].t[PL_OP_F] = 1;
    c->stage[g].t[PL_OP_B] = 1;
    c->stage[g].t[PL_OP_W] = 1;
    c->stage[g].t[PL_OP_BW] = 2;
    c->stage[g].mem_b = 1;
    c->stage[g].mem_w = 1;
  }
  c->fb_overlap = 0;
  c->comm_latency = 0;
  pl_result res = PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &res, &eb), 0);
  assert_true(res.makespan == 66.0);
  for (int r = 0; r < 4; r++) {
    assert_true(res.ranks[r].peak_mem == 9.0);
    assert_true(res.ranks[r].end_mem == 0.0);
  }
  /* Ideal: 20 F + 20 backward-units of 2 per rank... 10 mb x 2 chunks x
   * (1 + 2) = 60 per rank. */
  assert_true(res.ideal == 60.0);
  pl_result_free(&res);
  pl_costs_destroy(c);
  pl_sched_destroy(s);
}

/* -------------------------------------------------- round trips ------- */

static char *strip_idle(const char *in)
{
  /* Removes empty cells: ",," -> ",", leading "," and trailing ",". */
  size_t n = strlen(in);
  char *out = malloc(n + 1);
  size_t k = 0;
  const char *p = in;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    int first = 1;
    size_t i = 0;
    while (i <= l) {
      size_t j = i;
      while (j < l && p[j] != ',')
        j++;
      if (j > i) {
        if (!first)
          out[k++] = ',';
        memcpy(out + k, p + i, j - i);
        k += j - i;
        first = 0;
      }
      i = j + 1;
    }
    if (e)
      out[k++] = '\n';
    p += l + (e ? 1 : 0);
  }
  out[k] = 0;
  return out;
}

static void test_fixture_round_trip(void **state)
{
  (void)state;
  static const char *files[] = {ZB_COMPUTE, ZB_COMMS, DPV};
  for (size_t f = 0; f < 3; f++) {
    size_t len;
    char *text = slurp(files[f], &len);
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    /* Action table: byte for byte, idle cells included. */
    pl_pt_sched *t = load_pt(files[f], NULL);
    struct pl_buf b;
    pl_buf_init(&b, PL_BUF_MAX_DEFAULT);
    assert_int_equal(pl_pt_write_csv(t, &b), 0);
    assert_int_equal(b.len, len);
    assert_string_equal(b.buf, text);
    pl_buf_free(&b);
    pl_pt_destroy(t);
    /* Schedule: equal once idle cells are ignored (compute files only). */
    if (f != 1) {
      pl_sched *s = NULL;
      assert_int_equal(pl_sched_read_csv(text, len, PL_DIALECT_AUTO, &s, NULL,
                                         &eb), 0);
      pl_buf_init(&b, PL_BUF_MAX_DEFAULT);
      assert_int_equal(pl_sched_write_csv(s, &b), 0);
      char *want = strip_idle(text);
      assert_string_equal(b.buf, want);
      free(want);
      pl_buf_free(&b);
      pl_sched_destroy(s);
    }
    pl_free(text);
  }
}

static void test_crlf_quotes_no_final_newline(void **state)
{
  (void)state;
  size_t len;
  char *text = slurp(ZB_COMPUTE, &len);
  /* Rewrite with CRLF, quoted cells and no final newline. */
  struct pl_buf b;
  pl_buf_init(&b, PL_BUF_MAX_DEFAULT);
  int q = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '\n') {
      if (i + 1 < len)
        pl_buf_add(&b, "\r\n", 2);
    } else if (text[i] == '0' && i && text[i - 1] == ',' && (q++ % 3 == 0)) {
      /* Quote some cells that start with stage 0: "0F1" */
      size_t j = i;
      while (j < len && text[j] != ',' && text[j] != '\n')
        j++;
      pl_buf_addf(&b, "\"%.*s\"", (int)(j - i), text + i);
      i = j - 1;
    } else {
      pl_buf_add(&b, &text[i], 1);
    }
  }
  assert_non_null(strchr(b.buf, '"'));
  assert_non_null(strstr(b.buf, "\r\n"));
  assert_true(b.len > 0 && b.buf[b.len - 1] != '\n');
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *t = NULL, *ref = load_pt(ZB_COMPUTE, NULL);
  assert_int_equal(pl_pt_read_csv(b.buf, b.len, PL_DIALECT_AUTO, &t, NULL,
                                  &eb), 0);
  assert_same_cells(t, ref);
  pl_pt_destroy(t);
  pl_pt_destroy(ref);
  pl_buf_free(&b);
  pl_free(text);
}

static void assert_same_sched(const pl_sched *a, const pl_sched *b,
                              const char *what)
{
  if (pl_sched_ranks(a) != pl_sched_ranks(b) ||
      pl_sched_stages(a) != pl_sched_stages(b) ||
      pl_sched_microbatches(a) != pl_sched_microbatches(b))
    fail_msg("%s: shape differs", what);
  for (int g = 0; g < pl_sched_stages(a); g++)
    if (pl_sched_stage_rank(a, g) != pl_sched_stage_rank(b, g))
      fail_msg("%s: stage %d on rank %d vs %d", what, g,
               pl_sched_stage_rank(a, g), pl_sched_stage_rank(b, g));
  for (int r = 0; r < pl_sched_ranks(a); r++) {
    size_t na, nb;
    const pl_op *x = pl_sched_rank_ops(a, r, &na);
    const pl_op *y = pl_sched_rank_ops(b, r, &nb);
    if (na != nb)
      fail_msg("%s: rank %d has %zu ops vs %zu", what, r, na, nb);
    for (size_t i = 0; i < na; i++)
      if (memcmp(&x[i], &y[i], sizeof x[i]))
        fail_msg("%s: rank %d op %zu differs", what, r, i);
  }
}

static void test_generator_round_trip(void **state)
{
  (void)state;
  size_t tried = 0, ok = 0;
  int kinds = 0;
  for (const pl_gen_info *g = pl_gen_list(); g->name; g++) {
    size_t gen_ok = 0;
    for (int p = 1; p <= 8; p++)
      for (int m = 1; m <= 16; m++)
        for (int v = 1; v <= 4; v++) {
          pl_gen_params gp = PL_GEN_PARAMS_INIT;
          gp.p = p;
          gp.m = m;
          gp.v = v;
          struct pl_errbuf eb = PL_ERRBUF_INIT;
          pl_sched *s = NULL, *back = NULL;
          tried++;
          if (pl_sched_gen(g->name, &gp, &s, &eb))
            continue; /* invalid (p, m, v) for this generator */
          struct pl_buf b;
          pl_buf_init(&b, PL_BUF_MAX_DEFAULT);
          if (pl_sched_replicated(s)) {
            /* Stage copies: PyTorch's CSV cannot express them. */
            assert_int_equal(pl_sched_write_csv(s, &b), PL_ENOTSUP);
            pl_buf_free(&b);
            pl_sched_destroy(s);
            continue;
          }
          assert_int_equal(pl_sched_write_csv(s, &b), 0);
          char what[96];
          snprintf(what, sizeof what, "%s p=%d m=%d v=%d", g->name, p, m, v);
          if (pl_sched_read_csv(b.buf, b.len, PL_DIALECT_AUTO, &back, NULL,
                                &eb))
            fail_msg("%s: read back: %s", what, eb.msg);
          assert_same_sched(s, back, what);
          if (pl_sched_validate(back, &eb))
            fail_msg("%s: validate: %s", what, eb.msg);
          pl_buf_free(&b);
          pl_sched_destroy(back);
          pl_sched_destroy(s);
          ok++;
          gen_ok++;
        }
    kinds += gen_ok > 0;
  }
  /* gpipe, 1f1b and interleaved at least; other generators add to this. */
  assert_true(kinds >= 3);
  assert_true(ok >= 2 * 8 * 16);
  print_message("round trip: %zu of %zu (generator, p, m, v) combinations "
                "valid, %d generators\n", ok, tried, kinds);
}

/* Lowering a generated schedule and dry-running it: every 1F1B-family
 * schedule must make progress (no deadlock) and keep all its actions. */
static void test_generated_lower_and_unit_time(void **state)
{
  (void)state;
  static const char *names[] = {"gpipe", "1f1b", "interleaved"};
  for (size_t k = 0; k < 3; k++) {
    pl_gen_params gp = PL_GEN_PARAMS_INIT;
    gp.p = 4;
    gp.m = 8;
    gp.v = k == 2 ? 2 : 1;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_sched *s = NULL;
    pl_pt_sched *t = NULL, *low = NULL;
    assert_int_equal(pl_sched_gen(names[k], &gp, &s, &eb), 0);
    assert_int_equal(pl_pt_from_sched(s, &t, &eb), 0);
    assert_int_equal(pl_pt_lower(t, &low, &eb), 0);
    /* Every cross-rank edge becomes one SEND and one RECV: p = 4, m = 8:
     * (S - 1) boundaries x m x 2 directions x 2 actions. */
    size_t total = 0;
    for (int r = 0; r < 4; r++) {
      size_t n;
      pl_pt_row(low, r, &n);
      total += n;
    }
    size_t S = (size_t)pl_sched_stages(s);
    assert_int_equal(total, pl_sched_total_ops(s) + (S - 1) * 8 * 2 * 2);
    int steps = 0;
    if (pl_pt_unit_time(low, NULL, &steps, &eb))
      fail_msg("%s: %s", names[k], eb.msg);
    assert_true(steps > 0);
    pl_pt_destroy(low);
    pl_pt_destroy(t);
    pl_sched_destroy(s);
  }
  /* GPipe p = 2, m = 1 by hand: rank 0: F, SEND_F, (idle), (idle), RECV_B,
   * B; rank 1: RECV_F, F, B, SEND_B: 6 steps. */
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = 2;
  gp.m = 1;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  pl_pt_sched *t = NULL, *low = NULL, *sim = NULL;
  int steps = 0;
  assert_int_equal(pl_sched_gen("gpipe", &gp, &s, &eb), 0);
  assert_int_equal(pl_pt_from_sched(s, &t, &eb), 0);
  assert_int_equal(pl_pt_lower(t, &low, &eb), 0);
  assert_int_equal(pl_pt_unit_time(low, &sim, &steps, &eb), 0);
  struct pl_buf b;
  pl_buf_init(&b, PL_BUF_MAX_DEFAULT);
  assert_int_equal(pl_pt_write_csv(low, &b), 0);
  assert_string_equal(b.buf, "0F0,0SEND_F0,0RECV_B0,0B0\n"
                             "1RECV_F0,1F0,1B0,1SEND_B0\n");
  pl_buf_reset(&b);
  assert_int_equal(pl_pt_write_csv(sim, &b), 0);
  /* Step 0: 0F0 | 1RECV_F0 waits for 0SEND_F0 (idle). Step 1: 0SEND_F0 |
   * 1RECV_F0 (ready at once: rank 0 placed the SEND earlier in this
   * pass). Step 2: 0RECV_B0 waits (idle) | 1F0; step 3: idle | 1B0; step 4:
   * idle | 1SEND_B0, and the second pass fills rank 0's idle slot with
   * 0RECV_B0; step 5: 0B0. */
  assert_string_equal(b.buf, "0F0,0SEND_F0,,,0RECV_B0,0B0\n"
                             ",1RECV_F0,1F0,1B0,1SEND_B0\n");
  assert_int_equal(steps, 6);
  pl_buf_free(&b);
  pl_pt_destroy(sim);
  pl_pt_destroy(low);
  pl_pt_destroy(t);
  pl_sched_destroy(s);
}

/* ------------------------------------------------ dialects ------------ */

static void test_dialect_detection(void **state)
{
  (void)state;
  static const struct {
    const char *csv;
    int forced;
    int want; /* detected dialect, or a negative error */
    int f, b, w, bw; /* pipelab op counts when it loads */
  } cases[] = {
    /* any I -> current */
    {"0F0,0I0,0W0\n", PL_DIALECT_AUTO, PL_DIALECT_CURRENT, 1, 1, 1, 0},
    /* only F and B -> current, B = full backward */
    {"0F0,0B0\n", PL_DIALECT_AUTO, PL_DIALECT_CURRENT, 1, 0, 0, 1},
    /* W without I -> legacy, B = input backward */
    {"0F0,0B0,0W0\n", PL_DIALECT_AUTO, PL_DIALECT_LEGACY, 1, 1, 1, 0},
    /* BW -> legacy full backward */
    {"0F0,0BW0\n", PL_DIALECT_AUTO, PL_DIALECT_LEGACY, 1, 0, 0, 1},
    {"0F0,0F1,0BW0,0B1,0W1\n", PL_DIALECT_AUTO, PL_DIALECT_LEGACY, 2, 1, 1, 1},
    /* a legacy fused comm token -> legacy (it is dropped on import) */
    {"0F0,1SEND_F0_1RECV_B0,1RECV_B0,0BW0\n1F0,1BW0\n", PL_DIALECT_AUTO,
     PL_DIALECT_LEGACY, 2, 0, 0, 2},
    /* forcing overrides detection */
    {"0F0,0B0\n", PL_DIALECT_LEGACY, PL_DIALECT_LEGACY, 1, 1, 0, 0},
    {"0F0,0B0,0W0\n", PL_DIALECT_CURRENT, PL_DIALECT_CURRENT, 1, 0, 1, 1},
    /* tokens of the other dialect are parse errors */
    {"0F0,0I0,0W0\n", PL_DIALECT_LEGACY, PL_EPARSE, 0, 0, 0, 0},
    {"0F0,0BW0\n", PL_DIALECT_CURRENT, PL_EPARSE, 0, 0, 0, 0},
    {"0F0,0I0,0W0,0F1,0BW1\n", PL_DIALECT_AUTO, PL_EPARSE, 0, 0, 0, 0},
    /* compounds are looked into */
    {"0F0,(0F1;0I0)OVERLAP_F_B,0W0,0B1\n", PL_DIALECT_AUTO, PL_DIALECT_CURRENT,
     2, 1, 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_sched *s = NULL;
    pl_csv_info info;
    int rc = pl_sched_read_csv(cases[i].csv, strlen(cases[i].csv),
                               cases[i].forced, &s, &info, &eb);
    if (cases[i].want < 0) {
      if (rc != cases[i].want)
        fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].want,
                 eb.msg);
      assert_null(s);
      continue;
    }
    if (rc)
      fail_msg("case %zu: %s", i, eb.msg);
    assert_int_equal(info.dialect, cases[i].want);
    int cnt[PL_OP_NKINDS] = {0};
    for (int r = 0; r < pl_sched_ranks(s); r++) {
      size_t n;
      const pl_op *ops = pl_sched_rank_ops(s, r, &n);
      for (size_t k = 0; k < n; k++) {
        if (ops[k].kind == PL_OP_FB) {
          cnt[PL_OP_F]++;
          cnt[ops[k].kind2]++;
        } else {
          cnt[ops[k].kind]++;
        }
      }
    }
    if (cnt[PL_OP_F] != cases[i].f || cnt[PL_OP_B] != cases[i].b ||
        cnt[PL_OP_W] != cases[i].w || cnt[PL_OP_BW] != cases[i].bw)
      fail_msg("case %zu: F/B/W/BW = %d/%d/%d/%d", i, cnt[PL_OP_F],
               cnt[PL_OP_B], cnt[PL_OP_W], cnt[PL_OP_BW]);
    pl_sched_destroy(s);
  }
}

static void test_parse_action(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_op op;
  assert_int_equal(pl_csv_parse_action("2F0", 3, PL_DIALECT_AUTO, &op, &eb), 1);
  assert_int_equal(op.kind, PL_OP_F);
  assert_int_equal(op.stage, 2);
  assert_int_equal(op.mb, 0);
  assert_int_equal(pl_csv_parse_action(" 3I12 ", 6, PL_DIALECT_AUTO, &op,
                                       &eb), 1);
  assert_int_equal(op.kind, PL_OP_B);
  assert_int_equal(op.mb, 12);
  assert_int_equal(pl_csv_parse_action("1B4", 3, PL_DIALECT_CURRENT, &op, &eb),
                   1);
  assert_int_equal(op.kind, PL_OP_BW);
  assert_int_equal(pl_csv_parse_action("1B4", 3, PL_DIALECT_LEGACY, &op, &eb),
                   1);
  assert_int_equal(op.kind, PL_OP_B);
  const char *fb = "(0F7;7B3)OVERLAP_F_B";
  assert_int_equal(pl_csv_parse_action(fb, strlen(fb), PL_DIALECT_AUTO, &op,
                                       &eb), 1);
  assert_int_equal(op.kind, PL_OP_FB);
  assert_int_equal(op.stage, 0);
  assert_int_equal(op.mb, 7);
  assert_int_equal(op.stage2, 7);
  assert_int_equal(op.mb2, 3);
  assert_int_equal(op.kind2, PL_OP_BW);
  const char *fb2 = "( 7I3 ; 0F7 )OVERLAP_F_B";
  assert_int_equal(pl_csv_parse_action(fb2, strlen(fb2), PL_DIALECT_AUTO, &op,
                                       &eb), 1);
  assert_int_equal(op.kind2, PL_OP_B);
  assert_int_equal(op.stage, 0);
  assert_int_equal(op.stage2, 7);
  assert_int_equal(pl_csv_parse_action("3SEND_F1", 8, PL_DIALECT_AUTO, &op,
                                       &eb), 0);
  assert_int_equal(pl_csv_parse_action("1UNSHARD", 8, PL_DIALECT_AUTO, &op,
                                       &eb), 0);
  assert_int_equal(pl_csv_parse_action("0REDUCE_GRAD", 12, PL_DIALECT_AUTO,
                                       &op, &eb), 0);
  assert_int_equal(pl_csv_parse_action("", 0, PL_DIALECT_AUTO, &op, &eb),
                   PL_EPARSE);
  assert_int_equal(pl_csv_parse_action("2F0x", 4, PL_DIALECT_AUTO, &op, &eb),
                   PL_EPARSE);
  assert_string_equal(eb.msg, "'2F0x': unexpected 'x' after the action");
}

static void test_parse_errors(void **state)
{
  (void)state;
  static const struct {
    const char *csv;
    int rc;
    const char *msg; /* exact message */
  } cases[] = {
    {"", PL_EPARSE, "no rows: the file is empty (a schedule CSV has one row "
                    "per rank, one action per cell)"},
    {"\n\n", PL_EPARSE, "no rows: the file is empty (a schedule CSV has one "
                        "row per rank, one action per cell)"},
    {",,\n", PL_EPARSE, "no compute action (F, I, B, W) in 1 row"},
    {"0F0,0F1x\n", PL_EPARSE, "line 1, cell 2: '0F1x': unexpected 'x' after "
                              "the action"},
    {"0F0,0B0\n1F0,1Q0\n", PL_EPARSE,
     "line 2, cell 2: '1Q0': unknown action type 'Q' (expected F, I, B, W, "
     "SEND_F, RECV_F, SEND_B, RECV_B, UNSHARD, RESHARD or REDUCE_GRAD)"},
    {"0F0,-1F0\n", PL_EPARSE, "line 1, cell 2: '-1F0': expected an action "
                              "<stage><TYPE><microbatch> such as '2F0' at "
                              "'-1F0'"},
    {"0F0,0F\n", PL_EPARSE, "line 1, cell 2: '0F': F needs a microbatch "
                            "number (e.g. '0F0')"},
    {"0F0,0UNSHARD3\n", PL_EPARSE, "line 1, cell 2: '0UNSHARD3': UNSHARD "
                                   "takes no microbatch number"},
    {"0F0,99999999999999999999F0\n", PL_EPARSE,
     "line 1, cell 2: '99999999999999999999F0': stage number "
     "'99999999999999999999' is too large (at most 32766)"},
    {"0F0,0F99999999999\n", PL_EPARSE,
     "line 1, cell 2: '0F99999999999': microbatch number '99999999999' is too "
     "large (at most 16777215)"},
    {"0F0,32766F4000000\n", PL_EPARSE,
     "line 1, cell 2: '32766F4000000': 32767 stages x 4000001 microbatches is "
     "too large (at most 67108864 (stage, microbatch) pairs)"},
    {"0F0\r\n1F0,\"1B0\r\n", PL_EPARSE, "line 2, cell 2: '\"': quoted cell is "
                                        "not closed (missing '\"')"},
    {"0F0,\"0B0\"x\n", PL_EPARSE, "line 1, cell 2: '0B0': unexpected text "
                                  "after the closing quote"},
    {"0F0,(0F1;1I0\n", PL_EPARSE, "line 1, cell 2: '(0F1;1I0': '(' without "
                                  "a closing ')'"},
    {"0F0,(0F1;1I0)OVERLAP\n", PL_EPARSE,
     "line 1, cell 2: '(0F1;1I0)OVERLAP': expected OVERLAP_F_B after ')', got "
     "'OVERLAP'"},
    {"(0F1;0F2)OVERLAP_F_B\n", PL_EPARSE,
     "line 1, cell 1: '(0F1;0F2)OVERLAP_F_B': OVERLAP_F_B pairs one forward "
     "(F) with one backward (I or B)"},
    {"(0F1)OVERLAP_F_B\n", PL_EPARSE, "line 1, cell 1: '(0F1)OVERLAP_F_B': "
                                      "OVERLAP_F_B takes two actions, got 1"},
    {"0F0,0B0\n\n1F0\n", PL_EINVALSCHED,
     "line 2: rank 1 runs no compute action (a blank line is a rank with no "
     "actions)"},
    {"0F0,1F0\n1B0\n", PL_EINVALSCHED,
     "line 2, cell 1: '1B0': stage 1 also runs on rank 0 (line 1, cell 2); "
     "every stage must be on exactly one rank"},
    {"0F0,2F0\n", PL_EINVALSCHED, "stage 1 has no compute action in any row, "
                                  "but stages up to 2 are used (stages must "
                                  "be numbered 0 to S-1)"},
    {"0F0,0B0,5SEND_F0\n", PL_EINVALSCHED,
     "line 1, cell 3: '5SEND_F0': this stage has no compute action in any "
     "row"},
    {"0F0,0I0,0W0\n1F0,1BW0\n", PL_EPARSE,
     "line 2, cell 2: '1BW0': BW (full backward) exists only in the legacy "
     "dialect; the current dialect writes it B (use --dialect legacy if B "
     "means input backward in this file)"},
    {"0F0\x01,0B0\n", PL_EPARSE, "line 1, cell 1: '0F0?': unexpected '?' "
                                 "after the action"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_sched *s = (pl_sched *)&eb; /* must be reset to NULL */
    int rc = pl_sched_read_csv(cases[i].csv, strlen(cases[i].csv),
                               PL_DIALECT_AUTO, &s, NULL, &eb);
    if (rc != cases[i].rc || strcmp(eb.msg, cases[i].msg))
      fail_msg("case %zu: rc %d msg\n  got:  %s\n  want: %s", i, rc, eb.msg,
               cases[i].msg);
    assert_null(s);
  }
  /* A file error names the file. */
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  assert_int_equal(pl_sched_load_csv(PL_TEST_DATA "/pytorch/README.md",
                                     PL_DIALECT_AUTO, &s, NULL, &eb),
                   PL_EPARSE);
  assert_non_null(strstr(eb.msg, "README.md': line 1, cell 1: "));
  assert_int_equal(pl_sched_load_csv("/nonexistent/x.csv", PL_DIALECT_AUTO,
                                     &s, NULL, &eb), PL_EIO);
  assert_non_null(strstr(eb.msg, "/nonexistent/x.csv"));
}

/* Garbage never crashes: every prefix of the fixtures and a few mutations
 * either load or fail with a message. */
static void test_no_crash_on_garbage(void **state)
{
  (void)state;
  size_t len;
  char *text = slurp(DPV, &len);
  char *buf = malloc(len + 1);
  unsigned seed = 12345;
  for (size_t cut = 0; cut <= len; cut += 7) {
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_pt_sched *t = NULL;
    int rc = pl_pt_read_csv(text, cut, PL_DIALECT_AUTO, &t, NULL, &eb);
    assert_true(rc == 0 || eb.msg[0] != 0);
    pl_pt_destroy(t);
  }
  static const char junk[] = "\"(;),\n\r0123456789FIBWSEND_RECV_OVERLAP\x00\xff";
  for (int it = 0; it < 2000; it++) {
    memcpy(buf, text, len);
    for (int k = 0; k < 4; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t at = (seed >> 8) % len;
      seed = seed * 1103515245u + 12345u;
      buf[at] = junk[(seed >> 8) % (sizeof junk - 1)];
    }
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_pt_sched *t = NULL;
    int rc = pl_pt_read_csv(buf, len, PL_DIALECT_AUTO, &t, NULL, &eb);
    if (rc == 0) {
      pl_pt_sched *low = NULL;
      int steps;
      if (pl_pt_lower(t, &low, &eb) == 0) {
        pl_pt_unit_time(low, NULL, &steps, &eb);
        pl_pt_destroy(low);
      }
      pl_sched *s = NULL;
      if (pl_pt_to_sched(t, &s, &eb) == 0) {
        pl_sched_validate(s, &eb);
        pl_sched_destroy(s);
      }
    } else {
      assert_true(eb.msg[0] != 0);
    }
    pl_pt_destroy(t);
  }
  free(buf);
  pl_free(text);
}

/* ------------------------------------------------ stuck schedules ----- */

static void test_stuck_schedules(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *t = NULL, *out = NULL;
  int steps;
  /* A comms schedule whose RECV never gets a SEND: rank 1 waits for a
   * forward activation that rank 0 never sends. */
  const char *c1 = "0F0,0RECV_B0,0B0\n1RECV_F0,1F0,1B0,1SEND_B0\n";
  assert_int_equal(pl_pt_read_csv(c1, strlen(c1), PL_DIALECT_AUTO, &t, NULL,
                                  &eb), 0);
  assert_int_equal(pl_pt_unit_time(t, &out, &steps, &eb), PL_EDEADLOCK);
  assert_null(out);
  assert_string_equal(eb.msg,
                      "schedule is not progressing at step 1: rank 0 next "
                      "action 0RECV_B0 (cell 2) waits for 1SEND_B0; rank 1 "
                      "next action 1RECV_F0 (cell 1) waits for 0SEND_F0");
  pl_pt_destroy(t);
  /* A compute schedule whose first actions wait on each other: lowering
   * cannot place the sends. */
  const char *c2 = "0B0,0F0\n1F0,1B0\n";
  assert_int_equal(pl_pt_read_csv(c2, strlen(c2), PL_DIALECT_AUTO, &t, NULL,
                                  &eb), 0);
  assert_int_equal(pl_pt_lower(t, &out, &eb), PL_EDEADLOCK);
  assert_null(out);
  assert_string_equal(eb.msg,
                      "malformed compute schedule, can't schedule "
                      "sends/recvs: rank 0 next action 0B0 (cell 1) waits for "
                      "0RECV_B0 or 1I0/1B0; rank 1 next action 1F0 (cell 1) "
                      "waits for 1RECV_F0 or 0F0");
  pl_pt_destroy(t);
  /* The legacy fused comm token is not simulated. */
  const char *c3 = "0F0,0SEND_F0_0RECV_B0,0BW0\n1F0,1BW0\n";
  assert_int_equal(pl_pt_read_csv(c3, strlen(c3), PL_DIALECT_AUTO, &t, NULL,
                                  &eb), 0);
  assert_int_equal(pl_pt_unit_time(t, NULL, &steps, &eb), PL_ENOTSUP);
  pl_pt_destroy(t);
}

/* The dry run's extensions: UNSHARD/RESHARD/REDUCE_GRAD always ready,
 * OVERLAP_F_B when both parts are. */
static void test_unit_time_extensions(void **state)
{
  (void)state;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *t = NULL, *low = NULL;
  int steps = 0;
  pl_pt_sched *d = load_pt(DPV, NULL);
  assert_int_equal(pl_pt_lower(d, &low, &eb), 0);
  pl_pt_sched *sim = NULL;
  assert_int_equal(pl_pt_unit_time(low, &sim, &steps, &eb), 0);
  /* No upstream value exists (PyTorch rejects OVERLAP_F_B); 152 steps and
   * these rows were cross-checked with an independent Python port of
   * _merge_bw/_add_send_recv/_simulate_comms_compute given the same
   * OVERLAP_F_B extension. */
  assert_int_equal(steps, 152);
  static const size_t slots[4] = {151, 152, 150, 148}, idle[4] = {80, 38, 37,
                                                                 75};
  for (int r = 0; r < 4; r++) {
    size_t n;
    pl_pt_row(sim, r, &n);
    assert_int_equal(n, slots[r]);
    assert_int_equal(pl_pt_row_idle(sim, r), idle[r]);
  }
  pl_pt_destroy(sim);
  pl_pt_destroy(low);
  pl_pt_destroy(d);
  const char *c = "0UNSHARD,0F0,0SEND_F0,0RECV_B0,0B0,0REDUCE_GRAD,0RESHARD\n"
                  "1RECV_F0,1F0,1B0,1SEND_B0\n";
  assert_int_equal(pl_pt_read_csv(c, strlen(c), PL_DIALECT_AUTO, &t, NULL,
                                  &eb), 0);
  assert_int_equal(pl_pt_unit_time(t, NULL, &steps, &eb), 0);
  /* UNSHARD, F, SEND, idle, idle (RECV_B filled in step 4 by pass 2) ...:
   * rank 0 = 0UNSHARD 0F0 0SEND_F0 - - 0RECV_B0 0B0 0REDUCE_GRAD 0RESHARD. */
  assert_int_equal(steps, 9);
  pl_pt_destroy(t);
}

/* A UTF-8 byte order mark before the first cell (a spreadsheet's "CSV
 * UTF-8") is skipped: it was a parse error in cell 1. */
static void test_bom(void **state)
{
  (void)state;
  static const char plain[] = "0F0,0F1,0B0,0B1\n";
  static const char bom[] = "\xef\xbb\xbf" "0F0,0F1,0B0,0B1\n";
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *a = NULL, *b = NULL;
  assert_int_equal(pl_sched_read_csv(plain, sizeof plain - 1, PL_DIALECT_AUTO,
                                     &a, NULL, &eb), 0);
  int rc = pl_sched_read_csv(bom, sizeof bom - 1, PL_DIALECT_AUTO, &b, NULL,
                             &eb);
  if (rc)
    fail_msg("with a BOM: %s", eb.msg);
  size_t n, n2;
  const pl_op *x = pl_sched_rank_ops(a, 0, &n), *y = pl_sched_rank_ops(b, 0, &n2);
  assert_int_equal(n, 4);
  assert_int_equal(n2, 4);
  assert_memory_equal(x, y, 4 * sizeof *x);
  assert_int_equal(pl_sched_validate(b, &eb), 0);
  pl_sched_destroy(a);
  pl_sched_destroy(b);
  /* Only at the very start: elsewhere it is text in a cell. */
  static const char late[] = "0F0,\xef\xbb\xbf" "0B0\n";
  assert_int_equal(pl_sched_read_csv(late, sizeof late - 1, PL_DIALECT_AUTO,
                                     &b, NULL, &eb), PL_EPARSE);
}

/* An allocator that refuses any single block above a limit, to show that a
 * small input never asks for a large one. */
static size_t big_limit, big_seen;
static void *lim_malloc(size_t n)
{
  if (n > big_seen)
    big_seen = n;
  return n > big_limit ? NULL : malloc(n);
}
static void *lim_realloc(void *p, size_t n)
{
  if (n > big_seen)
    big_seen = n;
  return n > big_limit ? NULL : realloc(p, n);
}
static void *lim_calloc(size_t n, size_t size)
{
  size_t t = size && n > (size_t)-1 / size ? (size_t)-1 : n * size;
  if (t > big_seen)
    big_seen = t;
  return t > big_limit ? NULL : calloc(n, size);
}

/* Four rows, one naming microbatch 16777215: validation sized a table by
 * stages x microbatches (4 x 2^24 x 16 bytes = 1 GiB). It now follows the
 * number of ops, and names the first missing forward. */
static void test_validate_big_microbatch(void **state)
{
  (void)state;
  static const char csv[] = "0F16777215\n1F0\n2F0\n3F0\n";
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sched *s = NULL;
  assert_int_equal(pl_sched_read_csv(csv, sizeof csv - 1, PL_DIALECT_AUTO, &s,
                                     NULL, &eb), 0);
  assert_int_equal(pl_sched_microbatches(s), 16777216);
  big_limit = (size_t)1 << 20;
  big_seen = 0;
  pl_set_allocator(lim_malloc, lim_realloc, lim_calloc, free);
  int rc = pl_sched_validate(s, &eb);
  pl_set_allocator(malloc, realloc, calloc, free);
  if (rc != PL_EINVALSCHED)
    fail_msg("validate: rc %d (%s), largest block %zu bytes", rc, eb.msg,
             big_seen);
  assert_string_equal(eb.msg, "stage 0 (rank 0) never runs the forward F0s0");
  assert_true(big_seen <= ((size_t)1 << 20));
  pl_sched_destroy(s);
}

/* The round-trip property of the schedule reader on the fixtures: what it
 * accepts (any dialect) is written back as current-dialect CSV and reads
 * back into the same ops (fuzz/fuzz_csv.c checks it on random input). */
static void test_roundtrip_fixtures(void **state)
{
  (void)state;
  static const char *const files[] = {ZB_COMPUTE, ZB_COMMS, DPV};
  static const char *const texts[] = {
      "0F0,0F1,0BW0,0BW1\n",                   /* legacy, unsplit */
      "0F0,,0I0,0W0\n1F0,1B0\n",               /* blank cell, two ranks */
      "\xef\xbb\xbf" "0F0,(0F1;0I0)OVERLAP_F_B,0W0,0I1,0W1\n",
  };
  char why[512];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    size_t len;
    char *text = slurp(files[i], &len);
    if (rt_sched_csv(text, len, why, sizeof why))
      fail_msg("%s: %s", files[i], why);
    pl_free(text);
  }
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (rt_sched_csv(texts[i], strlen(texts[i]), why, sizeof why))
      fail_msg("text %zu: %s", i, why);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_zb1p_compute_loads),
    cmocka_unit_test(test_zb1p_lowering_golden),
    cmocka_unit_test(test_zb1p_unit_time),
    cmocka_unit_test(test_dualpipev_fixture),
    cmocka_unit_test(test_fixture_round_trip),
    cmocka_unit_test(test_crlf_quotes_no_final_newline),
    cmocka_unit_test(test_generator_round_trip),
    cmocka_unit_test(test_generated_lower_and_unit_time),
    cmocka_unit_test(test_dialect_detection),
    cmocka_unit_test(test_parse_action),
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test(test_no_crash_on_garbage),
    cmocka_unit_test(test_stuck_schedules),
    cmocka_unit_test(test_unit_time_extensions),
    cmocka_unit_test(test_bom),
    cmocka_unit_test(test_validate_big_microbatch),
    cmocka_unit_test(test_roundtrip_fixtures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
