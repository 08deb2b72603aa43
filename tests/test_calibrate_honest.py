"""calibrate says how far to trust its fit (audit of the calibration): the share of paths
above the p99 term and ``--p99-over-paths``, the held-out error, narrow distance spreads,
hand-edited model files, the rows of dropped pings, blank p99 cells, repeated rows and the
help text."""

import logging
import math
import os
import stat
import tomllib

import numpy as np
import pandas as pd
import pytest

from coverage.cli import main
from coverage.errors import InputValidationError
from coverage.inputs.pings import read_pings
from coverage.model import calibrate as calmod
from coverage.model.calibrate import (
    MODEL_FILE_HEADER,
    calibrate,
    fibre_rtt_ms,
    fit_network,
    model_file_state,
)
from tests.helpers import write


def pings(n=300, seed=3, p99=True, lo_km=20.0, hi_km=1500.0, rf=2.0, overhead=5.0):
    """Synthetic pings of known parameters; the per-path p99 is the ping's RTT plus a
    spread excess (median 4 ms)."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(lo_km, hi_km, n)
    rtt = rf * fibre_rtt_ms(d) + overhead + rng.laplace(0.0, 1.0, n) + 1.5
    frame = pd.DataFrame({"distance_km": d, "rtt_ms": rtt})
    if p99:
        frame["rtt_p99_ms"] = rtt + rng.uniform(0.0, 8.0, n)
    return frame


def fit_table(path):
    with open(path, "rb") as fh:
        return tomllib.load(fh)["latency_model"]["fit"]


def run(tmp_path, capsys, frame, *extra, out="m.toml"):
    src = tmp_path / "pings.csv"
    frame.to_csv(src, index=False)
    rc = main(["calibrate", "--pings", str(src), "--out", str(tmp_path / out), *extra])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# --------------------------------------------------------------------------- 1. p99 share


def test_share_of_paths_above_the_p99_term_is_reported_and_recorded(tmp_path, capsys):
    """The default p99 term is the median over paths: about half the paths are above it,
    which the output and the fit table now say (it was not said anywhere)."""
    frame = pings()
    cal = calibrate(frame)
    excess = frame["rtt_p99_ms"] - cal.route_factor * fibre_rtt_ms(frame["distance_km"])
    assert cal.overhead_p99_ms == pytest.approx(np.median(excess))
    share = float(np.mean(excess > cal.overhead_p99_ms))
    assert cal.share_above_p99 == pytest.approx(share) and 0.45 < share <= 0.5
    rc, out, err = run(tmp_path, capsys, frame)
    assert rc == 0, err
    assert f"{100 * share:.1f} % of the fitted paths have their own p99 above it" in out
    fit = fit_table(tmp_path / "m.toml")
    assert fit["paths_above_p99_share"] == pytest.approx(share, abs=1e-4)
    assert fit["p99_over_paths"] == 0.5
    # without the column: the share of the pings above the 0.99 quantile (about 1 %)
    rc, out, err = run(tmp_path, capsys, pings(n=1000, p99=False), out="n.toml")
    assert rc == 0, err
    fit = fit_table(tmp_path / "n.toml")
    assert fit["pings_above_p99_share"] == pytest.approx(0.01, abs=0.002)
    assert "p99_over_paths" not in fit
    assert "of the fitted pings are above it" in out


def test_a_p99_quantile_below_the_p50_overhead_is_raised_and_said(caplog):
    """A low p99_over_paths whose quantile of the per-path p99 term lies below the fitted
    p50 overhead: the p99 overhead is the p50 one, and the method and a warning say so
    with the quantile's own value (it was labelled as the quantile asked for, and about
    half the paths, not 99 %, were above it: tester 143)."""
    frame = pings()
    cal = calibrate(frame, p99_over_paths=0.01)
    excess = frame["rtt_p99_ms"] - cal.route_factor * fibre_rtt_ms(frame["distance_km"])
    q = float(np.quantile(excess, 0.01))
    assert q < cal.overhead_ms  # (the case: the fit's own check)
    assert cal.overhead_p99_ms == cal.overhead_ms
    assert cal.p99_method.startswith("the p50 overhead: the 0.01 quantile over paths")
    assert f"was {q:.3f} ms, below it" in cal.p99_method
    assert any("lies below the fitted p50 overhead" in r.getMessage() for r in caplog.records)
    share = float(np.mean(excess > cal.overhead_p99_ms))
    assert cal.share_above_p99 == pytest.approx(share)


def test_p99_over_paths_chooses_the_quantile_over_the_paths(tmp_path, capsys):
    frame = pings()
    cal = calibrate(frame, p99_over_paths=0.9)
    excess = frame["rtt_p99_ms"] - cal.route_factor * fibre_rtt_ms(frame["distance_km"])
    assert cal.overhead_p99_ms == pytest.approx(np.quantile(excess, 0.9))
    assert cal.share_above_p99 == pytest.approx(0.1, abs=0.005)
    assert "0.9 quantile over paths" in cal.p99_method
    rc, out, err = run(tmp_path, capsys, frame, "--p99-over-paths", "0.9")
    assert rc == 0, err
    fit = fit_table(tmp_path / "m.toml")
    assert fit["p99_over_paths"] == 0.9 and "p99_over_paths = 0.9" in fit["method"]
    assert fit["paths_above_p99_share"] == pytest.approx(0.1, abs=0.005)


def test_p99_over_paths_without_a_p99_column_is_refused(tmp_path, capsys):
    rc, _, err = run(tmp_path, capsys, pings(p99=False), "--p99-over-paths", "0.9")
    assert rc == 2 and "--p99-over-paths 0.9 needs a per-path p99 column" in err
    assert "pings.csv" in err and "Fix:" in err and "Traceback" not in err
    assert not (tmp_path / "m.toml").exists()
    with pytest.raises(InputValidationError, match="needs a per-path p99 column"):
        calibrate(pings(p99=False), p99_over_paths=0.9)


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "nan", "x"])
def test_p99_over_paths_must_be_a_fraction(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, capsys, pings(), "--p99-over-paths", value)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --p99-over-paths: " in err and "fraction" in err


# --------------------------------------------------------------------------- 2. held out


def test_held_out_error_by_ping_is_the_five_fold_cross_validation(tmp_path, capsys):
    """Without coordinates: 5 folds by ping (seed 0); each fold predicted by the median
    fit to the others. Recomputed here with the linear program."""
    frame = pings(n=200, p99=False)
    cal = calibrate(frame)
    d, rtt = frame["distance_km"].to_numpy(), frame["rtt_ms"].to_numpy()
    fold = np.random.default_rng(0).permutation(len(d)) % 5
    err = np.empty(len(d))
    for k in range(5):
        rf, over = fit_network(d[fold != k], rtt[fold != k], 0.5)
        err[fold == k] = rf * fibre_rtt_ms(d[fold == k]) + over - rtt[fold == k]
    assert cal.heldout_median_abs_error_ms == pytest.approx(np.median(np.abs(err)), abs=1e-6)
    assert "5 folds by ping, seed 0" in cal.heldout_method
    rc, out, err_text = run(tmp_path, capsys, frame)
    assert rc == 0, err_text
    insample = cal.errors.iloc[-1]["median_abs_error_ms"]
    assert (f"median |err| of the fitted pings: {insample:.2f} ms in sample, "
            f"{cal.heldout_median_abs_error_ms:.2f} ms held out (5 folds by ping") in out
    fit = fit_table(tmp_path / "m.toml")
    assert fit["heldout_median_abs_error_ms"] == pytest.approx(
        cal.heldout_median_abs_error_ms, abs=1e-3)
    assert fit["heldout_method"] == "5 folds by ping, seed 0"


def test_held_out_error_folds_by_path_when_the_pings_have_coordinates(tmp_path, capsys):
    """Both directions of a path share a fold: a path-specific detour is then held out
    (by ping, its other direction would be in the training folds)."""
    rng = np.random.default_rng(5)
    n = 60
    lat1, lon1 = rng.uniform(40, 55, n), rng.uniform(-5, 20, n)
    lat2, lon2 = rng.uniform(40, 55, n), rng.uniform(-5, 20, n)
    from coverage.model.geo import haversine_km

    d = haversine_km(lat1, lon1, lat2, lon2)
    rtt = 2.0 * fibre_rtt_ms(d) + 5.0 + rng.exponential(3.0, n)
    forth = pd.DataFrame({"src_lat": lat1, "src_lon": lon1, "dst_lat": lat2,
                          "dst_lon": lon2, "rtt_ms": rtt})
    back = forth.rename(columns={"src_lat": "dst_lat", "src_lon": "dst_lon",
                                 "dst_lat": "src_lat", "dst_lon": "src_lon"})
    f = tmp_path / "p.csv"
    pd.concat([forth, back.assign(rtt_ms=rtt + 0.01)]).to_csv(f, index=False)
    df = read_pings(f)
    assert (df["path_id"].to_numpy()[:n] == df["path_id"].to_numpy()[n:]).all()
    assert df["path_id"].nunique() == n
    cal = calibrate(df, source=str(f))
    assert cal.heldout_method.startswith("5 folds by path, 60 paths")
    fold = np.random.default_rng(0).permutation(n) % 5  # one fold per path
    _, inverse = np.unique(df["path_id"].to_numpy(), return_inverse=True)
    fold = fold[inverse]
    err = np.empty(2 * n)
    dd, yy = df["distance_km"].to_numpy(), df["rtt_ms"].to_numpy()
    for k in range(5):
        rf, over = fit_network(dd[fold != k], yy[fold != k], 0.5)
        err[fold == k] = rf * fibre_rtt_ms(dd[fold == k]) + over - yy[fold == k]
    assert cal.heldout_median_abs_error_ms == pytest.approx(np.median(np.abs(err)), abs=1e-6)


def test_held_out_error_is_skipped_above_the_stated_size(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(calmod, "CV_MAX_PINGS", 50)
    rc, out, err = run(tmp_path, capsys, pings(n=60))
    assert rc == 0, err
    assert "held out not computed above 50 pings" in out
    fit = fit_table(tmp_path / "m.toml")
    assert "heldout_median_abs_error_ms" not in fit
    assert fit["heldout_method"] == "not computed above 50 pings (time)"


def test_a_p99_quantile_over_few_pings_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="coverage"):
        cal = calibrate(pings(n=50, p99=False), source="few.csv")
    assert "few.csv: the p99 network term" in caplog.text
    assert "0.99 quantile over only 50 pings" in caplog.text
    assert f"held out, {100 * cal.heldout_share_above_p99:.1f} %" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage"):
        calibrate(pings(n=150, p99=False), source="many.csv")  # 100 or more
        calibrate(pings(n=50, p99=True), source="paths.csv")  # per-path p99s
    assert "p99 network term" not in caplog.text


# --------------------------------------------------------------------------- 3. spread


def test_distances_spanning_too_little_are_warned(tmp_path, capsys, caplog):
    """60 pings at 295-305 km (truth: route factor 2, overhead 5 ms, noise 2 ms) fitted
    route factor 1.0 + 7.65 ms without a word. A warning, not a refusal: within the fitted
    distances the fit predicts well (a national operator's own pings span little), and the
    plan warns when its radius leaves them."""
    import logging

    rng = np.random.default_rng(7)
    d = rng.uniform(295, 305, 60)
    frame = pd.DataFrame({"distance_km": d,
                          "rtt_ms": 2.0 * fibre_rtt_ms(d) + 5 + rng.normal(0, 2, 60)})
    with caplog.at_level(logging.WARNING, logger="coverage"):
        cal = calibrate(frame, source="narrow.csv")
    said = [r.getMessage() for r in caplog.records if "standard error" in r.getMessage()]
    assert len(said) == 1 and "narrow.csv" in said[0] and "span only 295" in said[0]
    assert cal.route_factor_se > 0.5
    assert cal.fitted_min_distance_km > 294 and cal.fitted_max_distance_km < 306
    # predictions within the fitted distances stay close to the truth
    truth = 2.0 * fibre_rtt_ms(300.0) + 5
    assert abs(cal.route_factor * fibre_rtt_ms(300.0) + cal.overhead_ms - truth) < 1.5
    rc, _, err = run(tmp_path, capsys, frame)
    assert rc == 0 and (tmp_path / "m.toml").exists()
    # the same scatter over 20-1,500 km is fine
    wide = pings(p99=False)
    cal = calibrate(wide)
    assert cal.route_factor_se < 0.05


def test_fitted_distance_range_is_recorded(tmp_path, capsys):
    frame = pings(p99=False)
    frame.loc[0, "distance_km"] = 1900.0  # beyond --max-distance-km: not in the range
    rc, out, err = run(tmp_path, capsys, frame, "--max-distance-km", "1600")
    assert rc == 0, err
    fit = fit_table(tmp_path / "m.toml")
    kept = frame["distance_km"][frame["distance_km"] < 1600]
    assert fit["fitted_min_distance_km"] == pytest.approx(kept.min(), abs=0.05)
    assert fit["fitted_max_distance_km"] == pytest.approx(kept.max(), abs=0.05)
    assert fit["route_factor_se"] > 0
    assert f"fitted distances: {kept.min():,.1f}-{kept.max():,.1f} km" in out


# --------------------------------------------------------------------------- 4. hand edits


def test_a_hand_edited_model_file_is_not_replaced(tmp_path, capsys):
    frame = pings()
    assert run(tmp_path, capsys, frame)[0] == 0
    out = tmp_path / "m.toml"
    assert model_file_state(out.read_bytes()) == "calibrate"
    assert run(tmp_path, capsys, frame)[0] == 0  # its own, unchanged: replaced
    edited = out.read_text().replace("hops = 0", "hops = 0\nproxy_ms = [0.5, 1.0]")
    out.write_text(edited)
    rc, _, err = run(tmp_path, capsys, frame)
    assert rc == 2 and f"--out {out} was written by edge-coverage calibrate and edited" in err
    assert "Fix: give another --out, or delete" in err
    assert out.read_text() == edited
    # a file of an older calibrate (no checksum) is replaced as before
    legacy = [f"{MODEL_FILE_HEADER}: use it with"] + edited.splitlines()[1:]
    out.write_text("\n".join(legacy) + "\n")
    assert model_file_state(out.read_bytes()) == "legacy"
    assert run(tmp_path, capsys, frame)[0] == 0
    assert model_file_state(out.read_bytes()) == "calibrate"
    assert model_file_state(b"[latency_model]\nroute_factor = 2\n") == "other"
    # CRLF line ends or a byte-order mark (an editor, git's autocrlf) are not edits
    mine = out.read_bytes()
    assert model_file_state(mine.replace(b"\n", b"\r\n")) == "calibrate"
    assert model_file_state(b"\xef\xbb\xbf" + mine) == "calibrate"
    out.write_bytes(b"\xef\xbb\xbf" + mine.replace(b"\n", b"\r\n"))
    from coverage.model.latency import LatencyModel

    assert LatencyModel.from_file(out).fit["pairs"] > 0  # and still read
    assert run(tmp_path, capsys, frame)[0] == 0


def test_a_replaced_model_file_keeps_its_mode(tmp_path, capsys):
    frame = pings()
    assert run(tmp_path, capsys, frame)[0] == 0
    out = tmp_path / "m.toml"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    os.chmod(out, 0o600)
    assert run(tmp_path, capsys, frame)[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# --------------------------------------------------------------------------- 5-7. rows


def test_dropped_faster_than_light_pings_are_named_by_row(caplog):
    frame = pings(p99=False)
    frame.loc[[1, 4, 7], "rtt_ms"] = 0.01
    with caplog.at_level(logging.WARNING, logger="coverage"):
        cal = calibrate(frame, source="p.csv")
    assert cal.dropped_light == 3
    assert "p.csv: 3 of 300 pings are faster than light (rows 2, 5, 8): dropped" in caplog.text


def test_blank_p99_cells_fit_the_p50_only(tmp_path):
    frame = pings(n=40)
    text = frame.to_csv(index=False, float_format="%.4f")
    lines = text.splitlines()
    for i in (1, 5, 9):  # blank the p99 of data rows 1, 5, 9
        lines[i] = lines[i].rsplit(",", 1)[0] + ","
    f = write(tmp_path / "p.csv", "\n".join(lines) + "\n")
    df = read_pings(f)
    blank = df["rtt_p99_ms"].isna().to_numpy()
    assert np.flatnonzero(blank).tolist() == [0, 4, 8]
    cal = calibrate(df)
    keep = ~blank
    excess = (df["rtt_p99_ms"][keep]
              - cal.route_factor * fibre_rtt_ms(df["distance_km"][keep]))
    assert cal.overhead_p99_ms == pytest.approx(np.median(excess))
    assert "37 of 40 fitted pings have one" in cal.p99_method
    # every cell blank, or text: refused, by row
    allblank = write(tmp_path / "b.csv", "distance_km,rtt_ms,rtt_p99_ms\n"
                     + "".join(f"{100 + 50 * i},{10 + i},\n" for i in range(12)))
    with pytest.raises(InputValidationError, match="rtt_p99_ms is blank in every row"):
        read_pings(allblank)
    text_cell = write(tmp_path / "t.csv", "\n".join(lines[:3] + [
        lines[3].rsplit(",", 1)[0] + ",abc"] + lines[4:]) + "\n")
    with pytest.raises(InputValidationError, match=r"not a finite number \(row 3\)"):
        read_pings(text_cell)


def test_repeated_rows_are_a_warning_naming_them(tmp_path, caplog):
    frame = pings(n=20, p99=False).assign(note="x")
    doubled = pd.concat([frame, frame.iloc[[2, 5, 5]]], ignore_index=True)
    doubled.loc[19, "note"] = "y"
    doubled = pd.concat([doubled, doubled.iloc[[19]].assign(note="z")], ignore_index=True)
    f = tmp_path / "p.csv"
    doubled.to_csv(f, index=False)
    with caplog.at_level(logging.WARNING, logger="coverage"):
        df = read_pings(f)
    assert len(df) == 24  # kept: they may be repeated measurements
    # rows 21-23 repeat rows 3, 6, 6; row 24 differs from row 20 in its note: no repeat
    assert "3 of 24 rows repeat an earlier row exactly (rows 21, 22, 23)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage"):
        read_pings(write(tmp_path / "q.csv", frame.to_csv(index=False)))
    assert "repeat" not in caplog.text


# --------------------------------------------------------------------------- 8. help


def test_help_and_an_infinite_max_distance(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: all)" not in text
    assert "--p99-over-paths" in text
    rc, out, err = run(tmp_path, capsys, pings(), "--max-distance-km", "inf")
    assert rc == 0, err
    assert "at or beyond" not in out
    assert "max_distance_km" not in fit_table(tmp_path / "m.toml")
    with pytest.raises(SystemExit):
        run(tmp_path, capsys, pings(), "--max-distance-km", "-1")
    assert "or inf for all pings" in capsys.readouterr().err
    assert math.isinf(calibrate(pings(), max_distance_km=math.inf).max_distance_km)


@pytest.mark.parametrize("extra, field", [("rtt_min_ms", "rtt_ms"),
                                          ("rtt_max_ms", "rtt_p99_ms")])
def test_two_names_of_one_ping_column_are_refused(tmp_path, extra, field):
    """A ping file with two columns that both name one field (rtt_ms and rtt_min_ms) is
    refused naming both, not read from the first (tester 143: rtt_min_ms, 100 ms higher,
    was ignored without a word)."""
    f = tmp_path / "p.csv"
    f.write_text("distance_km,rtt_ms,rtt_p99_ms," + extra + "\n"
                 + "".join(f"{100 * i},{5 + i},{9 + i},{120 + i}\n" for i in range(1, 30)))
    with pytest.raises(InputValidationError, match=rf"'{field}', '{extra}' both look like "
                                                   rf"{field}"):
        read_pings(f)


def test_an_edited_model_file_has_no_measured_error(tmp_path, capsys, caplog):
    """Tester 147: a model file with its route factor edited still reported the fit's
    measured error (of the route factor calibrate wrote). Unedited, it is reported; edited
    (its checksum no longer matches), it is not, and a warning says why."""
    from coverage.model.latency import LatencyModel

    assert run(tmp_path, capsys, pings())[0] == 0
    out = tmp_path / "m.toml"
    mine = LatencyModel.from_file(out)
    assert mine.fit and mine.summary()["measured_error"]["pairs"] > 0
    import re

    text, n = re.subn(r"(?m)^route_factor = .*$", "route_factor = 3.5", out.read_text())
    assert n == 1
    edited = tmp_path / "edited.toml"
    edited.write_text(text)
    with caplog.at_level("WARNING", logger="coverage.model.latency"):
        model = LatencyModel.from_file(edited)
    assert model.route_factor == 3.5 and model.fit is None
    assert model.summary()["measured_error"] is None
    assert "edited since calibrate wrote it" in caplog.text
    # a file without a fit (written by hand) says nothing
    caplog.clear()
    bare = tmp_path / "bare.toml"
    bare.write_text("[latency_model]\nroute_factor = 2.0\n")
    with caplog.at_level("WARNING", logger="coverage.model.latency"):
        assert LatencyModel.from_file(bare).fit is None
    assert not caplog.text


@pytest.mark.parametrize("name", ["internet", "on-net"])
def test_a_model_files_profile_is_the_profile_it_starts_from(tmp_path, name):
    """Tester 147: ``profile = "on-net"`` in a model file was a label on the internet's
    values (33 sites where on-net plans 8). It names the profile whose values the fields
    the file does not set take; the label is the file; another name is refused."""
    from coverage.errors import InputValidationError
    from coverage.model.latency import LatencyModel

    f = tmp_path / "f.toml"
    f.write_text(f'[latency_model]\nprofile = "{name}"\nhops = 3\n')
    got = LatencyModel.from_file(f)
    want = LatencyModel.from_profile(name, hops=3)
    assert (got.route_factor, got.overhead_ms, got.overhead_p99_ms, got.per_hop_ms,
            got.hops) == (want.route_factor, want.overhead_ms, want.overhead_p99_ms,
                          want.per_hop_ms, 3)
    assert got.profile == str(f)
    f.write_text('[latency_model]\nprofile = "On-Net"\n')
    with pytest.raises(InputValidationError, match="is not a network profile"):
        LatencyModel.from_file(f)


def test_a_route_factor_no_internet_path_has_is_said(caplog):
    """Tester 185: one-way times (half the round trips) fitted a route factor of 1.06,
    swapped coordinates 1.19, without a word. The fit stands, with a warning."""
    frame = pings(rf=2.0)
    with caplog.at_level("WARNING"):
        ok = calibrate(frame)
    assert ok.route_factor == pytest.approx(2.0, abs=0.2)
    assert "route factor" not in caplog.text
    half = frame.assign(rtt_ms=frame["rtt_ms"] / 2, rtt_p99_ms=frame["rtt_p99_ms"] / 2)
    with caplog.at_level("WARNING"):
        got = calibrate(half)
    assert got.route_factor < 1.3
    assert "are the times one-way (give round trips)" in caplog.text
