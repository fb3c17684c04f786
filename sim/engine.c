/*
 * engine.c: the discrete-event core.
 *
 * Every op has exactly one data predecessor (two for a fused F&B), so the
 * simulation needs no global event queue: each rank runs its list in order
 * until its head op waits for a predecessor that has not ended yet, then
 * parks itself on that predecessor's key. When an op ends, the one rank that
 * can consume its output is woken if it is parked on exactly that key. Each
 * op is therefore handled once, in O(1), and the pending set is a stack of
 * runnable ranks. A deadlock is the state where no rank is runnable and some
 * list is unfinished.
 *
 * Time of an op: start = max(rank free, predecessor end + P2P time when the
 * predecessor ran on another rank); end = start + duration (schedules.md §3).
 * Memory: F allocates at its start, B/W/BW release at their end; since ops on
 * a rank never overlap, the peak is the maximum prefix sum (§5).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipelab/pipelab.h"
#include "sched_int.h"

struct pl_sim {
  /* End time of F(g, mb) at [g*m + mb] and of B/BW(g, mb) at [S*m + g*m + mb];
   * -1 = not yet. */
  double *end;
  size_t end_cap;
  size_t *pos;      /* [p] next op index */
  double *free_t;   /* [p] time the rank becomes free */
  long *parked;     /* [p] key the rank waits for, -1 = runnable */
  int *stack;       /* [p] runnable ranks */
  double *mem;      /* [p] live activation */
  int cap_p;
};

int pl_sim_create(pl_sim **out)
{
  *out = pl_calloc(1, sizeof **out);
  return *out ? PL_OK : PL_ENOMEM;
}

void pl_sim_destroy(pl_sim *sim)
{
  if (!sim)
    return;
  pl_free(sim->end);
  pl_free(sim->pos);
  pl_free(sim->free_t);
  pl_free(sim->parked);
  pl_free(sim->stack);
  pl_free(sim->mem);
  pl_free(sim);
}

static int sim_reserve(pl_sim *sim, int p, size_t keys)
{
  if (keys > sim->end_cap) {
    double *e = pl_realloc(sim->end, keys * sizeof *e);
    if (!e)
      return PL_ENOMEM;
    sim->end = e;
    sim->end_cap = keys;
  }
  if (p > sim->cap_p) {
    size_t n = (size_t)p;
    size_t *pos = pl_realloc(sim->pos, n * sizeof *pos);
    if (pos)
      sim->pos = pos;
    double *ft = pl_realloc(sim->free_t, n * sizeof *ft);
    if (ft)
      sim->free_t = ft;
    long *pk = pl_realloc(sim->parked, n * sizeof *pk);
    if (pk)
      sim->parked = pk;
    int *st = pl_realloc(sim->stack, n * sizeof *st);
    if (st)
      sim->stack = st;
    double *mem = pl_realloc(sim->mem, n * sizeof *mem);
    if (mem)
      sim->mem = mem;
    if (!pos || !ft || !pk || !st || !mem)
      return PL_ENOMEM;
    sim->cap_p = p;
  }
  return PL_OK;
}

void pl_result_free(pl_result *r)
{
  if (!r)
    return;
  pl_free(r->ranks);
  pl_free(r->ops);
  pl_free(r->mem);
  r->ranks = NULL;
  r->ops = NULL;
  r->mem = NULL;
  r->n_ops = r->n_mem = 0;
  r->n_untrusted = 0;
}

void pl_result_untrust(pl_result *r, const char *reason)
{
  for (int i = 0; i < r->n_untrusted; i++)
    if (strncmp(r->untrusted[i], reason, PL_UNTRUSTED_LEN - 1) == 0)
      return;
  if (r->n_untrusted >= PL_UNTRUSTED_MAX)
    return;
  snprintf(r->untrusted[r->n_untrusted++], PL_UNTRUSTED_LEN, "%s", reason);
}

void pl_result_summarize(pl_result *r)
{
  int p = r->stages;
  double first = INFINITY, last = -INFINITY, span = 0, busy = 0, peak = 0;
  for (int i = 0; i < p; i++) {
    pl_rank_result *rr = &r->ranks[i];
    if (rr->n_ops == 0)
      continue;
    if (rr->first_start < first)
      first = rr->first_start;
    if (rr->last_end > last)
      last = rr->last_end;
    if (rr->last_end - rr->first_start > span)
      span = rr->last_end - rr->first_start;
    busy += rr->busy;
    if (rr->peak_mem > peak)
      peak = rr->peak_mem;
  }
  if (first == INFINITY) {
    first = last = 0;
  }
  r->makespan = last - first;
  r->max_rank_span = span;
  r->ideal = p > 0 ? busy / p : 0;
  r->peak_mem = peak;
  r->bubble_ratio = r->makespan > 0 ? 1.0 - r->ideal / r->makespan : 0;
  r->bubble_ratio_span = span > 0 ? 1.0 - r->ideal / span : 0;
  for (int i = 0; i < p; i++) {
    pl_rank_result *rr = &r->ranks[i];
    rr->bubble_ratio = r->makespan > 0 ? 1.0 - rr->busy / r->makespan : 0;
  }
}

