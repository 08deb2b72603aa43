"""Failure scenarios by components of the plan: above the scenario limit only combinations
of domains with an open site in one component are listed, and the list is complete.

Checked by brute force with an independent max-flow (networkx): every scenario of up to
``k`` domains is feasible exactly when, for every component (networkx's own components of
the points and open sites), the scenario of its domains is; each of those is listed.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from coverage.solvers.capacitated import capacitated_cover, failure_scenarios


def clustered(seed: int, clusters: int = 4, per: int = 5, points: int = 12):
    """Sites in separate clusters, each point reaching sites of its own cluster only."""
    rng = np.random.default_rng(seed)
    m = clusters * per
    n = clusters * points
    mask = np.zeros((n, m), dtype=bool)
    for c in range(clusters):
        rows = slice(c * points, (c + 1) * points)
        block = rng.random((points, per)) < 0.55
        block[np.arange(points), rng.integers(0, per, points)] = True
        mask[rows, c * per:(c + 1) * per] = block
    load = rng.uniform(5.0, 25.0, n)
    cap = rng.uniform(40.0, 120.0, m)
    return mask, load, cap


def nx_feasible(mask, load, cap, open_sites, failed_sites) -> bool:
    """Every point not excused (some candidate alive) served its load by open sites alive
    within budget: networkx max-flow."""
    down = set(failed_sites)
    up = [j for j in open_sites if j not in down]
    g = nx.DiGraph()
    need = 0.0
    for i in range(mask.shape[0]):
        cands = np.flatnonzero(mask[i])
        if not len(cands) or all(int(j) in down for j in cands):
            continue  # no candidate, or every candidate failed: excused
        need += load[i]
        g.add_edge("s", ("p", i), capacity=float(load[i]))
        for j in cands:
            if int(j) in up:
                g.add_edge(("p", i), ("q", int(j)), capacity=float("inf"))
    for j in up:
        g.add_edge(("q", j), "t", capacity=float(cap[j]))
    if need == 0:
        return True
    if "s" not in g or "t" not in g:
        return False
    value, _ = nx.maximum_flow(g, "s", "t")
    return value >= need * (1 - 1e-9)


def nx_components(mask, open_sites) -> list[set[int]]:
    """Open sites grouped by the components of points and open sites (networkx)."""
    g = nx.Graph()
    g.add_nodes_from(("q", int(j)) for j in open_sites)
    rows, cols = np.nonzero(mask[:, open_sites])
    g.add_edges_from((("p", int(i)), ("q", int(open_sites[c]))) for i, c in zip(rows, cols,
                                                                               strict=True))
    return [{j for kind, j in comp if kind == "q"} for comp in nx.connected_components(g)
            if any(kind == "q" for kind, _ in comp)]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("with_domains", [False, True])
def test_components_list_is_complete_and_implies_every_scenario(seed, with_domains):
    mask, load, cap = clustered(seed)
    m = mask.shape[1]
    rng = np.random.default_rng(50 + seed)
    open_sites = np.sort(rng.choice(m, size=14, replace=False))
    # domains across clusters: a domain may hold sites of two components, and closed ones
    domains = (np.array([f"d{j % 7}" for j in range(m)], dtype=object) if with_domains
               else None)
    groups = ({d: {j for j in range(m) if domains[j] == d} for d in set(domains[open_sites])}
              if with_domains else {j: {int(j)} for j in open_sites})
    names = list(groups)
    full = [frozenset()] + [frozenset(c) for k in (1, 2)
                            for c in itertools.combinations(names, k)]
    comps = nx_components(mask, open_sites)
    # the domains with an open site in each component, and their pairs
    in_comp = [{d for d in names if groups[d] & comp} for comp in comps]
    pairs = {frozenset(c) for e in in_comp for c in itertools.combinations(sorted(e, key=str),
                                                                           2)}
    limit = len(names) + len(pairs)  # normal operation, singles, pairs within components
    assert len(full) > limit + 1  # the plain list would be cut
    listed, complete = failure_scenarios(open_sites, 2, domains, limit=limit,
                                         reach=sp.csr_array(mask))
    assert complete and len(listed) == limit + 1
    cut, cut_complete = failure_scenarios(open_sites, 2, domains, limit=limit - 1,
                                          reach=sp.csr_array(mask))
    assert not cut_complete  # one short: cut, and says so
    listed_sets = {frozenset(s) for s in listed}
    # brute force: every scenario is feasible iff its per-component parts are, and every
    # part is a listed scenario (its failed candidates)
    feas_cache: dict[frozenset, bool] = {}

    def feasible(doms: frozenset) -> bool:
        if doms not in feas_cache:
            failed = set().union(*(groups[d] for d in doms)) if doms else set()
            feas_cache[doms] = nx_feasible(mask, load, cap, open_sites, failed)
        return feas_cache[doms]

    for t in full:
        parts = [frozenset(t & e) for e in in_comp]
        for p in parts:
            failed = frozenset(set().union(*(groups[d] for d in p)) if p else set())
            assert failed in listed_sets, (sorted(t, key=str), sorted(p, key=str))
        assert feasible(t) == all(feasible(p) for p in parts), sorted(t, key=str)


def test_a_plan_of_many_components_is_checked_completely_at_n2():
    """Before, a plan whose full list of N-2 scenarios passed the limit was checked on a
    cut list (``complete`` False); by components, every scenario is covered, and the plan
    equals the one checked on the full list."""
    mask, load, cap = clustered(3, clusters=6, per=5, points=10)
    cap = cap * 4.0
    reach = sp.csr_array(mask)
    req = np.minimum(3, mask.sum(axis=1))
    small = capacitated_cover(reach, load, cap, req, failures=2, scenario_limit=100,
                              time_limit_s=60.0)
    full = capacitated_cover(reach, load, cap, req, failures=2, time_limit_s=60.0)
    n_open = len(full.sites)
    assert 1 + n_open + n_open * (n_open - 1) // 2 > 101  # the plain list would be cut
    assert full.complete and full.status == "optimal"
    assert small.complete and small.status == "optimal"
    assert small.objective == full.objective
    assert len(small.scenarios) < len(full.scenarios)


def one_component(seed: int, m: int = 30, n: int = 130):
    """Sites on a line, points reaching the sites within 1.5 positions: one component in
    which near pairs share reroutes and far ones do not."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, m - 1, n)
    mask = np.abs(pos[:, None] - np.arange(m)[None, :]) <= 1.5
    load = rng.uniform(5.0, 25.0, n)
    cap = rng.uniform(0.9, 1.6, m) * load.sum() / m * 1.2
    return mask, load, cap


