"""One conversion of results to plain Python values (``plain_values``): a plan's summary
(NaN kept), its JSON text and compare's document (NaN and infinities as null)."""

import datetime
import doctest
import json
from pathlib import Path

import numpy as np
import pytest

from coverage.inputs import validation
from coverage.inputs.validation import plain_values
from coverage.outputs.plandir import json_text


def test_the_examples():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(validation.plain_values, "plain_values",
                            globs={"np": np, "plain_values": plain_values,
                                   "dt": datetime}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 3


def _strict(text: str):
    def refuse(name):
        raise AssertionError(f"{name} in the JSON text")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_json_text_is_strict_json_whatever_holds_the_value(bad):
    """NaN and the infinities are null in the JSON text, as Python floats, NumPy scalars
    and inside NumPy arrays (an array used to reach ``json.dumps`` whole: ``NaN``)."""
    doc = {"a": bad, "b": np.float64(bad), "c": np.array([1.0, bad]),
           "d": [np.float32(bad), (np.int64(3), bad)], "e": {"f": np.array([[bad]])}}
    back = _strict(json_text(doc))
    assert back == {"a": None, "b": None, "c": [1.0, None], "d": [None, [3, None]],
                    "e": {"f": [[None]]}}
    assert plain_values(doc, json=True) == back  # the dict is what the file reads back


def test_json_values_make_named_tuples_lists():
    from collections import namedtuple

    pair = namedtuple("pair", "a b")
    out = plain_values({"p": pair(np.float64(np.nan), np.int64(2))}, json=True)
    assert out == {"p": [None, 2]} and type(out["p"]) is list


def test_plain_values_keep_nan_and_types_for_python():
    doc = {"n": np.int64(2), "x": np.float64("nan"), "t": (np.bool_(True),), "l": [np.int8(1)]}
    out = plain_values(doc)
    assert type(out["n"]) is int and out["n"] == 2
    assert type(out["x"]) is float and np.isnan(out["x"])
    assert out["t"] == (True,) and type(out["t"][0]) is bool and type(out["t"]) is tuple
    assert out["l"] == [1] and type(out["l"][0]) is int
    assert doc["x"] is not None  # the input is left as it was


def test_dates_are_iso_text():
    import pandas as pd

    doc = {"ts": pd.Timestamp("2026-12-01 10:00", tz="UTC"), "d": datetime.date(2026, 12, 1),
           "np": np.datetime64("2026-12-01T10:00:00.000000000"), "t": datetime.time(10, 5),
           "nat": pd.NaT, "npnat": np.datetime64("NaT"),
           pd.Timestamp("2026-01-01"): [datetime.datetime(2026, 1, 2, 3, 4)],
           "arr": np.array(["2026-12-01T10:00", "NaT"], "datetime64[ns]")}
    want = {"ts": "2026-12-01T10:00:00+00:00", "d": "2026-12-01", "np": "2026-12-01T10:00:00",
            "t": "10:05:00", "nat": None, "npnat": None,
            "2026-01-01T00:00:00": ["2026-01-02T03:04:00"],
            "arr": ["2026-12-01T10:00:00", None]}  # (review 165: [ns] arrays were integers)
    assert plain_values(doc) == want
    assert _strict(json_text(doc)) == want == plain_values(doc, json=True)


def test_a_timestamp_given_in_inputs_is_iso_text_in_the_summary(sample_inputs, tmp_path):
    """Tester 192: a ``pandas.Timestamp`` inside ``inputs=`` stayed one in
    ``plan.summary()`` (``json.dumps`` refused it) and ``summary.json`` had its ``str``
    (``2026-12-01 10:00:00+00:00``): both have its ISO 8601 text."""
    import pandas as pd
    from helpers import ON_NET

    from coverage import plan_sites

    demand, sites = sample_inputs
    fetched = pd.Timestamp("2026-12-01 10:00", tz="UTC")
    plan = plan_sites(demand, sites, budget_ms=40, failures=0, model=ON_NET,
                      kmedian_time_limit_s=0,
                      inputs={"demand": {"path": Path("data") / "d.csv", "fetched": fetched}})
    summary = plan.summary()
    assert summary["inputs"]["demand"]["fetched"] == "2026-12-01T10:00:00+00:00"
    assert summary["inputs"]["demand"]["path"] == str(Path("data") / "d.csv")  # (a Path too)
    json.dumps(summary)  # JSON-ready, as the rest of it
    plan.to_dir(tmp_path / "p", map=False, report=False, gis=False)
    back = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert back["inputs"]["demand"]["fetched"] == "2026-12-01T10:00:00+00:00"
