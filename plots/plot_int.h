/* plot_int.h: what the plot files share: running gnuplot on a filled-in
 * template inside a temporary directory. Library-internal (pl__ prefix). */
#ifndef PL_PLOT_INT_H
#define PL_PLOT_INT_H

#include "pipelab/plots.h"

/* A data file written into the temporary directory before gnuplot runs. */
struct pl__plot_file {
  const char *name;       /* plain file name, e.g. "ops.dat" */
  const struct pl_buf *data;
};

/*
 * Runs one plot: checks the output path and its extension, finds gnuplot,
 * writes files[0..nfiles) and the template tmpl (an embedded plots/<name>.gp)
 * with its @KEY@ placeholders replaced from kv (pairs key, value; NULL
 * terminated) into a new temporary directory, runs gnuplot there and moves
 * the figure to path atomically. The placeholders @TERMINAL@ (a complete
 * "set terminal" line at width x height) and @OUTPUT@ (the temporary
 * output file's name, for a single-quoted string) are always defined.
 * Values are inserted verbatim: quote user text with pl__plot_quote.
 */
int pl__plot_run(const pl_plot_opts *o, const char *path, int width,
                 int height, const char *tmpl, const char *const *kv,
                 const struct pl__plot_file *files, size_t nfiles,
                 struct pl_errbuf *eb);

/* Appends s made safe for a gnuplot single-quoted string (quote doubled,
 * control characters replaced by spaces), without the quotes. */
int pl__plot_quote(struct pl_buf *b, const char *s);

/* Copies s into buf as one data-file token: whitespace, quotes and control
 * characters become '_', an empty string becomes "-". */
void pl__plot_token(char *buf, size_t len, const char *s);

/* Formats x with up to 10 significant digits in the C locale ("%.10g"). */
const char *pl__plot_num(char buf[32], double x);

/* Validates the output path up front (extension, directory exists and is
 * writable) so that errors come before any work. */
int pl__plot_check_output(const char *path, int *fmt, struct pl_errbuf *eb);

#endif
