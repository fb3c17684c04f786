/* chrome.c: Chrome Trace Event JSON writer (docs/trace-format.md): one process per
 * rank, compute slices, P2P flows and send slices, activation counters.
 * Times are kept as integer nanoseconds while writing, so that the printed
 * microseconds ("%.3f") of a slice and of the flow events bound to it agree
 * exactly and a flow event always lies inside its slice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces_int.h"

/* ------------------------------------------------------------- edges --- */

/* A produced tensor: the activation (cls 0) or gradient (cls 1) of
 * (stage, mb), and the op that produces it. */
struct prod {
  int cls, stage, mb;
  size_t op;
};

static int cmp_prod(const void *pa, const void *pb)
{
  const struct prod *a = pa, *b = pb;
  if (a->cls != b->cls)
    return a->cls < b->cls ? -1 : 1;
  if (a->stage != b->stage)
    return a->stage < b->stage ? -1 : 1;
  if (a->mb != b->mb)
    return a->mb < b->mb ? -1 : 1;
  return 0;
}

int pl_trace_edges(const pl_result *r, pl_trace_edge **edges, size_t *n,
                   struct pl_errbuf *eb)
{
  *edges = NULL;
  *n = 0;
  if (!r->n_ops)
    return PL_OK;
  /* Sorted producer keys instead of a dense (stage x microbatch) table, so
   * that a hostile microbatch number in a loaded file costs nothing. */
  struct prod *v = pl_malloc(2 * r->n_ops * sizeof *v);
  pl_trace_edge *e = NULL;
  size_t k = 0, nv = 0;
  int rc = PL_OK;
  if (!v) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < r->n_ops; i++) {
    const pl_op *o = &r->ops[i].op;
    int bk = o->kind, bg = o->stage, bmb = o->mb;
    if (o->kind == PL_OP_F || o->kind == PL_OP_FB)
      v[nv++] = (struct prod){0, o->stage, o->mb, i};
    if (o->kind == PL_OP_FB) {
      bk = o->kind2;
      bg = o->stage2;
      bmb = o->mb2;
    }
    if (bk == PL_OP_B || bk == PL_OP_BW)
      v[nv++] = (struct prod){1, bg, bmb, i};
  }
  qsort(v, nv, sizeof *v, cmp_prod);
  e = pl_malloc((nv ? nv : 1) * sizeof *e);
  if (!e) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < nv; i++) {
    /* Activation g -> F(g+1); gradient g -> B/BW(g-1). The last stage's
     * F -> B is always local. */
    struct prod key = v[i];
    if (key.cls == 1 && key.stage == 0)
      continue;
    key.stage += key.cls == 0 ? 1 : -1;
    const struct prod *c = bsearch(&key, v, nv, sizeof *v, cmp_prod);
    if (!c || r->ops[c->op].rank == r->ops[v[i].op].rank)
      continue;
    e[k++] = (pl_trace_edge){v[i].op, c->op, v[i].stage, v[i].mb, v[i].cls};
  }
  if (k) {
    *edges = e;
    *n = k;
    e = NULL;
  }
out:
  pl_free(e);
  pl_free(v);
  return rc;
}

/* ------------------------------------------------------------ writer --- */

/* Appends a string literal. */
#define ADDS(b, lit) pl_buf_add((b), (lit), sizeof(lit) - 1)

typedef long long ns_t;

static ns_t to_ns(double t, double scale_us) { return llround(t * scale_us * 1e3); }

/* Appends ns as microseconds with three decimals. */
static int add_us(struct pl_buf *b, ns_t ns)
{
  const char *sign = ns < 0 ? "-" : "";
  unsigned long long a = ns < 0 ? (unsigned long long)(-(ns + 1)) + 1
                                : (unsigned long long)ns;
  return pl_buf_addf(b, "%s%llu.%03llu", sign, a / 1000, a % 1000);
}

static int add_num(struct pl_buf *b, double x)
{
  char t[40];
  pl_fmt_num(t, sizeof t, isfinite(x) ? x : 0);
  return pl_buf_addf(b, "%s", t);
}

static const char *kind_cat(int k)
{
  static const char *c[] = {"forward", "backward-input", "backward-weight",
                            "backward", "forward-backward"};
  return k >= 0 && k < PL_OP_NKINDS ? c[k] : "compute";
}

/* Colour hints from the trace viewer's reserved palette (Perfetto ignores
 * them and colours by name). */
