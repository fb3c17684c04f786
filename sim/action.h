/*
 * action.h: the one grammar of PyTorch pipelining actions
 * (torch.distributed.pipelining; docs/schedule-csv.md, "The format" and "Dialects and detection"), shared by
 * the schedule CSV reader (sim/csv.c) and the Kineto trace importer
 * (traces/kineto.c through pl_action_parse). Library-internal (pl__); the
 * public entry point is pl_action_parse in sim.h.
 *
 * An action is parsed in two steps: the text into "raw" types (B and BW mean
 * different things in the two dialects), then, once the dialect is known
 * (from the whole file, or from the one action), the raw types are mapped to
 * the current vocabulary (enum pl_pt_type).
 */
#ifndef PL_SIM_ACTION_H
#define PL_SIM_ACTION_H

#include <stddef.h>

#include "pipelab/pipelab.h"

/* Largest stage and microbatch numbers: a stage fits pl_op's int16, and
 * stages x microbatches bounds the per-(stage, microbatch) tables. */
#define PL__ACT_MAX_STAGE 32766
#define PL__ACT_MAX_MB 16777215

/* Raw token types: what the text says before the dialect is known. A parsed
 * simple action stores -1 - raw in pl_pt_action.type; compounds carry their
 * pl_pt type and raw types in sub[]. */
enum pl__act_raw {
  PL__RAW_NONE = 0, PL__RAW_F, PL__RAW_I, PL__RAW_B, PL__RAW_W, PL__RAW_BW,
  PL__RAW_SEND_F, PL__RAW_RECV_F, PL__RAW_SEND_B, PL__RAW_RECV_B,
  PL__RAW_UNSHARD, PL__RAW_RESHARD, PL__RAW_REDUCE_GRAD
};

/* What parsed actions contain, for dialect detection. */
struct pl__act_seen {
  int has_i, has_bw, has_fused, has_w;
};

/* Whitespace as the reader strips it around a cell. */
int pl__act_is_space(char c);

/* Renders up to about len - 4 characters of s (n bytes) into buf for a
 * message, control bytes as '?', "..." when cut; returns buf. */
const char *pl__act_show(const char *s, size_t n, char *buf, size_t len);

/* Parses one stripped, non-empty cell (n bytes, no NUL needed) into a raw
 * action. Returns 0, or -1 with a one-line reason in why (wl bytes). */
int pl__act_parse(const char *s, size_t n, pl_pt_action *a, char *why,
                  size_t wl);

/* Adds what a raw action says about the dialect to *st. */
void pl__act_note(const pl_pt_action *a, struct pl__act_seen *st);

/* The dialect a file (or one action) with these tokens is written in. */
int pl__act_dialect(const struct pl__act_seen *st);

/* Maps a raw action in place to the dialect's vocabulary. Returns 0, or -1
 * with the reason in why (a token that does not exist in the dialect). */
int pl__act_map(pl_pt_action *a, int dialect, char *why, size_t wl);

/* A mapped action as an op: 1 compute, 0 nothing to run (comm, idle), -1 a
 * compound that is not F plus I/B. */
int pl__act_to_op(const pl_pt_action *a, pl_op *op);

#endif
