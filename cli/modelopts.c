/* modelopts.c: --model / --gpu and the knobs of the analytic cost model,
 * shared by simulate, whatif and sweep. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "modelopts.h"

const char modelopts_help[] =
  "model costs (instead of --tf/--tb/--tw/--comm; times in us, memory in bytes):\n"
  "  --model <name>            catalog model ('pipelab db list models'), e.g.\n"
  "                            llama3-70b, gpt3-175b\n"
  "  --gpu <name>              catalog GPU ('pipelab db list gpus'): a100, h100,\n"
  "                            h200, b200, mi300x\n"
  "  --mb-size <b>             sequences per microbatch (default 1)\n"
  "  --seq <s>                 sequence length (default: the model's)\n"
  "  --tp <t> --dp <d>         tensor- and data-parallel degrees (default 1)\n"
  "  --recompute <r>           none (default), selective or full\n"
  "  --flash-attn              flash attention: no s^2 activations stored\n"
  "  --distributed-optimizer   shard the optimizer state over the dp ranks\n"
  "  --no-sequence-parallel    with --tp: replicate the norm/dropout activations\n"
  "  --layers-per-stage <list> layers per virtual stage ('9,10,...,9' or one\n"
  "                            number for all); default balanced, with the\n"
  "                            LM head counted on the last stage\n"
  "  --cp <c>                  context-parallel degree (ring attention; default 1)\n"
  "  --gpus-per-node <n>       GPUs per scale-up domain (default: the GPU's, 8\n"
  "                            for HGX, 72 for NVL72); ranks are laid out tp,\n"
  "                            cp, dp, pp (Megatron's order)\n"
  "  --precision <p>           GEMM precision: bf16 (default), fp16, fp8, fp4\n"
  "  --no-causal               encoder attention: flash computes all of s^2\n"
  "  --overlap-grad-reduce     DP gradient reduce overlapped with the backward\n"
  "  --overlap-param-gather    distributed optimizer: all-gather hidden\n"
  "  --tp-comm-overlap         TP collectives overlapped with the GEMMs\n"
  "  --no-grad-accum-fusion    weight gradients added to the fp32 main gradient\n"
  "                            by a separate kernel (older Megatron)\n"
  "  --grad-reduce-dtype <t>   fp32 or bf16/fp16 gradients in the DP reduce\n"
  "                            (default: fp16 with --precision fp16, else fp32)\n"
  "  --mfu <x>                 flat model: every op at this fraction of peak,\n"
  "                            no communication (default: the kernel model)\n"
  "  --mem-limit <bytes>       with --model: HBM budget per rank (80GiB) for\n"
  "                            zb-auto\n"
  "  --db <path>               database (default $PIPELAB_DB, else\n"
  "                            $XDG_DATA_HOME/pipelab/pipelab.db); ':memory:'\n"
  "                            uses only the built-in catalog\n";

void modelopts_init(struct model_opts *mo)
{
  memset(mo, 0, sizeof *mo);
  mo->cfg = (pl_train_cfg)PL_TRAIN_CFG_INIT;
}

/* The switches: each sets one int of the training configuration. */
static const struct {
  int opt;
  size_t off;
  int value;
} switches[] = {
  {OPT_FLASH_ATTN, offsetof(pl_train_cfg, flash_attn), 1},
  {OPT_DIST_OPT, offsetof(pl_train_cfg, distributed_optimizer), 1},
  {OPT_NO_SEQ_PARALLEL, offsetof(pl_train_cfg, seq_parallel), 0},
  {OPT_NO_CAUSAL, offsetof(pl_train_cfg, no_causal), 1},
  {OPT_OVERLAP_GRAD, offsetof(pl_train_cfg, overlap_grad_reduce), 1},
  {OPT_OVERLAP_PARAM, offsetof(pl_train_cfg, overlap_param_gather), 1},
  {OPT_TP_OVERLAP, offsetof(pl_train_cfg, tp_comm_overlap), 1},
  {OPT_NO_GA_FUSION, offsetof(pl_train_cfg, no_grad_accum_fusion), 1},
};

