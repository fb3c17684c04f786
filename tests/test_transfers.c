/* test_transfers.c: how P2P transfers behave in the engine (docs/transfers.md):
 * the async, blocking and batched P2P modes, link queues, per-boundary
 * links, free local hand-offs, the per-op launch gap, the optimizer step in
 * the iteration time, and the per-link trace tracks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pipelab/pipelab.h"
#include "pipelab/traces.h"

/* Generates `name` and a uniform cost table (one microbatch through one
 * rank's layers: tf, tb, tw; comm = P2P latency). */
static void make(const char *name, int p, int m, int v, double tf, double tb,
                 double tw, double comm, pl_sched **s, pl_costs **c)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  gp.p = p;
  gp.m = m;
  gp.v = v;
  gp.tf = tf;
  gp.tb = tb;
  gp.tw = tw;
  gp.comm = comm;
  int rc = pl_sched_gen(name, &gp, s, &eb);
  if (rc)
    fprintf(stderr, "%s: %s\n", name, eb.msg);
  assert_int_equal(rc, 0);
  assert_int_equal(pl_costs_create(pl_sched_stages(*s), p, c), 0);
  assert_int_equal(pl_costs_uniform(*c, pl_sched_chunks(*s), tf, tb, tw, comm,
                                    0.5),
                   0);
}

static int run(const pl_sched *s, const pl_costs *c, int mode, unsigned flags,
               pl_result *r, struct pl_errbuf *eb)
{
  pl_costs *k;
  assert_int_equal(pl_costs_create(c->n_stages, c->n_ranks, &k), 0);
  memcpy(k->stage, c->stage, (size_t)c->n_stages * sizeof *k->stage);
  memcpy(k->rank_speed, c->rank_speed, (size_t)c->n_ranks * sizeof(double));
  k->comm_latency = c->comm_latency;
  k->comm_bandwidth = c->comm_bandwidth;
  k->op_gap = c->op_gap;
  k->send_overhead = c->send_overhead;
  k->recv_overhead = c->recv_overhead;
  k->local_overhead = c->local_overhead;
  k->p2p_mode = mode;
  *r = (pl_result)PL_RESULT_INIT;
  int rc = pl_sim_run(s, k, flags, r, eb);
  pl_costs_destroy(k);
  return rc;
}

static double makespan(const char *name, int p, int m, double tf, double tb,
                       double tw, double comm, int mode, double gap)
{
  pl_sched *s;
  pl_costs *c;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make(name, p, m, 0, tf, tb, tw, comm, &s, &c);
  c->op_gap = gap;
  int rc = run(s, c, mode, 0, &r, &eb);
  if (rc)
    fprintf(stderr, "%s: %s\n", name, eb.msg);
  assert_int_equal(rc, 0);
  double t = r.makespan;
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
  return t;
}

static void test_mode_names(void **state)
{
  (void)state;
  assert_string_equal(pl_p2p_mode_name(PL_P2P_ASYNC), "async");
  assert_string_equal(pl_p2p_mode_name(PL_P2P_BLOCKING), "blocking");
  assert_string_equal(pl_p2p_mode_name(PL_P2P_BATCHED), "batched");
  assert_string_equal(pl_p2p_mode_name(9), "?");
  for (int k = 0; k < PL_P2P_NMODES; k++)
    assert_int_equal(pl_p2p_mode_parse(pl_p2p_mode_name(k)), k);
  assert_int_equal(pl_p2p_mode_parse("nonblocking"), -1);
  assert_int_equal(pl_p2p_mode_parse(NULL), -1);

  /* A fresh cost table is async without a gap: today's engine. */
  pl_costs *c;
  assert_int_equal(pl_costs_create(2, 2, &c), 0);
  assert_int_equal(c->p2p_mode, PL_P2P_ASYNC);
  assert_true(c->op_gap == 0);
  pl_costs_destroy(c);

  /* Bad runtime fields are refused with one line. */
  pl_sched *s;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("1f1b", 2, 2, 0, 1, 1, 1, 0, &s, &c);
  c->p2p_mode = 7;
  r = (pl_result)PL_RESULT_INIT;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), PL_EINVAL);
  assert_non_null(strstr(eb.msg, "P2P mode"));
  c->p2p_mode = PL_P2P_ASYNC;
  c->op_gap = -1;
  assert_int_equal(pl_sim_run(s, c, 0, &r, &eb), PL_EINVAL);
  assert_null(strchr(eb.msg, '\n'));
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* Free transfers (no latency, no bytes) cost nothing in any mode: with at
 * least as many microbatches as ranks (interleaved: m a multiple of p,
 * m > p), blocking and batched give async's makespan exactly, for every
 * shape and cost set below. GPipe's and (batched) 1F1B's receivers are
 * always waiting when their data is ready, so every op runs at async's
 * time; elsewhere a rendezvous may hold an op off the critical path (a
 * sender waits for a receiver still busy), which moves that op but not the
 * iteration. */
