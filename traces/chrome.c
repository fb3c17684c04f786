/* chrome.c: Chrome Trace Event writer. Placeholder: replaced by the traces
 * work (flows, counters, metadata). */
#include "pipelab/traces.h"

int pl_trace_chrome_buf(const pl_result *r, const pl_sched *s,
                        const pl_costs *c, double time_scale_us,
                        struct pl_buf *out, struct pl_errbuf *eb)
{
  (void)r; (void)s; (void)c; (void)time_scale_us; (void)out;
  return pl_errf(eb, PL_ENOTSUP, "trace output is not implemented yet");
}

int pl_trace_write_chrome(const pl_result *r, const pl_sched *s,
                          const pl_costs *c, double time_scale_us,
                          const char *path, struct pl_errbuf *eb)
{
  (void)path;
  return pl_trace_chrome_buf(r, s, c, time_scale_us, NULL, eb);
}

int pl_result_add_detail_json(json_t *obj, const pl_result *r)
{
  (void)obj; (void)r;
  return PL_ENOTSUP;
}

int pl_result_from_json(const json_t *obj, pl_result *r, struct pl_errbuf *eb)
{
  (void)obj; (void)r;
  return pl_errf(eb, PL_ENOTSUP, "reading result files is not implemented yet");
}
