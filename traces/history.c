/* history.c: run history in the pipelab database: store a result as a run,
 * read it back, list runs with their drift from a baseline. The SQL lives in
 * models/runs.c (pl_db_run_save, pl_db_run_load, pl_db_run_list); this file
 * maps results onto runs and computes the drift. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipelab/models.h"
#include "traces_int.h"

int pl_history_record(struct pl_db *db, const pl_result *r,
                      const pl_history_params *hp, int64_t *id,
                      struct pl_errbuf *eb)
{
  /* The models module owns the runs tables and their one writer
   * (pl_db_run_save); history only maps its parameters onto it. */
  pl_history_params defaults = PL_HISTORY_PARAMS_INIT;
  if (!db)
    return pl_errf(eb, PL_EMISUSE, "no database");
  if (!hp)
    hp = &defaults;
  if (r->stages <= 0 || r->microbatches <= 0 ||
      r->virtual_stages < r->stages || r->chunks <= 0 ||
      !isfinite(r->makespan) || r->makespan < 0)
    return pl_errf(eb, PL_EINVAL, "cannot record a result without ranks, "
                   "microbatches or a finite makespan");
  int sim = strcmp(r->source, "sim") == 0;
  pl_run_info info = PL_RUN_INFO_INIT;
  info.kind = sim ? "simulated" : "real";
  info.backend = r->source[0] ? r->source : "sim";
  info.label = hp->label;
  info.model_name = hp->model_name;
  info.gpu_name = hp->gpu_name;
  info.cost_source = hp->cost_source ? hp->cost_source
                     : sim           ? "user"
                                     : "executed";
  info.params_json = hp->params_json;
  info.iteration_time = hp->iteration_time;
  return pl_db_run_save(db, &info, r, id, eb);
}

int pl_history_load(struct pl_db *db, int64_t id, pl_result *r,
                    struct pl_errbuf *eb)
{
  return pl_db_run_load(db, id, r, eb);
}

int pl_history_list(struct pl_db *db, const pl_history_query *q,
                    pl_history_run **out, size_t *n, struct pl_errbuf *eb)
{
  pl_history_query dq = PL_HISTORY_QUERY_INIT;
  pl_db_run_row *rows = NULL;
  pl_history_run *v = NULL;
  size_t k = 0;
  int rc;
  *out = NULL;
  *n = 0;
  if (!q)
    q = &dq;
  double thr = q->threshold_pct > 0 ? q->threshold_pct : 5;
  if ((rc = pl_db_run_list(db, q->schedule, q->stages, q->microbatches, &rows,
                           &k, eb)))
    return rc;
  if (k && !(v = pl_calloc(k, sizeof *v))) {
    pl_free(rows);
    return pl_errf(eb, PL_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < k; i++) {
    const pl_db_run_row *y = &rows[i];
    pl_history_run *x = &v[i];
    x->id = y->id;
    x->created_at_ns = y->created_at_ns;
    memcpy(x->kind, y->kind, sizeof x->kind);
    memcpy(x->backend, y->backend, sizeof x->backend);
    memcpy(x->schedule, y->schedule, sizeof x->schedule);
    memcpy(x->label, y->label, sizeof x->label);
    memcpy(x->host, y->host, sizeof x->host);
    memcpy(x->version, y->version, sizeof x->version);
    memcpy(x->time_unit, y->time_unit, sizeof x->time_unit);
    x->stages = y->stages;
    x->microbatches = y->microbatches;
    x->chunks = y->chunks;
    x->makespan = y->makespan;
    x->bubble_ratio = y->bubble_ratio;
    x->peak_mem = y->peak_mem;
    x->drift_pct = NAN;
  }
  pl_free(rows);

  /* Baselines: an explicit run, or the first run of the same case. */
  double base_ms = NAN;
  char base_unit[8] = "";
  if (q->baseline) {
    pl_result b;
    if ((rc = pl_history_load(db, q->baseline, &b, eb)))
      goto fail;
    base_ms = b.makespan;
    snprintf(base_unit, sizeof base_unit, "%s", b.time_unit);
    pl_result_free(&b);
  }
  for (size_t i = 0; i < k; i++) {
    pl_history_run *x = &v[i];
    double ref = NAN, f = 1;
    if (q->baseline) {
      x->baseline = q->baseline;
      ref = base_ms;
      if (strcmp(base_unit, x->time_unit)) {
        double a = pl_time_unit_us(base_unit), b = pl_time_unit_us(x->time_unit);
        f = a > 0 && b > 0 ? b / a : NAN;
      }
    } else {
      for (size_t j = 0; j < i; j++) {
        const pl_history_run *y = &v[j];
        if (!strcmp(y->kind, x->kind) && !strcmp(y->backend, x->backend) &&
            !strcmp(y->schedule, x->schedule) && y->stages == x->stages &&
            y->microbatches == x->microbatches && y->chunks == x->chunks &&
            !strcmp(y->time_unit, x->time_unit)) {
          x->baseline = y->id;
          ref = y->makespan;
          break;
        }
      }
    }
    if (x->baseline && x->baseline != x->id && ref > 0 && isfinite(f)) {
      x->drift_pct = 100.0 * (x->makespan * f - ref) / ref;
      x->flagged = fabs(x->drift_pct) > thr;
    }
  }
  if (q->limit && k > q->limit) {
    memmove(v, v + (k - q->limit), q->limit * sizeof *v);
    k = q->limit;
  }
  *out = v;
  *n = k;
  return PL_OK;
fail:
  pl_free(v);
  return rc;
}

int pl_history_open(const char *path, int create, struct pl_db **db,
                    struct pl_errbuf *eb)
{
  char buf[4096];
  *db = NULL;
  if (!path) {
    int rc = pl_db_default_path(buf, sizeof buf, eb);
    if (rc)
      return rc;
    path = buf;
  }
  return pl_db_open(path, create ? 0 : PL_DB_NO_CREATE | PL_DB_READ_ONLY, 0,
                    db, eb);
}

int pl_result_load_any(const char *spec, const char *db_path, pl_result *r,
                       struct pl_errbuf *eb)
{
  pl_result z = PL_RESULT_INIT;
  *r = z;
  if (strncmp(spec, "run:", 4) != 0)
    return pl_result_load(spec, r, eb);
  char *end;
  long long id = strtoll(spec + 4, &end, 10);
  if (end == spec + 4 || *end || id <= 0)
    return pl_errf(eb, PL_EINVAL, "'%s': expected run:<id> with a positive id",
                   spec);
  pl_db *db;
  int rc = pl_history_open(db_path, 0, &db, eb);
  if (rc)
    return rc;
  rc = pl_history_load(db, id, r, eb);
  pl_db_close(db);
  return rc;
}
