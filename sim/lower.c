/*
 * lower.c: PyTorch's schedule lowering (compute_only -> compute_comms) and
 * its unit-time dry run, on the PyTorch-level action table (pl_pt_sched).
 * Semantics: docs/schedule-csv.md (lowering and the dry run), ported from torch/distributed/pipelining/
 * schedules.py (_merge_bw, _add_send_recv, _simulate_comms_compute).
 *
 * PyTorch keeps, per rank, a Python set of the actions already placed on
 * that rank, and every readiness test asks whether one particular action is
 * in the set of the rank that owns the action's stage (or, for F/I/B, of the
 * rank running the consumer, which is the same rank when the two stages
 * share one). Because compute actions always sit on the row of their stage's
 * owner (pl_pt_push enforces it), that set can be replaced by one bit per
 * (action type, stage, microbatch), set only when the action is placed on
 * the row of the rank that owns its stage: a test "X in set(rank(g))" then
 * reads the bit of X, plus a same-rank check for the neighbour-stage cases.
 */
#include <string.h>

#include "pipelab/pipelab.h"

/* Bits of the placed-action table. */
enum {
  BIT_F = 1 << 0,
  BIT_I = 1 << 1,
  BIT_B = 1 << 2,
  BIT_SEND_F = 1 << 3,
  BIT_SEND_B = 1 << 4,
  BIT_RECV_F = 1 << 5,
  BIT_RECV_B = 1 << 6
};

struct placed {
  const pl_pt_sched *t;
  int S, m;
  uint8_t *bits; /* [S * m] */
};

static int type_bit(int type)
{
  switch (type) {
  case PL_PT_F: return BIT_F;
  case PL_PT_I: return BIT_I;
  case PL_PT_B: return BIT_B;
  case PL_PT_SEND_F: return BIT_SEND_F;
  case PL_PT_SEND_B: return BIT_SEND_B;
  case PL_PT_RECV_F: return BIT_RECV_F;
  case PL_PT_RECV_B: return BIT_RECV_B;
  default: return 0;
  }
}

static int placed_init(struct placed *p, const pl_pt_sched *t)
{
  p->t = t;
  p->S = pl_pt_stages(t);
  p->m = pl_pt_microbatches(t);
  size_t n = (size_t)p->S * (size_t)(p->m > 0 ? p->m : 1);
  p->bits = pl_calloc(n, 1);
  return p->bits ? PL_OK : PL_ENOMEM;
}

static int has(const struct placed *p, int bit, int stage, int mb)
{
  if (stage < 0 || stage >= p->S || mb < 0 || mb >= p->m)
    return 0;
  return (p->bits[(size_t)stage * (size_t)p->m + (size_t)mb] & bit) != 0;
}

/* Records a simple action placed on `rank`. */
static void mark(struct placed *p, const pl_pt_act *a, int rank)
{
  int bit = type_bit(a->type);
  if (!bit || a->stage < 0 || a->stage >= p->S || a->mb < 0 || a->mb >= p->m)
    return;
  if (pl_pt_stage_rank(p->t, a->stage) != rank)
    return; /* in another rank's set: no readiness test ever reads it */
  p->bits[(size_t)a->stage * (size_t)p->m + (size_t)a->mb] |= (uint8_t)bit;
}

static void mark_action(struct placed *p, const pl_pt_action *a, int rank)
{
  if (a->n_sub) {
    mark(p, &a->sub[0], rank);
    mark(p, &a->sub[1], rank);
  } else {
    pl_pt_act s = {a->type, a->stage, a->mb};
    mark(p, &s, rank);
  }
}

static int same_rank(const pl_pt_sched *t, int g1, int g2)
{
  return g2 >= 0 && g2 < pl_pt_stages(t) &&
         pl_pt_stage_rank(t, g1) == pl_pt_stage_rank(t, g2);
}

/* F and I/B readiness shared by both passes (docs/schedule-csv.md, lowering and dry run): the
 * input has been received, or its producer ran on the same rank. */
static int compute_ready(const struct placed *p, const pl_pt_act *a)
{
  int g = a->stage, mb = a->mb, S = p->S;
  switch (a->type) {
  case PL_PT_F:
    if (g == 0)
      return 1;
    return has(p, BIT_RECV_F, g, mb) ||
           (same_rank(p->t, g, g - 1) && has(p, BIT_F, g - 1, mb));
  case PL_PT_I:
  case PL_PT_B:
    if (g == S - 1)
      return 1;
    return has(p, BIT_RECV_B, g, mb) ||
           (same_rank(p->t, g, g + 1) && has(p, BIT_I | BIT_B, g + 1, mb));
  default:
    return 1;
  }
}