/* Describes, for a deadlock report, where the op producing `key` sits. */
static void describe_key(const pl_sched *s, const pl_sim *sim, long key,
                         struct pl_buf *b)
{
  long Sm = (long)s->n_stages * s->m;
  int isb = key >= Sm;
  long k = isb ? key - Sm : key;
  int g = (int)(k / s->m), mb = (int)(k % s->m);
  int r = s->stage_rank[g];
  size_t n;
  const pl_op *ops = pl_sched_rank_ops(s, r, &n);
  /* Find the op that produces the key on its rank. */
  long at = -1;
  const char *what = isb ? "B" : "F";
  for (size_t i = 0; i < n && at < 0; i++) {
    const pl_op *o = &ops[i];
    if (!isb) {
      if ((o->kind == PL_OP_F || o->kind == PL_OP_FB) && o->stage == g &&
          o->mb == mb)
        at = (long)i;
    } else {
      if ((o->kind == PL_OP_B || o->kind == PL_OP_BW) && o->stage == g &&
          o->mb == mb) {
        at = (long)i;
        what = pl_op_kind_name(o->kind);
      } else if (o->kind == PL_OP_FB && o->stage2 == g && o->mb2 == mb) {
        at = (long)i;
        what = pl_op_kind_name(o->kind2);
      }
    }
  }
  pl_buf_addf(b, "%s%ds%d", isb ? (at >= 0 ? what : "B/BW") : what, mb, g);
  if (at < 0) {
    pl_buf_addf(b, ", which rank %d never runs", r);
    return;
  }
  size_t hp = sim->pos[r];
  if ((size_t)at < hp) {
    pl_buf_addf(b, " (done on rank %d)", r);
    return;
  }
  char head[64] = "";
  if (hp < n)
    pl_op_format(&ops[hp], head, sizeof head);
  if ((size_t)at == hp)
    pl_buf_addf(b, " on rank %d, which is itself blocked", r);
  else
    pl_buf_addf(b, ", position %ld on rank %d, behind %s at position %zu", at,
                r, head, hp);
}

static int report_deadlock(const pl_sched *s, const pl_sim *sim,
                           struct pl_errbuf *eb)
{
  /* Each blocked rank gets one clause; when the message would overflow the
   * caller's buffer, the remaining ranks are counted instead of cut mid-word. */
  struct pl_buf b, part;
  pl_buf_init(&b, 0);
  pl_buf_init(&part, 0);
  pl_buf_addf(&b, "schedule deadlocks: ");
  int first = 1, more = 0;
  for (int r = 0; r < s->p; r++) {
    size_t n;
    const pl_op *ops = pl_sched_rank_ops(s, r, &n);
    if (sim->pos[r] >= n)
      continue;
    if (more) {
      more++;
      continue;
    }
    char opname[64];
    pl_op_format(&ops[sim->pos[r]], opname, sizeof opname);
    pl_buf_reset(&part);
    pl_buf_addf(&part, "%srank %d blocked at %s (position %zu) waiting for ",
                first ? "" : "; ", r, opname, sim->pos[r]);
    describe_key(s, sim, sim->parked[r], &part);
    if (b.len + part.len + 48 >= PL_ERRMSG_MAX) {
      more = 1;
      continue;
    }
    pl_buf_add(&b, part.buf, part.len);
    first = 0;
  }
  if (more)
    pl_buf_addf(&b, "; and %d more blocked rank%s", more, more > 1 ? "s" : "");
  int rc = pl_errf(eb, PL_EDEADLOCK, "%s",
                   b.len ? b.buf : "schedule deadlocks (out of memory)");
  pl_buf_free(&part);
  pl_buf_free(&b);
  return rc;
}

