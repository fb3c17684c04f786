/*
 * sim.h: the schedule IR, schedule generators, PyTorch CSV import/export,
 * validation, the cost table the engine consumes, the discrete-event engine
 * and the result format shared by the simulator and the executor.
 *
 * Ownership summary:
 * - pl_sched is an opaque handle: pl_sched_create / pl_sched_gen /
 *   pl_sched_read_csv create it, pl_sched_destroy frees it. Pointers returned
 *   by accessors are borrowed and valid until the schedule is modified or
 *   destroyed.
 * - pl_costs is a public struct whose arrays it owns: pl_costs_create
 *   allocates, pl_costs_destroy frees.
 * - pl_result is a public struct whose arrays it owns: filled by pl_sim_run
 *   (or the executor), freed by pl_result_free.
 *
 * Semantics (docs/architecture.md, docs/transfers.md): an op starts when its
 * rank is free and its one data predecessor has ended (plus a P2P cost when
 * that predecessor ran on another rank; the P2P mode decides who waits for a
 * transfer).
 */
#ifndef PIPELAB_SIM_H
#define PIPELAB_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pipelab/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pl_errbuf;

/* ------------------------------------------------------------------ IR --- */

/* Op kinds. B = input-gradient backward, W = weight-gradient backward, BW =
 * unsplit backward. FB = a fused pair (DualPipe F&B, PyTorch OVERLAP_F_B):
 * the forward (stage, mb) and a backward (stage2, mb2) of kind kind2
 * (PL_OP_B or PL_OP_BW) executed as one op. */
enum pl_op_kind {
  PL_OP_F = 0,
  PL_OP_B = 1,
  PL_OP_W = 2,
  PL_OP_BW = 3,
  PL_OP_FB = 4,
  PL_OP_NKINDS = 5
};

/* One op: 16 bytes. stage is the global virtual stage g = 0 .. S-1. */
typedef struct pl_op {
  int32_t mb;
  int32_t mb2;   /* FB only: microbatch of the backward part, else -1 */
  int16_t stage;
  int16_t stage2; /* FB only: stage of the backward part, else -1 */
  uint8_t kind;   /* enum pl_op_kind */
  uint8_t kind2;  /* FB only: PL_OP_B or PL_OP_BW */
  uint8_t pad[2];
} pl_op;
#define PL_OP_INIT {-1, -1, -1, -1, PL_OP_F, PL_OP_BW, {0, 0}}

/* "F", "B", "W", "BW", "FB". */
const char *pl_op_kind_name(int kind);
/* Formats an op as pipelab text ("F3s2", "BW0s5", "F7s0&B3s7") into buf. */
int pl_op_format(const pl_op *op, char *buf, size_t len);

/* Placement of virtual stages on ranks (docs/architecture.md, placement). */
enum pl_placement {
  PL_PLACE_SINGLE = 0, /* v = 1: stage s on rank s */
  PL_PLACE_LOOP = 1,   /* stage k on rank k mod p */
  PL_PLACE_V = 2,      /* zig-zag: 0..p-1 then p-1..0 (waves for v > 2) */
  PL_PLACE_CUSTOM = 3  /* explicit map (e.g. inferred from a CSV) */
};
const char *pl_placement_name(int placement);

typedef struct pl_sched pl_sched;

/*
 * Creates an empty schedule of p ranks, n_stages = p*v virtual stages and m
 * microbatches with the given placement (not CUSTOM; use
 * pl_sched_set_stage_rank afterwards for a custom map). *out is owned by the
 * caller; free with pl_sched_destroy.
 */
int pl_sched_create(int p, int n_stages, int m, int placement, pl_sched **out,
                    struct pl_errbuf *eb);
void pl_sched_destroy(pl_sched *s);

/* Overrides the rank of one stage (placement becomes CUSTOM unless the map
 * still equals a known placement; see pl_sched_detect_placement). */
int pl_sched_set_stage_rank(pl_sched *s, int stage, int rank);
/* Re-derives the placement name from the stage map. */
void pl_sched_detect_placement(pl_sched *s);

/*
 * Replicated stages (bidirectional schedules: Chimera, DualPipe; see
 * docs/bidirectional.md). A stage may have a second copy on another rank;
 * the copies form a second pipeline, and each microbatch runs through one
 * of the two: pipeline 0 (the stage map above) or pipeline 1 (the copies).
 * Ops keep naming the stage g (0 .. S-1), so cost tables stay per stage;
 * the rank that runs (g, mb) is pl_sched_op_rank. A schedule without
 * replicas behaves exactly as before. Setting a microbatch's pipeline to 1
 * requires every stage to have a copy (pl_sched_validate checks it).
 * PL_EINVAL for an index out of range, PL_ENOMEM.
 */
int pl_sched_set_replica(pl_sched *s, int stage, int rank);
/* The rank of stage's copy, or -1 when it has none. */
int pl_sched_replica_rank(const pl_sched *s, int stage);
int pl_sched_set_mb_pipe(pl_sched *s, int mb, int pipe);
/* 0 or 1 (0 for a schedule without replicas). */
int pl_sched_mb_pipe(const pl_sched *s, int mb);
/* 1 when some stage has a copy. */
int pl_sched_replicated(const pl_sched *s);
/* The rank that runs stage's op on microbatch mb: the copy's rank when mb
 * runs through pipeline 1, else pl_sched_stage_rank. */
int pl_sched_op_rank(const pl_sched *s, int stage, int mb);

/* Appends an op to rank's list (amortised O(1)). */
int pl_sched_push(pl_sched *s, int rank, pl_op op);
/* Convenience: push a simple op. */
int pl_sched_push3(pl_sched *s, int rank, int kind, int stage, int mb);

/* Name shown in outputs ("1f1b"); copied. */
void pl_sched_set_name(pl_sched *s, const char *name);
const char *pl_sched_name(const pl_sched *s);

int pl_sched_ranks(const pl_sched *s);
int pl_sched_stages(const pl_sched *s);
int pl_sched_microbatches(const pl_sched *s);
/* Chunks per rank v = stages / ranks. */
int pl_sched_chunks(const pl_sched *s);
int pl_sched_placement(const pl_sched *s);
int pl_sched_stage_rank(const pl_sched *s, int stage);
/* Local chunk index of a stage on its rank (0 .. v-1, in stage order). */
int pl_sched_stage_chunk(const pl_sched *s, int stage);
/* Borrowed pointer to rank's ops; *n receives their count. */
const pl_op *pl_sched_rank_ops(const pl_sched *s, int rank, size_t *n);
size_t pl_sched_total_ops(const pl_sched *s);
/* Deep copy. */
int pl_sched_clone(const pl_sched *s, pl_sched **out);

