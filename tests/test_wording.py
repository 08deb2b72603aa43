"""coverage.wording: counts in words (its doctest examples, and whole floats)."""

import doctest

import coverage.wording as wording
from coverage.wording import counted


def test_counted_examples():
    assert doctest.testmod(wording).failed == 0


def test_a_whole_float_reads_as_a_whole_number():
    assert counted(2.0, "site") == "2 sites"
    assert counted(1.0, "site") == "1 site"
    assert counted(1_234_567.0, "pair") == "1,234,567 pairs"
