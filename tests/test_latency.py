import math

import numpy as np
import pytest
from pyproj import Geod

from coverage.errors import InfeasibleBudgetError, InputValidationError
from coverage.model.geo import haversine_km
from coverage.model.latency import LatencyModel


def test_hand_computed_defaults():
    m = LatencyModel()
    # D(100 km) = 2 * 1.5 * 100 * 4.9 / 1000 + 8 * 0.05 = 1.47 + 0.4
    # p50 = D + 5 (ftth) + 0 (wifi) + 1 (proxy) + 4.7 (inference) = 12.57
    assert m.p50_ms(100.0, "ftth") == pytest.approx(12.57, abs=1e-9)
    # p99 = p50 + sqrt(10^2 + 0^2 + 2^2 + 0.2^2) = 12.57 + sqrt(104.04) = 12.57 + 10.2
    assert m.p99_ms(100.0, "ftth") == pytest.approx(22.77, abs=1e-9)
    # DSL 30/100 with typical Wi-Fi 3/100 at 0 km
    m2 = LatencyModel(wifi="typical")
    expected = 0.4 + 30 + 3 + 1 + 4.7 + math.sqrt(70**2 + 97**2 + 2**2 + 0.2**2)
    assert m2.p99_ms(0.0, "dsl") == pytest.approx(expected, abs=1e-9)


def test_parameters_change_the_formula():
    m = LatencyModel(fiber_us_per_km=5.0, route_factor=2.0, hops=2, per_hop_ms=0.1,
                     proxy_ms=(0.5, 1.5), inference_ms=(10.0, 20.0))
    # D(50) = 2*2*50*5/1000 + 0.2 = 1.2; p50 = 1.2 + 5 + 0.5 + 10
    assert m.p50_ms(50.0, "ftth") == pytest.approx(16.7)
    assert m.p99_ms(50.0, "ftth") == pytest.approx(16.7 + math.sqrt(100 + 1 + 100))


def test_radius_is_the_inverse_of_latency():
    m = LatencyModel()
    for budget in (25.0, 30.0, 50.0, 100.0):
        for access in ("ftth", "cable", "lan"):
            if m.fixed_ms(access) > budget:
                continue
            r = m.radius_km(budget, access)
            assert m.p99_ms(r, access) == pytest.approx(budget)
    assert m.radius_km(30.0) == pytest.approx(591.84, abs=0.01)  # reference worked example
    r50 = m.radius_km(30.0, "ftth", "p50")
    assert m.p50_ms(r50) == pytest.approx(30.0)


def test_vectorised_mixed_access():
    m = LatencyModel()
    out = m.p99_ms(np.array([0.0, 10.0, 20.0]), np.array(["ftth", "lte", "ftth"]))
    assert out == pytest.approx([m.p99_ms(0.0, "ftth"), m.p99_ms(10.0, "lte"),
                                 m.p99_ms(20.0, "ftth")])


def test_infeasible_budget_message():
    m = LatencyModel()
    with pytest.raises(InfeasibleBudgetError, match=r"access \+ inference alone take 21\.3 ms"):
        m.radius_km(20.0, "ftth")
    with pytest.raises(InfeasibleBudgetError, match="alone take"):
        m.radius_km(30.0, "dsl")


def test_bad_parameters_are_named():
    with pytest.raises(InputValidationError, match="unknown workload"):
        LatencyModel(workload="gpt-9")
    with pytest.raises(InputValidationError, match="route_factor"):
        LatencyModel(route_factor=-1)
    with pytest.raises(InputValidationError, match="unknown access profile 'satellite'"):
        LatencyModel().p99_ms(1.0, "satellite")


def test_haversine_against_hand_and_pyproj():
    # one degree of longitude on the equator: 2*pi*R/360
    assert haversine_km(0, 0, 0, 1) == pytest.approx(2 * math.pi * 6371.0088 / 360)
    # New York -> Los Angeles: within 0.5 % of the WGS84 geodesic
    lat1, lon1, lat2, lon2 = 40.7128, -74.0060, 34.0522, -118.2437
    _, _, geodesic_m = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    assert haversine_km(lat1, lon1, lat2, lon2) == pytest.approx(geodesic_m / 1000, rel=5e-3)
