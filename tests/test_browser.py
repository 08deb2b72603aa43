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

from selenium.common.exceptions import (  # noqa: E402
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402
from test_maps import (  # noqa: E402
    EVIL,
    EVIL_TIER,
    _own_budget_flags,
    antimeridian_plan,
    class_plan,
    national_plan,
    sample_plan,
    template_text,
)

from coverage.outputs.maps import LAYER_DEMAND, LAYER_FAILURE, layer_names, plan_map, save_map  # noqa: E402

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

#: One wait, sized for a loaded machine (two cores shared with other work). Every wait polls
#: for the exact condition the next step needs and returns as soon as it holds, so a generous
#: bound costs nothing on a good run; a wait that runs out fails with what it saw last.
WAIT_S = 90.0
#: Page load and asynchronous scripts (a couple of animation frames) on a loaded machine.
PAGE_LOAD_S = 120.0
SCRIPT_S = 60.0

#: JavaScript that finds the folium map object on the page (as ``m``).
FIND_MAP = (
    "var m = null; for (var k in window) { if (k.indexOf('map_') === 0 && "
    "window[k] instanceof L.Map) { m = window[k]; } }"
)

#: Records the popup the map opened last (``window.covtest``), installed once a page is ready.
#: Leaflet keeps a closing popup in the page for a 200 ms fade, so "the first
#: ``.leaflet-popup-content``" may be the old one; this names the one that is open.
HOOK_POPUPS = FIND_MAP + (
    "if (!window.covtest) { window.covtest = {popup: null, opened: 0};"
    " m.on('popupopen', function (e) { covtest.popup = e.popup; covtest.opened += 1; });"
    " m.on('popupclose', function (e) {"
    "  if (covtest.popup === e.popup) { covtest.popup = null; } });"
    "}"
)

#: JavaScript (after FIND_MAP) that lists what still moves or paints on the map: a zoom or pan
#: animation (an animated zoom also starts one frame late, hence the probes run after two
#: frames), a canvas redraw not done yet, a closing popup still in the page.
BUSY = (
    "var busy = [];"
    "if (!m) { busy.push('no map'); } else {"
    " if (m._animatingZoom) { busy.push('zoom animation'); }"
    " if (m._panAnim && m._panAnim._inProgress) { busy.push('pan animation'); }"
    " if (m._flyToFrame) { busy.push('fly-to'); }"
    " var redraw = 0;"
    " m.eachLayer(function (l) { if (l instanceof L.Canvas && l._redrawRequest) { redraw++; } });"
    " if (redraw) { busy.push(redraw + ' canvas redraw(s) pending'); }"
    " var open = window.covtest && covtest.popup && covtest.popup.isOpen() ? 1 : 0;"
    " var n = document.querySelectorAll('.leaflet-popup').length;"
    " if (n > open) { busy.push((n - open) + ' closing popup(s)'); }"
    "}"
)

#: Asynchronous: after two animation frames, report what is still busy (an empty list: idle).
SETTLE = (
    FIND_MAP
    + "var done = arguments[arguments.length - 1];"
    "requestAnimationFrame(function () { requestAnimationFrame(function () {"
    + BUSY
    + "done(busy); }); });"
)

#: Asynchronous: get the map, idle, to show (lat, lon) at its centre at ``zoom`` (null: keep),
#: then report whether a click at the centre of ``sel`` (or of the map when ``sel`` is null)
#: reaches that element (or the map itself, not a control, marker or popup). The view is set
#: again whenever it is off: Leaflet drops a ``setView`` made while a zoom animation runs.
AIM = (
    FIND_MAP
    + "var done = arguments[arguments.length - 1], lat = arguments[0], lon = arguments[1],"
    " zoom = arguments[2], sel = arguments[3];"
    "function name(e) { return e ? e.tagName.toLowerCase() + '.' +"
    " String(e.className && e.className.baseVal !== undefined ? e.className.baseVal : e.className)"
    ".trim().split(/\\s+/).join('.') : 'nothing'; }"
    "requestAnimationFrame(function () { requestAnimationFrame(function () {"
    + BUSY
    + "if (busy.length) { return done({state: 'map busy: ' + busy.join(', ')}); }"
    " if (zoom === null) { zoom = m.getZoom(); }"
    " var c = m.getSize().divideBy(2), p = m.latLngToContainerPoint([lat, lon]);"
    " if (m.getZoom() !== zoom || p.distanceTo(c) > 1) {"
    "  var was = 'zoom ' + m.getZoom() + ', target ' + Math.round(p.distanceTo(c)) +"
    "   ' px off centre';"
    "  m.setView([lat, lon], zoom, {animate: false});"
    "  return done({state: 'view was ' + was + '; set again'}); }"
    " var r = m.getContainer().getBoundingClientRect(), el = null;"
    " var x = r.left + c.x, y = r.top + c.y;"
    " if (sel) { el = document.querySelector(sel);"
    "  if (!el) { return done({state: 'no element ' + sel}); }"
    "  var b = el.getBoundingClientRect(); x = b.left + b.width / 2; y = b.top + b.height / 2; }"
    " var hit = document.elementFromPoint(x, y), ok;"
    " if (sel) { ok = !!hit && (hit === el || el.contains(hit)); } else {"
    "  ok = !!hit && m.getContainer().contains(hit) && !hit.closest("
    "'.leaflet-control-container, .leaflet-popup-pane, .leaflet-marker-pane'); }"
    " done({state: ok ? 'ready' : 'a click at (' + Math.round(x) + ', ' + Math.round(y) +"
    " ') would hit ' + name(hit), x: x, y: y});"
    "}); });"
)


def _driver(scratch: Path):
    """Start Chromium through chromedriver, its profile and temporary files under ``scratch``.

    Chromium keeps its singleton socket in a ``org.chromium.Chromium.*`` directory of
    ``TMPDIR`` and does not always remove it on quit; with ``TMPDIR`` and the profile under
    pytest's own temporary tree, a test run leaves nothing in ``/tmp``.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = scratch / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = {**os.environ, "TMPDIR": str(scratch)}
    service = Service(executable_path=str(CHROMEDRIVER), env=env)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(PAGE_LOAD_S)
    driver.set_script_timeout(SCRIPT_S)
    driver.implicitly_wait(0)  # every wait below is explicit, with its own condition
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]}
    )
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMEDRIVER.is_file() and CHROMIUM.is_file()):
        message = f"{CHROMEDRIVER} or {CHROMIUM} missing (make test installs them with apt)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    os.environ.setdefault("SE_OFFLINE", "true")  # belt and braces: Selenium Manager stays off
    driver = _driver(tmp_path_factory.mktemp("chromium"))
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, what: str, probe, ok, timeout_s: float = WAIT_S):
    """Poll ``probe(driver)`` until ``ok(value)`` holds and return that value.

    Returns as soon as the condition holds; after ``timeout_s`` the test fails with ``what`` it
    waited for and the last value (or exception) the probe saw.
    """
    seen = ["nothing (the probe never ran)"]

    def condition(d):
        try:
            value = probe(d)
        except (NoSuchElementException, StaleElementReferenceException) as exc:
            seen[0] = f"{type(exc).__name__}: {exc.msg}"
            return False
        seen[0] = value
        return ok(value)

    try:
        WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(condition)
    except TimeoutException:
        pytest.fail(f"waited {timeout_s:.0f} s for {what}; last saw: {seen[0]!r:.2000}")
    return seen[0]


def _settle(driver) -> None:
    """Wait until nothing moves or paints on the map (see ``BUSY``)."""
    _wait(
        driver,
        "the map to settle (no zoom/pan animation, no pending canvas redraw, no closing popup)",
        lambda d: d.execute_async_script(SETTLE),
        lambda busy: busy == [],
    )


def _errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _open(driver, path: Path) -> float:
    """Load a map file and wait until every layer shown at start is drawn; seconds taken.

    Ready means: the document is loaded, ``covmap`` ran, and every overlay checked in the
    layer control at start has been built (the demand layer among them); the seconds are
    measured to that point. Then the map is left to settle (its canvases painted).
    """
    driver.get_log("browser")  # drop messages from earlier pages
    t0 = time.perf_counter()
    driver.get(path.resolve().as_uri())
    _wait(
        driver,
        "the map: document loaded, covmap run, every overlay checked at start built",
        lambda d: d.execute_script(
            "var t = window.covmapLast, boxes = document.querySelectorAll("
            "'.leaflet-control-layers-overlays input'), checked = 0;"
            "for (var i = 0; i < boxes.length; i++) { if (boxes[i].checked) { checked++; } }"
            "return {document: document.readyState, covmap: !!t, checked: checked,"
            " built: t ? Object.keys(t.stats.built).sort() : []};"
        ),
        lambda s: s["document"] == "complete"
        and s["covmap"]
        and "latency" in s["built"]
        and len(s["built"]) == s["checked"],
    )
    seconds = time.perf_counter() - t0
    driver.execute_script(HOOK_POPUPS)
    _settle(driver)
    return seconds


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


def _popups_opened(driver) -> int:
    return driver.execute_script("return window.covtest.opened")


def _popup(driver, what: str, opened_before: int, inner: str | None = None):
    """Wait for a popup opened after ``opened_before`` to be shown in full; (element, text).

    Shown in full: it is the map's open popup, its fade-in is over (opacity 1), its visible
    text is not empty and, if given, it holds an ``inner`` element (CSS selector).
    """

    def probe(d):
        info = d.execute_script(
            "var t = window.covtest, p = t.popup;"
            "if (t.opened <= arguments[0]) { return {state: 'no popup opened yet'}; }"
            "if (!p || !p.isOpen()) { return {state: 'popup closed again'}; }"
            "var c = p.getElement(), o = getComputedStyle(c).opacity;"
            "var el = c.querySelector('.leaflet-popup-content');"
            "return {state: o === '1' ? 'open' : 'fading in (opacity ' + o + ')', el: el,"
            " inner: arguments[1] ? !!el.querySelector(arguments[1]) : true};",
            opened_before,
            inner,
        )
        if "el" in info:
            info["text"] = info.pop("el").text  # the visible text, as a user sees it
        return info

    info = _wait(
        driver,
        f"{what}: open, faded in, visible text" + (f", holding {inner}" if inner else ""),
        probe,
        lambda i: i["state"] == "open" and i["text"].strip() != "" and i["inner"],
    )
    el = driver.execute_script(
        "return window.covtest.popup.getElement().querySelector('.leaflet-popup-content')"
    )
    return el, info["text"]


def _aim(driver, what: str, lat: float, lon: float, zoom: int | None, sel: str | None):
    """Get the map to (lat, lon) and wait until a click there reaches its target; (x, y)."""
    got = _wait(
        driver,
        f"{what} to be clickable (map idle, view set, nothing on top)",
        lambda d: d.execute_async_script(AIM, lat, lon, zoom, sel),
        lambda a: a["state"] == "ready",
    )
    return got["x"], got["y"]


def _click_site(driver, k: int):
    """Bring site ``k`` into view and on top of other markers, click it; (popup, its text)."""
    sel = f".covmap-site span[data-site='{k}']"
    lat, lon = driver.execute_script(
        FIND_MAP + "var S = window.covmapLast.data.sites; m.closePopup();"
        "document.querySelector(arguments[1]).parentNode.style.zIndex = 100000;"
        "return [S.lat[arguments[0]], S.lon[arguments[0]]];",
        k,
        sel,
    )
    _aim(driver, f"site {k}'s marker", lat, lon, None, sel)
    before = _popups_opened(driver)
    driver.find_element(By.CSS_SELECTOR, sel).click()
    return _popup(driver, f"site {k}'s popup", before, f".covmap-fail-btn[data-site='{k}']")


def _click_map_at(driver, lat: float, lon: float, zoom: int):
    """Centre the map on (lat, lon), click there with the mouse; (popup, its text)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    x, y = _aim(driver, f"the map at ({lat:.4f}, {lon:.4f}) zoom {zoom}", lat, lon, zoom, None)
    before = _popups_opened(driver)
    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(int(round(x)), int(round(y)))
    actions.pointer_action.click()
    actions.perform()
    return _popup(driver, f"the popup of the click at ({lat:.4f}, {lon:.4f})", before)


def _explorer_shows(driver, k: int) -> str:
    """Wait until the failure explorer shows site ``k`` failed; the explorer's text."""
    sel = ".covmap-explorer-select"
    label = driver.find_element(By.CSS_SELECTOR, f"{sel} option[value='{k}']").text
    out = driver.find_element(By.CSS_SELECTOR, ".covmap-explorer-out")

    def probe(d):
        return {
            "select": d.find_element(By.CSS_SELECTOR, sel).get_attribute("value"),
            "stats.failure": d.execute_script("return window.covmapLast.stats.failure || null"),
            "text": out.text,
        }

    got = _wait(
        driver,
        f"the failure explorer to show site {k} ({label!r}) failed",
        probe,
        lambda s: s["select"] == str(k)
        and (s["stats.failure"] or {}).get("site") == k
        and s["text"].split("\n", 1)[0] == f"{label} fails",
    )
    return got["text"]


def _fail_site(driver, k: int) -> str:
    """Pick site ``k`` in the failure explorer; the explorer's text once it shows it."""
    Select(driver.find_element(By.CSS_SELECTOR, ".covmap-explorer-select")).select_by_value(str(k))
    return _explorer_shows(driver, k)


def test_sample_map_loads_offline_with_its_layers(browser, tmp_path):
    plan = sample_plan()
    path, names = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)  # waits for the first draw; its time is measured by make bench
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
    boxes = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input")
    for box in boxes:
        if not box.is_selected():
            box.click()
    built = _wait(
        browser,
        f"all {len(boxes)} overlays switched on and built",
        lambda d: d.execute_script(
            "var b = document.querySelectorAll('.leaflet-control-layers-overlays input'), n = 0;"
            "for (var i = 0; i < b.length; i++) { if (b[i].checked) { n++; } }"
            "return {checked: n, built: window.covmapLast.stats.built};"
        ),
        lambda s: s["checked"] == len(boxes) and len(s["built"]) == len(boxes),
    )["built"]
    assert len(built) == len(names)
    assert _errors(browser) == []