int modelopts_handle(struct model_opts *mo, const char *cmd, int opt,
                     const char *arg)
{
  for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++)
    if (switches[i].opt == opt) {
      mo->other_given = 1;
      *(int *)((char *)&mo->cfg + switches[i].off) = switches[i].value;
      return 0;
    }
  switch (opt) {
  case OPT_MODEL: mo->model = arg; return 0;
  case OPT_GPU: mo->gpu = arg; return 0;
  case OPT_DB: mo->db_path = arg; return 0;
  case OPT_MB_SIZE: mo->other_given = 1;
    return cli_int(cmd, "--mb-size", arg, 1, 1 << 20, &mo->cfg.mb_size);
  case OPT_SEQ: mo->other_given = 1;
    return cli_int(cmd, "--seq", arg, 1, 1 << 24, &mo->cfg.seq_len);
  case OPT_TP: mo->other_given = 1;
    return cli_int(cmd, "--tp", arg, 1, 1024, &mo->cfg.tp);
  case OPT_DP: mo->other_given = 1;
    return cli_int(cmd, "--dp", arg, 1, 1 << 20, &mo->cfg.dp);
  case OPT_RECOMPUTE: mo->other_given = 1;
    if (!strcmp(arg, "none")) mo->cfg.recompute = PL_RECOMPUTE_NONE;
    else if (!strcmp(arg, "selective")) mo->cfg.recompute = PL_RECOMPUTE_SELECTIVE;
    else if (!strcmp(arg, "full")) mo->cfg.recompute = PL_RECOMPUTE_FULL;
    else
      return cli_usage(cmd, "--recompute must be none, selective or full, "
                            "got '%s'", arg);
    return 0;
  case OPT_LAYERS_PER_STAGE: mo->other_given = 1;
    mo->layers_per_stage = arg;
    return 0;
  case OPT_MFU: mo->other_given = 1;
    return cli_double(cmd, "--mfu", arg, 1e-3, 1, &mo->cfg.mfu);
  case OPT_CP: mo->other_given = 1;
    return cli_int(cmd, "--cp", arg, 1, 1024, &mo->cfg.cp);
  case OPT_GPUS_PER_NODE: mo->other_given = 1;
    return cli_int(cmd, "--gpus-per-node", arg, 1, 1 << 16,
                   &mo->cfg.gpus_per_node);
  case OPT_PRECISION: mo->other_given = 1;
    if ((mo->cfg.precision = pl_precision_parse(arg)) < 0)
      return cli_usage(cmd, "--precision must be bf16, fp16, fp8 or fp4, got "
                            "'%s'", arg);
    return 0;
  case OPT_GRAD_REDUCE_DTYPE: mo->other_given = 1;
    if (!strcmp(arg, "fp32"))
      mo->cfg.grad_reduce_bytes = 4;
    else if (!strcmp(arg, "bf16") || !strcmp(arg, "fp16"))
      mo->cfg.grad_reduce_bytes = 2;
    else
      return cli_usage(cmd, "--grad-reduce-dtype must be fp32, bf16 or fp16, "
                            "got '%s'", arg);
    return 0;
  default: return -1;
  }
}

int cli_db_open(const char *path, unsigned flags, pl_db **db)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  /* 0: $PIPELAB_DB_TIMEOUT_MS (checked by the library), else the
   * default. */
  int rc = pl_db_open(path, flags, 0, db, &eb);
  /* A missing database is a missing input file: a data error. */
  return rc ? cli_fail_eb(&eb, rc == PL_ENOTFOUND ? PL_EIO : rc) : 0;
}

int cli_db_open_read(const char *path, pl_db **db)
{
  /* A --db that names no file is a typo, not a request for a new database;
   * the default location is created on first use. */
  return cli_db_open(path, PL_DB_READ_ONLY |
                     (path && path[0] ? PL_DB_NO_CREATE : 0), db);
}

