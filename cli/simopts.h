/* simopts.h: the schedule and cost options that simulate, whatif, validate
 * and (later) run and sweep share, so every command spells them the same. */
#ifndef PL_CLI_SIMOPTS_H
#define PL_CLI_SIMOPTS_H
#include <jansson.h>

#include "cli.h"
#include "pipelab/models.h"

enum {
  OPT_SCHEDULE = 1000, OPT_SCHEDULE_FILE, OPT_STAGES, OPT_MICROBATCHES,
  OPT_CHUNKS, OPT_TF, OPT_TB, OPT_TW, OPT_COMM, OPT_MEM_W_FRAC, OPT_FORMAT,
  OPT_TRACE, OPT_DIALECT, OPT_GROUP, OPT_MEM_LIMIT, OPT_OPTIMIZER,
  OPT_RANK_SPEED, OPT_TIME_UNIT, OPT_SAVE, OPT_BANDWIDTH, OPT_MSG_BYTES,
  OPT_OPT_TIME, OPT_P2P, OPT_OP_GAP, OPT_FB_OVERLAP, OPT_A2A, OPT_WAVES,
  OPT_REPLICA_AR, OPT_STAGE_COSTS, OPT_SEND_OVH, OPT_RECV_OVH, OPT_LOCAL_HANDOFF,
  OPT_SIMOPTS_END
};

/* getopt_long rows for the shared options (no terminator). */
#define SIMOPTS_LONG                                                        \
  {"schedule", required_argument, NULL, OPT_SCHEDULE},                      \
  {"schedule-file", required_argument, NULL, OPT_SCHEDULE_FILE},            \
  {"stages", required_argument, NULL, OPT_STAGES},                          \
  {"microbatches", required_argument, NULL, OPT_MICROBATCHES},              \
  {"chunks", required_argument, NULL, OPT_CHUNKS},                          \
  {"tf", required_argument, NULL, OPT_TF},                                  \
  {"tb", required_argument, NULL, OPT_TB},                                  \
  {"tw", required_argument, NULL, OPT_TW},                                  \
  {"comm", required_argument, NULL, OPT_COMM},                              \
  {"bandwidth", required_argument, NULL, OPT_BANDWIDTH},                    \
  {"msg-bytes", required_argument, NULL, OPT_MSG_BYTES},                    \
  {"mem-w-frac", required_argument, NULL, OPT_MEM_W_FRAC},                  \
  {"mem-limit", required_argument, NULL, OPT_MEM_LIMIT},                    \
  {"dialect", required_argument, NULL, OPT_DIALECT},                        \
  {"group", required_argument, NULL, OPT_GROUP},                            \
  {"optimizer", required_argument, NULL, OPT_OPTIMIZER},                    \
  {"optimizer-time", required_argument, NULL, OPT_OPT_TIME},                \
  {"p2p", required_argument, NULL, OPT_P2P},                                \
  {"op-gap", required_argument, NULL, OPT_OP_GAP},                          \
  {"fb-overlap", required_argument, NULL, OPT_FB_OVERLAP},                  \
  {"a2a", required_argument, NULL, OPT_A2A},                                \
  {"waves", required_argument, NULL, OPT_WAVES},                            \
  {"replica-allreduce", required_argument, NULL, OPT_REPLICA_AR},           \
  {"stage-costs", required_argument, NULL, OPT_STAGE_COSTS},                \
  {"send-overhead", required_argument, NULL, OPT_SEND_OVH},                 \
  {"recv-overhead", required_argument, NULL, OPT_RECV_OVH},                 \
  {"local-handoff", required_argument, NULL, OPT_LOCAL_HANDOFF},            \
  {"rank-speed", required_argument, NULL, OPT_RANK_SPEED},                  \
  {"time-unit", required_argument, NULL, OPT_TIME_UNIT}

/* One bit per shared option (SIMOPT(OPT_TF)), for the set a command takes. */
#define SIMOPT(opt) (1ull << ((opt) - OPT_SCHEDULE))
#define SIMOPTS_SCHED                                                       \
  (SIMOPT(OPT_SCHEDULE) | SIMOPT(OPT_SCHEDULE_FILE) | SIMOPT(OPT_DIALECT))
#define SIMOPTS_SHAPE                                                       \
  (SIMOPT(OPT_STAGES) | SIMOPT(OPT_MICROBATCHES) | SIMOPT(OPT_CHUNKS) |       \
   SIMOPT(OPT_GROUP) | SIMOPT(OPT_WAVES))
/* The costs a searching generator (zb-auto, zb-1p, zb-2p, zb-v) reads. */
#define SIMOPTS_COSTS                                                       \
  (SIMOPT(OPT_TF) | SIMOPT(OPT_TB) | SIMOPT(OPT_TW) | SIMOPT(OPT_COMM) |      \
   SIMOPT(OPT_BANDWIDTH) | SIMOPT(OPT_MSG_BYTES) | SIMOPT(OPT_MEM_W_FRAC))
#define SIMOPTS_OPTIMIZER (SIMOPT(OPT_OPTIMIZER) | SIMOPT(OPT_OPT_TIME))
#define SIMOPTS_RUNTIME                                                     \
  (SIMOPT(OPT_P2P) | SIMOPT(OPT_OP_GAP) | SIMOPT(OPT_FB_OVERLAP) |            \
   SIMOPT(OPT_A2A) | SIMOPT(OPT_SEND_OVH) | SIMOPT(OPT_RECV_OVH) |            \
   SIMOPT(OPT_LOCAL_HANDOFF))
#define SIMOPTS_ALL (SIMOPT(OPT_SIMOPTS_END) - 1)

enum { OPTIM_SYNC = PL_OPTIM_SYNC, OPTIM_POST_VALIDATE = PL_OPTIM_POST_VALIDATE };

