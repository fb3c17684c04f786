/* workloadopts.c: parsing of the shared workload flags. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "workloadopts.h"

const char workloadopts_help[] =
  "workload (the executor's model: pre-LN blocks with layer norm, a GELU MLP\n"
  "of width 4*hidden and a residual, optionally preceded by causal\n"
  "self-attention; MSE loss on the last stage; fp64):\n"
  "  --layers <n>              blocks in total, a multiple of stages x chunks\n"
  "                            (default: one per virtual stage)\n"
  "  --hidden <h>              hidden size (default 256)\n"
  "  --seq <s>                 sequence length (default 128)\n"
  "  --mb-size <b>             sequences per microbatch (default 1)\n"
  "  --seed <n>                initialisation seed (default 1)\n"
  "  --attention               prepend pre-LN single-head causal\n"
  "                            self-attention with a residual to every block\n"
  "                            (per sequence of --seq tokens)\n";

void workloadopts_init(struct workload_opts *w, const char *cmd)
{
  memset(w, 0, sizeof *w);
  w->cmd = cmd;
  w->hidden = 256;
  w->seq = 128;
  w->mb_size = 1;
  w->seed = 1;
}

int workloadopts_handle(struct workload_opts *w, int opt, const char *arg)
{
  int rc;
  switch (opt) {
  case OPT_WL_LAYERS:
    rc = cli_int(w->cmd, "--layers", arg, 1, 1 << 16, &w->layers);
    break;
  case OPT_WL_HIDDEN:
    rc = cli_int(w->cmd, "--hidden", arg, 1, 1 << 16, &w->hidden);
    break;
  case OPT_WL_SEQ:
    rc = cli_int(w->cmd, "--seq", arg, 1, 1 << 24, &w->seq);
    break;
  case OPT_WL_MB_SIZE:
    rc = cli_int(w->cmd, "--mb-size", arg, 1, 1 << 20, &w->mb_size);
    break;
  case OPT_WL_SEED: {
    char *end;
    errno = 0;
    if (arg[0] == '-' || arg[0] == 0)
      return cli_usage(w->cmd, "--seed must be a non-negative integer, got "
                               "'%s'", arg);
    w->seed = strtoull(arg, &end, 10);
    if (errno || *end)
      return cli_usage(w->cmd, "--seed must be a non-negative integer, got "
                               "'%s'", arg);
    rc = 0;
    break;
  }
  case OPT_WL_ATTENTION:
    w->attention = 1;
    rc = 0;
    break;
  default:
    return -1;
  }
  if (rc == 0)
    w->given = 1;
  return rc;
}

int workloadopts_get(const struct workload_opts *w, int n_stages, int m,
                     pl_workload *out)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  out->layers = w->layers ? w->layers : (n_stages > 0 ? n_stages : 1);
  out->hidden = w->hidden;
  out->seq = w->seq;
  out->mb_size = w->mb_size;
  out->microbatches = m > 0 ? m : 1;
  out->seed = (uint64_t)w->seed;
  out->attention = w->attention;
  if (pl_wl_check(out, &eb))
    return cli_usage(w->cmd, "%s", eb.msg);
  if (n_stages > 0 && out->layers % n_stages)
    return cli_usage(w->cmd, "--layers %d is not divisible by the %d virtual "
                             "stages (stages x chunks); use a multiple of %d",
                     out->layers, n_stages, n_stages);
  return 0;
}
