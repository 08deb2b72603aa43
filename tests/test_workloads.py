"""The workload catalog (coverage.model.workloads): built-in workloads, power arithmetic,
override files and hostile files."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from coverage.errors import InputValidationError
from coverage.model.costs import CostModel
from coverage.model.latency import WORKLOADS_MS
from coverage.model.workloads import (
    WORKLOAD_KEYS,
    Workload,
    WorkloadCatalog,
    inference_table,
    memory_problem,
)

LEGACY = ["vision-l4", "resnet50-l4", "bert-l4", "vision-orin", "resnet50-orin", "bert-orin"]
FRONTIER = "frontier-moe-gb200-nvl72"
LLM_8B = "llm-8b-int4-l4"


def write(tmp_path: Path, text: str, name: str = "workloads.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def l4(**kw) -> Workload:
    """L4s in 300 W hosts of four, as the built-in L4 workloads."""
    args = {"inference_ms": (4.7, 4.9), "accelerator_w": 72.0, "host_w": 300.0,
            "accelerators_per_host": 4} | kw
    return Workload("l4", **args)


def most_by_scan(w: Workload, power_kw: float, pue: float) -> int:
    """The most accelerators that fit, by trying every count (independent of the module's
    closed form): a site of n runs ceil(n / per_host) hosts."""
    budget_w = power_kw * 1000.0 / pue
    best = 0
    for n in range(1, 2000):
        hosts = (n + w.accelerators_per_host - 1) // w.accelerators_per_host
        if hosts * w.host_w + n * w.accelerator_w <= budget_w * (1 + 1e-12):
            best = n
    return best if best >= w.min_accelerators else 0


# ---------------------------------------------------------------- built-in catalog
def test_builtin_loads_and_states_every_field():
    cat = WorkloadCatalog.builtin()
    assert cat.source == "built-in"
    names = cat.names()
    assert names[:6] == LEGACY
    assert {"gptj-l4", LLM_8B, FRONTIER} <= set(names)
    for name in names:
        w = cat.get(name)
        assert isinstance(w, Workload) and w.name == name
        assert w.description and w.accelerator and w.sources
        for key in ("throughput_rps", "model_memory_gb", "accelerator_memory_gb",
                    "accelerator_w", "host_w"):
            assert getattr(w, key) is not None and getattr(w, key) > 0, (name, key)
        # the host the power counts is the host the cost catalog prices
        priced = CostModel.builtin().accelerator(w.accelerator)
        assert w.accelerators_per_host == priced.accelerators_per_host, name
        assert w.memory_fits(), name
        assert 0 < w.inference_ms[0] <= w.inference_ms[1]
        if w.estimate:
            assert any("estimate" in s for s in w.sources), name
    assert cat.get("Vision-L4") is None and cat.get("nope") is None


def test_legacy_workloads_keep_the_latency_models_times_exactly():
    cat = WorkloadCatalog.builtin()
    table = inference_table(cat)
    assert inference_table() == table
    # the latency model's table is the catalog's: the legacy names keep their times
    assert set(LEGACY) <= set(WORKLOADS_MS) and WORKLOADS_MS == table
    for name in LEGACY:
        pair = WORKLOADS_MS[name]
        assert table[name] == pair, name  # exact, not approximate
        w = cat.get(name)
        assert w.estimate is False and w.min_accelerators == 1
        assert any("MLPerf Inference v3.1" in s for s in w.sources)
        assert any("Offline" in s for s in w.sources)  # the throughput's scenario


def test_legacy_power_follows_the_spec_sheets():
    cat = WorkloadCatalog.builtin()
    for name in LEGACY:
        w = cat.get(name)
        if name.endswith("-l4"):
            assert w.accelerator == "NVIDIA L4"
            assert w.accelerator_w == 72.0 and w.accelerator_memory_gb == 24.0
        else:
            assert w.accelerator == "Jetson AGX Orin 64GB"
            assert 15.0 <= w.accelerator_w <= 60.0 and w.accelerator_memory_gb == 64.0
    # MLPerf v3.1 Offline samples/s
    assert cat.get("resnet50-l4").throughput_rps == 12881.7
    assert cat.get("vision-orin").throughput_rps == 148.713


def test_builtin_file_passes_its_own_validation(tmp_path):
    text = resources.files("coverage.model").joinpath("workloads.toml").read_text("utf-8")
    for key in WORKLOAD_KEYS:  # the comment block documents every field
        assert f"#   {key}" in text, key
    path = write(tmp_path, text)
    cat = WorkloadCatalog.from_file(path)
    assert dict(cat.workloads) == dict(WorkloadCatalog.builtin().workloads)
    assert cat.source == f"built-in + {path}"


def test_builtin_summary_is_json_ready():
    summary = WorkloadCatalog.builtin().summary()
    again = json.loads(json.dumps(summary))
    assert again == summary
    assert summary["source"] == "built-in"
    vision = summary["workloads"]["vision-l4"]
    assert vision["inference_ms"] == [4.7, 4.9]
    assert set(vision) == {"name", *WORKLOAD_KEYS, "memory_fits", "system_kw"}
    assert vision["system_kw"] == pytest.approx(0.372)
    assert summary["workloads"][FRONTIER]["memory_fits"] is True


def test_catalog_is_read_only():
    cat = WorkloadCatalog.builtin()
    with pytest.raises(TypeError):
        cat.workloads["x"] = Workload("x")  # type: ignore[index]
    with pytest.raises(AttributeError):
        cat.get("vision-l4").accelerator_w = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------- hand checks
def test_frontier_needs_a_whole_rack_and_fits_no_edge_site():
    w = WorkloadCatalog.builtin().get(FRONTIER)
    assert w.min_accelerators == 72 and w.accelerator == "GB200 NVL72"
    assert w.estimate is True
    kw = (w.host_w + 72 * w.accelerator_w) / 1000
    assert 120.0 <= kw <= 140.0
    assert w.system_kw() == pytest.approx(kw) and w.system_kw(72) == w.system_kw()
    assert w.max_accelerators(30.0, 1.5) == 0           # no 30 kW site holds it
    assert w.max_accelerators(30.0, 1.0) == 0
    assert w.max_accelerators(kw * 1.5 - 1.0, 1.5) == 0  # a kW short of one rack
    assert w.max_accelerators(kw * 1.5, 1.5) == 72       # exactly one rack
    assert w.accelerators_per_host == 72                 # the rack is one host
    assert w.max_accelerators(200.0, 1.5) == 72          # a 73rd GPU needs a second rack
    assert w.max_accelerators(2 * kw * 1.5, 1.5) == 144
    # a kW short of two racks: the second rack's host and 71 GPUs
    assert w.max_accelerators(2 * kw * 1.5 - 1.0, 1.5) == 72 + 71
    assert w.memory_fits()


def test_quantised_8b_llm_fits_a_30_kw_site():
    w = WorkloadCatalog.builtin().get(LLM_8B)
    assert w.estimate is True and w.min_accelerators == 1
    assert w.model_memory_gb <= w.accelerator_memory_gb
    n = w.max_accelerators(30.0, 1.5)
    # 20,000 W of IT: 34 hosts of four (34 x 588 = 19,992 W), 8 W left
    assert n == 136 == most_by_scan(w, 30.0, 1.5)
    assert w.system_kw(n) * 1.5 <= 30.0 < w.system_kw(n + 1) * 1.5


def test_l4_max_accelerators_by_hand():
    w = l4()
    # 10 kW at PUE 1.6 = 6,250 W of IT; a full host is 300 + 4 x 72 = 588 W: 10 of them
    # take 5,880 W, and the 370 W left are 2 W short of one more host with one L4
    assert w.max_accelerators(10.0, 1.6) == 40
    assert type(w.max_accelerators(10.0, 1.6)) is int
    # the same with the built-in vision-l4 (72 W board, 300 W host of four)
    vision = WorkloadCatalog.builtin().get("vision-l4")
    assert vision.max_accelerators(10.0, 1.6) == 40
    # the metro-colo PUE: 3 / 5 / 10 / 30 kW
    assert [vision.max_accelerators(kw, 1.58) for kw in (3, 5, 10, 30)] == [12, 20, 42, 128]
    assert w.system_kw() == pytest.approx(0.372)
    assert w.system_kw(40) == pytest.approx((10 * 300 + 40 * 72) / 1000)
    assert w.system_kw(41) == pytest.approx((11 * 300 + 41 * 72) / 1000)
    assert w.system_kw(0) == 0.0                 # no accelerators, no host
    assert [w.hosts(n) for n in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]
    # a host per accelerator: 6,250 W / 372 W
    assert l4(accelerators_per_host=1).max_accelerators(10.0, 1.6) == 16


@pytest.mark.parametrize("per_host", [1, 2, 4, 8, 72])
@pytest.mark.parametrize("min_acc", [1, 3, 8])
def test_max_accelerators_equals_a_scan_of_every_count(per_host, min_acc):
    w = l4(accelerators_per_host=per_host, min_accelerators=min_acc)
    power = np.concatenate([np.linspace(0.0, 12.0, 97), [0.372, 0.588, 0.96, 6.324]])
    for pue in (1.0, 1.3, 1.58, 2.0):
        got = w.max_accelerators(power, pue).tolist()
        assert got == [most_by_scan(w, float(p), pue) for p in power], (per_host, pue)
        for n, p in zip(got, power, strict=True):  # and the power of what fits fits
            assert n == 0 or w.system_kw(n) * pue <= p * (1 + 1e-9)


def test_max_accelerators_boundaries():
    w = l4()
    exact_kw = (11 * 300 + 42 * 72) / 1000  # 6.324 kW at PUE 1: 42 L4s in 11 hosts exactly
    assert w.max_accelerators(exact_kw, 1.0) == 42
    assert w.max_accelerators(exact_kw - 1e-6, 1.0) == 41
    assert w.max_accelerators(exact_kw * 1.3, 1.3) == 42
    assert w.max_accelerators(0.372, 1.0) == 1   # host + one L4
    assert w.max_accelerators(0.371, 1.0) == 0
    assert w.max_accelerators(0.588, 1.0) == 4   # one full host
    assert w.max_accelerators(0.959, 1.0) == 4   # a fifth L4 needs a second host: 960 W
    assert w.max_accelerators(0.960, 1.0) == 5
    assert w.max_accelerators(0.0, 1.0) == 0
    assert w.max_accelerators(0.2, 1.0) == 0     # less than the host alone
    # n >= min_accelerators, not a multiple of it
    four = l4(min_accelerators=4)
    assert four.max_accelerators((300 + 4 * 72) / 1000, 1.0) == 4
    assert four.max_accelerators((2 * 300 + 5 * 72) / 1000, 1.0) == 5
    assert four.max_accelerators((300 + 3 * 72) / 1000, 1.0) == 0
    # a site of no host power
    bare = l4(host_w=0.0)
    assert bare.max_accelerators(0.72, 1.0) == 10


def test_max_accelerators_vectorised_equals_scalar():
    w = l4()
    power = np.array([0.0, 0.3, 0.372, 1.0, 6.204, 10.0, 30.0, 250.0])
    pue = np.array([1.0, 1.2, 1.58, 1.6, 2.0])
    grid = w.max_accelerators(power[:, None], pue[None, :])
    assert isinstance(grid, np.ndarray) and grid.dtype == np.int64
    assert grid.shape == (len(power), len(pue))
    for i, p in enumerate(power):
        for j, q in enumerate(pue):
            assert grid[i, j] == w.max_accelerators(float(p), float(q))
    # one array and one scalar; lists; 0-d arrays and NumPy scalars are scalars
    row = w.max_accelerators(power, 1.6)
    assert row.shape == power.shape and row.tolist() == [
        w.max_accelerators(float(p), 1.6) for p in power]
    assert w.max_accelerators([10.0, 30.0], [1.6, 1.5]).tolist() == [40, 136]
    assert w.max_accelerators(np.float64(10.0), np.array(1.6)) == 40
    assert type(w.max_accelerators(np.float64(10.0), np.array(1.6))) is int
    assert w.max_accelerators(np.array([], dtype=float), 1.5).shape == (0,)
    assert w.max_accelerators(10, 2) == 32  # ints accepted: 8 full hosts in 5,000 W
    frontier = WorkloadCatalog.builtin().get(FRONTIER)
    many = frontier.max_accelerators(np.array([30.0, 100.0, 198.0, 200.0]), 1.5)
    assert many.tolist() == [0, 0, 72, 72]


def test_max_accelerators_saturates_instead_of_overflowing():
    tiny = Workload("tiny", accelerator_w=1e-300, host_w=0.0)
    assert tiny.max_accelerators(1e6, 1.0) == 2 ** 53
    hosted = Workload("tiny", accelerator_w=1e-300, host_w=1.0, accelerators_per_host=1000)
    # 1e9 W hold 1e9 hosts of 1 W (to 1 part in 10^9), each with 1,000 accelerators
    assert 10 ** 12 <= hosted.max_accelerators(1e6, 1.0) <= 10 ** 12 + 1000


@pytest.mark.parametrize(("power", "pue", "words"), [
    (-1.0, 1.5, "power_kw value(s)"),
    (float("nan"), 1.5, "power_kw value(s)"),
    (float("inf"), 1.5, "power_kw value(s)"),
    (2e6, 1.5, "power_kw value(s)"),
    ([10.0, -5.0], 1.5, "1 power_kw value(s)"),
    (10.0, 0.9, "pue value(s)"),
    (10.0, float("nan"), "pue value(s)"),
    (10.0, 11.0, "pue value(s)"),
    ("10", 1.5, "power_kw must be a number"),
    (True, 1.5, "power_kw must be a number"),
    (10.0, [True], "pue must be a number"),
    (None, 1.5, "power_kw must be a number"),
    ([1.0, 2.0, 3.0], [1.2, 1.5], "do not broadcast"),
])
def test_max_accelerators_refuses_bad_envelopes(power, pue, words):
    with pytest.raises(InputValidationError) as err:
        l4().max_accelerators(power, pue)
    assert words in str(err.value) and "workload 'l4'" in str(err.value)
    assert "Fix:" in str(err.value)


def test_unknown_power_cannot_be_sized():
    w = Workload("x", inference_ms=(1.0, 2.0), accelerator_w=72.0)
    with pytest.raises(InputValidationError, match="no host_w") as err:
        w.max_accelerators(10.0, 1.5)
    assert "[workloads.x]" in str(err.value)
    with pytest.raises(InputValidationError, match="no accelerator_w and host_w"):
        Workload("y").system_kw()
    assert Workload("y").to_dict()["system_kw"] is None


@pytest.mark.parametrize("n", [-1, 1.5, True, "2"])
def test_system_kw_refuses_bad_counts(n):
    with pytest.raises(InputValidationError, match="n_accelerators must be a whole number"):
        l4().system_kw(n)


def test_system_kw_accepts_numpy_ints():
    assert l4().system_kw(np.int64(2)) == pytest.approx(0.444)
    assert l4(accelerators_per_host=1).system_kw(np.int64(2)) == pytest.approx(0.744)


def test_memory_fits():
    assert l4(model_memory_gb=24.0, accelerator_memory_gb=24.0).memory_fits()
    assert not l4(model_memory_gb=24.1, accelerator_memory_gb=24.0).memory_fits()
    assert l4(model_memory_gb=47.0, accelerator_memory_gb=24.0,
              min_accelerators=2).memory_fits()
    assert l4().memory_fits()  # unknown memory: nothing to check
    assert l4(model_memory_gb=100.0).memory_fits()


# ---------------------------------------------------------------- override files
def test_override_changes_only_the_fields_it_sets(tmp_path):
    path = write(tmp_path, "[workloads.vision-orin]\ninference_ms = [19.0, 19.5]\n"
                 "accelerator_w = 30.0\nestimate = true\n")
    cat = WorkloadCatalog.from_file(path)
    base = WorkloadCatalog.builtin()
    new, old = cat.get("vision-orin"), base.get("vision-orin")
    assert new.inference_ms == (19.0, 19.5) and new.accelerator_w == 30.0
    assert new.estimate is True
    for key in WORKLOAD_KEYS:
        if key not in ("inference_ms", "accelerator_w", "estimate"):
            assert getattr(new, key) == getattr(old, key), key
    for name in base.names():
        if name != "vision-orin":
            assert cat.get(name) == base.get(name)
    assert cat.names() == base.names()
    assert cat.source == f"built-in + {path}"
    assert inference_table(cat)["vision-orin"] == (19.0, 19.5)
    assert inference_table()["vision-orin"] == WORKLOADS_MS["vision-orin"]  # untouched


def test_new_workload_gets_the_defaults(tmp_path):
    path = write(tmp_path, '[workloads.ocr-l4]\naccelerator = "NVIDIA L4"\n'
                 "inference_ms = [6.0, 9.0]\naccelerator_w = 72.0\nhost_w = 300.0\n")
    cat = WorkloadCatalog.from_file(path)
    assert cat.unsized_hosts == ("ocr-l4",)
    assert "[workloads.ocr-l4] sets host_w but not accelerators_per_host" in (
        cat.host_size_warning("ocr-l4"))
    assert cat.host_size_warning("vision-l4") is None
    w = cat.get("ocr-l4")
    assert cat.names()[-1] == "ocr-l4"
    assert cat.names()[:-1] == WorkloadCatalog.builtin().names()
    assert w.inference_ms == (6.0, 9.0) and w.accelerator == "NVIDIA L4"
    assert w.min_accelerators == 1 and w.estimate is False and w.sources == ()
    assert w.throughput_rps is None and w.model_memory_gb is None
    assert w.description == ""
    # host_w without accelerators_per_host: a host per accelerator (6,250 W / 372 W)
    assert w.accelerators_per_host == 1
    assert w.max_accelerators(10.0, 1.6) == 16
    json.dumps(cat.summary())


def test_new_workload_must_set_inference_ms(tmp_path):
    path = write(tmp_path, "[workloads.mystery]\naccelerator_w = 72.0\n")
    with pytest.raises(InputValidationError) as err:
        WorkloadCatalog.from_file(path)
    msg = str(err.value)
    assert str(path) in msg and "new workload 'mystery' must set inference_ms" in msg
    assert "Fix:" in msg


def test_override_file_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[workloads.bert-l4]\nhost_w = 250.0\n")
    assert WorkloadCatalog.from_file(path).get("bert-l4").host_w == 250.0


def test_from_spec(tmp_path):
    assert WorkloadCatalog.from_spec(None) == WorkloadCatalog.builtin()
    path = write(tmp_path, "[workloads.bert-l4]\nhost_w = 250.0\n")
    cat = WorkloadCatalog.from_spec(str(path))
    assert cat.get("bert-l4").host_w == 250.0
    assert WorkloadCatalog.from_spec(path) == cat
    assert WorkloadCatalog.from_spec(cat) is cat


def test_model_too_big_for_its_system_is_refused(tmp_path):
    # every size (the site's power, its capacity, the priced fleet) is a multiple of the
    # smallest system, so a model it cannot hold runs nowhere: the file is wrong, and says
    # which keys to change (it was a warning, then every candidate "excluded for power")
    path = write(tmp_path, "[workloads.llm-8b-int4-l4]\nmodel_memory_gb = 40.0\n\n"
                 "[workloads.mine]\ninference_ms = [5, 6]\nmodel_memory_gb = 100\n"
                 "accelerator_memory_gb = 24\n\n[workloads.ok]\ninference_ms = [5, 6]\n"
                 "model_memory_gb = 100\naccelerator_memory_gb = 24\nmin_accelerators = 5\n")
    with pytest.raises(InputValidationError) as err:
        WorkloadCatalog.from_file(path)
    msg = str(err.value)
    assert msg.count(str(path)) == 1
    assert (f"workload {LLM_8B!r} needs 40 GB of memory (model_memory_gb) but its smallest "
            "system holds 24 GB (min_accelerators 1 x accelerator_memory_gb 24 GB). Fix: "
            f"in [workloads.{LLM_8B}] set min_accelerators = 2") in msg
    assert "workload 'mine' needs 100 GB" in msg and "set min_accelerators = 5" in msg
    assert "'ok'" not in msg
    assert "correct model_memory_gb or accelerator_memory_gb" in msg
    # past the largest min_accelerators, only the memories can change
    path = write(tmp_path, "[workloads.huge]\ninference_ms = [5, 6]\n"
                 "model_memory_gb = 1e7\naccelerator_memory_gb = 0.001\n")
    with pytest.raises(InputValidationError, match="huge.*Fix: in .workloads.huge. correct "
                       "model_memory_gb or accelerator_memory_gb$"):
        WorkloadCatalog.from_file(path)


def test_memory_problem_rounds_up_to_a_system_that_holds_the_model():
    for model, per in ((0.3, 0.1), (48.0, 24.0), (48.1, 24.0), (1000.0, 186.0), (7.0, 0.7)):
        problem = memory_problem(l4(model_memory_gb=model, accelerator_memory_gb=per))
        assert problem is not None
        n = int(problem.split("set min_accelerators = ")[1].split()[0])
        assert l4(model_memory_gb=model, accelerator_memory_gb=per,
                  min_accelerators=n).memory_fits()
        assert n == 1 or not l4(model_memory_gb=model, accelerator_memory_gb=per,
                                min_accelerators=n - 1).memory_fits()
    assert memory_problem(l4(model_memory_gb=24.0, accelerator_memory_gb=24.0)) is None
    assert memory_problem(l4(model_memory_gb=24.0)) is None  # unknown: nothing to check


# ---------------------------------------------------------------- hostile files
def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(InputValidationError, match="not found") as err:
        WorkloadCatalog.from_file(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(InputValidationError, match="cannot read") as err:
        WorkloadCatalog.from_file(tmp_path)
    assert str(tmp_path) in str(err.value) and "Fix:" in str(err.value)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[workloads.bert-l4]\ndescription = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(InputValidationError, match="not UTF-8") as err:
        WorkloadCatalog.from_file(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_not_toml(tmp_path):
    path = write(tmp_path, "[workloads.bert-l4\nhost_w = = 2\n")
    with pytest.raises(InputValidationError, match="not valid TOML") as err:
        WorkloadCatalog.from_file(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "[workloads]\n",
                                  "[tiers.mec]\nhops = 1\n", "host_w = 2\n"])
def test_no_workloads_table(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(InputValidationError) as err:
        WorkloadCatalog.from_file(path)
    msg = str(err.value)
    assert str(path) in msg and "[workloads" in msg and "Fix:" in msg


def test_workload_not_a_table(tmp_path):
    path = write(tmp_path, "[workloads]\nbert-l4 = 3\n")
    with pytest.raises(InputValidationError, match=r"workload 'bert-l4' must be a table") as err:
        WorkloadCatalog.from_file(path)
    assert str(path) in str(err.value)


def test_unknown_keys_name_the_allowed_ones(tmp_path):
    path = write(tmp_path, "[workloads.bert-l4]\npower_w = 2\nlatency_ms = [1, 2]\n")
    with pytest.raises(InputValidationError) as err:
        WorkloadCatalog.from_file(path)
    msg = str(err.value)
    assert str(path) in msg and "workload 'bert-l4'" in msg
    assert "'power_w'" in msg and "'latency_ms'" in msg
    assert "allowed: " + ", ".join(WORKLOAD_KEYS) in msg


HOSTILE = [
    # (TOML body of [workloads.NAME], the words the message must hold)
    ("inference_ms = [5.0, 2.0]", "inference_ms must be [p50, p99]"),   # p50 > p99
    ("inference_ms = [-1.0, 2.0]", "inference_ms must be [p50, p99]"),
    ("inference_ms = [1.0]", "inference_ms must be [p50, p99]"),
    ("inference_ms = [1.0, 2.0, 3.0]", "inference_ms must be [p50, p99]"),
    ('inference_ms = "1, 2"', "inference_ms must be [p50, p99]"),
    ("inference_ms = 3.0", "inference_ms must be [p50, p99]"),
    ("inference_ms = [0.0, nan]", "inference_ms must be [p50, p99]"),
    ("inference_ms = [0.0, inf]", "inference_ms must be [p50, p99]"),
    ("inference_ms = [0.0, 1e300]", "inference_ms must be [p50, p99]"),
    ("inference_ms = [true, true]", "inference_ms must be [p50, p99]"),
    ("inference_ms = 1979-05-27", "inference_ms must be [p50, p99]"),
    ("throughput_rps = 0.0", "throughput_rps must be a finite number > 0"),
    ("throughput_rps = -5.0", "throughput_rps must be a finite number > 0"),
    ("throughput_rps = nan", "throughput_rps must be a finite number > 0"),
    ("throughput_rps = inf", "throughput_rps must be a finite number > 0"),
    ('throughput_rps = "100"', "throughput_rps must be a finite number > 0"),
    ("throughput_rps = true", "throughput_rps must be a finite number > 0"),
    ("model_memory_gb = 0", "model_memory_gb must be a finite number > 0"),
    ("model_memory_gb = -2.0", "model_memory_gb must be a finite number > 0"),
    ("accelerator_memory_gb = 0.0", "accelerator_memory_gb must be a finite number > 0"),
    ("accelerator_memory_gb = [24]", "accelerator_memory_gb must be a finite number > 0"),
    ("accelerator_w = 0.0", "accelerator_w must be a finite number > 0"),
    ("accelerator_w = -72.0", "accelerator_w must be a finite number > 0"),
    ("accelerator_w = 1e9", "accelerator_w must be a finite number > 0"),
    ("host_w = -1.0", "host_w must be a finite number >= 0"),
    ('host_w = "300"', "host_w must be a finite number >= 0"),
    ("host_w = nan", "host_w must be a finite number >= 0"),
    ("min_accelerators = 0", "min_accelerators must be a whole number"),
    ("min_accelerators = -1", "min_accelerators must be a whole number"),
    ("min_accelerators = 1.5", "min_accelerators must be a whole number"),
    ("min_accelerators = 72.0", "min_accelerators must be a whole number"),
    ("min_accelerators = true", "min_accelerators must be a whole number"),
    ('min_accelerators = "72"', "min_accelerators must be a whole number"),
    ("accelerators_per_host = 0", "accelerators_per_host must be a whole number"),
    ("accelerators_per_host = 4.0", "accelerators_per_host must be a whole number"),
    ("accelerators_per_host = true", "accelerators_per_host must be a whole number"),
    ('accelerators_per_host = "4"', "accelerators_per_host must be a whole number"),
    ("min_accelerators = 10000000", "min_accelerators must be a whole number"),
    ('estimate = "yes"', "estimate must be true or false"),
    ("estimate = 1", "estimate must be true or false"),
    ("description = 3", "description must be text"),
    ('accelerator = ["NVIDIA L4"]', "accelerator must be text"),
    ('sources = "https://example.org"', "sources must be a list"),
    ('sources = ["ok", 3]', "sources must be a list"),
    ('sources = [""]', "sources must be a list"),
    ('sources = [["a"]]', "sources must be a list"),
]


@pytest.mark.parametrize(("body", "words"), HOSTILE, ids=[b for b, _ in HOSTILE])
@pytest.mark.parametrize("name", ["bert-l4", "new-workload"])
def test_hostile_values(tmp_path, name, body, words):
    path = write(tmp_path, f"[workloads.{name}]\n{body}\n")
    with pytest.raises(InputValidationError) as err:
        WorkloadCatalog.from_file(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f"workload {name!r}" in msg
    assert words in msg
    assert "Fix:" in msg


@pytest.mark.parametrize("name", ["bad name", "-lead", ".dot", "café", "a/b", "x\n", ""])
def test_workload_names_must_be_plain_labels(tmp_path, name):
    quoted = json.dumps(name)  # a TOML basic string
    path = write(tmp_path, f"[workloads.{quoted}]\ninference_ms = [1.0, 2.0]\n")
    with pytest.raises(InputValidationError, match="not a plain label") as err:
        WorkloadCatalog.from_file(path)
    assert str(path) in str(err.value) and repr(name) in str(err.value)


def test_one_message_lists_every_problem(tmp_path):
    path = write(tmp_path, "[workloads.bert-l4]\nmin_accelerators = true\nhost_w = -1.0\n\n"
                 "[workloads.vision-orin]\ninference_ms = [3.0, 1.0]\nbogus = 1\n\n"
                 '[workloads."no good"]\n\n[workloads.fresh]\naccelerator_w = 10.0\n')
    with pytest.raises(InputValidationError) as err:
        WorkloadCatalog.from_file(path)
    msg = str(err.value)
    assert msg.count(str(path)) == 1
    for part in ("workload 'bert-l4': min_accelerators", "workload 'bert-l4': host_w",
                 "workload 'vision-orin': inference_ms",
                 "workload 'vision-orin' has unknown key(s) 'bogus'",
                 "'no good' is not a plain label",
                 "new workload 'fresh' must set inference_ms"):
        assert part in msg, part


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "version = 2\n[workloads.bert-l4]\nhost_w = 1.0\n")
    with pytest.raises(InputValidationError, match="unknown top-level key") as err:
        WorkloadCatalog.from_file(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_workload_constructor_validates():
    with pytest.raises(InputValidationError, match="min_accelerators must be a whole number"):
        Workload("x", min_accelerators=True)
    with pytest.raises(InputValidationError, match="not a plain label"):
        Workload("x y")
    with pytest.raises(InputValidationError, match="inference_ms must be"):
        Workload("x", inference_ms=(2.0, 1.0))
    with pytest.raises(InputValidationError, match="accelerator_w must be") as err:
        Workload("x", accelerator_w=float("nan"), throughput_rps=0.0)
    assert "throughput_rps must be" in str(err.value)  # every problem at once
    w = Workload("x", inference_ms=[1, 2], min_accelerators=np.int64(8),
                 accelerator_w=np.float64(700), host_w=0, estimate=np.bool_(True),
                 sources=["a"])
    assert w.min_accelerators == 8 and type(w.min_accelerators) is int
    assert w.inference_ms == (1.0, 2.0) and type(w.inference_ms[0]) is float
    assert type(w.accelerator_w) is float and type(w.host_w) is float
    assert w.estimate is True and w.sources == ("a",)
    json.dumps(w.to_dict())
    with pytest.raises(InputValidationError, match="stored under their own name"):
        WorkloadCatalog({"a": Workload("b")})
    with pytest.raises(InputValidationError, match="must be a mapping"):
        WorkloadCatalog([Workload("a")])  # type: ignore[arg-type]


def test_a_given_workload_beats_a_model_files_inference_time(tmp_path):
    """Tester 106: a model file with its own ``inference_ms`` silently beat ``--workload``:
    the summary's workload said 0.35 ms while the assignment used the file's 20 ms. The
    workload given is the inference time; without one the file's stays."""
    from helpers import run

    from coverage.config import build_model

    path = tmp_path / "inf.toml"
    path.write_text("[latency_model]\nroute_factor = 3\ninference_ms = [20, 30]\n")
    wl = WORKLOADS_MS["resnet50-l4"]
    assert build_model({"latency_model": str(path), "workload": "resnet50-l4"}
                       ).inference_pair_ms == wl
    assert build_model({"latency_model": str(path)}).inference_pair_ms == (20, 30)
    out = tmp_path / "plan"
    r = run("plan", "--demo", "--country", "LU", "--latency-model", str(path),
            "--workload", "resnet50-l4", "--budget-ms", "60", "--out", str(out),
            "--no-map", "--no-report", "--no-gis")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert tuple(s["workload"]["inference_ms"]) == wl
    assert tuple(s["parameters"]["latency_model"]["inference_ms"]) == wl
    import pandas as pd

    a = pd.read_csv(out / "assignment.csv")
    served = a["latency_inference_ms"].dropna()
    assert len(served) and np.allclose(served, wl[0])


def test_names_that_differ_only_in_case_are_refused(tmp_path):
    """Tester 126: a workload 'Bert-L4' beside the built-in 'bert-l4' gave sites.csv two
    requests_<name>_rps columns that a GeoPackage (case-blind) renamed; the file is refused,
    naming both and the fix. (Tiers may differ in case: a file's 'On-Prem' tier is a tier
    of its own, and no column is named after a tier.)"""
    path = write(tmp_path, "[workloads.Bert-L4]\ninference_ms = [5, 6]\n")
    with pytest.raises(InputValidationError,
                       match="differ only in case: 'bert-l4' and 'Bert-L4'.*Fix: rename"):
        WorkloadCatalog.from_file(path)
    assert WorkloadCatalog.from_file(write(tmp_path, "[workloads.bert-l4]\nhost_w = 250.0\n"))
