/*
 * plugin.c: finds and loads the executor's modules (exec/plugin.h), and
 * the core's side of the CUDA backend and the MPI transport, which forward
 * to them (pipelab/exec.h, transport.h).
 *
 * Search path, first found wins: the directories of PIPELAB_PLUGIN_DIR
 * (':'-separated) when it is set and not empty, and nothing else; otherwise,
 * for the executable's directory and the directory of the module this code
 * is in (the executable itself, or libpipelab.so): plugins/ (the build
 * tree: build/plugins next to build/pipelab and build/libpipelab.so),
 * ../plugins (the build tree's tests/), then the install tree's plugin
 * directory relative to the binary directory and to the library directory
 * (PL_PLUGIN_REL_BIN, PL_PLUGIN_REL_LIB: <libdir>/pipelab/plugins).
 * Modules are opened with RTLD_NOW | RTLD_LOCAL: an unresolved symbol is an
 * error at load time, and nothing of CUDA or MPI leaks into the process's
 * global scope.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"

#ifndef PL_PLUGIN_REL_BIN
#define PL_PLUGIN_REL_BIN "../lib/pipelab/plugins"
#endif
#ifndef PL_PLUGIN_REL_LIB
#define PL_PLUGIN_REL_LIB "pipelab/plugins"
#endif

#define MAX_DIRS 16
#define DIR_MAX 1024

/* snprintf that may truncate (paths and loader messages in fixed
 * buffers, cut rather than refused). */
static void put(char *buf, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void put(char *buf, size_t len, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------ host --- */

static int host_verrf(struct pl_errbuf *eb, int code, const char *fmt,
                      va_list ap)
{
  char msg[PL_ERRMSG_MAX];
  vsnprintf(msg, sizeof msg, fmt, ap);
  return pl_errf(eb, code, "%s", msg);
}

static const pl__plugin_host host = {
  PL_PLUGIN_ABI,        (unsigned)sizeof(pl__plugin_host),
  pl_malloc,            pl_calloc,
  pl_realloc,           pl_free,
  host_verrf,           pl_now_us,
  pl_launch_detect,     pl_read_file,
  pl_write_file_atomic, pl_sched_stages,
  pl_sched_microbatches, pl_sched_stage_rank,
  pl_sched_rank_ops,    pl_wl_msg_bytes,
  pl_wl_param_offset,   pl__rank_proc};

/* ---------------------------------------------------- search path --- */

static int add_dir(char dirs[][DIR_MAX], int n, const char *base,
                   const char *rel)
{
  if (n >= MAX_DIRS)
    return n;
  char cand[DIR_MAX], real[PATH_MAX];
  int w = rel ? snprintf(cand, sizeof cand, "%s/%s", base, rel)
              : snprintf(cand, sizeof cand, "%s", base);
  if (w < 0 || (size_t)w >= sizeof cand)
    return n;
  struct stat st;
  if (!realpath(cand, real) || stat(real, &st) || !S_ISDIR(st.st_mode) ||
      strlen(real) >= DIR_MAX)
    return n;
  for (int i = 0; i < n; i++)
    if (!strcmp(dirs[i], real))
      return n;
  memcpy(dirs[n], real, strlen(real) + 1);
  return n + 1;
}

/* The directory part of path, in place ("." when none). */
static void dirname_inplace(char *path)
{
  char *s = strrchr(path, '/');
  if (!s)
    strcpy(path, ".");
  else if (s == path)
    path[1] = '\0';
  else
    *s = '\0';
}

static int add_base(char dirs[][DIR_MAX], int n, const char *base)
{
  n = add_dir(dirs, n, base, "plugins");
  n = add_dir(dirs, n, base, "../plugins");
  n = add_dir(dirs, n, base, PL_PLUGIN_REL_BIN);
  return add_dir(dirs, n, base, PL_PLUGIN_REL_LIB);
}

/* The existing directories to search, in order. */
static int search_dirs(char dirs[][DIR_MAX])
{
  int n = 0;
  const char *env = getenv("PIPELAB_PLUGIN_DIR");
  if (env && *env) {
    char one[DIR_MAX];
    while (*env) {
      size_t len = strcspn(env, ":");
      if (len && len < sizeof one) {
        memcpy(one, env, len);
        one[len] = '\0';
        n = add_dir(dirs, n, one, NULL);
      }
      env += len;
      if (*env == ':')
        env++;
    }
    return n;
  }
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len > 0) {
    self[len] = '\0';
    dirname_inplace(self);
    n = add_base(dirs, n, self);
  }
  Dl_info di;
  if (dladdr((void *)&pl__plugin_get, &di) && di.dli_fname &&
      strchr(di.dli_fname, '/') && strlen(di.dli_fname) < sizeof self) {
    strcpy(self, di.dli_fname);
    dirname_inplace(self);
    n = add_base(dirs, n, self);
  }
  return n;
}

/* "a:b:c" of the directories, for messages. */
static void dirs_text(char dirs[][DIR_MAX], int n, char *buf, size_t len)
{
  size_t at = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && at < len; i++) {
    int w = snprintf(buf + at, len - at, "%s%s", i ? ":" : "", dirs[i]);
    if (w < 0)
      break;
    at += (size_t)w;
  }
  if (!n)
    put(buf, len, "no plugin directory exists; set PIPELAB_PLUGIN_DIR");
}