int modelopts_resolve(struct model_opts *mo, const char *cmd)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc;
  if (!mo->model) {
    if (mo->gpu || mo->other_given)
      return cli_usage(cmd, "--gpu and the model knobs (--mb-size, --seq, "
                            "--tp, ...) need --model <name>");
    return 0;
  }
  if (!mo->gpu)
    return cli_usage(cmd, "--model needs --gpu <name> (a100, h100, h200, "
                          "b200, mi300x)");
  if ((rc = cli_db_open_read(mo->db_path, &mo->db)))
    return rc;
  if ((rc = pl_db_get_model(mo->db, mo->model, &mo->m, &eb)) ||
      (rc = pl_db_get_gpu(mo->db, mo->gpu, &mo->g, &eb))) {
    if (rc == PL_ENOTFOUND)
      return cli_usage(cmd, "%s", eb.msg);
    return cli_fail_eb(&eb, rc);
  }
  if (mo->g.is_cpu)
    return cli_usage(cmd, "--gpu %s is the CPU backend's calibration device, "
                          "which the model's analytic costs cannot price; "
                          "pick a GPU (a100, h100, h200, b200, mi300x)",
                     mo->g.name);
  return 0;
}

/* Parses --layers-per-stage for n virtual stages (PL_EINVAL + message). */
static int parse_lps(struct model_opts *mo, int n, struct pl_errbuf *eb)
{
  pl_free(mo->lps);
  mo->lps = NULL;
  mo->n_lps = 0;
  if (!mo->layers_per_stage)
    return 0;
  mo->lps = pl_calloc((size_t)n, sizeof *mo->lps);
  if (!mo->lps)
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  const char *p = mo->layers_per_stage;
  int k = 0;
  while (*p) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0 || v > 100000 || (*end && *end != ','))
      return pl_errf(eb, PL_EINVAL, "--layers-per-stage must be non-negative "
                                    "integers separated by commas, got '%s'",
                     mo->layers_per_stage);
    if (k >= n)
      return pl_errf(eb, PL_EINVAL, "--layers-per-stage lists more than the "
                                    "%d virtual stages", n);
    mo->lps[k++] = (int)v;
    p = *end ? end + 1 : end;
  }
  if (k == 1)
    for (int i = 1; i < n; i++)
      mo->lps[i] = mo->lps[0];
  else if (k != n)
    return pl_errf(eb, PL_EINVAL, "--layers-per-stage lists %d stages, the "
                                  "schedule has %d virtual stages", k, n);
  mo->n_lps = n;
  return 0;
}

int modelopts_build_eb(struct model_opts *mo, const pl_sched *s, pl_costs **c,
                       pl_model_plan *plan, struct pl_errbuf *eb)
{
  int rc;
  *c = NULL;
  *plan = (pl_model_plan)PL_MODEL_PLAN_INIT;
  if ((rc = parse_lps(mo, pl_sched_stages(s), eb)))
    return rc;
  mo->cfg.layers_per_stage = mo->lps;
  pl_cost_request rq = PL_COST_REQUEST_INIT;
  rq.kind = PL_COSTS_MODEL;
  rq.model = &mo->m;
  rq.gpu = &mo->g;
  rq.cfg = &mo->cfg;
  rq.db = mo->db;
  return pl_cost_provide(&rq, s, c, plan, eb);
}

static int build(struct model_opts *mo, const char *cmd, const pl_sched *s,
                 pl_costs **c, pl_model_plan *plan)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = modelopts_build_eb(mo, s, c, plan, &eb);
  if (rc == PL_EINVAL)
    return cli_usage(cmd, "%s", eb.msg);
  return rc ? cli_fail_eb(&eb, rc) : 0;
}