def below_full(m: int) -> int:
    """A scenario limit 16 below the 1 + m + m(m - 1)/2 scenarios of every pair's list."""
    return 1 + m + m * (m - 1) // 2 - 16


def rerouted(seed: int, cap_scale: float, m: int = 24, n: int = 104):
    """:func:`one_component` at ``cap_scale`` x its capacity, all sites open, with its
    normal flow, failure groups and local reroutes."""
    from coverage.solvers.capacitated import failure_groups, local_reroutes, scenario_flow

    mask, load, cap = one_component(seed, m, n)
    cap = cap * cap_scale
    reach, open_sites = sp.csr_array(mask), np.arange(mask.shape[1])
    normal = scenario_flow(reach, load, cap, open_sites, (), with_flows=True)
    groups, _ = failure_groups(open_sites)
    touched = (local_reroutes(reach, load, cap, open_sites, normal.flows, groups)
               if normal.feasible else None)
    return mask, load, cap, reach, open_sites, normal, groups, touched


@pytest.mark.parametrize("seed,cap_scale", [(s, 1.0) for s in range(4)]
                         + [(s, 2.0) for s in range(2)])
def test_local_reroutes_certify_the_pairs_left_out(seed, cap_scale):
    """Every pair the listing leaves out (disjoint local reroutes) is feasible by an
    independent networkx max-flow; the list is complete, and shorter than all pairs."""
    from coverage.solvers.capacitated import check_scenarios_until

    # 1.0: some pairs short; 2.0: the plan N-2 safe
    mask, load, cap, reach, open_sites, normal, _, touched = rerouted(seed, cap_scale)
    if not normal.feasible:
        pytest.skip("normal operation short")
    m = mask.shape[1]
    # a limit below the 1 + m + m(m - 1)/2 scenarios of the full list: listed by certificate
    listed, complete = failure_scenarios(open_sites, 2, None, limit=below_full(m),
                                         reach=reach, touched=touched)
    assert complete
    pairs_listed = {s for s in listed if len(s) == 2}
    all_pairs = set(itertools.combinations(range(m), 2))
    left_out = all_pairs - pairs_listed
    assert left_out, "nothing certified: the test proves nothing"
    verdict = {f: nx_feasible(mask, load, cap, open_sites, set(f))
               for f in [()] + [(j,) for j in range(m)] + sorted(all_pairs)}
    for a, b in sorted(left_out):
        assert touched[a] is not None and touched[b] is not None
        assert not set(touched[a].tolist()) & set(touched[b].tolist())
        assert verdict[(a, b)], (a, b)
    # the check itself: complete at a limit below the full list, and its verdict on the
    # whole plan equals the brute force over every pair
    flows, complete, finished = check_scenarios_until(reach, load, cap, open_sites, 2,
                                                      limit=len(listed) - 1)
    assert complete and finished
    brute = all(verdict.values())
    assert all(f.feasible for f in flows) == brute
    assert brute == (cap_scale > 1.0)  # both verdicts are exercised


