/* api.c: pl_api_call, the JSON-in / JSON-out entry point for bindings
 * (include/pipelab/api.h). Arguments are named as the command-line flags
 * with '_' for '-'; answers are the documents `pipelab <command> --format
 * json` prints, built by the same serializers (traces/result.c). Nothing
 * here prints; every message goes back through err_out. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "pipelab/api.h"
#include "pipelab/models.h"
#include "pipelab/traces.h"

/* ------------------------------------------------------------ arguments -- */

struct args {
  const char *fn;
  json_t *o;
  struct pl_errbuf *eb;
};

/* Rejects keys outside known (NULL-terminated): a typo is an error, not a
 * silently ignored option. Model keys get their own message. */
static int check_known(const struct args *a, const char *const *known)
{
  static const char *const model_keys[] = {
    "model", "gpu", "tp", "dp", "cp", "seq", "recompute", "flash_attn",
    "precision", "db", NULL};
  const char *key;
  json_t *v;
  json_object_foreach(a->o, key, v) {
    int ok = 0;
    for (int i = 0; known[i] && !ok; i++)
      ok = !strcmp(key, known[i]);
    if (ok)
      continue;
    for (int i = 0; model_keys[i]; i++)
      if (!strcmp(key, model_keys[i]))
        return pl_errf(a->eb, PL_ENOTSUP, "%s: '%s': pricing by a model is "
                       "not available through the library API yet; use "
                       "constant costs (tf, tb, tw, comm) or the pipelab "
                       "command", a->fn, key);
    return pl_errf(a->eb, PL_EINVAL, "%s: unknown argument '%s'", a->fn, key);
  }
  return 0;
}

/* Each getter leaves *out alone when the key is absent or null, sets
 * *have (may be NULL) when present, and returns PL_EINVAL naming the key
 * for a wrong type or a value out of range. */
static int get_int(const struct args *a, const char *key, long lo, long hi,
                   int *out, int *have)
{
  json_t *v = json_object_get(a->o, key);
  if (!v || json_is_null(v))
    return 0;
  double x = json_is_integer(v) ? (double)json_integer_value(v)
             : json_is_real(v) ? json_real_value(v) : NAN;
  if (!(x == floor(x)))
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' must be an integer", a->fn, key);
  if (x < lo || x > hi)
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' must be between %ld and %ld, "
                   "got %.0f", a->fn, key, lo, hi, x);
  *out = (int)x;
  if (have)
    *have = 1;
  return 0;
}

static int get_num(const struct args *a, const char *key, double lo,
                   double hi, double *out, int *have)
{
  json_t *v = json_object_get(a->o, key);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_number(v))
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' must be a number", a->fn, key);
  double x = json_number_value(v);
  if (!(x >= lo && x <= hi))
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' must be between %g and %g, "
                   "got %g", a->fn, key, lo, hi, x);
  *out = x;
  if (have)
    *have = 1;
  return 0;
}

static int get_str(const struct args *a, const char *key, const char **out)
{
  json_t *v = json_object_get(a->o, key);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v) || !json_string_value(v)[0])
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' must be a non-empty string",
                   a->fn, key);
  *out = json_string_value(v);
  return 0;
}

static int get_bool(const struct args *a, const char *key, int *out)
{
  json_t *v = json_object_get(a->o, key);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_boolean(v))
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' must be true or false", a->fn,
                   key);
  *out = json_is_true(v);
  return 0;
}

/* An integer or a list of integers into a pl_malloc'ed array (*out stays
 * NULL when the key is absent). */
static int get_int_list(const struct args *a, const char *key, long lo,
                        long hi, int **out, int *n)
{
  json_t *v = json_object_get(a->o, key);
  if (!v || json_is_null(v))
    return 0;
  size_t k = json_is_array(v) ? json_array_size(v) : 1;
  if (k == 0)
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' needs at least one value",
                   a->fn, key);
  int *arr = pl_malloc(k * sizeof *arr);
  if (!arr)
    return pl_errf(a->eb, PL_ENOMEM, "out of memory");
  for (size_t i = 0; i < k; i++) {
    json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
    if (!json_is_integer(x) || json_integer_value(x) < lo ||
        json_integer_value(x) > hi) {
      pl_free(arr);
      return pl_errf(a->eb, PL_EINVAL, "%s: '%s' takes integers from %ld to "
                     "%ld (one or a list)", a->fn, key, lo, hi);
    }
    arr[i] = (int)json_integer_value(x);
  }
  *out = arr;
  *n = (int)k;
  return 0;
}

/* A list of schedule names (or one name, or "a,b" as the command takes)
 * into *names (pl_malloc'ed array of borrowed generator names, static
 * storage). */
static int get_schedules(const struct args *a, const char *key,
                         const char ***names, int *n)
{
  json_t *v = json_object_get(a->o, key);
  if (!v || json_is_null(v))
    return 0;
  if (json_is_string(v) && !strcmp(json_string_value(v), "all"))
    return 0;
  size_t cap = 0;
  const pl_gen_info *gens = pl_gen_list();
  while (gens[cap].name)
    cap++;
  const char **arr = pl_malloc((cap ? cap : 1) * sizeof *arr);
  if (!arr)
    return pl_errf(a->eb, PL_ENOMEM, "out of memory");
  int k = 0, rc = 0;
  size_t items = json_is_array(v) ? json_array_size(v) : 1;
  for (size_t i = 0; i < items && !rc; i++) {
    json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
    if (!json_is_string(x)) {
      rc = pl_errf(a->eb, PL_EINVAL, "%s: '%s' takes schedule names (a "
                   "string or a list of strings)", a->fn, key);
      break;
    }
    /* Also "a,b,c", as on the command line. */
    const char *s = json_string_value(x);
    while (*s && !rc) {
      size_t len = strcspn(s, ",");
      char name[64];
      if (len == 0 || len >= sizeof name) {
        rc = pl_errf(a->eb, PL_EINVAL, "%s: bad schedule name in '%s'",
                     a->fn, key);
        break;
      }
      memcpy(name, s, len);
      name[len] = 0;
      const pl_gen_info *g = pl_gen_find(name);
      if (!g)
        rc = pl_errf(a->eb, PL_EINVAL, "%s: unknown schedule '%s' in '%s' "
                     "(schedules() lists them)", a->fn, name, key);
      else {
        int dup = 0;
        for (int j = 0; j < k; j++)
          dup |= arr[j] == g->name;
        if (!dup && (size_t)k < cap)
          arr[k++] = g->name;
      }
      s += len;
      if (*s == ',')
        s++;
    }
  }
  if (!rc && k == 0)
    rc = pl_errf(a->eb, PL_EINVAL, "%s: '%s' needs at least one schedule",
                 a->fn, key);
  if (rc) {
    pl_free(arr);
    return rc;
  }
  *names = arr;
  *n = k;
  return 0;
}