static void test_free_transfers_equal_async(void **state)
{
  (void)state;
  static const double cost[][3] = {
    {1, 1, 1}, {2, 1, 1}, {1, 2, 0.5}, {3, 1, 2}, {1, 1, 0}};
  static const char *const names[] = {"gpipe", "1f1b", "interleaved"};
  int cases = 0, same_ops = 0;
  for (int n = 0; n < 3; n++)
    for (int p = 1; p <= 7; p++)
      for (int m = p; m <= 16; m++)
        for (int k = 0; k < 5; k++) {
          int v = n == 2 ? 2 + (m + k) % 2 : 0;
          if (n == 2 && (m % p || m <= p))
            continue; /* Megatron's interleaved loop: m a multiple of p */
          pl_sched *s;
          pl_costs *c;
          pl_result a, b;
          struct pl_errbuf eb = PL_ERRBUF_INIT;
          make(names[n], p, m, v, cost[k][0], cost[k][1], cost[k][2], 0, &s,
               &c);
          /* Zero-size messages over a real link: no transmission time. */
          c->comm_bandwidth = 1e9;
          assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &a, &eb),
                           0);
          for (int mode = PL_P2P_BLOCKING; mode <= PL_P2P_BATCHED; mode++) {
            int rc = run(s, c, mode, PL_SIM_RECORD_OPS, &b, &eb);
            if (rc)
              fprintf(stderr, "%s p=%d m=%d v=%d: %s\n", names[n], p, m, v,
                      eb.msg);
            assert_int_equal(rc, 0);
            assert_true(a.makespan == b.makespan);
            assert_true(a.ideal == b.ideal);
            assert_int_equal(a.n_ops, b.n_ops);
            int same = 1;
            for (size_t i = 0; i < a.n_ops; i++) {
              same &= a.ops[i].start == b.ops[i].start;
              assert_true(b.ops[i].start >= a.ops[i].start);
            }
            if (n == 0 || (n == 1 && mode == PL_P2P_BATCHED))
              assert_true(same);
            same_ops += same;
            pl_result_free(&b);
            cases++;
          }
          pl_result_free(&a);
          pl_sched_destroy(s);
          pl_costs_destroy(c);
        }
  assert_int_equal(cases, 2 * (455 + 455 + 165));
  assert_true(same_ops >= 2 * 455 + 455);
}

/* ...but a rendezvous holds the sender until its receiver gets there. ZB-H1
 * sends gradients while the upstream rank is busy with a W: under batched
 * P2P the sender waits (unit costs, p = 4, m = 8: 33 instead of 27), and
 * under blocking P2P the pairing order deadlocks (a send to a rank that
 * first wants to send back), which the error names. */
