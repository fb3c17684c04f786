#define _POSIX_C_SOURCE 200809L
/* cmd_sweep.c: `pipelab sweep`: the best 3D layout and schedule for a model
 * on N GPUs. With --model/--gpu the kernel-level cost model prices every
 * point (tensor, context, pipeline and data parallelism, microbatch size,
 * recomputation, distributed optimizer, schedule) at a fixed global batch,
 * prunes what cannot enter the top N, and explains the rest; without a
 * model, constant --tf/--tb/--tw costs give a relative ranking in
 * microbatches per time unit. `sweep merge` combines --shard results. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelab/traces.h"
#include "simopts.h"
#include "sweepmodel.h"

static const char usage[] =
  "usage: pipelab sweep --gpus <n> [--model <m> --gpu <g>] [--global-batch <b>]\n"
  "                     [--tp <list>] [--cp <list>] [--stages <list>]\n"
  "                     [--chunks <list>] [--mb-size <list>] [--recompute <list>]\n"
  "                     [--distributed-optimizer | --no-distributed-optimizer]\n"
  "                     [--schedules (all|<list>)] [--microbatches <range>]\n"
  "                     [--mem-limit <x>] [--top <k>] [--all] [--explain <k>]\n"
  "                     [--shard <k>/<n>] [--exhaustive] [--jobs <n>]\n"
  "                     [--format (table|json|csv)]\n"
  "       pipelab sweep merge <shard.json>... [--top <k>] [--format ...]\n\n"
  "Enumerates every layout and schedule for N GPUs (GPUs = tp x cp x pp x dp),\n"
  "prices and simulates each, and ranks them by tokens/s per GPU (ties: more\n"
  "memory headroom first) under the memory limit (default: the GPU's HBM\n"
  "with a model, none otherwise). With a model the global batch is fixed, so\n"
  "every point trains the same tokens; points whose bound cannot enter the\n"
  "top k are pruned before simulating (--exhaustive simulates all). Lists\n"
  "are '1,2,4'; ranges are '8..128' or '8..128:8' (step 8).\n\n"
  "options:\n"
  "  --gpus <n>            GPUs in total (required)\n"
  "  --global-batch <b>    sequences per iteration; m = b / (dp x mb-size)\n"
  "                        (with a model, default max(256, 4 x GPUs))\n"
  "  --tp <list>           tensor-parallel sizes (model default: the divisors\n"
  "                        of the heads and KV heads up to the scale-up domain)\n"
  "  --cp <list>           context-parallel sizes (default 1; 1,2,4,8 for\n"
  "                        sequences of 32k and more)\n"
  "  --stages <list>       pipeline sizes (default: every divisor of n, at most\n"
  "                        the model's layers, or up to 64 without a model)\n"
  "  --chunks <list>       chunks per rank for interleaved (default 2,4)\n"
  "  --mb-size <list>      microbatch sizes (model default 1,2,4; else 1)\n"
  "  --recompute <list>    none,selective,full (model default: all three)\n"
  "  --distributed-optimizer / --no-distributed-optimizer\n"
  "                        pin the optimizer sharding (default: both)\n"
  "  --microbatches <r>    without --global-batch: microbatches (default 8..64:8)\n"
  "  --schedules <list>    schedule names or 'all' (default all)\n"
  "  --mem-limit <x>       per-GPU limit: bytes (80GiB) with a model, else units\n"
  "  --top <k>             rows in the table, and the pruning depth (default 10)\n"
  "  --all                 every row, rejected and pruned ones with the reason\n"
  "  --explain <k>         where the time and memory of row k go\n"
  "  --shard <k>/<n>       evaluate only shard k of n (0-based; for job arrays);\n"
  "                        save --format json and combine with 'sweep merge'\n"
  "  --exhaustive          simulate every point (no pruning)\n"
  "  --jobs <n>            worker threads (default: all cores)\n"
  "  --format <f>          table (default), json or csv\n"
  "constant costs (without a model; memory in units of one microbatch's\n"
  "activations over the whole model):\n"
  "  --tf-total <t> --tb-total <t> --tw-total <t>\n"
  "                        forward, input-backward, weight-backward time of one\n"
  "                        microbatch through the WHOLE model (default 1 each;\n"
  "                        each rank runs 1/p of it)\n"
  "  --tf <t> --tb <t> --tw <t>\n"
  "                        the same per rank, as in 'pipelab simulate' (one\n"
  "                        microbatch through the layers of ONE rank); needs\n"
  "                        a single --stages <p> (whole model = p x per rank)\n"
  "  --comm <t>            time of one P2P message (default 0)\n"
  "  --mem-w-frac <x>      fraction of the activations B keeps until W (0.5)\n"
  "runtime (docs/transfers.md; every point, model-priced or not):\n"
  "  --p2p <mode>          async (default), blocking or batched transfers\n"
  "  --op-gap <t>          launch gap before every op (us with a model)\n"
  "  --send-overhead <t>   host time of the sending rank per P2P message\n"
  "  --recv-overhead <t>   host time of the receiving rank per message\n"
  "  --local-handoff <h>   free (default) or copied: whether a V turn on one\n"
  "                        rank pays both overheads\n";

static const char examples[] =
  "examples:\n"
  "  pipelab sweep --model llama3-70b --gpu h100 --gpus 64 --global-batch 512 --seq 8192\n"
  "  pipelab sweep --model llama3-8b --gpu h100 --gpus 16 --tp 1,2 --explain 1\n"
  "  pipelab sweep --gpus 16 --microbatches 8..64:8 --tf-total 16 --tb-total 16 --tw-total 12\n";

/* Parses "1,2,4" into a pl_malloc'ed array. */
static int parse_list(const char *cmd, const char *opt, const char *s,
                      int lo, int hi, int **out, int *n)
{
  char *dup = pl_strdup(s), *save = NULL;
  int cap = 0, k = 0, rc = 0;
  int *a = NULL;
  for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (k == cap) {
      cap = cap ? 2 * cap : 8;
      int *na = realloc(a, (size_t)cap * sizeof *a);
      if (!na) {
        rc = cli_fail(PL_ENOMEM, "out of memory");
        break;
      }
      a = na;
    }
    if ((rc = cli_int(cmd, opt, t, lo, hi, &a[k])))
      break;
    k++;
  }
  pl_free(dup);
  if (!rc && k == 0)
    rc = cli_usage(cmd, "%s needs at least one value", opt);
  if (rc) {
    free(a);
    return rc;
  }
  *out = a;
  *n = k;
  return 0;
}

