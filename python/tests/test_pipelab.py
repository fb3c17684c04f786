"""Tests of the Python module (python/pipelab) against the shared library.

ctest runs them with PIPELAB_LIB pointing at the build tree's
libpipelab.so and PYTHONPATH at python/:

    PIPELAB_LIB=build/libpipelab.so PYTHONPATH=python \\
        python3 -m unittest discover -s python/tests -v
"""
import json
import math
import os
import tempfile
import unittest

import pipelab


class Simulate(unittest.TestCase):
    def test_1f1b_unit_costs(self):
        r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8)
        # 3 (m + p - 1) with F = B = W = 1 per rank: 33.
        self.assertEqual(r["makespan"], 33.0)
        self.assertIsInstance(r["makespan"], float)
        self.assertEqual(r["iteration_time"], 33.0)
        self.assertEqual(r["ideal"], 24.0)
        self.assertEqual(r["stages"], 4)
        self.assertIsInstance(r["stages"], int)
        self.assertEqual(r["placement"], "single")
        self.assertEqual(r["costs"]["p2p"], "async")
        self.assertEqual([x["rank"] for x in r["ranks"]], [0, 1, 2, 3])
        self.assertEqual([x["busy"] for x in r["ranks"]], [24.0] * 4)
        # 1F1B keeps p - rank microbatches in flight on each rank.
        self.assertEqual([x["peak_activation_units"] for x in r["ranks"]],
                         [4.0, 3.0, 2.0, 1.0])
        self.assertAlmostEqual(r["bubble_ratio"], 9 / 33, places=12)
        self.assertNotIn("ops", r)

    def test_gpipe_bubble_ratio(self):
        for p, m in [(4, 8), (8, 24), (2, 3), (16, 64)]:
            r = pipelab.simulate(schedule="gpipe", stages=p, microbatches=m)
            self.assertAlmostEqual(r["bubble_ratio"], (p - 1) / (m + p - 1),
                                   places=12, msg="gpipe p=%d m=%d" % (p, m))
            self.assertEqual(r["makespan"], 3.0 * (m + p - 1))

    def test_costs_and_runtime(self):
        r = pipelab.simulate(schedule="zb-h1", stages=4, microbatches=8,
                             comm=0.25, p2p="batched", time_unit="ms")
        self.assertEqual(r["makespan"], 40.0)
        self.assertEqual(r["time_unit"], "ms")
        self.assertEqual(r["costs"]["comm"], 0.25)
        r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             optimizer_time=2)
        self.assertEqual(r["iteration_time"], 35.0)
        self.assertEqual(r["makespan"], 33.0)

    def test_detail(self):
        r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             detail=True)
        # F and one unsplit backward per microbatch on each rank.
        self.assertEqual(len(r["ops"]), 4 * 8 * 2)
        self.assertEqual(max(o["end"] for o in r["ops"]), 33.0)
        first = min(r["ops"], key=lambda o: (o["start"], o["rank"]))
        self.assertEqual((first["rank"], first["op"], first["microbatch"]),
                         (0, "F", 0))
        self.assertTrue(r["memory"])

    def test_schedule_file(self):
        data = os.environ.get("PL_TEST_DATA")
        if not data:
            self.skipTest("PL_TEST_DATA not set")
        r = pipelab.simulate(
            schedule_file=os.path.join(data, "pytorch",
                                       "dualpipev_4rank_10mb.csv"))
        self.assertEqual(r["schedule"], "dualpipev_4rank_10mb.csv")
        self.assertEqual(r["csv"]["dialect"], "current")
        self.assertEqual((r["stages"], r["microbatches"], r["chunks"]),
                         (4, 10, 2))
        self.assertEqual(r["makespan"], 33.0)