static void test_rendezvous_backpressure(void **state)
{
  (void)state;
  assert_true(makespan("zb-h1", 4, 8, 1, 1, 1, 0, PL_P2P_ASYNC, 0) == 27);
  assert_true(makespan("zb-h1", 4, 8, 1, 1, 1, 0, PL_P2P_BATCHED, 0) == 33);
  pl_sched *s;
  pl_costs *c;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("zb-h1", 4, 8, 0, 1, 1, 1, 0, &s, &c);
  assert_int_equal(run(s, c, PL_P2P_BLOCKING, 0, &r, &eb), PL_EDEADLOCK);
  assert_non_null(strstr(eb.msg, "under blocking P2P"));
  assert_non_null(strstr(eb.msg, "rank 0 blocked before B1s0"));
  assert_non_null(strstr(eb.msg, "blocking send of act s0->s1 mb4 to rank 1"));
  pl_sched_destroy(s);
  pl_costs_destroy(c);

  /* The order of one rank's transfers matters: interleaved 1F1B on three
   * ranks with three microbatches (no steady state) pairs its transfers
   * when they are posted together (batched: 13.5 against async 12) but not
   * one at a time in the even/odd order. */
  make("interleaved", 3, 3, 2, 1, 1, 1, 0, &s, &c);
  assert_int_equal(run(s, c, PL_P2P_BLOCKING, 0, &r, &eb), PL_EDEADLOCK);
  assert_non_null(strstr(eb.msg, "under blocking P2P"));
  assert_int_equal(run(s, c, PL_P2P_BATCHED, 0, &r, &eb), 0);
  assert_true(r.makespan == 13.5);
  pl_result_free(&r);
  assert_int_equal(run(s, c, PL_P2P_ASYNC, 0, &r, &eb), 0);
  assert_true(r.makespan == 12);
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/*
 * 1F1B, p = 4, m = 8, T_comm = c: the makespan is
 *   async    11 (T_F + T_BW) + 16 c   (2(p-1)m/p + 2(p-2), schedules' rule)
 *   batched  11 (T_F + T_BW) + 19 c
 *   blocking 11 (T_F + T_BW) + 34 c
 * with T_BW = T_B + T_W. The ops on the critical path are those of the
 * transfer-free 1F1B, (m + p - 1) forwards and backwards; the transfers on
 * it, traced from the end: microbatch 7's gradient back up from rank 3 to
 * rank 0, microbatch 7's activation down from rank 1 to rank 3, rank 1's
 * steady state F3, BW1, F4, ..., BW4, F7 (the bottleneck: a middle rank),
 * microbatch 0's gradient up to rank 1, microbatch 0 down from rank 0.
 * Batched: one exchange per op boundary, so each boundary of rank 1's
 * steady state costs c (its send and receive run together: 8 c), plus
 * 3 + 3 + 2 + 3 = 11 c on the way in and out: 19 c. Blocking: the two
 * transfers of each exchange run one after the other (even ranks send
 * first, odd ranks receive first), so every boundary of rank 1's steady
 * state costs 2 c (16 c: each of rank 1's two stage boundaries adds 2 c per
 * microbatch), and the way in and out 4 + 6 + 4 + 4 = 18 c (an odd rank
 * receives its next input before it sends, which adds one transfer on each
 * hop): 34 c.
 */
static void test_1f1b_closed_forms(void **state)
{
  (void)state;
  static const double cost[][3] = {{1, 1, 1}, {2, 1, 1}, {1, 1.5, 0.5}};
  static const double comms[] = {0.125, 0.25, 0.5, 1};
  for (int k = 0; k < 3; k++)
    for (int j = 0; j < 4; j++) {
      double tf = cost[k][0], tb = cost[k][1], tw = cost[k][2], c = comms[j];
      double base = 11 * (tf + tb + tw);
      assert_true(makespan("1f1b", 4, 8, tf, tb, tw, c, PL_P2P_ASYNC, 0) ==
                  base + 16 * c);
      assert_true(makespan("1f1b", 4, 8, tf, tb, tw, c, PL_P2P_BATCHED, 0) ==
                  base + 19 * c);
      assert_true(makespan("1f1b", 4, 8, tf, tb, tw, c, PL_P2P_BLOCKING, 0) ==
                  base + 34 * c);
    }
}

/* Blocking: a transfer occupies both ranks. The recorded transfers of a
 * 1F1B run never overlap an op of the sender or of the receiver, and a
 * rank does one transfer at a time. */
static void test_blocking_occupies_both_ranks(void **state)
{
  (void)state;
  pl_sched *s;
  pl_costs *c;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("1f1b", 4, 8, 0, 1, 1, 1, 0.5, &s, &c);
  assert_int_equal(run(s, c, PL_P2P_BLOCKING, PL_SIM_RECORD_OPS, &r, &eb), 0);
  assert_int_equal(r.n_xfers, 2 * 3 * 8);
  for (size_t x = 0; x < r.n_xfers; x++) {
    const pl_xfer_rec *t = &r.xfers[x];
    assert_true(t->end - t->start == 0.5);
    assert_true(t->start >= t->ready);
    for (size_t i = 0; i < r.n_ops; i++) {
      const pl_op_rec *o = &r.ops[i];
      if (o->rank == t->src || o->rank == t->dst)
        assert_true(o->end <= t->start || o->start >= t->end);
    }
    for (size_t y = 0; y < x; y++) {
      const pl_xfer_rec *u = &r.xfers[y];
      if (u->src == t->src || u->dst == t->dst || u->src == t->dst ||
          u->dst == t->src)
        assert_true(u->end <= t->start || u->start >= t->end);
    }
  }
  pl_result_free(&r);
  /* Async: the same transfers overlap compute (the sender goes on). */
  assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &r, &eb), 0);
  assert_int_equal(r.n_xfers, 2 * 3 * 8);
  int overlaps = 0;
  for (size_t x = 0; x < r.n_xfers; x++)
    for (size_t i = 0; i < r.n_ops; i++)
      if (r.ops[i].rank == r.xfers[x].src && r.ops[i].start < r.xfers[x].end &&
          r.ops[i].end > r.xfers[x].start)
        overlaps++;
  assert_true(overlaps > 0);
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* Two transfers that share a link take twice as long: GPipe, p = 2, m = 2,
 * a free stage 0, messages of 100 bytes over 100 bytes per unit (1 unit
 * each, no latency). Rank 0's two activations leave at time 0 on the link
 * 0 -> 1: the first arrives at 1, the second queues behind it and arrives
 * at 2. The gradients use the other direction, a separate link. With a
 * latency, each message still pays it (latencies do not queue). */
