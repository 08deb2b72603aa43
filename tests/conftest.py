import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))


CACHE_ENV = "EDGE_COVERAGE_CACHE_DIR"  # coverage.inputs.geonames.CACHE_ENV


def pytest_configure(config):
    """The GeoNames cache of this run in a folder of its own (set before pytest-xdist
    starts its workers, so that they and the command lines they run share it), never the
    user's ~/.cache; removed at the end."""
    if os.environ.get(CACHE_ENV) is None:
        os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="edge-coverage-test-cache-")
        config.stash[CACHE_KEY] = os.environ[CACHE_ENV]


def pytest_unconfigure(config):
    folder = config.stash.get(CACHE_KEY, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(CACHE_ENV, None)


CACHE_KEY = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def sample_inputs():
    from coverage.inputs.tables import read_demand, read_sites

    return read_demand(DATA / "west_demand.csv"), read_sites(DATA / "west_candidates.csv")


# The longest test files first: `make test` hands whole files to two processes
# (pytest-xdist --dist loadfile) in collection order, and a long file collected late
# leaves one process idle at the end (a run of 2026-12-07, seconds per file: outdir 196,
# batch 187, notebooks 144, capacity 86, cli 59, national placement 54, failure
# components 51, components 51, the rest under 50).
LONG_FILES_FIRST = ("test_outdir.py", "test_batch.py", "test_notebooks.py",
                    "test_capacity.py", "test_cli.py", "test_national_placement.py",
                    "test_failure_components.py", "test_components.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable otherwise