/* ----------------------------------------- schedule and constant costs -- */

#define BIG 1e300

/* A number or a list of numbers from lo to hi into a pl_malloc'ed array
 * (*out stays NULL when the key is absent; *is_list says which was given). */
static int get_num_list(const struct args *a, const char *key, double lo,
                        double hi, double **out, int *n, int *is_list)
{
  json_t *v = json_object_get(a->o, key);
  if (!v || json_is_null(v))
    return 0;
  size_t k = json_is_array(v) ? json_array_size(v) : 1;
  if (k == 0 || k > 4096)
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' takes 1 to 4096 values, got "
                   "%zu", a->fn, key, k);
  double *arr = pl_malloc(k * sizeof *arr);
  if (!arr)
    return pl_errf(a->eb, PL_ENOMEM, "out of memory");
  for (size_t i = 0; i < k; i++) {
    json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
    arr[i] = json_is_number(x) ? json_number_value(x) : NAN;
    if (!(arr[i] >= lo && arr[i] <= hi)) {
      pl_free(arr);
      return pl_errf(a->eb, PL_EINVAL, "%s: '%s' takes numbers from %g to %g "
                     "(one or a list)", a->fn, key, lo, hi);
    }
  }
  *out = arr;
  *n = (int)k;
  if (is_list)
    *is_list = json_is_array(v);
  return 0;
}

/* The options simulate and whatif share (the command's --tf ... --p2p),
 * read into the library's simulate request (pl_sim_request, models.h):
 * the command fills the same struct, so both map options to generator
 * parameters and cost tables through the same functions. */
struct simargs {
  pl_sim_request rq;
  const char *schedule, *schedule_file, *dialect_name;
  int dialect, have_p, have_m, have_v, have_waves;
  double *rank_speed, *mem_limits; /* pl_malloc'ed (simargs_free) */
};

static const char *const simargs_keys[] = {
  "stages", "microbatches", "chunks", "waves", "group", "tf", "tb", "tw",
  "comm", "bandwidth", "msg_bytes", "mem_w_frac", "mem_limit", "stage_costs",
  "p2p", "op_gap", "fb_overlap", "a2a", "replica_allreduce", "optimizer",
  "optimizer_time", "rank_speed", "time_unit", "jitter", "trials",
  "jitter_seed", "send_overhead", "recv_overhead", "local_handoff", NULL};

/* The runtime fields of an answer (simulate's costs, whatif's top level):
 * the P2P mode, the gaps and per-message times the table was run with, the
 * request's fused-op overlap and all-to-all (rq; NULL: a sweep's answer,
 * which has neither). Nonzero when one failed. */
static int put_runtime(json_t *o, int p2p, double op_gap, double so,
                       double ro, int local, const pl_sim_request *rq)
{
  int bad = json_object_set_new(o, "p2p", json_string(pl_p2p_mode_name(p2p)));
  bad |= json_object_set_new(o, "op_gap", json_real(op_gap));
  bad |= json_object_set_new(o, "send_overhead", json_real(so));
  bad |= json_object_set_new(o, "recv_overhead", json_real(ro));
  bad |= json_object_set_new(o, "local_handoff",
                             json_string(local ? "copied" : "free"));
  if (rq) {
    bad |= json_object_set_new(o, "fb_overlap", json_real(rq->fb_overlap));
    bad |= json_object_set_new(o, "a2a", json_real(rq->a2a));
  }
  return bad;
}

/* The runtime keys of a request (simulate, whatif, sweep): "p2p",
 * "op_gap", "send_overhead", "recv_overhead", "local_handoff"; each output
 * is left alone when its key is absent. */
static int get_runtime(const struct args *a, int *p2p_mode, double *op_gap,
                       double *so, double *ro, int *local_overhead)
{
  const char *p2p = NULL, *local = NULL;
  int rc;
  if ((rc = get_num(a, "op_gap", 0, BIG, op_gap, NULL)) ||
      (rc = get_num(a, "send_overhead", 0, BIG, so, NULL)) ||
      (rc = get_num(a, "recv_overhead", 0, BIG, ro, NULL)) ||
      (rc = get_str(a, "local_handoff", &local)) ||
      (rc = get_str(a, "p2p", &p2p)))
    return rc;
  if (local) {
    if (strcmp(local, "free") && strcmp(local, "copied"))
      return pl_errf(a->eb, PL_EINVAL, "%s: 'local_handoff' must be free or "
                     "copied, got '%s'", a->fn, local);
    *local_overhead = local[0] == 'c';
  }
  if (p2p) {
    int m = pl_p2p_mode_parse(p2p);
    if (m < 0)
      return pl_errf(a->eb, PL_EINVAL, "%s: 'p2p' must be async, blocking or "
                     "batched, got '%s'", a->fn, p2p);
    *p2p_mode = m;
  }
  return 0;
}

static void simargs_init(struct simargs *s)
{
  memset(s, 0, sizeof *s);
  s->rq = (pl_sim_request)PL_SIM_REQUEST_INIT;
  s->rq.costs.time_unit = "unit"; /* named in the answers */
  s->dialect = PL_DIALECT_AUTO;
}

static void simargs_free(struct simargs *s)
{
  pl_free(s->rank_speed);
  pl_free(s->mem_limits);
  s->rank_speed = s->mem_limits = NULL;
}