static void test_link_shared_by_two_transfers(void **state)
{
  (void)state;
  for (int lat = 0; lat <= 1; lat++) {
    pl_sched *s;
    pl_costs *c;
    pl_result r;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    make("gpipe", 2, 2, 0, 0, 0, 0, 0, &s, &c);
    c->stage[0].t[PL_OP_BW] = 1;
    c->stage[1].t[PL_OP_F] = 0.25;
    c->stage[1].t[PL_OP_BW] = 0.5;
    for (int g = 0; g < 2; g++)
      c->stage[g].msg_bytes = 100;
    c->comm_bandwidth = 100;
    c->comm_latency = 0.5 * lat;
    double L = c->comm_latency;
    assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &r, &eb), 0);
    assert_int_equal(r.n_xfers, 4);
    /* Activations (key order: mb 0, mb 1), then gradients. */
    const pl_xfer_rec *a0 = &r.xfers[0], *a1 = &r.xfers[1];
    assert_int_equal(a0->src, 0);
    assert_int_equal(a0->dst, 1);
    assert_int_equal(a1->mb, 1);
    assert_true(a0->ready == 0 && a1->ready == 0);
    assert_true(a0->start == 0 && a0->end == 1 + L);
    assert_true(a1->start == 1 && a1->end == 2 + L);
    assert_true(a1->end - a1->ready == 2 * (a0->end - a0->ready) - L);
    /* Rank 1: F0 at 1 + L, F1 at 2 + L, then BW0 at 2.25 + L, BW1 at
     * 2.75 + L. Gradient 0 leaves at 2.75 + L; gradient 1 at 3.25 + L finds
     * the link 1 -> 0 busy until 3.75 + L. */
    const pl_xfer_rec *g0 = &r.xfers[2], *g1 = &r.xfers[3];
    assert_int_equal(g0->src, 1);
    assert_true(g0->backward);
    assert_true(g0->start == g0->ready && g0->ready == 2.75 + L);
    assert_true(g1->ready == 3.25 + L && g1->start == 3.75 + L);
    assert_true(g1->end == 4.75 + 2 * L);
    /* Rank 0: BW0 when gradient 0 arrives (3.75 + 2L), BW1 right after it
     * (gradient 1 arrives as BW0 ends): 5.75 + 2L. */
    assert_true(r.makespan == 5.75 + 2 * L);
    pl_result_free(&r);

    /* Without bandwidth (a pure latency, today's --comm) nothing queues. */
    c->comm_bandwidth = 0;
    c->comm_latency = 1;
    assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &r, &eb), 0);
    assert_true(r.xfers[1].start == 0 && r.xfers[1].end == 1);
    pl_result_free(&r);
    pl_sched_destroy(s);
    pl_costs_destroy(c);
  }
}