def test_points_are_coloured_against_their_own_budget(browser, tmp_path):
    """Tester 111: with per-row budgets the map coloured every point against the run's
    budget (N-1 violations of 30 ms rows within 40 ms drawn in-budget). The drawn fill
    colours of the latency and N-1 layers are read back and checked against each point's
    own budget, computed here from the assignment."""
    plan = class_plan()
    _, primary_over, n1_over = _own_budget_flags(plan)
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    boxes = browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays input")
    for box in boxes:
        if not box.is_selected():
            box.click()
    _wait(browser, "the N-1 layer built",
          lambda d: d.execute_script("return window.covmapLast.stats.built"),
          lambda b: "n1" in b and "latency" in b)
    got = browser.execute_script(
        "var a = window.covmapLast, D = a.data.units, C = a.data.config, out = {};"
        "['latency', 'n1'].forEach(function (k) {"
        "  out[k] = a.drawn[k].getLayers().map(function (l) {"
        "    return l.options.fillColor === C.overColor; }); });"
        "out.lat = D.lat; out.lon = D.lon; out.p = D.p; return out;")
    d = plan.demand
    row = {(round(a, 5), round(b, 5)): i for i, (a, b) in
           enumerate(zip(d["lat"].to_numpy(float), d["lon"].to_numpy(float), strict=True))}
    idx = np.array([row[(a, b)] for a, b in zip(got["lat"], got["lon"], strict=True)])
    uncoverable = (d["coverage_status"].astype(str) == "uncoverable").to_numpy()[idx]
    drawn_over = np.asarray(got["latency"], bool)
    np.testing.assert_array_equal(drawn_over[~uncoverable], primary_over[idx][~uncoverable])
    served = np.asarray(got["p"]) >= 0  # the N-1 layer draws the served units, in order
    np.testing.assert_array_equal(np.asarray(got["n1"], bool), n1_over[idx][served])
    assert n1_over.any() and (~n1_over[d["primary_site_id"].notna().to_numpy()]).any()
    assert _errors(browser) == []