def test_no_certificate_from_a_normal_flow_over_capacity():
    """A shortfall far from A and B, within FLOW_RTOL of the normal load (two huge points
    excused only when a1 or b1 fails), is accepted by normal operation and the single
    failures but not by the pair (a1, b1), whose load is small: that pair is not certified
    from a normal flow that overloads a site, so it is solved (or the list is cut)."""
    from coverage.solvers.capacitated import check_scenarios_until

    big, delta = 1e4, 1e-6
    rows = [[0], [0, 1], [1, 2], [2, 3], [3], [4, 3], [5, 4], [6, 5], [6]]
    load = np.array([big, 1, 1, 0, 1, 0, 1, 1, big])
    mask = np.zeros((len(rows), 7), dtype=bool)
    for i, c in enumerate(rows):
        mask[i, c] = True
    cap = np.array([big + 1, 2, 3, 1 - delta, 3, 2, big + 1])
    reach = sp.csr_array(mask)
    assert not nx_feasible(mask, load, cap, np.arange(7), {0, 6})
    flows, complete, finished = check_scenarios_until(reach, load, cap, np.arange(7), 2,
                                                      limit=27)
    assert finished
    assert not (complete and all(f.feasible for f in flows))


def test_a_check_resumed_with_done_gives_the_uninterrupted_list():
    """A check stopped at its deadline, before or after the local reroutes, and resumed with
    ``done=`` lists and decides the same scenarios as one run through; the reroutes ride on
    the normal-operation flow and are not computed again."""
    from coverage.solvers.capacitated import check_scenarios_until

    mask, load, cap = one_component(2)
    reach, open_sites = sp.csr_array(mask), np.arange(mask.shape[1])
    whole, complete, finished = check_scenarios_until(reach, load, cap, open_sites, 2,
                                                      limit=450)
    assert complete and finished and whole[0].reroutes is not None
    key = [(f.failed, f.feasible) for f in whole]
    # out of time before any failure scenario (and before the reroutes): then resumed
    early, complete, finished = check_scenarios_until(reach, load, cap, open_sites, 2,
                                                      limit=450, deadline=0.0)
    assert len(early) == 1 and not finished
    again, complete, finished = check_scenarios_until(reach, load, cap, open_sites, 2,
                                                      limit=450, done=early)
    assert complete and finished and [(f.failed, f.feasible) for f in again] == key
    # stopped part-way (the first scenarios done): resumed from them
    part = whole[:7]
    rest, complete, finished = check_scenarios_until(reach, load, cap, open_sites, 2,
                                                     limit=450, done=part)
    assert complete and finished and [(f.failed, f.feasible) for f in rest] == key