int pl_sim_run2(pl_sim *sim, const pl_sched *s, const pl_costs *c,
                unsigned flags, pl_result *res, struct pl_errbuf *eb)
{
  const int p = s->p, S = s->n_stages, m = s->m;
  if (!c || c->n_stages != S || c->n_ranks < p)
    return pl_errf(eb, PL_EINVAL,
                   "cost table has %d stages and %d ranks, schedule needs %d and %d",
                   c ? c->n_stages : 0, c ? c->n_ranks : 0, S, p);
  const long Sm = (long)S * m;
  int rc = sim_reserve(sim, p, (size_t)(2 * Sm));
  if (rc)
    return pl_errf(eb, rc, "out of memory");

  pl_result_free(res);
  snprintf(res->schedule, sizeof res->schedule, "%s", s->name);
  snprintf(res->source, sizeof res->source, "sim");
  snprintf(res->time_unit, sizeof res->time_unit, "%s", c->time_unit);
  snprintf(res->mem_unit, sizeof res->mem_unit, "%s", c->mem_unit);
  res->stages = p;
  res->virtual_stages = S;
  res->microbatches = m;
  res->chunks = S / p;
  res->ranks = pl_calloc((size_t)p, sizeof *res->ranks);
  if (!res->ranks)
    return pl_errf(eb, PL_ENOMEM, "out of memory");

  size_t total = 0;
  size_t *offset = NULL;
  if (flags & (PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM)) {
    offset = pl_malloc((size_t)p * sizeof *offset);
    if (!offset)
      goto nomem;
  }
  for (int r = 0; r < p; r++) {
    if (offset)
      offset[r] = total;
    total += s->ranks[r].n;
  }
  if (flags & PL_SIM_RECORD_OPS) {
    res->ops = pl_malloc(total * sizeof *res->ops);
    if (!res->ops)
      goto nomem;
    res->n_ops = total;
  }
  size_t *mem_n = NULL;
  if (flags & PL_SIM_RECORD_MEM) {
    /* At most two memory changes per op (a fused F&B makes two). */
    res->mem = pl_malloc((2 * total + 1) * sizeof *res->mem);
    mem_n = pl_calloc((size_t)p, sizeof *mem_n);
    if (!res->mem || !mem_n) {
      pl_free(mem_n);
      goto nomem;
    }
  }

  double *end = sim->end;
  for (long i = 0; i < 2 * Sm; i++)
    end[i] = -1.0;
  int top = 0;
  for (int r = 0; r < p; r++) {
    sim->pos[r] = 0;
    sim->free_t[r] = 0;
    sim->parked[r] = -1;
    sim->mem[r] = 0;
    res->ranks[r].rank = r;
    res->ranks[r].first_start = INFINITY;
    res->ranks[r].peak_activation_bytes = -1;
    sim->stack[top++] = p - 1 - r; /* rank 0 on top */
  }
  const int *srank = s->stage_rank;
  const pl_stage_cost *sc = c->stage;
  const double *speed = c->rank_speed;
  size_t done_ranks = 0;

  while (top > 0) {
    const int r = sim->stack[--top];
    const pl_op *ops = s->ranks[r].ops;
    const size_t n = s->ranks[r].n;
    size_t i = sim->pos[r];
    double t_free = sim->free_t[r];
    double mem = sim->mem[r];
    pl_rank_result *rr = &res->ranks[r];
    for (; i < n; i++) {
      const pl_op *op = &ops[i];
      int kind = op->kind, g = op->stage, mb = op->mb;
      double ready = 0, dur;
      long wait = -1;
      /* Data predecessor of the forward part (F or FB). */
      if (kind == PL_OP_F || kind == PL_OP_FB) {
        if (g > 0) {
          long k = (long)(g - 1) * m + mb;
          double e = end[k];
          if (e < 0)
            wait = k;
          else {
            if (srank[g - 1] != r)
              e += pl_costs_comm(c, g - 1);
            ready = e;
          }
        }
      }
      int bk = kind, bg = g, bmb = mb;
      if (kind == PL_OP_FB) {
        bk = op->kind2;
        bg = op->stage2;
        bmb = op->mb2;
      }
      if (wait < 0 && (bk == PL_OP_B || bk == PL_OP_BW) && kind != PL_OP_F) {
        long k;
        int cross;
        if (bg == S - 1) {
          k = (long)bg * m + bmb; /* the loss follows the last forward */
          cross = srank[bg] != r;
        } else {
          k = Sm + (long)(bg + 1) * m + bmb;
          cross = srank[bg + 1] != r;
        }
        double e = end[k];
        if (e < 0)
          wait = k;
        else {
          if (cross)
            e += pl_costs_comm(c, bg);
          if (e > ready)
            ready = e;
        }
      } else if (kind == PL_OP_W) {
        long k = Sm + (long)g * m + mb;
        double e = end[k];
        if (e < 0)
          wait = k;
        else if (e > ready)
          ready = e;
      }
      if (wait >= 0) {
        sim->parked[r] = wait;
        break;
      }
      double start = ready > t_free ? ready : t_free;
      if (kind == PL_OP_FB) {
        double a = sc[g].t[PL_OP_F], b = sc[bg].t[bk];
        dur = (a + b - c->fb_overlap * (a < b ? a : b)) * speed[r];
      } else {
        dur = sc[g].t[kind] * speed[r];
      }
      double fin = start + dur;
      t_free = fin;
      if (start < rr->first_start)
        rr->first_start = start;
      rr->busy += dur;
      /* Memory: allocate at start, release at end. */
      if (kind == PL_OP_F || kind == PL_OP_FB) {
        mem += sc[g].mem_b;
        if (mem > rr->peak_mem)
          rr->peak_mem = mem;
        if (mem_n) {
          pl_mem_point *mp = &res->mem[2 * offset[r] + mem_n[r]++];
          mp->rank = r;
          mp->t = start;
          mp->value = mem;
        }
      }
      if (kind != PL_OP_F) {
        double rel;
        if (bk == PL_OP_B)
          rel = sc[bg].mem_b - sc[bg].mem_w;
        else if (bk == PL_OP_W)
          rel = sc[bg].mem_w;
        else
          rel = sc[bg].mem_b;
        mem -= rel;
        if (mem_n) {
          pl_mem_point *mp = &res->mem[2 * offset[r] + mem_n[r]++];
          mp->rank = r;
          mp->t = fin;
          mp->value = mem;
        }
      }
      if (res->ops) {
        pl_op_rec *rec = &res->ops[offset[r] + i];
        rec->rank = r;
        rec->index = (int32_t)i;
        rec->op = *op;
        rec->start = start;
        rec->end = fin;
      }
      /* Publish the op's outputs and wake the consumer if it waits. */
      if (kind == PL_OP_F || kind == PL_OP_FB) {
        long k = (long)g * m + mb;
        end[k] = fin;
        int cr = g + 1 < S ? srank[g + 1] : r;
        if (cr != r && sim->parked[cr] == k) {
          sim->parked[cr] = -1;
          sim->stack[top++] = cr;
        }
      }
      if (bk == PL_OP_B || bk == PL_OP_BW) {
        if (kind != PL_OP_F) {
          long k = Sm + (long)bg * m + bmb;
          end[k] = fin;
          int cr = bg > 0 ? srank[bg - 1] : r;
          if (cr != r && sim->parked[cr] == k) {
            sim->parked[cr] = -1;
            sim->stack[top++] = cr;
          }
        }
      }
    }
    sim->pos[r] = i;
    sim->free_t[r] = t_free;
    sim->mem[r] = mem;
    if (i == n) {
      rr->last_end = n ? t_free : 0;
      rr->end_mem = mem;
      rr->n_ops = n;
      done_ranks++;
    }
  }

  if (done_ranks != (size_t)p) {
    rc = report_deadlock(s, sim, eb);
    pl_free(offset);
    pl_free(mem_n);
    pl_result_free(res);
    return rc;
  }
  for (int r = 0; r < p; r++)
    if (res->ranks[r].n_ops == 0)
      res->ranks[r].first_start = 0;
  if (mem_n) {
    /* Compact the per-rank regions into one array sorted by rank, time. */
    size_t w = 0;
    for (int r = 0; r < p; r++) {
      memmove(&res->mem[w], &res->mem[2 * offset[r]],
              mem_n[r] * sizeof *res->mem);
      w += mem_n[r];
    }
    res->n_mem = w;
    pl_free(mem_n);
  }
  pl_free(offset);
  pl_result_summarize(res);
  return PL_OK;

nomem:
  pl_free(offset);
  pl_result_free(res);
  return pl_errf(eb, PL_ENOMEM, "out of memory");
}

