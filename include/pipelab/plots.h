/*
 * plots.h: gnuplot figures for reports: the pipeline timeline as
 * drawn in the zero-bubble paper, activation memory over time, predicted vs
 * real iteration time, and throughput sweeps.
 *
 * How a plot is made: the library writes gnuplot data files and a script
 * (filled in from a template in plots/<name>.gp that is embedded in the binary)
 * into a fresh temporary directory ($TMPDIR or /tmp, "pipelab-plot-XXXXXX"),
 * runs gnuplot on it headless (fork/exec, stdin and stdout on /dev/null,
 * stderr captured into the error message), then copies the figure to the
 * requested path atomically (path.tmp, then rename) so that a failure never
 * leaves a partial figure, and removes the temporary directory.
 *
 * The output format is chosen by the extension of the path: ".png"
 * (pngcairo), ".svg" or ".pdf" (pdfcairo), case-insensitive. Anything else is
 * PL_EINVAL.
 *
 * gnuplot is looked up as pl_plot_opts.gnuplot, else $PIPELAB_GNUPLOT, else
 * "gnuplot" on $PATH. When it cannot be found every plot function returns
 * PL_EEXTERNAL with "gnuplot not found: install it with 'apt-get install
 * gnuplot-nox'". A gnuplot that fails returns PL_EEXTERNAL with the first
 * line of its stderr.
 *
 * Ownership: results and rows are borrowed for the duration of the call;
 * nothing is retained. Output buffers (struct pl_buf) are appended to and
 * belong to the caller. Rows returned by pl_plot_sweep_load are owned by the
 * caller (pl_plot_sweep_free).
 *
 * Thread safety: plot functions may run concurrently on distinct outputs
 * (each uses its own temporary directory); they fork a child process.
 */
#ifndef PIPELAB_PLOTS_H
#define PIPELAB_PLOTS_H

#include "pipelab/pipelab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output formats (by extension). */
enum pl_plot_format {
  PL_PLOT_PNG = 0,
  PL_PLOT_SVG = 1,
  PL_PLOT_PDF = 2
};

/* Picks the format from path's extension into *fmt; PL_EINVAL with a message
 * naming the accepted extensions otherwise. */
int pl_plot_format_from_path(const char *path, int *fmt, struct pl_errbuf *eb);

/* Compare plot styles. */
enum pl_plot_compare_style {
  PL_PLOT_BARS = 0,    /* clustered bars: predicted and real per schedule */
  PL_PLOT_SCATTER = 1  /* real against predicted, with the y = x line */
};

/* Options shared by all plots; start from PL_PLOT_OPTS_INIT. */
typedef struct pl_plot_opts {
  int width, height;   /* pixels (PNG, SVG; PDF uses width/100 inches);
                          0 = chosen from the data */
  const char *title;   /* NULL = automatic (schedule, p, m, v, bubble) */
  int labels;          /* timeline: microbatch numbers in wide boxes */
  double mem_limit;    /* memory: horizontal limit line when > 0 */
  int style;           /* compare: enum pl_plot_compare_style */
  const char *gnuplot; /* gnuplot executable; NULL = $PIPELAB_GNUPLOT or PATH */
  double timeout_s;    /* gnuplot is killed after this long; 0 = 120 s */
} pl_plot_opts;
#define PL_PLOT_OPTS_INIT {0, 0, NULL, 1, 0.0, PL_PLOT_BARS, NULL, 0.0}

/*
 * Timeline (the zero-bubble paper's pipeline figure): one row per rank,
 * rank 0 at the top; every op a box from its start to its end coloured by
 * kind (F blue, B teal, W purple, BW green, fused FB orange) and labelled with
 * its microbatch number when the box is wide enough; idle time stays white.
 * The x axis is in the result's time unit; the title names the schedule, p,
 * m, v, the makespan and the bubble ratio. An SVG carries one hypertext
 * marker "pl-op:<op> rank <r> [start, end]" per op (a tooltip).
 * r must have ops recorded (PL_SIM_RECORD_OPS or a result file with ops):
 * PL_EINVAL otherwise. o may be NULL (defaults).
 */
int pl_plot_timeline(const pl_result *r, const pl_plot_opts *o,
                     const char *path, struct pl_errbuf *eb);

/*
 * Activation memory per rank over time (step lines, one colour per rank), in
 * the result's memory unit, with a dashed horizontal line at o->mem_limit
 * when it is > 0. r must have the memory timeline recorded
 * (PL_SIM_RECORD_MEM): PL_EINVAL otherwise.
 */
int pl_plot_memory(const pl_result *r, const pl_plot_opts *o, const char *path,
                   struct pl_errbuf *eb);

/* Default-option shorthands (used by `pipelab whatif --plots DIR`). */
int pl_plot_timeline_file(const pl_result *r, const char *path,
                          struct pl_errbuf *eb);