/* "none,selective,full" into recompute modes. */
static int parse_recompute(const char *cmd, const char *s, int **out, int *n)
{
  char *dup = pl_strdup(s), *save = NULL;
  int *a = malloc(3 * sizeof *a), k = 0, rc = 0;
  for (char *t = strtok_r(dup, ",", &save); t && !rc;
       t = strtok_r(NULL, ",", &save)) {
    int v = !strcmp(t, "none") ? PL_RECOMPUTE_NONE
            : !strcmp(t, "selective") ? PL_RECOMPUTE_SELECTIVE
            : !strcmp(t, "full") ? PL_RECOMPUTE_FULL : -1;
    if (v < 0)
      rc = cli_usage(cmd, "--recompute takes none, selective and full "
                          "(comma-separated), got '%s'", t);
    else if (k < 3)
      a[k++] = v;
  }
  pl_free(dup);
  if (!rc && k == 0)
    rc = cli_usage(cmd, "--recompute needs at least one value");
  if (rc) {
    free(a);
    return rc;
  }
  *out = a;
  *n = k;
  return 0;
}

/* Parses "8..128", "8..128:8" or a single number. */
static int parse_range(const char *cmd, const char *s, int *lo, int *hi,
                       int *step)
{
  char buf[64];
  if (strlen(s) >= sizeof buf)
    return cli_usage(cmd, "--microbatches range '%s' is too long", s);
  snprintf(buf, sizeof buf, "%s", s);
  char *dots = strstr(buf, "..");
  int rc;
  *step = 1;
  if (!dots) {
    if ((rc = cli_int(cmd, "--microbatches", buf, 1, 1 << 20, lo)))
      return rc;
    *hi = *lo;
    return 0;
  }
  *dots = 0;
  char *b = dots + 2, *colon = strchr(b, ':');
  if (colon) {
    *colon = 0;
    if ((rc = cli_int(cmd, "--microbatches step", colon + 1, 1, 1 << 20, step)))
      return rc;
  }
  if ((rc = cli_int(cmd, "--microbatches start", buf, 1, 1 << 20, lo)) ||
      (rc = cli_int(cmd, "--microbatches end", b, 1, 1 << 20, hi)))
    return rc;
  if (*hi < *lo)
    return cli_usage(cmd, "--microbatches range '%s' is empty (end before "
                          "start)", s);
  return 0;
}

static void progress(void *ctx, size_t done, size_t total)
{
  (void)ctx;
  term_progress("sweep", done, total);
}

/* ---------------------------------------------------------- reporting -- */

struct report {
  const struct sweepmodel *sm;
  const pl_sweep_point *pts;
  const pl_sweep_eval *evs;
  const size_t *order;
  const size_t *index; /* enumeration index of each point (merge) or NULL */
  size_t n, ok;
  int top, all;
  double secs;
  int gpus;
  long global_batch;
};

static size_t point_index(const struct report *rp, size_t i)
{
  return rp->index ? rp->index[i] : i;
}

/* Marks the points on the Pareto front of throughput vs peak memory:
 * no other accepted point is at least as fast with less memory. */
static unsigned char *pareto(const struct report *rp)
{
  unsigned char *f = pl_calloc(rp->n ? rp->n : 1, 1);
  if (!f)
    return NULL;
  double best_mem = INFINITY;
  for (size_t r = 0; r < rp->n; r++) {
    size_t i = rp->order[r];
    if (rp->evs[i].status != PL_SWEEP_OK)
      break;
    if (rp->evs[i].peak_mem < best_mem) {
      f[i] = 1;
      best_mem = rp->evs[i].peak_mem;
    }
  }
  return f;
}

static json_t *row_json(const struct report *rp, size_t r, size_t i,
                        const unsigned char *front)
{
  const pl_sweep_point *pt = &rp->pts[i];
  const pl_sweep_eval *ev = &rp->evs[i];
  static const char *const st[] = {"ok", "rejected", "pruned", "skipped"};
  json_t *o = json_object();
  json_object_set_new(o, "rank", json_integer((json_int_t)r + 1));
  json_object_set_new(o, "index", json_integer((json_int_t)point_index(rp, i)));
  json_object_set_new(o, "schedule", json_string(pt->schedule));
  json_object_set_new(o, "stages", json_integer(pt->p));
  json_object_set_new(o, "microbatches", json_integer(pt->m));
  json_object_set_new(o, "mb_size", json_integer(pt->mb_size));
  json_object_set_new(o, "chunks", json_integer(pt->v));
  json_object_set_new(o, "dp", json_integer(pt->dp));
  json_object_set_new(o, "tp", json_integer(pt->tp));
  json_object_set_new(o, "cp", json_integer(pt->cp));
  json_object_set_new(o, "recompute",
                      json_string(pl_recompute_name(pt->recompute)));
  json_object_set_new(o, "distributed_optimizer", json_boolean(pt->dist_opt));
  json_object_set_new(o, "status", json_string(st[ev->status & 3]));
  if (ev->status == PL_SWEEP_OK || ev->iteration_time > 0)
    sweepmodel_json(rp->sm, o, pt, ev);
  if (ev->status == PL_SWEEP_OK && front)
    json_object_set_new(o, "pareto", json_boolean(front[i]));
  if (ev->status != PL_SWEEP_OK) {
    json_object_set_new(o, "reason", json_string(ev->reason));
    if (ev->status == PL_SWEEP_REJECTED)
      json_object_set_new(o, "reject_kind", json_string(pl_sweep_why_name(ev->why)));
    if (ev->why == PL_WHY_MEMORY && ev->over > 0)
      json_object_set_new(o, "over_limit", json_real(ev->over));
  }
  return o;
}