class RequestOptions(unittest.TestCase):
    """The options the library's simulate request (pl_sim_request) maps for
    the command and the module alike, checked against closed forms."""

    def test_op_gap(self):
        # docs/transfers.md section 4: every one of the 2(m+p-1) ops on the
        # transfer-free 1F1B critical path pays the gap, the first before
        # the first start: (m+p-1)(T_F + T_BW + 2g) - g.
        for p, m, g in [(4, 8, 0.5), (4, 8, 0.25), (4, 8, 1.0), (2, 5, 1.0)]:
            r = pipelab.simulate(schedule="1f1b", stages=p, microbatches=m,
                                 op_gap=g)
            self.assertEqual(r["makespan"], (m + p - 1) * (1 + 2 + 2 * g) - g,
                             "p=%d m=%d g=%g" % (p, m, g))
            self.assertEqual(r["costs"]["op_gap"], g)
            # The gap is idle time: busy time does not change.
            self.assertEqual(r["ranks"][0]["busy"], 3.0 * m)

    def test_msg_overheads(self):
        # docs/cost-model.md section 14: with one microbatch every boundary
        # adds o_s + c + o_r in each direction, in every P2P mode:
        # p (T_F + T_B + T_W) + 2 (p - 1)(o_s + c + o_r).
        for mode in ("async", "blocking", "batched"):
            r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=1,
                                 comm=0.5, send_overhead=0.25,
                                 recv_overhead=0.125, p2p=mode)
            self.assertEqual(r["makespan"], 4 * 3 + 2 * 3 * 0.875, mode)
            self.assertEqual(r["costs"]["send_overhead"], 0.25)
            self.assertEqual(r["costs"]["local_handoff"], "free")
        with self.assertRaises(pipelab.Error):
            pipelab.simulate(schedule="zb-v", stages=2, microbatches=4,
                             local_handoff="sometimes")

    def test_p2p_closed_form(self):
        # docs/transfers.md section 2, 1F1B p=4 m=8, every message c:
        # 11 (T_F + T_BW) + {async 16, batched 19, blocking 34} c.
        per_c = {"async": 16, "batched": 19, "blocking": 34}
        for tf, tb, tw in [(1, 1, 1), (2, 1.5, 0.5)]:
            for mode, k in per_c.items():
                for c in (0.25, 0.5):
                    r = pipelab.simulate(schedule="1f1b", stages=4,
                                         microbatches=8, p2p=mode, comm=c,
                                         tf=tf, tb=tb, tw=tw)
                    self.assertEqual(r["makespan"],
                                     11 * (tf + tb + tw) + k * c,
                                     "%s c=%g" % (mode, c))
                    self.assertEqual(r["costs"]["p2p"], mode)

    def test_bandwidth_is_comm(self):
        # A message of msg_bytes over bandwidth costs msg_bytes / bandwidth,
        # as comm would: 2 / 4 = 0.5, so async 33 + 16 * 0.5.
        r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             bandwidth=4, msg_bytes=2)
        self.assertEqual(r["makespan"], 41.0)
        with self.assertRaisesRegex(pipelab.Error, "needs a 'bandwidth'"):
            pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             msg_bytes=2)

    def test_optimizer_time(self):
        # sync: makespan + T; post-validate: longest rank span + T.
        for mode in ("sync", "post-validate"):
            r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                                 optimizer=mode, optimizer_time=3)
            self.assertEqual(r["optimizer"], mode)
            self.assertEqual(r["makespan"], 33.0)
            self.assertEqual(r["iteration_time"], r["max_rank_span"] + 3)
            self.assertEqual(r["costs"]["optimizer_time"], 3.0)

    def test_a2a(self):
        # The expert all-to-all is paid by every F and every B (not W): on
        # the 1F1B critical path 11 (T_F + a + T_BW + a).
        r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             a2a=0.5)
        self.assertEqual(r["makespan"], 11 * (1 + 0.5 + 2 + 0.5))
        self.assertEqual(r["costs"]["a2a"], 0.5)

    def test_fb_overlap(self):
        # A fused F&B op (dualpipev) takes max(F,B) + (1 - x) min(F,B):
        # full overlap is never slower than none, and the answer echoes x.
        none = pipelab.simulate(schedule="dualpipev", stages=4,
                                microbatches=10)
        full = pipelab.simulate(schedule="dualpipev", stages=4,
                                microbatches=10, fb_overlap=1)
        self.assertEqual(none["makespan"], 33.0)
        self.assertEqual(full["makespan"], 26.0)  # the command's figure
        self.assertEqual(full["costs"]["fb_overlap"], 1.0)

    def test_stage_costs(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "stages.csv")
            with open(path, "w") as f:
                f.write("stage,F,B,W,act,kept\n")
                for g in range(4):
                    f.write("%d,2,1,1,10,5\n" % g)
            r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                                 stage_costs=path)
            # Uniform per-stage costs: (m + p - 1)(F + B + W); memory in the
            # file's bytes, 1F1B keeping p microbatches on rank 0.
            self.assertEqual(r["makespan"], 11 * (2 + 1 + 1.0))
            self.assertEqual(r["mem_unit"], "bytes")
            self.assertEqual(r["peak_activation_bytes"], 40.0)
            with open(path, "w") as f:
                f.write("stage,F,B,W,act,kept\n0,1,1,x,10,5\n")
            with self.assertRaises(pipelab.Error) as cm:
                pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                                 stage_costs=path)
            self.assertEqual(cm.exception.code, "PL_EPARSE")
            self.assertIn("stages.csv': line 2", str(cm.exception))

    def test_replica_allreduce(self):
        base = pipelab.simulate(schedule="chimera", stages=4, microbatches=8)
        r = pipelab.simulate(schedule="chimera", stages=4, microbatches=8,
                             replica_allreduce=2)
        self.assertEqual((base["makespan"], r["makespan"]), (32.0, 36.0))
        with self.assertRaisesRegex(pipelab.Error, "stage copies"):
            pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             replica_allreduce=2)

    def test_mem_limit_per_rank(self):
        # zb-auto under one limit per rank; a list of equal limits is the
        # scalar limit.
        same = pipelab.simulate(schedule="zb-auto", stages=4, microbatches=8,
                                mem_limit=[3, 3, 3, 3])
        one = pipelab.simulate(schedule="zb-auto", stages=4, microbatches=8,
                               mem_limit=3)
        self.assertEqual(same["makespan"], one["makespan"])
        self.assertEqual(one["makespan"], 37.0)
        mixed = pipelab.simulate(schedule="zb-auto", stages=4,
                                 microbatches=8, mem_limit=[4, 4, 3, 3])
        self.assertEqual(mixed["makespan"], 27.0)
        self.assertLessEqual(
            [x["peak_activation_units"] for x in mixed["ranks"]],
            [4, 4, 3, 3])
        with self.assertRaisesRegex(pipelab.Error, "one per rank"):
            pipelab.simulate(schedule="zb-auto", stages=4, microbatches=8,
                             mem_limit=[4, 4, 3])
        with self.assertRaisesRegex(pipelab.Error, "zb-auto only"):
            pipelab.simulate(schedule="zb-v", stages=4, microbatches=8,
                             mem_limit=[4, 4, 3, 3])

    def test_waves_and_rank_speed(self):
        w = pipelab.simulate(schedule="hanayo", stages=4, microbatches=8,
                             waves=2)
        c = pipelab.simulate(schedule="hanayo", stages=4, microbatches=8,
                             chunks=4)
        self.assertEqual(w["chunks"], 4)
        self.assertEqual(w["makespan"], c["makespan"])
        # One rank at half speed: it is busy 2 * 3m.
        r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             rank_speed=[1, 1, 2, 1])
        self.assertEqual(r["ranks"][2]["busy"], 48.0)
        self.assertEqual(r["makespan"], 55.0)  # the command's figure

    def test_whatif_takes_the_request(self):
        # (whatif starts from the paper's costs: unit costs given here)
        w = pipelab.whatif(stages=4, microbatches=8, tf=1, tb=1, tw=1,
                           comm=0, op_gap=0.5, schedules="1f1b")
        self.assertEqual(w["schedules"][0]["makespan"], 11 * 4 - 0.5)
        self.assertEqual(w["op_gap"], 0.5)

    def test_jitter(self):
        # jitter 0: every trial is the deterministic run (33 for 1F1B p=4
        # m=8 unit costs); a single op (p=1, m=1, tb=tw=0) is log-normal:
        # its median over many trials is the op's time
        r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             jitter=0, trials=3)
        t = r["trials"]
        self.assertEqual((t["n"], t["deterministic"], t["p10"], t["p50"],
                          t["p90"]), (3, 33, 33, 33, 33))
        r = pipelab.simulate(schedule="1f1b", stages=1, microbatches=1,
                             tf=10, tb=0, tw=0, jitter=0.1, trials=2001,
                             jitter_seed=3)
        t = r["trials"]
        self.assertAlmostEqual(t["p50"] / 10, 1, delta=0.012)
        self.assertAlmostEqual(t["p10"] / (10 * math.exp(-1.2816 * 0.1)), 1,
                               delta=0.015)
        self.assertEqual(r["makespan"], t["p50"])
        self.assertEqual(t["seed"], 3)
        w = pipelab.whatif(stages=4, microbatches=8, tf=1, tb=1, tw=1,
                           jitter=0.05, trials=50, schedules="1f1b,zb-h1")
        for row in w["schedules"]:
            self.assertGreater(row["trials"]["p50"],
                               row["trials"]["deterministic"])
        with self.assertRaisesRegex(pipelab.Error, "'trials' needs 'jitter'"):
            pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             trials=5)
        with self.assertRaisesRegex(pipelab.Error, "'jitter' must be"):
            pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             jitter=2)