int modelopts_apply(struct model_opts *mo, struct sim_opts *o,
                    const char *cmd, const char *schedule, int user_costs)
{
  if (!mo->model)
    return 0;
  if (user_costs)
    return cli_usage(cmd, "--tf/--tb/--tw/--comm/--bandwidth/--msg-bytes/"
                          "--mem-w-frac cannot be combined with --model (the "
                          "model gives the costs)");
  if (o->have_optimizer_time)
    return cli_usage(cmd, "--optimizer-time cannot be combined with --model "
                          "(the model prices each rank's optimizer step, DP "
                          "reduce and tied-embedding reduce)");
  o->rq.costs.time_unit = "us";
  if (o->schedule_file || !o->have_p || !o->have_m) {
    o->mem_limit_bytes = 0;
    return 0;
  }
  /* A schedule without ops with the generator's shape: enough for the cost
   * builder, which needs only the stage map. */
  const pl_gen_info *gi = pl_gen_find(schedule ? schedule : "1f1b");
  int v = o->have_v ? o->rq.v : (gi && gi->default_chunks > 0 ? gi->default_chunks : 1);
  int place = pl_gen_placement(schedule ? schedule : "1f1b", v);
  pl_sched *dummy = NULL;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl_sched_create(o->rq.p, o->rq.p * v, o->rq.m, place, &dummy, &eb))
    return cli_usage(cmd, "%s", eb.msg[0] ? eb.msg : "invalid shape");
  pl_costs *c = NULL;
  pl_model_plan plan;
  int rc = build(mo, cmd, dummy, &c, &plan);
  if (rc) {
    pl_sched_destroy(dummy);
    return rc;
  }
  /* Per-rank means (the generators' unit: a microbatch through one rank's
   * layers), and the largest per-rank activation for the memory unit. */
  double tf = 0, tb = 0, tw = 0, mb = 0, mw = 0, maxmb = 0, maxstatic = 0;
  for (int r = 0; r < o->rq.p; r++) {
    double rmb = 0;
    for (int g = 0; g < c->n_stages; g++) {
      if (pl_sched_stage_rank(dummy, g) != r)
        continue;
      rmb += c->stage[g].mem_b;
    }
    if (rmb > maxmb)
      maxmb = rmb;
    if (plan.rank[r].static_bytes > maxstatic)
      maxstatic = plan.rank[r].static_bytes;
  }
  for (int g = 0; g < c->n_stages; g++) {
    tf += c->stage[g].t[PL_OP_F];
    tb += c->stage[g].t[PL_OP_B];
    tw += c->stage[g].t[PL_OP_W];
    mb += c->stage[g].mem_b;
    mw += c->stage[g].mem_w;
  }
  o->rq.costs.tf = tf / o->rq.p;
  o->rq.costs.tb = tb / o->rq.p;
  o->rq.costs.tw = tw / o->rq.p;
  o->rq.costs.comm = pl_costs_comm(c, 0);
  o->rq.costs.mem_w_frac = mb > 0 ? mw / mb : 0.5;
  if (o->mem_limit_bytes) {
    double lim = o->rq.mem_limit;
    if (lim <= maxstatic) {
      rc = cli_usage(cmd, "--mem-limit %s leaves nothing for activations: "
                          "weights, gradients and optimizer state need %s "
                          "per rank", cli_size(lim), cli_size(maxstatic));
    } else {
      o->rq.mem_limit = maxmb > 0 ? (lim - maxstatic) / maxmb : 0;
      o->mem_limit_bytes = 0;
    }
  }
  pl_costs_destroy(c);
  pl_model_plan_free(&plan);
  pl_sched_destroy(dummy);
  return rc;
}

int modelopts_costs(struct model_opts *mo, const char *cmd, const pl_sched *s,
                    pl_costs **c, pl_model_plan *plan, struct sim_opts *o)
{
  pl_costs *nc = NULL;
  int rc = build(mo, cmd, s, &nc, plan);
  if (rc)
    return rc;
  if (*c && (*c)->n_ranks == nc->n_ranks)
    memcpy(nc->rank_speed, (*c)->rank_speed,
           (size_t)nc->n_ranks * sizeof *nc->rank_speed);
  if (*c) {
    nc->p2p_mode = (*c)->p2p_mode;
    nc->op_gap = (*c)->op_gap;
    nc->send_overhead = (*c)->send_overhead;
    nc->recv_overhead = (*c)->recv_overhead;
    nc->local_overhead = (*c)->local_overhead;
  }
  pl_costs_destroy(*c);
  *c = nc;
  mo->sched = s;
  mo->costs = nc;
  if (o) {
    double tf = 0, tb = 0, tw = 0, mb = 0, mw = 0;
    for (int g = 0; g < nc->n_stages; g++) {
      tf += nc->stage[g].t[PL_OP_F];
      tb += nc->stage[g].t[PL_OP_B];
      tw += nc->stage[g].t[PL_OP_W];
      mb += nc->stage[g].mem_b;
      mw += nc->stage[g].mem_w;
    }
    o->rq.costs.tf = tf / nc->n_ranks;
    o->rq.costs.tb = tb / nc->n_ranks;
    o->rq.costs.tw = tw / nc->n_ranks;
    o->rq.costs.comm = pl_costs_comm(nc, 0);
    o->rq.costs.mem_w_frac = mb > 0 ? mw / mb : 0;
  }
  return 0;
}