static const char *kind_cname(int k)
{
  static const char *c[] = {"rail_response", "rail_animation", "good",
                            "olive", "yellow"};
  return k >= 0 && k < PL_OP_NKINDS ? c[k] : "grey";
}

/* One transfer as drawn: on the sender's process, on the track of its link
 * (sender -> receiver). */
struct send {
  int rank, dst;
  ns_t t0, t1;     /* start (link free / both posted) .. arrival */
  double ready;    /* the sender had the data (result time unit) */
  double start;
  int stage, mb, backward;
  double bytes;
};

static int cmp_send(const void *a, const void *b)
{
  const struct send *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  if (x->dst != y->dst)
    return x->dst < y->dst ? -1 : 1;
  if (x->t0 != y->t0)
    return x->t0 < y->t0 ? -1 : 1;
  if (x->backward != y->backward)
    return x->backward < y->backward ? -1 : 1;
  if (x->stage != y->stage)
    return x->stage < y->stage ? -1 : 1;
  return x->mb < y->mb ? -1 : x->mb > y->mb;
}

static int write_meta(struct pl_buf *b, const char *name, int pid, int tid,
                      const char *key, const char *sval, int ival)
{
  int rc = pl_buf_addf(b, ",\n{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%d,"
                          "\"tid\":%d,\"args\":{\"%s\":",
                       name, pid, tid, key);
  if (!rc)
    rc = sval ? pl__json_str(b, sval) : pl_buf_addf(b, "%d", ival);
  if (!rc)
    rc = ADDS(b, "}}");
  return rc;
}

static int check_input(const pl_result *r, double scale, struct pl_errbuf *eb)
{
  if (!(scale > 0) || !isfinite(scale))
    return pl_errf(eb, PL_EINVAL, "time scale must be a positive number");
  if (!r->n_ops)
    return pl_errf(eb, PL_EINVAL, "the result has no ops recorded (run the "
                   "engine with PL_SIM_RECORD_OPS)");
  if (r->stages <= 0 || r->virtual_stages < r->stages || r->microbatches <= 0)
    return pl_errf(eb, PL_EINVAL, "the result has no stages or microbatches");
  for (size_t i = 0; i < r->n_ops; i++) {
    const pl_op_rec *o = &r->ops[i];
    if (o->rank < 0 || o->rank >= r->stages)
      return pl_errf(eb, PL_EINVAL, "op %zu: rank %d out of range", i, o->rank);
    if (o->op.kind >= PL_OP_NKINDS || o->op.stage < 0 ||
        o->op.stage >= r->virtual_stages || o->op.mb < 0)
      return pl_errf(eb, PL_EINVAL, "op %zu: bad kind, stage or microbatch", i);
    if (!isfinite(o->start) || !isfinite(o->end) ||
        !isfinite(o->start * scale) || !isfinite(o->end * scale) ||
        fabs(o->end * scale) > 9e15)
      return pl_errf(eb, PL_EINVAL, "op %zu: time is not finite", i);
  }
  for (size_t i = 0; i < r->n_mem; i++)
    if (r->mem[i].rank < 0 || r->mem[i].rank >= r->stages)
      return pl_errf(eb, PL_EINVAL, "memory point %zu: rank out of range", i);
  return PL_OK;
}

static void op_name(const pl_op *o, char *buf, size_t len)
{
  if (o->kind == PL_OP_FB)
    snprintf(buf, len, "F%d+%s%d", o->mb, pl_op_kind_name(o->kind2), o->mb2);
  else
    snprintf(buf, len, "%s%d", pl_op_kind_name(o->kind), o->mb);
}

