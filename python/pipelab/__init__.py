"""pipelab: pipeline-parallel training schedules, simulated.

A thin ctypes binding over the shared library (libpipelab.so): every
function sends its keyword arguments as one JSON object to the library's
``pl_api_call`` and returns the JSON document the ``pipelab`` command
prints with ``--format json``, as plain dicts and lists (ready for
``pandas.DataFrame(result["ranks"])``). Counts (stages, microbatches,
ranks, indices, ...) come back as ``int``; times, ratios and memory as
``float``, so a makespan of 33 is ``33.0``.

Errors raise :class:`pipelab.Error` carrying the library's one-line
message and its error code name (``err.code``, e.g. ``"PL_EINVAL"``).

The library is looked up, in order: the file or directory named by the
``PIPELAB_LIB`` environment variable; ``libpipelab.so*`` next to this
module; the installed tree (``cmake --install`` records where the library
lies relative to the module); the system's library path.

Keyword arguments are the command-line flags with ``_`` for ``-``
(``mem_w_frac=0.3``, ``optimizer_time=1``); ``None`` means "not given".
docs/python.md lists them.
"""

import ctypes
import ctypes.util
import glob
import json
import os

__all__ = ["Error", "simulate", "whatif", "sweep", "load_result",
           "schedules", "version", "library_path"]


class Error(Exception):
    """A call the library refused or could not complete.

    ``str(err)`` is the library's message; ``err.code`` the error name
    (``"PL_EINVAL"``, ``"PL_EDEADLOCK"``, ...); ``err.errno`` the negative
    pl_err number.
    """

    def __init__(self, message, code="PL_EINVAL", errno=-2):
        super().__init__(message)
        self.code = code
        self.errno = errno


# Keys whose numbers are counts, kept as int; every other number is a
# time, a ratio or an amount of memory and comes back as float.
_INT_KEYS = frozenset([
    "stages", "microbatches", "chunks", "virtual_stages", "rank", "ops",
    "index", "microbatch", "stage", "microbatch2", "stage2", "mb_size",
    "dp", "tp", "cp", "gpus", "global_batch", "points", "accepted",
    "pareto_points", "ranks", "idle_cells", "comm_cells", "default_chunks",
    "layers", "threads", "warmup", "seq", "hidden",
])


def _pairs(pairs):
    out = {}
    for k, v in pairs:
        if type(v) is int and k not in _INT_KEYS:
            v = float(v)
        out[k] = v
    return out


_lib = None
_lib_path = None


def _candidates():
    env = os.environ.get("PIPELAB_LIB")
    if env:
        if os.path.isdir(env):
            yield from sorted(glob.glob(os.path.join(env, "libpipelab.so*")))
        else:
            yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield from sorted(glob.glob(os.path.join(here, "libpipelab.so*")))
    try:
        from . import _install  # written by cmake --install
        libdir = os.path.normpath(os.path.join(here, _install.LIBDIR))
        yield from sorted(glob.glob(os.path.join(libdir, "libpipelab.so*")))
    except ImportError:
        pass
    found = ctypes.util.find_library("pipelab")
    if found:
        yield found


def _load():
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        lib.pl_api_call.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_void_p),
                                    ctypes.POINTER(ctypes.c_void_p)]
        lib.pl_api_call.restype = ctypes.c_int
        lib.pl_api_free.argtypes = [ctypes.c_void_p]
        lib.pl_api_free.restype = None
        lib.pl_err_name.argtypes = [ctypes.c_int]
        lib.pl_err_name.restype = ctypes.c_char_p
        _lib, _lib_path = lib, path
        return lib
    raise Error("cannot load libpipelab.so: "
                + ("; ".join(tried) if tried else
                   "not found (set PIPELAB_LIB to the library or its "
                   "directory, or install with cmake --install)"),
                "PL_ENOTFOUND", -13)


def library_path():
    """The path of the shared library in use (loads it if needed)."""
    _load()
    return _lib_path