def test_clicking_a_site_shows_its_popup(browser, tmp_path):
    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    k = int(np.argmax(plan.sites["population_primary"].to_numpy()))
    _, text = _click_site(browser, k)
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
    text = _fail_site(browser, k)
    assert "re-routed" in text
    assert f"{f.loc[k, 'population_rerouted']:,.0f}" in text
    assert f"{f.loc[k, 'population_outside_budget']:,.0f}" in text
    stats = browser.execute_script("return window.covmapLast.stats.failure")
    assert stats["site"] == k
    assert stats["pop"] == pytest.approx(f.loc[k, "population_rerouted"], abs=2)
    assert stats["worst"] == pytest.approx(f.loc[k, "worst_latency_ms"], abs=0.051)
    # Where they go: the N-1 sites of the failed site's users.
    users = plan.demand[plan.demand["primary_site_id"] == f.loc[k, "failed_site_id"]]
    top = users.groupby("n1_site_id")["population"].sum().idxmax()
    name = plan.sites.set_index("site_id").loc[top, "name"]
    assert f"{name} ({top})" in text
    # The same through a site popup's button.
    Select(browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-select")).select_by_value("-1")
    out = browser.find_element(By.CSS_SELECTOR, ".covmap-explorer-out")
    _wait(browser, "the failure explorer to clear", lambda d: out.text, lambda t: t == "")
    j = (k + 1) % len(f)
    popup, _ = _click_site(browser, j)
    _settle(browser)  # the popup pans the map into view: click the button where it rests
    popup.find_element(By.CSS_SELECTOR, ".covmap-fail-btn").click()
    text = _explorer_shows(browser, j)
    assert f"{f.loc[j, 'population_rerouted']:,.0f}" in text
    assert _errors(browser) == []


def test_a_plan_across_the_antimeridian_opens_on_its_points(browser, tmp_path):
    """The view opens on the plan's ~3 degrees (it opened at -180..180, the whole world),
    and a failed site's reroute lines are short (they crossed the whole map)."""
    plan = antimeridian_plan()
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    find_map = ("var M = null; for (var k in window) { try { if (window[k] instanceof L.Map)"
                " { M = window[k]; } } catch (e) {} }")
    west, east = browser.execute_script(
        find_map + "var b = M.getBounds(); return [b.getWest(), b.getEast()];")
    assert east - west < 15.0 and west < 180.0 < east
    f = plan.failures.reset_index(drop=True)
    k = int(np.argmax(f["population_rerouted"].to_numpy()))
    assert "re-routed" in _fail_site(browser, k)
    spans = browser.execute_script(
        find_map + "var out = []; M.eachLayer(function (l) {"
        " if (l instanceof L.Polyline && !(l instanceof L.Polygon)) {"
        "  var ll = l.getLatLngs(); out.push(Math.abs(ll[0].lng - ll[ll.length - 1].lng)); }"
        "}); return out;")
    assert spans and max(spans) < 4.0
    assert _errors(browser) == []


def test_the_plan_opens_beside_the_legend_not_under_it(browser, tmp_path):
    """Tester 184: the view was fitted with 20 px of padding, so the plan's western sites
    (Tarawa, Lautoka, Bergen) opened under the 380 px legend on the left."""
    import pandas as pd
    from helpers import ON_NET

    from coverage.planner.plan import plan_sites

    # towns on a south-west to north-east line: the south-western ones are where the
    # legend is (the map's bottom left)
    rng = np.random.default_rng(3)
    t = rng.uniform(0.0, 1.0, 80)
    demand = pd.DataFrame({"demand_id": [f"d{i}" for i in range(80)],
                           "lat": 44.0 + 4.0 * t + rng.normal(0, 0.05, 80),
                           "lon": 4.0 + 8.0 * t + rng.normal(0, 0.05, 80),
                           "population": rng.integers(100, 5000, 80)})
    sites = demand.iloc[::4][["lat", "lon"]].assign(
        site_id=[f"s{j}" for j in range(20)]).reset_index(drop=True)
    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=2, model=ON_NET)
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    find_map = ("var M = null; for (var k in window) { try { if (window[k] instanceof L.Map)"
                " { M = window[k]; } } catch (e) {} }")
    got = browser.execute_script(
        find_map + "var r = document.querySelector('.covmap-legend').getBoundingClientRect();"
        "var m = M.getContainer().getBoundingClientRect();"
        "var xs = arguments[0].map(function (p) {"
        " return M.latLngToContainerPoint(L.latLng(p[0], p[1])).x + m.left; });"
        "return {legend: r.right, width: m.width, xs: xs};",
        [[float(a), float(b)] for a, b in zip(plan.sites["lat"], plan.sites["lon"],
                                              strict=True)])
    assert got["width"] > 1000
    assert min(got["xs"]) >= got["legend"] - 1.0, got
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
    _, text = _click_map_at(browser, float(row["lat"]), float(row["lon"]), zoom=11)
    assert str(row["name"]) in text
    assert f"{row['population']:,.0f}" in text
    assert "Latency waterfall" in text
    assert f"{row['primary_latency_ms']:.1f} ms" in text
    assert "propagation" in text and "inference" in text
    # n_covering_sites counts candidates, and the popup says so (it said "sites")
    n = int(row["n_covering_sites"])
    assert f"({n} candidate{'' if n == 1 else 's'} in budget)" in text
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
    popup, text = _click_site(browser, k)
    assert EVIL in text  # shown as text...
    assert popup.find_elements(By.TAG_NAME, "script") == []  # ...never as an element
    assert "existing" in text
    assert EVIL in _fail_site(browser, k)
    _no_alert(browser)
    assert _errors(browser) == []