double modelopts_peak_bytes(const pl_model_plan *plan, const pl_result *r,
                            int rank)
{
  return plan->rank[rank].static_bytes + r->ranks[rank].peak_mem;
}

const char *modelopts_source_summary(const int *src)
{
  int first = src[PL_OP_F];
  for (int k = PL_OP_B; k <= PL_OP_BW; k++)
    if (src[k] != first)
      return "mixed";
  return pl_cost_source_name(first);
}

static json_t *jnum(double x)
{
  if (!isfinite(x))
    return json_null();
  if (x == floor(x) && fabs(x) < 9e15)
    return json_integer((json_int_t)x);
  return json_real(x);
}

int modelopts_breakdown(const pl_model_plan *plan, const pl_sched *s,
                        const pl_costs *c, const pl_result *r,
                        double iteration_us, pl_breakdown *bd)
{
  pl_costs *c0 = NULL;
  pl_result r0 = PL_RESULT_INIT;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  int rc = pl_costs_clone(c, 1, &c0);
  if (rc)
    return rc;
  rc = pl_sim_run(s, c0, 0, &r0, &eb);
  if (!rc)
    rc = pl_model_breakdown(plan, s, r, &r0, bd);
  pl_result_free(&r0);
  pl_costs_destroy(c0);
  if (rc)
    return rc;
  /* --optimizer post-validate: the iteration is the longest rank span, not
   * the makespan; the difference is pipeline idle time. */
  double delta = iteration_us - r->makespan;
  if (delta < 0 && bd->iteration_us + delta > 0) {
    double old = bd->iteration_us;
    bd->iteration_us += delta;
    bd->bubble_us += delta;
    if (bd->bubble_us < 0) {
      bd->pp_us += bd->bubble_us;
      bd->bubble_us = 0;
      if (bd->pp_us < 0)
        bd->pp_us = 0;
    }
    double k = old / bd->iteration_us;
    bd->mfu *= k;
    bd->hfu *= k;
    bd->tokens_per_s_gpu *= k;
  }
  return PL_OK;
}

/* The breakdown for json/print: the caller's, else one computed from the
 * schedule and costs modelopts_costs kept. 0 when neither is available. */
static int current_bd(const struct model_opts *mo, const pl_model_plan *plan,
                      const pl_result *r, double iteration_us,
                      pl_breakdown *bd)
{
  if (mo->bd) {
    *bd = *mo->bd;
    return 1;
  }
  if (mo->sched && mo->costs &&
      modelopts_breakdown(plan, mo->sched, mo->costs, r, iteration_us, bd) ==
          PL_OK)
    return 1;
  return 0;
}

static json_t *breakdown_json(const pl_breakdown *bd)
{
  json_t *b = json_object();
  json_object_set_new(b, "iteration_s", json_real(bd->iteration_us / 1e6));
  json_object_set_new(b, "critical_rank", json_integer(bd->rank));
  json_object_set_new(b, "compute_s", json_real(bd->compute_us / 1e6));
  json_object_set_new(b, "gemm_s", json_real(bd->gemm_us / 1e6));
  json_object_set_new(b, "attention_s", json_real(bd->attn_us / 1e6));
  json_object_set_new(b, "memory_bound_s", json_real(bd->mem_us / 1e6));
  json_object_set_new(b, "tp_comm_s", json_real(bd->tp_us / 1e6));
  json_object_set_new(b, "cp_comm_s", json_real(bd->cp_us / 1e6));
  json_object_set_new(b, "pp_p2p_s", json_real(bd->pp_us / 1e6));
  json_object_set_new(b, "dp_comm_s", json_real(bd->dp_us / 1e6));
  json_object_set_new(b, "optimizer_s", json_real(bd->optimizer_us / 1e6));
  json_object_set_new(b, "bubble_s", json_real(bd->bubble_us / 1e6));
  return b;
}

