"""The tier catalog (coverage.model.tiers): built-in tiers, override files, hostile files,
and the demand ``tiers`` column parser."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage.errors import InputValidationError
from coverage.model.latency import LatencyModel
from coverage.model.tiers import (
    REFERENCE_TIER,
    TIER_KEYS,
    Tier,
    TierCatalog,
    check_site_tiers,
    parse_tier_list,
)

BUILTIN_NAMES = ["on-prem", "mec", "metro-colo", "cdn-pop"]


def write(tmp_path: Path, text: str, name: str = "tiers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- built-in catalog
def test_builtin_has_the_four_tiers():
    cat = TierCatalog.builtin()
    assert cat.source == "built-in"
    assert cat.names() == BUILTIN_NAMES
    assert all(isinstance(cat.get(n), Tier) for n in BUILTIN_NAMES)
    assert cat.get("Metro-Colo") is None  # names are case-sensitive
    assert cat.get("nope") is None


def test_metro_colo_is_exactly_the_reference_tier():
    ref = TierCatalog.builtin().get(REFERENCE_TIER)
    assert REFERENCE_TIER == "metro-colo"
    assert ref.hops == 0
    assert ref.proxy_ms is None
    assert ref.extra_ms == (0.0, 0.0)
    assert ref.wan is True
    assert ref.restricted is False
    assert ref.local_breakout is False
    model = LatencyModel()
    assert ref.components_ms(model.proxy_ms) == {"proxy": model.proxy_ms, "tier": (0.0, 0.0)}


def test_builtin_values_follow_the_chapter():
    cat = TierCatalog.builtin()
    onprem, mec, colo, pop = (cat.get(n) for n in BUILTIN_NAMES)
    assert onprem.wan is False and onprem.restricted is True
    assert mec.local_breakout is True and not mec.restricted
    assert mec.power_kw[1] == 30.0  # "a few kW to ~30 kW"
    assert colo.power_kw[0] >= 100.0 and colo.power_kw[1] >= 1000.0  # hundreds of kW to MW
    assert onprem.power_kw[1] <= 10.0 and pop.power_kw[1] <= 50.0
    assert colo.pue == 1.58  # Uptime Institute 2023 average
    assert pop.extra_ms[0] == 0.0 < pop.extra_ms[1]  # anycast mis-steering hits the tail
    assert cat.unrestricted() == frozenset({"mec", "metro-colo", "cdn-pop"})
    for tier in cat.tiers.values():
        assert tier.description and tier.cooling and tier.operations and tier.sources
        assert tier.power_kw is not None and tier.pue is not None and tier.pue >= 1.0
    joined = " ".join(s for t in cat.tiers.values() for s in t.sources)
    for ref in ("Uptime Institute", "ETSI", "Calder", "estimate"):
        assert ref in joined


def test_builtin_file_passes_its_own_validation(tmp_path):
    text = resources.files("coverage.model").joinpath("tiers.toml").read_text("utf-8")
    for key in TIER_KEYS:  # the comment block documents every field
        assert f"#   {key}" in text, key
    cat = TierCatalog.from_file(write(tmp_path, text))
    assert dict(cat.tiers) == dict(TierCatalog.builtin().tiers)
    assert cat.source == f"built-in + {tmp_path / 'tiers.toml'}"


def test_builtin_summary_is_json_ready():
    summary = TierCatalog.builtin().summary()
    again = json.loads(json.dumps(summary))
    assert again == summary
    assert summary["source"] == "built-in"
    assert list(summary["tiers"]) == BUILTIN_NAMES
    colo = summary["tiers"]["metro-colo"]
    assert colo["proxy_ms"] is None and colo["extra_ms"] == [0.0, 0.0]
    assert set(colo) == {"name", *TIER_KEYS}


def test_catalog_is_read_only():
    cat = TierCatalog.builtin()
    with pytest.raises(TypeError):
        cat.tiers["x"] = Tier("x")  # type: ignore[index]
    with pytest.raises(AttributeError):
        cat.get("mec").hops = 3  # type: ignore[misc]


# ---------------------------------------------------------------- components
def test_components_use_the_default_proxy_when_absent():
    mec = TierCatalog.builtin().get("mec")
    assert mec.proxy_ms is None
    assert mec.components_ms((1.0, 3.0)) == {"proxy": (1.0, 3.0), "tier": (0.0, 0.0)}
    pop = TierCatalog.builtin().get("cdn-pop")
    comps = pop.components_ms((1.0, 3.0))
    assert comps["proxy"] == pop.proxy_ms != (1.0, 3.0)
    assert comps["tier"] == pop.extra_ms


# ---------------------------------------------------------------- override files
def test_override_changes_only_the_fields_it_sets(tmp_path):
    path = write(tmp_path, "[tiers.mec]\nextra_ms = [8.0, 20.0]\nhops = 3\n")
    cat = TierCatalog.from_file(path)
    base = TierCatalog.builtin()
    mec, old = cat.get("mec"), base.get("mec")
    assert mec.extra_ms == (8.0, 20.0) and mec.hops == 3
    for key in TIER_KEYS:
        if key not in ("extra_ms", "hops"):
            assert getattr(mec, key) == getattr(old, key), key
    for name in ("on-prem", "metro-colo", "cdn-pop"):
        assert cat.get(name) == base.get(name)
    assert cat.names() == BUILTIN_NAMES
    assert cat.source == f"built-in + {path}"


def test_new_tier_gets_the_defaults(tmp_path):
    path = write(tmp_path, '[tiers.factory-edge]\ndescription = "plant"\nwan = false\n'
                 'restricted = true\n\n[tiers."pop2.eu_1"]\n')
    cat = TierCatalog.from_file(path)
    assert cat.names() == BUILTIN_NAMES + ["factory-edge", "pop2.eu_1"]
    fe = cat.get("factory-edge")
    assert fe == Tier("factory-edge", description="plant", wan=False, restricted=True)
    bare = cat.get("pop2.eu_1")
    assert bare == Tier("pop2.eu_1")
    assert (bare.hops, bare.proxy_ms, bare.extra_ms, bare.wan, bare.restricted,
            bare.local_breakout, bare.power_kw, bare.pue, bare.sources) == (
        0, None, (0.0, 0.0), True, False, False, None, None, ())
    assert "pop2.eu_1" in cat.unrestricted() and "factory-edge" not in cat.unrestricted()
    assert json.loads(json.dumps(cat.summary()))["tiers"]["pop2.eu_1"]["pue"] is None


def test_override_file_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[tiers.mec]\nhops = 2\n")
    assert TierCatalog.from_file(path).get("mec").hops == 2


def test_from_spec(tmp_path):
    assert TierCatalog.from_spec(None) == TierCatalog.builtin()
    path = write(tmp_path, "[tiers.cdn-pop]\npue = 1.4\n")
    cat = TierCatalog.from_spec(str(path))
    assert cat.get("cdn-pop").pue == 1.4
    assert TierCatalog.from_spec(cat) is cat


# ---------------------------------------------------------------- hostile files
def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(InputValidationError, match="not found") as err:
        TierCatalog.from_file(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(InputValidationError, match="cannot read") as err:
        TierCatalog.from_file(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[tiers.mec]\ndescription = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(InputValidationError, match="not UTF-8") as err:
        TierCatalog.from_file(path)
    assert str(path) in str(err.value)


def test_not_toml(tmp_path):
    path = write(tmp_path, "[tiers.mec\nhops = = 2\n")
    with pytest.raises(InputValidationError, match="not valid TOML") as err:
        TierCatalog.from_file(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "[tiers]\n",
                                  "[other]\nx = 1\n", "hops = 2\n"])
def test_no_tiers_table(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(InputValidationError) as err:
        TierCatalog.from_file(path)
    msg = str(err.value)
    assert str(path) in msg and "[tiers" in msg and "Fix:" in msg


def test_tier_not_a_table(tmp_path):
    path = write(tmp_path, "[tiers]\nmec = 3\n")
    with pytest.raises(InputValidationError, match=r"tier 'mec' must be a table") as err:
        TierCatalog.from_file(path)
    assert str(path) in str(err.value)


def test_unknown_keys_name_the_allowed_ones(tmp_path):
    path = write(tmp_path, "[tiers.mec]\nhop = 2\nlatency_ms = 3\n")
    with pytest.raises(InputValidationError) as err:
        TierCatalog.from_file(path)
    msg = str(err.value)
    assert str(path) in msg and "tier 'mec'" in msg
    assert "'hop'" in msg and "'latency_ms'" in msg
    assert "allowed: " + ", ".join(TIER_KEYS) in msg


def test_an_empty_override_of_a_builtin_tier_is_refused(tmp_path):
    # [tiers.metro-colo] with its keys forgotten kept every built-in value without a word
    path = write(tmp_path, "[tiers.metro-colo]\n\n[tiers.edge-box]\n")
    with pytest.raises(InputValidationError) as err:
        TierCatalog.from_file(path)
    msg = str(err.value)
    assert "tier 'metro-colo' sets no key" in msg and "changes nothing" in msg
    assert "edge-box" not in msg  # a new tier may take every default
    assert TierCatalog.from_file(write(tmp_path, "[tiers.edge-box]\n")).get("edge-box")


HOSTILE = [
    # (TOML body of [tiers.t], the words the message must hold)
    ("hops = true", "hops must be a whole number"),
    ("hops = 1.5", "hops must be a whole number"),
    ("hops = -1", "hops must be a whole number"),
    ('hops = "2"', "hops must be a whole number"),
    ("hops = 100000", "hops must be a whole number"),
    ("pue = true", "pue must be a finite number"),
    ("pue = 0.9", "pue must be a finite number"),
    ("pue = nan", "pue must be a finite number"),
    ("pue = inf", "pue must be a finite number"),
    ('pue = "1.5"', "pue must be a finite number"),
    ('extra_ms = "1, 2"', "extra_ms must be [p50, p99]"),
    ("extra_ms = 3.0", "extra_ms must be [p50, p99]"),
    ("extra_ms = [1.0]", "extra_ms must be [p50, p99]"),
    ("extra_ms = [1.0, 2.0, 3.0]", "extra_ms must be [p50, p99]"),
    ("extra_ms = [5.0, 2.0]", "extra_ms must be [p50, p99]"),
    ("extra_ms = [-1.0, 2.0]", "extra_ms must be [p50, p99]"),
    ("extra_ms = [0.0, nan]", "extra_ms must be [p50, p99]"),
    ("extra_ms = [0.0, inf]", "extra_ms must be [p50, p99]"),
    ("extra_ms = [0.0, 1e300]", "extra_ms must be [p50, p99]"),
    ("extra_ms = [true, false]", "extra_ms must be [p50, p99]"),
    ('proxy_ms = ["1", "2"]', "proxy_ms must be [p50, p99]"),
    ("proxy_ms = [2.0, 1.0]", "proxy_ms must be [p50, p99]"),
    ("proxy_ms = 1979-05-27", "proxy_ms must be [p50, p99]"),
    ("power_kw = [0.0, 5.0]", "power_kw must be [min, max]"),
    ("power_kw = [5.0, 2.0]", "power_kw must be [min, max]"),
    ("power_kw = [1.0, inf]", "power_kw must be [min, max]"),
    ("power_kw = [-1.0, 2.0]", "power_kw must be [min, max]"),
    ("power_kw = 30", "power_kw must be [min, max]"),
    ('wan = "yes"', "wan must be true or false"),
    ("restricted = 1", "restricted must be true or false"),
    ("local_breakout = 0", "local_breakout must be true or false"),
    ("description = 3", "description must be text"),
    ("cooling = [\"air\"]", "cooling must be text"),
    ("operations = false", "operations must be text"),
    ('sources = "https://example.org"', "sources must be a list"),
    ('sources = ["ok", 3]', "sources must be a list"),
    ('sources = [""]', "sources must be a list"),
    ("sources = [[\"a\"]]", "sources must be a list"),
]


@pytest.mark.parametrize(("body", "words"), HOSTILE, ids=[b for b, _ in HOSTILE])
@pytest.mark.parametrize("name", ["mec", "new-tier"])
def test_hostile_values(tmp_path, name, body, words):
    path = write(tmp_path, f"[tiers.{name}]\n{body}\n")
    with pytest.raises(InputValidationError) as err:
        TierCatalog.from_file(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f"tier {name!r}" in msg
    assert words in msg
    assert "Fix:" in msg


@pytest.mark.parametrize("name", ["bad name", "-lead", ".dot", "café", "a/b", "x\n", ""])
def test_tier_names_must_be_plain_labels(tmp_path, name):
    quoted = json.dumps(name)  # a TOML basic string
    path = write(tmp_path, f"[tiers.{quoted}]\nhops = 1\n")
    with pytest.raises(InputValidationError, match="not a plain label") as err:
        TierCatalog.from_file(path)
    assert str(path) in str(err.value) and repr(name) in str(err.value)


def test_one_message_lists_every_problem(tmp_path):
    path = write(tmp_path, "[tiers.mec]\nhops = true\npue = 0.5\n\n"
                 "[tiers.cdn-pop]\nextra_ms = [3.0, 1.0]\nbogus = 1\n\n"
                 '[tiers."no good"]\n')
    with pytest.raises(InputValidationError) as err:
        TierCatalog.from_file(path)
    msg = str(err.value)
    assert msg.count(str(path)) == 1
    for part in ("tier 'mec': hops", "tier 'mec': pue", "tier 'cdn-pop': extra_ms",
                 "tier 'cdn-pop' has unknown key(s) 'bogus'", "'no good' is not a plain label"):
        assert part in msg, part


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "version = 2\n[tiers.mec]\nhops = 1\n")
    with pytest.raises(InputValidationError, match="unknown top-level key") as err:
        TierCatalog.from_file(path)
    assert str(path) in str(err.value)


def test_tier_constructor_validates():
    with pytest.raises(InputValidationError, match="hops must be a whole number"):
        Tier("x", hops=True)
    with pytest.raises(InputValidationError, match="not a plain label"):
        Tier("x y")
    with pytest.raises(InputValidationError, match="pue must be"):
        Tier("x", pue=float("nan"))
    t = Tier("x", hops=np.int64(2), extra_ms=[1, 2], proxy_ms=(np.float64(0.5), 1),
             power_kw=[1, 2], sources=["a"])
    assert t.hops == 2 and type(t.hops) is int
    assert t.extra_ms == (1.0, 2.0) and t.proxy_ms == (0.5, 1.0) and t.sources == ("a",)
    json.dumps(t.to_dict())
    with pytest.raises(InputValidationError, match="stored under their own name"):
        TierCatalog({"a": Tier("b")})


# ---------------------------------------------------------------- tiers column
def test_parse_tier_list_small():
    cat = TierCatalog.builtin()
    s = pd.Series(["", "on-prem", "on-prem; mec", None, "  ", "mec,on-prem",
                   float("nan"), "mec | cdn-pop", "on-prem;"], dtype=object)
    codes, allowed = parse_tier_list(s, cat, source="demand.csv")
    assert codes.dtype == np.intp and codes.shape == (len(s),)
    rows = [allowed[c] for c in codes]
    assert rows == [None, frozenset({"on-prem"}), frozenset({"on-prem", "mec"}), None, None,
                    frozenset({"on-prem", "mec"}), None, frozenset({"mec", "cdn-pop"}),
                    frozenset({"on-prem"})]
    assert len(allowed) == len(set(allowed)) == 4  # each distinct set once
    assert allowed[0] is None  # order of first appearance
    assert cat.usable(allowed[codes[0]]) == cat.unrestricted()
    assert cat.usable(allowed[codes[1]]) == frozenset({"on-prem"})


def test_parse_tier_list_unknown_names():
    cat = TierCatalog.builtin()
    s = pd.Series(["", "on-prem", "On-Prem", "mec; edge", "mec", "edge"])
    with pytest.raises(InputValidationError) as err:
        parse_tier_list(s, cat, source="demand.csv")
    msg = str(err.value)
    assert "demand.csv" in msg
    assert "'On-Prem'" in msg and "'edge'" in msg and "'mec'" not in msg.split("Fix:")[0]
    assert "rows 3, 4, 6" in msg
    assert "Fix:" in msg and ", ".join(BUILTIN_NAMES) in msg


def test_site_tier_typos_are_refused_other_labels_stay_labels(tmp_path):
    """A site tier that is a catalog name but for case or punctuation is a typo (its site
    would silently be the reference site: an ``on-prem`` one would serve every user); any
    other label outside the catalog stays a plain label. The planner refuses the typo too,
    and a --tiers file that defines the spelling makes it a tier."""
    from coverage import plan_sites

    cat = TierCatalog.builtin()
    labels = pd.Series(["mec", "moonbase", "MEC", "On-Prem", None, "on_prem", "metro colo",
                        "cdn-pop", "colo"])
    with pytest.raises(InputValidationError) as err:
        check_site_tiers(labels, cat, source="sites.csv")
    msg = str(err.value)
    assert "sites.csv" in msg and msg.count("Fix:") == 4
    for typo, meant, row in (("MEC", "mec", 3), ("On-Prem", "on-prem", 4),
                             ("on_prem", "on-prem", 6), ("metro colo", "metro-colo", 7)):
        assert f"site tier {typo!r} is not in the catalog but looks like {meant!r}" in msg
        assert f"(row {row})" in msg and f"write {meant!r}" in msg
    assert "moonbase" not in msg and "'colo'" not in msg
    check_site_tiers(labels[[0, 1, 4, 7, 8]], cat, source="sites.csv")  # no typo: accepted
    demand = pd.DataFrame({"lat": [38.7, 38.8], "lon": [-9.1, -9.2], "population": [10, 20]})
    sites = pd.DataFrame({"site_id": ["a", "b"], "lat": [38.71, 38.79], "lon": [-9.1, -9.2],
                          "tier": ["On-Prem", "mec"]})
    with pytest.raises(InputValidationError, match="looks like 'on-prem'"):
        plan_sites(demand, sites, budget_ms=30.0, failures=0)
    from coverage.planner.plan import check_tier_columns  # the CLI's check before the work

    found = check_tier_columns(demand, sites, sites_source="k.csv")
    assert len(found) == 1 and "'k.csv'" in found[0] and "looks like 'on-prem'" in found[0]
    own = write(tmp_path, '[tiers.On-Prem]\nhops = 0\n')
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=0, tiers=own)
    assert plan.summary()["site_count"] >= 1


def test_parse_tier_list_unknown_rows_are_the_first_few():
    s = pd.Series(["nope"] * 50 + [""])
    with pytest.raises(InputValidationError, match=r"rows 1, 2, .*10 and 40 more"):
        parse_tier_list(s, TierCatalog.builtin(), source="d.csv")


def test_parse_tier_list_dtypes_and_empty():
    cat = TierCatalog.builtin()
    codes, allowed = parse_tier_list(pd.Series([], dtype=object), cat, source="d")
    assert codes.shape == (0,) and allowed == []
    for s in (pd.Series(["mec", None, "mec"], dtype="string"),
              pd.Series(["mec", None, "mec"], dtype="category"),
              ["mec", None, "mec"]):
        codes, allowed = parse_tier_list(s, cat, source="d")
        assert [allowed[c] for c in codes] == [frozenset({"mec"}), None, frozenset({"mec"})]
    codes, allowed = parse_tier_list(pd.Series([np.nan, np.nan]), cat, source="d")
    assert codes.tolist() == [0, 0] and allowed == [None]
    with pytest.raises(InputValidationError, match="'1.0'"):
        parse_tier_list(pd.Series([1.0, np.nan]), cat, source="d")


def test_parse_tier_list_custom_tier(tmp_path):
    cat = TierCatalog.from_file(write(tmp_path, "[tiers.plant-7]\nrestricted = true\n"))
    codes, allowed = parse_tier_list(pd.Series(["plant-7|on-prem", ""]), cat, source="d")
    assert allowed[codes[0]] == frozenset({"plant-7", "on-prem"})
    assert "plant-7" not in cat.usable(allowed[codes[1]])


def test_parse_tier_list_large():
    n = 200_000
    rng = np.random.default_rng(7)
    cells = np.array(["", "on-prem", "mec; cdn-pop"], dtype=object)
    pick = rng.integers(0, 3, n)
    s = pd.Series(cells[pick])
    codes, allowed = parse_tier_list(s, TierCatalog.builtin(), source="big.csv")
    assert codes.shape == (n,) and codes.dtype == np.intp
    assert len(allowed) == 3
    expected = [None, frozenset({"on-prem"}), frozenset({"mec", "cdn-pop"})]
    table = np.array([allowed.index(e) for e in expected])
    np.testing.assert_array_equal(codes, table[pick])


def test_a_tier_file_entry_no_site_names_is_named(tmp_path, caplog):
    """``[tiers.Metro-Colo]`` meant for the sites' ``metro-colo`` (names are matched
    exactly) was a new tier no site used: the plan ran on the built-in tier without a word.
    Each tier the file sets that no site names is now a warning, with the sites' spelling;
    a used override is not named, nor a file entry equal to the built-in tier."""
    import logging

    from coverage import plan_sites

    demand = pd.DataFrame({"lat": [38.7, 38.8], "lon": [-9.1, -9.2], "population": [10, 20]})
    sites = pd.DataFrame({"site_id": ["a", "b"], "lat": [38.71, 38.79], "lon": [-9.1, -9.2],
                          "tier": ["metro-colo", "mec"]})
    own = write(tmp_path, "[tiers.Metro-Colo]\nhops = 3\n[tiers.mec]\nhops = 4\n"
                          "[tiers.far]\nhops = 1\n[tiers.cdn-pop]\n"
                          f"hops = {TierCatalog.builtin().get('cdn-pop').hops}\n")
    with caplog.at_level(logging.WARNING, logger="coverage"):
        plan_sites(demand, sites, budget_ms=30.0, failures=0, tiers=own)
    lines = [r.getMessage() for r in caplog.records if "is named by no candidate" in r.message]
    assert len(lines) == 2, lines
    assert "tier 'Metro-Colo'" in lines[0] and "the sites name 'metro-colo'" in lines[0]
    assert "[tiers.metro-colo]" in lines[0] and "tier 'far'" in lines[1]
    assert all("tiers.toml" in line for line in lines)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage"):  # no tier column: all unused
        plan_sites(demand, sites.drop(columns="tier"), budget_ms=30.0, failures=0, tiers=own)
    assert sum("is named by no candidate" in r.getMessage() for r in caplog.records) == 3


def test_a_row_allowed_only_an_absent_tier_is_said_so(caplog):
    """Tester 153: a row allowed only on-prem, with no on-prem candidate, was said to be
    unable to meet its budget at distance 0 (with the access classes of other rows), and
    numpy warned of inf - inf on the command line."""
    import warnings

    import pandas as pd

    from coverage import plan_sites

    demand = pd.DataFrame({"demand_id": ["town", "plant"], "lat": [53.35, 53.35],
                           "lon": [-6.26, -6.30], "population": [1000.0, 10.0],
                           "access": ["ftth", "lan"], "tiers": ["", "on-prem"]})
    sites = pd.DataFrame({"site_id": ["a", "b"], "lat": [53.34, 53.40],
                          "lon": [-6.27, -6.35], "tier": "metro-colo"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with caplog.at_level("WARNING"):
            plan = plan_sites(demand, sites, budget_ms=60.0, kmedian_time_limit_s=5)
    assert "1 demand points (10 people) may use only site tiers no candidate has " \
           "(their tiers: on-prem)" in caplog.text
    assert "cannot meet their own budget" not in caplog.text
    assert plan.summary()["population_uncoverable"] == 10.0


def test_sites_without_a_tier_are_the_reference_not_outside_the_catalog():
    """Tester 172: a sites file without a ``tier`` column listed its default label
    ``candidate`` under ``summary.json["tiers"]["outside_catalog"]``, though such sites are
    the reference site by design; a label the catalog does not know still is listed."""
    import pandas as pd

    from coverage import plan_sites

    demand = pd.DataFrame({"lat": [50.0, 50.2], "lon": [8.0, 8.1], "population": [10.0, 20.0]})
    sites = pd.DataFrame({"lat": [50.0, 50.1], "lon": [8.0, 8.1]})
    s = plan_sites(demand, sites, budget_ms=30.0, failures=1, sweep=False,
                   kmedian_time_limit_s=2).summary()["tiers"]
    assert s["outside_catalog"] == []
    assert s["used"]["candidate"] == {"candidates": 2, "terms": "reference (no tier given)"}
    s = plan_sites(demand, sites.assign(tier=["edge-x", "metro-colo"]), budget_ms=30.0,
                   failures=1, sweep=False, kmedian_time_limit_s=2).summary()["tiers"]
    assert s["outside_catalog"] == ["edge-x"] and s["used"]["edge-x"]["terms"] == "reference"


def test_a_site_nobody_takes_as_primary_shows_its_own_tiers_radius():
    """Tester 185: a chosen cdn-pop site that is nobody's primary (a backup only) showed
    the run's radius (metro-colo's 985 km at 50 ms) in sites.csv and on the map, where its
    tier reaches 412 km; its radius is its own tier's, as `edge-coverage latency --tier`
    gives it."""
    from coverage import plan_sites

    model = LatencyModel()
    demand = pd.DataFrame({"demand_id": ["a", "b"], "lat": [50.0, 50.05],
                           "lon": [4.0, 4.05], "population": [1000.0, 2000.0]})
    sites = pd.DataFrame({"site_id": ["mc", "pop"], "lat": [50.01, 50.2],
                          "lon": [4.01, 4.2], "tier": ["metro-colo", "cdn-pop"]})
    plan = plan_sites(demand, sites, budget_ms=50.0, failures=1, model=model,
                      kmedian_time_limit_s=2)
    got = plan.sites.set_index("site_id")
    assert got.loc["pop", "population_primary"] == 0.0  # the backup of both towns
    catalog = TierCatalog.builtin()

    def radius(tier):  # as `edge-coverage latency --tier` computes it
        row50, row_tail = model.row_parts("ftth")
        site50, site_tail = model.site_parts(
            wan=bool(tier.wan), hops=int(tier.hops),
            proxy_ms=tuple(model.proxy_ms) if tier.proxy_ms is None else tier.proxy_ms,
            extra_ms=tuple(tier.extra_ms))
        fixed99 = row50 + site50 + float(np.sqrt(row_tail + site_tail))
        return (50.0 - fixed99) / model.ms_per_km

    want = {t: radius(catalog.get(t)) for t in ("metro-colo", "cdn-pop")}
    assert want["cdn-pop"] < 0.5 * want["metro-colo"]
    assert got.loc["pop", "radius_km"] == pytest.approx(want["cdn-pop"], rel=1e-6)
    assert got.loc["mc", "radius_km"] == pytest.approx(want["metro-colo"], rel=1e-6)


@pytest.mark.parametrize("labels,reference", [
    (["metro-colo", "metro-colo"], True),
    (["metro-colo", ""], True),
    (["metro-colo", "colo-A"], True),
    (["metro-colo", "mec"], False),
    (["mec", "mec"], False),
])
def test_labels_that_all_have_the_reference_latency_plan_as_the_flat_model(labels,
                                                                          reference):
    """Tester 188: metro-colo beside blank or unknown labels (all of the reference's
    latency, docs/latency-model.md) was taken for tiers that change the latency, and
    --strategy components refused it; a tier of its own terms (mec) is not."""
    from coverage.model.latency import LatencyModel
    from coverage.model.routing import TierTerms
    from coverage.model.tiers import TierCatalog

    terms, _, _ = TierTerms.from_labels(LatencyModel(), TierCatalog.builtin(),
                                        np.asarray(labels, dtype=object))
    assert terms.is_reference_only is reference