static int simargs_parse(const struct args *a, struct simargs *s)
{
  pl_sim_request *rq = &s->rq;
  const char *optimizer = NULL;
  double *lim = NULL;
  int n_lim = 0, lim_list = 0, waves = 0, jseed = 1, rc;
  if ((rc = get_int(a, "stages", 1, 4096, &rq->p, &s->have_p)) ||
      (rc = get_int(a, "microbatches", 1, 1 << 20, &rq->m, &s->have_m)) ||
      (rc = get_int(a, "chunks", 1, 256, &rq->v, &s->have_v)) ||
      (rc = get_int(a, "waves", 1, 128, &waves, &s->have_waves)) ||
      (rc = get_int(a, "group", 1, 1 << 20, &rq->group, NULL)) ||
      (rc = get_num(a, "tf", 0, BIG, &rq->costs.tf, NULL)) ||
      (rc = get_num(a, "tb", 0, BIG, &rq->costs.tb, NULL)) ||
      (rc = get_num(a, "tw", 0, BIG, &rq->costs.tw, NULL)) ||
      (rc = get_num(a, "comm", 0, BIG, &rq->costs.comm, NULL)) ||
      (rc = get_num(a, "bandwidth", 0, BIG, &rq->costs.bandwidth, NULL)) ||
      (rc = get_num(a, "msg_bytes", 0, BIG, &rq->costs.msg_bytes, NULL)) ||
      (rc = get_num(a, "mem_w_frac", 0, 1, &rq->costs.mem_w_frac, NULL)) ||
      (rc = get_str(a, "stage_costs", &rq->stage_costs)) ||
      (rc = get_runtime(a, &rq->p2p, &rq->op_gap, &rq->send_overhead,
                        &rq->recv_overhead, &rq->local_overhead)) ||
      (rc = get_num(a, "fb_overlap", 0, 1, &rq->fb_overlap, NULL)) ||
      (rc = get_num(a, "a2a", 0, BIG, &rq->a2a, NULL)) ||
      (rc = get_num(a, "replica_allreduce", 0, BIG, &rq->replica_ar,
                    &rq->have_replica_ar)) ||
      (rc = get_num(a, "optimizer_time", 0, BIG, &rq->optimizer_time,
                    NULL)) ||
      (rc = get_str(a, "time_unit", &rq->costs.time_unit)) ||
      (rc = get_num(a, "jitter", 0, PL_JITTER_MAX, &rq->jitter,
                    &rq->have_jitter)) ||
      (rc = get_int(a, "trials", 1, PL_TRIALS_MAX, &rq->trials, NULL)) ||
      (rc = get_int(a, "jitter_seed", 0, 2147483647, &jseed, NULL)) ||
      (rc = get_str(a, "optimizer", &optimizer)) ||
      (rc = get_num_list(a, "rank_speed", 1e-9, 1e9, &s->rank_speed,
                         &rq->n_rank_speed, NULL)) ||
      (rc = get_num_list(a, "mem_limit", 0, BIG, &lim, &n_lim, &lim_list)))
    return rc;
  s->mem_limits = lim; /* freed with s, one number or a list */
  rq->jitter_seed = (uint64_t)jseed;
  if (rq->trials && !rq->have_jitter)
    return pl_errf(a->eb, PL_EINVAL, "%s: 'trials' needs 'jitter' (without "
                   "jitter every trial is the same run)", a->fn);
  if (strlen(rq->costs.time_unit) > 7)
    return pl_errf(a->eb, PL_EINVAL, "%s: 'time_unit' must be 1 to 7 "
                   "characters, got '%s'", a->fn, rq->costs.time_unit);
  if (optimizer) {
    if (!strcmp(optimizer, "sync"))
      rq->optimizer = PL_OPTIM_SYNC;
    else if (!strcmp(optimizer, "post-validate") ||
             !strcmp(optimizer, "post_validate"))
      rq->optimizer = PL_OPTIM_POST_VALIDATE;
    else
      return pl_errf(a->eb, PL_EINVAL, "%s: 'optimizer' must be sync or "
                     "post-validate, got '%s'", a->fn, optimizer);
  }
  rq->rank_speed = s->rank_speed;
  if (s->have_waves) {
    if (s->have_v)
      return pl_errf(a->eb, PL_EINVAL, "%s: give 'waves' or 'chunks', not "
                     "both (waves W is chunks 2W)", a->fn);
    rq->v = 2 * waves;
    s->have_v = 1;
  }
  if (lim && !lim_list) {
    rq->mem_limit = lim[0];
  } else if (lim) {
    /* One activation limit per rank (zb-auto), each at least one unit. */
    rq->mem_limits = lim;
    rq->n_mem_limits = n_lim;
    for (int i = 0; i < n_lim; i++)
      if (!(lim[i] >= 1))
        return pl_errf(a->eb, PL_EINVAL, "%s: per-rank 'mem_limit' takes "
                       "limits of at least 1 activation unit", a->fn);
    if (rq->p && n_lim != rq->p)
      return pl_errf(a->eb, PL_EINVAL, "%s: 'mem_limit' lists %d limits for "
                     "%d ranks; give one per rank", a->fn, n_lim, rq->p);
  }
  if (rq->costs.msg_bytes > 0 && !(rq->costs.bandwidth > 0))
    return pl_errf(a->eb, PL_EINVAL, "%s: 'msg_bytes' needs a 'bandwidth' "
                   "above 0 (bytes per time unit)", a->fn);
  return 0;
}

/* Runs fn with fresh arguments and frees their lists whatever happens. */
static int with_simargs(const struct args *a, json_t **out,
                        int (*fn)(const struct args *a, struct simargs *s,
                                  json_t **out))
{
  struct simargs s;
  simargs_init(&s);
  int rc = fn(a, &s, out);
  simargs_free(&s);
  return rc;
}

static const char *optimizer_name(int o)
{
  return o == PL_OPTIM_POST_VALIDATE ? "post-validate" : "sync";
}

/* The schedule-specific checks of the request for schedule name (NULL =
 * none named): per-rank limits and waves steer one generator each. */