class Errors(unittest.TestCase):
    def test_unknown_schedule(self):
        with self.assertRaises(pipelab.Error) as cm:
            pipelab.simulate(schedule="nope", stages=4, microbatches=8)
        self.assertEqual(str(cm.exception),
                         "simulate: unknown schedule 'nope' (schedules() "
                         "lists the names)")
        self.assertEqual(cm.exception.code, "PL_EINVAL")
        self.assertEqual(cm.exception.errno, -2)

    def test_generator_constraint(self):
        with self.assertRaises(pipelab.Error) as cm:
            pipelab.simulate(schedule="interleaved", stages=4,
                             microbatches=6, chunks=2)
        self.assertIn("multiple of stages", str(cm.exception))

    def test_deadlock(self):
        with self.assertRaises(pipelab.Error) as cm:
            pipelab.simulate(schedule="zb-h1", stages=4, microbatches=8,
                             comm=0.25, p2p="blocking")
        self.assertEqual(cm.exception.code, "PL_EDEADLOCK")
        self.assertIn("rank 0 blocked", str(cm.exception))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(pipelab.Error, "unknown argument 'tff'"):
            pipelab.simulate(schedule="1f1b", stages=4, microbatches=8, tff=1)
        with self.assertRaisesRegex(pipelab.Error, "missing 'stages'"):
            pipelab.simulate(schedule="1f1b", microbatches=8)
        with self.assertRaisesRegex(pipelab.Error, "'tf' must be a number"):
            pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             tf="fast")
        with self.assertRaisesRegex(pipelab.Error, "'stages' must be between"):
            pipelab.simulate(schedule="1f1b", stages=0, microbatches=8)
        with self.assertRaises(pipelab.Error) as cm:
            pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                             model="llama3-8b")
        self.assertEqual(cm.exception.code, "PL_ENOTSUP")

    def test_missing_file(self):
        with self.assertRaises(pipelab.Error) as cm:
            pipelab.load_result("/nonexistent/pipelab/result.json")
        self.assertIn("/nonexistent/pipelab/result.json", str(cm.exception))