/* Counts of rejections per reason, and what would admit the memory ones. */
static void rejection_summary(const struct report *rp, const pl_sweep_spec *sp,
                              FILE *out)
{
  size_t why[PL_WHY_N] = {0}, pruned = 0, near = 0, near_norec = 0,
         near_nodo = 0, skipped = 0;
  for (size_t i = 0; i < rp->n; i++) {
    const pl_sweep_eval *ev = &rp->evs[i];
    if (ev->status == PL_SWEEP_PRUNED)
      pruned++;
    else if (ev->status == PL_SWEEP_SKIPPED)
      skipped++;
    else if (ev->status == PL_SWEEP_REJECTED) {
      why[ev->why >= 0 && ev->why < PL_WHY_N ? ev->why : 0]++;
      if (ev->why == PL_WHY_MEMORY && ev->over > 0 && ev->over < 0.10) {
        near++;
        near_norec += rp->pts[i].recompute == PL_RECOMPUTE_NONE;
        near_nodo += !rp->pts[i].dist_opt;
      }
    }
  }
  size_t rej = 0;
  for (int k = 0; k < PL_WHY_N; k++)
    rej += why[k];
  fprintf(out, "\n%zu points: %zu accepted, %zu rejected, %zu pruned (cannot "
               "enter the top %d)%s\n",
          rp->n - skipped, rp->ok, rej, pruned, rp->top,
          skipped ? " (other shards' points not counted)" : "");
  for (int k = 1; k < PL_WHY_N; k++)
    if (why[k])
      fprintf(out, "  %6zu %s\n", why[k], pl_sweep_why_name(k));
  if (near) {
    int has_rec = 0, has_do = 0;
    for (int k = 0; k < sp->n_recomputes; k++)
      has_rec |= sp->recomputes[k] != PL_RECOMPUTE_NONE;
    for (int k = 0; k < sp->n_dist_opts; k++)
      has_do |= sp->dist_opts[k];
    const char *hint =
        near_norec && !has_rec ? "try --recompute selective,full"
        : near_nodo && !has_do ? "try --distributed-optimizer"
        : "they need a larger --mem-limit or more GPUs";
    fprintf(out, "  %zu of the out-of-memory points are over by less than "
                 "10 %%: %s\n", near, hint);
  }
}

static void print_explain(struct sweepmodel *sm, const pl_sweep_point *pt,
                          size_t rank)
{
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  pl_result r = PL_RESULT_INIT;
  pl_breakdown bd;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (sweepmodel_explain(sm, pt, &plan, &r, &bd, &eb)) {
    cli_warn("--explain: %s", eb.msg);
    return;
  }
  double it = bd.iteration_us;
  printf("\nrow %zu: %s, tp %d x cp %d x pp %d x dp %d, v %d, microbatch %d x "
         "%d, recompute %s, distributed optimizer %s\n",
         rank, pt->schedule, pt->tp, pt->cp, pt->p, pt->dp, pt->v, pt->mb_size,
         pt->m, pl_recompute_name(pt->recompute), pt->dist_opt ? "on" : "off");
  printf("iteration %s on rank %d: compute %s (GEMM %.1f%%, attention "
         "%.1f%%, memory-bound %.1f%%), TP/CP %s, PP transfers %s, "
         "bubble %s, DP %s, optimizer %s; MFU %.1f%%, HFU %.1f%%\n",
         cli_dur(it, "us"), bd.rank, cli_dur(bd.compute_us, "us"),
         100 * bd.gemm_us / it, 100 * bd.attn_us / it, 100 * bd.mem_us / it,
         cli_dur(bd.tp_us + bd.cp_us, "us"), cli_dur(bd.pp_us, "us"),
         cli_dur(bd.bubble_us, "us"), cli_dur(bd.dp_us, "us"),
         cli_dur(bd.optimizer_us, "us"), 100 * bd.mfu, 100 * bd.hfu);
  modelopts_print_ranks(&plan, &r, 0);
  pl_result_free(&r);
  pl_model_plan_free(&plan);
}

