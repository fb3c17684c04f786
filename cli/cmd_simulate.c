/* cmd_simulate.c: `pipelab simulate`: predict one iteration of a schedule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipelab/traces.h"
#include "learnopts.h"
#include "modelopts.h"
#include "workloadopts.h"

static const char usage[] =
  "usage: pipelab simulate (--schedule <name> | --schedule-file <f.csv>)\n"
  "                        --stages <p> --microbatches <m> [--chunks <v>]\n"
  "                        [--tf <t> --tb <t> --tw <t>] [--comm <t>]\n"
  "                        [--mem-w-frac <x>] [--p2p (async|blocking|batched)]\n"
  "                        [--op-gap <t>] [--optimizer-time <t>]\n"
  "                        [--format (table|json|csv)]\n"
  "                        [--trace <file.json>] [--save <result.json>]\n"
  "                        [--model <name> --gpu <name> [--mb-size <b>] [--seq <s>]\n"
  "                         [--tp <t>] [--dp <d>] [--recompute <r>] [--flash-attn]\n"
  "                         [--distributed-optimizer] [--layers-per-stage <list>]\n"
  "                         [--mem-limit <bytes>] [--db <path>]]\n\n"
  "Predicts one training iteration: iteration time (makespan and longest rank\n"
  "span), bubble ratio overall and per rank, per-rank peak activation memory,\n"
  "and optionally a Chrome/Perfetto trace with ops, P2P flows and memory.\n"
  "With --model and --gpu the costs come from the database (measured samples)\n"
  "or the analytic transformer model, and the output adds seconds, tokens/s,\n"
  "MFU and GiB per rank (weights, gradients, optimizer state, activations)\n"
  "with a warning for every rank that does not fit in HBM.\n\n";

static void print_table(const struct sim_opts *o, const pl_sched *s,
                        const pl_costs *c, const pl_result *r)
{
  const char *u = r->time_unit;
  printf("schedule %s  (p=%d ranks, m=%d microbatches, v=%d chunks, %s "
         "placement)\n",
         r->schedule, r->stages, r->microbatches, r->chunks,
         pl_placement_name(pl_sched_placement(s)));
  printf("costs    F=%s B=%s W=%s comm=%s per microbatch per rank; "
         "M_W/M_B=%s\n",
         cli_dur(o->rq.costs.tf, u), cli_dur(o->rq.costs.tb, u), cli_dur(o->rq.costs.tw, u),
         cli_dur(pl_costs_comm(c, 0), u), cli_num(o->rq.costs.mem_w_frac));
  printf("runtime  p2p %s; op gap %s; optimizer step %s",
         pl_p2p_mode_name(c->p2p_mode), cli_dur(c->op_gap, u),
         cli_dur(o->rq.optimizer_time, u));
  if (o->rq.fb_overlap > 0 || o->rq.a2a > 0)
    printf("; fused F&B overlap %s; all-to-all %s per F and per B",
           cli_num(o->rq.fb_overlap), cli_dur(o->rq.a2a, u));
  if (c->send_overhead > 0 || c->recv_overhead > 0)
    printf("; per message: send %s, receive %s (local hand-offs %s)",
           cli_dur(c->send_overhead, u), cli_dur(c->recv_overhead, u),
           c->local_overhead ? "copied" : "free");
  printf("\n");
  printf("makespan       %s   (first start to last end)\n",
         cli_dur(r->makespan, u));
  printf("max rank span  %s   (longest rank, first start to last end)\n",
         cli_dur(r->max_rank_span, u));
  printf("iteration      %s   (optimizer %s)\n",
         cli_dur(simopts_iteration_time(o, r), u),
         simopts_optimizer_name(o->rq.optimizer));
  printf("ideal          %s   (busy time per rank)\n", cli_dur(r->ideal, u));
  printf("bubble ratio   %.2f%% of makespan, %.2f%% of span\n",
         100.0 * r->bubble_ratio, 100.0 * r->bubble_ratio_span);
  printf("peak activation %s (max over ranks)\n\n",
         cli_mem(r->peak_mem, r->mem_unit));
  printf("%4s %12s %12s %12s %8s %14s\n", "rank", "busy", "first start",
         "last end", "bubble", "peak act.");
  for (int i = 0; i < r->stages; i++) {
    const pl_rank_result *rr = &r->ranks[i];
    printf("%4d %12s %12s %12s %7.2f%% %14s\n", rr->rank, cli_dur(rr->busy, u),
           cli_dur(rr->first_start, u), cli_dur(rr->last_end, u),
           100.0 * rr->bubble_ratio, cli_mem(rr->peak_mem, r->mem_unit));
  }
}

/* The cost table of every mode but --model, from the library's cost
 * provider (pl_cost_provide): the constants (--tf ... --time-unit), memory
 * in the bytes `pipelab run` measures when workload flags are given, or,
 * with a calibration device, the workload priced from the newest
 * calibration stored under it (pipelab calibrate --db). Replaces *c
 * (simopts_build's table, whose --rank-speed multipliers it keeps). With a
 * device, o->rq.costs.tf/tb/tw become the per-stage times of stage 0 (what the
 * table prints) and *source the least exact source among F, B, W. */