static int copy_shape(const pl_pt_sched *in, pl_pt_sched **out,
                      struct pl_errbuf *eb)
{
  int S = pl_pt_stages(in);
  int *map = pl_malloc((size_t)S * sizeof *map);
  if (!map)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  for (int g = 0; g < S; g++)
    map[g] = pl_pt_stage_rank(in, g);
  int rc = pl_pt_create(pl_pt_ranks(in), S, map, out, eb);
  pl_free(map);
  return rc;
}

static int push(pl_pt_sched *t, int rank, const pl_pt_action *a,
                struct pl_errbuf *eb)
{
  int rc = pl_pt_push(t, rank, a);
  if (rc == PL_ENOMEM)
    return pl_errf(eb, rc, "out of memory");
  if (rc) {
    char c[128];
    pl_pt_action_format(a, c, sizeof c);
    return pl_errf(eb, PL_EINVAL, "rank %d: cannot add '%s'", rank, c);
  }
  return PL_OK;
}

/* ------------------------------------------------------- _merge_bw --- */

int pl_pt_merge_bw(const pl_pt_sched *in, pl_pt_sched **out,
                   struct pl_errbuf *eb)
{
  int rc = copy_shape(in, out, eb);
  if (rc)
    return rc;
  for (int r = 0; r < pl_pt_ranks(in) && !rc; r++) {
    size_t n;
    const pl_pt_action *a = pl_pt_row(in, r, &n);
    for (size_t i = 0; i < n && !rc; i++) {
      if (a[i].type == PL_PT_IDLE)
        continue;
      size_t j = i + 1;
      while (j < n && a[j].type == PL_PT_IDLE)
        j++;
      if (a[i].type == PL_PT_I && j < n && a[j].type == PL_PT_W &&
          a[j].stage == a[i].stage && a[j].mb == a[i].mb) {
        pl_pt_action b = a[i];
        b.type = PL_PT_B;
        rc = push(*out, r, &b, eb);
        i = j;
      } else {
        rc = push(*out, r, &a[i], eb);
      }
    }
  }
  if (rc) {
    pl_pt_destroy(*out);
    *out = NULL;
  }
  return rc;
}

/* -------------------------------------------------- _add_send_recv --- */

static int has_comms(const pl_pt_sched *t, const pl_pt_act *a)
{
  int S = pl_pt_stages(t), g = a->stage;
  if (a->type == PL_PT_F)
    return g != S - 1 && !same_rank(t, g, g + 1);
  if (a->type == PL_PT_I || a->type == PL_PT_B)
    return g != 0 && !same_rank(t, g, g - 1);
  return 0;
}

/* The parts of a cell: a compound's sub-actions, or the action itself. */
static int parts_of(const pl_pt_action *a, pl_pt_act *buf)
{
  if (a->n_sub) {
    buf[0] = a->sub[0];
    buf[1] = a->sub[1];
    return 2;
  }
  buf[0].type = a->type;
  buf[0].stage = a->stage;
  buf[0].mb = a->mb;
  return 1;
}

/* Appends to msg what a blocked compute part waits for. */
static void describe_wait(const pl_pt_act *x, int S, struct pl_buf *b)
{
  if (x->type == PL_PT_F && x->stage > 0)
    pl_buf_addf(b, "%dRECV_F%d or %dF%d", x->stage, x->mb, x->stage - 1,
                x->mb);
  else if ((x->type == PL_PT_I || x->type == PL_PT_B) && x->stage < S - 1)
    pl_buf_addf(b, "%dRECV_B%d or %dI%d/%dB%d", x->stage, x->mb, x->stage + 1,
                x->mb, x->stage + 1, x->mb);
  else if (x->type == PL_PT_SEND_F)
    pl_buf_addf(b, "%dF%d", x->stage, x->mb);
  else if (x->type == PL_PT_SEND_B)
    pl_buf_addf(b, "%dI%d or %dB%d", x->stage, x->mb, x->stage, x->mb);
  else if (x->type == PL_PT_RECV_F)
    pl_buf_addf(b, "%dSEND_F%d", x->stage - 1, x->mb);
  else if (x->type == PL_PT_RECV_B)
    pl_buf_addf(b, "%dSEND_B%d", x->stage + 1, x->mb);
  else
    pl_buf_addf(b, "nothing");
}