def test_template_text_in_a_name_is_shown_as_written(browser, tmp_path):
    """A site name and tier holding Jinja syntax (``{{ 7*7 }}``, ``{#``, ``{%``) are shown
    exactly as written, in the popup, the failure explorer and the layer control (branca's
    second template pass evaluated them)."""
    probe = tmp_path / "evaluated"
    name, tier = template_text(probe)
    plan = sample_plan(evil=True, name=name, tier=tier)
    k = int(np.flatnonzero(plan.sites["name"].to_numpy() == name)[0])
    path, _ = _render(plan, tmp_path, "template.html", tiles=None)
    assert not probe.exists()
    _open(browser, path)
    assert f"Sites: {tier}" in _overlay_labels(browser)
    _, text = _click_site(browser, k)
    assert name in text
    assert name in _fail_site(browser, k)
    assert not probe.exists()
    assert _errors(browser) == []


def test_screenshot_is_not_blank(browser, tmp_path):
    import matplotlib.image as mpimg

    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "map.html", tiles=None)
    _open(browser, path)
    # The demand canvas holds the drawing, and it has been on screen for a frame since.
    _wait(
        browser,
        "the demand layer painted on its canvas (> 200 pixels)",
        lambda d: d.execute_script(
            "var n = 0, cs = document.querySelectorAll('.leaflet-covDemand-pane canvas');"
            "for (var c = 0; c < cs.length; c++) {"
            " var a = cs[c].getContext('2d').getImageData(0, 0, cs[c].width, cs[c].height).data;"
            " for (var i = 3; i < a.length; i += 4) { if (a[i] > 0) { n++; } } }"
            "return n;"
        ),
        lambda n: n > 200,
    )
    _settle(browser)
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