class Results(unittest.TestCase):
    def test_load_result_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "zbh1.json")
            r = pipelab.simulate(schedule="zb-h1", stages=4, microbatches=8,
                                 detail=True, save=path)
            with open(path) as f:
                self.assertEqual(json.load(f)["makespan"], r["makespan"])
            back = pipelab.load_result(path)
        for key in ("schedule", "stages", "microbatches", "makespan",
                    "max_rank_span", "bubble_ratio", "ranks", "ops",
                    "memory", "iteration_time", "optimizer"):
            self.assertEqual(back[key], r[key], key)
        # ZB-H1's bubble is (p - 1)(F + B - W) (Zero Bubble paper): 24 + 3.
        self.assertEqual(back["makespan"], 27.0)
        self.assertEqual(len(back["ops"]), 4 * 8 * 3)  # F, B and W

    def test_load_chrome_trace(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "trace.json")
            r = pipelab.simulate(schedule="1f1b", stages=4, microbatches=8,
                                 trace=path)
            back = pipelab.load_result(path)
        self.assertEqual(back["makespan"], r["makespan"])
        self.assertEqual(len(back["ops"]), 64)

    def test_bad_result_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.json")
            with open(path, "w") as f:
                f.write('{"schedule": "x", "stages": "four"}')
            with self.assertRaises(pipelab.Error) as cm:
                pipelab.load_result(path)
        self.assertIn("bad.json", str(cm.exception))
        self.assertEqual(cm.exception.code, "PL_EPARSE")