/* Latency plus bandwidth that never queues is exactly the same pure
 * latency: 1F1B's sends on a link are a whole op apart. */
static void test_unqueued_bandwidth_equals_latency(void **state)
{
  (void)state;
  pl_sched *s;
  pl_costs *c;
  pl_result a, b;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("1f1b", 4, 8, 0, 1, 1, 1, 0.5, &s, &c);
  assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &a, &eb), 0);
  assert_true(a.makespan == 41);
  c->comm_latency = 0.25;
  c->comm_bandwidth = 4;
  for (int g = 0; g < 4; g++)
    c->stage[g].msg_bytes = 1; /* 0.25 on the link */
  assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &b, &eb), 0);
  assert_true(b.makespan == 41);
  for (size_t i = 0; i < a.n_ops; i++)
    assert_true(a.ops[i].start == b.ops[i].start);
  pl_result_free(&a);
  pl_result_free(&b);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* Every stage boundary may have its own link (inside a node vs across
 * nodes): the messages over it take its latency + bytes / bandwidth, in
 * every mode. */
static void test_per_boundary_links(void **state)
{
  (void)state;
  for (int mode = 0; mode < PL_P2P_NMODES; mode++) {
    pl_sched *s;
    pl_costs *c;
    pl_result r;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    make("1f1b", 3, 6, 0, 1, 1, 1, 0.25, &s, &c);
    c->stage[1].has_link = 1; /* boundary 1 -> 2 */
    c->stage[1].link_latency = 0.5;
    c->stage[1].link_bandwidth = 8;
    c->stage[1].msg_bytes = 4; /* 0.5 + 0.5 */
    assert_true(pl_costs_comm(c, 1) == 1);
    double lat, x;
    pl_costs_comm_parts(c, 1, &lat, &x);
    assert_true(lat == 0.5 && x == 0.5);
    pl_costs_comm_parts(c, 0, &lat, &x);
    assert_true(lat == 0.25 && x == 0);
    assert_int_equal(run(s, c, mode, PL_SIM_RECORD_OPS, &r, &eb), 0);
    assert_int_equal(r.n_xfers, 2 * 2 * 6);
    for (size_t k = 0; k < r.n_xfers; k++) {
      const pl_xfer_rec *t = &r.xfers[k];
      int boundary = t->backward ? t->stage - 1 : t->stage;
      assert_true(t->end - t->start == (boundary == 1 ? 1.0 : 0.25));
    }
    pl_result_free(&r);
    pl_sched_destroy(s);
    pl_costs_destroy(c);
  }
}

/* V placement turns at the last rank: stages p-1 and p share a rank, and
 * that hand-off is free (no transfer, no latency) while every other
 * boundary pays. */