def test_national_hexagon_map_opens(browser, tmp_path):
    plan = national_plan()
    path, names = _render(plan, tmp_path, "national.html", tiles=None)
    _open(browser, path)  # waits for the first draw; bench/map_scale.py times it
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
    _, text = _click_map_at(browser, lat, lon, zoom=9)
    assert f"Hexagon {cell}" in text and f"{pop:,.0f}" in text
    assert "Latency waterfall (mean)" in text
    f = plan.failures.reset_index(drop=True)
    k = int(np.argmax(f["population_rerouted"].to_numpy()))
    _fail_site(browser, k)
    got = browser.execute_script("return window.covmapLast.stats.failure")
    assert got["pop"] == pytest.approx(f.loc[k, "population_rerouted"], abs=got["n"] + 1)
    assert got["n"] == int(f.loc[k, "n_demand_rerouted"])
    assert _errors(browser) == []


def test_osm_tiles_fail_quietly_offline(browser, tmp_path):
    plan = sample_plan()
    path, _ = _render(plan, tmp_path, "osm.html", tiles="osm")
    _open(browser, path)
    assert browser.execute_script("return L.version") == "1.9.4"
    # Every tile request has ended (blocked: an error), so whatever it logs is in the log.
    _wait(
        browser,
        "the tile layer to finish: every tile requested and ended",
        lambda d: d.execute_script(
            FIND_MAP + "var loading = 0, layers = 0, done = 0;"
            "m.eachLayer(function (l) { if (l instanceof L.TileLayer) {"
            " layers++; if (l.isLoading()) { loading++; } } });"
            "var im = document.querySelectorAll('.leaflet-tile-pane img');"
            "for (var i = 0; i < im.length; i++) { if (im[i].complete) { done++; } }"
            "return {layers: layers, loading: loading, tiles: im.length, ended: done};"
        ),
        lambda s: s["layers"] > 0 and s["loading"] == 0 and 0 < s["tiles"] == s["ended"],
    )
    errors = _errors(browser)
    # The only failures are the blocked tile requests; the map itself works.
    assert all("tile.openstreetmap.org" in e["message"] for e in errors), errors
    assert browser.execute_script("return window.covmapLast.stats.built.latency.n") == len(
        plan.demand
    )