/*
 * Validates op counts and the per-(stage, microbatch) order: every stage runs
 * each microbatch's F exactly once, and either one BW or one B and one W; on
 * the stage's rank F precedes B precedes W; every op names a stage owned by
 * its rank. Then checks that the schedule can finish (no cyclic wait); a
 * deadlock returns PL_EDEADLOCK with every blocked rank, the op it waits for
 * and what that op waits for in eb->msg (several lines joined by "; ").
 */
int pl_sched_validate(const pl_sched *s, struct pl_errbuf *eb);
/* The same checks without the deadlock check, for a caller that runs the
 * engine next anyway (pl_sim_run reports a deadlock with the same message
 * and code): validation of a large schedule then costs one pass over its ops
 * instead of a whole extra engine run. */
int pl_sched_validate_order(const pl_sched *s, struct pl_errbuf *eb);

/* ---------------------------------------------------------- generators --- */

/*
 * Parameters for the named generators. Times are per microbatch for the
 * layers of ONE rank (a chunk op costs 1/v); zb-auto and the V greedy
 * schedulers use them to decide the order.
 */
typedef struct pl_gen_params {
  int p;            /* ranks */
  int m;            /* microbatches */
  int v;            /* chunks per rank (interleaved); 0 = schedule default */
  double tf, tb, tw; /* per-rank times (generators that search) */
  double comm;      /* P2P latency (generators that search) */
  double mem_w_frac; /* M_W / M_B */
  double mem_limit; /* activation limit per rank in units of M_B; 0 = none */
  int group;        /* interleaved: microbatch group size; 0 = p */
  /* zb-auto: per-rank activation limits [p] in units of M_B (each >= 1),
   * overriding mem_limit; NULL = mem_limit on every rank. Borrowed. */
  const double *mem_limits;
} pl_gen_params;
#define PL_GEN_PARAMS_INIT {0, 0, 0, 1.0, 1.0, 1.0, 0.0, 0.5, 0.0, 0, NULL}

/* Generator table entry. */
typedef struct pl_gen_info {
  const char *name;     /* CLI name: "1f1b" */
  const char *summary;  /* one line */
  int default_chunks;   /* v used when params.v == 0 */
  int placement;        /* enum pl_placement */
  int (*gen)(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb);
  unsigned uses;        /* PL_GEN_USES_* bits: which parameters beyond p, m
                           and v shape the schedule this generator makes */
} pl_gen_info;

/* pl_gen_info.uses: the generator reads gp->tf/tb/tw/comm/mem_w_frac to
 * search its order (the others ignore costs: the order is fixed by p, m
 * and v); it reads gp->mem_limit; it reads gp->group. */
#define PL_GEN_USES_COSTS 1u
#define PL_GEN_USES_MEM_LIMIT 2u
#define PL_GEN_USES_GROUP 4u

/* NULL-terminated table of every generator compiled in. Static storage. */
const pl_gen_info *pl_gen_list(void);
/* Looks a generator up by name (case-insensitive); NULL if unknown. */
const pl_gen_info *pl_gen_find(const char *name);
/* The placement (enum pl_placement) of the named generator's stages with v
 * chunks per rank: single for v = 1, the generator's own for v > 1 (loop
 * for a single-placement or unknown generator). */
int pl_gen_placement(const char *name, int v);
/* Generates a named schedule; errors (bad m/p/v) are PL_EINVAL with a
 * message that says which constraint failed and how to fix it. */
int pl_sched_gen(const char *name, const pl_gen_params *gp, pl_sched **out,
                 struct pl_errbuf *eb);

/* Individual generators (sim/gen_*.c). Each creates *out (caller frees
 * with pl_sched_destroy) or returns PL_EINVAL with the violated constraint
 * and how to fix it in eb. */
int pl_gen_gpipe(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb);
int pl_gen_1f1b(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb);
int pl_gen_interleaved(const pl_gen_params *gp, pl_sched **out,
                       struct pl_errbuf *eb);
/* Zero-bubble family (docs/zero-bubble.md; sim/gen_zb.c, sim/gen_v.c). */
int pl_gen_zb_h1(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb);
int pl_gen_zb_h2(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb);
/* ZB automatic scheduler under gp->mem_limit (units of M_B; 0 = p). */
int pl_gen_zb_auto(const pl_gen_params *gp, pl_sched **out,
                   struct pl_errbuf *eb);
int pl_gen_zb_v(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb);
int pl_gen_v_half(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb);
int pl_gen_v_min(const pl_gen_params *gp, pl_sched **out, struct pl_errbuf *eb);
/* PyTorch torch.distributed.pipelining orders (docs/pytorch-schedules.md;
 * sim/gen_pt.c): ScheduleDualPipeV (v = 2, m >= 2p, fused F&B ops),
 * ScheduleInterleavedZeroBubble and ScheduleInterleaved1F1B (loop placement,
 * m a multiple of max(1, m/p)), ScheduleLoopedBFS, ScheduleZBVZeroBubble. */
int pl_gen_dualpipev(const pl_gen_params *gp, pl_sched **out,
                     struct pl_errbuf *eb);
int pl_gen_interleaved_zb(const pl_gen_params *gp, pl_sched **out,
                          struct pl_errbuf *eb);
int pl_gen_interleaved_relaxed(const pl_gen_params *gp, pl_sched **out,
                               struct pl_errbuf *eb);
int pl_gen_looped_bfs(const pl_gen_params *gp, pl_sched **out,
                      struct pl_errbuf *eb);
int pl_gen_zbv_pytorch(const pl_gen_params *gp, pl_sched **out,
                       struct pl_errbuf *eb);
/* Wave and bidirectional schedules (docs/bidirectional.md; sim/gen_bidir.c):
 * Hanayo (gp->v = 2W chunks, W waves, zig-zag placement), Chimera (p even,
 * m even; every stage copied on rank p-1-g) and DualPipe (p even, m even,
 * m >= 2p; copies as Chimera, fused F&B ops). */
int pl_gen_hanayo(const pl_gen_params *gp, pl_sched **out,
                  struct pl_errbuf *eb);
int pl_gen_chimera(const pl_gen_params *gp, pl_sched **out,
                   struct pl_errbuf *eb);
int pl_gen_dualpipe(const pl_gen_params *gp, pl_sched **out,
                    struct pl_errbuf *eb);

/* ------------------------------------------------------ PyTorch CSV ----- */