void modelopts_json(const struct model_opts *mo, const pl_model_plan *plan,
                    const pl_result *r, double iteration_us, json_t *j)
{
  double it_s, tok_s, mfu;
  pl_breakdown bd;
  int have_bd = current_bd(mo, plan, r, iteration_us, &bd);
  if (have_bd)
    iteration_us = bd.iteration_us;
  pl_model_throughput(plan, iteration_us, &it_s, &tok_s, &mfu);
  json_object_set_new(j, "iteration_seconds", json_real(it_s));
  json_object_set_new(j, "tokens_per_second", json_real(tok_s));
  json_object_set_new(j, "mfu", json_real(mfu));
  json_t *src = json_object();
  for (int k = PL_OP_F; k <= PL_OP_BW; k++)
    json_object_set_new(src, pl_op_kind_name(k),
                        json_string(pl_cost_source_name(plan->source[k])));
  json_object_set_new(j, "cost_sources", src);
  if (have_bd) {
    json_object_set_new(j, "hfu", json_real(bd.hfu));
    json_object_set_new(j, "tokens_per_second_per_gpu",
                        json_real(bd.tokens_per_s_gpu));
    json_object_set_new(j, "breakdown", breakdown_json(&bd));
  }
  json_t *m = json_object();
  json_object_set_new(m, "name", json_string(mo->m.name));
  json_object_set_new(m, "gpu", json_string(mo->g.name));
  json_object_set_new(m, "params", jnum(plan->params_total));
  json_object_set_new(m, "mb_size", json_integer(mo->cfg.mb_size));
  json_object_set_new(m, "seq_len", json_integer(mo->cfg.seq_len > 0
                                                     ? mo->cfg.seq_len
                                                     : mo->m.seq_len));
  json_object_set_new(m, "tp", json_integer(mo->cfg.tp));
  json_object_set_new(m, "dp", json_integer(mo->cfg.dp));
  json_object_set_new(m, "cp", json_integer(plan->layout.cp > 0
                                                ? plan->layout.cp : 1));
  json_object_set_new(m, "pp", json_integer(plan->n_ranks));
  json_object_set_new(m, "gpus_per_node", json_integer(plan->layout.domain));
  json_object_set_new(m, "precision",
                      json_string(pl_precision_name(plan->precision)));
  json_object_set_new(m, "cost_model", json_string(plan->flat ? "flat"
                                                               : "kernel"));
  json_object_set_new(m, "gpus", jnum(plan->n_gpus));
  json_object_set_new(m, "recompute",
                      json_string(pl_recompute_name(mo->cfg.recompute)));
  json_object_set_new(m, "flash_attn", json_boolean(mo->cfg.flash_attn));
  json_object_set_new(m, "sequence_parallel",
                      json_boolean(mo->cfg.seq_parallel && mo->cfg.tp > 1));
  json_object_set_new(m, "distributed_optimizer",
                      json_boolean(mo->cfg.distributed_optimizer));
  json_object_set_new(m, "op_efficiency", json_real(plan->mfu_op));
  json_object_set_new(m, "p2p_link", json_string(plan->link_scaleup
                                                     ? "scale-up"
                                                     : "scale-out"));
  json_object_set_new(m, "tokens_per_iteration", jnum(plan->tokens_per_iter));
  json_object_set_new(m, "model_flops_per_iteration",
                      jnum(plan->model_flops_iter));
  json_t *lps = json_array();
  for (int i = 0; i < plan->n_stages; i++)
    json_array_append_new(lps, json_integer(plan->layers[i]));
  json_object_set_new(m, "layers_per_stage", lps);
  json_object_set_new(j, "model", m);
  json_t *ranks = json_object_get(j, "ranks");
  int all_fit = 1;
  for (int i = 0; i < plan->n_ranks; i++) {
    json_t *x = json_array_get(ranks, (size_t)i);
    if (!x)
      continue;
    const pl_rank_plan *rp = &plan->rank[i];
    double peak = modelopts_peak_bytes(plan, r, i);
    int fits = peak <= plan->hbm_bytes;
    all_fit &= fits;
    json_object_set_new(x, "params", jnum(round(rp->params)));
    json_object_set_new(x, "weight_bytes", jnum(round(rp->weight_bytes)));
    json_object_set_new(x, "grad_bytes", jnum(round(rp->grad_bytes)));
    json_object_set_new(x, "optimizer_bytes", jnum(round(rp->optim_bytes)));
    json_object_set_new(x, "activation_peak_bytes",
                        jnum(round(r->ranks[i].peak_mem)));
    json_object_set_new(x, "peak_bytes", jnum(round(peak)));
    json_object_set_new(x, "hbm_bytes", jnum(plan->hbm_bytes));
    json_object_set_new(x, "fits", json_boolean(fits));
  }
  json_object_set_new(j, "fits", json_boolean(all_fit));
}

