/* cmd_validate.c: `pipelab validate`: check a schedule (generated or from a
 * PyTorch CSV) for count/order errors and deadlocks. */
#include "simopts.h"

int cmd_validate(int argc, char **argv)
{
  static const struct option longopts[] = {
    SIMOPTS_LONG,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  const char *cmd = "validate";
  struct sim_opts o;
  int opt, rc;
  simopts_init(&o);
  /* Order and deadlocks, not time: the costs only steer the generators
   * that search with them; --p2p picks the rendezvous check. */
  simopts_accept(&o, SIMOPTS_SCHED | SIMOPTS_SHAPE | SIMOPT(OPT_MEM_LIMIT) |
                         SIMOPT(OPT_P2P),
                 SIMOPTS_COSTS, "it checks order and deadlocks, not time");
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    if (opt == 'h') {
      printf("usage: pipelab validate (--schedule <name> --stages <p> "
             "--microbatches <m> | --schedule-file <f.csv>)\n\n"
             "Checks op counts, per-(stage, microbatch) order and ownership, and "
             "that the\nschedule can finish. A deadlock names every blocked rank, "
             "the op it waits\nfor and what that op waits for. With --p2p "
             "blocking or batched it also checks\nthat such a runtime's "
             "transfers pair up without a deadlock. Exit 0 valid, 7\n"
             "invalid.\n\n");
      simopts_print_help(&o);
      printf("\nexamples:\n"
             "  pipelab validate --schedule zb-h1 --stages 4 --microbatches 8\n"
             "  pipelab validate --schedule-file examples/zb-h1-4x8.csv\n"
             "  pipelab validate --schedule zb-h1 --stages 4 --microbatches 8 "
             "--p2p blocking   # exit 7\n");
      return 0;
    }
    if (opt == '?' || opt == ':')
      return cli_bad_option(cmd, argv);
    rc = simopts_handle(&o, cmd, opt, optarg);
    if (rc)
      return rc < 0 ? cli_bad_option(cmd, argv) : rc;
  }
  if ((rc = cli_no_positionals(cmd, argc, argv)) ||
      (rc = simopts_check(&o, cmd, 1)))
    return rc;
  pl_sched *s;
  pl_costs *c;
  if ((rc = simopts_build(&o, cmd, NULL, &s, &c)))
    return rc; /* simopts_build validates and prints the error */
  if (o.rq.p2p != PL_P2P_ASYNC) {
    /* A blocking or batched runtime can deadlock on an order that finishes
     * with asynchronous transfers (a send waits for a receive that the peer
     * posts only after something it needs from this rank). */
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_result res = PL_RESULT_INIT;
    rc = pl_sim_run(s, c, 0, &res, &eb);
    pl_result_free(&res);
    if (rc) {
      rc = cli_fail_eb(&eb, rc);
      pl_sched_destroy(s);
      pl_costs_destroy(c);
      return rc;
    }
  }
  printf("valid: %d ranks, %d stages (%s placement), %d microbatches, %zu ops"
         "%s%s\n",
         pl_sched_ranks(s), pl_sched_stages(s),
         pl_placement_name(pl_sched_placement(s)), pl_sched_microbatches(s),
         pl_sched_total_ops(s), o.rq.p2p != PL_P2P_ASYNC ? "; finishes with " : "",
         o.rq.p2p == PL_P2P_BLOCKING  ? "blocking P2P"
         : o.rq.p2p == PL_P2P_BATCHED ? "batched P2P"
                                   : "");
  pl_sched_destroy(s);
  pl_costs_destroy(c);
  return 0;
}
