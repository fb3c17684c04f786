/*
 * request.c: the simulate request (pl_sim_request, include/pipelab/models.h):
 * the one mapping from the options of `pipelab simulate` / `whatif` and of
 * pl_api_call to generator parameters and a constant cost table, so the
 * command and the bindings cannot drift apart. The constants go through the
 * cost provider (pl_cost_provide) like every other table.
 */
#include <stdio.h>

#include <string.h>

#include "pipelab/models.h"

pl_gen_params pl_sim_request_gen_params(const pl_sim_request *rq)
{
  const pl_cost_request *k = &rq->costs;
  double xfer = k->bandwidth > 0 ? k->msg_bytes / k->bandwidth : 0;
  int per_rank = rq->mem_limits && rq->n_mem_limits == rq->p;
  return (pl_gen_params){.p = rq->p, .m = rq->m, .v = rq->v,
                         .tf = k->tf, .tb = k->tb, .tw = k->tw,
                         .comm = k->comm + xfer, .mem_w_frac = k->mem_w_frac,
                         .mem_limit = rq->mem_limit, .group = rq->group,
                         .mem_limits = per_rank ? rq->mem_limits : NULL};
}

int pl_sim_request_costs(const pl_sim_request *rq, const pl_sched *s,
                         pl_costs **costs, struct pl_errbuf *eb)
{
  pl_cost_request cr = rq->costs;
  pl_costs *c = NULL;
  *costs = NULL;
  cr.kind = PL_COSTS_CONSTANT;
  cr.rank_speed = NULL; /* the request's own list (n_rank_speed) below */
  int rc = pl_cost_provide(&cr, s, &c, NULL, eb);
  if (rc)
    return rc;
  if (rq->n_rank_speed > c->n_ranks) {
    rc = pl_errf(eb, PL_EINVAL, "'rank_speed' lists %d ranks, the "
                 "schedule has %d", rq->n_rank_speed, c->n_ranks);
    goto fail;
  }
  if ((rc = pl_sim_request_apply_stage_costs(rq, c, eb)))
    goto fail;
  pl_sim_request_apply_runtime(rq, c);
  for (int r = 0; rq->rank_speed && r < rq->n_rank_speed; r++)
    c->rank_speed[r] = rq->rank_speed[r];
  *costs = c;
  return 0;
fail:
  pl_costs_destroy(c);
  return rc;
}

int pl_sim_request_check_sched(const pl_sim_request *rq, const pl_sched *s,
                               struct pl_errbuf *eb)
{
  if (rq->have_replica_ar && !pl_sched_replicated(s))
    return pl_errf(eb, PL_EINVAL, "--replica-allreduce applies to schedules "
                   "with stage copies (chimera, dualpipe), not '%s'",
                   pl_sched_name(s));
  return 0;
}

void pl_sim_request_apply_runtime(const pl_sim_request *rq, pl_costs *c)
{
  pl_costs_set_runtime(c, rq->p2p, rq->op_gap, rq->send_overhead,
                       rq->recv_overhead, rq->local_overhead);
  c->fb_overlap = rq->fb_overlap;
  for (int g = 0; g < c->n_stages; g++) {
    c->stage[g].a2a = rq->a2a * c->n_ranks / c->n_stages;
    if (rq->have_replica_ar)
      c->stage[g].allreduce = rq->replica_ar;
  }
}

int pl_sim_request_apply_stage_costs(const pl_sim_request *rq, pl_costs *c,
                                     struct pl_errbuf *eb)
{
  if (!rq->stage_costs)
    return 0;
  char *text = NULL;
  size_t len = 0;
  int rc = pl_read_file(rq->stage_costs, &text, &len, eb);
  if (rc)
    return rc;
  rc = pl_costs_read_stage_csv(c, text, len, eb);
  pl_free(text);
  if (rc) {
    char msg[PL_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", eb->msg);
    pl_errf(eb, rc, "'%s': %s", rq->stage_costs, msg);
  }
  return rc;
}

int pl_sim_request_run(const pl_sim_request *rq, const pl_sched *s,
                       pl_costs *c, unsigned flags, pl_result *res,
                       pl_trials *tr, struct pl_errbuf *eb)
{
  pl_trials local;
  if (!tr)
    tr = &local;
  memset(tr, 0, sizeof *tr);
  if (!rq->have_jitter)
    return pl_sim_run(s, c, flags, res, eb);
  c->jitter = rq->jitter;
  c->jitter_seed = rq->jitter_seed;
  c->n_jitter_q = 0;
  if (rq->jitter_q && rq->n_jitter_q >= 2 && rq->n_jitter_q <= PL_JITTER_Q) {
    memcpy(c->jitter_q, rq->jitter_q, (size_t)rq->n_jitter_q * sizeof *c->jitter_q);
    c->n_jitter_q = rq->n_jitter_q;
  }
  return pl_sim_trials(s, c, rq->trials > 0 ? rq->trials
                                            : PL_SIM_REQUEST_TRIALS,
                       flags, rq->optimizer, rq->optimizer_time, res, tr, eb);
}

double pl_sim_request_iteration_time(const pl_sim_request *rq,
                                     const pl_result *r)
{
  return pl_iteration_time(r, rq->optimizer, rq->optimizer_time);
}
