/* simopts.h: the schedule and cost options that simulate, whatif, validate
 * and (later) run and sweep share, so every command spells them the same. */
#ifndef PL_CLI_SIMOPTS_H
#define PL_CLI_SIMOPTS_H
#include "cli.h"

enum {
  OPT_SCHEDULE = 1000, OPT_SCHEDULE_FILE, OPT_STAGES, OPT_MICROBATCHES,
  OPT_CHUNKS, OPT_TF, OPT_TB, OPT_TW, OPT_COMM, OPT_MEM_W_FRAC, OPT_FORMAT,
  OPT_TRACE, OPT_DIALECT, OPT_GROUP, OPT_MEM_LIMIT, OPT_OPTIMIZER,
  OPT_RANK_SPEED, OPT_TIME_UNIT, OPT_SAVE, OPT_BANDWIDTH, OPT_MSG_BYTES,
  OPT_OPT_TIME, OPT_P2P, OPT_OP_GAP, OPT_FB_OVERLAP, OPT_A2A, OPT_SIMOPTS_END
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
  {"rank-speed", required_argument, NULL, OPT_RANK_SPEED},                  \
  {"time-unit", required_argument, NULL, OPT_TIME_UNIT}

enum { OPTIM_SYNC = PL_OPTIM_SYNC, OPTIM_POST_VALIDATE = PL_OPTIM_POST_VALIDATE };

struct sim_opts {
  const char *schedule;      /* generator name */
  const char *schedule_file; /* PyTorch CSV */
  int p, m, v, group, dialect;
  int have_p, have_m, have_v;
  double tf, tb, tw, comm, bandwidth, msg_bytes, mem_w_frac, mem_limit;
  int mem_limit_bytes;       /* --mem-limit was given with a byte unit */
  int optimizer;
  double optimizer_time;     /* optimizer step per rank (--optimizer-time) */
  int have_optimizer_time;
  int p2p;                   /* enum pl_p2p_mode (--p2p) */
  double op_gap;             /* launch gap before every op (--op-gap) */
  int have_runtime;          /* --p2p or --op-gap given */
  double fb_overlap;         /* fused F&B overlap 0..1 (--fb-overlap) */
  double a2a;                /* MoE all-to-all per F and per B (--a2a) */
  const char *rank_speed;    /* "1,1,2,1" or "2:1.5,3:2" */
  const char *time_unit;
};

void simopts_init(struct sim_opts *o);
/* Handles one shared option; returns 0 if handled, -1 if opt is not a shared
 * option, or CLI_EXIT_USAGE after printing the usage line. */
int simopts_handle(struct sim_opts *o, const char *cmd, int opt,
                   const char *arg);
/* Checks combinations (schedule xor file, p and m given) after parsing. */
int simopts_check(const struct sim_opts *o, const char *cmd, int need_schedule);
/* Builds the schedule (generated or loaded) and the uniform cost table.
 * Prints errors; returns an exit code (0 ok). name overrides o->schedule. */
int simopts_build(const struct sim_opts *o, const char *cmd, const char *name,
                  pl_sched **s, pl_costs **c);
/* Generator parameters from the options (v = 0 keeps the default). */
pl_gen_params simopts_gen_params(const struct sim_opts *o);
/* Iteration time under the optimizer mode, with the --optimizer-time step
 * (pl_iteration_time). */
double simopts_iteration_time(const struct sim_opts *o, const pl_result *r);
/* Sets the runtime options (--p2p, --op-gap) and the fused-op pricing
 * (--fb-overlap, --a2a: a2a/v per chunk op) on a cost table: call after
 * every step that replaces the table. */
void simopts_apply_runtime(const struct sim_opts *o, pl_costs *c);
const char *simopts_optimizer_name(int opt);

/* Help text of the shared options. */
extern const char simopts_help[];
#endif
