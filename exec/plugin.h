/*
 * plugin.h: the loadable modules of the executor (library-internal; the
 * loader in exec/plugin.c and the plugin sources share it).
 *
 * The CUDA + NCCL backend (libpipelab-cuda.so: exec/backend_cuda.c,
 * kernels/workload.cu) and the MPI transport (libpipelab-mpi.so:
 * exec/transport_mpi.c) are built as modules, so that the core library and
 * the pipelab tool link no CUDA and no MPI library: a process loads them
 * on first use (`--backend cuda`, `--transport mpi`, a launcher's
 * environment with more than one process) and pays nothing otherwise.
 *
 * ABI: a plugin exports one symbol, PL_PLUGIN_ENTRY (its name carries the
 * ABI version), which takes the host's table of services and returns the
 * plugin's table, both static storage. The loader refuses a table whose
 * abi differs from PL_PLUGIN_ABI, whose size is smaller than its own
 * struct, or whose name is not the one asked for. Bump PL_PLUGIN_ABI (and
 * so the entry's name) whenever pl__plugin, pl__plugin_host,
 * pl_backend_vt, pl__transport(_vt) or a struct they pass changes layout.
 *
 * The plugin resolves no pipelab symbol from the process: everything it
 * needs from the core (allocator hook, error formatting, clock, launcher
 * environment, schedule and workload accessors) comes through
 * pl__plugin_host. exec/plugin_shim.c, compiled into every plugin, defines
 * the few pl_* functions the plugin sources call as forwarders to that
 * table (hidden visibility, so they never clash with the core's), which
 * keeps the allocator hook and the error buffers the core's own.
 *
 * Ownership: the tables are static storage of the module; a loaded module
 * stays loaded until the process exits (CUDA and MPI libraries do not
 * support being unloaded).
 */
#ifndef PL_EXEC_PLUGIN_H
#define PL_EXEC_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>

#include "pipelab/exec.h"
#include "transport.h"

#define PL_PLUGIN_ABI 1
/* The versioned entry point every plugin exports. */
#define PL_PLUGIN_ENTRY pl_plugin_entry_v1
#define PL_PLUGIN_ENTRY_NAME "pl_plugin_entry_v1"

/* What the core lends a plugin. */
typedef struct pl__plugin_host {
  unsigned abi;  /* PL_PLUGIN_ABI */
  unsigned size; /* sizeof(pl__plugin_host) as the core was built */
  void *(*malloc_fn)(size_t n);
  void *(*calloc_fn)(size_t n, size_t size);
  void *(*realloc_fn)(void *p, size_t n);
  void (*free_fn)(void *p);
  /* pl_errf with a va_list. */
  int (*verrf)(struct pl_errbuf *eb, int code, const char *fmt, va_list ap);
  double (*now_us)(void);
  void (*launch_detect)(pl_launch *out);
  int (*read_file)(const char *path, char **out, size_t *len,
                   struct pl_errbuf *eb);
  int (*write_file_atomic)(const char *path, const char *data, size_t len,
                           struct pl_errbuf *eb);
  int (*sched_stages)(const pl_sched *s);
  int (*sched_microbatches)(const pl_sched *s);
  int (*sched_stage_rank)(const pl_sched *s, int stage);
  const pl_op *(*sched_rank_ops)(const pl_sched *s, int rank, size_t *n);
  size_t (*wl_msg_bytes)(const pl_workload *w);
  size_t (*wl_param_offset)(const pl_workload *w, int tensor);
  int (*rank_proc)(int p, int world, int r);
} pl__plugin_host;

enum pl__plugin_kind { PL_PLUGIN_BACKEND = 1, PL_PLUGIN_TRANSPORT = 2 };

/* What a plugin offers. A backend fills the backend part, a transport the
 * transport part; the other part is NULL. */
typedef struct pl__plugin {
  unsigned abi;  /* PL_PLUGIN_ABI */
  unsigned size; /* sizeof(pl__plugin) as the plugin was built */
  int kind;      /* enum pl__plugin_kind */
  const char *name;    /* "cuda", "mpi": the module is libpipelab-<name>.so */
  const char *version; /* the pipelab version it was built from */
  /* What it was built against, e.g. "CUDA 13.0, NCCL 2.27.3" or the MPI
   * library's version line; static string. */
  const char *(*detail)(void);

  /* ---- backend ---- */
  const pl_backend_vt *vt;
  /* Usable devices; 0 and *why (static) when none (no driver, no device). */
  int (*devices)(const char **why);
  /* The pl_backend_cuda_* contract of pipelab/exec.h. */
  int (*open)(int p, const pl_workload *w, void **be, struct pl_errbuf *eb);
  void (*close)(void *be);
  void (*local_ranks)(void *be, int *lo, int *hi);
  /* Called by the runtime after open with the schedule to run. */
  int (*prepare)(void *be, const pl_sched *s);

  /* ---- transport ---- */
  /* The pl__transport_mpi_open contract of transport.h. */
  int (*transport_open)(int p, pl__transport **out, struct pl_errbuf *eb);
  /* Ends what the plugin started process-wide (MPI_Finalize). */
  void (*shutdown)(void);
} pl__plugin;

typedef const pl__plugin *(*pl__plugin_entry_fn)(const pl__plugin_host *h);

/* In every plugin (exec/plugin_shim.c): keeps the host's table for the
 * forwarders. Returns 0, or -1 when the host's ABI differs. */
int pl__shim_init(const pl__plugin_host *h);

/* Core: the plugin named name ("cuda", "mpi"), loaded on first use and
 * cached (a failure too). PL_ENOTFOUND when no libpipelab-<name>.so lies in
 * the search path, PL_EIO when the loader refuses it (its reason: a
 * missing CUDA or MPI library, an undefined symbol) or the ABI differs; eb
 * gets one line naming the module and the reason. */
int pl__plugin_get(const char *name, const pl__plugin **out,
                   struct pl_errbuf *eb);
/* The plugin when it is already loaded, else NULL; never loads. */
const pl__plugin *pl__plugin_loaded(const char *name);

#endif