class WhatifSweep(unittest.TestCase):
    def test_whatif_runtimes(self):
        # The README's table: one case, three runtimes, three winners.
        want = {"async": [37.0, 32.0, 30.0], "batched": [37.75, 34.75, 40.0]}
        for p2p, times in want.items():
            w = pipelab.whatif(stages=4, microbatches=8, tf=1, tb=1, tw=1,
                               comm=0.25, time_unit="ms", p2p=p2p,
                               schedules=["1f1b", "interleaved", "zb-h1"])
            self.assertEqual([x["schedule"] for x in w["schedules"]],
                             ["1f1b", "interleaved", "zb-h1"])
            self.assertEqual([x["iteration_time"] for x in w["schedules"]],
                             times, p2p)
            self.assertEqual(w["p2p"], p2p)

    def test_whatif_default_case(self):
        # Without options: the Zero Bubble paper's 1.5B case.
        w = pipelab.whatif(schedules="1f1b")
        self.assertEqual((w["stages"], w["microbatches"], w["time_unit"]),
                         (8, 24, "us"))
        same = pipelab.whatif(stages=8, microbatches=24, tf=18522, tb=18086,
                              tw=9337, comm=601, mem_w_frac=73728 / 201216,
                              time_unit="us", schedules="1f1b")
        self.assertEqual(w["schedules"][0]["makespan"],
                         same["schedules"][0]["makespan"])
        # Free transfers: (m + p - 1)(F + B + W).
        free = pipelab.whatif(comm=0, schedules="1f1b")
        self.assertEqual(free["schedules"][0]["makespan"],
                         31 * (18522 + 18086 + 9337))
        self.assertGreater(w["schedules"][0]["makespan"],
                           free["schedules"][0]["makespan"])

    def test_sweep_constant_costs(self):
        s = pipelab.sweep(16, microbatches="8..64:8", tf=16, tb=16, tw=12,
                          comm=0.1, mem_limit=1, top=3)
        self.assertEqual(len(s["rows"]), 3)
        self.assertGreater(s["points"], s["accepted"])
        self.assertGreater(s["accepted"], 0)
        best = s["rows"][0]
        # No pipeline (p = 1, dp = 16): m (tf + tb + tw) per iteration, the
        # only shape within one unit of activations.
        self.assertEqual((best["schedule"], best["stages"], best["dp"]),
                         ("1f1b", 1, 16))
        self.assertEqual(best["iteration_time"],
                         best["microbatches"] * (16 + 16 + 12))
        for row in s["rows"]:
            self.assertEqual(row["status"], "ok")
            self.assertAlmostEqual(
                row["throughput"],
                row["microbatches"] * row["mb_size"] * row["dp"]
                / row["iteration_time"], places=12)
        tp = [row["throughput"] for row in s["rows"]]
        self.assertEqual(tp, sorted(tp, reverse=True))

    def test_sweep_rejects_with_reason(self):
        s = pipelab.sweep(8, stages=[3], microbatches=8, all=True)
        self.assertEqual(s["accepted"], 0)
        self.assertTrue(all(r["status"] == "rejected" for r in s["rows"]))
        self.assertEqual(s["rows"][0]["reject_kind"], "layout")


class Misc(unittest.TestCase):
    def test_schedules(self):
        names = [s["name"] for s in pipelab.schedules()]
        for n in ("gpipe", "1f1b", "interleaved", "zb-h1", "zb-v"):
            self.assertIn(n, names)

    def test_version(self):
        v = pipelab.version()
        self.assertRegex(v["version"], r"^\d+\.\d+\.\d+$")
        self.assertIn("cpu", v["backends"].split(","))
        self.assertTrue(pipelab.library_path())


if __name__ == "__main__":
    unittest.main()
