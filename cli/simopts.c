/* simopts.c: parsing and building of the shared schedule/cost options. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "simopts.h"

/* The help of the shared options, one row per option (a section header
 * has the bits of its options): simopts_print_help prints the rows of the
 * options a command takes. */
static const struct {
  unsigned long long mask;
  const char *text;
} help_rows[] = {
  {SIMOPTS_SCHED, "schedule (one of):\n"},
  {SIMOPT(OPT_SCHEDULE),
   "  --schedule <name>         a built-in schedule ('pipelab schedules' lists them)\n"},
  {SIMOPT(OPT_SCHEDULE_FILE),
   "  --schedule-file <f.csv>   a PyTorch schedule CSV (row = rank, cell = action)\n"},
  {SIMOPT(OPT_DIALECT),
   "  --dialect <d>             CSV dialect: auto (default), current (I = input\n"
   "                            backward, B = full) or legacy (B = input, BW = full)\n"},
  {SIMOPTS_SHAPE, "shape:\n"},
  {SIMOPT(OPT_STAGES), "  --stages <p>              pipeline ranks (devices)\n"},
  {SIMOPT(OPT_MICROBATCHES),
   "  --microbatches <m>        microbatches per iteration\n"},
  {SIMOPT(OPT_CHUNKS),
   "  --chunks <v>              model chunks per rank (interleaved; V schedules use 2)\n"},
  {SIMOPT(OPT_GROUP),
   "  --group <g>               interleaved microbatch group size (default p)\n"},
  {SIMOPT(OPT_WAVES),
   "  --waves <W>               hanayo: waves (2W chunks per rank; default 2)\n"},
  {SIMOPTS_COSTS | SIMOPT(OPT_RANK_SPEED) | SIMOPT(OPT_TIME_UNIT),
   "costs (one microbatch through the layers of ONE rank; a chunk op costs 1/v):\n"},
  {SIMOPT(OPT_TF) | SIMOPT(OPT_TB) | SIMOPT(OPT_TW),
   "  --tf <t> --tb <t> --tw <t>  forward, input-backward, weight-backward (default 1)\n"},
  {SIMOPT(OPT_COMM),
   "  --comm <t>                time of one P2P message (latency; default 0)\n"},
  {SIMOPT(OPT_BANDWIDTH),
   "  --bandwidth <bytes/t>     P2P bandwidth; with --msg-bytes adds bytes/bandwidth\n"},
  {SIMOPT(OPT_MSG_BYTES), "  --msg-bytes <n>           bytes of one P2P message\n"},
  {SIMOPT(OPT_RANK_SPEED),
   "  --rank-speed <list>       per-rank time multipliers: '1,1,2,1' or '2:1.5'\n"},
  {SIMOPT(OPT_TIME_UNIT),
   "  --time-unit <u>           label of the time unit (default 'unit'; e.g. us, ms)\n"},
  {SIMOPT(OPT_MEM_W_FRAC) | SIMOPT(OPT_MEM_LIMIT),
   "memory (units of one microbatch's activation on one rank, M_B):\n"},
  {SIMOPT(OPT_MEM_W_FRAC),
   "  --mem-w-frac <x>          fraction of M_B kept after B until W (default 0.5)\n"},
  {SIMOPT(OPT_MEM_LIMIT),
   "  --mem-limit <x>           activation limit per rank in units (zb-auto, zb-v\n"
   "                            only; default p); zb-auto also takes one per\n"
   "                            rank: --mem-limit 8,8,8,6\n"},
  {SIMOPT(OPT_STAGE_COSTS),
   "  --stage-costs <f.csv>     per-stage costs: stage,F,B,W,activation bytes,\n"
   "                            bytes kept until W[,P2P time] (one row a stage)\n"},
  {SIMOPTS_RUNTIME, "transfers and fixed costs (docs/transfers.md):\n"},
  {SIMOPT(OPT_P2P),
   "  --p2p <mode>              async (default: isend/irecv, transfers overlap\n"
   "                            compute), blocking (one rendezvous at a time, both\n"
   "                            ranks wait) or batched (one exchange per op\n"
   "                            boundary, both ranks wait for all of it)\n"},
  {SIMOPT(OPT_OP_GAP),
   "  --op-gap <t>              launch gap before every op (default 0)\n"},
  {SIMOPT(OPT_SEND_OVH),
   "  --send-overhead <t>       host time of the sending rank per P2P message,\n"
   "                            after the op (copy, post; default 0)\n"},
  {SIMOPT(OPT_RECV_OVH),
   "  --recv-overhead <t>       host time of the receiving rank per message,\n"
   "                            before the op (default 0)\n"},
  {SIMOPT(OPT_LOCAL_HANDOFF),
   "  --local-handoff <h>       free (default: a V turn on one rank is a pointer)\n"
   "                            or copied (it pays both overheads)\n"},
  {SIMOPT(OPT_FB_OVERLAP) | SIMOPT(OPT_A2A),
   "fused F&B ops and MoE (docs/pytorch-schedules.md):\n"},
  {SIMOPT(OPT_FB_OVERLAP),
   "  --fb-overlap <x>          a fused F&B op (dualpipev) takes max(F,B) +\n"
   "                            (1-x) min(F,B); 0 (default) = F + B\n"},
  {SIMOPT(OPT_A2A),
   "  --a2a <t>                 expert all-to-all per F and per B on one rank's\n"
   "                            layers (default 0); fused ops hide it\n"},
  {SIMOPT(OPT_REPLICA_AR),
   "  --replica-allreduce <t>   chimera, dualpipe: all-reduce of one stage copy's\n"
   "                            gradients, paid at the end (default 0)\n"},
  {SIMOPTS_OPTIMIZER, "optimizer step:\n"},
  {SIMOPT(OPT_OPTIMIZER),
   "  --optimizer <mode>        sync (default: all ranks wait; iteration = makespan\n"
   "                            + step) or post-validate (each rank steps after its\n"
   "                            own last op; iteration = longest rank span + step)\n"},
  {SIMOPT(OPT_OPT_TIME),
   "  --optimizer-time <t>      time of the optimizer step on every rank (default 0;\n"
   "                            with --model the cost model prices it)\n"},
};