@pytest.mark.parametrize("seed,cap_scale", [(0, 1.0), (3, 1.0), (1, 2.0), (7, 1.3), (8, 1.3)])
def test_meeting_pairs_absorbed_together_are_feasible(seed, cap_scale):
    """When even the list with the disjoint pairs left out passes the limit (N-2), the pairs
    whose reroutes meet are tried as one joint local reroute each. Every pair left out then
    (disjoint reroutes, or absorbed together) is feasible by an independent networkx
    max-flow; the list is complete and shorter; the check's verdict equals brute force."""
    from coverage.solvers.capacitated import (
        absorbed_pairs,
        check_scenarios_until,
        meeting_pairs,
    )

    mask, load, cap, reach, open_sites, normal, groups, touched = rerouted(seed, cap_scale)
    if not normal.feasible:
        pytest.skip("normal operation short")
    m = mask.shape[1]
    meet = meeting_pairs(touched)
    absorbed = absorbed_pairs(reach, load, cap, open_sites, normal.flows, groups, meet)
    assert absorbed is not None and absorbed <= meet
    before, _ = failure_scenarios(open_sites, 2, None, limit=below_full(m), reach=reach,
                                  touched=touched)
    listed, complete = failure_scenarios(open_sites, 2, None, limit=below_full(m),
                                         reach=reach, touched=touched, absorbed=absorbed)
    assert complete and len(listed) == len(before) - len(absorbed)
    all_pairs = set(itertools.combinations(range(m), 2))
    verdict = {f: nx_feasible(mask, load, cap, open_sites, set(f))
               for f in [()] + [(j,) for j in range(m)] + sorted(all_pairs)}
    for pair in sorted(absorbed):
        assert verdict[pair], pair
    left_out = all_pairs - {s for s in listed if len(s) == 2}
    assert all(verdict[p] for p in left_out)
    # the check: at a limit the first list passes, it absorbs the meeting pairs (kept on
    # the normal flow for a resume) and its verdict equals brute force
    flows, complete, finished = check_scenarios_until(reach, load, cap, open_sites, 2,
                                                      limit=len(before) - 2)
    brute = all(verdict.values())
    if len(listed) <= len(before) - 2:
        assert complete and finished and flows[0].pairs_absorbed == absorbed
        assert all(f.feasible for f in flows) == brute
    else:  # nothing to absorb: cut, and said so
        assert not complete


def test_the_absorbed_pairs_are_exercised():
    """The instances above absorb some meeting pairs, in both verdicts (else the test
    proves nothing), and leave some unabsorbed at a tight capacity."""
    from coverage.solvers.capacitated import absorbed_pairs, meeting_pairs

    seen = []
    for seed, scale in [(0, 1.0), (1, 1.0), (0, 2.0), (1, 2.0), (7, 1.3)]:
        _, load, cap, reach, open_sites, normal, groups, touched = rerouted(seed, scale)
        meet = meeting_pairs(touched)
        absorbed = absorbed_pairs(reach, load, cap, open_sites, normal.flows, groups, meet)
        seen.append((len(meet), len(absorbed)))
    assert all(a > 0 for _, a in seen), seen
    assert any(a < m for m, a in seen), seen


@pytest.mark.parametrize("seed,cap_scale,safe", [(0, 1.0, False), (7, 1.3, False),
                                                 (0, 3.0, True)])