/* --------------------------------------------------------- loading --- */

/* Opens path and checks its table. */
static int open_module(const char *path, const char *want,
                       const pl__plugin **out, char *why, size_t whylen)
{
  *out = NULL;
  (void)dlerror();
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    put(why, whylen, "%s", e ? e : "dlopen failed");
    return PL_EIO;
  }
  void *sym = dlsym(h, PL_PLUGIN_ENTRY_NAME);
  if (!sym) {
    put(why, whylen, "%s: no %s entry point (a module of another "
             "pipelab plugin ABI)", path, PL_PLUGIN_ENTRY_NAME);
    dlclose(h);
    return PL_EIO;
  }
  pl__plugin_entry_fn entry;
  memcpy(&entry, &sym, sizeof entry); /* ISO C: object to function pointer */
  const pl__plugin *pg = entry(&host);
  if (!pg || pg->abi != PL_PLUGIN_ABI || pg->size < sizeof *pg) {
    put(why, whylen, "%s: plugin ABI %u, this pipelab needs ABI %d",
             path, pg ? pg->abi : 0u, PL_PLUGIN_ABI);
    dlclose(h);
    return PL_EIO;
  }
  if (want && strcmp(pg->name, want)) {
    put(why, whylen, "%s: is the '%s' plugin, not '%s'", path, pg->name,
             want);
    dlclose(h);
    return PL_EIO;
  }
  *out = pg; /* never closed: see plugin.h */
  return PL_OK;
}

struct slot {
  char name[16];
  int tried, rc;
  const pl__plugin *pg;
  char msg[PL_ERRMSG_MAX];
};
static struct slot slots[4];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;

static struct slot *slot_of(const char *name)
{
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
    if (!strcmp(slots[i].name, name))
      return &slots[i];
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
    if (!slots[i].name[0]) {
      put(slots[i].name, sizeof slots[i].name, "%s", name);
      return &slots[i];
    }
  return NULL;
}

static void load(struct slot *s)
{
  char dirs[MAX_DIRS][DIR_MAX];
  int n = search_dirs(dirs);
  char file[64], path[DIR_MAX + 64], why[PL_ERRMSG_MAX - 128];
  put(file, sizeof file, "libpipelab-%s.so", s->name);
  s->tried = 1;
  for (int i = 0; i < n; i++) {
    put(path, sizeof path, "%s/%s", dirs[i], file);
    if (access(path, F_OK))
      continue;
    s->rc = open_module(path, s->name, &s->pg, why, sizeof why);
    if (s->rc)
      put(s->msg, sizeof s->msg, "cannot load the %s plugin: %s",
               s->name, why);
    return;
  }
  dirs_text(dirs, n, why, sizeof why);
  s->rc = PL_ENOTFOUND;
  put(s->msg, sizeof s->msg, "the %s plugin (%s) is not installed "
           "(searched %s)", s->name, file, why);
}

int pl__plugin_get(const char *name, const pl__plugin **out,
                   struct pl_errbuf *eb)
{
  *out = NULL;
  pthread_mutex_lock(&slots_mu);
  struct slot *s = slot_of(name);
  if (s && !s->tried)
    load(s);
  int rc = s ? s->rc : PL_ENOMEM;
  if (s && !rc)
    *out = s->pg;
  else if (s)
    pl_errf(eb, rc, "%s", s->msg);
  else
    pl_errf(eb, rc, "too many plugins");
  pthread_mutex_unlock(&slots_mu);
  return rc;
}

const pl__plugin *pl__plugin_loaded(const char *name)
{
  pthread_mutex_lock(&slots_mu);
  const pl__plugin *pg = NULL;
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
    if (!strcmp(slots[i].name, name) && slots[i].pg)
      pg = slots[i].pg;
  pthread_mutex_unlock(&slots_mu);
  return pg;
}

/* ------------------------------------------------------- listing --- */

int pl_plugin_dirs(char *buf, size_t len)
{
  char dirs[MAX_DIRS][DIR_MAX];
  int n = search_dirs(dirs);
  if (buf && len)
    dirs_text(dirs, n, buf, len);
  return n;
}

