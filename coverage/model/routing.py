"""Pair latency beyond one great-circle distance: site tiers, mobile anchors, a backbone.

The flat model (:class:`~coverage.model.problem.RowLatency`) gives every demand row one
fixed latency and one radius. Three things make the latency of a (demand, site) pair depend
on the site and on the path as well:

* **tiers** (:mod:`coverage.model.tiers`): a site's tier adds hops, its own proxy and an
  extra fixed latency, may leave the WAN overhead out (on-prem), and may serve only the
  demand rows that name it. The fixed latency of row ``i`` at a site of tier ``t`` is::

      fixed(i, t) = r50[i] + s50[t] + sqrt(r_tail_sq[i] + s_tail_sq[t])   (p99 rows)
      fixed(i, t) = r50[i] + s50[t]                                       (p50 rows)

  with the demand side ``(r50, r_tail_sq)`` from
  :meth:`~coverage.model.latency.LatencyModel.row_parts` and the site side from
  :meth:`~coverage.model.latency.LatencyModel.site_parts` (:class:`TierTerms`), so each
  (row, tier) has its own radius;
* **mobile anchors**: a mobile row reaches a site without local breakout through its
  nearest packet-core breakout (UPF): the path is ``d(user, UPF) + d(UPF, site)``;
* **a backbone graph** (:mod:`coverage.model.backbone`): user -> nearest backbone node ->
  shortest path -> the site's nearest node -> site.

:class:`PairEngine` answers the three questions every stage asks (how many sites each row
reaches, which, and the lowest-latency ``k`` of a set of sites) for all three, without a
loop over demand rows: sites are split into groups of one tier and one breakout flag, rows
into route classes, and each (group, route) block is either one bulk tree query
(great-circle paths: a BallTree for radius queries, a k-d tree for the nearest ``k``) or,
for anchored paths, a sorted cost list per anchor (UPF or backbone node) searched for all
the anchor's rows at once. Path lengths are in the flat model's km (latency = fixed +
``ms_per_km`` x path), so a backbone's edge latencies are converted by ``ms_per_km``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .geo import (
    chord_from_km,
    count_within,
    haversine_km,
    km_from_chord,
    nearest,
    unit_tree,
    unit_xyz,
)

logger = logging.getLogger(__name__)

__all__ = ["MOBILE_ACCESS", "TierTerms", "TierRows", "Routing", "SiteSet", "PairEngine",
           "EPS_KM", "single_path_km"]

#: Access classes whose traffic leaves the mobile network at a packet-core breakout (UPF).
MOBILE_ACCESS = ("lte", "5g-nsa", "5g-sa", "5g-urllc")

#: Tolerance of every "within radius" comparison, km (the flat reach uses the same).
EPS_KM = 1e-9


@dataclass(frozen=True)
class TierTerms:
    """The site side of the fixed latency for each tier code present among the sites.

    Attributes
    ----------
    names : tuple of str
        Tier code -> name (``"reference"`` for labels outside the catalog: the model's
        own proxy, no tier terms).
    add_p50_ms, add_tail_sq : numpy.ndarray
        Per code, :meth:`~coverage.model.latency.LatencyModel.site_parts`.
    proxy_p50_ms, extra_p50_ms, network_p50_ms : numpy.ndarray
        Per code, the p50 of the tier's proxy, extra latency and network fixed part
        (hops and overhead; 0 off the WAN): the waterfall's columns.
    restricted, local_breakout : numpy.ndarray of bool
        Per code.
    """

    names: tuple[str, ...]
    add_p50_ms: npt.NDArray[np.float64]
    add_tail_sq: npt.NDArray[np.float64]
    proxy_p50_ms: npt.NDArray[np.float64]
    extra_p50_ms: npt.NDArray[np.float64]
    network_p50_ms: npt.NDArray[np.float64]
    restricted: npt.NDArray[np.bool_]
    local_breakout: npt.NDArray[np.bool_]
    reference_parts: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def from_labels(cls, model: Any, catalog: Any, labels: npt.ArrayLike,
                    ) -> tuple[TierTerms, npt.NDArray[np.intp], list[str]]:
        """The terms of the tiers among site ``labels``, each site's code, and the labels
        outside the catalog (sites with those take the reference terms)."""
        lab = pd.Series(np.asarray(labels, dtype=object)).astype(str)
        codes_l, uniques = pd.factorize(lab, sort=True)
        known = [str(u) for u in uniques if catalog is not None and catalog.get(str(u))]
        unknown = [str(u) for u in uniques if str(u) not in known]
        names = tuple(known) + (("reference",) if unknown else ())
        code_of = {u: (known.index(u) if u in known else len(known)) for u in map(str, uniques)}
        table = np.array([code_of[str(u)] for u in uniques], dtype=np.intp)
        codes = table[codes_l] if len(lab) else np.zeros(0, dtype=np.intp)
        add50, tail, proxy, extra, net, restr, lbo = [], [], [], [], [], [], []
        for name in names:
            tier = catalog.get(name) if name in known else None
            wan = True if tier is None else bool(tier.wan)
            hops = 0 if tier is None else int(tier.hops)
            prox = (tuple(model.proxy_ms) if tier is None or tier.proxy_ms is None
                    else tuple(tier.proxy_ms))
            ext = (0.0, 0.0) if tier is None else tuple(tier.extra_ms)
            a, b = model.site_parts(wan=wan, hops=hops, proxy_ms=prox, extra_ms=ext)
            add50.append(a)
            tail.append(b)
            proxy.append(prox[0])
            extra.append(ext[0])
            net.append(hops * model.per_hop_ms + (model.network_fixed_ms[0] if wan else 0.0))
            restr.append(False if tier is None else bool(tier.restricted))
            lbo.append(False if tier is None else bool(tier.local_breakout))
        f = np.asarray
        return (cls(names, f(add50, float), f(tail, float), f(proxy, float), f(extra, float),
                    f(net, float), f(restr, bool), f(lbo, bool), model.site_parts()),
                codes, unknown)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def is_reference_only(self) -> bool:
        """Every tier's terms are the reference site's (the model's proxy, no tier terms,
        on the WAN, unrestricted): plans as the flat model (tester 188: metro-colo beside
        blank or unknown labels, all of the reference's latency, was refused by
        ``--strategy components`` as tiers that change the latency)."""
        if not len(self.names):
            return True
        return (not bool(np.any(self.restricted))
                and bool(np.allclose(self.add_p50_ms, self.reference_parts[0]))
                and bool(np.allclose(self.add_tail_sq, self.reference_parts[1])))


@dataclass(frozen=True)
class TierRows:
    """The demand side of the fixed latency, per row, and which tiers each row may use.

    Attributes
    ----------
    terms : TierTerms
        The site side, per tier code.
    base_p50_ms, base_tail_sq : numpy.ndarray
        Per row, :meth:`~coverage.model.latency.LatencyModel.row_parts` (its workload).
    p99 : numpy.ndarray of bool
        Rows checked at p99 (else p50).
    budget_ms : numpy.ndarray
        Per row budget, ms.
    shrink_km : numpy.ndarray or None
        Per row radius shrink (conservative aggregation).
    allowed : numpy.ndarray of bool
        ``(n_rows, n_tiers)``: the tiers each row may use (a restricted tier only when the
        row names it; a row naming tiers only those).
    ms_per_km : float
        Round-trip ms per km.
    """

    terms: TierTerms
    base_p50_ms: npt.NDArray[np.float64]
    base_tail_sq: npt.NDArray[np.float64]
    p99: npt.NDArray[np.bool_]
    budget_ms: npt.NDArray[np.float64]
    shrink_km: npt.NDArray[np.float64] | None
    allowed: npt.NDArray[np.bool_]
    ms_per_km: float

    def subset(self, index: npt.ArrayLike) -> TierRows:
        """The rows ``index``."""
        return replace(self, base_p50_ms=self.base_p50_ms[index],
                       base_tail_sq=self.base_tail_sq[index], p99=self.p99[index],
                       budget_ms=self.budget_ms[index],
                       shrink_km=None if self.shrink_km is None else self.shrink_km[index],
                       allowed=self.allowed[index])

    def fixed_ms(self, rows: npt.ArrayLike, tier: int, *, p50: bool = False,
                 ) -> npt.NDArray[np.float64]:
        """Fixed latency of ``rows`` at a site of tier code ``tier`` (at each row's
        percentile, or at p50), ms."""
        r = np.asarray(rows)
        base = self.base_p50_ms[r] + self.terms.add_p50_ms[tier]
        if p50:
            return base
        tail = np.sqrt(self.base_tail_sq[r] + self.terms.add_tail_sq[tier])
        return np.where(self.p99[r], base + tail, base)

    def radius_km(self, rows: npt.ArrayLike, tier: int) -> npt.NDArray[np.float64]:
        """Radius of ``rows`` at tier ``tier``, km: ``-1`` where the row may not use the
        tier or its budget cannot be met there even at distance 0."""
        r = np.asarray(rows)
        fixed = self.fixed_ms(r, tier)
        budget = self.budget_ms[r]
        radius = np.where(fixed <= budget, (budget - fixed) / self.ms_per_km, -1.0)
        if self.shrink_km is not None:
            radius = np.where(radius >= 0, np.maximum(radius - self.shrink_km[r], 0.0), radius)
        return np.where(self.allowed[r, tier], radius, -1.0)

    def best(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                            npt.NDArray[np.float64]]:
        """Per row over the tiers it may use: the lowest fixed latency (at its percentile
        and at p50) and the largest radius (``-1``: no tier meets the budget)."""
        n = len(self.budget_ms)
        rows = np.arange(n)
        fixed = np.full(n, np.inf)
        fixed50 = np.full(n, np.inf)
        radius = np.full(n, -1.0)
        for t in range(len(self.terms)):
            ok = self.allowed[:, t]
            fixed = np.where(ok, np.minimum(fixed, self.fixed_ms(rows, t)), fixed)
            fixed50 = np.where(ok, np.minimum(fixed50, self.fixed_ms(rows, t, p50=True)),
                               fixed50)
            radius = np.maximum(radius, self.radius_km(rows, t))
        return fixed, fixed50, radius

    def __len__(self) -> int:
        return len(self.budget_ms)


@dataclass(frozen=True)
class Routing:
    """How a pair's path is measured besides the great circle.

    Attributes
    ----------
    upf : pandas.DataFrame or None
        Packet-core breakouts (``upf_id, lat, lon``) for mobile rows.
    backbone : coverage.model.backbone.Backbone or None
        The backbone graph.
    mobile_access : frozenset of str
        Access classes routed via a UPF.
    """

    upf: pd.DataFrame | None = None
    backbone: Any = None
    mobile_access: frozenset[str] = frozenset()

    @property
    def flat(self) -> bool:
        """No anchors and no graph: the great-circle path."""
        return self.upf is None and self.backbone is None

    def summary(self) -> dict[str, Any]:
        """JSON-ready description for ``summary.json``."""
        return {
            "upf": None if self.upf is None else {
                "n": int(len(self.upf)), "mobile_access": sorted(self.mobile_access),
                "source": self.upf.attrs.get("source", "default")},
            "backbone": None if self.backbone is None else self.backbone.summary(),
        }


@dataclass(frozen=True)
class SiteSet:
    """Sites as the pair latency sees them: coordinates, tier code, local breakout.

    Attributes
    ----------
    lat, lon : numpy.ndarray
        Degrees.
    tier : numpy.ndarray of int
        Tier code (:class:`TierTerms`) of every site.
    local_breakout : numpy.ndarray of bool
        Mobile users reach the site without the UPF detour.
    """

    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    tier: npt.NDArray[np.intp]
    local_breakout: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.lat)

    def groups(self) -> list[tuple[int, bool, npt.NDArray[np.int64]]]:
        """``(tier, local_breakout, site indices)`` of every non-empty group."""
        out = []
        key = self.tier.astype(np.int64) * 2 + self.local_breakout.astype(np.int64)
        for k in np.unique(key):
            idx = np.flatnonzero(key == k)
            out.append((int(k // 2), bool(k % 2), idx))
        return out


def _by_anchor(anchor: npt.NDArray[np.int64]) -> Iterator[tuple[int, npt.NDArray[np.intp]]]:
    """``(anchor, positions)`` of every anchor present (one sort, no scan per anchor)."""
    order = np.argsort(anchor, kind="stable")
    keys, starts = np.unique(anchor[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    for a, lo, hi in zip(keys, starts, ends, strict=True):
        yield int(a), order[lo:hi]


@dataclass
class _Block:
    """Rows ``rows`` reaching sites ``sites`` (one tier) by one kind of path."""

    tier: int
    sites: npt.NDArray[np.int64]   # global site indices of the group
    rows: npt.NDArray[np.int64]    # positions into the engine's row selection
    kind: str                      # "flat" or an anchor kind
    anchor: npt.NDArray[np.int64] | None = None   # per row of the block
    leg_km: npt.NDArray[np.float64] | None = None  # per row of the block
    cost_km: npt.NDArray[np.float64] | None = None  # (anchors, sites of the group)


@dataclass
class PairEngine:
    """Counts, pairs and nearest sites for tiered and anchored pair latencies.

    Parameters
    ----------
    tier_rows : TierRows
        Per-row latency constants and allowed tiers (one reference tier when the sites
        have no tiers).
    demand_lat, demand_lon : numpy.ndarray
        Demand coordinates, degrees.
    mobile : numpy.ndarray of bool
        Rows routed via a UPF (with ``routing.upf``).
    sites : SiteSet
        The candidate sites.
    routing : Routing
        UPFs and backbone.
    """

    tier_rows: TierRows
    demand_lat: npt.NDArray[np.float64]
    demand_lon: npt.NDArray[np.float64]
    mobile: npt.NDArray[np.bool_]
    sites: SiteSet
    routing: Routing

    @property
    def ms_per_km(self) -> float:
        """Round-trip ms per km of path."""
        return self.tier_rows.ms_per_km

    # ------------------------------------------------------------------ anchors
    @cached_property
    def _upf_of_row(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        upf = self.routing.upf
        n = len(self.demand_lat)
        if upf is None or not len(upf) or not n:
            return np.full(n, -1, dtype=np.int64), np.zeros(n)
        km, ind = nearest(upf["lat"].to_numpy(float), upf["lon"].to_numpy(float),
                          unit_xyz(self.demand_lat, self.demand_lon))
        return ind[:, 0], km[:, 0]

    @cached_property
    def _node_of_row(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        idx, km = self.routing.backbone.nearest_node(self.demand_lat, self.demand_lon)
        return np.asarray(idx, dtype=np.int64), np.asarray(km, dtype=np.float64)

    @cached_property
    def _node_of_site(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        idx, km = self.routing.backbone.nearest_node(self.sites.lat, self.sites.lon)
        return np.asarray(idx, dtype=np.int64), np.asarray(km, dtype=np.float64)

    @cached_property
    def _node_path_km(self) -> npt.NDArray[np.float64]:
        """Node-to-node shortest paths in the model's km (latency / ms_per_km)."""
        return np.asarray(self.routing.backbone.path_ms, dtype=np.float64) / self.ms_per_km

    def _cost(self, kind: str, sites: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """``(anchors, len(sites))`` path km from each anchor to each site."""
        s_lat, s_lon = self.sites.lat[sites], self.sites.lon[sites]
        if kind == "upf":  # great circle from the breakout
            upf = self.routing.upf
            u_lat, u_lon = upf["lat"].to_numpy(float), upf["lon"].to_numpy(float)
            return haversine_km(u_lat[:, None], u_lon[:, None], s_lat[None, :], s_lon[None, :])
        node_s, leg_s = self._node_of_site
        node_cost = self._node_path_km[:, node_s[sites]] + leg_s[sites][None, :]
        if kind == "node":
            return node_cost
        # "upf-node": breakout -> its nearest node -> the graph
        upf = self.routing.upf
        u_node, u_leg = self.routing.backbone.nearest_node(upf["lat"].to_numpy(float),
                                                           upf["lon"].to_numpy(float))
        return np.asarray(u_leg, dtype=float)[:, None] + node_cost[np.asarray(u_node)]

    def _blocks(self, rows: npt.NDArray[np.int64],
                sites: npt.NDArray[np.int64] | None) -> list[_Block]:
        """The (group, route) blocks of ``rows`` x ``sites`` (all sites when ``None``)."""
        groups = self.sites.groups()
        if sites is not None:
            keep = np.zeros(len(self.sites), dtype=bool)
            keep[np.asarray(sites, dtype=np.int64)] = True
            groups = [(t, b, idx[keep[idx]]) for t, b, idx in groups]
            groups = [g for g in groups if len(g[2])]
        has_upf = self.routing.upf is not None and len(self.routing.upf) > 0
        bb = self.routing.backbone is not None
        mob = self.mobile[rows] if has_upf else np.zeros(len(rows), dtype=bool)
        pos = np.arange(len(rows))
        blocks: list[_Block] = []
        for tier, lbo, idx in groups:
            via_upf = mob & (not lbo)
            direct = pos[~via_upf]
            anch = pos[via_upf]
            if len(direct):
                if bb:
                    node, leg = self._node_of_row
                    blocks.append(_Block(tier, idx, direct, "node", node[rows[direct]],
                                         leg[rows[direct]]))
                else:
                    blocks.append(_Block(tier, idx, direct, "flat"))
            if len(anch):
                u, leg = self._upf_of_row
                blocks.append(_Block(tier, idx, anch, "upf-node" if bb else "upf",
                                     u[rows[anch]], leg[rows[anch]]))
        for b in blocks:
            if b.kind != "flat":
                b.cost_km = self._cost(b.kind, b.sites)
        return blocks

    # ------------------------------------------------------------------ queries
    def _radius(self, rows: npt.NDArray[np.int64], tier: int) -> npt.NDArray[np.float64]:
        return self.tier_rows.radius_km(rows, tier)

    def anchor_points(self, rows: npt.ArrayLike | None = None,
                      ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Where the paths of ``rows`` (default all) enter the network, once each: the
        UPFs of the mobile rows (with UPFs) and the nearest backbone node of every row
        (with a backbone), degrees. A site there is the nearest any site can be on such a
        path (the gap proposals offer them as locations); empty for great-circle rows."""
        r = self.row_index(rows)
        lat: list[npt.NDArray[np.float64]] = []
        lon: list[npt.NDArray[np.float64]] = []
        upf = self.routing.upf
        if upf is not None and len(upf) and len(r):
            u, _ = self._upf_of_row
            used = np.unique(u[r[self.mobile[r]]])
            used = used[used >= 0]
            lat.append(upf["lat"].to_numpy(float)[used])
            lon.append(upf["lon"].to_numpy(float)[used])
        bb = self.routing.backbone
        if bb is not None and len(r):
            node, _ = self._node_of_row
            used = np.unique(node[r])
            lat.append(np.asarray(bb.node_lat, dtype=float)[used])
            lon.append(np.asarray(bb.node_lon, dtype=float)[used])
        if not lat:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(lat), np.concatenate(lon)

    def count(self, rows: npt.ArrayLike | None = None,
              sites: npt.ArrayLike | None = None) -> npt.NDArray[np.int64]:
        """Sites (of ``sites``, default all) within budget of each row of ``rows``."""
        r = self.row_index(rows)
        out = np.zeros(len(r), dtype=np.int64)
        for b in self._blocks(r, None if sites is None else np.asarray(sites)):
            radius = self._radius(r[b.rows], b.tier)
            if b.kind == "flat":
                tree = unit_tree(self.sites.lat[b.sites], self.sites.lon[b.sites])
                out[b.rows] += count_within(
                    tree, unit_xyz(self.demand_lat[r[b.rows]], self.demand_lon[r[b.rows]]),
                    radius)
                continue
            thr = np.where(radius >= 0, radius - b.leg_km, -np.inf)
            for a, m in _by_anchor(b.anchor):
                cs = np.sort(b.cost_km[a])
                out[b.rows[m]] += np.searchsorted(cs, thr[m] + EPS_KM, side="right")
        return out

    def pairs(self, rows: npt.ArrayLike | None = None, sites: npt.ArrayLike | None = None,
              ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                         npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """Every (row, site) within budget: ``(row position, site, path_km, tier)``, rows
        in order (unsorted within a row)."""
        r = self.row_index(rows)
        parts: list[tuple[Any, ...]] = []
        for b in self._blocks(r, None if sites is None else np.asarray(sites)):
            radius = self._radius(r[b.rows], b.tier)
            if b.kind == "flat":
                ok = np.flatnonzero(radius >= 0)
                if not len(ok):
                    continue
                tree = unit_tree(self.sites.lat[b.sites], self.sites.lon[b.sites])
                q = unit_xyz(self.demand_lat[r[b.rows[ok]]], self.demand_lon[r[b.rows[ok]]])
                ind, dist = tree.query_radius(q, r=chord_from_km(radius[ok] + EPS_KM),
                                              return_distance=True)
                cnt = np.fromiter(map(len, ind), dtype=np.int64, count=len(ind))
                if not cnt.sum():
                    continue
                cols = b.sites[np.concatenate(ind).astype(np.int64)]
                path = km_from_chord(np.concatenate(dist))
                rowpos = np.repeat(b.rows[ok], cnt)
                parts.append((rowpos, cols, path, np.full(len(cols), b.tier, np.intp)))
                continue
            thr = np.where(radius >= 0, radius - b.leg_km, -np.inf)
            for a, m in _by_anchor(b.anchor):
                order = np.argsort(b.cost_km[a], kind="stable")
                cs = b.cost_km[a][order]
                cnt = np.searchsorted(cs, thr[m] + EPS_KM, side="right")
                tot = int(cnt.sum())
                if not tot:
                    continue
                within = np.arange(tot) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                rowm = np.repeat(m, cnt)
                cols = b.sites[order[within]]
                path = b.leg_km[rowm] + cs[within]
                parts.append((b.rows[rowm], cols, path, np.full(tot, b.tier, np.intp)))
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return z, z.copy(), np.zeros(0), np.zeros(0, dtype=np.intp)
        rowpos, cols, path, tier = (np.concatenate([p[i] for p in parts]) for i in range(4))
        order = np.argsort(rowpos, kind="stable")
        return rowpos[order], cols[order], path[order], tier[order]

    def nearest(self, sites: npt.ArrayLike, k: int = 2, rows: npt.ArrayLike | None = None,
                ) -> dict[str, npt.NDArray[Any]]:
        """The ``k`` lowest-latency sites of ``sites`` for every row (at its percentile),
        whether in budget or not, among the tiers the row may use.

        Returns
        -------
        dict
            ``site`` (``(n, k)`` int, ``-1`` none), ``latency_ms``, ``p50_ms``, ``path_km``
            (``nan`` none), ``tier`` (int, ``-1`` none), ``within`` (bool: in budget).
        """
        r = self.row_index(rows)
        n = len(r)
        cand: dict[str, list[npt.NDArray[Any]]] = {
            "site": [], "latency_ms": [], "p50_ms": [], "path_km": [], "tier": [],
            "within": []}
        tr = self.tier_rows
        for b in self._blocks(r, np.asarray(sites, dtype=np.int64)):
            kk = min(k, len(b.sites))
            col = np.full((len(r), kk), -1, dtype=np.int64)
            path = np.full((len(r), kk), np.nan)
            if b.kind == "flat":
                km, ind = nearest(self.sites.lat[b.sites], self.sites.lon[b.sites],
                                  unit_xyz(self.demand_lat[r[b.rows]],
                                           self.demand_lon[r[b.rows]]), k=kk)
                col[b.rows] = b.sites[ind]
                path[b.rows] = km
            else:
                for a, m in _by_anchor(b.anchor):
                    top = np.argsort(b.cost_km[a], kind="stable")[:kk]
                    col[b.rows[m]] = b.sites[top][None, :]
                    path[b.rows[m]] = b.leg_km[m][:, None] + b.cost_km[a][top][None, :]
            allowed = tr.allowed[r, b.tier][:, None] & (col >= 0)
            fixed = tr.fixed_ms(r, b.tier)[:, None]
            fixed50 = tr.fixed_ms(r, b.tier, p50=True)[:, None]
            radius = tr.radius_km(r, b.tier)[:, None]
            lat = np.where(allowed, fixed + self.ms_per_km * path, np.inf)
            cand["site"].append(np.where(allowed, col, -1))
            cand["latency_ms"].append(lat)
            cand["p50_ms"].append(np.where(allowed, fixed50 + self.ms_per_km * path, np.nan))
            cand["path_km"].append(np.where(allowed, path, np.nan))
            cand["tier"].append(np.where(allowed, b.tier, -1))
            cand["within"].append(allowed & (radius >= 0) & (path <= radius + EPS_KM))
        if not cand["site"]:
            return {"site": np.full((n, k), -1, dtype=np.int64),
                    "latency_ms": np.full((n, k), np.inf), "p50_ms": np.full((n, k), np.nan),
                    "path_km": np.full((n, k), np.nan), "tier": np.full((n, k), -1),
                    "within": np.zeros((n, k), dtype=bool)}
        stacked = {key: np.concatenate(v, axis=1) for key, v in cand.items()}
        order = np.argsort(stacked["latency_ms"], axis=1, kind="stable")
        out = {}
        for key, v in stacked.items():
            picked = np.take_along_axis(v, order, axis=1)[:, :k]
            if picked.shape[1] < k:
                fill = {"site": -1, "tier": -1, "within": False, "latency_ms": np.inf}
                pad = np.full((n, k - picked.shape[1]), fill.get(key, np.nan),
                              dtype=picked.dtype)
                picked = np.concatenate([picked, pad], axis=1)
            out[key] = picked
        return out

    def row_index(self, rows: npt.ArrayLike | None) -> npt.NDArray[np.int64]:
        if rows is None:
            return np.arange(len(self.demand_lat), dtype=np.int64)
        return np.asarray(rows, dtype=np.int64)


def single_path_km(ms_per_km: float, user: tuple[float, float], site: tuple[float, float], *,
                   upf: pd.DataFrame | None = None, backbone: Any = None,
                   mobile: bool = False, local_breakout: bool = False,
                   ) -> tuple[float, str]:
    """The path of one (user, site) pair in the model's km, as the planner measures it
    (:class:`PairEngine` on a one-row, one-site problem), and a note on the route.

    Parameters
    ----------
    ms_per_km : float
        The model's round-trip ms per km.
    user, site : tuple of float
        ``(lat, lon)``, degrees.
    upf : pandas.DataFrame, optional
        Breakouts (``lat``, ``lon``); the user's nearest is used when ``mobile`` and not
        ``local_breakout``.
    backbone : coverage.model.backbone.Backbone, optional
        Route over this graph.
    mobile, local_breakout : bool
        The user is on a mobile access class; the site breaks traffic out locally.
    """
    routing = Routing(upf=upf if mobile else None, backbone=backbone,
                      mobile_access=frozenset(MOBILE_ACCESS) if mobile else frozenset())
    terms = TierTerms(("reference",), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1),
                      np.zeros(1), np.zeros(1, dtype=bool), np.zeros(1, dtype=bool))
    rows = TierRows(terms, np.zeros(1), np.zeros(1), np.zeros(1, dtype=bool),
                    np.full(1, np.inf), None, np.ones((1, 1), dtype=bool), float(ms_per_km))
    sites = SiteSet(np.array([site[0]], float), np.array([site[1]], float),
                    np.zeros(1, dtype=np.intp), np.array([local_breakout]))
    engine = PairEngine(rows, np.array([user[0]], float), np.array([user[1]], float),
                        np.array([mobile]), sites, routing)
    path = float(engine.nearest([0], k=1)["path_km"][0, 0])
    notes = []
    if mobile and upf is not None and len(upf) and not local_breakout:
        u, leg = engine._upf_of_row
        name = str(upf["upf_id"].iloc[int(u[0])]) if "upf_id" in upf.columns else "UPF"
        if "name" in upf.columns and str(upf["name"].iloc[int(u[0])]).strip():
            name += f" ({upf['name'].iloc[int(u[0])]})"
        notes.append(f"via breakout {name} ({float(leg[0]):,.1f} km from the user)")
    elif mobile and local_breakout:
        notes.append("local breakout at the site: no UPF detour")
    if backbone is not None:
        n_u, leg_u = backbone.nearest_node([user[0]], [user[1]])
        n_s, leg_s = backbone.nearest_node([site[0]], [site[1]])
        notes.append(f"backbone {backbone.name}: node {backbone.node_ids[int(n_u[0])]} "
                     f"({float(leg_u[0]):,.1f} km) -> node "
                     f"{backbone.node_ids[int(n_s[0])]} ({float(leg_s[0]):,.1f} km)")
    return path, "; ".join(notes)