int pl_plot_memory_file(const pl_result *r, double mem_limit, const char *path,
                        struct pl_errbuf *eb);

/*
 * Predicted against real iteration time (the makespan) for n pairs:
 * pred[i] and real[i] (usually the same schedule, simulated and measured).
 * Bars: two bars per pair, labelled with the schedule name and the error
 * (real - predicted) / real in percent. Scatter: one point per pair with the
 * y = x line. Time units are converted when both are one of ns, us, ms, s;
 * other differing units are PL_EINVAL.
 */
int pl_plot_compare(const pl_result *const *pred, const pl_result *const *real,
                    size_t n, const pl_plot_opts *o, const char *path,
                    struct pl_errbuf *eb);

/*
 * One row of a sweep (`pipelab sweep --format json|csv`; docs/plots.md lists
 * the columns). Numbers that were absent are -1 (fits: -1 unknown, 0, 1).
 * The second field of each pair is the sweep's unit-free variant used when
 * no model prices the points (constant costs): throughput in microbatches
 * per time unit, iteration_time in time units, peak_units in activation
 * units.
 */
typedef struct pl_sweep_row {
  char schedule[64];
  int stages, microbatches, mb_size, chunks;
  double tokens_per_second, throughput;
  double iteration_seconds, iteration_time;
  double peak_gib, peak_units;
  int fits; /* "fits", else "status" ("ok" = 1, anything else = 0) */
} pl_sweep_row;

/*
 * Reads sweep rows from JSON (an array of objects, or an object with a
 * "rows" or "results" array) or CSV (a header line naming the columns, in any
 * order; unknown columns are ignored), detected from the first non-blank
 * character ('[' or '{' = JSON). Every row needs "schedule"; at least one
 * row must have a value to plot (tokens_per_second, throughput,
 * iteration_seconds or iteration_time); rows without one (rejected points)
 * are kept and not drawn. *rows is pl_malloc'ed (caller frees with
 * pl_plot_sweep_free); PL_EPARSE with the line or index on bad input.
 */
int pl_plot_sweep_parse(const char *text, size_t len, pl_sweep_row **rows,
                        size_t *n, struct pl_errbuf *eb);
int pl_plot_sweep_load(const char *path, pl_sweep_row **rows, size_t *n,
                       struct pl_errbuf *eb);
void pl_plot_sweep_free(pl_sweep_row *rows);

/*
 * Throughput against configuration: one point per row at x = configuration
 * (rows grouped by stages, mb_size, chunks, microbatches, in ascending
 * order, tick labels "p4 m8 b1 v1"), y = the first of tokens_per_second,
 * throughput, iteration_seconds, iteration_time that any row has, one colour
 * per schedule; rows that do not fit in memory (fits = 0) are drawn as open
 * circles; rows without that value are not drawn.
 */
int pl_plot_sweep(const pl_sweep_row *rows, size_t n, const pl_plot_opts *o,
                  const char *path, struct pl_errbuf *eb);

/*
 * A model-priced sweep as throughput (tokens_per_second) against peak GiB
 * per GPU (peak_gib): one colour per schedule (open circles: does not fit),
 * the Pareto front of the fitting points as a line, o->mem_limit (GiB, > 0)
 * as a vertical line; no per-point labels, so any number of points stays
 * readable. Rows without both values are not drawn.
 */
int pl_plot_sweep_pareto(const pl_sweep_row *rows, size_t n,
                         const pl_plot_opts *o, const char *path,
                         struct pl_errbuf *eb);

/* ---- pieces, exposed for tests and tools ---- */

/*
 * The timeline's data: a comment header, then exactly one line per op in
 * r->ops order: "rank start end kind mb stage color label show name", where
 * kind is the op kind name, color the fill as 0xRRGGBB, label the text
 * drawn inside the box, show 1 when the box is wide enough for it at a plot
 * width of width_px pixels (0 = default), name the op text ("F3s2").
 */
int pl_plot_timeline_data(const pl_result *r, int width_px, struct pl_buf *out,
                          struct pl_errbuf *eb);
/* The memory data: one gnuplot data block per rank (separated by two blank
 * lines), "t value" lines starting at (0, 0) and ending at the makespan. */
int pl_plot_memory_data(const pl_result *r, struct pl_buf *out,
                        struct pl_errbuf *eb);

/* Fill colour of an op kind as 0xRRGGBB. */
unsigned pl_plot_kind_color(int kind);

/* Resolves the gnuplot executable into buf (see above); PL_EEXTERNAL with
 * the install hint when it cannot be found. */
int pl_plot_find_gnuplot(const char *hint, char *buf, size_t len,
                         struct pl_errbuf *eb);

#ifdef __cplusplus
}
#endif

#endif