int pl_sim_run(const pl_sched *s, const pl_costs *c, unsigned flags,
               pl_result *res, struct pl_errbuf *eb)
{
  pl_sim *sim;
  if (pl_sim_create(&sim))
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  int rc = pl_sim_run2(sim, s, c, flags, res, eb);
  pl_sim_destroy(sim);
  return rc;
}

int pl_sched_mem_peaks(const pl_sched *s, const pl_costs *c, double *peaks)
{
  if (c->n_stages != s->n_stages)
    return PL_EINVAL;
  for (int r = 0; r < s->p; r++) {
    double mem = 0, peak = 0;
    for (size_t i = 0; i < s->ranks[r].n; i++) {
      const pl_op *op = &s->ranks[r].ops[i];
      int bk = op->kind, bg = op->stage;
      if (op->kind == PL_OP_F || op->kind == PL_OP_FB) {
        mem += c->stage[op->stage].mem_b;
        if (mem > peak)
          peak = mem;
      }
      if (op->kind == PL_OP_FB) {
        bk = op->kind2;
        bg = op->stage2;
      }
      if (op->kind != PL_OP_F)
        mem -= bk == PL_OP_B ? c->stage[bg].mem_b - c->stage[bg].mem_w
               : bk == PL_OP_W ? c->stage[bg].mem_w
                               : c->stage[bg].mem_b;
    }
    peaks[r] = peak;
  }
  return PL_OK;
}