/* The spellings, indexed by opt - OPT_SCHEDULE. */
static const char *const opt_names[OPT_SIMOPTS_END - OPT_SCHEDULE] = {
  "--schedule", "--schedule-file", "--stages", "--microbatches", "--chunks",
  "--tf", "--tb", "--tw", "--comm", "--mem-w-frac", "--format", "--trace",
  "--dialect", "--group", "--mem-limit", "--optimizer", "--rank-speed",
  "--time-unit", "--save", "--bandwidth", "--msg-bytes", "--optimizer-time",
  "--p2p", "--op-gap", "--fb-overlap", "--a2a", "--waves",
  "--replica-allreduce", "--stage-costs", "--send-overhead",
  "--recv-overhead", "--local-handoff"};

const char *simopts_name(int opt)
{
  if (opt < OPT_SCHEDULE || opt >= OPT_SIMOPTS_END)
    return "?";
  return opt_names[opt - OPT_SCHEDULE];
}

/* The generators whose uses include bit, "zb-auto, zb-v". */
static const char *gen_names_using(unsigned bit, char *buf, size_t len)
{
  size_t k = 0;
  buf[0] = 0;
  for (const pl_gen_info *g = pl_gen_list(); g->name; g++)
    if ((g->uses & bit) && k < len)
      k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? ", " : "", g->name);
  return buf;
}

void simopts_print_help(const struct sim_opts *o)
{
  char names[256];
  for (size_t i = 0; i < sizeof help_rows / sizeof help_rows[0]; i++) {
    if (!(help_rows[i].mask & o->accept))
      continue;
    fputs(help_rows[i].text, stdout);
    if (help_rows[i].mask & SIMOPTS_COSTS & o->search_only &&
        help_rows[i].text[0] != ' ')
      printf("  (read only by the schedules that search with them: %s)\n",
             gen_names_using(PL_GEN_USES_COSTS, names, sizeof names));
  }
}

void simopts_accept(struct sim_opts *o, unsigned long long accept,
                    unsigned long long search_only, const char *why)
{
  o->accept = accept | search_only;
  o->search_only = search_only;
  o->refuse_why = why;
}

void simopts_init(struct sim_opts *o)
{
  memset(o, 0, sizeof *o);
  o->rq = (pl_sim_request)PL_SIM_REQUEST_INIT;
  o->rq.costs.time_unit = "unit";
  o->dialect = PL_DIALECT_AUTO;
  o->accept = SIMOPTS_ALL;
}

