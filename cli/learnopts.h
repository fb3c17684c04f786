/* learnopts.h: costs learned from a measured profile on the command line
 * (learnopts.c): `calibrate --from`, and the loading that `simulate
 * --costs-from` and `whatif --costs-from` share. */
#ifndef PL_CLI_LEARNOPTS_H
#define PL_CLI_LEARNOPTS_H

#include <jansson.h>

#include "pipelab/models.h"
#include "cli.h"
#include "simopts.h"

/* How to learn (strings borrowed from argv). */
struct learn_cli {
  double b_frac;            /* B / (B + W) for a BW-only profile; 0 = none */
  int warmup;               /* iterations to skip; -1 = automatic */
  int min_samples;          /* 0 = PL_LEARN_MIN_SAMPLES */
  double bandwidth, msg_bytes;
  const char *workload_key; /* NULL = from the profile */
  const char *schedule;     /* Kineto: the profiled schedule's name */
};
void learn_cli_init(struct learn_cli *lc);

/* Reads the profile files (result files, pooled; or Kineto traces, one per
 * rank, every iteration after the warm-up), fits them and sets the source
 * hash, git revision and workload key. Prints the error itself and returns
 * the exit code; *out (caller frees: pl_learned_free) on success. */
int learn_cli_load(const char *cmd, const char *const *files, size_t n,
                   const struct learn_cli *lc, pl_learned **out);

/* The learned table as printed by `calibrate --from --format json`
 * (new reference). */
json_t *learn_cli_json(const pl_learned *l);

/* simulate / whatif: the learned table of --costs-from files, else (db_path
 * given) the newest one stored in that database; *out stays NULL when the
 * database does not exist or holds none. Prints errors; returns the exit
 * code. */
int learn_cli_resolve(const char *cmd, const char *const *files, size_t n,
                      const struct learn_cli *lc, const char *db_path,
                      pl_learned **out);
/* Shape defaults (p, m) from the profile when not given, the per-rank
 * F/B/W/comm that tables print and cost-driven generators read, the time
 * unit, and the op gap unless --op-gap was given. */
void learn_cli_apply_opts(const pl_learned *l, struct sim_opts *o);

/* `pipelab calibrate --from FILE...` (cmd_calibrate hands over). */
int cmd_calibrate_from(int argc, char **argv);

/* Resolves simulate's and whatif's jitter flags: `--jitter auto`
 * (o->jitter_auto) takes
 * the scatter of `learned` (its sigma and quantiles, borrowed into o->rq:
 * learned must outlive the run); a stored profile from before schema 7
 * (n_from 0, no scatter) is a usage error. Then --trials without --jitter
 * is refused. 0 or a usage error. */
int learn_cli_jitter(struct sim_opts *o, const char *cmd,
                     const pl_learned *learned, size_t n_from);

#endif
