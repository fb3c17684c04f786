/* traces_int.h: helpers shared by the traces/ sources (not public). */
#ifndef PL_TRACES_INT_H
#define PL_TRACES_INT_H

#include "pipelab/traces.h"

/* Appends s as a JSON string literal (quotes included, escaped). */
int pl__json_str(struct pl_buf *b, const char *s);

/* Typed field access with messages naming the field: "<where>.<key>:
 * missing" / "expected an integer". where may be "" (top level). Every
 * getter returns PL_OK or PL_EPARSE (message in eb, prefixed by nothing: the
 * caller prefixes the file name). opt = 1 makes a missing key (or null)
 * return PL_OK with *out unchanged. */
int pl__jget_int(const json_t *o, const char *where, const char *key, int opt,
                 long long lo, long long hi, long long *out,
                 struct pl_errbuf *eb);
int pl__jget_num(const json_t *o, const char *where, const char *key, int opt,
                 double *out, struct pl_errbuf *eb);
/* pl__jget_num for a time: also PL_EPARSE when |value| > PL_TIME_MAX. */
int pl__jget_time(const json_t *o, const char *where, const char *key,
                  int opt, double *out, struct pl_errbuf *eb);
int pl__jget_str(const json_t *o, const char *where, const char *key, int opt,
                 char *out, size_t len, struct pl_errbuf *eb);

/* "F" "B" "W" "BW" "FB" -> kind, or -1. */
int pl__kind_from_name(const char *s);

/* Sorts r->ops by rank then start (index order on ties), renumbers index,
 * fills r->ranks[] (busy, first/last, n_ops), peaks from r->mem when
 * present, then pl_result_summarize. r->stages must be set and ranks
 * allocated by the caller (calloc'ed). */
void pl__result_rebuild(pl_result *r, int keep_peaks);

/* Prefixes eb->msg with "name: " (no-op when eb or name is NULL). */
void pl__err_prefix(struct pl_errbuf *eb, const char *name);

#endif