int pl_trace_chrome_buf(const pl_result *r, const pl_sched *s,
                        const pl_costs *c, double time_scale_us,
                        struct pl_buf *out, struct pl_errbuf *eb)
{
  int rc = check_input(r, time_scale_us, eb);
  if (rc)
    return rc;
  int p = r->stages, vs = r->virtual_stages;
  if (s && (pl_sched_ranks(s) != p || pl_sched_stages(s) != vs))
    s = NULL; /* a schedule of another shape: derive the map from the ops */
  if (c && c->n_stages != vs)
    c = NULL;
  const double sc = time_scale_us;
  pl_trace_edge *edges = NULL;
  size_t n_edges = 0;
  struct send *sends = NULL;
  int *stage_rank = pl_malloc((size_t)vs * sizeof *stage_rank);
  int *chunk = pl_malloc((size_t)vs * sizeof *chunk);
  /* The stages of each rank in ascending order, by_rank[rank_first[rk] ..
   * rank_first[rk + 1]), by a counting sort: linear in p +
   * vs (fill[], p more ints after rank_first[], are the cursors). */
  int *rank_first = pl_calloc(2 * (size_t)p + 1, sizeof *rank_first);
  int *fill = NULL;
  int *by_rank = pl_malloc((size_t)vs * sizeof *by_rank);
  struct pl_buf *b = out;
  if (!stage_rank || !chunk || !rank_first || !by_rank) {
    rc = pl_errf(eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  fill = rank_first + p + 1;
  for (int g = 0; g < vs; g++)
    stage_rank[g] = s ? pl_sched_stage_rank(s, g) : -1;
  if (!s)
    for (size_t i = 0; i < r->n_ops; i++)
      stage_rank[r->ops[i].op.stage] = r->ops[i].rank;
  for (int g = 0; g < vs; g++)
    if (stage_rank[g] >= 0 && stage_rank[g] < p)
      rank_first[stage_rank[g] + 1]++;
  for (int rk = 0; rk < p; rk++) {
    rank_first[rk + 1] += rank_first[rk];
    fill[rk] = rank_first[rk];
  }
  for (int g = 0, rk; g < vs; g++) {
    chunk[g] = 0;
    if ((rk = stage_rank[g]) < 0 || rk >= p)
      continue;
    int at = fill[rk]++;
    by_rank[at] = g;
    /* Without a schedule, a stage's chunk is the number of stages before
     * it on its rank. */
    chunk[g] = s ? pl_sched_stage_chunk(s, g) : at - rank_first[rk];
  }
  if ((rc = pl_trace_edges(r, &edges, &n_edges, eb)))
    goto out;

  /* Header and run metadata. */
  rc = pl_buf_addf(b, "{\"displayTimeUnit\":\"ms\",\n\"otherData\":{"
                      "\"tool\":\"pipelab\",\"version\":\"%s\",\"source\":",
                   pl_version());
  if (!rc) rc = pl__json_str(b, r->source[0] ? r->source : "sim");
  if (!rc) rc = ADDS(b, ",\"schedule\":");
  if (!rc) rc = pl__json_str(b, r->schedule);
  if (!rc)
    rc = pl_buf_addf(b, ",\"p\":%d,\"m\":%d,\"v\":%d,\"time_unit\":", p,
                     r->microbatches, r->chunks > 0 ? r->chunks : vs / p);
  if (!rc) rc = pl__json_str(b, r->time_unit);
  if (!rc) rc = ADDS(b, ",\"time_scale_us\":");
  if (!rc) rc = add_num(b, sc);
  if (!rc) rc = ADDS(b, ",\"mem_unit\":");
  if (!rc) rc = pl__json_str(b, r->mem_unit);
  if (!rc) rc = ADDS(b, ",\"makespan\":");
  if (!rc) rc = add_num(b, r->makespan);
  if (!rc && s) {
    rc = pl_buf_addf(b, ",\"placement\":\"%s\"",
                     pl_placement_name(pl_sched_placement(s)));
  }
  if (!rc)
    rc = ADDS(b, "},\n\"traceEvents\":[");
  /* Every event below is written as ",\n{...}"; the first comma is dropped
   * at the end. */
  size_t first = b->len;

  /* Process and thread names: "rank 00 (stage 0)". Perfetto ignores
   * sort_index, so the zero-padded names sort well alphabetically too. */
  int width = 2;
  for (int x = p - 1; x >= 100; x /= 10)
    width++;
  for (int rk = 0; rk < p && !rc; rk++) {
    char list[96] = "", name[160];
    int n = 0, cnt = 0;
    for (int k = rank_first[rk]; k < rank_first[rk + 1] && n < 90; k++) {
      int g = by_rank[k];
      if (n < 80)
        n += snprintf(list + n, sizeof list - (size_t)n, "%s%d",
                      k > rank_first[rk] ? "," : "", g);
      else if (n < 90)
        n += snprintf(list + n, sizeof list - (size_t)n, ",...");
    }
    cnt = rank_first[rk + 1] - rank_first[rk];
    int nn = cnt ? snprintf(name, sizeof name, "rank %0*d (stage%s %s)",
                            width, rk, cnt > 1 ? "s" : "", list)
                 : snprintf(name, sizeof name, "rank %0*d", width, rk);
    if (nn < 0)
      name[0] = 0;
    rc = write_meta(b, "process_name", rk, 0, "name", name, 0);
    if (!rc) rc = write_meta(b, "process_sort_index", rk, 0, "sort_index", NULL, rk);
    if (!rc) rc = write_meta(b, "thread_name", rk, 1, "name", "compute", 0);
    if (!rc) rc = write_meta(b, "thread_sort_index", rk, 1, "sort_index", NULL, 1);
  }

  /* One complete event per op. */
  for (size_t i = 0; i < r->n_ops && !rc; i++) {
    const pl_op_rec *o = &r->ops[i];
    ns_t t0 = to_ns(o->start, sc), t1 = to_ns(o->end, sc);
    char name[48];
    op_name(&o->op, name, sizeof name);
    rc = pl_buf_addf(b, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"cname\":\"%s\","
                        "\"ph\":\"X\",\"pid\":%d,\"tid\":1,\"ts\":",
                     name, kind_cat(o->op.kind), kind_cname(o->op.kind),
                     o->rank);
    if (!rc) rc = add_us(b, t0);
    if (!rc) rc = ADDS(b, ",\"dur\":");
    if (!rc) rc = add_us(b, t1 > t0 ? t1 - t0 : 0);
    if (!rc)
      rc = pl_buf_addf(b, ",\"args\":{\"rank\":%d,\"index\":%d,\"kind\":\"%s\","
                          "\"stage\":%d,\"chunk\":%d,\"microbatch\":%d",
                       o->rank, o->index, pl_op_kind_name(o->op.kind),
                       o->op.stage, chunk[o->op.stage], o->op.mb);
    if (!rc && o->op.kind == PL_OP_FB)
      rc = pl_buf_addf(b, ",\"kind2\":\"%s\",\"stage2\":%d,\"microbatch2\":%d",
                       pl_op_kind_name(o->op.kind2), o->op.stage2, o->op.mb2);
    if (!rc) rc = ADDS(b, ",\"start\":");
    if (!rc) rc = add_num(b, o->start);
    if (!rc) rc = ADDS(b, ",\"end\":");
    if (!rc) rc = add_num(b, o->end);
    if (!rc) rc = ADDS(b, "}}");
  }

  /* Flows: "s" inside the producer slice (1 ns before its end), "f" with
   * bp "e" inside the consumer slice (1 ns after its start). */
  for (size_t k = 0; k < n_edges && !rc; k++) {
    const pl_trace_edge *e = &edges[k];
    const pl_op_rec *a = &r->ops[e->from], *z = &r->ops[e->to];
    ns_t a0 = to_ns(a->start, sc), a1 = to_ns(a->end, sc);
    ns_t z0 = to_ns(z->start, sc), z1 = to_ns(z->end, sc);
    ns_t ts = a1 - a0 >= 2 ? a1 - 1 : a1;
    ns_t tf = z1 - z0 >= 2 ? z0 + 1 : z0;
    char name[64];
    snprintf(name, sizeof name, "%s s%d->s%d mb%d",
             e->backward ? "grad" : "act", e->stage,
             e->backward ? e->stage - 1 : e->stage + 1, e->mb);
    rc = pl_buf_addf(b, ",\n{\"name\":\"%s\",\"cat\":\"p2p\",\"ph\":\"s\","
                        "\"id\":%zu,\"pid\":%d,\"tid\":1,\"ts\":",
                     name, k + 1, a->rank);
    if (!rc) rc = add_us(b, ts);
    if (!rc)
      rc = pl_buf_addf(b, "},\n{\"name\":\"%s\",\"cat\":\"p2p\",\"ph\":\"f\","
                          "\"bp\":\"e\",\"id\":%zu,\"pid\":%d,\"tid\":1,"
                          "\"ts\":",
                       name, k + 1, z->rank);
    if (!rc) rc = add_us(b, tf);
    if (!rc) rc = ADDS(b, "}");
  }

  /* P2P transfers as slices on per-link tracks: each sending rank gets a
   * "p2p to rank NN" track per receiving rank, with the transfers over that
   * link. The simulator records when each transfer really ran (after the
   * link's queue, or when both ranks reached a blocking transfer); a result
   * without those records gets them from the cost table: from the
   * producer's end for the P2P time. Transfers that overlap on a link (pure
   * latency needs no bandwidth) go to the link's next lane, so slices on a
   * track never overlap. */
  size_t n_sends = 0;
  if (!rc && (r->n_xfers || (c && n_edges))) {
    size_t cap = r->n_xfers ? r->n_xfers : n_edges;
    sends = pl_malloc(cap * sizeof *sends);
    if (!sends) {
      rc = pl_errf(eb, PL_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t k = 0; k < r->n_xfers; k++) {
      const pl_xfer_rec *x = &r->xfers[k];
      if (x->src < 0 || x->src >= p || x->dst < 0 || x->dst >= p ||
          !isfinite(x->start) || !isfinite(x->end) || x->stage < 0 ||
          x->stage >= vs || !(x->end > x->start))
        continue;
      int bd = x->backward ? x->stage - 1 : x->stage;
      sends[n_sends++] = (struct send){
          x->src, x->dst, to_ns(x->start, sc), to_ns(x->end, sc), x->ready,
          x->start, x->stage, x->mb, x->backward,
          c && bd >= 0 ? c->stage[bd].msg_bytes : 0};
    }
    for (size_t k = 0; !r->n_xfers && k < n_edges; k++) {
      const pl_trace_edge *e = &edges[k];
      /* The engine charges a message out of stage g for activations and
       * into stage g-1 for gradients (sim/engine.c). */
      int bd = e->backward ? e->stage - 1 : e->stage;
      double comm = pl_costs_comm(c, bd);
      if (!(comm > 0) || !isfinite(comm))
        continue;
      const pl_op_rec *a = &r->ops[e->from];
      sends[n_sends++] = (struct send){
          a->rank, r->ops[e->to].rank, to_ns(a->end, sc),
          to_ns(a->end + comm, sc), a->end, a->end, e->stage, e->mb,
          e->backward, c->stage[bd].msg_bytes};
    }
    qsort(sends, n_sends, sizeof *sends, cmp_send);
    ns_t lane_end[64];
    int lanes = 0, prev = -1, prev_dst = -1, next_tid = 2, tid0 = 2;
    for (size_t i = 0; i < n_sends && !rc; i++) {
      struct send *x = &sends[i];
      if (x->rank != prev) {
        prev = x->rank;
        prev_dst = -1;
        next_tid = 2;
      }
      if (x->dst != prev_dst) {
        prev_dst = x->dst;
        lanes = 0;
        tid0 = next_tid;
      }
      int l = 0;
      while (l < lanes && lane_end[l] > x->t0)
        l++;
      if (l == 64)
        l = 63; /* pathological: let Perfetto put it on an overflow track */
      if (l == lanes) {
        lanes++;
        next_tid++;
        char tn[48];
        if (l)
          snprintf(tn, sizeof tn, "p2p to rank %0*d (%d)", width, x->dst,
                   l + 1);
        else
          snprintf(tn, sizeof tn, "p2p to rank %0*d", width, x->dst);
        rc = write_meta(b, "thread_name", x->rank, tid0 + l, "name", tn, 0);
        if (!rc)
          rc = write_meta(b, "thread_sort_index", x->rank, tid0 + l,
                          "sort_index", NULL, tid0 + l);
      }
      lane_end[l] = x->t1;
      if (!rc)
        rc = pl_buf_addf(b, ",\n{\"name\":\"%s mb%d\",\"cat\":\"p2p\","
                            "\"cname\":\"grey\",\"ph\":\"X\",\"pid\":%d,"
                            "\"tid\":%d,\"ts\":",
                         x->backward ? "SEND_B" : "SEND_F", x->mb, x->rank,
                         tid0 + l);
      if (!rc) rc = add_us(b, x->t0);
      if (!rc) rc = ADDS(b, ",\"dur\":");
      if (!rc) rc = add_us(b, x->t1 > x->t0 ? x->t1 - x->t0 : 0);
      if (!rc)
        rc = pl_buf_addf(b, ",\"args\":{\"peer\":%d,\"stage\":%d,"
                            "\"microbatch\":%d,\"bytes\":",
                         x->dst, x->stage, x->mb);
      if (!rc) rc = add_num(b, x->bytes);
      if (!rc) rc = ADDS(b, ",\"ready\":");
      if (!rc) rc = add_num(b, x->ready);
      if (!rc) rc = ADDS(b, ",\"waited\":");
      if (!rc) rc = add_num(b, x->start > x->ready ? x->start - x->ready : 0);
      if (!rc) rc = ADDS(b, "}}");
    }
  }

  /* Collectives: the exposed TP/CP communication of each op (the cost
   * table's coll[] share) as one slice at the end of the op, on its own
   * "collectives" track (tid 1000) of the rank. */
  if (c && !rc) {
    unsigned char *named = pl_calloc((size_t)(r->stages > 0 ? r->stages : 1), 1);
    if (!named)
      rc = PL_ENOMEM;
    for (size_t i = 0; i < r->n_ops && !rc; i++) {
      const pl_op_rec *o = &r->ops[i];
      if (o->op.stage < 0 || o->op.stage >= c->n_stages || o->op.kind > PL_OP_FB)
        continue;
      double cl = c->stage[o->op.stage].coll[o->op.kind];
      if (o->op.kind == PL_OP_FB && o->op.stage2 >= 0 &&
          o->op.stage2 < c->n_stages && o->op.kind2 < PL_OP_NKINDS)
        cl = c->stage[o->op.stage].coll[PL_OP_F] +
             c->stage[o->op.stage2].coll[o->op.kind2];
      double dur = o->end - o->start;
      if (!(cl > 0) || !isfinite(cl) || !(dur > 0))
        continue;
      if (cl > dur)
        cl = dur;
      if (o->rank >= 0 && o->rank < r->stages && !named[o->rank]) {
        named[o->rank] = 1;
        rc = write_meta(b, "thread_name", o->rank, 1000, "name", "collectives",
                        0);
        if (!rc)
          rc = write_meta(b, "thread_sort_index", o->rank, 1000, "sort_index",
                          NULL, 1000);
      }
      char name[48];
      op_name(&o->op, name, sizeof name);
      if (!rc)
        rc = pl_buf_addf(b, ",\n{\"name\":\"TP/CP %s\",\"cat\":\"collective\","
                            "\"cname\":\"yellow\",\"ph\":\"X\",\"pid\":%d,"
                            "\"tid\":1000,\"ts\":",
                         name, o->rank);
      if (!rc) rc = add_us(b, to_ns(o->end - cl, sc));
      if (!rc) rc = ADDS(b, ",\"dur\":");
      if (!rc) rc = add_us(b, to_ns(o->end, sc) - to_ns(o->end - cl, sc));
      if (!rc) rc = ADDS(b, ",\"args\":{\"op_index\":");
      if (!rc) rc = pl_buf_addf(b, "%d,\"time\":", o->index);
      if (!rc) rc = add_num(b, cl);
      if (!rc) rc = ADDS(b, "}}");
    }
    pl_free(named);
  }

  /* Activation memory: one counter track per rank. */
  for (size_t i = 0; i < r->n_mem && !rc; i++) {
    const pl_mem_point *m = &r->mem[i];
    if (!isfinite(m->t) || !isfinite(m->value) || !isfinite(m->t * sc))
      continue;
    rc = pl_buf_addf(b, ",\n{\"name\":\"activations\",\"ph\":\"C\",\"pid\":%d,"
                        "\"tid\":0,\"ts\":",
                     m->rank);
    if (!rc) rc = add_us(b, to_ns(m->t, sc));
    if (!rc) rc = ADDS(b, ",\"args\":{");
    if (!rc) rc = pl__json_str(b, r->mem_unit[0] ? r->mem_unit : "units");
    if (!rc) rc = ADDS(b, ":");
    if (!rc) rc = add_num(b, m->value);
    if (!rc) rc = ADDS(b, "}}");
  }
  if (!rc && b->len > first && b->buf[first] == ',') {
    memmove(b->buf + first, b->buf + first + 1, b->len - first);
    b->len--;
  }
  if (!rc)
    rc = ADDS(b, "\n]}\n");
  if (rc)
    pl_errf(eb, rc, "cannot build the trace: %s", pl_strerror(rc));

out:
  if (rc)
    pl_buf_free(out);
  pl_free(sends);
  pl_free(edges);
  pl_free(stage_rank);
  pl_free(chunk);
  pl_free(rank_first);
  pl_free(by_rank);
  return rc;
}

int pl_trace_write_chrome(const pl_result *r, const pl_sched *s,
                          const pl_costs *c, double time_scale_us,
                          const char *path, struct pl_errbuf *eb)
{
  struct pl_buf b;
  pl_buf_init(&b, 0);
  int rc = pl_trace_chrome_buf(r, s, c, time_scale_us, &b, eb);
  if (!rc)
    rc = pl_write_file_atomic(path, b.buf, b.len, eb);
  pl_buf_free(&b);
  return rc;
}