static int provided_costs(const struct workload_opts *wo, const char *device,
                          const char *db_path, const pl_learned *learned,
                          const pl_sched *s, pl_costs **c,
                          struct sim_opts *o, int *source)
{
  pl_cost_request rq = o->rq.costs; /* the constants */
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_workload w;
  pl_db *db = NULL;
  pl_costs *nc = NULL;
  int rc;
  rq.rank_speed = (*c)->rank_speed;
  if (wo->given) {
    if ((rc = workloadopts_get(wo, pl_sched_stages(s), 1, &w)))
      return rc;
    rq.workload = &w;
  }
  if (learned) { /* --costs-from, or --db's learned costs */
    rq.kind = PL_COSTS_LEARNED;
    rq.learned = learned;
  } else if (device) {
    rq.kind = PL_COSTS_WORKLOAD;
    rq.device = device;
    rq.dtype = "fp64";
    if ((rc = cli_db_open_read(db_path, &db)))
      return rc;
    rq.db = db;
  }
  rc = pl_cost_provide(&rq, s, &nc, NULL, &eb);
  pl_db_close(db);
  if (rc == PL_ENOTFOUND || rc == PL_EINVAL)
    return cli_usage("simulate", "%s", eb.msg);
  if (rc)
    return cli_fail_eb(&eb, rc);
  nc->p2p_mode = (*c)->p2p_mode;
  nc->op_gap = (*c)->op_gap;
  nc->send_overhead = (*c)->send_overhead;
  nc->recv_overhead = (*c)->recv_overhead;
  nc->local_overhead = (*c)->local_overhead;
  pl_costs_destroy(*c);
  *c = nc;
  if (learned)
    *source = PL_SRC_LEARNED;
  else if (device) {
    *source = nc->source[PL_OP_FB];
    o->rq.costs.tf = nc->stage[0].t[PL_OP_F];
    o->rq.costs.tb = nc->stage[0].t[PL_OP_B];
    o->rq.costs.tw = nc->stage[0].t[PL_OP_W];
    o->rq.costs.time_unit = "us";
  }
  return 0;
}

