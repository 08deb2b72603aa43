"""``expand_flows``: a merged point's flow handed to its original points in few pairs.

Checked against an independent computation: each original point's flows sum to its share
of its merged point's flow, each (merged point, site) entry is handed out whole, every
pair lies in its merged point's support, and a merged point of ``p`` points and ``s``
sites yields at most ``p + s - 1`` pairs (the proportional split gave ``p x s``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.solvers.flow_expand import expand_flows


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    n_merged, m = int(rng.integers(1, 12)), int(rng.integers(1, 8))
    dense = rng.random((n_merged, m)) * (rng.random((n_merged, m)) < 0.5)
    dense[rng.random(n_merged) < 0.2] = 0.0  # merged points with no flow
    n = int(rng.integers(n_merged, 4 * n_merged + 2))
    inverse = np.r_[np.arange(n_merged), rng.integers(0, n_merged, n - n_merged)]
    rng.shuffle(inverse)
    load = rng.random(n) * (rng.random(n) < 0.9)  # some points of no load
    # a merged point serves at most its load (a scenario may shed some)
    m_load = np.bincount(inverse, weights=load, minlength=n_merged)
    row = dense.sum(axis=1)
    scale = np.divide(m_load * rng.uniform(0.5, 1.0, n_merged), row,
                      out=np.zeros(n_merged), where=row > 0)
    flows = sp.csr_array(dense * scale[:, None])
    return flows, inverse, load


def check(flows, inverse, load, point, site, flow, point_order=None):
    flows = sp.csr_array(flows)
    dense = flows.toarray()
    n_merged, m = dense.shape
    n = len(inverse)
    m_load = np.bincount(inverse, weights=load, minlength=n_merged)
    share = np.divide(dense.sum(axis=1), m_load, out=np.zeros(n_merged), where=m_load > 0)
    assert (flow > 0).all()
    assert len(set(zip(point.tolist(), site.tolist(), strict=True))) == len(point), "a pair twice"
    # every pair in its merged point's support
    assert (dense[inverse[point], site] > 0).all()
    # each point gets its share of its merged point's flow
    got = np.bincount(point, weights=flow, minlength=n)
    np.testing.assert_allclose(got, load * share[inverse], rtol=1e-9, atol=1e-12)
    # each (merged point, site) entry is handed out whole
    back = np.zeros_like(dense)
    np.add.at(back, (inverse[point], site), flow)
    np.testing.assert_allclose(back, dense, rtol=1e-9, atol=1e-12)
    # at most p + s - 1 pairs per merged point (p points with a flow, s sites)
    for g in range(n_merged):
        p = int(((inverse == g) & (load * share[inverse] > 0)).sum())
        s = int((dense[g] > 0).sum())
        assert (inverse[point] == g).sum() <= max(p + s - 1, 0), g
    if point_order is not None:  # points of a merged point take the sites in order
        for g in range(n_merged):
            mine = np.flatnonzero(inverse[point] == g)
            o = np.argsort(np.asarray(point_order)[point[mine]], kind="stable")
            assert (np.diff(site[mine][o]) >= 0).all()


@pytest.mark.parametrize("seed", range(60))
def test_random_cases_against_the_merged_flow(seed):
    flows, inverse, load = random_case(seed)
    point, site, flow = expand_flows(flows, inverse, load)
    check(flows, inverse, load, point, site, flow)


@pytest.mark.parametrize("seed", range(20))
def test_order_keys_match_points_to_sites_in_order(seed):
    flows, inverse, load = random_case(seed)
    rng = np.random.default_rng(1000 + seed)
    p_key = rng.random(len(inverse))
    s_key = np.arange(flows.shape[1], dtype=np.float64)  # sites in index order
    point, site, flow = expand_flows(flows, inverse, load, point_order=p_key,
                                     site_order=s_key)
    check(flows, inverse, load, point, site, flow, point_order=p_key)


def test_hand_case_north_west_corner():
    # one merged point of two points (load 3 and 1) served 2 by site 0 and 2 by site 1:
    # the first point takes site 0's 2 and 1 of site 1, the second the other 1 of site 1;
    # the proportional split gave each point both sites (4 pairs)
    flows = sp.csr_array(np.array([[2.0, 2.0]]))
    point, site, flow = expand_flows(flows, [0, 0], [3.0, 1.0])
    got = sorted(zip(point.tolist(), site.tolist(), flow.tolist(), strict=True))
    assert got == [(0, 0, 2.0), (0, 1, 1.0), (1, 1, 1.0)]


def test_shed_share_and_points_without_a_flow():
    # merged point 0 serves half its load; merged point 1 has no flow (no site in budget)
    flows = sp.csr_array(np.array([[1.0, 0.0], [0.0, 0.0]]))
    point, site, flow = expand_flows(flows, [0, 1, 0], [1.0, 5.0, 1.0])
    assert sorted(zip(point.tolist(), site.tolist(), flow.tolist(), strict=True)) == [(0, 0, 0.5),
                                                                       (2, 0, 0.5)]


def test_no_flow_at_all():
    point, site, flow = expand_flows(sp.csr_array((3, 2)), [0, 1, 2, 2], np.ones(4))
    assert len(point) == len(site) == len(flow) == 0


def test_large_merged_point_stays_sparse():
    # 10,000 points of one merged point over 5 sites: at most 10,004 pairs (not 50,000),
    # and the sums still hold
    rng = np.random.default_rng(3)
    load = rng.random(10_000)
    flows = sp.csr_array(np.full((1, 5), load.sum() / 5))
    point, site, flow = expand_flows(flows, np.zeros(10_000, dtype=np.int64), load)
    assert len(point) <= 10_004
    check(flows, np.zeros(10_000, dtype=np.int64), load, point, site, flow)


def test_a_small_merged_point_after_a_huge_one_keeps_its_digits():
    """Tester 108's flows.csv: 0.6 requests/s served as 0.5999999046 (and 0.2986 +
    0.3014 summing to that) after a merged point of 2e9: the running sums were one total
    over every merged point, less those before, and lost the small ones' digits. Each
    point's flows now sum to its load to float precision."""
    flows = sp.csr_array(np.array([[2e9, 0.0, 0.0], [0.0, 1.0, 0.8]]))
    inverse = np.array([0, 0, 1, 1, 1])
    load = np.array([1e9, 1e9, 0.6, 0.6, 0.6])
    point, site, flow = expand_flows(flows, inverse, load)
    served = np.bincount(point, weights=flow, minlength=5)
    np.testing.assert_allclose(served, load, rtol=1e-14)
    np.testing.assert_allclose(np.bincount(site, weights=flow, minlength=3),
                               [2e9, 1.0, 0.8], rtol=1e-14)
