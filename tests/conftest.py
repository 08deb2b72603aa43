import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def sample_inputs():
    from coverage.inputs.tables import read_demand, read_sites

    return read_demand(DATA / "west_demand.csv"), read_sites(DATA / "west_candidates.csv")
