"""Per-stage costs that jobs add to their results, and how they add up over images."""

import numpy as np

from calcdet_core.run.executor import stage_costs, timed


def test_timed_adds_wall_cpu_and_peak_memory_per_stage():
    out: dict[str, np.ndarray] = {"xyr": np.zeros((0, 3))}
    with timed(out, "proposal"):
        np.ones((300, 300)).sum()
    with timed(out, "proposal"):  # a stage timed twice in one job adds up
        pass
    with timed(out, "features0-fos"):
        pass
    assert {k for k in out if k != "xyr"} == {f"{kind}_{stage}" for kind in ("wall", "cpu", "rss")
                                               for stage in ("proposal", "features0-fos")}
    assert out["wall_proposal"] > 0 and out["cpu_proposal"] >= 0 and out["rss_proposal"] > 1


def test_stage_costs_sum_seconds_and_keep_the_largest_peak():
    a = {"wall_read": np.float64(1.0), "cpu_read": np.float64(0.5), "rss_read": np.float64(100.0), "label": np.ones(3)}
    b = {"wall_read": np.float64(2.0), "cpu_read": np.float64(1.5), "rss_read": np.float64(80.0)}
    assert stage_costs([a, b]) == {"read": {"wall_s": 3.0, "cpu_s": 2.0, "peak_rss_mb": 100.0}}
    assert stage_costs([{"label": np.ones(2)}]) == {}, "results from before costs were kept add nothing"