static int simargs_check_schedule(const struct args *a,
                                  const struct simargs *s, const char *name)
{
  if (s->rq.mem_limits && name && strcmp(name, "zb-auto"))
    return pl_errf(a->eb, PL_EINVAL, "%s: a per-rank 'mem_limit' list applies "
                   "to zb-auto only; give one number for '%s'", a->fn, name);
  if (s->have_waves && name && strcmp(name, "hanayo"))
    return pl_errf(a->eb, PL_EINVAL, "%s: 'waves' applies to hanayo only",
                   a->fn);
  return 0;
}

/* The command's check_times: no answer holds infinite or huge times. */
static int check_times(const struct args *a, const pl_result *r, double it)
{
  double last = 0;
  for (int i = 0; i < r->stages; i++)
    if (!(r->ranks[i].last_end <= last))
      last = r->ranks[i].last_end;
  if (!(fabs(r->makespan) <= PL_TIME_MAX) || !(last <= PL_TIME_MAX) ||
      !(fabs(it) <= PL_TIME_MAX))
    return pl_errf(a->eb, PL_EINVAL, "%s: the costs make an iteration beyond "
                   "the largest time a result may hold (%g); lower tf/tb/tw/"
                   "comm/optimizer_time or the rank_speed multipliers",
                   a->fn, PL_TIME_MAX);
  return 0;
}

/* json_real with integers kept integral, as the command prints them. */
static json_t *num(double x)
{
  if (x == floor(x) && fabs(x) < 9e15)
    return json_integer((json_int_t)x);
  return json_real(x);
}

/* ------------------------------------------------------------- simulate -- */

static int simulate_args(const struct args *a, struct simargs *s,
                         json_t **out)
{
  static const char *const own[] = {
    "schedule", "schedule_file", "dialect", "detail", "save", "trace", NULL};
  const char *save = NULL, *trace = NULL;
  int detail = 0, rc;
  const char *known[64];
  size_t k = 0;
  for (size_t i = 0; simargs_keys[i]; i++)
    known[k++] = simargs_keys[i];
  for (size_t i = 0; own[i]; i++)
    known[k++] = own[i];
  known[k] = NULL;
  if ((rc = check_known(a, known)) || (rc = simargs_parse(a, s)) ||
      (rc = get_str(a, "schedule", &s->schedule)) ||
      (rc = get_str(a, "schedule_file", &s->schedule_file)) ||
      (rc = get_str(a, "dialect", &s->dialect_name)) ||
      (rc = get_str(a, "save", &save)) || (rc = get_str(a, "trace", &trace)) ||
      (rc = get_bool(a, "detail", &detail)))
    return rc;
  const pl_sim_request *rq = &s->rq;
  if (s->dialect_name) {
    if (!strcmp(s->dialect_name, "auto"))
      s->dialect = PL_DIALECT_AUTO;
    else if (!strcmp(s->dialect_name, "current"))
      s->dialect = PL_DIALECT_CURRENT;
    else if (!strcmp(s->dialect_name, "legacy"))
      s->dialect = PL_DIALECT_LEGACY;
    else
      return pl_errf(a->eb, PL_EINVAL, "simulate: 'dialect' must be auto, "
                     "current or legacy, got '%s'", s->dialect_name);
  }
  if (s->schedule && s->schedule_file)
    return pl_errf(a->eb, PL_EINVAL, "simulate: give 'schedule' or "
                   "'schedule_file', not both");
  if (!s->schedule && !s->schedule_file)
    return pl_errf(a->eb, PL_EINVAL, "simulate: missing 'schedule' (a "
                   "built-in name; schedules() lists them) or "
                   "'schedule_file' (a PyTorch schedule CSV)");
  if (s->schedule) {
    if (!pl_gen_find(s->schedule))
      return pl_errf(a->eb, PL_EINVAL, "simulate: unknown schedule '%s' "
                     "(schedules() lists the names)", s->schedule);
    if (!s->have_p)
      return pl_errf(a->eb, PL_EINVAL, "simulate: missing 'stages' (the "
                     "number of pipeline ranks)");
    if (!s->have_m)
      return pl_errf(a->eb, PL_EINVAL, "simulate: missing 'microbatches'");
  }

  pl_sched *sc = NULL;
  pl_costs *c = NULL;
  pl_result res = PL_RESULT_INIT;
  pl_csv_info info;
  json_t *j = NULL;
  memset(&info, 0, sizeof info);
  if (!rc)
    rc = simargs_check_schedule(a, s, s->schedule);
  if (!rc && s->schedule) {
    pl_gen_params gp = pl_sim_request_gen_params(rq);
    rc = pl_sched_gen(s->schedule, &gp, &sc, a->eb);
  } else if (!rc) {
    rc = pl_sched_load_csv(s->schedule_file, s->dialect, &sc, &info, a->eb);
    if (!rc && !pl_sched_name(sc)[0]) {
      const char *base = strrchr(s->schedule_file, '/');
      pl_sched_set_name(sc, base ? base + 1 : s->schedule_file);
    }
    if (!rc && s->have_p && rq->p != pl_sched_ranks(sc))
      rc = pl_errf(a->eb, PL_EINVAL, "simulate: stages=%d does not match the "
                   "%d ranks (rows) of '%s'", rq->p, pl_sched_ranks(sc),
                   s->schedule_file);
    if (!rc && s->have_m && rq->m != pl_sched_microbatches(sc))
      rc = pl_errf(a->eb, PL_EINVAL, "simulate: microbatches=%d does not "
                   "match the %d microbatches of '%s'", rq->m,
                   pl_sched_microbatches(sc), s->schedule_file);
    if (!rc && s->have_v && rq->v != pl_sched_chunks(sc))
      rc = pl_errf(a->eb, PL_EINVAL, "simulate: chunks=%d does not match the "
                   "%d chunks per rank of '%s'", rq->v, pl_sched_chunks(sc),
                   s->schedule_file);
  }
  if (!rc)
    rc = pl_sched_validate(sc, a->eb);
  if (!rc)
    rc = pl_sim_request_costs(rq, sc, &c, a->eb);
  if (!rc)
    rc = pl_sim_request_check_sched(rq, sc, a->eb);
  unsigned flags = detail || save || trace
                       ? PL_SIM_RECORD_OPS | PL_SIM_RECORD_MEM : 0;
  pl_trials tr;
  memset(&tr, 0, sizeof tr);
  if (!rc)
    rc = pl_sim_request_run(rq, sc, c, flags, &res, &tr, a->eb);
  double it = rc ? 0 : pl_sim_request_iteration_time(rq, &res);
  if (!rc)
    rc = check_times(a, &res, it);
  if (!rc && trace) {
    /* As the command: µs, with a unitless "unit" drawn as 1 ms. */
    const char *unit = rq->costs.time_unit;
    double us = pl_time_unit_us(unit);
    double scale = us > 0 ? us : !strcmp(unit, "unit") ? 1000.0 : 1.0;
    rc = pl_trace_write_chrome(&res, sc, c, scale, trace, a->eb);
  }
  if (!rc && save) {
    /* The result file of `simulate --save`. */
    json_t *f = pl_result_to_json(&res);
    char *text = NULL;
    rc = f ? 0 : PL_ENOMEM;
    if (!rc && (json_object_set_new(f, "optimizer",
                                    json_string(optimizer_name(rq->optimizer))) ||
                json_object_set_new(f, "iteration_time", json_real(it))))
      rc = PL_ENOMEM;
    if (!rc)
      rc = pl_result_add_detail_json(f, &res);
    if (!rc && !(text = json_dumps(f, JSON_INDENT(1) | JSON_REAL_PRECISION(17))))
      rc = PL_ENOMEM;
    json_decref(f);
    if (rc)
      pl_errf(a->eb, rc, "out of memory building the result file");
    else
      rc = pl_write_file_atomic(save, text, strlen(text), a->eb);
    pl_free(text); /* jansson allocates through the hook */
  }
  if (!rc) {
    /* The document of `simulate --format json`. */
    j = pl_result_to_json(&res);
    json_t *costs = json_object();
    int bad = !j || !costs;
    if (!bad) {
      bad |= json_object_set_new(j, "placement", json_string(pl_placement_name(
                                     pl_sched_placement(sc))));
      bad |= json_object_set_new(j, "optimizer",
                                 json_string(optimizer_name(rq->optimizer)));
      bad |= json_object_set_new(j, "iteration_time", num(it));
      bad |= json_object_set_new(costs, "tf", json_real(rq->costs.tf));
      bad |= json_object_set_new(costs, "tb", json_real(rq->costs.tb));
      bad |= json_object_set_new(costs, "tw", json_real(rq->costs.tw));
      bad |= json_object_set_new(costs, "comm", json_real(pl_costs_comm(c, 0)));
      bad |= json_object_set_new(costs, "mem_w_frac",
                                 json_real(rq->costs.mem_w_frac));
      bad |= put_runtime(costs, c->p2p_mode, c->op_gap, c->send_overhead,
                         c->recv_overhead, c->local_overhead, rq);
      bad |= json_object_set_new(costs, "optimizer_time",
                                 json_real(rq->optimizer_time));
      bad |= json_object_set_new(costs, "source", json_string("user"));
      bad |= json_object_set(j, "costs", costs);
      if (tr.n)
        bad |= json_object_set_new(j, "trials",
                                   pl_trials_to_json(&tr, rq->jitter_seed));
    }
    if (!bad && s->schedule_file) {
      json_t *ci = json_pack("{s:s, s:i, s:i, s:i, s:I, s:I}", "dialect",
                             pl_dialect_name(info.dialect), "ranks",
                             info.ranks, "stages", info.stages,
                             "microbatches", info.microbatches, "idle_cells",
                             (json_int_t)info.idle_cells, "comm_cells",
                             (json_int_t)info.comm_cells);
      bad |= json_object_set_new(j, "csv", ci);
    }
    json_decref(costs);
    if (!bad && detail)
      bad = pl_result_add_detail_json(j, &res) != 0;
    if (bad) {
      json_decref(j);
      j = NULL;
      rc = pl_errf(a->eb, PL_ENOMEM, "out of memory");
    }
  }
  pl_result_free(&res);
  pl_sched_destroy(sc);
  pl_costs_destroy(c);
  *out = j;
  return rc;
}