static int report(struct report *rp, const pl_sweep_spec *sp,
                  enum cli_format fmt, int explain, struct sweepmodel *sm)
{
  size_t rows = rp->all ? rp->n
                        : (rp->ok < (size_t)rp->top ? rp->ok : (size_t)rp->top);
  unsigned char *front = pareto(rp);
  size_t n_front = 0;
  for (size_t i = 0; front && i < rp->n; i++)
    n_front += front[i];
  const char *tu = sweepmodel_active(sm) ? "tokens/s" : "mb/unit";
  if (fmt == CLI_FMT_JSON) {
    json_t *a = json_array();
    for (size_t r = 0; r < rows; r++) {
      size_t i = rp->order[r];
      if (rp->evs[i].status == PL_SWEEP_SKIPPED)
        continue;
      json_array_append_new(a, row_json(rp, r, i, front));
    }
    json_t *top_o = json_object();
    json_object_set_new(top_o, "gpus", json_integer(rp->gpus));
    if (rp->global_batch > 0)
      json_object_set_new(top_o, "global_batch", json_integer(rp->global_batch));
    json_object_set_new(top_o, "points", json_integer((json_int_t)rp->n));
    json_object_set_new(top_o, "accepted", json_integer((json_int_t)rp->ok));
    json_object_set_new(top_o, "pareto_points", json_integer((json_int_t)n_front));
    json_object_set_new(top_o, "seconds", json_real(rp->secs));
    if (!rp->index) { /* a merge does not know the shards' runtime */
      json_t *rt = json_object();
      simopts_json_runtime(rt, sp->p2p_mode, sp->op_gap, sp->send_overhead,
                           sp->recv_overhead, sp->local_overhead);
      json_object_set_new(top_o, "runtime", rt);
    }
    json_object_set_new(top_o, "rows", a);
    pl_json_dumpf(top_o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(top_o);
  } else if (fmt == CLI_FMT_CSV) {
    sweepmodel_csv_header(rp->sm);
    for (size_t r = 0; r < rows; r++)
      if (rp->evs[rp->order[r]].status != PL_SWEEP_SKIPPED)
        sweepmodel_csv_row(rp->sm, r + 1, &rp->pts[rp->order[r]],
                           &rp->evs[rp->order[r]]);
  } else {
    fprintf(stderr, "sweep: %zu points, %zu accepted, %.2f s (%.0f "
                    "configurations/min)\n",
            rp->n, rp->ok, rp->secs,
            rp->secs > 0 ? (double)rp->n / rp->secs * 60 : 0);
    sweepmodel_table(rp->sm, tu, rp->pts, rp->evs, rp->order, rows);
    if (sweepmodel_active(sm)) {
      printf("\ncomp = compute, TP = exposed TP/CP collectives, idle = "
             "pipeline bubble and transfers,\nDP = exposed DP reduce, opt = "
             "optimizer (shares of the iteration); do = distributed "
             "optimizer.\n%zu points on the Pareto front of throughput vs "
             "memory (--format json marks them).\n", n_front);
      rejection_summary(rp, sp, stdout);
    }
  }
  if (explain > 0 && sweepmodel_active(sm)) {
    if ((size_t)explain > rp->ok)
      cli_warn("--explain %d: only %zu points were accepted", explain, rp->ok);
    else
      print_explain(sm, &rp->pts[rp->order[explain - 1]], (size_t)explain);
  }
  pl_free(front);
  return 0;
}

/* ---------------------------------------------------------------- merge -- */

static int geti(json_t *o, const char *k, int def)
{
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static double getd(json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : 0;
}

struct ip {
  size_t idx, pos;
};

static int cmp_ip(const void *a, const void *b)
{
  const struct ip *x = a, *y = b;
  if (x->idx != y->idx)
    return x->idx < y->idx ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmd_merge(int argc, char **argv)
{
  const char *cmd = "sweep merge";
  enum cli_format fmt = CLI_FMT_TABLE;
  int top = 10, all = 0, rc = 0, opt;
  enum { M_TOP = 3100, M_FMT, M_ALL };
  static const struct option lo[] = {
    {"top", required_argument, NULL, M_TOP},
    {"format", required_argument, NULL, M_FMT},
    {"all", no_argument, NULL, M_ALL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  /* files and options in any order (GNU getopt permutes) */
  while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    if (opt == 'h') {
      printf("usage: pipelab sweep merge <shard.json>... [--top <k>] [--all]\n"
             "                           [--format (table|json|csv)]\n\n"
             "Combines the JSON of 'pipelab sweep --shard k/n --all --format "
             "json'\nruns into one ranking, the same as one unsharded run.\n\n"
             "examples:\n"
             "  pipelab sweep --gpus 8 --shard 0/2 --all --format json > s0.json\n"
             "  pipelab sweep --gpus 8 --shard 1/2 --all --format json > s1.json\n"
             "  pipelab sweep merge s0.json s1.json --top 5\n");
      return 0;
    }
    if (opt == M_TOP && (rc = cli_int(cmd, "--top", optarg, 1, 1 << 30, &top)))
      return rc;
    if (opt == M_FMT && (rc = cli_format(cmd, optarg, 7, &fmt)))
      return rc;
    if (opt == M_ALL)
      all = 1;
    if (opt == '?' || opt == ':')
      return cli_bad_option(cmd, argv);
  }
  if (optind >= argc)
    return cli_usage(cmd, "name the shard files (sweep --shard k/n --all "
                          "--format json > shard-k.json)");
  size_t cap = 0, n = 0;
  pl_sweep_point *pts = NULL;
  pl_sweep_eval *evs = NULL;
  size_t *index = NULL;
  int gpus = 0, model = 0;
  long gb = 0;
  for (int f = optind; f < argc && !rc; f++) {
    json_error_t je;
    json_t *d = json_load_file(argv[f], 0, &je);
    json_t *rows = d ? json_object_get(d, "rows") : NULL;
    if (!json_is_array(rows)) {
      rc = cli_fail(PL_EPARSE, "'%s' is not a sweep JSON file (%s)", argv[f],
                    d ? "no rows" : je.text);
      json_decref(d);
      break;
    }
    gpus = geti(d, "gpus", gpus);
    gb = geti(d, "global_batch", (int)gb);
    for (size_t r = 0; r < json_array_size(rows) && !rc; r++) {
      json_t *o = json_array_get(rows, r);
      const char *name = json_string_value(json_object_get(o, "schedule"));
      const char *st = json_string_value(json_object_get(o, "status"));
      const pl_gen_info *gi = name ? pl_gen_find(name) : NULL;
      if (!gi || !st) {
        rc = cli_fail(PL_EPARSE, "'%s' row %zu: no known schedule or status",
                      argv[f], r + 1);
        break;
      }
      if (n == cap) {
        cap = cap ? 2 * cap : 1024;
        pl_sweep_point *np = pl_realloc(pts, cap * sizeof *pts);
        pl_sweep_eval *ne = np ? pl_realloc(evs, cap * sizeof *evs) : NULL;
        size_t *ni = ne ? pl_realloc(index, cap * sizeof *index) : NULL;
        if (np) pts = np;
        if (ne) evs = ne;
        if (ni) index = ni;
        if (!np || !ne || !ni) {
          rc = cli_fail(PL_ENOMEM, "out of memory");
          break;
        }
      }
      pl_sweep_point *pt = &pts[n];
      pl_sweep_eval *ev = &evs[n];
      memset(pt, 0, sizeof *pt);
      memset(ev, 0, sizeof *ev);
      pt->schedule = gi->name;
      pt->p = geti(o, "stages", 1);
      pt->m = geti(o, "microbatches", 1);
      pt->mb_size = geti(o, "mb_size", 1);
      pt->v = geti(o, "chunks", 1);
      pt->dp = geti(o, "dp", 1);
      pt->tp = geti(o, "tp", 1);
      pt->cp = geti(o, "cp", 1);
      const char *rcs = json_string_value(json_object_get(o, "recompute"));
      pt->recompute = rcs && !strcmp(rcs, "full") ? PL_RECOMPUTE_FULL
                      : rcs && !strcmp(rcs, "selective") ? PL_RECOMPUTE_SELECTIVE
                      : PL_RECOMPUTE_NONE;
      pt->dist_opt = json_is_true(json_object_get(o, "distributed_optimizer"));
      index[n] = (size_t)geti(o, "index", (int)n);
      ev->status = !strcmp(st, "ok") ? PL_SWEEP_OK
                   : !strcmp(st, "pruned") ? PL_SWEEP_PRUNED
                   : PL_SWEEP_REJECTED;
      model |= json_object_get(o, "tokens_per_second") != NULL;
      ev->throughput = model ? getd(o, "tokens_per_second") : getd(o, "throughput");
      ev->iteration_time = model ? getd(o, "iteration_seconds")
                                 : getd(o, "iteration_time");
      ev->peak_mem = model ? (json_object_get(o, "peak_bytes")
                                  ? getd(o, "peak_bytes")
                                  : getd(o, "peak_gib") * 1073741824.0)
                           : getd(o, "peak_activation_units");
      ev->mfu = getd(o, "mfu");
      ev->bubble_ratio = getd(o, "bubble_ratio");
      ev->fits = json_is_true(json_object_get(o, "fits"));
      json_t *b = json_object_get(o, "breakdown");
      if (b) {
        ev->t_compute = getd(b, "compute_s");
        ev->t_tp = getd(b, "tp_cp_comm_s");
        ev->t_idle = getd(b, "pipeline_idle_s");
        ev->t_dp = getd(b, "dp_comm_s");
        ev->t_optim = getd(b, "optimizer_s");
      }
      const char *why = json_string_value(json_object_get(o, "reject_kind"));
      for (int k = 0; why && k < PL_WHY_N; k++)
        if (!strcmp(why, pl_sweep_why_name(k)))
          ev->why = k;
      ev->over = getd(o, "over_limit");
      const char *reason = json_string_value(json_object_get(o, "reason"));
      snprintf(ev->reason, sizeof ev->reason, "%s", reason ? reason : "");
      n++;
    }
    json_decref(d);
  }
  if (rc) {
    pl_free(pts);
    pl_free(evs);
    pl_free(index);
    return rc;
  }
  /* Rank by the enumeration index, as one run would: sort an index order
   * first so that ties fall back to it. */
  size_t *order = NULL;
  pl_sweep_point *sp2 = pl_malloc((n ? n : 1) * sizeof *sp2);
  pl_sweep_eval *se2 = pl_malloc((n ? n : 1) * sizeof *se2);
  size_t *byidx = pl_malloc((n ? n : 1) * sizeof *byidx);
  size_t *ix2 = pl_malloc((n ? n : 1) * sizeof *ix2);
  if (!sp2 || !se2 || !byidx || !ix2) {
    rc = cli_fail(PL_ENOMEM, "out of memory");
    goto done;
  }
  {
    struct ip *v = pl_malloc((n ? n : 1) * sizeof *v);
    if (!v) {
      rc = cli_fail(PL_ENOMEM, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < n; i++) {
      v[i].idx = index[i];
      v[i].pos = i;
    }
    qsort(v, n, sizeof *v, cmp_ip);
    for (size_t i = 0; i < n; i++)
      byidx[i] = v[i].pos;
    pl_free(v);
  }
  for (size_t i = 0; i < n; i++) {
    sp2[i] = pts[byidx[i]];
    se2[i] = evs[byidx[i]];
    ix2[i] = index[byidx[i]];
  }
  if (pl_sweep_rank(se2, n, &order)) {
    rc = cli_fail(PL_ENOMEM, "out of memory");
    goto done;
  }
  struct sweepmodel sm;
  sweepmodel_init(&sm);
  sm.active = model;
  struct report rp = {&sm, sp2, se2, order, ix2, n, 0, top, all, 0, gpus, gb};
  for (size_t i = 0; i < n; i++)
    rp.ok += se2[i].status == PL_SWEEP_OK;
  pl_sweep_spec spec = PL_SWEEP_SPEC_INIT;
  rc = report(&rp, &spec, fmt, 0, &sm);
  sweepmodel_free(&sm);
done:
  pl_free(order);
  pl_free(sp2);
  pl_free(se2);
  pl_free(byidx);
  pl_free(ix2);
  pl_free(pts);
  pl_free(evs);
  pl_free(index);
  return rc;
}

/* ------------------------------------------------------------- defaults -- */

static int *int_list(int *n, const int *v, int k)
{
  int *a = malloc((size_t)(k ? k : 1) * sizeof *a);
  if (a)
    memcpy(a, v, (size_t)k * sizeof *a);
  *n = a ? k : 0;
  return a;
}

/* The model's defaults for the axes the user did not pin. */
static void model_defaults(const struct sweepmodel *sm, int gpus, int **tps,
                           int *n_tps, int **cps, int *n_cps, int **stages,
                           int *n_st, int **mbs, int *n_mbs, int **rcs,
                           int *n_rcs, int **dos, int *n_dos)
{
  const pl_model_spec *m = &sm->mo.m;
  int domain = sm->mo.cfg.gpus_per_node > 0 ? sm->mo.cfg.gpus_per_node
               : sm->mo.g.scaleup_domain > 0 ? sm->mo.g.scaleup_domain : 8;
  int seq = sm->mo.cfg.seq_len > 0 ? sm->mo.cfg.seq_len : m->seq_len;
  if (!*tps) {
    *tps = malloc(64 * sizeof **tps);
    *n_tps = 0;
    for (int t = 1; t <= domain && t <= 64 && *tps; t *= 2)
      if (m->heads % t == 0 && m->kv_heads % t == 0 && m->ffn % t == 0 &&
          gpus % t == 0)
        (*tps)[(*n_tps)++] = t;
  }
  if (!*cps) {
    *cps = malloc(4 * sizeof **cps);
    *n_cps = 0;
    for (int c = 1; c <= (seq >= 32768 ? 8 : 1) && *cps; c *= 2)
      if (seq % (2 * c) == 0 || c == 1)
        (*cps)[(*n_cps)++] = c;
  }
  if (!*stages) {
    *stages = malloc(256 * sizeof **stages);
    *n_st = 0;
    for (int p = 1; p <= gpus && p <= m->layers && p <= 256 && *stages; p++)
      if (gpus % p == 0)
        (*stages)[(*n_st)++] = p;
  }
  if (!*mbs) {
    static const int d[] = {1, 2, 4};
    *mbs = int_list(n_mbs, d, 3);
  }
  if (!*rcs) {
    /* With flash attention selective recomputation keeps nothing less
     * (the kernel never stores the scores): the same point as none. */
    static const int d[] = {PL_RECOMPUTE_NONE, PL_RECOMPUTE_SELECTIVE,
                            PL_RECOMPUTE_FULL};
    static const int f[] = {PL_RECOMPUTE_NONE, PL_RECOMPUTE_FULL};
    *rcs = sm->no_flash ? int_list(n_rcs, d, 3) : int_list(n_rcs, f, 2);
  }
  if (!*dos) {
    static const int d[] = {0, 1};
    *dos = int_list(n_dos, d, 2);
  }
}

static void print_list(const char *name, const int *v, int n)
{
  printf("%s ", name);
  for (int i = 0; i < n; i++)
    printf("%s%d", i ? "," : "", v[i]);
}

/* ------------------------------------------------------------- command -- */

int cmd_sweep(int argc, char **argv)
{
  if (argc > 1 && !strcmp(argv[1], "merge"))
    return cmd_merge(argc - 1, argv + 1);
  enum { O_GPUS = 3000, O_STAGES, O_MB, O_MBS, O_CHUNKS, O_SCHED, O_GB, O_LIM,
         O_TOP, O_ALL, O_JOBS, O_FMT, O_TF, O_TB, O_TW, O_COMM, O_WFRAC,
         O_TP, O_CP, O_RC, O_DO, O_NODO, O_NOFLASH, O_EXPLAIN, O_SHARD,
         O_EXH, O_TFT, O_TBT, O_TWT, O_P2P, O_GAP, O_SOVH, O_ROVH, O_LOCAL };
  static const struct option longopts[] = {
    {"gpus", required_argument, NULL, O_GPUS},
    {"stages", required_argument, NULL, O_STAGES},
    {"microbatches", required_argument, NULL, O_MB},
    {"mb-size", required_argument, NULL, O_MBS},
    {"chunks", required_argument, NULL, O_CHUNKS},
    {"schedules", required_argument, NULL, O_SCHED},
    {"global-batch", required_argument, NULL, O_GB},
    {"mem-limit", required_argument, NULL, O_LIM},
    {"top", required_argument, NULL, O_TOP},
    {"all", no_argument, NULL, O_ALL},
    {"jobs", required_argument, NULL, O_JOBS},
    {"format", required_argument, NULL, O_FMT},
    {"tf", required_argument, NULL, O_TF},
    {"tb", required_argument, NULL, O_TB},
    {"tw", required_argument, NULL, O_TW},
    {"comm", required_argument, NULL, O_COMM},
    {"mem-w-frac", required_argument, NULL, O_WFRAC},
    {"p2p", required_argument, NULL, O_P2P},
    {"op-gap", required_argument, NULL, O_GAP},
    {"send-overhead", required_argument, NULL, O_SOVH},
    {"recv-overhead", required_argument, NULL, O_ROVH},
    {"local-handoff", required_argument, NULL, O_LOCAL},
    {"tf-total", required_argument, NULL, O_TFT},
    {"tb-total", required_argument, NULL, O_TBT},
    {"tw-total", required_argument, NULL, O_TWT},
    {"tp", required_argument, NULL, O_TP},
    {"cp", required_argument, NULL, O_CP},
    {"recompute", required_argument, NULL, O_RC},
    {"distributed-optimizer", no_argument, NULL, O_DO},
    {"no-distributed-optimizer", no_argument, NULL, O_NODO},
    {"no-flash-attn", no_argument, NULL, O_NOFLASH},
    {"explain", required_argument, NULL, O_EXPLAIN},
    {"shard", required_argument, NULL, O_SHARD},
    {"exhaustive", no_argument, NULL, O_EXH},
    SWEEPMODEL_LONG,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "sweep";
  pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
  int *stages = NULL, *mbs = NULL, *chunks = NULL, *tps = NULL, *cps = NULL,
      *rcs = NULL, *dos = NULL;
  int n_st = 0, n_mbs = 0, n_ch = 0, n_tps = 0, n_cps = 0, n_rcs = 0,
      n_dos = 0, top = 10, all = 0, have_gpus = 0, explain = 0, exhaustive = 0;
  int have_m = 0;
  /* --tf/--tb/--tw: per rank, as in simulate; --t?-total: the whole model.
   * cost_given: 1 per rank, 2 total, 4 --comm/--mem-w-frac. */
  double t_rank[3] = {1, 1, 1};
  int cost_given = 0;
  const char *sched = NULL, *limit = NULL;
  enum cli_format fmt = CLI_FMT_TABLE;
  struct sweepmodel sm;
  int opt, rc = 0, gb = 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  sweepmodel_init(&sm);
  sp.m_lo = 8;
  sp.m_hi = 64;
  sp.m_step = 8;
  sp.jobs = cores > 0 ? (int)cores : 1;
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h':
      printf("%s\n%s\n%s", usage, sweepmodel_help, examples);
      rc = -1;
      goto out;
    case O_GPUS: have_gpus = 1;
      rc = cli_int(cmd, "--gpus", optarg, 1, 1 << 20, &sp.gpus); break;
    case O_STAGES:
      free(stages);
      rc = parse_list(cmd, "--stages", optarg, 1, 4096, &stages, &n_st); break;
    case O_MB: have_m = 1;
      rc = parse_range(cmd, optarg, &sp.m_lo, &sp.m_hi, &sp.m_step); break;
    case O_MBS:
      free(mbs);
      rc = parse_list(cmd, "--mb-size", optarg, 1, 1 << 16, &mbs, &n_mbs); break;
    case O_CHUNKS:
      free(chunks);
      rc = parse_list(cmd, "--chunks", optarg, 1, 64, &chunks, &n_ch); break;
    case O_TP:
      free(tps);
      rc = parse_list(cmd, "--tp", optarg, 1, 1024, &tps, &n_tps); break;
    case O_CP:
      free(cps);
      rc = parse_list(cmd, "--cp", optarg, 1, 1024, &cps, &n_cps); break;
    case O_RC:
      free(rcs);
      rc = parse_recompute(cmd, optarg, &rcs, &n_rcs); break;
    case O_DO:
    case O_NODO: {
      int v = opt == O_DO;
      free(dos);
      dos = int_list(&n_dos, &v, 1);
      break;
    }
    case O_NOFLASH: sm.no_flash = 1; sm.mo.other_given = 1; break;
    case O_EXPLAIN: rc = cli_int(cmd, "--explain", optarg, 1, 1 << 30, &explain); break;
    case O_SHARD: {
      char tail;
      if (sscanf(optarg, "%d/%d%c", &sp.shard_k, &sp.shard_n, &tail) != 2 ||
          sp.shard_n < 1 || sp.shard_k < 0 || sp.shard_k >= sp.shard_n)
        rc = cli_usage(cmd, "--shard takes k/n with 0 <= k < n (e.g. 3/16), "
                            "got '%s'", optarg);
      break;
    }
    case O_EXH: exhaustive = 1; break;
    case O_SCHED: sched = optarg; break;
    case O_GB: rc = cli_int(cmd, "--global-batch", optarg, 1, 1 << 30, &gb); break;
    case O_LIM: limit = optarg; break;
    case O_TOP: rc = cli_int(cmd, "--top", optarg, 1, 1 << 30, &top); break;
    case O_ALL: all = 1; break;
    case O_JOBS: rc = cli_int(cmd, "--jobs", optarg, 1, 256, &sp.jobs); break;
    case O_FMT: rc = cli_format(cmd, optarg, 7, &fmt); break;
    case O_TF: cost_given |= 1;
      rc = cli_double(cmd, "--tf", optarg, 0, PL_TIME_MAX, &t_rank[0]); break;
    case O_TB: cost_given |= 1;
      rc = cli_double(cmd, "--tb", optarg, 0, PL_TIME_MAX, &t_rank[1]); break;
    case O_TW: cost_given |= 1;
      rc = cli_double(cmd, "--tw", optarg, 0, PL_TIME_MAX, &t_rank[2]); break;
    case O_TFT: cost_given |= 2;
      rc = cli_double(cmd, "--tf-total", optarg, 0, PL_TIME_MAX, &sp.tf); break;
    case O_TBT: cost_given |= 2;
      rc = cli_double(cmd, "--tb-total", optarg, 0, PL_TIME_MAX, &sp.tb); break;
    case O_TWT: cost_given |= 2;
      rc = cli_double(cmd, "--tw-total", optarg, 0, PL_TIME_MAX, &sp.tw); break;
    case O_COMM: cost_given |= 4;
      rc = cli_double(cmd, "--comm", optarg, 0, PL_TIME_MAX, &sp.comm); break;
    case O_WFRAC: cost_given |= 4;
      rc = cli_double(cmd, "--mem-w-frac", optarg, 0, 1, &sp.mem_w_frac); break;
    case O_P2P:
      if ((sp.p2p_mode = pl_p2p_mode_parse(optarg)) < 0)
        rc = cli_usage(cmd, "--p2p must be async, blocking or batched, got "
                            "'%s'", optarg);
      break;
    case O_GAP:
      rc = cli_double(cmd, "--op-gap", optarg, 0, PL_TIME_MAX, &sp.op_gap);
      break;
    case O_SOVH:
      rc = cli_double(cmd, "--send-overhead", optarg, 0, PL_TIME_MAX,
                      &sp.send_overhead);
      break;
    case O_ROVH:
      rc = cli_double(cmd, "--recv-overhead", optarg, 0, PL_TIME_MAX,
                      &sp.recv_overhead);
      break;
    case O_LOCAL:
      rc = cli_local_handoff(cmd, optarg, &sp.local_overhead);
      break;
    case '?':
    case ':': rc = cli_bad_option(cmd, argv); break;
    default:
      rc = sweepmodel_handle(&sm, cmd, opt, optarg);
      if (rc < 0)
        rc = cli_bad_option(cmd, argv);
    }
    if (rc)
      goto out;
  }
  if ((rc = cli_no_positionals(cmd, argc, argv)))
    goto out;
  if (!have_gpus) {
    rc = cli_usage(cmd, "missing --gpus <n> (the GPUs to spread over)");
    goto out;
  }
  int model = sm.mo.model || sm.mo.gpu || sm.mo.other_given;
  if (!model && (tps || cps || rcs || dos || explain)) {
    rc = cli_usage(cmd, "--tp, --cp, --recompute, the distributed-optimizer "
                        "flags and --explain need --model and --gpu");
    goto out;
  }
  if (model && cost_given) {
    rc = cli_usage(cmd, "--tf/--tb/--tw(-total), --comm and --mem-w-frac are "
                        "the constant costs of a sweep without a model; "
                        "--model prices every point: drop them");
    goto out;
  }
  if ((cost_given & 3) == 3) {
    rc = cli_usage(cmd, "give per-rank --tf/--tb/--tw or whole-model "
                        "--tf-total/--tb-total/--tw-total, not both");
    goto out;
  }
  if (cost_given & 1) {
    /* Per rank, as in simulate: one microbatch through the layers of one
     * rank, a time that holds for one pipeline size only. */
    if (n_st != 1) {
      rc = cli_usage(cmd, "--tf/--tb/--tw are per rank (one microbatch "
                          "through the layers of one rank, as in simulate), "
                          "which changes with the pipeline size: give one "
                          "--stages <p>, or whole-model times with "
                          "--tf-total/--tb-total/--tw-total");
      goto out;
    }
    sp.tf = t_rank[0] * stages[0];
    sp.tb = t_rank[1] * stages[0];
    sp.tw = t_rank[2] * stages[0];
  }
  if ((rc = sweepmodel_prepare(&sm, cmd, limit, &sp)))
    goto out;
  if (sm.active) {
    /* A fixed global batch makes every point train the same tokens. */
    if (!gb && have_m)
      cli_warn("--microbatches without --global-batch: the points train "
               "different numbers of tokens per iteration; --global-batch "
               "ranks them at a fixed batch");
    else if (!gb)
      gb = sp.gpus * 4 > 256 ? sp.gpus * 4 : 256;
    for (int i = 0; tps && i < n_tps; i++)
      if (sm.mo.m.heads % tps[i] || sm.mo.m.ffn % tps[i]) {
        rc = cli_usage(cmd, "--tp %d does not divide the %d heads and FFN "
                            "width %d of %s", tps[i], sm.mo.m.heads,
                       sm.mo.m.ffn, sm.mo.m.name);
        goto out;
      }
    model_defaults(&sm, sp.gpus, &tps, &n_tps, &cps, &n_cps, &stages, &n_st,
                   &mbs, &n_mbs, &rcs, &n_rcs, &dos, &n_dos);
  }
  sp.global_batch = gb;
  if (!stages) {
    /* Every divisor of N up to 64. */
    stages = malloc(64 * sizeof *stages);
    for (int p = 1; p <= 64 && p <= sp.gpus && stages; p++)
      if (sp.gpus % p == 0)
        stages[n_st++] = p;
  }
  if (!mbs) {
    static const int one = 1;
    mbs = int_list(&n_mbs, &one, 1);
  }
  if (!chunks) {
    static const int d[] = {2, 4};
    chunks = int_list(&n_ch, d, 2);
  }
  if (!stages || !mbs || !chunks || (sm.active && (!tps || !cps || !rcs || !dos))) {
    rc = cli_fail(PL_ENOMEM, "out of memory");
    goto out;
  }
  sp.stages = stages;
  sp.n_stages = n_st;
  sp.mb_sizes = mbs;
  sp.n_mb = n_mbs;
  sp.chunks = chunks;
  sp.n_chunks = n_ch;
  sp.tps = tps;
  sp.n_tps = n_tps;
  sp.cps = cps;
  sp.n_cps = n_cps;
  sp.recomputes = rcs;
  sp.n_recomputes = n_rcs;
  sp.dist_opts = dos;
  sp.n_dist_opts = n_dos;
  sp.top_n = exhaustive || !sm.active ? 0 : (top > explain ? top : explain);
  const char *names[64];
  char *sched_dup = NULL;
  if (sched && strcmp(sched, "all") != 0) {
    char *save = NULL;
    int k = 0;
    sched_dup = pl_strdup(sched);
    for (char *t = strtok_r(sched_dup, ",", &save); t && k < 64;
         t = strtok_r(NULL, ",", &save)) {
      if (!pl_gen_find(t)) {
        rc = cli_usage(cmd, "unknown schedule '%s' in --schedules "
                            "('pipelab schedules' lists them)", t);
        pl_free(sched_dup);
        goto out;
      }
      names[k++] = t;
    }
    sp.schedules = names;
    sp.n_schedules = k;
  }
  if (sm.active && fmt == CLI_FMT_TABLE) {
    int seq = sm.mo.cfg.seq_len > 0 ? sm.mo.cfg.seq_len : sm.mo.m.seq_len;
    if (gb)
      printf("sweep: %s on %d x %s, global batch %d sequences of %d tokens; "
             "%s attention, %s\nspace: ",
             sm.mo.m.name, sp.gpus, sm.mo.g.name, gb, seq,
             sm.no_flash ? "unfused" : "flash",
             pl_precision_name(sm.mo.cfg.precision));
    else
      printf("sweep: %s on %d x %s, microbatches %d..%d, %d tokens each; %s "
             "attention, %s\nspace: ",
             sm.mo.m.name, sp.gpus, sm.mo.g.name, sp.m_lo, sp.m_hi, seq,
             sm.no_flash ? "unfused" : "flash",
             pl_precision_name(sm.mo.cfg.precision));
    print_list("tp", tps, n_tps);
    print_list(" cp", cps, n_cps);
    print_list(" pp", stages, n_st);
    print_list(" mb", mbs, n_mbs);
    print_list(" v", chunks, n_ch);
    printf(" recompute ");
    for (int i = 0; i < n_rcs; i++)
      printf("%s%s", i ? "," : "", pl_recompute_name(rcs[i]));
    printf(" distributed-optimizer %s; limit %s per GPU\n",
           n_dos == 2 ? "off,on" : dos[0] ? "on" : "off",
           cli_size(sp.mem_limit));
    printf("runtime: p2p %s, op gap %s", pl_p2p_mode_name(sp.p2p_mode),
           cli_dur(sp.op_gap, "us"));
    if (sp.send_overhead > 0 || sp.recv_overhead > 0)
      printf(", per message %s send + %s receive%s",
             cli_dur(sp.send_overhead, "us"), cli_dur(sp.recv_overhead, "us"),
             sp.local_overhead ? " (local hand-offs too)" : "");
    printf("\n\n");
  }

  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_sweep_point *pts = NULL;
  pl_sweep_eval *evs = NULL;
  size_t n = 0, *order = NULL;
  if ((rc = pl_sweep_enumerate(&sp, &pts, &evs, &n, &eb))) {
    rc = rc == PL_EINVAL ? cli_usage(cmd, "%s", eb.msg) : cli_fail_eb(&eb, rc);
    goto out_names;
  }
  double t0 = pl_now_us();
  rc = pl_sweep_run(&sp, sweepmodel_callbacks(&sm), pts, evs, n, progress,
                    NULL, cli_stop_flag(), &eb);
  double secs = (pl_now_us() - t0) / 1e6;
  term_progress_end();
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
    goto out_free;
  }
  if (cli_interrupted()) { /* after the last point: still no table */
    rc = cli_fail_interrupted();
    goto out_free;
  }
  if (pl_sweep_rank(evs, n, &order)) {
    rc = cli_fail(PL_ENOMEM, "out of memory");
    goto out_free;
  }
  size_t ok = 0;
  for (size_t i = 0; i < n; i++)
    ok += evs[i].status == PL_SWEEP_OK;
  struct report rp = {&sm, pts, evs, order, NULL, n, ok, top, all, secs,
                      sp.gpus, gb};
  report(&rp, &sp, fmt, explain, &sm);
  if (ok == 0 && sp.shard_n <= 1) {
    fprintf(stderr, "error: no configuration is valid: use --all to see why "
                    "each was rejected\n");
    rc = CLI_EXIT_FAIL;
  }
out_free:
  pl_free(order);
  pl_free(pts);
  pl_free(evs);
out_names:
  pl_free(sched_dup);
out:
  free(stages);
  free(mbs);
  free(chunks);
  free(tps);
  free(cps);
  free(rcs);
  free(dos);
  sweepmodel_free(&sm);
  return rc < 0 ? 0 : rc;
}