const char *simopts_optimizer_name(int opt)
{
  return opt == OPTIM_POST_VALIDATE ? "post-validate" : "sync";
}

/* --mem-limit 8,8,8,6: one activation limit per rank (zb-auto). */
/* The per-rank limits live in static storage: one command parses one
 * --mem-limit list (the last one given wins), and nothing has to free it. */
static double mem_limits_store[4096];

static int parse_mem_limits(struct sim_opts *o, const char *cmd,
                            const char *arg)
{
  int n = 1;
  for (const char *q = arg; *q; q++)
    n += *q == ',';
  if (n > (int)(sizeof mem_limits_store / sizeof mem_limits_store[0]))
    return cli_usage(cmd, "--mem-limit lists more than 4096 ranks");
  o->rq.mem_limits = mem_limits_store;
  char *dup = pl_strdup(arg), *save = NULL;
  if (!dup)
    return cli_fail(PL_ENOMEM, "out of memory");
  int k = 0, rc = 0;
  for (char *tok = strtok_r(dup, ",", &save); tok && !rc;
       tok = strtok_r(NULL, ",", &save))
    rc = cli_double(cmd, "--mem-limit", tok, 1, 1e300, &mem_limits_store[k++]);
  pl_free(dup);
  if (!rc && k != n)
    rc = cli_usage(cmd, "--mem-limit '%s' has an empty entry", arg);
  o->rq.n_mem_limits = k;
  return rc;
}