static int api_simulate(const struct args *a, json_t **out)
{
  return with_simargs(a, out, simulate_args);
}

/* --------------------------------------------------------------- whatif -- */

static int whatif_args(const struct args *a, struct simargs *s, json_t **out)
{
  pl_sim_request *rq = &s->rq;
  const char **only = NULL;
  int n_only = 0, rc;
  const char *known[64];
  size_t k = 0;
  for (size_t i = 0; simargs_keys[i]; i++)
    known[k++] = simargs_keys[i];
  known[k++] = "schedules";
  known[k] = NULL;
  /* The default case: the Zero Bubble paper's 1.5B model, its measured
   * per-stage costs in µs (docs/zero-bubble.md). */
  rq->p = 8;
  rq->m = 24;
  rq->costs.tf = 18522;
  rq->costs.tb = 18086;
  rq->costs.tw = 9337;
  rq->costs.comm = 601;
  rq->costs.mem_w_frac = 73728.0 / 201216.0;
  rq->costs.time_unit = "us";
  if ((rc = check_known(a, known)) || (rc = simargs_parse(a, s)) ||
      (rc = get_schedules(a, "schedules", &only, &n_only)))
    return rc;
  json_t *top = json_object(), *rows = json_array();
  int bad = !top || !rows;
  const pl_gen_info *gens = pl_gen_list();
  for (size_t i = 0; gens[i].name && !bad; i++) {
    int want = !only;
    for (int q = 0; q < n_only; q++)
      want |= only[q] == gens[i].name;
    if (!want)
      continue;
    struct pl_errbuf eb = PL_ERRBUF_INIT;
    pl_gen_params gp = pl_sim_request_gen_params(rq);
    pl_sched *sc = NULL;
    pl_costs *c = NULL;
    pl_result res = PL_RESULT_INIT;
    json_t *j;
    int e = pl_sched_gen(gens[i].name, &gp, &sc, &eb);
    if (!e)
      e = pl_sched_validate(sc, &eb);
    if (!e)
      e = pl_sim_request_costs(rq, sc, &c, &eb);
    pl_trials tr;
    memset(&tr, 0, sizeof tr);
    if (!e)
      e = pl_sim_request_run(rq, sc, c, 0, &res, &tr, &eb);
    if (e == PL_ENOMEM) {
      bad = 1;
    } else if (e) {
      /* A schedule that cannot take this case is a row, not a failure. */
      j = json_pack("{s:s, s:s}", "schedule", gens[i].name, "error",
                    eb.msg[0] ? eb.msg : pl_strerror(e));
      bad |= !j || json_array_append_new(rows, j);
    } else {
      j = pl_result_to_json(&res);
      bad |= !j || json_object_set_new(j, "iteration_time",
                                       json_real(pl_sim_request_iteration_time(
                                           rq, &res))) ||
             (tr.n && json_object_set_new(j, "trials",
                                          pl_trials_to_json(&tr,
                                                            rq->jitter_seed))) ||
             json_array_append_new(rows, j);
    }
    pl_result_free(&res);
    pl_sched_destroy(sc);
    pl_costs_destroy(c);
  }
  pl_free(only);
  if (!bad) {
    bad |= json_object_set_new(top, "stages", json_integer(rq->p));
    bad |= json_object_set_new(top, "microbatches", json_integer(rq->m));
    bad |= json_object_set_new(top, "time_unit",
                               json_string(rq->costs.time_unit));
    bad |= json_object_set_new(top, "optimizer",
                               json_string(optimizer_name(rq->optimizer)));
    bad |= put_runtime(top, rq->p2p, rq->op_gap, rq->send_overhead,
                       rq->recv_overhead, rq->local_overhead, rq);
    bad |= json_object_set_new(top, "optimizer_time",
                               json_real(rq->optimizer_time));
    bad |= json_object_set(top, "schedules", rows);
  }
  json_decref(rows);
  if (bad) {
    json_decref(top);
    return pl_errf(a->eb, PL_ENOMEM, "out of memory");
  }
  *out = top;
  return 0;
}