enum pl_csv_dialect {
  PL_DIALECT_AUTO = 0,
  PL_DIALECT_CURRENT = 1, /* F, I (=B), W, B (=BW) */
  PL_DIALECT_LEGACY = 2   /* F, B (=B), W, BW (=BW) */
};
const char *pl_dialect_name(int dialect);

typedef struct pl_csv_info {
  int dialect;        /* detected or forced */
  int ranks, stages, microbatches;
  size_t idle_cells;  /* empty cells (idle slots), dropped on import */
  size_t comm_cells;  /* SEND/RECV/UNSHARD/RESHARD/REDUCE_GRAD, dropped */
  size_t fused_cells; /* OVERLAP_F_B compounds */
} pl_csv_info;

/*
 * Reads PyTorch's schedule CSV (no header, row = rank, cell = action,
 * empty = idle; LF or CRLF; RFC-4180 quotes accepted). Comm actions are
 * dropped (the engine adds P2P itself); the stage->rank map is inferred from
 * the rows. Strict: trailing garbage in a cell is a PL_EPARSE with
 * "line L, cell C". info may be NULL. *out is owned by the caller.
 */
int pl_sched_read_csv(const char *text, size_t len, int dialect,
                      pl_sched **out, pl_csv_info *info, struct pl_errbuf *eb);
int pl_sched_load_csv(const char *path, int dialect, pl_sched **out,
                      pl_csv_info *info, struct pl_errbuf *eb);
/* Writes the schedule as PyTorch compute_only CSV in the current dialect
 * (B = full backward, I = input backward) into b (appends). A schedule
 * with replicated stages cannot be expressed: PL_ENOTSUP (as
 * pl_pt_from_sched, which says so in its message). */
struct pl_buf;
int pl_sched_write_csv(const pl_sched *s, struct pl_buf *b);
/*
 * Parses one PyTorch action ("2F0", "1I3", "(0F7;7B3)OVERLAP_F_B",
 * "0SEND_F1", "1UNSHARD") into op: the one action grammar of the library,
 * used by the schedule CSV reader and the Kineto importer alike
 * (docs/schedule-csv.md, "The format" and "Dialects and detection"). Blanks around the action are ignored.
 * dialect PL_DIALECT_AUTO decides from the action itself (I: current; BW,
 * a legacy fused SEND/RECV or W: legacy; else current). Returns 1 for a
 * compute op, 0 for a comm or other action that runs nothing, PL_EPARSE
 * (with the action and the reason in eb) for anything else, an empty or
 * blank string included. op is owned by the caller; cell need not be
 * NUL-terminated.
 */
int pl_action_parse(const char *cell, size_t len, int dialect, pl_op *op,
                    struct pl_errbuf *eb);
/* The same as pl_action_parse (kept for callers of earlier versions). */
int pl_csv_parse_action(const char *cell, size_t len, int dialect, pl_op *op,
                        struct pl_errbuf *eb);

/*
 * PyTorch-level action table (docs/schedule-csv.md). Unlike pl_sched it keeps
 * every cell of the CSV: idle slots, SEND/RECV, UNSHARD/RESHARD/REDUCE_GRAD
 * and compounds, in PyTorch's current vocabulary. It is what the lowering
 * passes (_merge_bw, _add_send_recv) and the unit-time dry run
 * (_simulate_comms_compute) operate on.
 */
enum pl_pt_type {
  PL_PT_IDLE = 0,      /* empty cell */
  PL_PT_F = 1,         /* forward */
  PL_PT_I = 2,         /* input-gradient backward (pipelab B) */
  PL_PT_W = 3,         /* weight-gradient backward (pipelab W) */
  PL_PT_B = 4,         /* full backward (pipelab BW) */
  PL_PT_SEND_F = 5,
  PL_PT_RECV_F = 6,
  PL_PT_SEND_B = 7,
  PL_PT_RECV_B = 8,
  PL_PT_UNSHARD = 9,   /* no microbatch */
  PL_PT_RESHARD = 10,  /* no microbatch */
  PL_PT_REDUCE_GRAD = 11, /* no microbatch */
  PL_PT_OVERLAP_F_B = 12, /* compound: sub[0], sub[1] */
  PL_PT_SEND_F_RECV_B = 13, /* legacy fused comm: sub[0] SEND_F, sub[1] RECV_B */
  PL_PT_SEND_B_RECV_F = 14, /* legacy fused comm: sub[0] SEND_B, sub[1] RECV_F */
  PL_PT_NTYPES = 15
};
/* Token of a type in the current dialect ("F", "SEND_F", "OVERLAP_F_B");
 * "" for PL_PT_IDLE, "?" when out of range. Static string. */
const char *pl_pt_type_name(int type);

/* One simple action (also a compound's part). */
typedef struct pl_pt_act {
  int32_t type;  /* enum pl_pt_type, never a compound */
  int32_t stage; /* global stage */
  int32_t mb;    /* microbatch; -1 for UNSHARD/RESHARD/REDUCE_GRAD */
} pl_pt_act;

/* One cell. Simple actions use type/stage/mb and n_sub = 0; compounds
 * (OVERLAP_F_B, legacy fused comm) have stage = mb = -1, n_sub = 2 and their
 * parts in sub[] in file order. Idle: type PL_PT_IDLE, stage = mb = -1. */
typedef struct pl_pt_action {
  int32_t type, stage, mb, n_sub;
  pl_pt_act sub[2];
} pl_pt_action;
#define PL_PT_ACTION_INIT {PL_PT_IDLE, -1, -1, 0, {{0, -1, -1}, {0, -1, -1}}}

/* Formats a cell in the current dialect ("2F0", "(0F7;7B3)OVERLAP_F_B",
 * "" for idle). PL_EINVAL if buf is too small. */
int pl_pt_action_format(const pl_pt_action *a, char *buf, size_t len);

typedef struct pl_pt_sched pl_pt_sched;

/*
 * Creates an empty table of `ranks` rows over n_stages stages whose owner
 * ranks are stage_rank[0 .. n_stages-1] (copied; every entry in
 * 0 .. ranks-1). *out is owned by the caller: pl_pt_destroy.
 */
int pl_pt_create(int ranks, int n_stages, const int *stage_rank,
                 pl_pt_sched **out, struct pl_errbuf *eb);
void pl_pt_destroy(pl_pt_sched *t);
/* Appends a cell to a row (copied). Compute parts and comm actions must name
 * stages 0 .. n_stages-1 and microbatches >= 0; PL_EINVAL otherwise. */
