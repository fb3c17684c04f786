/*
 * plugin_shim.c: compiled into every plugin (never into the core): the
 * pipelab functions the plugin sources call, as forwarders to the host's
 * table (exec/plugin.h). Plugins are built with hidden visibility, so these
 * definitions bind inside the module and never interpose on the core's;
 * allocations go through the core's allocator hook, errors into the
 * caller's pl_errbuf as the core formats them.
 */
#include <stdarg.h>

#include "plugin.h"

static const pl__plugin_host *H;

int pl__shim_init(const pl__plugin_host *h)
{
  if (!h || h->abi != PL_PLUGIN_ABI || h->size < sizeof *h)
    return -1;
  H = h;
  return 0;
}

void *pl_malloc(size_t n) { return H->malloc_fn(n); }
void *pl_calloc(size_t n, size_t size) { return H->calloc_fn(n, size); }
void *pl_realloc(void *p, size_t n) { return H->realloc_fn(p, n); }
void pl_free(void *p) { H->free_fn(p); }

int pl_errf(struct pl_errbuf *eb, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int rc = H->verrf(eb, code, fmt, ap);
  va_end(ap);
  return rc;
}

double pl_now_us(void) { return H->now_us(); }
void pl_launch_detect(pl_launch *out) { H->launch_detect(out); }

int pl_read_file(const char *path, char **out, size_t *len,
                 struct pl_errbuf *eb)
{
  return H->read_file(path, out, len, eb);
}

int pl_write_file_atomic(const char *path, const char *data, size_t len,
                         struct pl_errbuf *eb)
{
  return H->write_file_atomic(path, data, len, eb);
}

int pl_sched_stages(const pl_sched *s) { return H->sched_stages(s); }
int pl_sched_microbatches(const pl_sched *s)
{
  return H->sched_microbatches(s);
}
int pl_sched_stage_rank(const pl_sched *s, int stage)
{
  return H->sched_stage_rank(s, stage);
}
const pl_op *pl_sched_rank_ops(const pl_sched *s, int rank, size_t *n)
{
  return H->sched_rank_ops(s, rank, n);
}

size_t pl_wl_msg_bytes(const pl_workload *w) { return H->wl_msg_bytes(w); }
size_t pl_wl_param_offset(const pl_workload *w, int tensor)
{
  return H->wl_param_offset(w, tensor);
}

int pl__rank_proc(int p, int world, int r)
{
  return H->rank_proc(p, world, r);
}