int modelopts_warn_fit(const struct model_opts *mo, const pl_model_plan *plan,
                       const pl_result *r)
{
  int bad = 0;
  for (int i = 0; i < plan->n_ranks; i++) {
    const pl_rank_plan *rp = &plan->rank[i];
    double peak = modelopts_peak_bytes(plan, r, i);
    if (peak <= plan->hbm_bytes)
      continue;
    bad++;
    cli_warn("rank %d does not fit: needs %s (weights %s, gradients %s, "
             "optimizer %s, activations %s) but a %s has %s of HBM", i,
             cli_size(peak), cli_size(rp->weight_bytes),
             cli_size(rp->grad_bytes), cli_size(rp->optim_bytes),
             cli_size(r->ranks[i].peak_mem), mo->g.name,
             cli_size(plan->hbm_bytes));
  }
  return bad;
}

static const char *pct(double part, double whole, char *buf, size_t len)
{
  snprintf(buf, len, "%.1f%%", whole > 0 ? 100 * part / whole : 0);
  return buf;
}

/* Two lines: where the iteration's time goes on the critical rank. */
static void print_breakdown(const pl_breakdown *bd)
{
  char a[16], b[16], c[16], d[16], e[16], f[16], g[16], h[16], i2[16];
  double it = bd->iteration_us;
  printf("time     compute %s (GEMM %s, attention %s, memory-bound %s), TP/CP "
         "comm %s,\n         PP transfers %s, bubble %s, DP comm %s, "
         "optimizer %s  (rank %d)\n",
         pct(bd->compute_us, it, a, sizeof a), pct(bd->gemm_us, it, b, sizeof b),
         pct(bd->attn_us, it, c, sizeof c), pct(bd->mem_us, it, d, sizeof d),
         pct(bd->tp_us + bd->cp_us, it, e, sizeof e),
         pct(bd->pp_us, it, f, sizeof f), pct(bd->bubble_us, it, g, sizeof g),
         pct(bd->dp_us, it, h, sizeof h),
         pct(bd->optimizer_us, it, i2, sizeof i2), bd->rank);
}