int pl_pt_push(pl_pt_sched *t, int rank, const pl_pt_action *a);
int pl_pt_ranks(const pl_pt_sched *t);
int pl_pt_stages(const pl_pt_sched *t);
/* Largest microbatch index named by any action, plus one. */
int pl_pt_microbatches(const pl_pt_sched *t);
int pl_pt_stage_rank(const pl_pt_sched *t, int stage);
/* Borrowed row (valid until the table is modified or destroyed); *n cells. */
const pl_pt_action *pl_pt_row(const pl_pt_sched *t, int rank, size_t *n);
/* Idle cells in a row. */
size_t pl_pt_row_idle(const pl_pt_sched *t, int rank);

/*
 * Reads a PyTorch schedule CSV keeping every cell (compute_only or
 * compute_comms). Same syntax, dialect rules, limits and "line L, cell C"
 * errors as pl_sched_read_csv; the stage -> rank map is inferred from the
 * compute actions. info may be NULL. *out is owned by the caller.
 */
int pl_pt_read_csv(const char *text, size_t len, int dialect,
                   pl_pt_sched **out, pl_csv_info *info, struct pl_errbuf *eb);
/* Same from a file ("-" = stdin); errors name the file. */
int pl_pt_load_csv(const char *path, int dialect, pl_pt_sched **out,
                   pl_csv_info *info, struct pl_errbuf *eb);
/* Appends the table as CSV in the current dialect (LF line ends, idle cells
 * empty, one row per rank). PL_ENOMEM if b's cap is reached. */
int pl_pt_write_csv(const pl_pt_sched *t, struct pl_buf *b);
/* Compute-only table of a schedule (pipelab B -> I, BW -> B, FB ->
 * OVERLAP_F_B); no idle cells. *out owned by the caller. */
int pl_pt_from_sched(const pl_sched *s, pl_pt_sched **out,
                     struct pl_errbuf *eb);
/* Schedule of a table: idle cells and comm actions are dropped, compounds
 * become PL_OP_FB; placement detected. PL_EINVALSCHED when a compound is not
 * one F plus one I/B, or a rank runs no compute action. */
int pl_pt_to_sched(const pl_pt_sched *t, pl_sched **out, struct pl_errbuf *eb);

/*
 * Lowering (docs/schedule-csv.md (lowering), PyTorch _PipelineScheduleRuntime). Each pass
 * creates a new table in *out (caller frees); the input is not modified.
 * - pl_pt_merge_bw: per row, drop idle cells and replace an I immediately
 *   followed (ignoring idle cells) by the W of the same stage and microbatch
 *   by one full-backward B.
 * - pl_pt_add_send_recv: insert SEND_F/SEND_B after each compute part whose
 *   neighbour stage is on another rank, and the matching RECV on the
 *   receiver's row, by PyTorch's greedy rank-ordered rounds. Idle cells are
 *   consumed without output. PL_EDEADLOCK "malformed compute schedule" with
 *   every stuck rank and its next action when a round places nothing.
 * - pl_pt_lower: merge_bw then add_send_recv (compute_only -> compute_comms).
 */
int pl_pt_merge_bw(const pl_pt_sched *in, pl_pt_sched **out,
                   struct pl_errbuf *eb);
int pl_pt_add_send_recv(const pl_pt_sched *in, pl_pt_sched **out,
                        struct pl_errbuf *eb);
int pl_pt_lower(const pl_pt_sched *in, pl_pt_sched **out,
                struct pl_errbuf *eb);

/*
 * Unit-time dry run (docs/schedule-csv.md (dry run), PyTorch _simulate_comms_compute, both
 * passes). Idle cells of the input are dropped; *out (may be NULL; caller
 * frees) receives the simulated rows with idle slots; *steps (may be NULL)
 * the number of steps = the longest row. Extensions over PyTorch (which
 * raises "Unsupported action type"): UNSHARD/RESHARD/REDUCE_GRAD are always
 * ready and OVERLAP_F_B is ready when both parts are. Legacy fused comm cells
 * give PL_ENOTSUP. A step in whose first pass nothing is placed gives
 * PL_EDEADLOCK naming every stuck rank and its next action.
 */
int pl_pt_unit_time(const pl_pt_sched *in, pl_pt_sched **out, int *steps,
                    struct pl_errbuf *eb);

/* ---------------------------------------------------------------- costs --- */

/* Per-stage costs: times in the cost table's time unit, memory in its
 * memory unit ("units" of M_B by default, or bytes). */
typedef struct pl_stage_cost {
  double t[PL_OP_NKINDS]; /* F, B, W, BW, (FB unused: sum of its parts) */
  double mem_b;           /* allocated by F: everything B needs (M_B / v) */
  double mem_w;           /* kept after B until W (M_W / v) */
  double msg_bytes;       /* P2P message out of this stage (activation or
                             gradient; same size both ways) */
  /* The link between this stage and the next (both directions) when it
   * differs from the table's default (e.g. inside a node vs across nodes):
   * used when has_link is set, else comm_latency / comm_bandwidth. */
  int has_link;
  double link_latency;    /* per message, time unit */
  double link_bandwidth;  /* bytes per time unit; 0 = infinite */
  /* Of t[k], the time the op spends in exposed collectives (tensor- and
   * context-parallel), for the trace's collectives track; 0 = none. */
  double coll[PL_OP_NKINDS];
  /* Expert-parallel all-to-all (MoE dispatch + combine) of one F and of one
   * B or BW of this stage, time unit; W has none. Added to F, B and BW ops
   * (not scaled by rank_speed); a fused FB op hides both of its parts'
   * all-to-alls behind its compute (pl_costs_op_time). 0 = dense model. */
  double a2a;
  /* Replicated schedules only (pl_sched_set_replica): the all-reduce of
   * this stage's weight gradients between its two copies, paid once at the
   * end by both ranks holding it, after the later of the two has finished
   * its list. 0 = free. */
  double allreduce;
} pl_stage_cost;

/* Where a cost came from (docs/cost-model.md §10). */
enum pl_cost_source {
  PL_SRC_USER = 0,   /* constants from the command line */
  PL_SRC_ANALYTIC = 1,
  PL_SRC_MEASURED = 2,
  PL_SRC_INTERPOLATED = 3,
  PL_SRC_EXTRAPOLATED = 4,
  PL_SRC_LEARNED = 5 /* learned from a measured profile (pl_learn_fit) */
};
const char *pl_cost_source_name(int src);

/* Microseconds per one of the time unit labels that convert ("ns", "us",
 * "ms", "s"); 0 for any other label ("unit", "cycles", ...), which only
 * compares with itself. The one conversion table that traces, history and
 * plots share. */
