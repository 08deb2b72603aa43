"""The map in a real browser: headless Debian Chromium through Selenium 4 and chromedriver.

Each map is opened from a ``file://`` URL with the network blocked (an unreachable proxy, a
resolver that resolves nothing and Chromium's own URL blocking for http, https and ws), and
checked for: Leaflet loaded, no console errors, the expected layers, popups on click, the
failure explorer's numbers, a non-blank screenshot, and no script injection through a site
name. ``make test`` installs ``chromium`` and ``chromium-driver`` (apt) first and sets
``EDGE_COVERAGE_BROWSER_TESTS=required``, so a missing browser fails the run there; elsewhere
these tests skip when ``/usr/bin/chromedriver`` is absent. The driver path is passed
explicitly, so Selenium Manager never downloads anything.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("folium")
selenium = pytest.importorskip("selenium")

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402
from test_maps import EVIL, EVIL_TIER, national_plan, sample_plan  # noqa: E402

from coverage.maps import LAYER_DEMAND, LAYER_FAILURE, layer_names, plan_map, save_map  # noqa: E402

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
REQUIRED = os.environ.get("EDGE_COVERAGE_BROWSER_TESTS", "") == "required"
CHROME_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--allow-file-access-from-files",
    "--window-size=1280,900",
    # No network at all: every request goes to a dead proxy, names never resolve.
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

#: JavaScript that finds the folium map object on the page (as ``m``).
FIND_MAP = (
    "var m = null; for (var k in window) { if (k.indexOf('map_') === 0 && "
    "window[k] instanceof L.Map) { m = window[k]; } }"
)


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]}
    )
    return driver


@pytest.fixture(scope="module")
def browser():
    if not (CHROMEDRIVER.is_file() and CHROMIUM.is_file()):
        message = f"{CHROMEDRIVER} or {CHROMIUM} missing (make test installs them with apt)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    os.environ.setdefault("SE_OFFLINE", "true")  # belt and braces: Selenium Manager stays off
    driver = _driver()
    try:
        yield driver
    finally:
        driver.quit()


def _errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _open(driver, path: Path, timeout_s: float = 60.0) -> float:
    """Load a map file and wait until every layer shown at start is drawn; seconds taken."""
    driver.get_log("browser")  # drop messages from earlier pages
    t0 = time.perf_counter()
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, timeout_s).until(
        lambda d: d.execute_script(
            "return !!(window.covmapLast && window.covmapLast.stats.built.latency)"
        )
    )
    return time.perf_counter() - t0


def _render(plan, tmp_path: Path, name: str, **kwargs) -> tuple[Path, list[str]]:
    m = plan_map(plan, **kwargs)
    path = save_map(m, tmp_path / name)
    return path, layer_names(m)


def _overlay_labels(driver) -> list[str]:
    spans = driver.find_elements(
        By.CSS_SELECTOR, ".leaflet-control-layers-overlays label > span > span"
    )
    return [s.text.strip() for s in spans]


def _no_alert(driver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def _popup_text(driver, timeout_s: float = 10.0) -> str:
    el = WebDriverWait(driver, timeout_s).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    )
    return el.text


def _click_site(driver, k: int) -> str:
    """Bring site ``k`` into view and on top of other markers, click it, return its popup."""
    driver.execute_script(
        FIND_MAP + "var S = window.covmapLast.data.sites; m.closePopup();"
        "m.setView([S.lat[arguments[0]], S.lon[arguments[0]]], m.getZoom(), {animate: false});"
        "var el = document.querySelector("
        "\".covmap-site span[data-site='\" + arguments[0] + \"']\");"
        "el.parentNode.style.zIndex = 100000;",
        k,
    )
    marker = driver.find_element(By.CSS_SELECTOR, f".covmap-site span[data-site='{k}']")
    marker.click()
    return _popup_text(driver)


def _click_map_at(driver, lat: float, lon: float, zoom: int) -> None:
    """Centre the map on (lat, lon) and click there with the mouse (a real pointer event)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    x, y = driver.execute_script(
        FIND_MAP + "m.setView([arguments[0], arguments[1]], arguments[2], {animate: false});"
        "var p = m.latLngToContainerPoint([arguments[0], arguments[1]]);"
        "var r = m.getContainer().getBoundingClientRect();"
        "return [p.x + r.left, p.y + r.top];",
        lat,
        lon,
        zoom,
    )
    time.sleep(0.3)
    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(int(round(x)), int(round(y)))
    actions.pointer_action.click()
    actions.perform()