static int api_whatif(const struct args *a, json_t **out)
{
  return with_simargs(a, out, whatif_args);
}

/* ---------------------------------------------------------------- sweep -- */

/* "8..64:8", "8..64" or "16" (the command's --microbatches), or an integer,
 * or a list [lo, hi] / [lo, hi, step]. */
static int get_range(const struct args *a, const char *key, int *lo, int *hi,
                     int *step)
{
  json_t *v = json_object_get(a->o, key);
  long x[3] = {0, 0, 1};
  int k = 0;
  if (!v || json_is_null(v))
    return 0;
  if (json_is_integer(v)) {
    x[0] = x[1] = (long)json_integer_value(v);
    k = 2;
  } else if (json_is_array(v) && json_array_size(v) >= 2 &&
             json_array_size(v) <= 3) {
    for (k = 0; k < (int)json_array_size(v); k++) {
      json_t *e = json_array_get(v, (size_t)k);
      if (!json_is_integer(e))
        break;
      x[k] = (long)json_integer_value(e);
    }
    if (k != (int)json_array_size(v))
      k = 0;
  } else if (json_is_string(v)) {
    char tail;
    const char *s = json_string_value(v);
    if (sscanf(s, "%ld..%ld:%ld%c", &x[0], &x[1], &x[2], &tail) == 3)
      k = 3;
    else if (sscanf(s, "%ld..%ld%c", &x[0], &x[1], &tail) == 2)
      k = 2;
    else if (sscanf(s, "%ld%c", &x[0], &tail) == 1) {
      x[1] = x[0];
      k = 2;
    }
  }
  if (!k || x[0] < 1 || x[1] > (1 << 20) || x[1] < x[0] || x[2] < 1 ||
      x[2] > (1 << 20))
    return pl_errf(a->eb, PL_EINVAL, "%s: '%s' takes a count, a range "
                   "\"8..64\" or \"8..64:8\", or [lo, hi(, step)] with 1 <= "
                   "lo <= hi", a->fn, key);
  *lo = (int)x[0];
  *hi = (int)x[1];
  *step = (int)x[2];
  return 0;
}