/* Message naming every stuck rank, its next action and what it waits for. */
static int stuck_error(const pl_pt_sched *in, const size_t *pos,
                       const char *head, int step, struct pl_errbuf *eb)
{
  struct pl_buf b;
  int first = 1;
  pl_buf_init(&b, PL_ERRMSG_MAX - 1);
  pl_buf_addf(&b, "%s", head);
  if (step >= 0)
    pl_buf_addf(&b, " at step %d", step);
  pl_buf_addf(&b, ": ");
  for (int r = 0; r < pl_pt_ranks(in); r++) {
    size_t n;
    const pl_pt_action *a = pl_pt_row(in, r, &n);
    size_t i = pos[r];
    while (i < n && a[i].type == PL_PT_IDLE)
      i++;
    if (i >= n)
      continue;
    char c[128];
    pl_pt_action_format(&a[i], c, sizeof c);
    pl_buf_addf(&b, "%srank %d next action %s (cell %zu) waits for ",
                first ? "" : "; ", r, c, i + 1);
    pl_pt_act parts[2];
    int np = parts_of(&a[i], parts);
    for (int k = 0; k < np; k++) {
      if (k)
        pl_buf_addf(&b, " and ");
      describe_wait(&parts[k], pl_pt_stages(in), &b);
    }
    first = 0;
  }
  int rc = pl_errf(eb, PL_EDEADLOCK, "%s",
                   b.len ? b.buf : "schedule is stuck (report too long)");
  pl_buf_free(&b);
  return rc;
}