int simopts_handle(struct sim_opts *o, const char *cmd, int opt,
                   const char *arg)
{
  /* No single cost may exceed the largest time a result holds: then no
   * sum the engine forms can overflow (simopts_check_times judges the
   * totals). */
  const double big = PL_TIME_MAX;
  if (opt >= OPT_SCHEDULE && opt < OPT_SIMOPTS_END) {
    if (!(o->accept & SIMOPT(opt)))
      return cli_usage(cmd, "%s does not apply to 'pipelab %s'%s%s; drop it",
                       simopts_name(opt), cmd, o->refuse_why ? ": " : "",
                       o->refuse_why ? o->refuse_why : "");
    o->seen |= SIMOPT(opt);
  }
  switch (opt) {
  case OPT_SCHEDULE: o->schedule = arg; return 0;
  case OPT_SCHEDULE_FILE: o->schedule_file = arg; return 0;
  case OPT_STAGES: o->have_p = 1;
    return cli_int(cmd, "--stages", arg, 1, 4096, &o->rq.p);
  case OPT_MICROBATCHES: o->have_m = 1;
    return cli_int(cmd, "--microbatches", arg, 1, 1 << 20, &o->rq.m);
  case OPT_CHUNKS: o->have_v = 1;
    return cli_int(cmd, "--chunks", arg, 1, 256, &o->rq.v);
  case OPT_GROUP: return cli_int(cmd, "--group", arg, 1, 1 << 20, &o->rq.group);
  case OPT_TF: return cli_double(cmd, "--tf", arg, 0, big, &o->rq.costs.tf);
  case OPT_TB: return cli_double(cmd, "--tb", arg, 0, big, &o->rq.costs.tb);
  case OPT_TW: return cli_double(cmd, "--tw", arg, 0, big, &o->rq.costs.tw);
  case OPT_COMM: return cli_double(cmd, "--comm", arg, 0, big, &o->rq.costs.comm);
  case OPT_BANDWIDTH:
    return cli_double(cmd, "--bandwidth", arg, 0, big, &o->rq.costs.bandwidth);
  case OPT_MSG_BYTES: return cli_bytes(cmd, "--msg-bytes", arg, &o->rq.costs.msg_bytes);
  case OPT_MEM_W_FRAC:
    return cli_double(cmd, "--mem-w-frac", arg, 0, 1, &o->rq.costs.mem_w_frac);
  case OPT_MEM_LIMIT:
    if (strchr(arg, ','))
      return parse_mem_limits(o, cmd, arg);
    /* Bytes need a model's sizes (modelopts converts them). */
    return cli_mem_limit(cmd, arg, &o->rq.mem_limit, &o->mem_limit_bytes);
  case OPT_WAVES: {
    int w, wrc;
    if ((wrc = cli_int(cmd, "--waves", arg, 1, 128, &w)) != 0)
      return wrc;
    o->rq.v = 2 * w;
    o->have_v = 1;
    return 0;
  }
  case OPT_REPLICA_AR:
    o->rq.have_replica_ar = 1;
    return cli_double(cmd, "--replica-allreduce", arg, 0, big, &o->rq.replica_ar);
  case OPT_STAGE_COSTS: o->rq.stage_costs = arg; return 0;
  case OPT_DIALECT:
    if (!strcmp(arg, "auto")) o->dialect = PL_DIALECT_AUTO;
    else if (!strcmp(arg, "current")) o->dialect = PL_DIALECT_CURRENT;
    else if (!strcmp(arg, "legacy")) o->dialect = PL_DIALECT_LEGACY;
    else
      return cli_usage(cmd, "--dialect must be auto, current or legacy, got "
                            "'%s'", arg);
    return 0;
  case OPT_OPTIMIZER:
    if (!strcmp(arg, "sync")) o->rq.optimizer = OPTIM_SYNC;
    else if (!strcmp(arg, "post-validate")) o->rq.optimizer = OPTIM_POST_VALIDATE;
    else
      return cli_usage(cmd, "--optimizer must be sync or post-validate, got "
                            "'%s'", arg);
    return 0;
  case OPT_OPT_TIME:
    o->have_optimizer_time = 1;
    return cli_double(cmd, "--optimizer-time", arg, 0, big, &o->rq.optimizer_time);
  case OPT_P2P:
    o->have_runtime = 1;
    o->rq.p2p = pl_p2p_mode_parse(arg);
    if (o->rq.p2p < 0)
      return cli_usage(cmd, "--p2p must be async, blocking or batched, got "
                            "'%s'", arg);
    return 0;
  case OPT_OP_GAP:
    o->have_runtime = 1;
    return cli_double(cmd, "--op-gap", arg, 0, big, &o->rq.op_gap);
  case OPT_SEND_OVH:
    o->have_runtime = 1;
    return cli_double(cmd, "--send-overhead", arg, 0, big,
                      &o->rq.send_overhead);
  case OPT_RECV_OVH:
    o->have_runtime = 1;
    return cli_double(cmd, "--recv-overhead", arg, 0, big,
                      &o->rq.recv_overhead);
  case OPT_LOCAL_HANDOFF:
    o->have_runtime = 1;
    return cli_local_handoff(cmd, arg, &o->rq.local_overhead);
  case OPT_FB_OVERLAP:
    return cli_double(cmd, "--fb-overlap", arg, 0, 1, &o->rq.fb_overlap);
  case OPT_A2A: return cli_double(cmd, "--a2a", arg, 0, big, &o->rq.a2a);
  case OPT_RANK_SPEED: o->rank_speed = arg; return 0;
  case OPT_TIME_UNIT:
    if (!arg[0] || strlen(arg) > 7)
      return cli_usage(cmd, "--time-unit must be 1 to 7 characters, got '%s'",
                       arg);
    o->rq.costs.time_unit = arg;
    return 0;
  default: return -1;
  }
}

