/* simopts.c: parsing and building of the shared schedule/cost options. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "simopts.h"

const char simopts_help[] =
  "schedule (one of):\n"
  "  --schedule <name>         a built-in schedule ('pipelab schedules' lists them)\n"
  "  --schedule-file <f.csv>   a PyTorch schedule CSV (row = rank, cell = action)\n"
  "  --dialect <d>             CSV dialect: auto (default), current (I = input\n"
  "                            backward, B = full) or legacy (B = input, BW = full)\n"
  "shape:\n"
  "  --stages <p>              pipeline ranks (devices)\n"
  "  --microbatches <m>        microbatches per iteration\n"
  "  --chunks <v>              model chunks per rank (interleaved; V schedules use 2)\n"
  "  --group <g>               interleaved microbatch group size (default p)\n"
  "costs (one microbatch through the layers of ONE rank; a chunk op costs 1/v):\n"
  "  --tf <t> --tb <t> --tw <t>  forward, input-backward, weight-backward (default 1)\n"
  "  --comm <t>                time of one P2P message (latency; default 0)\n"
  "  --bandwidth <bytes/t>     P2P bandwidth; with --msg-bytes adds bytes/bandwidth\n"
  "  --msg-bytes <n>           bytes of one P2P message\n"
  "  --rank-speed <list>       per-rank time multipliers: '1,1,2,1' or '2:1.5'\n"
  "  --time-unit <u>           label of the time unit (default 'unit'; e.g. us, ms)\n"
  "memory (units of one microbatch's activation on one rank, M_B):\n"
  "  --mem-w-frac <x>          fraction of M_B kept after B until W (default 0.5)\n"
  "  --mem-limit <x>           activation limit per rank (zb-auto), units\n"
  "transfers and fixed costs (docs/transfers.md):\n"
  "  --p2p <mode>              async (default: isend/irecv, transfers overlap\n"
  "                            compute), blocking (one rendezvous at a time, both\n"
  "                            ranks wait) or batched (one exchange per op\n"
  "                            boundary, both ranks wait for all of it)\n"
  "  --op-gap <t>              launch gap before every op (default 0)\n"
  "fused F&B ops and MoE (docs/pytorch-schedules.md):\n"
  "  --fb-overlap <x>          a fused F&B op (dualpipev) takes max(F,B) +\n"
  "                            (1-x) min(F,B); 0 (default) = F + B\n"
  "  --a2a <t>                 expert all-to-all per F and per B on one rank's\n"
  "                            layers (default 0); fused ops hide it\n"
  "optimizer step:\n"
  "  --optimizer <mode>        sync (default: all ranks wait; iteration = makespan\n"
  "                            + step) or post-validate (each rank steps after its\n"
  "                            own last op; iteration = longest rank span + step)\n"
  "  --optimizer-time <t>      time of the optimizer step on every rank (default 0;\n"
  "                            with --model the cost model prices it)\n";

void simopts_init(struct sim_opts *o)
{
  memset(o, 0, sizeof *o);
  o->tf = o->tb = o->tw = 1.0;
  o->mem_w_frac = 0.5;
  o->time_unit = "unit";
  o->dialect = PL_DIALECT_AUTO;
}

const char *simopts_optimizer_name(int opt)
{
  return opt == OPTIM_POST_VALIDATE ? "post-validate" : "sync";
}

int simopts_handle(struct sim_opts *o, const char *cmd, int opt,
                   const char *arg)
{
  const double big = 1e300;
  switch (opt) {
  case OPT_SCHEDULE: o->schedule = arg; return 0;
  case OPT_SCHEDULE_FILE: o->schedule_file = arg; return 0;
  case OPT_STAGES: o->have_p = 1;
    return cli_int(cmd, "--stages", arg, 1, 4096, &o->p);
  case OPT_MICROBATCHES: o->have_m = 1;
    return cli_int(cmd, "--microbatches", arg, 1, 1 << 20, &o->m);
  case OPT_CHUNKS: o->have_v = 1;
    return cli_int(cmd, "--chunks", arg, 1, 256, &o->v);
  case OPT_GROUP: return cli_int(cmd, "--group", arg, 1, 1 << 20, &o->group);
  case OPT_TF: return cli_double(cmd, "--tf", arg, 0, big, &o->tf);
  case OPT_TB: return cli_double(cmd, "--tb", arg, 0, big, &o->tb);
  case OPT_TW: return cli_double(cmd, "--tw", arg, 0, big, &o->tw);
  case OPT_COMM: return cli_double(cmd, "--comm", arg, 0, big, &o->comm);
  case OPT_BANDWIDTH:
    return cli_double(cmd, "--bandwidth", arg, 0, big, &o->bandwidth);
  case OPT_MSG_BYTES: return cli_bytes(cmd, "--msg-bytes", arg, &o->msg_bytes);
  case OPT_MEM_W_FRAC:
    return cli_double(cmd, "--mem-w-frac", arg, 0, 1, &o->mem_w_frac);
  case OPT_MEM_LIMIT:
    /* Bytes need a model's sizes (modelopts converts them). */
    return cli_mem_limit(cmd, arg, &o->mem_limit, &o->mem_limit_bytes);
  case OPT_DIALECT:
    if (!strcmp(arg, "auto")) o->dialect = PL_DIALECT_AUTO;
    else if (!strcmp(arg, "current")) o->dialect = PL_DIALECT_CURRENT;
    else if (!strcmp(arg, "legacy")) o->dialect = PL_DIALECT_LEGACY;
    else
      return cli_usage(cmd, "--dialect must be auto, current or legacy, got "
                            "'%s'", arg);
    return 0;
  case OPT_OPTIMIZER:
    if (!strcmp(arg, "sync")) o->optimizer = OPTIM_SYNC;
    else if (!strcmp(arg, "post-validate")) o->optimizer = OPTIM_POST_VALIDATE;
    else
      return cli_usage(cmd, "--optimizer must be sync or post-validate, got "
                            "'%s'", arg);
    return 0;
  case OPT_OPT_TIME:
    o->have_optimizer_time = 1;
    return cli_double(cmd, "--optimizer-time", arg, 0, big, &o->optimizer_time);
  case OPT_P2P:
    o->have_runtime = 1;
    o->p2p = pl_p2p_mode_parse(arg);
    if (o->p2p < 0)
      return cli_usage(cmd, "--p2p must be async, blocking or batched, got "
                            "'%s'", arg);
    return 0;
  case OPT_OP_GAP:
    o->have_runtime = 1;
    return cli_double(cmd, "--op-gap", arg, 0, big, &o->op_gap);
  case OPT_FB_OVERLAP:
    return cli_double(cmd, "--fb-overlap", arg, 0, 1, &o->fb_overlap);
  case OPT_A2A: return cli_double(cmd, "--a2a", arg, 0, big, &o->a2a);
  case OPT_RANK_SPEED: o->rank_speed = arg; return 0;
  case OPT_TIME_UNIT:
    if (!arg[0] || strlen(arg) > 7)
      return cli_usage(cmd, "--time-unit must be 1 to 7 characters, got '%s'",
                       arg);
    o->time_unit = arg;
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
  if (o->mem_limit_bytes)
    return cli_usage(cmd, "--mem-limit in bytes needs a model's sizes "
                          "(--model); give activation units, e.g. "
                          "--mem-limit 8");
  return 0;
}

