/* models_int.h: internals shared by the files of models/ (and its tests). */
#ifndef PL_MODELS_INT_H
#define PL_MODELS_INT_H

#include "pipelab/models.h"

/* One measured point: microbatch size, sequence length, mean time (µs). */
struct pl__point {
  double b, s, us;
};

/* Samples of the newest calibration for (gpu, layer kind, op, hidden, tp,
 * dtype), model-specific or generic; with per_point, of the newest
 * calibration per (mb_size, seq_len) point instead (a calibrate run measures
 * one point; several runs build the grid). *out pl_malloc'ed; *calib_id (may
 * be NULL) receives the newest calibration id used (0 when none). */
int pl__db_samples(pl_db *db, const char *gpu, const char *model,
                   const char *layer_kind, int op_kind, int hidden, int tp,
                   const char *dtype, int per_point, struct pl__point **out,
                   size_t *n, int64_t *calib_id, struct pl_errbuf *eb);

/* SQLite result code -> pl_err with a message naming the database file:
 * the one error mapping of the database (a corrupt or foreign file gives the
 * same message whatever step, `what`, met it). */
int pl__db_fail(pl_db *db, int rc, const char *what, struct pl_errbuf *eb);

/* The underlying sqlite3 connection (borrowed): for models/ and for tests
 * that damage or inspect a file on purpose; nothing outside models/ runs
 * SQL. */
struct sqlite3 *pl__db_sqlite(pl_db *db);

/* Ratio interpolation over the points (docs/cost-model.md): ratio[i] is
 * measured / analytic at point i; returns the ratio at (b, s) and the
 * source (MEASURED, INTERPOLATED or EXTRAPOLATED). */
double pl__interp_ratio(const struct pl__point *pts, const double *ratio,
                        size_t n, double b, double s, int *source);

/* One GEMM of (M x K) . (K x N), batch times, at `peak` FLOP/s with
 * in_bytes per input element: the kernel model's roofline (price.c). */
double pl__gemm_us(const pl_gpu_spec *g, double M, double N, double K,
                   double batch, double peak, double in_bytes);

#endif