static int api_sweep(const struct args *a, json_t **out)
{
  static const char *const known[] = {
    "gpus", "stages", "microbatches", "mb_size", "chunks", "schedules",
    "global_batch", "mem_limit", "top", "all", "jobs", "tf", "tb", "tw",
    "comm", "mem_w_frac", "p2p", "op_gap", "send_overhead", "recv_overhead",
    "local_handoff", NULL};
  pl_sweep_spec sp = PL_SWEEP_SPEC_INIT;
  int *stages = NULL, *mbs = NULL, *chunks = NULL, n_st = 0, n_mbs = 0,
      n_ch = 0, n_sched = 0, gb = 0, top = 10, all = 0, have_gpus = 0, rc;
  const char **sched = NULL;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  pl_sweep_point *pts = NULL;
  pl_sweep_eval *evs = NULL;
  size_t n = 0, *order = NULL;
  json_t *top_o = NULL;
  sp.m_lo = 8;
  sp.m_hi = 64;
  sp.m_step = 8;
  sp.jobs = cores > 0 ? (int)(cores < 256 ? cores : 256) : 1;
  if ((rc = check_known(a, known)) ||
      (rc = get_int(a, "gpus", 1, 1 << 20, &sp.gpus, &have_gpus)) ||
      (rc = get_int_list(a, "stages", 1, 4096, &stages, &n_st)) ||
      (rc = get_range(a, "microbatches", &sp.m_lo, &sp.m_hi, &sp.m_step)) ||
      (rc = get_int_list(a, "mb_size", 1, 1 << 16, &mbs, &n_mbs)) ||
      (rc = get_int_list(a, "chunks", 1, 64, &chunks, &n_ch)) ||
      (rc = get_schedules(a, "schedules", &sched, &n_sched)) ||
      (rc = get_int(a, "global_batch", 1, 1 << 30, &gb, NULL)) ||
      (rc = get_num(a, "mem_limit", 0, BIG, &sp.mem_limit, NULL)) ||
      (rc = get_int(a, "top", 1, 1 << 30, &top, NULL)) ||
      (rc = get_bool(a, "all", &all)) ||
      (rc = get_int(a, "jobs", 1, 256, &sp.jobs, NULL)) ||
      (rc = get_num(a, "tf", 0, BIG, &sp.tf, NULL)) ||
      (rc = get_num(a, "tb", 0, BIG, &sp.tb, NULL)) ||
      (rc = get_num(a, "tw", 0, BIG, &sp.tw, NULL)) ||
      (rc = get_num(a, "comm", 0, BIG, &sp.comm, NULL)) ||
      (rc = get_num(a, "mem_w_frac", 0, 1, &sp.mem_w_frac, NULL)) ||
      (rc = get_runtime(a, &sp.p2p_mode, &sp.op_gap, &sp.send_overhead,
                        &sp.recv_overhead, &sp.local_overhead)))
    goto out;
  if (!have_gpus) {
    rc = pl_errf(a->eb, PL_EINVAL, "sweep: missing 'gpus' (the GPUs to "
                 "spread over)");
    goto out;
  }
  if (!stages) {
    /* As the command: every divisor of the GPUs up to 64. */
    if (!(stages = pl_malloc(64 * sizeof *stages))) {
      rc = pl_errf(a->eb, PL_ENOMEM, "out of memory");
      goto out;
    }
    for (int p = 1; p <= 64 && p <= sp.gpus; p++)
      if (sp.gpus % p == 0)
        stages[n_st++] = p;
  }
  static const int one = 1, two_four[] = {2, 4};
  sp.stages = stages;
  sp.n_stages = n_st;
  sp.mb_sizes = mbs ? mbs : &one;
  sp.n_mb = mbs ? n_mbs : 1;
  sp.chunks = chunks ? chunks : two_four;
  sp.n_chunks = chunks ? n_ch : 2;
  sp.schedules = sched;
  sp.n_schedules = n_sched;
  sp.global_batch = gb;
  if ((rc = pl_sweep_enumerate(&sp, &pts, &evs, &n, a->eb)))
    goto out;
  double t0 = pl_now_us();
  if ((rc = pl_sweep_run(&sp, NULL, pts, evs, n, NULL, NULL, NULL, a->eb)))
    goto out;
  double secs = (pl_now_us() - t0) / 1e6;
  if ((rc = pl_sweep_rank(evs, n, &order))) {
    pl_errf(a->eb, rc, "out of memory");
    goto out;
  }
  size_t ok = 0, n_front = 0;
  for (size_t i = 0; i < n; i++)
    ok += evs[i].status == PL_SWEEP_OK;
  /* The Pareto front of throughput against peak memory (the command's):
   * walking the ranking, a point is on it when it needs less memory than
   * every faster one. */
  unsigned char *front = pl_calloc(n ? n : 1, 1);
  if (!front) {
    rc = pl_errf(a->eb, PL_ENOMEM, "out of memory");
    goto out;
  }
  double best_mem = INFINITY;
  for (size_t r = 0; r < n && evs[order[r]].status == PL_SWEEP_OK; r++)
    if (evs[order[r]].peak_mem < best_mem) {
      front[order[r]] = 1;
      best_mem = evs[order[r]].peak_mem;
      n_front++;
    }
  size_t rows = all ? n : ok < (size_t)top ? ok : (size_t)top;
  static const char *const st[] = {"ok", "rejected", "pruned", "skipped"};
  json_t *arr = json_array();
  int bad = !arr;
  for (size_t r = 0; r < rows && !bad; r++) {
    size_t i = order[r];
    const pl_sweep_point *pt = &pts[i];
    const pl_sweep_eval *ev = &evs[i];
    json_t *o = json_pack(
        "{s:I, s:I, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:b, s:s}",
        "rank", (json_int_t)r + 1, "index", (json_int_t)i, "schedule",
        pt->schedule, "stages", pt->p, "microbatches", pt->m, "mb_size",
        pt->mb_size, "chunks", pt->v, "dp", pt->dp, "tp", pt->tp, "cp",
        pt->cp, "recompute", pl_recompute_name(pt->recompute),
        "distributed_optimizer", pt->dist_opt, "status", st[ev->status & 3]);
    bad |= !o || json_array_append_new(arr, o);
    if (bad)
      break;
    if (ev->status == PL_SWEEP_OK || ev->iteration_time > 0) {
      bad |= json_object_set_new(o, "throughput", json_real(ev->throughput));
      bad |= json_object_set_new(o, "iteration_time",
                                 json_real(ev->iteration_time));
      bad |= json_object_set_new(o, "peak_activation_units",
                                 json_real(ev->peak_mem));
      bad |= json_object_set_new(o, "bubble_ratio", json_real(ev->bubble_ratio));
      bad |= json_object_set_new(o, "fits", json_boolean(ev->fits));
    }
    if (ev->status == PL_SWEEP_OK)
      bad |= json_object_set_new(o, "pareto", json_boolean(front[i]));
    else {
      bad |= json_object_set_new(o, "reason", json_string(ev->reason));
      if (ev->status == PL_SWEEP_REJECTED)
        bad |= json_object_set_new(o, "reject_kind",
                                   json_string(pl_sweep_why_name(ev->why)));
      if (ev->why == PL_WHY_MEMORY && ev->over > 0)
        bad |= json_object_set_new(o, "over_limit", json_real(ev->over));
    }
  }
  pl_free(front);
  top_o = bad ? NULL : json_object();
  bad |= !top_o;
  if (!bad) {
    bad |= json_object_set_new(top_o, "gpus", json_integer(sp.gpus));
    if (gb > 0)
      bad |= json_object_set_new(top_o, "global_batch", json_integer(gb));
    bad |= json_object_set_new(top_o, "points", json_integer((json_int_t)n));
    bad |= json_object_set_new(top_o, "accepted", json_integer((json_int_t)ok));
    bad |= json_object_set_new(top_o, "pareto_points",
                               json_integer((json_int_t)n_front));
    bad |= json_object_set_new(top_o, "seconds", json_real(secs));
    json_t *rt = json_object();
    bad |= !rt || put_runtime(rt, sp.p2p_mode, sp.op_gap, sp.send_overhead,
                              sp.recv_overhead, sp.local_overhead, NULL);
    bad |= json_object_set_new(top_o, "runtime", rt);
    bad |= json_object_set(top_o, "rows", arr);
  }
  json_decref(arr);
  if (bad) {
    json_decref(top_o);
    top_o = NULL;
    rc = pl_errf(a->eb, PL_ENOMEM, "out of memory");
  }
out:
  pl_free(stages);
  pl_free(mbs);
  pl_free(chunks);
  pl_free(sched);
  pl_free(pts);
  pl_free(evs);
  pl_free(order);
  *out = top_o;
  return rc;
}