def _call(fn, args):
    lib = _load()
    args = {k: v for k, v in args.items() if v is not None}
    out = ctypes.c_void_p()
    err = ctypes.c_void_p()
    rc = lib.pl_api_call(fn.encode(), json.dumps(args).encode(),
                         ctypes.byref(out), ctypes.byref(err))
    try:
        if rc != 0:
            msg = ctypes.string_at(err.value).decode() if err.value else ""
            name = lib.pl_err_name(rc)
            raise Error(msg or "error %d" % rc,
                        name.decode() if name else str(rc), rc)
        text = ctypes.string_at(out.value).decode()
    finally:
        lib.pl_api_free(out.value)
        lib.pl_api_free(err.value)
    return json.loads(text, object_pairs_hook=_pairs)


def _fspath(p):
    return os.fspath(p) if p is not None else None


def simulate(schedule=None, stages=None, microbatches=None, *,
             schedule_file=None, detail=False, save=None, trace=None,
             **options):
    """Simulates one iteration of a schedule over constant costs.

    ``simulate(schedule="1f1b", stages=4, microbatches=8)`` returns the
    ``pipelab simulate --format json`` document: makespan,
    max_rank_span, iteration_time, ideal, bubble_ratio, peak activation,
    ``ranks`` (one dict per rank), ``costs``, ...  ``detail=True`` adds
    ``ops`` (every op's start and end) and ``memory`` (the activation
    timeline); ``save`` writes a result file, ``trace`` a Chrome trace.
    Other options: chunks, waves, group, tf, tb, tw, comm, bandwidth,
    msg_bytes, mem_w_frac, mem_limit (a number, or a list with one per
    rank for zb-auto), stage_costs (a CSV path), p2p, op_gap,
    send_overhead, recv_overhead, local_handoff ("free" or "copied"),
    fb_overlap,
    a2a, replica_allreduce, optimizer, optimizer_time, rank_speed (list),
    time_unit, dialect (with schedule_file), jitter (op-time sigma: the
    result is the median of ``trials`` runs, default 200, from
    ``jitter_seed``, default 1, and ``["trials"]`` holds the deterministic,
    mean, p10, p50 and p90 iteration times).
    """
    args = dict(options, schedule=schedule, stages=stages,
                microbatches=microbatches,
                schedule_file=_fspath(schedule_file),
                save=_fspath(save), trace=_fspath(trace))
    if detail:
        args["detail"] = True
    return _call("simulate", dict(args, stage_costs=_fspath(
        args.get("stage_costs"))))


def whatif(stages=None, microbatches=None, *, schedules=None, **options):
    """Compares every built-in schedule (or ``schedules=[...]``) for one
    case; without options, the Zero Bubble paper's 1.5B case (8 ranks, 24
    microbatches, its measured costs in us). Returns the ``pipelab whatif
    --format json`` document; each entry of ``["schedules"]`` is a result
    dict, or ``{"schedule", "error"}`` for a schedule that cannot take the
    case."""
    return _call("whatif", dict(options, stages=stages,
                                microbatches=microbatches,
                                schedules=schedules))


def sweep(gpus, *, stages=None, microbatches=None, schedules=None,
          **options):
    """Sweeps layouts and schedules for ``gpus`` GPUs over constant costs
    (one microbatch through the whole model) and ranks them by throughput.
    Returns the ``pipelab sweep --format json`` document: ``rows`` best
    first (the top 10 unless ``top=k`` or ``all=True``), with points,
    accepted and pareto_points. ``microbatches`` is a count, a range
    ``"8..64:8"`` or ``[lo, hi, step]``; stages, chunks and mb_size take
    lists."""
    return _call("sweep", dict(options, gpus=gpus, stages=stages,
                               microbatches=microbatches,
                               schedules=schedules))


def load_result(path):
    """Reads a result file (``save=``, ``pipelab simulate --save``,
    ``pipelab run --save``), a Chrome trace written by pipelab or a PyTorch
    profiler trace, through the library's reader; returns the result dict
    with ``ops`` and ``memory`` when the file has them."""
    return _call("load_result", {"path": _fspath(path)})


def schedules():
    """The built-in schedules: a list of {name, summary, default_chunks,
    placement}."""
    return _call("schedules", {})


def version():
    """{version, git_rev, backends} of the loaded library."""
    return _call("version", {})