int pl_pt_add_send_recv(const pl_pt_sched *in, pl_pt_sched **out,
                        struct pl_errbuf *eb)
{
  const int p = pl_pt_ranks(in);
  struct placed pl;
  size_t *pos = NULL;
  int rc = copy_shape(in, out, eb);
  if (rc)
    return rc;
  pos = pl_calloc((size_t)p, sizeof *pos);
  if (!pos || placed_init(&pl, in)) {
    pl_free(pos);
    pl_pt_destroy(*out);
    *out = NULL;
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  for (;;) {
    int left = 0, progress = 0;
    for (int r = 0; r < p && !rc; r++) {
      size_t n;
      const pl_pt_action *row = pl_pt_row(in, r, &n);
      if (pos[r] >= n)
        continue;
      left = 1;
      const pl_pt_action *a = &row[pos[r]];
      pl_pt_act parts[2];
      int np = parts_of(a, parts), ready = 1;
      if (a->type != PL_PT_IDLE)
        for (int k = 0; k < np; k++)
          ready &= compute_ready(&pl, &parts[k]);
      if (!ready)
        continue;
      if (a->type != PL_PT_IDLE) {
        rc = push(*out, r, a, eb);
        for (int k = 0; k < np && !rc; k++) {
          mark(&pl, &parts[k], r);
          if (!has_comms(in, &parts[k]))
            continue;
          int isf = parts[k].type == PL_PT_F;
          pl_pt_action send = PL_PT_ACTION_INIT, recv = PL_PT_ACTION_INIT;
          send.type = isf ? PL_PT_SEND_F : PL_PT_SEND_B;
          send.stage = parts[k].stage;
          send.mb = parts[k].mb;
          recv.type = isf ? PL_PT_RECV_F : PL_PT_RECV_B;
          recv.stage = parts[k].stage + (isf ? 1 : -1);
          recv.mb = parts[k].mb;
          int rr = pl_pt_stage_rank(in, recv.stage);
          if ((rc = push(*out, r, &send, eb)) ||
              (rc = push(*out, rr, &recv, eb)))
            break;
          mark_action(&pl, &send, r);
          mark_action(&pl, &recv, rr);
        }
      }
      pos[r]++;
      progress = 1;
    }
    if (rc || !left)
      break;
    if (!progress) {
      rc = stuck_error(in, pos, "malformed compute schedule, can't schedule "
                       "sends/recvs", -1, eb);
      break;
    }
  }
  pl_free(pl.bits);
  pl_free(pos);
  if (rc) {
    pl_pt_destroy(*out);
    *out = NULL;
  }
  return rc;
}

int pl_pt_lower(const pl_pt_sched *in, pl_pt_sched **out,
                struct pl_errbuf *eb)
{
  pl_pt_sched *merged;
  *out = NULL;
  int rc = pl_pt_merge_bw(in, &merged, eb);
  if (rc)
    return rc;
  rc = pl_pt_add_send_recv(merged, out, eb);
  pl_pt_destroy(merged);
  return rc;
}

/* ------------------------------------------ _simulate_comms_compute --- */

/* Readiness of one part in the dry run; -1 for an unsupported action. */
static int sim_ready(const struct placed *p, const pl_pt_act *x)
{
  int g = x->stage, mb = x->mb;
  switch (x->type) {
  case PL_PT_F:
  case PL_PT_I:
  case PL_PT_B:
    return compute_ready(p, x);
  case PL_PT_W:
    return 1;
  case PL_PT_SEND_F:
    return has(p, BIT_F, g, mb);
  case PL_PT_SEND_B:
    return has(p, BIT_I | BIT_B, g, mb);
  case PL_PT_RECV_F:
    return g > 0 ? has(p, BIT_SEND_F, g - 1, mb) : -1;
  case PL_PT_RECV_B:
    return g + 1 < p->S ? has(p, BIT_SEND_B, g + 1, mb) : -1;
  case PL_PT_UNSHARD:
  case PL_PT_RESHARD:
  case PL_PT_REDUCE_GRAD:
    return 1; /* extension: PyTorch raises "Unsupported action type" */
  default:
    return -1;
  }
}

static int cell_ready(const struct placed *p, const pl_pt_action *a)
{
  if (a->type == PL_PT_SEND_F_RECV_B || a->type == PL_PT_SEND_B_RECV_F)
    return -1;
  pl_pt_act parts[2];
  int np = parts_of(a, parts), ready = 1;
  for (int k = 0; k < np; k++) {
    int x = sim_ready(p, &parts[k]);
    if (x < 0)
      return -1;
    ready &= x;
  }
  return ready;
}

int pl_pt_unit_time(const pl_pt_sched *in, pl_pt_sched **out, int *steps,
                    struct pl_errbuf *eb)
{
  const int p = pl_pt_ranks(in);
  struct placed pl = {0};
  size_t *pos = NULL;
  pl_pt_sched *res = NULL;
  int rc = copy_shape(in, &res, eb);
  if (out)
    *out = NULL;
  if (steps)
    *steps = 0;
  if (rc)
    return rc;
  pos = pl_calloc((size_t)p, sizeof *pos);
  unsigned char *idle_now = pl_calloc((size_t)p, 1);
  if (!pos || !idle_now || placed_init(&pl, in)) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto done;
  }
  int step = 0;
  const pl_pt_action idle = PL_PT_ACTION_INIT;
  for (;; step++) {
    int left = 0, progress = 0;
    /* Skip idle cells of the input: the dry run drops them. */
    for (int r = 0; r < p; r++) {
      size_t n;
      const pl_pt_action *row = pl_pt_row(in, r, &n);
      while (pos[r] < n && row[pos[r]].type == PL_PT_IDLE)
        pos[r]++;
      left |= pos[r] < n;
    }
    if (!left)
      break;
    /* First pass: place what is ready, visible at once to higher ranks. */
    for (int r = 0; r < p && !rc; r++) {
      size_t n;
      const pl_pt_action *row = pl_pt_row(in, r, &n);
      idle_now[r] = 0;
      if (pos[r] >= n)
        continue;
      const pl_pt_action *a = &row[pos[r]];
      int ready = cell_ready(&pl, a);
      if (ready < 0)
        goto unsupported;
      if (ready) {
        rc = push(res, r, a, eb);
        mark_action(&pl, a, r);
        do
          pos[r]++;
        while (pos[r] < n && row[pos[r]].type == PL_PT_IDLE);
        progress = 1;
      } else {
        rc = push(res, r, &idle, eb);
        idle_now[r] = 1;
      }
    }
    if (rc)
      goto done;
    /* Second pass: fill this step's idle slot of a rank whose next action
     * was unblocked by a later rank in the first pass. */
    for (int r = 0; r < p; r++) {
      size_t n;
      const pl_pt_action *row = pl_pt_row(in, r, &n);
      if (!idle_now[r] || pos[r] >= n)
        continue;
      const pl_pt_action *a = &row[pos[r]];
      int ready = cell_ready(&pl, a);
      if (ready < 0)
        goto unsupported;
      if (ready) {
        /* Replace the idle slot just written (the row's last cell). */
        size_t rn;
        pl_pt_action *last = (pl_pt_action *)pl_pt_row(res, r, &rn);
        last[rn - 1] = *a;
        mark_action(&pl, a, r);
        pos[r]++;
      }
    }
    if (!progress) {
      rc = stuck_error(in, pos, "schedule is not progressing", step, eb);
      goto done;
    }
  }
  {
    int longest = 0;
    for (int r = 0; r < p; r++) {
      size_t n;
      pl_pt_row(res, r, &n);
      if ((int)n > longest)
        longest = (int)n;
    }
    if (steps)
      *steps = longest;
  }
  goto done;
unsupported: {
    size_t n;
    const pl_pt_action *row = NULL;
    int r = 0;
    for (; r < p; r++) {
      row = pl_pt_row(in, r, &n);
      if (pos[r] < n && cell_ready(&pl, &row[pos[r]]) < 0)
        break;
    }
    char c[128] = "?";
    if (r < p)
      pl_pt_action_format(&row[pos[r]], c, sizeof c);
    rc = pl_errf(eb, PL_ENOTSUP,
                 "rank %d: unsupported action type in the unit-time dry run: "
                 "%s (legacy fused comm, or RECV from outside the stage "
                 "range)", r, c);
  }
done:
  pl_free(pl.bits);
  pl_free(pos);
  pl_free(idle_now);
  if (rc || !out)
    pl_pt_destroy(res);
  else
    *out = res;
  return rc;
}
