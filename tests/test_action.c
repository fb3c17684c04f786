/* test_action.c: the one PyTorch action grammar (sim/action.c). The same
 * table of strings goes through the three readers that use it: the
 * one-action parser (pl_action_parse), the Kineto importer's
 * (pl_trace_parse_action) and the schedule CSV reader (a one-cell file);
 * they must accept and reject the same strings, the CSV reader with the
 * grammar's own message after its "line 1, cell 1: " position. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "pipelab/traces.h"

#define AUTO PL_DIALECT_AUTO
#define CUR PL_DIALECT_CURRENT
#define LEG PL_DIALECT_LEGACY

static const struct {
  const char *s;
  int dialect;
  int ret;                 /* 1 compute, 0 runs nothing, else PL_EPARSE */
  int kind, stage, mb;     /* when ret == 1 */
  int kind2, stage2, mb2;  /* when kind == PL_OP_FB */
} cases[] = {
  /* accepted: compute */
  {"0F0", AUTO, 1, PL_OP_F, 0, 0, 0, 0, 0},
  {"1F0", AUTO, 1, PL_OP_F, 1, 0, 0, 0, 0},
  {" 12F345 ", AUTO, 1, PL_OP_F, 12, 345, 0, 0, 0},
  {"2I0", AUTO, 1, PL_OP_B, 2, 0, 0, 0, 0},
  {"2I0", CUR, 1, PL_OP_B, 2, 0, 0, 0, 0},
  {"3B2", AUTO, 1, PL_OP_BW, 3, 2, 0, 0, 0},   /* current: B = full */
  {"3B2", CUR, 1, PL_OP_BW, 3, 2, 0, 0, 0},
  {"3B2", LEG, 1, PL_OP_B, 3, 2, 0, 0, 0},     /* legacy: B = input */
  {"1W1", AUTO, 1, PL_OP_W, 1, 1, 0, 0, 0},
  {"1W1", CUR, 1, PL_OP_W, 1, 1, 0, 0, 0},
  {"0BW1", AUTO, 1, PL_OP_BW, 0, 1, 0, 0, 0},  /* BW says legacy */
  {"0BW1", LEG, 1, PL_OP_BW, 0, 1, 0, 0, 0},
  {"(0F7;7B3)OVERLAP_F_B", AUTO, 1, PL_OP_FB, 0, 7, PL_OP_BW, 7, 3},
  {"(7I3;0F7)OVERLAP_F_B", AUTO, 1, PL_OP_FB, 0, 7, PL_OP_B, 7, 3},
  {"( 7I3 ; 0F7 )OVERLAP_F_B", AUTO, 1, PL_OP_FB, 0, 7, PL_OP_B, 7, 3},
  {"(1F2;1BW0)OVERLAP_F_B", LEG, 1, PL_OP_FB, 1, 2, PL_OP_BW, 1, 0},
  /* accepted: runs nothing */
  {"0SEND_F1", AUTO, 0, 0, 0, 0, 0, 0, 0},
  {"1RECV_F1", AUTO, 0, 0, 0, 0, 0, 0, 0},
  {"0SEND_B3", AUTO, 0, 0, 0, 0, 0, 0, 0},
  {"1RECV_B0", AUTO, 0, 0, 0, 0, 0, 0, 0},
  {"1UNSHARD", AUTO, 0, 0, 0, 0, 0, 0, 0},
  {"1RESHARD", AUTO, 0, 0, 0, 0, 0, 0, 0},
  {"0REDUCE_GRAD", AUTO, 0, 0, 0, 0, 0, 0, 0},
  {"0SEND_F1_1RECV_B0", AUTO, 0, 0, 0, 0, 0, 0, 0}, /* legacy fused comm */
  {"0SEND_B1_1RECV_F0", LEG, 0, 0, 0, 0, 0, 0, 0},
  /* rejected: no stage number */
  {"F0", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"B3", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"I2", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"W1", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"BW", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"-1F0", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  /* rejected: type, microbatch, trailing text, limits */
  {"2X0", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"junk", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"2F", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"2F0x", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"2F0 1F0", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"1UNSHARD3", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"0SEND_F", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"0SEND_Fxyz", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"99999999999F0", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"32767F0", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"0F16777216", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  /* rejected: not in the chosen dialect */
  {"0I0", LEG, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"0BW1", CUR, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"0SEND_F1_0RECV_B0", CUR, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"0SEND_F1_1RECV_F0", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  /* rejected: compounds */
  {"(0F7)OVERLAP_F_B", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"(0F7;1F3)OVERLAP_F_B", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"(0F7;1W3)OVERLAP_F_B", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"(0F7;1SEND_F3)OVERLAP_F_B", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"(0F7;1B3;2B4)OVERLAP_F_B", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"(0F7;1B3", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"(0F7;1B3)OVERLAP", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"(0F7;1B3)OVERLAP_F_Bx", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  /* rejected: nothing there (the CSV reader's empty cell is an idle slot,
   * decided before the grammar; see test_blank_is_idle_in_csv) */
  {"", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
  {"   ", AUTO, PL_EPARSE, 0, 0, 0, 0, 0, 0},
};

static void check_op(size_t i, const pl_op *op)
{
  if (op->kind != cases[i].kind || op->stage != cases[i].stage ||
      op->mb != cases[i].mb)
    fail_msg("case %zu '%s': op %d %d %d, want %d %d %d", i, cases[i].s,
             op->kind, op->stage, op->mb, cases[i].kind, cases[i].stage,
             cases[i].mb);
  if (op->kind == PL_OP_FB &&
      (op->kind2 != cases[i].kind2 || op->stage2 != cases[i].stage2 ||
       op->mb2 != cases[i].mb2))
    fail_msg("case %zu '%s': second op %d %d %d, want %d %d %d", i,
             cases[i].s, op->kind2, op->stage2, op->mb2, cases[i].kind2,
             cases[i].stage2, cases[i].mb2);
}

/* pl_action_parse, pl_csv_parse_action and pl_trace_parse_action: the same
 * result, the same op and the same message for every string. */
static void test_one_action_parsers_agree(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *s = cases[i].s;
    pl_op a = PL_OP_INIT, c = PL_OP_INIT, k = PL_OP_INIT;
    struct pl_errbuf ea = PL_ERRBUF_INIT, ec = PL_ERRBUF_INIT,
                     ek = PL_ERRBUF_INIT;
    int ra = pl_action_parse(s, strlen(s), cases[i].dialect, &a, &ea);
    int rc = pl_csv_parse_action(s, strlen(s), cases[i].dialect, &c, &ec);
    int rk = pl_trace_parse_action(s, strlen(s), cases[i].dialect, &k, &ek);
    if (ra != cases[i].ret)
      fail_msg("case %zu '%s': pl_action_parse %d, want %d (%s)", i, s, ra,
               cases[i].ret, ea.msg);
    if (rc != ra || rk != ra)
      fail_msg("case %zu '%s': csv %d, kineto %d, grammar %d", i, s, rc, rk,
               ra);
    assert_string_equal(ec.msg, ea.msg);
    assert_string_equal(ek.msg, ea.msg);
    if (ra < 0) {
      /* One line that quotes the action (blank ones say so). */
      assert_non_null(strstr(ea.msg, s[0] && s[0] != ' ' ? s : "empty"));
      assert_null(strchr(ea.msg, '\n'));
      continue;
    }
    assert_memory_equal(&c, &a, sizeof a);
    assert_memory_equal(&k, &a, sizeof a);
    if (ra == 1)
      check_op(i, &a);
  }
}

/* The CSV reader on the row "0F0,<string>": a string the grammar rejects is
 * a PL_EPARSE at line 1, cell 2 with the grammar's message; a string it
 * accepts is never a parse error of that cell (the file may still fail for
 * schedule reasons: stage 3 leaves stages 1-2 without work). 0F0 says
 * nothing about the dialect. */
static void test_csv_reader_agrees(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *s = cases[i].s;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
      n--;
    if (n == 0 || s[0] == ' ')
      continue; /* blank cells are idle slots to the reader */
    pl_op op;
    struct pl_errbuf eg = PL_ERRBUF_INIT, er = PL_ERRBUF_INIT;
    int rg = pl_action_parse(s, strlen(s), cases[i].dialect, &op, &eg);
    char csv[128];
    snprintf(csv, sizeof csv, "0F0,%s\n", s);
    pl_pt_sched *t = NULL;
    int rr = pl_pt_read_csv(csv, strlen(csv), cases[i].dialect, &t, NULL,
                            &er);
    pl_pt_destroy(t);
    char want[sizeof eg.msg + 32];
    snprintf(want, sizeof want, "line 1, cell 2: %s", eg.msg);
    if (rg < 0) {
      if (rr != PL_EPARSE || !strstr(er.msg, want))
        fail_msg("case %zu '%s': reader %d '%s', want PL_EPARSE '%s'", i, s,
                 rr, er.msg, want);
    } else if (rr == PL_EPARSE && strstr(er.msg, "line 1, cell 2: '")) {
      fail_msg("case %zu '%s': the grammar accepts it, the reader says '%s'",
               i, s, er.msg);
    }
  }
}

/* A two-rank 1F1B written with every accepted token kind round-trips. */
static void test_csv_reader_accepts_all_kinds(void **state)
{
  (void)state;
  static const char csv[] =
      "0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0I0,0W0,0RECV_B1,0I1,0W1,"
      "0UNSHARD,0REDUCE_GRAD\n"
      "1RECV_F0,1F0,1I0,1SEND_B0,1W0,1RECV_F1,(1F1;1I1)OVERLAP_F_B,"
      "1SEND_B1,1W1\n";
  pl_sched *s = NULL;
  pl_csv_info info;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_sched_read_csv(csv, strlen(csv), AUTO, &s, &info, &eb);
  if (rc)
    fail_msg("%s", eb.msg);
  assert_int_equal(pl_sched_ranks(s), 2);
  assert_int_equal(info.comm_cells, 10);
  assert_int_equal(info.fused_cells, 1);
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, 1, &n);
  assert_int_equal(n, 5); /* F0 B0 W0 FB(F1, B1) W1 */
  assert_int_equal(ops[3].kind, PL_OP_FB);
  assert_int_equal(ops[3].kind2, PL_OP_B);
  pl_sched_destroy(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_one_action_parsers_agree),
    cmocka_unit_test(test_csv_reader_agrees),
    cmocka_unit_test(test_csv_reader_accepts_all_kinds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
