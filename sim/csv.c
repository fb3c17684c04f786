/* csv.c: PyTorch schedule CSV. Placeholder until the CSV work lands. */
#include "pipelab/pipelab.h"

int pl_sched_read_csv(const char *text, size_t len, int dialect,
                      pl_sched **out, pl_csv_info *info, struct pl_errbuf *eb)
{
  (void)text; (void)len; (void)dialect; (void)info;
  *out = NULL;
  return pl_errf(eb, PL_ENOTSUP, "schedule CSV is not implemented yet");
}

int pl_sched_load_csv(const char *path, int dialect, pl_sched **out,
                      pl_csv_info *info, struct pl_errbuf *eb)
{
  (void)path;
  return pl_sched_read_csv(NULL, 0, dialect, out, info, eb);
}