def test_triples_settled_at_n3_are_feasible(seed, cap_scale, safe):
    """N-3 above the limit: the triples that disjoint local reroutes settle (pairwise
    disjoint, or one meeting pair absorbed together apart from the third) and those a joint
    local reroute absorbs are feasible by an independent networkx max-flow; a check at a
    limit below the full list (and below the list without these certificates) is then
    complete, and its verdict equals brute force over every scenario of up to 3 sites."""
    from coverage.solvers.capacitated import (
        absorbed_groups,
        check_scenarios_until,
        groups_by_component,
        meeting_pairs,
        triples_to_check,
    )

    mask, load, cap, reach, open_sites, normal, groups, touched = rerouted(seed, cap_scale,
                                                                           m=16, n=68)
    if not normal.feasible:
        pytest.skip("normal operation short")
    m = mask.shape[1]
    meet = meeting_pairs(touched)
    pair_t = absorbed_groups(reach, load, cap, open_sites, normal.flows, groups, meet)
    members = groups_by_component(reach, open_sites, np.arange(m))
    found, all_found = triples_to_check(touched, meet, pair_t, members, cap=10**6)
    assert all_found
    local = [t for t in found if all(touched[g] is not None for g in t)]
    joint = absorbed_groups(reach, load, cap, open_sites, normal.flows, groups, local)
    all_triples = set(itertools.combinations(range(m), 3))
    settled = all_triples - found
    assert settled and joint, "nothing settled or absorbed: the test proves nothing"
    scenarios = ([()] + [(j,) for j in range(m)] + list(itertools.combinations(range(m), 2))
                 + sorted(all_triples))
    verdict = {f: nx_feasible(mask, load, cap, open_sites, set(f)) for f in scenarios}
    for t in sorted(settled | set(joint)):
        assert verdict[t], t
    total = len(scenarios)
    pairs_only, _ = failure_scenarios(open_sites, 3, None, limit=total - 2, reach=reach,
                                      touched=touched, absorbed=frozenset(pair_t))
    certified, complete = failure_scenarios(
        open_sites, 3, None, limit=total - 2, reach=reach, touched=touched,
        absorbed=frozenset(pair_t) | frozenset(joint),
        triples={t for t in found if t not in joint})
    assert complete and len(certified) < len(pairs_only)
    flows, complete, finished = check_scenarios_until(reach, load, cap, open_sites, 3,
                                                      limit=len(certified))
    assert finished and complete
    assert flows[0].triples is not None and flows[0].triples_absorbed == frozenset(joint)
    assert all(f.feasible for f in flows) == all(verdict.values())
    assert sorted(f.failed for f in flows) == sorted(certified)
    assert all(verdict.values()) == safe  # both verdicts are exercised


def test_triples_to_check_by_hand():
    """Five groups by hand: 0-1 and 1-2 meet (both absorbed as pairs, with joint touched
    sets that miss the third group), 3 stands apart, 4 has no local reroute. Left to check:
    every triple with 4, and the path 0-1-2 (two meeting pairs: no certificate); settled:
    the triples with one meeting pair whose joint reroute misses the third, and those with
    none."""
    from coverage.solvers.capacitated import meeting_pairs, triples_to_check

    a = np.array
    touched = [a([0, 1]), a([1, 2]), a([2, 3]), a([10]), None]
    meet = meeting_pairs(touched)
    assert meet == {(0, 1), (1, 2)}
    pair_touched = {(0, 1): a([0, 1, 5]), (1, 2): a([2, 3, 8])}
    found, complete = triples_to_check(touched, meet, pair_touched, [[0, 1, 2, 3, 4]], cap=100)
    with_4 = {t for t in itertools.combinations(range(5), 3) if 4 in t}
    assert complete and found == with_4 | {(0, 1, 2)}
    # a joint reroute that meets the third group, or a meeting pair not absorbed
    found, _ = triples_to_check(touched, meet, {(0, 1): a([0, 1, 10])}, [[0, 1, 2, 3, 4]],
                                cap=100)
    assert found == with_4 | {(0, 1, 2), (0, 1, 3), (1, 2, 3)}
    # across components: nothing; above the cap: said so
    found, _ = triples_to_check(touched, meet, pair_touched, [[0, 1], [2, 3, 4]], cap=100)
    assert found == {(2, 3, 4)}
    assert triples_to_check(touched, meet, pair_touched, [[0, 1, 2, 3, 4]], cap=3)[1] is False
