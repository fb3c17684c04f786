#define _POSIX_C_SOURCE 200809L
/* cmd_whatif.c: `pipelab whatif`: the main job. Simulates every built-in
 * schedule for one case and prints a comparison table. The case without
 * options is the preset zb-1.5b, the Zero Bubble paper's measured 1.5B
 * costs (p=8, m=24); explicit options start from simulate's defaults. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "pipelab/plots.h"
#include "pipelab/traces.h"
#include "learnopts.h"
#include "modelopts.h"

static const char usage[] =
  "usage: pipelab whatif [--preset zb-1.5b]\n"
  "                      [--stages <p> --microbatches <m> [--tf <t> ...]]\n"
  "                      [--schedules <a,b,...>] [--format (table|json|csv)]\n"
  "                      [--model <name> --gpu <name> ...]\n\n"
  "Compares every built-in schedule for one case. Without shape, cost or\n"
  "model options the case is the preset zb-1.5b: the Zero Bubble paper's 1.5B\n"
  "model on 8 ranks with 24 microbatches and its measured per-stage costs,\n"
  "F=18522 B=18086 W=9337 comm=601 us, M_W/M_B=0.3664 (--preset zb-1.5b\n"
  "says so explicitly; options given with it override its values). Otherwise\n"
  "--stages and --microbatches are required and the costs start from the\n"
  "defaults of 'pipelab simulate' (tf = tb = tw = 1, comm 0, mem-w-frac 0.5,\n"
  "unit 'unit').\n"
  "With --model <name> --gpu <name> the costs come from the database or the\n"
  "analytic transformer model (times in us) and the table adds seconds,\n"
  "tokens/s, MFU and the largest GiB per rank with whether it fits in HBM.\n\n"
  "case:\n"
  "  --preset <name>           zb-1.5b: the Zero Bubble paper's 1.5B case\n";

/* The presets: a named case with its shape and measured costs. */
static const struct preset {
  const char *name, *what;
  int p, m;
  double tf, tb, tw, comm, mem_w_frac;
  const char *time_unit;
} presets[] = {
  /* The Zero Bubble paper's 1.5B model (its Table 2 profile): per-stage
   * times in us, M_W/M_B = 73728 / 201216. */
  {"zb-1.5b", "the Zero Bubble paper's 1.5B model, its measured costs", 8, 24,
   18522, 18086, 9337, 601, 73728.0 / 201216.0, "us"},
};

struct row {
  const char *name;
  int ok;
  char err[PL_ERRMSG_MAX];
  pl_result res;
  double iter;
  pl_model_plan plan; /* --model only */
  pl_breakdown bd;    /* --model only: where the time goes */
  pl_trials tr;       /* --jitter: the trials (n = 0 without) */
};