double pl_time_unit_us(const char *unit);

/*
 * Readable figures (sim/units.c), the one place that chooses display units:
 * tables and plot axes of every command use these.
 * - pl_fmt_duration: t in `unit`; a unit that converts (ns, us, ms, s) is
 *   shown in the largest of ns/us/ms/s that keeps 4 significant digits
 *   ("515.0 ms", "3.068 s", "12.35 us"); any other label keeps it, with up
 *   to 4 significant digits and no trailing zeros ("27.5 unit").
 * - pl_fmt_bytes: "512 B", "156.25 KiB", "162.00 GiB" (two decimals).
 * - pl_fmt_mem: bytes when mem_unit is "bytes", else activation units
 *   rounded to two decimals ("4.37 units", "4 units").
 * Non-finite values print "n/a". Return 0, or PL_EINVAL if buf is too small
 * (48 bytes always suffice).
 */
int pl_fmt_duration(char *buf, size_t len, double t, const char *unit);
int pl_fmt_bytes(char *buf, size_t len, double bytes);
int pl_fmt_mem(char *buf, size_t len, double x, const char *mem_unit);
/* Axis scales for plots: the factor to multiply values in `unit` (or in
 * bytes) by, and the label of the unit they are then in, chosen from the
 * largest value on the axis the same way as pl_fmt_duration/_bytes. A unit
 * that does not convert gives 1 and keeps its label. */
double pl_time_display(double max_t, const char *unit, const char **shown);
double pl_bytes_display(double max_bytes, const char **shown);

/*
 * x rounded to `digits` significant digits of scale (|scale| >= |x| is
 * assumed; a smaller scale counts as |x|): the double nearest to that
 * decimal. pl_denoise keeps PL_DENOISE_DIGITS, which removes the float
 * noise that sums of inexact inputs leave in the last bits (1.1 added 33
 * times is 36.300000000000011; denoised, 36.3) and changes nothing else.
 * Non-finite values and 0 are returned unchanged.
 */
#define PL_DENOISE_DIGITS 14
double pl_round_digits(double x, double scale, int digits);
double pl_denoise(double x, double scale);

/*
 * How the runtime moves a P2P message (docs/transfers.md). A message is one
 * cross-rank data edge: the activation of F(g, mb) for F(g+1, mb), or the
 * gradient of B/BW(g, mb) for B/BW(g-1, mb); a hand-off between two stages
 * of one rank is free. Its time is pl_costs_comm(c, boundary): a latency
 * paid per message plus bytes / bandwidth, the part that occupies the link.
 */
enum pl_p2p_mode {
  /* isend/irecv (PyTorch pipelining, Megatron with overlap_p2p_comm, the
   * Zero Bubble runtime): the sender goes on at once, the message occupies
   * no rank, the consumer starts when it has arrived. Messages between the
   * same two ranks in the same direction queue for the link's bandwidth. */
  PL_P2P_ASYNC = 0,
  /* One blocking rendezvous at a time per rank (Megatron's non-batched
   * p2p ops on one communicator): after an op the rank sends its outputs
   * and receives the next op's inputs one message at a time, even ranks
   * sending first, odd ranks receiving first; each transfer starts when
   * both ranks have reached it and occupies both for its time. */
  PL_P2P_BLOCKING = 1,
  /* One batched exchange per op boundary (Megatron without
   * overlap_p2p_comm: batch_isend_irecv + wait on the compute stream):
   * the outputs of the op just run and the inputs of the next op move
   * together; every transfer starts when both ranks have posted it, and
   * each rank waits until all transfers of its exchange are done. */
  PL_P2P_BATCHED = 2,
  PL_P2P_NMODES = 3
};
/* "async", "blocking", "batched"; "?" when out of range. */
const char *pl_p2p_mode_name(int mode);
/* The mode named s, or -1. */
int pl_p2p_mode_parse(const char *s);

typedef struct pl_costs {
  int n_stages, n_ranks;
  pl_stage_cost *stage; /* [n_stages] */
  double *rank_speed;   /* [n_ranks] time multiplier, 1 = nominal, 2 = 2x slower */
  double comm_latency;  /* per P2P message */
  double comm_bandwidth; /* bytes per time unit; 0 = infinite */
  /* Fused FB op: its compute takes max(tf, tb) + (1 - fb_overlap) *
   * min(tf, tb) = tf + tb - fb_overlap * min(tf, tb); 0 = run one after the
   * other, 1 = the shorter part fully hidden. */
  double fb_overlap;
  int source[PL_OP_NKINDS]; /* enum pl_cost_source per op kind */
  char time_unit[8];    /* "unit", "us", "s" */
  char mem_unit[8];     /* "units" (of M_B) or "bytes" */
  int p2p_mode;         /* enum pl_p2p_mode; 0 = async */
  /* Launch gap before every op: the host issues an op once its rank is
   * free and its inputs are there, and the device starts it op_gap later
   * (the gap is idle time, not part of the op's duration). 0 = none. */
  double op_gap;
  /* Host time per P2P message outside any op (LogP's o): the sending rank
   * spends send_overhead after the op that produced the message before the
   * message leaves (copy into the transport, posting it), the receiving
   * rank recv_overhead after the message is there before the op that
   * consumes it starts (copy out). Idle time, not busy; paid in every P2P
   * mode, on top of comm_latency. 0 = none (the default). local_overhead:
   * 1 when a hand-off between two stages on one rank (V placement's turn)
   * pays both too, as in a runtime that passes it through its transport;
   * 0 = a local hand-off is free (a pointer: pipelab's executor). */
  double send_overhead, recv_overhead;
  int local_overhead;
  /* Op-time variability (docs/cost-model.md, "Jitter"): every op's duration
   * is multiplied by exp(jitter * z), z a standard normal drawn from a
   * hash of (jitter_seed, rank, op position), so the table's times are the
   * medians and a run is reproducible. 0 = deterministic (the default).
   * pl_sim_trials runs many seeds. */
  double jitter;
  uint64_t jitter_seed;
  /* The measured shape of the scatter, when known: n_jitter_q (2 ..
   * PL_JITTER_Q) equally spaced quantiles of ln(time / median), from the
   * 0th to the 100th percentile; each op's factor is then exp(q(u)), u
   * uniform from the same hash, q the linear interpolation of these
   * quantiles (the heavy tail of slow ops included), whatever jitter says
   * (it stays the sigma reported). 0 = the log-normal above. */
  double jitter_q[21];
  int n_jitter_q;
} pl_costs;
#define PL_JITTER_Q 21