int simopts_check(const struct sim_opts *o, const char *cmd, int need_schedule)
{
  if (need_schedule) {
    if (o->schedule && o->schedule_file)
      return cli_usage(cmd, "give --schedule or --schedule-file, not both");
    if (!o->schedule && !o->schedule_file)
      return cli_usage(cmd, "missing --schedule <name> or --schedule-file "
                            "<file.csv> ('pipelab schedules' lists names)");
  }
  if (!o->schedule_file) {
    if (!o->have_p)
      return cli_usage(cmd, "missing --stages <p> (the number of pipeline "
                            "ranks)");
    if (!o->have_m)
      return cli_usage(cmd, "missing --microbatches <m>");
  }
  if (o->schedule && !pl_gen_find(o->schedule))
    return cli_usage(cmd, "unknown schedule '%s' ('pipelab schedules' lists "
                          "the names)", o->schedule);
  if (o->rq.mem_limits && o->have_p && o->rq.n_mem_limits != o->rq.p)
    return cli_usage(cmd, "--mem-limit lists %d limits for %d ranks; give "
                          "one per rank", o->rq.n_mem_limits, o->rq.p);
  if (o->rq.mem_limits && o->schedule && strcasecmp(o->schedule, "zb-auto"))
    return cli_usage(cmd, "per-rank --mem-limit applies to zb-auto only; "
                          "give one number for '%s'", o->schedule);
  if ((o->seen & SIMOPT(OPT_WAVES)) && (o->seen & SIMOPT(OPT_CHUNKS)))
    return cli_usage(cmd, "give --waves or --chunks, not both (--waves W is "
                          "--chunks 2W)");
  if ((o->seen & SIMOPT(OPT_WAVES)) && o->schedule &&
      strcasecmp(o->schedule, "hanayo"))
    return cli_usage(cmd, "--waves applies to hanayo only; drop it");
  if (o->mem_limit_bytes)
    return cli_usage(cmd, "--mem-limit in bytes needs a model's sizes "
                          "(--model); give activation units, e.g. "
                          "--mem-limit 8");
  int rc;
  if (need_schedule &&
      (rc = simopts_check_uses(o, cmd, &o->schedule, o->schedule ? 1 : 0)))
    return rc;
  return simopts_check_numbers(o, cmd);
}

int simopts_check_uses(const struct sim_opts *o, const char *cmd,
                       const char *const *names, int n)
{
  static const struct {
    unsigned long long flags;
    unsigned bit;
  } conds[] = {
    {SIMOPT(OPT_MEM_LIMIT), PL_GEN_USES_MEM_LIMIT},
    {SIMOPT(OPT_GROUP), PL_GEN_USES_GROUP},
    {SIMOPTS_COSTS, PL_GEN_USES_COSTS},
  };
  char list[256];
  if ((o->seen & SIMOPT(OPT_DIALECT)) && !o->schedule_file)
    return cli_usage(cmd, "--dialect applies to --schedule-file only; drop "
                          "it");
  for (size_t c = 0; c < sizeof conds / sizeof conds[0]; c++) {
    unsigned long long given = o->seen & conds[c].flags;
    if (conds[c].bit == PL_GEN_USES_COSTS)
      given &= o->search_only;
    if (!given)
      continue;
    int used = 0;
    for (int i = 0; i < n && !used; i++) {
      const pl_gen_info *g = pl_gen_find(names[i]);
      used = g && (g->uses & conds[c].bit);
    }
    if (used)
      continue;
    int opt = OPT_SCHEDULE;
    while (!(given & SIMOPT(opt)))
      opt++;
    gen_names_using(conds[c].bit, list, sizeof list);
    return cli_usage(cmd, "%s is read only by %s; %s ignores it: drop it",
                     simopts_name(opt), list,
                     n == 1 ? names[0]
                     : n    ? "none of the compared schedules"
                            : "a schedule CSV");
  }
  return 0;
}

int simopts_check_numbers(const struct sim_opts *o, const char *cmd)
{
  if (o->rq.costs.msg_bytes > 0 && !(o->rq.costs.bandwidth > 0))
    return cli_usage(cmd, "--msg-bytes %s needs a --bandwidth above 0 (bytes "
                          "per time unit) to turn bytes into time; give "
                          "--bandwidth or drop --msg-bytes",
                     cli_num(o->rq.costs.msg_bytes));
  double xfer = o->rq.costs.bandwidth > 0 ? o->rq.costs.msg_bytes / o->rq.costs.bandwidth : 0;
  if (!(o->rq.costs.comm + xfer <= PL_TIME_MAX))
    return cli_usage(cmd, "--comm %s plus --msg-bytes %s / --bandwidth %s "
                          "make one message take %s %s, beyond the largest "
                          "time a result may hold (%g); raise --bandwidth "
                          "or lower --msg-bytes",
                     cli_num(o->rq.costs.comm), cli_num(o->rq.costs.msg_bytes),
                     cli_num(o->rq.costs.bandwidth), cli_num(o->rq.costs.comm + xfer),
                     o->rq.costs.time_unit, PL_TIME_MAX);
  return 0;
}