int pl_plugins_find(pl_plugin_info **out, size_t *n_out, struct pl_errbuf *eb)
{
  *out = NULL;
  *n_out = 0;
  char dirs[MAX_DIRS][DIR_MAX];
  int nd = search_dirs(dirs);
  pl_plugin_info *v = NULL;
  size_t n = 0;
  for (int i = 0; i < nd; i++) {
    DIR *d = opendir(dirs[i]);
    if (!d)
      continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      const char *nm = e->d_name;
      size_t len = strlen(nm);
      if (strncmp(nm, "libpipelab-", 11) || len < 15 ||
          strcmp(nm + len - 3, ".so") || len - 14 >= sizeof v->name)
        continue;
      char name[sizeof v->name];
      memcpy(name, nm + 11, len - 14);
      name[len - 14] = '\0';
      int seen = 0;
      for (size_t k = 0; k < n; k++)
        seen |= !strcmp(v[k].name, name);
      if (seen) /* an earlier directory's wins, as when loading */
        continue;
      pl_plugin_info *nv = pl_realloc(v, (n + 1) * sizeof *v);
      if (!nv) {
        closedir(d);
        pl_free(v);
        return pl_errf(eb, PL_ENOMEM, "out of memory");
      }
      v = nv;
      pl_plugin_info *pi = &v[n++];
      memset(pi, 0, sizeof *pi);
      memcpy(pi->name, name, strlen(name) + 1);
      put(pi->path, sizeof pi->path, "%s/%s", dirs[i], nm);
      struct pl_errbuf leb = PL_ERRBUF_INIT;
      const pl__plugin *pg = NULL;
      /* Through the cache when it is the module that would be loaded. */
      if (!pl__plugin_get(name, &pg, &leb)) {
        pi->loaded = 1;
        put(pi->kind, sizeof pi->kind, "%s",
                 pg->kind == PL_PLUGIN_BACKEND ? "backend" : "transport");
        put(pi->version, sizeof pi->version, "%s", pg->version);
        put(pi->detail, sizeof pi->detail, "%s",
                 pg->detail ? pg->detail() : "");
      } else {
        put(pi->detail, sizeof pi->detail, "%s", leb.msg);
      }
    }
    closedir(d);
  }
  *out = v;
  *n_out = n;
  return PL_OK;
}

/* --------------------------------------------- the CUDA backend --- */

static char cuda_why[PL_ERRMSG_MAX];

int pl_cuda_devices(const char **why)
{
  const pl__plugin *pg;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (pl__plugin_get("cuda", &pg, &eb)) {
    pthread_mutex_lock(&slots_mu);
    put(cuda_why, sizeof cuda_why, "%s", eb.msg);
    pthread_mutex_unlock(&slots_mu);
    if (why)
      *why = cuda_why;
    return 0;
  }
  return pg->devices(why);
}

const pl_backend_vt *pl_backend_cuda_vt(void)
{
  const pl__plugin *pg;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  return pl__plugin_get("cuda", &pg, &eb) ? NULL : pg->vt;
}

int pl_backend_cuda_open(int p, const pl_workload *w, void **be,
                         struct pl_errbuf *eb)
{
  const pl__plugin *pg;
  struct pl_errbuf leb = PL_ERRBUF_INIT;
  if (be)
    *be = NULL;
  if (pl__plugin_get("cuda", &pg, &leb))
    return pl_errf(eb, PL_ENODEV, "%s", leb.msg);
  return pg->open(p, w, be, eb);
}

void pl_backend_cuda_close(void *be)
{
  const pl__plugin *pg = pl__plugin_loaded("cuda");
  if (be && pg)
    pg->close(be);
}

void pl_backend_cuda_local_ranks(void *be, int *lo, int *hi)
{
  const pl__plugin *pg = pl__plugin_loaded("cuda");
  if (be && pg) {
    pg->local_ranks(be, lo, hi);
    return;
  }
  if (lo)
    *lo = 0;
  if (hi)
    *hi = 0;
}

int pl_backend_cuda_set_order(void *be, const pl_sched *s)
{
  const pl__plugin *pg = pl__plugin_loaded("cuda");
  return be && pg ? pg->prepare(be, s) : PL_ENODEV;
}

/* -------------------------------------------- the MPI transport --- */

static char mpi_why[PL_ERRMSG_MAX];

int pl__mpi_available(const char **why)
{
  const pl__plugin *pg;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  if (!pl__plugin_get("mpi", &pg, &eb))
    return 1;
  pthread_mutex_lock(&slots_mu);
  put(mpi_why, sizeof mpi_why, "%s", eb.msg);
  pthread_mutex_unlock(&slots_mu);
  if (why)
    *why = mpi_why;
  return 0;
}

int pl__mpi_built(void) { return pl__mpi_available(NULL); }

int pl__transport_mpi_open(int p, pl__transport **out, struct pl_errbuf *eb)
{
  const pl__plugin *pg;
  struct pl_errbuf leb = PL_ERRBUF_INIT;
  *out = NULL;
  if (pl__plugin_get("mpi", &pg, &leb))
    return pl_errf(eb, PL_ENOTSUP, "%s", leb.msg);
  return pg->transport_open(p, out, eb);
}

void pl__mpi_shutdown(void)
{
  const pl__plugin *pg = pl__plugin_loaded("mpi");
  if (pg && pg->shutdown)
    pg->shutdown();
}