/* Allocates a table with zero costs, rank_speed 1 and units "unit"/"units".
 * Free with pl_costs_destroy. */
int pl_costs_create(int n_stages, int n_ranks, pl_costs **out);
void pl_costs_destroy(pl_costs *c);

/* Sets the runtime of c: p2p_mode (enum pl_p2p_mode), op_gap,
 * send_overhead, recv_overhead, local_overhead (the fields above). */
void pl_costs_set_runtime(pl_costs *c, int p2p_mode, double op_gap,
                          double send_overhead, double recv_overhead,
                          int local_overhead);

/*
 * Fills c with uniform constant costs for a schedule of p ranks and v chunks
 * per rank: each chunk op costs tf/v, tb/v, tw/v, (tb+tw)/v; F allocates 1/v
 * units, B keeps mem_w_frac/v until W; comm is the P2P latency.
 */
int pl_costs_uniform(pl_costs *c, int v, double tf, double tb, double tw,
                     double comm, double mem_w_frac);

/*
 * Per-stage costs from a CSV (docs/cli.md "--stage-costs"), for stages of
 * unequal cost without a catalog model: one row per stage
 * `stage,F,B,W,act_bytes,kept_bytes[,p2p]`: forward, input-backward and
 * weight-backward times (BW = B + W), the bytes F allocates and the bytes
 * B keeps until W, and optionally the P2P time of the message out of the
 * stage (then that stage's link: has_link, no bandwidth). A first row not
 * starting with a digit is a header; blank lines and '#' lines are
 * skipped. Every stage 0 .. n_stages-1 exactly once; the memory unit
 * becomes "bytes". PL_EPARSE with "line L" naming the row; c is partly
 * filled on error.
 */
int pl_costs_read_stage_csv(pl_costs *c, const char *text, size_t len,
                            struct pl_errbuf *eb);

/* Deep copy of a cost table (*out owned by the caller: pl_costs_destroy).
 * With free_transfers every P2P message costs nothing (no latency, no
 * per-stage links): the same pipeline without transfers, to tell the time
 * transfers add from the bubbles. PL_ENOMEM. */
int pl_costs_clone(const pl_costs *c, int free_transfers, pl_costs **out);

/* P2P time of a message out of stage g (latency + bytes / bandwidth). */
double pl_costs_comm(const pl_costs *c, int stage);
/* The same message's latency (paid per message) and its transmission time
 * (bytes / bandwidth: the part that occupies the link). */
void pl_costs_comm_parts(const pl_costs *c, int stage, double *latency,
                         double *transmit);
/* Duration of op on rank, including the rank's speed multiplier: F, B, BW
 * take t * speed + a2a, W t * speed; a fused FB op takes
 * max((tf + tb - fb_overlap * min(tf, tb)) * speed, a2a_f + a2a_b): its
 * parts' all-to-alls run on the side while the other part computes, so
 * they are hidden unless they alone outlast the compute. */
double pl_costs_op_time(const pl_costs *c, const pl_op *op, int rank);

/* --------------------------------------------------------------- results -- */

/* Reasons a measurement cannot be trusted, kept with it (pl_result,
 * pl_calib): at most this many, each shorter than PL_UNTRUSTED_LEN. */
#define PL_UNTRUSTED_MAX 8
#define PL_UNTRUSTED_LEN 96

typedef struct pl_rank_result {
  int rank;
  double busy;        /* sum of op durations */
  double first_start;
  double last_end;
  double bubble_ratio; /* 1 - busy / makespan */
  double peak_mem;    /* peak activation in the cost table's memory unit */
  double end_mem;     /* activation left at the end (0 for a valid schedule) */
  double peak_activation_bytes; /* bytes when known (workload), else -1 */
  size_t n_ops;
} pl_rank_result;

/* One executed / simulated op. */
typedef struct pl_op_rec {
  int32_t rank;
  int32_t index; /* position in the rank's list */
  pl_op op;
  double start, end;
} pl_op_rec;

/* One simulated P2P transfer (PL_SIM_RECORD_OPS). */
typedef struct pl_xfer_rec {
  int32_t src, dst;  /* sending and receiving rank */
  int32_t stage;     /* the producer's stage */
  int32_t mb;        /* microbatch */
  int32_t backward;  /* 0: activation (F -> F), 1: gradient (B -> B) */
  double ready;      /* the sender had the data (producer end, or when
                        the sender posted the send) */
  double start;      /* the transfer started (link free, both posted) */
  double end;        /* the data is at the receiver */
} pl_xfer_rec;

/* One point of a rank's activation-memory timeline (value after the change). */
typedef struct pl_mem_point {
  int32_t rank;
  double t;
  double value;
} pl_mem_point;

typedef struct pl_result {
  char schedule[64];
  char source[16];     /* "sim", "cpu", "cuda", "kineto" */
  char time_unit[8];
  char mem_unit[8];
  int stages;          /* ranks (p): the CLI's --stages */
  int virtual_stages;  /* p * v */
  int microbatches;
  int chunks;
  double makespan;     /* first start to last end over all ranks */
  double max_rank_span; /* longest single rank's first start to last end */
  double ideal;        /* mean per-rank busy time */
  double bubble_ratio; /* 1 - sum(busy) / (p * makespan) */
  double bubble_ratio_span; /* same over max_rank_span */
  double peak_mem;     /* max over ranks */
  pl_rank_result *ranks; /* [stages] */
  /* Optional detail (PL_SIM_RECORD_OPS / PL_SIM_RECORD_MEM): */
  pl_op_rec *ops;      /* [n_ops] in rank order, then list order */
  size_t n_ops;
  pl_mem_point *mem;   /* [n_mem] sorted by rank, then time */
  size_t n_mem;
  /* Simulator only, with PL_SIM_RECORD_OPS: every cross-rank transfer,
   * activations (by stage, microbatch) first, then gradients. */
  pl_xfer_rec *xfers;  /* [n_xfers] */
  size_t n_xfers;
  /* Why a measurement cannot be trusted (none for a prediction): short
   * reasons such as "oversubscribed: 4 ranks on 2 cores" (the result
   * file's optional "untrusted" array). */
  int n_untrusted;
  char untrusted[PL_UNTRUSTED_MAX][PL_UNTRUSTED_LEN];
} pl_result;
#define PL_RESULT_INIT {{0}, {0}, {0}, {0}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, 0, NULL, 0, 0, {{0}}}

/* The largest magnitude of a time a result may hold, in any time unit (1e15
 * ns is 11.6 days): result, trace and Kineto readers refuse larger times and
 * `simulate` refuses costs whose result would exceed it, so every figure of
 * a result is finite and stays finite through the sums and differences of
 * compare and plot. */