int simopts_check_times(const struct sim_opts *o, const char *cmd,
                        const pl_costs *c, const pl_result *r,
                        double trace_scale)
{
  double last = 0, it = simopts_iteration_time(o, r);
  int finite = !c || isfinite(pl_costs_comm(c, 0));
  for (int i = 0; i < r->stages; i++) {
    double x = r->ranks[i].last_end;
    finite &= isfinite(x);
    if (x > last)
      last = x;
  }
  /* "!(a <= b)" is also true for NaN. */
  if (!finite || !(fabs(r->makespan) <= PL_TIME_MAX) ||
      !(last <= PL_TIME_MAX) || !(fabs(it) <= PL_TIME_MAX))
    return cli_usage(cmd, "the costs make an iteration of %s %s (%s), "
                     "beyond the largest time a result may hold (%g); lower "
                     "--tf/--tb/--tw/--comm/--optimizer-time or the "
                     "--rank-speed multipliers, or raise --bandwidth",
                     cli_num(isfinite(it) && it > r->makespan ? it
                                                                : r->makespan),
                     r->time_unit, r->schedule, PL_TIME_MAX);
  if (trace_scale > 0 && !(last * trace_scale <= 9e15))
    return cli_usage(cmd, "--trace: times up to %s %s are beyond what a "
                     "Chrome trace holds (9e15 us); lower the costs or use "
                     "a smaller --time-unit", cli_num(last), r->time_unit);
  return 0;
}

static int parse_rank_speed(const char *cmd, const char *spec, pl_costs *c)
{
  /* Either a full list "1,1,2,1" or sparse "rank:mult" pairs. */
  char *dup = pl_strdup(spec), *save = NULL;
  int rc = 0, idx = 0;
  if (!dup)
    return cli_fail(PL_ENOMEM, "out of memory");
  for (char *tok = strtok_r(dup, ",", &save); tok && !rc;
       tok = strtok_r(NULL, ",", &save), idx++) {
    char *colon = strchr(tok, ':');
    int r = idx;
    double v;
    if (colon) {
      *colon = 0;
      if ((rc = cli_int(cmd, "--rank-speed rank", tok, 0, c->n_ranks - 1, &r)))
        break;
      tok = colon + 1;
    } else if (idx >= c->n_ranks) {
      rc = cli_usage(cmd, "--rank-speed lists more than %d ranks", c->n_ranks);
      break;
    }
    if ((rc = cli_double(cmd, "--rank-speed multiplier", tok, 1e-9, 1e9, &v)))
      break;
    c->rank_speed[r] = v;
  }
  pl_free(dup);
  return rc;
}

int simopts_build(const struct sim_opts *o, const char *cmd, const char *name,
                  pl_sched **s, pl_costs **c)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_csv_info info;
  int rc;
  *s = NULL;
  *c = NULL;
  if (!name)
    name = o->schedule;
  const pl_sim_request *rq = &o->rq;
  if (name) {
    pl_gen_params gp = pl_sim_request_gen_params(rq);
    rc = pl_sched_gen(name, &gp, s, &eb);
    if (rc == PL_EINVAL)
      return cli_usage(cmd, "%s", eb.msg);
    if (rc)
      return cli_fail_eb(&eb, rc);
  } else {
    rc = pl_sched_load_csv(o->schedule_file, o->dialect, s, &info, &eb);
    if (rc)
      return cli_fail_eb(&eb, rc);
    if (!pl_sched_name(*s)[0]) {
      const char *base = strrchr(o->schedule_file, '/');
      pl_sched_set_name(*s, base ? base + 1 : o->schedule_file);
    }
    if (o->have_p && o->rq.p != pl_sched_ranks(*s)) {
      rc = cli_usage(cmd, "--stages %d does not match the %d ranks (rows) of "
                          "'%s'", o->rq.p, pl_sched_ranks(*s), o->schedule_file);
      goto fail;
    }
    if (o->have_m && o->rq.m != pl_sched_microbatches(*s)) {
      rc = cli_usage(cmd, "--microbatches %d does not match the %d "
                          "microbatches of '%s'", o->rq.m,
                     pl_sched_microbatches(*s), o->schedule_file);
      goto fail;
    }
    if (o->have_v && o->rq.v != pl_sched_chunks(*s)) {
      rc = cli_usage(cmd, "--chunks %d does not match the %d chunks per rank "
                          "of '%s'", o->rq.v, pl_sched_chunks(*s),
                     o->schedule_file);
      goto fail;
    }
  }
  if (!name) {
    /* docs/schedule-csv.md (dialects): always say which dialect was read, and what was
     * dropped, since B means different ops in the two. */
    fprintf(stderr, "note: '%s': %s dialect, %d ranks, %d stages (%s), %d "
                    "microbatches; dropped %zu idle and %zu comm cells\n",
            o->schedule_file, pl_dialect_name(info.dialect), info.ranks,
            info.stages, pl_placement_name(pl_sched_placement(*s)),
            info.microbatches, info.idle_cells, info.comm_cells);
  }
  rc = o->engine_finds_deadlock ? pl_sched_validate_order(*s, &eb)
                                : pl_sched_validate(*s, &eb);
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
    goto fail;
  }
  /* The constant table, the file's per-stage costs and the runtime; a
   * stage file's syntax and an all-reduce without stage copies are usage
   * errors. */
  if ((rc = pl_sim_request_costs(rq, *s, c, &eb)) != 0 ||
      (rc = pl_sim_request_check_sched(rq, *s, &eb)) != 0) {
    rc = rc == PL_EPARSE || rc == PL_EINVAL ? cli_usage(cmd, "%s", eb.msg)
                                            : cli_fail_eb(&eb, rc);
    goto fail;
  }
  if (o->rank_speed && (rc = parse_rank_speed(cmd, o->rank_speed, *c)) != 0)
    goto fail;
  return 0;