def test_report_tables_keep_words_whole_and_long_ids_inside_the_page(browser, tmp_path):
    """Tester 184: the report's cells wrapped inside words ("Lauto|ka", "failu|res"); a
    2,001-character id once made the page 41,000 px wide (tester 157). Words stay whole,
    and a table too wide scrolls inside the page."""
    from coverage.planner.plan import plan_sites

    plan = sample_plan()
    demand = plan.demand[["demand_id", "lat", "lon", "population"]].copy()
    sites = plan.candidates[["site_id", "lat", "lon"]].copy()
    sites.loc[0, "site_id"] = "x" * 2001
    long = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=2,
                      model=plan.model)
    out = long.to_dir(tmp_path / "out", map=False, gis=False)
    browser.get((out / "report.html").resolve().as_uri())
    _wait(browser, "the report loaded", lambda d: d.execute_script(
        "return document.readyState"), lambda s: s == "complete")
    got = browser.execute_script(
        "var broken = [], cells = document.querySelectorAll('td, th');"
        "for (var i = 0; i < cells.length; i++) { var t = cells[i].textContent.trim();"
        " if (t.length > 0 && t.length <= 16 && t.indexOf(' ') < 0) {"
        "  var r = document.createRange(); r.selectNodeContents(cells[i]);"
        "  var lines = {}; var rects = r.getClientRects();"
        "  for (var j = 0; j < rects.length; j++) { lines[Math.round(rects[j].top)] = 1; }"
        "  if (Object.keys(lines).length > 1) { broken.push(t); } } }"
        "return {broken: broken, width: document.documentElement.scrollWidth,"
        " view: window.innerWidth};")
    assert got["broken"] == [], got["broken"][:10]
    assert got["width"] <= got["view"] + 1, got
