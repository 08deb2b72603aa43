"""One conversion of results to plain Python values (``plain_values``): a plan's summary
(NaN kept), its JSON text and compare's document (NaN and infinities as null)."""

import doctest
import json

import numpy as np
import pytest

from coverage.inputs import validation
from coverage.inputs.validation import plain_values
from coverage.outputs.plandir import json_text


def test_the_examples():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(validation.plain_values, "plain_values",
                            globs={"np": np, "plain_values": plain_values}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 2


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