int cmd_whatif(int argc, char **argv)
{
  static const struct option longopts[] = {
    SIMOPTS_LONG,
    MODELOPTS_LONG,
    {"format", required_argument, NULL, OPT_FORMAT},
    {"schedules", required_argument, NULL, 's'},
    {"plots", required_argument, NULL, 'P'},
    {"fail-on-oom", no_argument, NULL, 'O'},
    {"preset", required_argument, NULL, 'R'},
    {"costs-from", required_argument, NULL, 'C'},
    {"b-frac", required_argument, NULL, 'B'},
    {"jitter", required_argument, NULL, 'J'},
    {"trials", required_argument, NULL, 'N'},
    {"jitter-seed", required_argument, NULL, 'E'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "whatif";
  struct sim_opts o;
  struct model_opts mo;
  enum cli_format fmt = CLI_FMT_TABLE;
  const char *only = NULL, *plots = NULL;
  int opt, rc, user_costs = 0, fail_oom = 0;
  const struct preset *preset = NULL;
  struct learn_cli lc;
  pl_learned *learned = NULL;
  const char *from[64];
  size_t n_from = 0;
  learn_cli_init(&lc);
  simopts_init(&o);
  /* Every schedule runs on uniform ranks (simulate takes --rank-speed). */
  simopts_accept(&o, SIMOPTS_ALL & ~(SIMOPTS_SCHED | SIMOPT(OPT_RANK_SPEED)),
                 0, "it compares schedules on uniform ranks; 'pipelab "
                    "simulate' takes it for one schedule");
  modelopts_init(&mo);
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    if (opt == 'h') {
      fputs(usage, stdout);
      simopts_print_help(&o);
      fputs(modelopts_help, stdout);
      printf("output:\n"
             "  --schedules <list>        only these schedules (comma-separated)\n"
             "  --format <f>              table (default), json or csv\n"
             "  --plots <dir>             also write <dir>/<schedule>.png, the\n"
             "                            pipeline timeline of each schedule\n"
             "  --fail-on-oom             with --model: exit 8 when a compared\n"
             "                            schedule does not fit in HBM (CI gate)\n"
             "learned costs (docs/learned-costs.md):\n"
             "  --costs-from <file>       rank the schedules with costs learned from\n"
             "                            a measured profile of one of them (a 'run\n"
             "                            --save' result, or Kineto traces: repeat\n"
             "                            it, one per rank); --db <file> alone (no\n"
             "                            --model, --gpu or cost flags) uses the\n"
             "                            newest costs 'calibrate --from' stored;\n"
             "                            p and m default to the profile's\n"
             "  --b-frac <x>              B / (B + W) to split a profile's BW ops\n");
      fputs(simopts_jitter_help, stdout);
      printf("\n"
             "examples:\n"
             "  pipelab whatif                       # the preset zb-1.5b\n"
             "  pipelab whatif --stages 4 --microbatches 8 --comm 0.25 "
             "--p2p batched\n"
             "  pipelab whatif --model llama3-8b --gpu h100 --tp 2 --stages 4 "
             "--microbatches 32 --flash-attn\n");
      return 0;
    }
    if (opt == 'R') {
      preset = NULL;
      for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(optarg, presets[i].name))
          preset = &presets[i];
      if (!preset)
        return cli_usage(cmd, "unknown --preset '%s': the presets are "
                              "zb-1.5b", optarg);
      continue;
    }
    if (opt == '?' || opt == ':')
      return cli_bad_option(cmd, argv);
    if (opt == OPT_FORMAT) {
      if ((rc = cli_format(cmd, optarg, 7, &fmt)))
        return rc;
      continue;
    }
    if (opt == 's') {
      only = optarg;
      continue;
    }
    if (opt == 'P') {
      plots = optarg;
      continue;
    }
    if (opt == 'O') {
      fail_oom = 1;
      continue;
    }
    if (opt == 'C') {
      if (n_from == sizeof from / sizeof *from)
        return cli_usage(cmd, "at most 64 --costs-from files");
      from[n_from++] = optarg;
      continue;
    }
    if (opt == 'B') {
      if ((rc = cli_double(cmd, "--b-frac", optarg, 1e-6, 1 - 1e-6,
                           &lc.b_frac)))
        return rc;
      continue;
    }
    if (opt == 'J' || opt == 'N' || opt == 'E') {
      if ((rc = simopts_jitter(&o, cmd, opt == 'J' ? 0 : opt == 'N' ? 1 : 2,
                               optarg)))
        return rc;
      continue;
    }
    if (opt == OPT_SCHEDULE || opt == OPT_SCHEDULE_FILE)
      return cli_usage(cmd, "whatif runs every schedule; use --schedules "
                            "<a,b> to pick some, or 'pipelab simulate'");
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
  int model_given = mo.model || mo.gpu || mo.other_given;
  if ((n_from || mo.db_path) && !model_given && !user_costs && !preset) {
    if (n_from && (o.seen & SIMOPT(OPT_TIME_UNIT))) {
      modelopts_close(&mo);
      return cli_usage(cmd, "--costs-from brings its own time unit: drop "
                            "--time-unit");
    }
    if ((rc = learn_cli_resolve(cmd, from, n_from, &lc, mo.db_path,
                                &learned))) {
      modelopts_close(&mo);
      return rc;
    }
    if (learned)
      learn_cli_apply_opts(learned, &o);
  } else if (n_from) {
    modelopts_close(&mo);
    return cli_usage(cmd, "--costs-from brings its own costs: drop --preset, "
                          "--model, --gpu and the cost flags");
  }
  if (preset && model_given) {
    modelopts_close(&mo);
    return cli_usage(cmd, "--preset %s brings its measured costs and --model "
                          "prices its own: give one of them", preset->name);
  }
  /* No shape, cost or model option: the paper's case, said out loud. */
  if (!preset && !model_given && !learned &&
      !(o.seen & (SIMOPTS_SHAPE | SIMOPTS_COSTS | SIMOPT(OPT_TIME_UNIT))))
    preset = &presets[0];
  if (preset) {
    /* Options given with the preset override its values. */
    if (!o.have_p) {
      o.rq.p = preset->p;
      o.have_p = 1;
    }
    if (!o.have_m) {
      o.rq.m = preset->m;
      o.have_m = 1;
    }
    if (!(o.seen & SIMOPT(OPT_TF))) o.rq.costs.tf = preset->tf;
    if (!(o.seen & SIMOPT(OPT_TB))) o.rq.costs.tb = preset->tb;
    if (!(o.seen & SIMOPT(OPT_TW))) o.rq.costs.tw = preset->tw;
    if (!(o.seen & SIMOPT(OPT_COMM))) o.rq.costs.comm = preset->comm;
    if (!(o.seen & SIMOPT(OPT_MEM_W_FRAC))) o.rq.costs.mem_w_frac = preset->mem_w_frac;
    if (!(o.seen & SIMOPT(OPT_TIME_UNIT))) o.rq.costs.time_unit = preset->time_unit;
  }
  if (!o.have_p || !o.have_m) {
    modelopts_close(&mo);
    return cli_usage(cmd, "missing %s: a case of your own needs --stages <p> "
                          "and --microbatches <m> (or start from the paper's "
                          "case with --preset zb-1.5b)",
                     !o.have_p ? "--stages" : "--microbatches");
  }
  if (o.rq.stage_costs && (mo.model || mo.gpu)) {
    modelopts_close(&mo);
    return cli_usage(cmd, "--stage-costs brings its own per-stage costs: drop "
                          "--model/--gpu, or drop --stage-costs");
  }
  if (fail_oom && !mo.model)
    return cli_usage(cmd, "--fail-on-oom needs --model (HBM fit is judged "
                          "with a model)");
  if (mo.model || mo.gpu || mo.other_given) {
    int mem_bytes = o.mem_limit_bytes;
    o.mem_limit_bytes = 0;
    rc = simopts_check(&o, cmd, 0);
    o.mem_limit_bytes = mem_bytes;
    if (!rc)
      rc = modelopts_resolve(&mo, cmd);
    if (!rc)
      rc = modelopts_apply(&mo, &o, cmd, NULL, user_costs);
    if (rc) {
      modelopts_close(&mo);
      return rc;
    }
  }
  if ((rc = learn_cli_jitter(&o, cmd, learned, n_from)) ||
      (rc = simopts_check(&o, cmd, 0))) {
    pl_learned_free(learned);
    modelopts_close(&mo);
    return rc;
  }
  if (only) {
    char *dup = pl_strdup(only), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
      if (!pl_gen_find(t)) {
        rc = cli_usage(cmd, "unknown schedule '%s' in --schedules", t);
        pl_free(dup);
        return rc;
      }
    pl_free(dup);
  }
  {
    /* --mem-limit and --group must steer at least one compared schedule. */
    const pl_gen_info *gl = pl_gen_list();
    const char *names[64];
    int k = 0;
    char list[1024];
    snprintf(list, sizeof list, ",%s,", only ? only : "");
    for (; gl->name && k < 64; gl++) {
      char pat[80];
      snprintf(pat, sizeof pat, ",%s,", gl->name);
      if (!only || strstr(list, pat))
        names[k++] = gl->name;
    }
    if ((rc = simopts_check_uses(&o, cmd, names, k))) {
      modelopts_close(&mo);
      return rc;
    }
  }

  const pl_sim_request *rq = &o.rq; /* every row's case */
  const pl_gen_info *gens = pl_gen_list();
  size_t n = 0;
  while (gens[n].name)
    n++;
  struct row *rows = pl_calloc(n, sizeof *rows);
  size_t nr = 0;
  int nw = 12; /* name column: the longest name shown */
  int plots_written = 0, plots_failed = 0;
  const char *plots_dir = plots;
  if (plots) {
    /* mkdir -p: create each missing component of the path. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", plots);
    int bad = 0;
    for (char *q = dir + 1; !bad; q++) {
      if (*q == '/' || *q == 0) {
        char saved = *q;
        *q = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
          bad = 1;
        *q = saved;
        if (!saved)
          break;
      }
    }
    if (bad) {
      rc = cli_fail(PL_EIO, "cannot create '%s': %s", dir, strerror(errno));
      pl_free(rows);
      modelopts_close(&mo);
      return rc;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const char *name = gens[i].name;
    if (only) {
      char pat[80];
      snprintf(pat, sizeof pat, ",%s,", name);
      char list[1024];
      snprintf(list, sizeof list, ",%s,", only);
      if (!strstr(list, pat))
        continue;
    }
    struct row *r = &rows[nr++];
    r->name = name;
    if ((int)strlen(name) > nw)
      nw = (int)strlen(name);
    r->res = (pl_result)PL_RESULT_INIT;
    r->plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_gen_params gp = pl_sim_request_gen_params(rq);
    if (gens[i].default_chunks > 1 && !o.have_v)
      gp.v = 0;
    pl_sched *s = NULL;
    pl_costs *c = NULL;
    unsigned flags = plots ? PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM : 0;
    int e = pl_sched_gen(name, &gp, &s, &eb);
    if (!e)
      e = pl_sched_validate(s, &eb);
    if (!e && mo.model) {
      if ((e = modelopts_build_eb(&mo, s, &c, &r->plan, &eb)) == 0) {
        pl_sim_request_apply_runtime(rq, c);
        e = pl_sim_request_run(rq, s, c, flags, &r->res, &r->tr, &eb);
      }
      if (!e && (e = modelopts_breakdown(&r->plan, s, c, &r->res,
                                         simopts_iteration_time(&o, &r->res),
                                         &r->bd)) != 0)
        snprintf(eb.msg, sizeof eb.msg, "cannot break the iteration down");
    } else if (!e && learned) {
      pl_cost_request lq = PL_COST_REQUEST_INIT;
      lq.kind = PL_COSTS_LEARNED;
      lq.learned = learned;
      lq.mem_w_frac = o.rq.costs.mem_w_frac;
      if ((e = pl_cost_provide(&lq, s, &c, NULL, &eb)) == 0) {
        pl_sim_request_apply_runtime(rq, c);
        e = pl_sim_request_run(rq, s, c, flags, &r->res, &r->tr, &eb);
      }
    } else if (!e && (e = pl_sim_request_costs(rq, s, &c, &eb)) == 0) {
      e = pl_sim_request_run(rq, s, c, flags, &r->res, &r->tr, &eb);
    }
    if (e)
      snprintf(r->err, sizeof r->err, "%s", eb.msg[0] ? eb.msg : pl_strerror(e));
    else {
      r->ok = 1;
      r->iter = mo.model ? r->bd.iteration_us
                         : simopts_iteration_time(&o, &r->res);
      if (plots) {
        /* One timeline figure per schedule, as in the papers. A plotting
         * failure (no gnuplot) is reported once and stops further plots,
         * but the comparison itself still prints. */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.png", plots, name);
        struct pl_errbuf pe = PL_ERRBUF_INIT;
        if (pl_plot_timeline_file(&r->res, path, &pe)) {
          cli_warn("%s", pe.msg);
          plots_failed = 1;
          plots = NULL;
        } else {
          plots_written++;
        }
      }
    }
    pl_sched_destroy(s);
    pl_costs_destroy(c);
    term_progress("whatif", i + 1, n);
  }
  term_progress_end();
  /* Times beyond what a result holds are refused, as in simulate. */
  int bad = 0;
  for (size_t i = 0; i < nr && !bad && !mo.model; i++)
    if (rows[i].ok)
      bad = simopts_check_times(&o, cmd, NULL, &rows[i].res, 0);
  if (bad) {
    for (size_t i = 0; i < nr; i++) {
      pl_result_free(&rows[i].res);
      pl_model_plan_free(&rows[i].plan);
    }
    pl_free(rows);
    modelopts_close(&mo);
    return bad;
  }
  if (plots_written)
    fprintf(stderr, "wrote %d timeline figure%s to %s/\n", plots_written,
            plots_written > 1 ? "s" : "", plots_dir);

  if (fmt == CLI_FMT_JSON) {
    json_t *a = json_array();
    for (size_t i = 0; i < nr; i++) {
      json_t *j;
      if (rows[i].ok) {
        j = pl_result_to_json(&rows[i].res);
        json_object_set_new(j, "iteration_time", json_real(rows[i].iter));
        if (rows[i].tr.n)
          json_object_set_new(j, "trials",
                              pl_trials_to_json(&rows[i].tr, o.rq.jitter_seed));
        if (mo.model) {
          mo.bd = &rows[i].bd;
          modelopts_json(&mo, &rows[i].plan, &rows[i].res, rows[i].iter, j);
          mo.bd = NULL;
        }
      } else {
        j = json_object();
        json_object_set_new(j, "schedule", json_string(rows[i].name));
        json_object_set_new(j, "error", json_string(rows[i].err));
      }
      json_array_append_new(a, j);
    }
    json_t *top = json_object();
    if (preset)
      json_object_set_new(top, "preset", json_string(preset->name));
    json_object_set_new(top, "stages", json_integer(o.rq.p));
    json_object_set_new(top, "microbatches", json_integer(o.rq.m));
    json_object_set_new(top, "time_unit", json_string(o.rq.costs.time_unit));
    json_object_set_new(top, "optimizer",
                        json_string(simopts_optimizer_name(o.rq.optimizer)));
    simopts_json_runtime(top, o.rq.p2p, o.rq.op_gap, o.rq.send_overhead,
                         o.rq.recv_overhead, o.rq.local_overhead);
    json_object_set_new(top, "optimizer_time", json_real(o.rq.optimizer_time));
    if (learned) {
      json_t *lj = json_object();
      json_object_set_new(lj, "schedule", json_string(learned->schedule));
      json_object_set_new(lj, "source", json_string(learned->source));
      json_object_set_new(lj, "workload_key",
                          json_string(learned->workload_key));
      json_object_set_new(lj, "source_sha256",
                          json_string(learned->source_sha256));
      json_object_set_new(lj, "virtual_stages", json_integer(learned->stages));
      json_object_set_new(top, "cost_source", json_string("learned"));
      json_object_set_new(top, "learned_from", lj);
    }
    json_object_set_new(top, "schedules", a);
    pl_json_dumpf(top, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(top);
  } else if (fmt == CLI_FMT_CSV && mo.model) {
    printf("schedule,chunks,iteration_seconds,tokens_per_second,mfu,"
           "bubble_ratio,max_peak_bytes,hbm_bytes,fits,error,compute_s,"
           "tp_cp_comm_s,pp_p2p_s,dp_comm_s,optimizer_s,bubble_s,hfu\n");
    for (size_t i = 0; i < nr; i++) {
      struct row *r = &rows[i];
      double it, tok, mfu, peak = 0;
      if (!r->ok) {
        printf("%s,,,,,,,,,\"%s\"\n", r->name, r->err);
        continue;
      }
      pl_model_throughput(&r->plan, r->iter, &it, &tok, &mfu);
      for (int k = 0; k < r->plan.n_ranks; k++)
        if (modelopts_peak_bytes(&r->plan, &r->res, k) > peak)
          peak = modelopts_peak_bytes(&r->plan, &r->res, k);
      const pl_breakdown *b = &r->bd;
      printf("%s,%d,%.9g,%.9g,%.6g,%.6g,%.0f,%.0f,%s,,%.9g,%.9g,%.9g,%.9g,"
             "%.9g,%.9g,%.6g\n", r->name,
             r->res.chunks, it, tok, mfu, r->res.bubble_ratio, peak,
             r->plan.hbm_bytes, peak <= r->plan.hbm_bytes ? "true" : "false",
             b->compute_us / 1e6, (b->tp_us + b->cp_us) / 1e6, b->pp_us / 1e6,
             b->dp_us / 1e6, b->optimizer_us / 1e6, b->bubble_us / 1e6,
             b->hfu);
    }
  } else if (fmt == CLI_FMT_TABLE && mo.model) {
    int sq = mo.cfg.seq_len > 0 ? mo.cfg.seq_len : mo.m.seq_len;
    int cpd = mo.cfg.cp > 1 ? mo.cfg.cp : 1;
    printf("what-if: %s on %d x %s (tp=%d cp=%d pp=%d dp=%d), m=%d "
           "microbatches of b=%d, s=%d; %s; recompute %s%s; optimizer %s; "
           "p2p %s\n\n",
           mo.m.name, o.rq.p * mo.cfg.tp * cpd * mo.cfg.dp, mo.g.name, mo.cfg.tp,
           cpd, o.rq.p, mo.cfg.dp, o.rq.m, mo.cfg.mb_size, sq,
           pl_precision_name(mo.cfg.precision),
           pl_recompute_name(mo.cfg.recompute),
           mo.cfg.flash_attn ? ", flash attention" : "",
           simopts_optimizer_name(o.rq.optimizer), pl_p2p_mode_name(o.rq.p2p));
    printf("%-*s %2s %10s %11s %6s %8s %12s %5s %9s\n", nw, "schedule", "v",
           "iteration", "tokens/s", "MFU", "bubble", "max mem/rank", "fits",
           "vs 1f1b");
    double base = 0;
    for (size_t i = 0; i < nr; i++)
      if (rows[i].ok && !strcmp(rows[i].name, "1f1b"))
        base = rows[i].iter;
    for (size_t i = 0; i < nr; i++) {
      struct row *r = &rows[i];
      double it, tok, mfu, peak = 0;
      if (!r->ok) {
        printf("%-*s    skipped: %s\n", nw, r->name, r->err);
        continue;
      }
      pl_model_throughput(&r->plan, r->iter, &it, &tok, &mfu);
      for (int k = 0; k < r->plan.n_ranks; k++)
        if (modelopts_peak_bytes(&r->plan, &r->res, k) > peak)
          peak = modelopts_peak_bytes(&r->plan, &r->res, k);
      char speed[32] = "";
      if (base > 0)
        snprintf(speed, sizeof speed, "%.3fx", base / r->iter);
      printf("%-*s %2d %10s %11.6g %5.1f%% %7.2f%% %12s %5s %9s\n", nw,
             r->name, r->res.chunks, cli_dur(it, "s"), tok, 100 * mfu,
             100 * r->res.bubble_ratio, cli_size(peak),
             peak <= r->plan.hbm_bytes ? "yes" : "NO", speed);
    }
    printf("\nwhere the time goes (on the rank that ends last)\n");
    printf("%-*s %9s %9s %9s %9s %9s %9s %9s\n", nw, "schedule", "compute",
           "TP/CP", "PP p2p", "bubble", "DP comm", "optimizer", "HFU");
    for (size_t i = 0; i < nr; i++) {
      const struct row *r = &rows[i];
      if (!r->ok)
        continue;
      const pl_breakdown *b = &r->bd;
      printf("%-*s %9s %9s %9s %9s %9s %9s %8.1f%%\n", nw, r->name,
             cli_dur(b->compute_us, "us"), cli_dur(b->tp_us + b->cp_us, "us"),
             cli_dur(b->pp_us, "us"), cli_dur(b->bubble_us, "us"),
             cli_dur(b->dp_us, "us"), cli_dur(b->optimizer_us, "us"),
             100 * b->hfu);
    }
    printf("\niteration = the time of one iteration (optimizer %s; the "
           "pipeline, then the exposed\nDP reduce and the optimizer step), "
           "MFU = model FLOPs / (GPUs x peak), HFU with\nrecomputation; max "
           "mem/rank = weights + gradients + optimizer state + activations\n"
           "at peak on the fullest rank, against %s of HBM per %s. Cost "
           "sources: %s.\n",
           simopts_optimizer_name(o.rq.optimizer), cli_size(mo.g.hbm_bytes),
           mo.g.name, nr && rows[0].ok ? modelopts_source_summary(rows[0].plan.source)
                                       : "analytic");
  } else if (fmt == CLI_FMT_CSV) {
    printf("schedule,chunks,iteration_time,makespan,max_rank_span,bubble_ratio,"
           "bubble_ratio_span,peak_activation_units,time_unit,error\n");
    for (size_t i = 0; i < nr; i++) {
      struct row *r = &rows[i];
      if (r->ok)
        printf("%s,%d,%s,%s,%s,%s,%s,%s,%s,\n", r->name, r->res.chunks,
               cli_num(r->iter), cli_num(r->res.makespan),
               cli_num(r->res.max_rank_span), cli_num(r->res.bubble_ratio),
               cli_num(r->res.bubble_ratio_span), cli_num(r->res.peak_mem),
               o.rq.costs.time_unit);
      else
        printf("%s,,,,,,,,%s,\"%s\"\n", r->name, o.rq.costs.time_unit, r->err);
    }
  } else {
    if (preset)
      printf("preset %s (%s; --preset %s)\n", preset->name, preset->what,
             preset->name);
    const char *u = o.rq.costs.time_unit;
    printf("what-if: p=%d ranks, m=%d microbatches; per rank F=%s B=%s W=%s "
           "comm=%s; M_W/M_B=%s; optimizer %s",
           o.rq.p, o.rq.m, cli_dur(o.rq.costs.tf, u), cli_dur(o.rq.costs.tb, u), cli_dur(o.rq.costs.tw, u),
           cli_dur(o.rq.costs.comm, u), cli_num(o.rq.costs.mem_w_frac),
           simopts_optimizer_name(o.rq.optimizer));
    if (o.rq.optimizer_time > 0)
      printf(" (step %s)", cli_dur(o.rq.optimizer_time, u));
    printf("; p2p %s", pl_p2p_mode_name(o.rq.p2p));
    if (o.rq.fb_overlap > 0 || o.rq.a2a > 0)
      printf("; fused F&B overlap %s; all-to-all %s per F and per B",
             cli_num(o.rq.fb_overlap), cli_num(o.rq.a2a));
    if (o.rq.op_gap > 0)
      printf("; op gap %s", cli_dur(o.rq.op_gap, u));
    if (o.rq.send_overhead > 0 || o.rq.recv_overhead > 0)
      printf("; per message: send %s, receive %s", cli_dur(o.rq.send_overhead, u),
             cli_dur(o.rq.recv_overhead, u));
    printf("\n");
    if (learned)
      printf("costs learned from a %s profile (%s, p=%d, %d virtual stages; "
             "%s); chunked schedules (v > 1): each chunk costs its profile "
             "stage's time / v (the layers it holds)\n", learned->schedule,
             learned->source, learned->ranks, learned->stages,
             learned->workload_key);
    printf("\n");
    printf("%-*s %2s %14s %14s %8s %8s %10s %10s%s\n", nw, "schedule", "v",
           "iteration", "rank span", "bubble", "bub/span", "peak act.",
           "vs 1f1b", o.rq.have_jitter ? "   p90 iter.  vs det." : "");
    double base = 0;
    for (size_t i = 0; i < nr; i++)
      if (rows[i].ok && !strcmp(rows[i].name, "1f1b"))
        base = rows[i].iter;
    for (size_t i = 0; i < nr; i++) {
      struct row *r = &rows[i];
      if (!r->ok) {
        printf("%-*s    skipped: %s\n", nw, r->name, r->err);
        continue;
      }
      char speed[32] = "";
      if (base > 0)
        snprintf(speed, sizeof speed, "%.3fx", base / r->iter);
      printf("%-*s %2d %14s %14s %7.2f%% %7.2f%% %10s %10s",
             nw, r->name, r->res.chunks, cli_dur(r->iter, u),
             cli_dur(r->res.max_rank_span, u),
             100.0 * r->res.bubble_ratio, 100.0 * r->res.bubble_ratio_span,
             cli_mem(r->res.peak_mem, r->res.mem_unit), speed);
      if (r->tr.n)
        printf(" %12s %+6.2f%%", cli_dur(r->tr.p90, u),
               r->tr.deterministic > 0
                   ? 100.0 * (r->tr.p50 - r->tr.deterministic) /
                         r->tr.deterministic
                   : 0.0);
      printf("\n");
    }
    printf("\niteration = makespan (+ step) under --optimizer sync, longest "
           "rank span (+ step)\nunder post-validate; peak act. = most "
           "activation memory on any rank, in units\nof one microbatch's "
           "activations over one rank's layers (1F1B's rank 0 holds p\n"
           "units).\n");
    if (o.rq.have_jitter)
      printf("With --jitter %s: every figure is the median of %d trials; p90 "
             "iter. = their 90th\npercentile, vs det. = the median against "
             "the deterministic run.\n", cli_num(o.rq.jitter),
             o.rq.trials > 0 ? o.rq.trials : PL_SIM_REQUEST_TRIALS);
  }
  int nofit = 0; /* schedules with a rank over HBM (--fail-on-oom) */
  for (size_t i = 0; i < nr; i++) {
    for (int k = 0; mo.model && rows[i].ok && k < rows[i].plan.n_ranks; k++)
      if (modelopts_peak_bytes(&rows[i].plan, &rows[i].res, k) >
          rows[i].plan.hbm_bytes) {
        nofit++;
        break;
      }
    pl_result_free(&rows[i].res);
    pl_model_plan_free(&rows[i].plan);
  }
  pl_free(rows);
  modelopts_close(&mo);
  pl_learned_free(learned);
  if (fail_oom && nofit)
    return cli_fail_oom(nofit, "schedule");
  return plots_failed ? CLI_EXIT_FAIL : 0;
}