fail:
  pl_sched_destroy(*s);
  pl_costs_destroy(*c);
  *s = NULL;
  *c = NULL;
  return rc;
}

double simopts_iteration_time(const struct sim_opts *o, const pl_result *r)
{
  return pl_iteration_time(r, o->rq.optimizer, o->rq.optimizer_time);
}

void simopts_json_runtime(json_t *o, int p2p, double op_gap, double so,
                          double ro, int local_overhead)
{
  json_object_set_new(o, "p2p", json_string(pl_p2p_mode_name(p2p)));
  json_object_set_new(o, "op_gap", json_real(op_gap));
  json_object_set_new(o, "send_overhead", json_real(so));
  json_object_set_new(o, "recv_overhead", json_real(ro));
  json_object_set_new(o, "local_handoff",
                      json_string(local_overhead ? "copied" : "free"));
}

void simopts_apply_runtime(const struct sim_opts *o, pl_costs *c)
{
  pl_sim_request_apply_runtime(&o->rq, c);
}

int simopts_apply_stage_costs(const struct sim_opts *o, pl_costs *c,
                              struct pl_errbuf *eb)
{
  return pl_sim_request_apply_stage_costs(&o->rq, c, eb);
}

int simopts_jitter(struct sim_opts *o, const char *cmd, int which,
                   const char *arg)
{
  int rc, v;
  switch (which) {
  case 0:
    o->rq.have_jitter = 1;
    if (!strcmp(arg, "auto")) {
      o->jitter_auto = 1;
      return 0;
    }
    o->jitter_auto = 0;
    return cli_double(cmd, "--jitter", arg, 0, PL_JITTER_MAX, &o->rq.jitter);
  case 1:
    return cli_int(cmd, "--trials", arg, 1, PL_TRIALS_MAX, &o->rq.trials);
  default:
    if ((rc = cli_int(cmd, "--jitter-seed", arg, 0, 2147483647, &v)))
      return rc;
    o->rq.jitter_seed = (uint64_t)v;
    return 0;
  }
}

int simopts_jitter_check(const struct sim_opts *o, const char *cmd)
{
  if (o->rq.trials && !o->rq.have_jitter)
    return cli_usage(cmd, "--trials needs --jitter (without jitter every "
                          "trial is the same run)");
  return 0;
}

const char simopts_jitter_help[] =
    "op-time jitter (docs/cost-model.md, \"Jitter\"):\n"
    "  --jitter <sigma|auto>     every op's time times exp(sigma z), z a\n"
    "                            standard normal: the median iteration\n"
    "                            of --trials runs, with p10/p90 (auto:\n"
    "                            the variability the learned profile\n"
    "                            measured; 0.03 = about 3 %)\n"
    "  --trials <n>              runs to draw (default 200 with --jitter)\n"
    "  --jitter-seed <n>         first trial's seed (default 1)\n";