int modelopts_print(const struct model_opts *mo, const pl_model_plan *plan,
                    const pl_result *r, double iteration_us)
{
  double it_s, tok_s, mfu;
  pl_breakdown bd;
  int have_bd = current_bd(mo, plan, r, iteration_us, &bd);
  if (have_bd)
    iteration_us = bd.iteration_us;
  pl_model_throughput(plan, iteration_us, &it_s, &tok_s, &mfu);
  int sq = mo->cfg.seq_len > 0 ? mo->cfg.seq_len : mo->m.seq_len;
  printf("\nmodel    %s (%.2fB params) on %s x%s: p=%d tp=%d cp=%d dp=%d, "
         "b=%d, s=%d, %s, recompute %s%s%s%s\n",
         mo->m.name, plan->params_total / 1e9, mo->g.name,
         cli_num(plan->n_gpus), plan->n_ranks, mo->cfg.tp,
         mo->cfg.cp > 1 ? mo->cfg.cp : 1, mo->cfg.dp, mo->cfg.mb_size, sq,
         pl_precision_name(plan->precision),
         pl_recompute_name(mo->cfg.recompute),
         mo->cfg.flash_attn ? ", flash attention" : "",
         mo->cfg.tp > 1 && mo->cfg.seq_parallel ? ", sequence parallel" : "",
         mo->cfg.distributed_optimizer ? ", distributed optimizer" : "");
  printf("layers   ");
  for (int i = 0; i < plan->n_stages; i++)
    printf("%s%d", i ? "," : "", plan->layers[i]);
  printf(" per virtual stage (LM head on the last, embedding on the first)\n");
  if (plan->flat)
    printf("sources  F %s, B %s, W %s, BW %s; flat model: every op at %.0f%% "
           "of %s TFLOP/s, no communication; P2P over %s\n",
           pl_cost_source_name(plan->source[PL_OP_F]),
           pl_cost_source_name(plan->source[PL_OP_B]),
           pl_cost_source_name(plan->source[PL_OP_W]),
           pl_cost_source_name(plan->source[PL_OP_BW]), 100 * plan->mfu_op,
           cli_num(plan->peak_flops / 1e12),
           plan->link_scaleup ? "the scale-up link" : "the scale-out NIC");
  else
    printf("sources  F %s, B %s, W %s, BW %s; kernel model (GEMM roofline, "
           "attention, memory-bound kernels, collectives); %d GPUs per "
           "scale-up domain; P2P over %s\n",
           pl_cost_source_name(plan->source[PL_OP_F]),
           pl_cost_source_name(plan->source[PL_OP_B]),
           pl_cost_source_name(plan->source[PL_OP_W]),
           pl_cost_source_name(plan->source[PL_OP_BW]), plan->layout.domain,
           plan->link_scaleup ? "the scale-up link" : "the scale-out NIC");
  if (have_bd)
    printf("iteration %s   tokens/s %s (%s per GPU)   MFU %.1f%%   HFU "
           "%.1f%%\n",
           cli_dur(it_s, "s"), cli_num(tok_s), cli_num(bd.tokens_per_s_gpu),
           100 * mfu, 100 * bd.hfu);
  else
    printf("iteration %s   tokens/s %s   MFU %.1f%%\n", cli_dur(it_s, "s"),
           cli_num(tok_s), 100 * mfu);
  if (have_bd)
    print_breakdown(&bd);
  printf("\n");
  modelopts_print_ranks(plan, r, 1);
  return modelopts_warn_fit(mo, plan, r);
}

void modelopts_print_ranks(const pl_model_plan *plan, const pl_result *r,
                           int fit)
{
  printf("%4s %7s %10s %10s %10s %12s %11s", "rank", "layers", "weights",
         "grads", "optimizer", "activations", "total");
  if (fit)
    printf(" %10s %5s", "HBM", "fits");
  printf("\n");
  for (int i = 0; i < plan->n_ranks; i++) {
    const pl_rank_plan *rp = &plan->rank[i];
    double peak = modelopts_peak_bytes(plan, r, i);
    printf("%4d %7d %10s %10s %10s %12s %11s", i, rp->layers,
           cli_size(rp->weight_bytes), cli_size(rp->grad_bytes),
           cli_size(rp->optim_bytes), cli_size(r->ranks[i].peak_mem),
           cli_size(peak));
    if (fit)
      printf(" %10s %5s", cli_size(plan->hbm_bytes),
             peak <= plan->hbm_bytes ? "yes" : "NO");
    printf("\n");
  }
}

void modelopts_close(struct model_opts *mo)
{
  pl_db_close(mo->db);
  mo->db = NULL;
  pl_free(mo->lps);
  mo->lps = NULL;
}