static void test_local_handoff_free(void **state)
{
  (void)state;
  pl_sched *s;
  pl_costs *c;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  const int p = 4, m = 8;
  make("zb-v", p, m, 2, 1, 1, 1, 3, &s, &c);
  assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &r, &eb), 0);
  /* 2p - 1 boundaries, one of them local, both directions. */
  assert_int_equal(r.n_xfers, 2 * (2 * p - 2) * m);
  for (size_t k = 0; k < r.n_xfers; k++) {
    assert_int_not_equal(r.xfers[k].src, r.xfers[k].dst);
    assert_true(r.xfers[k].end - r.xfers[k].start == 3);
  }
  /* F(p, mb) starts when F(p-1, mb) ends, or when its rank is free. */
  for (size_t i = 0; i < r.n_ops; i++) {
    const pl_op_rec *o = &r.ops[i];
    if (o->op.kind != PL_OP_F || o->op.stage != p)
      continue;
    double pred = -1, prev = 0;
    for (size_t j = 0; j < r.n_ops; j++) {
      const pl_op_rec *q = &r.ops[j];
      if (q->op.kind == PL_OP_F && q->op.stage == p - 1 && q->op.mb == o->op.mb)
        pred = q->end;
      if (q->rank == o->rank && q->index == o->index - 1)
        prev = q->end;
    }
    assert_true(pred >= 0);
    assert_true(o->start == (pred > prev ? pred : prev));
  }
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* --op-gap: the device starts an op g after the host could issue it. On
 * the transfer-free 1F1B critical path (2(m+p-1) ops) every op pays g; the
 * makespan counts from the first op's start, after its own gap:
 * (m+p-1)(T_F + T_BW + 2g) - g. GPipe's critical path has the same ops.
 * One rank alone: n ops in a row pay n-1 gaps inside the makespan. */