int cmd_simulate(int argc, char **argv)
{
  static const struct option longopts[] = {
    SIMOPTS_LONG,
    MODELOPTS_LONG,
    {"format", required_argument, NULL, OPT_FORMAT},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"save", required_argument, NULL, OPT_SAVE},
    {"record", no_argument, NULL, OPT_SIMOPTS_END},
    /* Executor workload: with these, memory is predicted in the
     * bytes that `pipelab run` measures for the same flags; --mb-size and
     * --seq (model options above) size the workload too. */
    {"layers", required_argument, NULL, 5001},
    {"hidden", required_argument, NULL, 5002},
    {"seed", required_argument, NULL, 5003},
    {"attention", no_argument, NULL, 5004},
    {"fail-on-oom", no_argument, NULL, 5005},
    {"costs-from", required_argument, NULL, 5006},
    {"b-frac", required_argument, NULL, 5007},
    {"jitter", required_argument, NULL, 5008},
    {"trials", required_argument, NULL, 5009},
    {"jitter-seed", required_argument, NULL, 5010},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "simulate";
  struct sim_opts o;
  struct model_opts mo;
  pl_model_plan plan = PL_MODEL_PLAN_INIT;
  enum cli_format fmt = CLI_FMT_TABLE;
  const char *trace = NULL, *save = NULL;
  int opt, rc, user_costs = 0, record = 0, wl_source = -1;
  int fail_oom = 0, nofit = 0; /* --fail-on-oom: exit 8 when a rank does not fit */
  struct workload_opts wl;
  struct learn_cli lc;
  pl_learned *learned = NULL;
  const char *from[64];
  size_t n_from = 0;
  learn_cli_init(&lc);
  workloadopts_init(&wl, "simulate");
  simopts_init(&o);
  modelopts_init(&mo);
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    if (opt == 'h') {
      fputs(usage, stdout);
      simopts_print_help(&o);
      fputs(modelopts_help, stdout);
      printf("output:\n"
             "  --format <f>              table (default), json or csv\n"
             "  --trace <file.json>       Chrome trace (open in ui.perfetto.dev)\n"
             "  --save <result.json>      result file with per-op rows and the\n"
             "                            memory timeline (for compare and plot)\n"
             "workload (predict the activation bytes `pipelab run` measures):\n"
             "  --layers <n> --hidden <h> --seed <s>  with --mb-size and --seq, the\n"
             "                            executor's transformer-block stack\n"
             "  --attention               its blocks start with causal self-attention\n"
             "  --record                  store the run in the database's history\n"
             "                            (--db, $PIPELAB_DB or the XDG default)\n"
             "  --fail-on-oom             with --model: exit 8 when a rank does not\n"
             "                            fit in HBM (a CI gate; default: warn, exit 0)\n"
             "learned costs (docs/learned-costs.md):\n"
             "  --costs-from <file>       price with costs learned from a measured\n"
             "                            profile (a 'run --save' result, or Kineto\n"
             "                            traces: repeat it, one per rank); no\n"
             "                            database needed. --db <file> alone (no\n"
             "                            --model, --gpu or cost flags) uses the\n"
             "                            newest costs 'calibrate --from' stored\n"
             "  --b-frac <x>              B / (B + W) to split a profile's BW ops\n");
      fputs(simopts_jitter_help, stdout);
      printf("\n"
             "examples:\n"
             "  pipelab simulate --schedule 1f1b --stages 4 --microbatches 8\n"
             "  pipelab simulate --schedule zb-v --stages 8 --microbatches 24 "
             "--comm 0.1 --jitter 0.05 --save zbv.json --trace zbv-trace.json\n"
             "  pipelab simulate --schedule-file examples/zb-h1-4x8.csv --tf 2 "
             "--tb 2 --tw 1 --format json\n");
      return 0;
    }
    if (opt == '?' || opt == ':')
      return cli_bad_option(cmd, argv);
    if (opt == OPT_FORMAT) {
      if ((rc = cli_format(cmd, optarg, 7, &fmt)))
        return rc;
      continue;
    }
    if (opt == OPT_TRACE) {
      trace = optarg;
      continue;
    }
    if (opt == OPT_SAVE) {
      save = optarg;
      continue;
    }
    if (opt == OPT_SIMOPTS_END) {
      record = 1;
      continue;
    }
    if (opt == 5005) {
      fail_oom = 1;
      continue;
    }
    if (opt == 5006) {
      if (n_from == sizeof from / sizeof *from)
        return cli_usage(cmd, "at most 64 --costs-from files");
      from[n_from++] = optarg;
      continue;
    }
    if (opt == 5007) {
      if ((rc = cli_double(cmd, "--b-frac", optarg, 1e-6, 1 - 1e-6,
                           &lc.b_frac)))
        return rc;
      continue;
    }
    if (opt == 5008 || opt == 5009 || opt == 5010) {
      if ((rc = simopts_jitter(&o, cmd, opt - 5008, optarg)))
        return rc;
      continue;
    }
    if (opt >= 5001 && opt <= 5004) {
      int wopt = opt == 5001   ? OPT_WL_LAYERS
                 : opt == 5002 ? OPT_WL_HIDDEN
                 : opt == 5003 ? OPT_WL_SEED
                               : OPT_WL_ATTENTION;
      if ((rc = workloadopts_handle(&wl, wopt, optarg)))
        return rc;
      continue;
    }
    /* Model options (modelopts.c); explicit costs conflict with --model. */
    if ((rc = modelopts_handle(&mo, cmd, opt, optarg)) != -1) {
      if (rc)
        return rc;
      continue;
    }
    if (opt == OPT_TF || opt == OPT_TB || opt == OPT_TW || opt == OPT_COMM ||
        opt == OPT_BANDWIDTH || opt == OPT_MSG_BYTES || opt == OPT_MEM_W_FRAC)
      user_costs = 1;
    rc = simopts_handle(&o, cmd, opt, optarg);
    if (rc)
      return rc < 0 ? cli_bad_option(cmd, argv) : rc;
  }
  if ((rc = cli_no_positionals(cmd, argc, argv)))
    return rc;
  if (fail_oom && !mo.model)
    return cli_usage(cmd, "--fail-on-oom needs --model (HBM fit is judged "
                          "with a model)");
  const char *wl_device = NULL; /* workload priced by a calibration */
  if (wl.given) {
    if (mo.model)
      return cli_usage(cmd, "--layers/--hidden/--seed describe the executor's "
                            "workload and cannot be combined with --model");
    if (mo.gpu) {
      if (user_costs)
        return cli_usage(cmd, "--gpu prices the workload from its "
                              "calibration; drop --tf/--tb/--tw/--comm/"
                              "--bandwidth/--msg-bytes/--mem-w-frac");
      /* Stored calibrations are of the MLP-only block (calibrate refuses
       * --attention with --db), so they cannot price attention. */
      if (wl.attention)
        return cli_usage(cmd, "--attention with --gpu: stored workload "
                              "calibrations are of the MLP-only block; give "
                              "--tf/--tb/--tw or drop --gpu");
      wl_device = mo.gpu;
      mo.gpu = NULL;
    }
    /* --mb-size and --seq were parsed as model knobs: hand them over. */
    if (mo.cfg.mb_size > 0)
      wl.mb_size = mo.cfg.mb_size;
    if (mo.cfg.seq_len > 0)
      wl.seq = mo.cfg.seq_len;
    mo.other_given = 0;
  }
  if (mo.model || mo.gpu || mo.other_given) {
    if (mo.model && !o.schedule && !o.schedule_file)
      o.schedule = "1f1b"; /* the model mode's default schedule */
    /* The shape checks first; a byte --mem-limit is converted by
     * modelopts_apply (simopts_check alone rejects it). */
    int mem_bytes = o.mem_limit_bytes;
    o.mem_limit_bytes = 0;
    rc = simopts_check(&o, cmd, 1);
    o.mem_limit_bytes = mem_bytes;
    if (!rc)
      rc = modelopts_resolve(&mo, cmd);
    if (!rc)
      rc = modelopts_apply(&mo, &o, cmd, o.schedule, user_costs);
    if (rc) {
      modelopts_close(&mo);
      return rc;
    }
  }
  if (o.rq.stage_costs && (mo.model || mo.gpu)) {
    modelopts_close(&mo);
    return cli_usage(cmd, "--stage-costs brings its own per-stage costs: drop "
                          "--model/--gpu, or drop --stage-costs");
  }
  if (n_from && (mo.model || mo.gpu || user_costs)) {
    modelopts_close(&mo);
    return cli_usage(cmd, "--costs-from brings its own costs: drop --model, "
                          "--gpu and --tf/--tb/--tw/--comm/--bandwidth/"
                          "--msg-bytes/--mem-w-frac");
  }
  if (!mo.model && !mo.gpu && !user_costs &&
      (rc = learn_cli_resolve(cmd, from, n_from, &lc, mo.db_path,
                              &learned))) {
    modelopts_close(&mo);
    return rc;
  }
  if (learned)
    learn_cli_apply_opts(learned, &o);
  if ((rc = learn_cli_jitter(&o, cmd, learned, n_from))) {
    pl_learned_free(learned);
    modelopts_close(&mo);
    return rc;
  }
  if ((rc = simopts_check(&o, cmd, 1))) {
    pl_learned_free(learned);
    modelopts_close(&mo);
    return rc;
  }

  pl_sched *s;
  pl_costs *c;
  o.engine_finds_deadlock = 1; /* pl_sim_run below reports a deadlock */
  if ((rc = simopts_build(&o, cmd, NULL, &s, &c))) {
    pl_learned_free(learned);
    modelopts_close(&mo);
    return rc;
  }
  if (mo.model && (rc = modelopts_costs(&mo, cmd, s, &c, &plan, &o))) {
    pl_sched_destroy(s);
    pl_costs_destroy(c);
    modelopts_close(&mo);
    return rc;
  }
  if (!mo.model)
    rc = provided_costs(&wl, wl_device, mo.db_path, learned, s, &c, &o,
                        &wl_source);
  if (!rc && !mo.model && o.rq.stage_costs) {
    struct pl_errbuf se = PL_ERRBUF_INIT;
    if ((rc = simopts_apply_stage_costs(&o, c, &se)) != 0)
      rc = cli_fail_eb(&se, rc);
  }
  if (rc) {
    pl_learned_free(learned);
    pl_sched_destroy(s);
    pl_costs_destroy(c);
    modelopts_close(&mo);
    return rc;
  }
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_result res = PL_RESULT_INIT;
  unsigned flags = (trace || save || record)
                       ? PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM
                       : 0;
  simopts_apply_runtime(&o, c); /* on the provider's or model's table too */
  pl_trials tr;
  rc = pl_sim_request_run(&o.rq, s, c, flags, &res, &tr, &eb);
  if (rc) {
    rc = cli_fail_eb(&eb, rc);
    goto out;
  }
  /* The trace is in µs; a unitless "unit" is drawn as 1 ms so that
   * Perfetto's zoom levels suit unit-time schedules. */
  double us = pl_time_unit_us(o.rq.costs.time_unit);
  double scale = us > 0 ? us : strcmp(o.rq.costs.time_unit, "unit") == 0 ? 1000.0
                                                                 : 1.0;
  if ((rc = simopts_check_times(&o, cmd, c, &res, trace ? scale : 0)))
    goto out;
  if (trace) {
    rc = pl_trace_write_chrome(&res, s, c, scale, trace, &eb);
    if (rc) {
      rc = cli_fail_eb(&eb, rc);
      goto out;
    }
  }
  if (save) {
    json_t *j = pl_result_to_json(&res);
    json_object_set_new(j, "optimizer",
                        json_string(simopts_optimizer_name(o.rq.optimizer)));
    json_object_set_new(j, "iteration_time",
                        json_real(simopts_iteration_time(&o, &res)));
    if (mo.model)
      modelopts_json(&mo, &plan, &res, simopts_iteration_time(&o, &res), j);
    rc = pl_result_add_detail_json(j, &res);
    char *text = rc ? NULL : pl_json_dumps(j, JSON_INDENT(1));
    json_decref(j);
    if (!text) {
      rc = cli_fail(rc ? rc : PL_ENOMEM, "cannot build the result file");
      goto out;
    }
    rc = cli_write_out(save, text, strlen(text));
    pl_free(text);
    if (rc)
      goto out;
  }
  if (record) {
    /* History: one transaction with summary, ranks and ops. */
    struct pl_db *hdb = NULL;
    pl_history_params hp = PL_HISTORY_PARAMS_INIT;
    int64_t id = 0;
    hp.iteration_time = simopts_iteration_time(&o, &res);
    hp.cost_source = mo.model         ? modelopts_source_summary(plan.source)
                     : learned        ? "measured" /* the runs table's word */
                     : wl_source >= 0 ? pl_cost_source_name(wl_source)
                                      : "user";
    hp.model_name = mo.model;
    hp.gpu_name = wl_device ? wl_device : mo.gpu;
    rc = pl_history_open(mo.db_path, 1, &hdb, &eb);
    if (!rc)
      rc = pl_history_record(hdb, &res, &hp, &id, &eb);
    pl_db_close(hdb);
    if (rc) {
      rc = cli_fail_eb(&eb, rc);
      goto out;
    }
    fprintf(stderr, "recorded as run %lld\n", (long long)id);
  }
  if (fmt == CLI_FMT_TABLE) {
    print_table(&o, s, c, &res);
    if (tr.n)
      printf("\njitter         op times x %s%s%s; %d trials "
             "(seed %llu): iteration median %s, p10 %s, p90 %s, mean %s; "
             "deterministic %s (%+.2f%%). The figures above are the median "
             "trial's.\n",
             tr.n_quantiles ? "the profile's measured scatter (robust sigma "
                            : "exp(",
             cli_num(tr.jitter),
             tr.n_quantiles ? ", its quantiles drawn)" : " z), z ~ N(0,1)",
             tr.n,
             (unsigned long long)o.rq.jitter_seed,
             cli_dur(tr.p50, res.time_unit), cli_dur(tr.p10, res.time_unit),
             cli_dur(tr.p90, res.time_unit), cli_dur(tr.mean, res.time_unit),
             cli_dur(tr.deterministic, res.time_unit),
             tr.deterministic > 0
                 ? 100.0 * (tr.p50 - tr.deterministic) / tr.deterministic
                 : 0.0);
    if (learned)
      printf("\ncosts learned from a %s profile (%s, p=%d, %d virtual "
             "stages; %s)%s\n", learned->schedule, learned->source,
             learned->ranks, learned->stages, learned->workload_key,
             pl_sched_stages(s) > learned->stages
                 ? "; chunk costs derived by the layers each chunk holds "
                   "(a profile stage's time / chunks)"
                 : "");
    if (mo.model)
      nofit = modelopts_print(&mo, &plan, &res, simopts_iteration_time(&o, &res));
  } else if (fmt == CLI_FMT_JSON) {
    json_t *j = pl_result_to_json(&res);
    json_object_set_new(j, "placement",
                        json_string(pl_placement_name(pl_sched_placement(s))));
    json_object_set_new(j, "optimizer",
                        json_string(simopts_optimizer_name(o.rq.optimizer)));
    double it = simopts_iteration_time(&o, &res);
    json_object_set_new(j, "iteration_time",
                        it == floor(it) && fabs(it) < 9e15
                            ? json_integer((json_int_t)it)
                            : json_real(it));
    json_t *costs = json_object();
    json_object_set_new(costs, "tf", json_real(o.rq.costs.tf));
    json_object_set_new(costs, "tb", json_real(o.rq.costs.tb));
    json_object_set_new(costs, "tw", json_real(o.rq.costs.tw));
    json_object_set_new(costs, "comm", json_real(pl_costs_comm(c, 0)));
    json_object_set_new(costs, "mem_w_frac", json_real(o.rq.costs.mem_w_frac));
    simopts_json_runtime(costs, c->p2p_mode, c->op_gap, c->send_overhead,
                         c->recv_overhead, c->local_overhead);
    json_object_set_new(costs, "fb_overlap", json_real(o.rq.fb_overlap));
    json_object_set_new(costs, "a2a", json_real(o.rq.a2a));
    json_object_set_new(costs, "optimizer_time", json_real(o.rq.optimizer_time));
    json_object_set_new(
        costs, "source",
        json_string(mo.model         ? modelopts_source_summary(plan.source)
                    : wl_source >= 0 ? pl_cost_source_name(wl_source)
                                     : "user"));
    if (learned) {
      json_t *lj = json_object();
      json_object_set_new(lj, "schedule", json_string(learned->schedule));
      json_object_set_new(lj, "source", json_string(learned->source));
      json_object_set_new(lj, "workload_key",
                          json_string(learned->workload_key));
      json_object_set_new(lj, "source_sha256",
                          json_string(learned->source_sha256));
      json_object_set_new(lj, "chunk_split",
                          json_integer(pl_sched_stages(s) / learned->stages));
      json_object_set_new(costs, "learned_from", lj);
    }
    json_object_set_new(j, "costs", costs);
    if (tr.n)
      json_object_set_new(j, "trials", pl_trials_to_json(&tr, o.rq.jitter_seed));
    if (mo.model) {
      modelopts_json(&mo, &plan, &res, it, j);
      nofit = modelopts_warn_fit(&mo, &plan, &res);
    }
    pl_json_dumpf(j, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(j);
  } else {
    struct pl_buf b;
    pl_buf_init(&b, 0);
    pl_result_to_csv(&res, &b);
    fwrite(b.buf, 1, b.len, stdout);
    pl_buf_free(&b);
    if (mo.model)
      nofit = modelopts_warn_fit(&mo, &plan, &res);
  }
  if (fail_oom && nofit)
    rc = cli_fail_oom(nofit, "rank");
out:
  pl_learned_free(learned);
  pl_model_plan_free(&plan);
  modelopts_close(&mo);
  pl_result_free(&res);
  pl_sched_destroy(s);
  pl_costs_destroy(c);
  return rc;
}
