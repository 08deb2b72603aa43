"""OR-Library benchmarks: set covering (sets 4-6) and p-median (pmed1-pmed40) optima.

The instances live outside the repository, in ``shared/data`` next to the clone; the
benchmark tests skip when it is absent. The reader tests use small temporary files. The slow
p-median instances are marked ``slow`` and skipped unless a marker expression is given
(``pytest -m slow``); bench/scale.py runs all 40.
"""

import gzip
from pathlib import Path

import numpy as np
import pytest

from coverage.inputs.orlib import pmed_instances, read_pmed, read_scp, scp_instances
from coverage.solvers.cover import min_cover
from coverage.solvers.pmedian import p_median

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# pmed instances taking more than ~2 s each (read + solve) on a 2-core machine
SLOW_PMED = {25, 30, 33, 34, 36, 37, 38, 39}


def _require(sub: str) -> Path:
    folder = SHARED / sub
    if not folder.is_dir():
        pytest.skip(f"OR-Library data not found at {folder} (expected shared/data beside the "
                    "repository clone)")
    return folder


# --------------------------------------------------------------------------- readers


def test_read_pmed_last_duplicate_edge_wins(tmp_path):
    f = tmp_path / "tiny.txt"
    # edge 1-2 appears twice: the LAST cost (7) is used, not the minimum (2); 2-1 also counts
    f.write_text(" 4 5 2\n 1 2 2\n 2 3 1\n 2 1 7\n 3 4 4\n 1 4 20\n")
    cost, p = read_pmed(f)
    assert p == 2 and cost.shape == (4, 4) and cost.dtype == np.float64
    expected = np.array([
        [0, 7, 8, 12],
        [7, 0, 1, 5],
        [8, 1, 0, 4],
        [12, 5, 4, 0],
    ], dtype=float)
    np.testing.assert_array_equal(cost, expected)


def test_read_pmed_rejects_bad_files(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("3 2 1\n1 2 5\n")
    with pytest.raises(ValueError, match="expected 2 edges"):
        read_pmed(f)
    f.write_text("3 1 1\n1 4 5\n")
    with pytest.raises(ValueError, match="out of range"):
        read_pmed(f)


@pytest.mark.parametrize("compressed", [False, True])
def test_read_scp(tmp_path, compressed):
    text = "3 4\n 5 1 2\n 3\n2 1 2\n1\n 4\n3 2 3 4\n"
    path = tmp_path / ("t.txt.gz" if compressed else "t.txt")
    if compressed:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    a, cost = read_scp(path)
    assert a.shape == (3, 4) and a.dtype == np.int8
    np.testing.assert_array_equal(cost, [5.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(a.toarray(), [[1, 1, 0, 0], [0, 0, 0, 1], [0, 1, 1, 1]])
    res = min_cover(a, requirement=1, cost=cost)
    assert res.objective == 4.0 and res.sites.tolist() == [1, 3]


def test_read_scp_rejects_bad_files(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("2 3\n1 1 1\n2 1 2\n")
    with pytest.raises(ValueError, match="truncated"):
        read_scp(f)
    f.write_text("1 3\n1 1 1\n1 4\n")
    with pytest.raises(ValueError, match="out of range"):
        read_scp(f)
    f.write_text("1 3\n1 1 1\n1 x\n")
    with pytest.raises(ValueError, match="integers"):
        read_scp(f)


def test_instance_lists():
    _require("orlib_pmed")
    _require("orlib_scp")
    pmed = pmed_instances(SHARED)
    assert [name for name, *_ in pmed] == [f"pmed{k}" for k in range(1, 41)]
    assert all(path.is_file() for _, path, _, _ in pmed)
    scp = scp_instances(SHARED)
    assert len(scp) == 25 and all(path.is_file() for _, path, _ in scp)
    assert {name for name, _, _ in scp} == (
        {f"scp4{k}" for k in range(1, 11)} | {f"scp5{k}" for k in range(1, 11)}
        | {f"scp6{k}" for k in range(1, 6)})
    assert len(scp_instances(SHARED, sets=("a", "nre"))) == 10


# --------------------------------------------------------------------------- set covering

SCP_NAMES = ([f"scp4{k}" for k in range(1, 11)] + [f"scp5{k}" for k in range(1, 11)]
             + [f"scp6{k}" for k in range(1, 6)])


@pytest.mark.parametrize("name", SCP_NAMES)
def test_min_cover_scp_optimum(name):
    _require("orlib_scp")
    (path, optimum), = [(p, o) for n, p, o in scp_instances(SHARED) if n == name]
    a, cost = read_scp(path)
    res = min_cover(a, requirement=1, cost=cost, time_limit_s=120)
    assert res.status == "optimal"
    assert res.objective == optimum
    covered = a[:, res.sites].sum(axis=1)
    assert np.all(covered >= 1)
    assert cost[res.sites].sum() == optimum


# --------------------------------------------------------------------------- p-median


def _pmed_param(k: int):
    marks = [pytest.mark.slow] if k in SLOW_PMED else []
    return pytest.param(k, id=f"pmed{k}", marks=marks)


@pytest.mark.parametrize("k", [_pmed_param(k) for k in range(1, 41)])
def test_p_median_pmed_optimum(k, request):
    _require("orlib_pmed")
    if k in SLOW_PMED and not request.config.getoption("-m"):
        pytest.skip("slow instance: run with -m slow (or bench/scale.py)")
    name, path, p, optimum = pmed_instances(SHARED)[k - 1]
    assert name == f"pmed{k}"
    cost, p_file = read_pmed(path)
    assert p_file == p
    res = p_median(cost, p, time_limit_s=300)
    assert res.status == "optimal"
    assert res.objective == optimum
    assert res.lower_bound == pytest.approx(res.objective, rel=1e-6)
    assert len(res.sites) == p
    assert cost[:, res.sites].min(axis=1).sum() == optimum