static void test_op_gap_closed_forms(void **state)
{
  (void)state;
  const double g = 0.25;
  for (int p = 1; p <= 6; p++)
    for (int m = p; m <= 2 * p + 1; m++) {
      double want = (m + p - 1) * (1 + 2 + 2 * g) - g;
      assert_true(makespan("1f1b", p, m, 1, 1, 1, 0, PL_P2P_ASYNC, g) == want);
      assert_true(makespan("gpipe", p, m, 1, 1, 1, 0, PL_P2P_ASYNC, g) == want);
      assert_true(makespan("1f1b", p, m, 1, 1, 1, 0, PL_P2P_BLOCKING, g) ==
                  want);
    }
  /* ZB-H1 on one rank: 3m ops (F, B, W). */
  assert_true(makespan("zb-h1", 1, 5, 1, 1, 1, 0, PL_P2P_ASYNC, g) ==
              15 + 14 * g);
  /* The gap is idle time: busy time does not change. */
  pl_sched *s;
  pl_costs *c;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("1f1b", 4, 8, 0, 1, 1, 1, 0, &s, &c);
  c->op_gap = g;
  assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS, &r, &eb), 0);
  assert_true(r.ideal == 24);
  assert_true(r.ops[0].start == g);
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* Per-message host overheads (LogP's o): with one microbatch the pipeline
 * is one chain, F down and B up, and every cross-rank boundary adds
 * o_s + T_comm + o_r to it in each direction, in every P2P mode:
 * p (T_F + T_B + T_W) + 2 (p - 1)(o_s + c + o_r). They are idle time (the
 * busy time stays p (T_F + T_B + T_W) summed over the ranks' ops), and zero
 * overheads give the run without them. */
static void test_msg_overheads_closed_forms(void **state)
{
  (void)state;
  const double os = 0.25, orr = 0.125, cm = 0.5;
  for (int p = 2; p <= 5; p++)
    for (int mode = 0; mode < PL_P2P_NMODES; mode++) {
      pl_sched *s;
      pl_costs *c;
      pl_result r;
      struct pl_errbuf eb = PL_ERRBUF_INIT;
      make("1f1b", p, 1, 0, 1, 1.5, 0.5, cm, &s, &c);
      c->send_overhead = os;
      c->recv_overhead = orr;
      assert_int_equal(run(s, c, mode, 0, &r, &eb), 0);
      assert_true(r.makespan == p * 3.0 + 2 * (p - 1) * (os + cm + orr));
      assert_true(r.ideal == 3.0); /* each rank's busy time: T_F + T_B + T_W */
      pl_result_free(&r);
      pl_sched_destroy(s);
      pl_costs_destroy(c);
    }
  /* m = 2, p = 2, c = 0, async: the sender's copy also delays its own next
   * op. Rank 0: F0 [0, 1], copy a, F1 [1+a, 2+a], copy a. Rank 1: copy b,
   * F0 [1+a+b, 2+a+b], BW0 [2+a+b, 4+a+b], copy a, copy b (F1's input),
   * F1 [4+2a+2b, 5+2a+2b], BW1 ending 7+2a+2b, copy a. Rank 0: copy b, BW0
   * [4+2a+2b, 6+2a+2b], copy b, BW1 [7+3a+3b, 9+3a+3b]. */
  pl_sched *s;
  pl_costs *c;
  pl_result r0;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("1f1b", 2, 2, 0, 1, 1.5, 0.5, 0, &s, &c);
  c->send_overhead = os;
  c->recv_overhead = orr;
  assert_int_equal(run(s, c, PL_P2P_ASYNC, 0, &r0, &eb), 0);
  assert_true(r0.makespan == 9 + 3 * (os + orr));
  pl_result_free(&r0);
  /* negative or NaN overheads are refused */
  c->send_overhead = -1;
  assert_int_equal(run(s, c, PL_P2P_ASYNC, 0, &r0, &eb), PL_EINVAL);
  c->send_overhead = 0;
  c->recv_overhead = NAN;
  assert_int_equal(run(s, c, PL_P2P_ASYNC, 0, &r0, &eb), PL_EINVAL);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* A local hand-off (V placement's turn on the last rank) is free unless
 * local_overhead says the runtime passes it through its transport: then
 * F of stage p starts o_s + o_r after F of stage p - 1 on the same rank,
 * and the sender's copy delays the rank. ZB-V, p = 2, m = 1. */
static void test_local_handoff_overhead(void **state)
{
  (void)state;
  const double os = 0.25, orr = 0.125;
  for (int local = 0; local <= 1; local++)
    for (int mode = 0; mode < PL_P2P_NMODES; mode += 2) {
      pl_sched *s;
      pl_costs *c;
      pl_result r;
      struct pl_errbuf eb = PL_ERRBUF_INIT;
      make("zb-v", 2, 1, 2, 1, 1, 1, 0.5, &s, &c);
      c->send_overhead = os;
      c->recv_overhead = orr;
      c->local_overhead = local;
      assert_int_equal(run(s, c, mode, PL_SIM_RECORD_OPS, &r, &eb), 0);
      double f1 = -1, f2 = -1, b2 = -1, b1 = -1;
      for (size_t i = 0; i < r.n_ops; i++) {
        const pl_op_rec *o = &r.ops[i];
        if (o->op.kind == PL_OP_F && o->op.stage == 1)
          f1 = o->end;
        if (o->op.kind == PL_OP_F && o->op.stage == 2)
          f2 = o->start;
        if (o->op.kind == PL_OP_B && o->op.stage == 2)
          b2 = o->end;
        if (o->op.kind == PL_OP_B && o->op.stage == 1)
          b1 = o->start;
      }
      assert_true(f1 > 0 && f2 > 0 && b2 > 0 && b1 > 0);
      assert_true(f2 - f1 == (local ? os + orr : 0));
      assert_true(b1 - b2 == (local ? os + orr : 0));
      pl_result_free(&r);
      pl_sched_destroy(s);
      pl_costs_destroy(c);
    }
}

/* --optimizer-time T: under sync all ranks wait for the last one, then step
 * (makespan + T); under post-validation each rank steps right after its own
 * last op (longest rank span + T). ZB-H2, p = 4, m = 8, unit costs:
 * makespan 27, span 24. */
static void test_optimizer_time(void **state)
{
  (void)state;
  pl_sched *s;
  pl_costs *c;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("zb-h2", 4, 8, 0, 1, 1, 1, 0, &s, &c);
  assert_int_equal(run(s, c, PL_P2P_ASYNC, 0, &r, &eb), 0);
  assert_true(r.makespan == 27 && r.max_rank_span == 24);
  assert_true(pl_iteration_time(&r, PL_OPTIM_SYNC, 0) == r.makespan);
  assert_true(pl_iteration_time(&r, PL_OPTIM_POST_VALIDATE, 0) ==
              r.max_rank_span);
  assert_true(pl_iteration_time(&r, PL_OPTIM_SYNC, 2.5) == 29.5);
  assert_true(pl_iteration_time(&r, PL_OPTIM_POST_VALIDATE, 2.5) == 26.5);
  /* Both together: the gap lengthens the pipeline, the step follows it. */
  pl_result_free(&r);
  c->op_gap = 0.5;
  assert_int_equal(run(s, c, PL_P2P_ASYNC, 0, &r, &eb), 0);
  assert_true(pl_iteration_time(&r, PL_OPTIM_SYNC, 2.5) == r.makespan + 2.5);
  assert_true(r.makespan > 27);
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

/* The trace draws each transfer on its link's track: "p2p to rank NN" on
 * the sender, at the recorded start and end; queued transfers say how long
 * they waited. */
static void test_trace_link_tracks(void **state)
{
  (void)state;
  pl_sched *s;
  pl_costs *c;
  pl_result r;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  make("interleaved", 4, 8, 2, 1, 1, 1, 0.25, &s, &c);
  c->comm_bandwidth = 1;
  for (int g = 0; g < c->n_stages; g++)
    c->stage[g].msg_bytes = 0.75; /* 0.25 + 0.75: queues on 0.5-unit ops */
  assert_int_equal(run(s, c, PL_P2P_ASYNC, PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM,
                       &r, &eb),
                   0);
  struct pl_buf b;
  pl_buf_init(&b, 0);
  assert_int_equal(pl_trace_chrome_buf(&r, s, c, 1000, &b, &eb), 0);
  json_error_t je;
  json_t *j = json_loadb(b.buf, b.len, 0, &je);
  assert_non_null(j);
  json_t *ev = json_object_get(j, "traceEvents");
  size_t i, n_x = 0, waited = 0, named = 0;
  json_t *e;
  json_array_foreach(ev, i, e) {
    const char *ph = json_string_value(json_object_get(e, "ph"));
    const char *nm = json_string_value(json_object_get(e, "name"));
    if (!strcmp(ph, "M") && !strcmp(nm, "thread_name")) {
      const char *tn =
          json_string_value(json_object_get(json_object_get(e, "args"), "name"));
      if (!strncmp(tn, "p2p to rank ", 12))
        named++;
      if (json_integer_value(json_object_get(e, "pid")) == 0)
        assert_true(!strcmp(tn, "compute") ||
                    !strncmp(tn, "p2p to rank 01", 14) ||
                    !strncmp(tn, "p2p to rank 03", 14));
    }
    const char *cat = json_string_value(json_object_get(e, "cat"));
    if (!strcmp(ph, "X") && cat && !strcmp(cat, "p2p")) {
      json_t *a = json_object_get(e, "args");
      int peer = (int)json_integer_value(json_object_get(a, "peer"));
      int pid = (int)json_integer_value(json_object_get(e, "pid"));
      assert_int_not_equal(peer, pid);
      assert_true(json_real_value(json_object_get(e, "dur")) >= 999.999);
      if (json_number_value(json_object_get(a, "waited")) > 0)
        waited++;
      n_x++;
    }
  }
  assert_int_equal(n_x, r.n_xfers);
  assert_int_equal(n_x, 2 * 7 * 8);
  assert_true(waited > 0);
  assert_true(named >= 8); /* every rank sends to both neighbours */
  json_decref(j);
  pl_buf_free(&b);
  pl_result_free(&r);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_mode_names),
    cmocka_unit_test(test_free_transfers_equal_async),
    cmocka_unit_test(test_rendezvous_backpressure),
    cmocka_unit_test(test_1f1b_closed_forms),
    cmocka_unit_test(test_blocking_occupies_both_ranks),
    cmocka_unit_test(test_link_shared_by_two_transfers),
    cmocka_unit_test(test_unqueued_bandwidth_equals_latency),
    cmocka_unit_test(test_per_boundary_links),
    cmocka_unit_test(test_local_handoff_free),
    cmocka_unit_test(test_op_gap_closed_forms),
    cmocka_unit_test(test_msg_overheads_closed_forms),
    cmocka_unit_test(test_local_handoff_overhead),
    cmocka_unit_test(test_optimizer_time),
    cmocka_unit_test(test_trace_link_tracks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