def test_sample_map_loads_offline_with_its_layers(browser, tmp_path):
    plan = sample_plan()
    path, names = _render(plan, tmp_path, "map.html", tiles=None)
    seconds = _open(browser, path)
    assert seconds < 20, seconds
    assert browser.execute_script("return typeof L !== 'undefined' && L.version") == "1.9.4"
    assert _errors(browser) == []
    # Only the file itself was loaded: no request left the machine.
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    )
    assert [u for u in urls if not u.startswith(("file:", "data:", "blob:"))] == []
    assert _overlay_labels(browser) == names
    assert LAYER_DEMAND in names and LAYER_FAILURE in names
    stats = browser.execute_script("return window.covmapLast.stats")
    assert stats["mode"] == "points"
    assert stats["built"]["latency"]["n"] == len(plan.demand)
    n_sites = sum(v["n"] for k, v in stats["built"].items() if k.startswith("sites:"))
    assert n_sites == len(plan.sites)
    # Every overlay can be switched on without a script error.
    for box in browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input"):
        if not box.is_selected():
            box.click()
    built = browser.execute_script("return window.covmapLast.stats.built")
    assert len(built) == len(names)
    assert _errors(browser) == []


def test_clicking_a_site_shows_its_popup(browser, tmp_path):
    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    k = int(np.argmax(plan.sites["population_primary"].to_numpy()))
    text = _click_site(browser, k)
    site = plan.sites.iloc[k]
    assert str(site["name"]) in text and str(site["site_id"]) in text
    assert f"{site['population_primary']:,.0f}" in text
    fail = plan.failures.set_index("failed_site_id").loc[site["site_id"]]
    assert f"{fail['population_rerouted']:,.0f}" in text
    assert _errors(browser) == []