#define PL_TIME_MAX 1e15

/* Frees the arrays and forgets the untrusted reasons. */
void pl_result_free(pl_result *r);
/* Adds an untrusted reason (truncated to PL_UNTRUSTED_LEN - 1 bytes); a
 * repeated reason or one beyond PL_UNTRUSTED_MAX is dropped. */
void pl_result_untrust(pl_result *r, const char *reason);
/* Computes the summary fields from ranks[] (busy, first_start, last_end):
 * used by the simulator and the executor alike. */
void pl_result_summarize(pl_result *r);

/* When the optimizer steps (ZB paper §4). */
enum pl_optimizer_mode {
  /* All ranks synchronise after the last W (global gradient-norm and
   * inf/NaN check), then step: the iteration is the makespan plus the
   * step. */
  PL_OPTIM_SYNC = 0,
  /* Post-validation: each rank steps right after its own last op while the
   * others still work, and the next iteration's warm-up overlaps the tail:
   * the iteration is the longest rank span, each rank's span counting its
   * own step. */
  PL_OPTIM_POST_VALIDATE = 1
};
/* Iteration time of r with an optimizer step of optimizer_time on every
 * rank: sync: makespan + optimizer_time; post-validate: max over ranks of
 * (last end - first start + optimizer_time). With optimizer_time 0 these
 * are exactly makespan and max_rank_span. */
double pl_iteration_time(const pl_result *r, int optimizer,
                         double optimizer_time);

/* --------------------------------------------------------------- engine --- */

enum pl_sim_flags {
  PL_SIM_RECORD_OPS = 1 << 0, /* fill result->ops */
  PL_SIM_RECORD_MEM = 1 << 1  /* fill result->mem */
};

/*
 * Runs the schedule over the cost table (c->n_stages must equal the
 * schedule's stages). Ops on a rank run in list order, never overlap. Under
 * c->p2p_mode async an op starts at max(rank free, predecessor end + P2P
 * time if the predecessor ran on another rank, later when the link is busy
 * with earlier messages) + c->op_gap; under blocking and batched the
 * transfers between two ops occupy both ranks (enum pl_p2p_mode). On a
 * deadlock returns PL_EDEADLOCK with every blocked rank, its head op and
 * what that op waits for (the data, or the peer of a blocking transfer).
 * *res is filled (initialise with PL_RESULT_INIT; free with
 * pl_result_free). Thread-safe for distinct results.
 */
int pl_sim_run(const pl_sched *s, const pl_costs *c, unsigned flags,
               pl_result *res, struct pl_errbuf *eb);

/*
 * Reusable engine state for sweeps and benchmarks: avoids re-allocating the
 * per-run tables. pl_sim_create / pl_sim_destroy.
 */
typedef struct pl_sim pl_sim;
int pl_sim_create(pl_sim **out);
void pl_sim_destroy(pl_sim *sim);
int pl_sim_run2(pl_sim *sim, const pl_sched *s, const pl_costs *c,
                unsigned flags, pl_result *res, struct pl_errbuf *eb);

/*
 * Op-time jitter (pl_costs.jitter): how much a pipeline loses when its ops
 * do not take exactly their median time. A deterministic run prices every
 * op at its median; with variable ops a rank waits for the slowest of its
 * inputs, so the expected iteration is longer (a straggler costs the whole
 * pipeline, an op that is early gains nothing while its consumer is busy).
 * pl_sim_trials runs the schedule n times, trial k with jitter_seed =
 * c->jitter_seed + k, and reports the distribution of its iteration time
 * (pl_iteration_time with optim_mode and optimizer_time; the makespan for
 * PL_OPTIM_SYNC and 0); *res receives the median trial (the lower middle
 * one for even n) run with `flags`. With c->jitter == 0 every trial is the
 * deterministic run. n in 1 .. PL_TRIALS_MAX. *res as for pl_sim_run.
 */
#define PL_JITTER_MAX 1.0
#define PL_TRIALS_MAX 100000
typedef struct pl_trials {
  int n;               /* trials run */
  double jitter;       /* the sigma used */
  int n_quantiles;     /* measured quantiles used (0: log-normal) */
  double deterministic; /* iteration time with jitter 0 */
  double mean, p10, p50, p90; /* iteration time over the trials */
} pl_trials;
int pl_sim_trials(const pl_sched *s, const pl_costs *c, int n, unsigned flags,
                  int optim_mode, double optimizer_time, pl_result *res,
                  pl_trials *st, struct pl_errbuf *eb);

/* Prefix-sum activation peak per rank (order decides memory, not time);
 * peaks[] has p entries. */
int pl_sched_mem_peaks(const pl_sched *s, const pl_costs *c, double *peaks);

/* ---------------------------------------------------------------- sweep --- */

/*
 * What-if sweeps (sim/sweep.c): enumerate (schedule, p, m, v, microbatch
 * size) points, simulate each, rank them. The sim module knows nothing of
 * models: a pl_sweep_model callback builds each point's cost table and
 * derives throughput and memory from the result, so the sweep runs over
 * constant costs as well as over the cost database.
 */
typedef struct pl_sweep_point {
  const char *schedule; /* generator name (static storage of pl_gen_list) */
  int p, m, v, mb_size, dp;
  /* Model knobs, passed through to the model callback (the sim module
   * does not interpret them; a constant-cost sweep has tp = cp = 1 and
   * recompute = dist_opt = 0). GPUs = tp * cp * p * dp. */
  int tp, cp, recompute, dist_opt;
} pl_sweep_point;

enum pl_sweep_status {
  PL_SWEEP_OK = 0,       /* evaluated and within the memory limit */
  PL_SWEEP_REJECTED = 1, /* invalid shape, generator constraint, or OOM */
  PL_SWEEP_PRUNED = 2,   /* not simulated: its throughput bound cannot
                            enter the top spec->top_n */
  PL_SWEEP_SKIPPED = 3   /* not evaluated here: another shard's point */
};

/* Why a point was rejected (pl_sweep_eval.why). */
enum pl_sweep_why {
  PL_WHY_NONE = 0,
  PL_WHY_LAYOUT = 1,   /* GPUs, heads or sequence do not divide */
  PL_WHY_BATCH = 2,    /* global batch not a multiple of dp x mb-size */
  PL_WHY_SCHEDULE = 3, /* the generator's constraint (m, v, p) */
  PL_WHY_MEMORY = 4,   /* out of memory (bound or simulated peak) */
  PL_WHY_MODEL = 5,    /* the cost model refused the point */
  PL_WHY_N = 6
};
const char *pl_sweep_why_name(int why);