struct sim_opts {
  const char *schedule;      /* generator name */
  const char *schedule_file; /* PyTorch CSV */
  /* The library's simulate request (pl_sim_request, models.h): shape,
   * constant costs (rq.costs), --mem-limit, --stage-costs, runtime
   * (--p2p, --op-gap, --fb-overlap, --a2a, --replica-allreduce) and
   * optimizer; the options are parsed straight into it. rq.v is set only
   * with have_v. --rank-speed stays a spec string (below). */
  pl_sim_request rq;
  int dialect;
  int have_p, have_m, have_v;
  int mem_limit_bytes;       /* --mem-limit was given with a byte unit */
  int have_optimizer_time;
  int have_runtime;          /* --p2p or --op-gap given */
  const char *rank_speed;    /* "1,1,2,1" or "2:1.5,3:2" */
  int jitter_auto;           /* --jitter auto: the learned profile's scatter,
                                resolved by learn_cli_jitter */
  int engine_finds_deadlock; /* set by a command that runs pl_sim_run right
                                after simopts_build: validation skips its
                                own deadlock run (the engine reports it) */
  /* Which shared options the command takes (simopts_accept; all after
   * simopts_init). A flag outside `accept` is refused by simopts_handle
   * with one usage line; a flag in `search_only` is refused by
   * simopts_check_uses unless a schedule that searches with costs
   * (PL_GEN_USES_COSTS) is run. `seen` records the flags given. */
  unsigned long long accept, search_only, seen;
  const char *refuse_why; /* why the command refuses the others (or NULL) */
};

void simopts_init(struct sim_opts *o);
/* Restricts the shared options the command takes (see struct sim_opts);
 * why completes "--tf does not apply to 'pipelab run': <why>". */
void simopts_accept(struct sim_opts *o, unsigned long long accept,
                    unsigned long long search_only, const char *why);
/* The "--tf" spelling of a shared option. */
const char *simopts_name(int opt);
/* Handles one shared option; returns 0 if handled, -1 if opt is not a shared
 * option, or CLI_EXIT_USAGE after printing the usage line. */
int simopts_handle(struct sim_opts *o, const char *cmd, int opt,
                   const char *arg);
/* Checks combinations (schedule xor file, p and m given) after parsing,
 * and (simopts_check_uses) that every flag given applies to the schedule. */
int simopts_check(const struct sim_opts *o, const char *cmd, int need_schedule);
/* Refuses (one usage line, CLI_EXIT_USAGE) a given flag that none of the n
 * named generators reads: --mem-limit (PL_GEN_USES_MEM_LIMIT), --group
 * (PL_GEN_USES_GROUP), the `search_only` costs (PL_GEN_USES_COSTS), and
 * --dialect without --schedule-file. n = 0: a schedule CSV, which reads
 * none of them. simopts_check calls it for o->schedule / the CSV. */
int simopts_check_uses(const struct sim_opts *o, const char *cmd,
                       const char *const *names, int n);
/* Numbers that would make times non-finite or beyond PL_TIME_MAX before
 * anything runs: --msg-bytes without a bandwidth, a message slower than
 * PL_TIME_MAX. Called by simopts_check; usage line, CLI_EXIT_USAGE. */
int simopts_check_numbers(const struct sim_opts *o, const char *cmd);
/* After a simulation: refuses (usage line, CLI_EXIT_USAGE, nothing written)
 * times that are non-finite or beyond PL_TIME_MAX, what compare and plot
 * read back; with trace_scale > 0 (us per time unit) also times beyond
 * what a Chrome trace holds. c may be NULL. */
int simopts_check_times(const struct sim_opts *o, const char *cmd,
                        const pl_costs *c, const pl_result *r,
                        double trace_scale);
/* Builds the schedule (generated or loaded) and the uniform cost table.
 * Prints errors; returns an exit code (0 ok). name overrides o->schedule. */
int simopts_build(const struct sim_opts *o, const char *cmd, const char *name,
                  pl_sched **s, pl_costs **c);
/* Iteration time under the optimizer mode, with the --optimizer-time step
 * (pl_iteration_time). */
double simopts_iteration_time(const struct sim_opts *o, const pl_result *r);
/* --jitter <sigma|auto> (which 0), --trials <n> (1), --jitter-seed <n> (2)
 * into o->rq (auto: o->jitter_auto, resolved against the learned profile
 * by learn_cli_jitter); 0 or a usage error. */
int simopts_jitter(struct sim_opts *o, const char *cmd, int which,
                   const char *arg);
/* --trials without --jitter is a usage error. */
int simopts_jitter_check(const struct sim_opts *o, const char *cmd);
/* The help lines of the three flags. */
extern const char simopts_jitter_help[];
/* Sets the runtime options (--p2p, --op-gap) and the fused-op pricing
 * (--fb-overlap, --a2a: a2a/v per chunk op) on a cost table: call after
 * every step that replaces the table. */
void simopts_apply_runtime(const struct sim_opts *o, pl_costs *c);
/* Sets the runtime fields of a JSON answer (simulate's costs, whatif's and
 * sweep's top level): p2p, op_gap, send_overhead, recv_overhead and
 * local_handoff ("free" or "copied"). */
void simopts_json_runtime(json_t *o, int p2p, double op_gap, double so,
                          double ro, int local_overhead);
/* --stage-costs: fills c's per-stage times and bytes from the file (no-op
 * without the flag). 0, or an error code with the message in eb. */
int simopts_apply_stage_costs(const struct sim_opts *o, pl_costs *c,
                              struct pl_errbuf *eb);
const char *simopts_optimizer_name(int opt);

/* Prints the help of the shared options the command takes (o->accept). */
void simopts_print_help(const struct sim_opts *o);
#endif
