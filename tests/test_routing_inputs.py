"""What a helper's audit of backbone and UPF inputs found accepted without a word: a UPF
far from every user, a `latency --to` off the backbone that `plan` refuses, `--upf` with
a fixed-line access, and a backbone edge factor of 1e308."""

from __future__ import annotations

import logging

import networkx as nx
import pandas as pd
from helpers import run

from coverage.planner.plan import FAR_UPF_KM, build_routing


def _backbone(path):
    g = nx.Graph()
    for name, lat, lon in (("SF", 37.77, -122.42), ("LA", 34.05, -118.24),
                           ("SEA", 47.61, -122.33)):
        g.add_node(name, Latitude=lat, Longitude=lon)
    g.add_edges_from([("SF", "LA"), ("SF", "SEA")])
    nx.write_gml(g, path)
    return path


def test_latency_refuses_a_site_off_the_backbone_as_plan_does(tmp_path):
    bb = _backbone(tmp_path / "bb.gml")
    r = run("latency", "--from", "37.7,-122.4", "--to", "48.85,2.35", "--backbone", bb)
    assert r.returncode == 2 and "outside backbone" in r.stderr and "Fix:" in r.stderr
    assert "Traceback" not in r.stderr
    r = run("latency", "--from", "37.7,-122.4", "--to", "34.0,-118.3", "--backbone", bb)
    assert r.returncode == 0, r.stderr


def test_latency_says_a_upf_is_not_used_with_fixed_access():
    r = run("latency", "--from", "37.7,-122.4", "--to", "34.0,-118.3", "--access", "ftth",
            "--upf", "40,-100")
    assert r.returncode == 0 and "--upf is not used: --access ftth is not mobile" in r.stderr
    r = run("latency", "--from", "37.7,-122.4", "--to", "34.0,-118.3", "--access", "lte",
            "--upf", "40,-100")
    assert r.returncode == 0 and "--upf is not used" not in r.stderr


def test_a_upf_far_from_every_mobile_user_is_named(caplog):
    demand = pd.DataFrame({"lat": [37.7, 34.0, 47.6], "lon": [-122.4, -118.3, -122.3],
                           "population": [100, 200, 300], "access": ["lte", "5g-sa", "ftth"]})
    nemo = pd.DataFrame({"upf_id": ["nemo"], "lat": [-48.88], "lon": [-123.39]})
    nemo.attrs["source"] = "upf.csv"
    with caplog.at_level(logging.WARNING, logger="coverage"):
        build_routing(demand, upf=nemo, model=None)
    line = next(r.getMessage() for r in caplog.records if "from every UPF" in r.getMessage())
    assert line.startswith(f"upf.csv: 2 mobile demand point(s) (300 people) are more than "
                           f"{FAR_UPF_KM:,.0f} km from every UPF")
    caplog.clear()
    near = pd.DataFrame({"upf_id": ["sf"], "lat": [37.77], "lon": [-122.42]})
    with caplog.at_level(logging.WARNING, logger="coverage"):
        build_routing(demand, upf=near, model=None)
    assert "from every UPF" not in caplog.text


def test_backbone_edge_factor_has_an_upper_bound(tmp_path):
    bb = _backbone(tmp_path / "bb.gml")
    r = run("latency", "--from", "37.7,-122.4", "--to", "34.0,-118.3", "--backbone", bb,
            "--backbone-edge-factor", "1e308")
    assert r.returncode == 2 and "must be a number from 1 to 20" in r.stderr