/* ---------------------------------------------------------- load_result -- */

static int api_load_result(const struct args *a, json_t **out)
{
  static const char *const known[] = {"path", NULL};
  const char *path = NULL;
  pl_result r = PL_RESULT_INIT;
  int rc;
  if ((rc = check_known(a, known)) || (rc = get_str(a, "path", &path)))
    return rc;
  if (!path)
    return pl_errf(a->eb, PL_EINVAL, "load_result: missing 'path'");
  if ((rc = pl_result_load(path, &r, a->eb)))
    return rc;
  json_t *j = pl_result_to_json(&r);
  rc = j ? pl_result_add_detail_json(j, &r) : PL_ENOMEM;
  pl_result_free(&r);
  if (!rc) {
    /* A result file keeps what the reader does not hold (optimizer,
     * iteration_time, a model's figures): passed through unchanged. */
    json_t *f = json_load_file(path, 0, NULL);
    if (json_is_object(f) && !json_object_get(f, "traceEvents")) {
      const char *key;
      json_t *v;
      json_object_foreach(f, key, v)
        if (!json_object_get(j, key) && json_object_set(j, key, v))
          rc = PL_ENOMEM;
    }
    json_decref(f);
  }
  if (rc) {
    json_decref(j);
    return pl_errf(a->eb, rc, "out of memory");
  }
  *out = j;
  return 0;
}

/* ------------------------------------------------- schedules, version -- */

static int api_schedules(const struct args *a, json_t **out)
{
  static const char *const known[] = {NULL};
  int rc;
  if ((rc = check_known(a, known)))
    return rc;
  json_t *arr = json_array();
  int bad = !arr;
  for (const pl_gen_info *g = pl_gen_list(); g->name && !bad; g++)
    bad |= json_array_append_new(
        arr, json_pack("{s:s, s:s, s:i, s:s}", "name", g->name, "summary",
                       g->summary, "default_chunks", g->default_chunks,
                       "placement", pl_placement_name(g->placement)));
  if (bad) {
    json_decref(arr);
    return pl_errf(a->eb, PL_ENOMEM, "out of memory");
  }
  *out = arr;
  return 0;
}

static int api_version(const struct args *a, json_t **out)
{
  static const char *const known[] = {NULL};
  int rc;
  if ((rc = check_known(a, known)))
    return rc;
  *out = json_pack("{s:s, s:s, s:s}", "version", pl_version(), "git_rev",
                   pl_git_rev(), "backends", pl_backends());
  return *out ? 0 : pl_errf(a->eb, PL_ENOMEM, "out of memory");
}

/* --------------------------------------------------------------- entry -- */

static const struct {
  const char *name;
  int (*fn)(const struct args *a, json_t **out);
} api_fns[] = {
  {"simulate", api_simulate},   {"whatif", api_whatif},
  {"sweep", api_sweep},         {"load_result", api_load_result},
  {"schedules", api_schedules}, {"version", api_version},
};

static void set_out(char **dst, const char *s)
{
  if (dst)
    *dst = s ? pl_strdup(s) : NULL;
}

int pl_api_call(const char *fn, const char *json_args, char **json_out,
                char **err_out)
{
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  struct args a = {fn, NULL, &eb};
  json_t *res = NULL;
  int rc = PL_EINVAL;
  set_out(json_out, NULL);
  set_out(err_out, NULL);
  if (!fn) {
    pl_errf(&eb, PL_EINVAL, "no function named");
    goto out;
  }
  size_t i, nf = sizeof api_fns / sizeof api_fns[0];
  for (i = 0; i < nf && strcmp(api_fns[i].name, fn); i++)
    ;
  if (i == nf) {
    pl_errf(&eb, PL_EINVAL, "unknown function '%s' (simulate, whatif, sweep, "
            "load_result, schedules, version)", fn);
    goto out;
  }
  json_error_t je;
  if (!json_args || !json_args[0])
    a.o = json_object();
  else
    a.o = json_loads(json_args, JSON_REJECT_DUPLICATES, &je);
  if (!a.o) {
    pl_errf(&eb, PL_EINVAL, "%s: arguments are not valid JSON: %s", fn,
            je.text);
    goto out;
  }
  if (!json_is_object(a.o)) {
    pl_errf(&eb, PL_EINVAL, "%s: arguments must be a JSON object", fn);
    goto out;
  }
  rc = api_fns[i].fn(&a, &res);
  if (!rc) {
    char *text = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text)
      rc = pl_errf(&eb, PL_ENOMEM, "out of memory");
    else if (json_out && !(*json_out = pl_strdup(text)))
      rc = pl_errf(&eb, PL_ENOMEM, "out of memory");
    pl_free(text); /* jansson allocates through the hook */
  }
out:
  json_decref(a.o);
  json_decref(res);
  if (rc) {
    if (json_out) {
      pl_free(*json_out);
      *json_out = NULL;
    }
    set_out(err_out, eb.msg[0] ? eb.msg : pl_strerror(rc));
  }
  return rc;
}

void pl_api_free(char *s) { pl_free(s); }