pl_gen_params simopts_gen_params(const struct sim_opts *o)
{
  pl_gen_params gp = PL_GEN_PARAMS_INIT;
  gp.p = o->p;
  gp.m = o->m;
  gp.v = o->have_v ? o->v : 0;
  gp.tf = o->tf;
  gp.tb = o->tb;
  gp.tw = o->tw;
  gp.comm = o->comm + (o->bandwidth > 0 ? o->msg_bytes / o->bandwidth : 0);
  gp.mem_w_frac = o->mem_w_frac;
  gp.mem_limit = o->mem_limit;
  gp.group = o->group;
  return gp;
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
  if (name) {
    pl_gen_params gp = simopts_gen_params(o);
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
    if (o->have_p && o->p != pl_sched_ranks(*s)) {
      rc = cli_usage(cmd, "--stages %d does not match the %d ranks (rows) of "
                          "'%s'", o->p, pl_sched_ranks(*s), o->schedule_file);
      goto fail;
    }
    if (o->have_m && o->m != pl_sched_microbatches(*s)) {
      rc = cli_usage(cmd, "--microbatches %d does not match the %d "
                          "microbatches of '%s'", o->m,
                     pl_sched_microbatches(*s), o->schedule_file);
      goto fail;
    }
    if (o->have_v && o->v != pl_sched_chunks(*s)) {
      rc = cli_usage(cmd, "--chunks %d does not match the %d chunks per rank "
                          "of '%s'", o->v, pl_sched_chunks(*s),
                     o->schedule_file);
      goto fail;
    }
  }
  if (!name) {
    /* interop.md §1.2: always say which dialect was read, and what was
     * dropped, since B means different ops in the two. */
    fprintf(stderr, "note: '%s': %s dialect, %d ranks, %d stages (%s), %d "
                    "microbatches; dropped %zu idle and %zu comm cells\n",
            o->schedule_file, pl_dialect_name(info.dialect), info.ranks,
            info.stages, pl_placement_name(pl_sched_placement(*s)),
            info.microbatches, info.idle_cells, info.comm_cells);
  }
  rc = pl_sched_validate(*s, &eb);
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
    goto fail;
  }
  if (pl_costs_create(pl_sched_stages(*s), pl_sched_ranks(*s), c)) {
    rc = cli_fail(PL_ENOMEM, "out of memory");
    goto fail;
  }
  pl_costs_uniform(*c, pl_sched_chunks(*s), o->tf, o->tb, o->tw, o->comm,
                   o->mem_w_frac);
  if (o->bandwidth > 0) {
    (*c)->comm_bandwidth = o->bandwidth;
    for (int g = 0; g < (*c)->n_stages; g++)
      (*c)->stage[g].msg_bytes = o->msg_bytes;
  }
  snprintf((*c)->time_unit, sizeof (*c)->time_unit, "%s", o->time_unit);
  simopts_apply_runtime(o, *c);
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
  return pl_iteration_time(r, o->optimizer, o->optimizer_time);
}

void simopts_apply_runtime(const struct sim_opts *o, pl_costs *c)
{
  c->p2p_mode = o->p2p;
  c->op_gap = o->op_gap;
  c->fb_overlap = o->fb_overlap;
  for (int g = 0; g < c->n_stages; g++)
    c->stage[g].a2a = o->a2a * c->n_ranks / c->n_stages;
}
