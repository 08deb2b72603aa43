"""Published optima: OR-Library set covering (sets 4-6) and p-median (pmed1-40).

Needs the team's shared data folder beside the repository (``../shared/data``); skips with a
message when it is absent. The slow p-median instances are marked ``slow`` and run in
``make bench`` (bench/scale.py) rather than by default.
"""

from pathlib import Path

import numpy as np
import pytest

from coverage.optimize import min_cover, p_median
from coverage.orlib import pmed_instances, read_pmed, read_scp, scp_instances

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "orlib_scp").is_dir(),
    reason=f"OR-Library data not found at {SHARED} (the shared data folder is absent)",
)


def _scp():
    return scp_instances(SHARED) if (SHARED / "orlib_scp").is_dir() else []


def _pmed():
    return pmed_instances(SHARED) if (SHARED / "orlib_pmed").is_dir() else []


FAST_PMED = {f"pmed{i}" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 21)}


@needs_shared
@pytest.mark.parametrize("instance", _scp(), ids=lambda rec: rec[0])
def test_weighted_set_cover_reaches_the_published_optimum(instance):
    path, optimum = instance[1], instance[-1]
    a, cost = read_scp(path)
    res = min_cover(a, 1, cost=cost, time_limit_s=120)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(float(optimum))
    chosen = np.zeros(a.shape[1], dtype=bool)
    chosen[res.sites] = True
    assert ((a @ chosen.astype(np.int64)) >= 1).all()


@needs_shared
@pytest.mark.parametrize(
    "instance",
    [pytest.param(rec, marks=() if rec[0] in FAST_PMED else pytest.mark.slow) for rec in _pmed()],
    ids=lambda rec: rec[0],
)
def test_p_median_reaches_the_published_optimum(instance, request):
    name, path, _p, optimum = instance
    if name not in FAST_PMED and not request.config.getoption("-m"):
        pytest.skip("slow instance: run with -m slow or `make bench`")
    cost, p = read_pmed(path)
    res = p_median(cost, p, time_limit_s=300)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(float(optimum))
    assert len(res.sites) == p