typedef struct pl_sweep_eval {
  int status;            /* enum pl_sweep_status */
  char reason[200];      /* why rejected ("out of memory: ...") */
  double iteration_time; /* in the model's time unit (seconds for models) */
  double throughput;     /* tokens/s for models, microbatches/unit otherwise */
  double bubble_ratio;   /* over the iteration time */
  double peak_mem;       /* max over ranks: bytes for models, else units */
  double mfu;            /* model FLOP utilisation, 0 when unknown */
  int fits;              /* peak_mem within the limit */
  int why;               /* enum pl_sweep_why when rejected */
  double over;           /* out of memory: peak / limit - 1 (> 0) */
  double bound;          /* throughput upper bound (pruning), 0 = none */
  /* Where the time goes (seconds, models only; filled by the callback):
   * compute, exposed TP/CP, pipeline idle (bubble and transfers), exposed
   * DP reduce, optimizer. */
  double t_compute, t_tp, t_idle, t_dp, t_optim;
} pl_sweep_eval;

typedef struct pl_sweep_model {
  /* Builds the cost table for pt's schedule s; called from worker threads,
   * so it must be thread-safe. *out is freed by the sweep with
   * pl_costs_destroy. */
  int (*costs)(void *ctx, const pl_sweep_point *pt, const pl_sched *s,
               pl_costs **out, struct pl_errbuf *eb);
  /* Fills ev (iteration_time, throughput, peak_mem, mfu, fits) from the
   * result; may reject (status + reason). NULL: iteration = makespan,
   * throughput = m*mb_size*dp / makespan, peak = result peak. */
  void (*finish)(void *ctx, const pl_sweep_point *pt, const pl_sched *s,
                 const pl_costs *c, const pl_result *r, pl_sweep_eval *ev);
  /* Optional, for pruning before simulating: a lower bound on the point's
   * iteration time (*time_lb, same unit as iteration_time) and on its peak
   * memory (*mem_lb, same unit as peak_mem). Return 0, or a pl_err code
   * with the reason in eb (the point is then rejected as the model's). */
  int (*bound)(void *ctx, const pl_sweep_point *pt, double *time_lb,
               double *mem_lb, struct pl_errbuf *eb);
  void *ctx;
} pl_sweep_model;

typedef struct pl_sweep_spec {
  int gpus;               /* N: data parallel dp = N / (tp * cp * p) */
  const int *stages;      /* candidate p values */
  int n_stages;
  int m_lo, m_hi, m_step; /* microbatch range (step >= 1) */
  const int *mb_sizes;    /* microbatch sizes */
  int n_mb;
  const int *chunks;      /* v for schedules that take chunks */
  int n_chunks;
  const char *const *schedules; /* generator names; NULL = all */
  int n_schedules;
  /* Model knobs (NULL = the single value 1 for tp/cp, 0 for the others):
   * tensor- and context-parallel degrees, recompute modes and distributed
   * optimizer off/on; dp = gpus / (tp * cp * p). */
  const int *tps, *cps, *recomputes, *dist_opts;
  int n_tps, n_cps, n_recomputes, n_dist_opts;
  int top_n;              /* > 0 with a bound callback: prune points that
                             cannot enter the best top_n */
  int shard_k, shard_n;   /* shard_n > 1: evaluate only points whose index
                             is shard_k mod shard_n (others SKIPPED) */
  long global_batch;      /* > 0: m = global_batch / (dp * mb_size) */
  double mem_limit;       /* per rank, in the model's memory unit; 0 = none */
  /* Constant costs when no model callback is given: one microbatch through
   * the WHOLE model (each rank runs 1/p of it); memory is then in units of
   * one microbatch's activations over the whole model. Generators that
   * search (zb-auto, zb-v) also see these, divided by p. */
  double tf, tb, tw, comm, mem_w_frac;
  int jobs;               /* worker threads; 0 = 1 */
  /* The runtime every point runs under, on constant and model-priced
   * tables alike (docs/transfers.md): enum pl_p2p_mode and the launch gap
   * before every op, in the tables' time unit, and the host time per P2P
   * message at each end (pl_costs.send_overhead, recv_overhead,
   * local_overhead). Defaults: async, 0, none. */
  int p2p_mode;
  double op_gap;
  double send_overhead, recv_overhead;
  int local_overhead;
} pl_sweep_spec;
#define PL_SWEEP_SPEC_INIT                                                  \
  {0, NULL, 0, 0, 0, 1, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL,    \
   0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0.5, 1, PL_P2P_ASYNC, 0.0, 0.0,    \
   0.0, 0}

/*
 * Enumerates every point of spec in a fixed order (schedule, p, mb_size, m,
 * v). Points that are invalid before simulation (gpus not a multiple of p,
 * global batch not divisible, ...) are kept and pre-rejected in evs with the
 * reason. *pts and *evs are pl_malloc'ed arrays of *n entries; the caller
 * frees both with pl_free.
 */
int pl_sweep_enumerate(const pl_sweep_spec *spec, pl_sweep_point **pts,
                       pl_sweep_eval **evs, size_t *n, struct pl_errbuf *eb);

/*
 * Evaluates every point not already rejected, on spec->jobs threads; the
 * result at index i belongs to pts[i] whatever the thread count, so output
 * order is deterministic. progress (may be NULL) is called from the calling
 * thread only, about every 1% of the points. Returns PL_EINTR if stop (may be
 * NULL) becomes non-zero.
 */
int pl_sweep_run(const pl_sweep_spec *spec, const pl_sweep_model *model,
                 const pl_sweep_point *pts, pl_sweep_eval *evs, size_t n,
                 void (*progress)(void *ctx, size_t done, size_t total),
                 void *progress_ctx, volatile const int *stop,
                 struct pl_errbuf *eb);

/*
 * Indices of the points sorted best first: accepted points by throughput
 * (descending), ties by peak memory (ascending: more headroom first), then
 * enumeration order; then the others in enumeration order. *order is
 * pl_malloc'ed (n entries).
 */
int pl_sweep_rank(const pl_sweep_eval *evs, size_t n, size_t **order);

/* Sets the runtime fields of c (p2p_mode, op_gap, send_overhead,
 * recv_overhead, local_overhead) from spec: how pl_sweep_run prices every
 * point, for a caller that re-evaluates one. */
void pl_sweep_spec_apply_runtime(const pl_sweep_spec *spec, pl_costs *c);

#ifdef __cplusplus
}
#endif

#endif
