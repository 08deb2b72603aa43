"""The Arrow fast path of the CSV readers gives what pandas gives, or leaves the file to
pandas (whose checks name the rows): differential tests on well-formed and hostile text."""

from __future__ import annotations

import pandas as pd
import pytest

import coverage.inputs.tables as tables
from coverage.errors import InputValidationError
from coverage.inputs.tables import read_demand

HEADER = "demand_id,lat,lon,population"
VARIANTS = {
    "plain": f"{HEADER}\nd1,55.6,12.5,100\nd2,55.7,12.6,200\n",
    "bom_crlf": f"\ufeff{HEADER}\r\nd1,55.6,12.5,100\r\nd2,55.7,12.6,200\r\n",
    "no_final_newline": f"{HEADER}\nd1,55.6,12.5,100\nd2,55.7,12.6,200",
    "quoted": (f"{HEADER},name\n\"d,1\",55.6,12.5,100,\"line\nbreak\"\n"
               "d2,55.7,12.6,200,\"say \"\"hi\"\"\"\n"),
    "empty_fields": f"{HEADER},name\nd1,55.6,12.5,,\nd2,,12.6,200,\n",
    "na_words": f"{HEADER},name\nNA,55.6,12.5,null,NaN\nnan,55.7,12.6,N/A,None\n",
    "blank_lines": f"{HEADER}\n\nd1,55.6,12.5,100\n\n\nd2,55.7,12.6,200\n",
    "spaces": " demand_id , lat ,lon,population\n d1 , 55.6 ,12.5, 100 \n   \n",
    "semicolon": "demand_id;lat;lon;population\nd1;55,6;12,5;100\n",
    "tab": "demand_id\tlat\tlon\tpopulation\nd1\t55.6\t12.5\t100\n",
    "unicode": f"{HEADER},name\nd1,55.6,12.5,100,København\nd2,55.7,12.6,200,東京\n",
    "too_many_fields": f"{HEADER}\nd1,55.6,12.5,100,extra\nd2,55.7,12.6,200\n",
    "too_few_fields": f"{HEADER}\nd1,55.6,12.5\nd2,55.7,12.6,200\n",
    "trailing_separator": f"{HEADER},\nd1,55.6,12.5,100,\nd2,55.7,12.6,200,\n",
    "all_rows_longer": f"{HEADER}\nd1,55.6,12.5,100,x\nd2,55.7,12.6,200,y\n",
    "unbalanced_quote": f"{HEADER}\n\"d1,55.6,12.5,100\nd2,55.7,12.6,200\n",
    "unclosed_quote_at_end": f"{HEADER},name\nd1,1,1,1,\"ok\"\nd2,1,1,1,\"broken\n"
                             + "d3,1,1,1,x\n" * 3,
    "quote_inside": f"{HEADER}\nd\"1,55.6,12.5,100\n\"d\"2,55.7,12.6,200\n",
    "header_only": f"{HEADER}\n",
    "double_bom": f"\ufeff\ufeff{HEADER}\nd1,55.6,12.5,100\n",
    "one_column_blank_looking": "demand_id\nd1\n   \n\t\nd2\n",
    "blank_looking_before_header": f"   \n{HEADER}\nd1,55.6,12.5,100\n",
}


def _fast(path, sep, n_header):
    """The Arrow way as the CSV reader takes it: only for a file its scan found no quote
    character in."""
    _, quoted = tables._find_nul(path, gz=False)
    return None if quoted else tables._read_csv_arrow(path, sep, n_header)


def _pandas(path, sep):
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_arrow_reads_what_pandas_reads_or_leaves_it_to_pandas(name, tmp_path):
    text = VARIANTS[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text.encode("utf-8"))
    sep = {"semicolon": ";", "tab": "\t"}.get(name, ",")
    first = text.lstrip("\ufeff").splitlines()[0]
    fast = _fast(path, sep, len(first.split(sep)))
    try:
        slow = _pandas(path, sep)
    except Exception:  # noqa: BLE001 - pandas refuses it: the fast path must not read it
        assert fast is None, name
        return
    if fast is not None:
        pd.testing.assert_frame_equal(fast, slow, obj=name)
    if name in ("plain", "bom_crlf", "no_final_newline", "empty_fields", "na_words",
                "blank_lines", "unicode", "header_only", "semicolon", "tab"):
        assert fast is not None, name  # well-formed: the fast path reads it
    if name in ("too_many_fields", "too_few_fields", "trailing_separator",
                "all_rows_longer", "spaces", "double_bom", "one_column_blank_looking",
                "blank_looking_before_header") or '"' in VARIANTS[name]:
        assert fast is None, name  # pandas pads, shifts, names or unquotes: its checks run


def test_bytes_that_are_not_utf8_are_left_to_pandas(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER},name\nd1,55.6,12.5,100,K\xf8benhavn\n".encode("latin-1"))
    assert _fast(path, ",", 5) is None
    with pytest.raises(Exception, match="not UTF-8"):
        read_demand(path)


def test_demand_validated_the_same_whichever_reader(tmp_path, monkeypatch):
    """Through the whole reader, validation included: the same frame, the same error."""
    good = tmp_path / "good.csv"
    good.write_text(VARIANTS["unicode"], encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nd1,55.6,12.5,100\nd2,north,12.6,200\nd3,55.8,12.7,-5\n",
                   encoding="utf-8")
    frames, errors = [], []
    arrow = tables._read_csv_arrow
    for fast in (True, False):  # Arrow, then pandas alone
        monkeypatch.setattr(tables, "_read_csv_arrow", arrow if fast else lambda *a: None)
        frames.append(read_demand(good))
        with pytest.raises(InputValidationError) as err:
            read_demand(bad)
        errors.append(str(err.value))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[0]["name"].tolist() == ["København", "東京"]
    assert errors[0] == errors[1] and "row" in errors[0] and "lat" in errors[0]


NUMBER_TEXTS = ["1", "+1", "-1", ".5", "5.", "1e5", "1E5", "1e-5", "-0", "00012", "nan",
                "NaN", "inf", "-inf", "Infinity", "1e400", "1e-400", "4.9e-324",
                "9007199254740993", "1.7976931348623157e308", "55.67594", "-122.4194155"]
ODD_TEXTS = ["0x10", "1_000", "１２", "١٢", "1.2.3", "1,5", "e5", "1e", "--1", "1d5", "abc",
             "1.019.022", "529.247,5", "NA", "null", ""]


@pytest.mark.parametrize("decimal", [".", ",", ",."])
@pytest.mark.parametrize("odd", [None, *ODD_TEXTS])
def test_numbers_parse_the_same_by_arrow_and_by_pandas(monkeypatch, decimal, odd):
    """``_numeric`` with Arrow's parser gives pandas' values, missing and bad masks, on
    numbers of every form and with one odd value among them (Arrow declines: pandas)."""
    import numpy as np

    texts = NUMBER_TEXTS * 3 + ([odd] if odd is not None else []) + [None, "  7.25 "]
    s = pd.Series(texts, dtype="str")
    fast = tables._numeric(s, decimal)
    if odd is None:  # every value parses: Arrow's way was taken
        assert tables._parse_floats_arrow(pd.Series(NUMBER_TEXTS, dtype="str")) is not None
    monkeypatch.setattr(tables, "_parse_floats_arrow", lambda txt: None)
    slow = tables._numeric(s, decimal)
    for got, want in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(got, want)