def test_failure_explorer_shows_rerouting(browser, tmp_path):
    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    f = plan.failures.reset_index(drop=True)
    k = int(np.argmax(f["population_rerouted"].to_numpy()))
    Select(browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-select")).select_by_value(str(k))
    out = browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-out")
    WebDriverWait(browser, 10).until(lambda d: "re-routed" in out.text)
    assert f"{f.loc[k, 'population_rerouted']:,.0f}" in out.text
    assert f"{f.loc[k, 'population_outside_budget']:,.0f}" in out.text
    stats = browser.execute_script("return window.covmapLast.stats.failure")
    assert stats["site"] == k
    assert stats["pop"] == pytest.approx(f.loc[k, "population_rerouted"], abs=2)
    assert stats["worst"] == pytest.approx(f.loc[k, "worst_latency_ms"], abs=0.051)
    # Where they go: the N-1 sites of the failed site's users.
    users = plan.demand[plan.demand["primary_site_id"] == f.loc[k, "failed_site_id"]]
    top = users.groupby("n1_site_id")["population"].sum().idxmax()
    name = plan.sites.set_index("site_id").loc[top, "name"]
    assert f"{name} ({top})" in out.text
    # The same through a site popup's button.
    Select(browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-select")).select_by_value("-1")
    j = (k + 1) % len(f)
    _click_site(browser, j)
    browser.find_element(By.CSS_SELECTOR, ".leaflet-popup-content .covmap-fail-btn").click()
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return window.covmapLast.stats.failure.site") == j
    )
    assert f"{f.loc[j, 'population_rerouted']:,.0f}" in out.text
    assert _errors(browser) == []


def test_clicking_demand_shows_numbers_and_waterfall(browser, tmp_path):
    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    d = plan.demand[plan.demand["primary_site_id"].notna()]
    # The most populous served point with no site marker on top of it (a marker takes the click).
    gap = np.hypot(
        d["lat"].to_numpy()[:, None] - plan.sites["lat"].to_numpy()[None, :],
        d["lon"].to_numpy()[:, None] - plan.sites["lon"].to_numpy()[None, :],
    ).min(axis=1)
    d = d[gap > 0.05]
    row = d.loc[d["population"].idxmax()]
    _click_map_at(browser, float(row["lat"]), float(row["lon"]), zoom=11)
    text = _popup_text(browser)
    assert str(row["name"]) in text
    assert f"{row['population']:,.0f}" in text
    assert "Latency waterfall" in text
    assert f"{row['primary_latency_ms']:.1f} ms" in text
    assert "propagation" in text and "inference" in text
    assert _errors(browser) == []


def test_site_name_cannot_inject_script(browser, tmp_path):
    plan = sample_plan(evil=True)
    k = int(np.flatnonzero(plan.sites["name"].to_numpy() == EVIL)[0])
    assert bool(plan.sites["required"].iloc[k])
    path, names = _render(plan, tmp_path, "evil.html", tiles=None)
    _open(browser, path)
    _no_alert(browser)
    # The tier name is text in the layer control, not an <img> element.
    assert f"Sites: {EVIL_TIER}" in _overlay_labels(browser)
    assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers img") == []
    text = _click_site(browser, k)
    assert EVIL in text  # shown as text...
    popup = browser.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    assert popup.find_elements(By.TAG_NAME, "script") == []  # ...never as an element
    assert "existing" in text
    Select(browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-select")).select_by_value(str(k))
    out = browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-out")
    WebDriverWait(browser, 10).until(lambda d: EVIL in out.text)
    _no_alert(browser)
    assert _errors(browser) == []


def test_screenshot_is_not_blank(browser, tmp_path):
    import matplotlib.image as mpimg

    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    browser.execute_script("return 1")
    time.sleep(0.3)  # let the canvas paint
    shot = tmp_path / "map.png"
    assert browser.save_screenshot(str(shot))
    img = mpimg.imread(shot)[:, :, :3]
    assert img.shape[0] >= 600 and img.shape[1] >= 1000, img.shape
    pixels = np.round(img.reshape(-1, 3) * 255).astype(np.int64)
    colours = np.unique(pixels[:, 0] * 65536 + pixels[:, 1] * 256 + pixels[:, 2])
    assert len(colours) > 200, len(colours)
    background = np.array([0xF2, 0xEF, 0xE9])
    share = float((np.abs(pixels - background).sum(axis=1) > 30).mean())
    assert share > 0.05, share
    # Demand coloured by latency: greens from the low end of the ramp are on screen.
    green = (pixels[:, 1] > pixels[:, 0] + 40) & (pixels[:, 1] > pixels[:, 2] + 40)
    assert green.sum() > 200, int(green.sum())


def test_national_hexagon_map_opens_fast(browser, tmp_path):
    plan = national_plan()
    path, names = _render(plan, tmp_path, "national.html", tiles=None)
    seconds = _open(browser, path)
    assert seconds < 20, seconds
    assert _errors(browser) == []
    stats = browser.execute_script("return window.covmapLast.stats")
    assert stats["mode"] == "h3"
    assert stats["built"]["latency"]["n"] == stats["units"] <= 30_000
    assert _overlay_labels(browser) == names
    # A real click on the most populous hexagon opens its popup.
    best, lat, lon, cell, pop = browser.execute_script(
        "var D = window.covmapLast.data.units, b = 0;"
        "for (var i = 1; i < D.pop.length; i++) { if (D.pop[i] > D.pop[b]) { b = i; } }"
        "return [b, D.lat[b], D.lon[b], D.h[b], D.pop[b]];"
    )
    _click_map_at(browser, lat, lon, zoom=9)
    text = _popup_text(browser)
    assert f"Hexagon {cell}" in text and f"{pop:,.0f}" in text
    assert "Latency waterfall (mean)" in text
    f = plan.failures.reset_index(drop=True)
    k = int(np.argmax(f["population_rerouted"].to_numpy()))
    Select(browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-select")).select_by_value(str(k))
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return !!window.covmapLast.stats.failure")
    )
    got = browser.execute_script("return window.covmapLast.stats.failure")
    assert got["pop"] == pytest.approx(f.loc[k, "population_rerouted"], abs=got["n"] + 1)
    assert got["n"] == int(f.loc[k, "n_demand_rerouted"])
    assert _errors(browser) == []


def test_osm_tiles_fail_quietly_offline(browser, tmp_path):
    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "osm.html", tiles="osm")
    _open(browser, path)
    assert browser.execute_script("return L.version") == "1.9.4"
    time.sleep(0.5)
    errors = _errors(browser)
    # The only failures are the blocked tile requests; the map itself works.
    assert all("tile.openstreetmap.org" in e["message"] for e in errors), errors
    assert browser.execute_script("return window.covmapLast.stats.built.latency.n") == len(
        plan.demand
    )
