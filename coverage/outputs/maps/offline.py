"""A map that works with no network: Leaflet and ``covmap.js`` inlined, external assets dropped.

Leaflet 1.9.4 (vendored in ``coverage/outputs/_static``, BSD-2-Clause, see ``LEAFLET_LICENSE``)
and the map script ``covmap.js`` are inlined; folium's other default assets (jQuery,
Bootstrap, awesome-markers, Font Awesome) are dropped because nothing uses them. Rendering
(:func:`render_map_html`) and writing (:func:`save_map`) live here too.
"""

from __future__ import annotations

import logging
import os
import re
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InputValidationError

if TYPE_CHECKING:
    import folium
    from branca.element import Element

__all__ = ["make_offline", "plugin_assets", "refuse_plugins", "render_map_html", "save_map"]

# One logger for the whole map package, named as before the split into modules.
logger = logging.getLogger(__package__)

#: The package holding the vendored assets (``coverage/outputs/_static``, package data).
_ASSETS_PACKAGE = __name__.rsplit(".", 2)[0]
_STATIC = "_static"


@lru_cache(maxsize=1)
def _static_assets() -> tuple[str, str, str]:
    """Return ``(leaflet.js, leaflet.css, covmap.js)``, made safe to inline."""
    static = resources.files(_ASSETS_PACKAGE).joinpath(_STATIC)
    js = static.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = static.joinpath("leaflet.css").read_text(encoding="utf-8")
    app = static.joinpath("covmap.js").read_text(encoding="utf-8")
    # None of the files contains these today; keep it that way if they change.
    return js.replace("</", "<\\/"), css.replace("</", "<\\/"), app.replace("</", "<\\/")


@lru_cache(maxsize=1)
def _inline_leaflet() -> type:
    """The element class that inlines Leaflet and ``covmap.js``, defined on first use."""
    from branca.element import MacroElement
    from folium.template import Template

    class InlineLeaflet(MacroElement):
        """Leaflet's CSS and JS and the plan map script, inlined in the document head."""

        _template = Template(
            """
            {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
            <script>{{ this.js }}</script>
            <script>{{ this.app }}</script>
            {% endmacro %}
            """
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "InlineLeaflet"
            self.js, self.css, self.app = _static_assets()

    return InlineLeaflet


@lru_cache(maxsize=1)
def _icon_assets() -> type:
    """The element class that links what ``folium.Icon`` markers need (:data:`ICON_ASSETS`
    of folium's stock map list), defined on first use."""
    from folium.elements import JSCSSMixin
    from folium.template import Template

    class IconAssets(JSCSSMixin):
        """awesome-markers and its fonts, linked (a user's map with icons)."""

        _template = Template("")

        def __init__(self) -> None:
            super().__init__()
            self._name = "IconAssets"
            self.default_js = _icon_links("default_js")
            self.default_css = _icon_links("default_css")

    return IconAssets


def _iter_elements(root: Element) -> Any:
    """Yield ``root`` and every element below it (children, and Figure/Popup parts)."""
    from branca.element import Element

    stack = [root]
    seen: set[int] = set()
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        yield el
        stack.extend(getattr(el, "_children", {}).values())
        for part in ("header", "html", "script"):
            sub = getattr(el, part, None)
            if isinstance(sub, Element):
                stack.append(sub)


#: The assets of folium's stock map list that ``folium.Icon`` markers need (awesome-markers
#: and the icon fonts): kept for a user's map holding one (review 140: dropped, the page
#: stopped at the first icon).
ICON_ASSETS = frozenset({"awesome_markers", "awesome_markers_css", "awesome_markers_font_css",
                         "awesome_rotate_css", "bootstrap_css", "glyphicons_css"})


def _has_icon(root: Element) -> bool:
    import folium

    return any(isinstance(el, folium.Icon) for el in _iter_elements(root))


def _icon_links(attr: str) -> list[tuple[str, str]]:
    """folium.Map's own (class-level) ``attr`` list, the entries icons need."""
    import folium

    return [(n, u) for n, u in getattr(folium.Map, attr) if n in ICON_ASSETS]


def plugin_assets(m: Element) -> list[str]:
    """The names of the external assets (CDN scripts and styles) of the elements of ``m``'s
    tree other than the maps themselves: a folium plugin's (MarkerCluster, HeatMap, ...),
    and awesome-markers when a ``folium.Icon`` is in it, which an offline file cannot hold
    and without which the page stops before the plan is drawn (tester 145, review 140).
    Sorted, each once."""
    import folium

    root = m.get_root()
    names: set[str] = set()
    for el in _iter_elements(root):
        if not isinstance(el, folium.Map):
            for attr in ("default_js", "default_css"):
                names.update(name for name, _ in getattr(el, attr, None) or ())
    if _has_icon(root):
        names.update(n for attr in ("default_js", "default_css") for n, _ in _icon_links(attr))
    return sorted(names)


def refuse_plugins(m: Element, caller: str) -> None:
    """Raise when ``m`` holds a plugin's external assets (:func:`plugin_assets`).

    Raises
    ------
    InputValidationError
        Naming the assets and the two fixes.
    """
    names = plugin_assets(m)
    if names:
        raise InputValidationError(
            f"{caller}: the map's plugins load {len(names)} asset(s) from the internet "
            f"({', '.join(names)}), which a self-contained offline file cannot hold; "
            "without them the page stops before the plan is drawn. Fix: pass "
            "offline=False to keep them (the file then needs the network for them), or "
            "draw the plan on a map without plugins (explore() without m=)")


def make_offline(m: Element, *, keep_plugins: bool = False) -> None:
    """Drop folium's CDN links from ``m``'s tree and make sure Leaflet is inlined once.

    With ``keep_plugins``, the external assets of elements other than the maps (a user's
    plugins) are kept: only the maps' stock lists (Leaflet, jQuery, Bootstrap, ...) go.
    """
    import folium

    root = m.get_root()
    dropped: list[str] = []
    maps: list[folium.Map] = []
    has_inline = False
    icons = keep_plugins and _has_icon(root)
    for el in _iter_elements(root):
        if keep_plugins and not isinstance(el, folium.Map):
            has_inline = has_inline or isinstance(el, _inline_leaflet())
            continue
        for attr in ("default_js", "default_css"):
            links = getattr(el, attr, None)
            if links:
                if not isinstance(el, folium.Map):  # a Map's stock CDN list is expected
                    dropped.extend(name for name, _ in links)
                # An instance attribute: folium's class-level lists stay untouched.
                setattr(el, attr, [])
        if isinstance(el, folium.Map):
            maps.append(el)
        has_inline = has_inline or isinstance(el, _inline_leaflet())
    if dropped:
        logger.warning(
            "map: dropped external assets %s (the saved map must work offline)",
            sorted(set(dropped)),
        )
    if not has_inline:
        target = m if isinstance(m, folium.Map) else (maps[0] if maps else None)
        if target is None:
            raise InputValidationError("save_map: no folium.Map found in the element tree")
        # Inserted first so Leaflet is loaded before anything that might use it.
        target.add_child(_inline_leaflet()(), index=0)
    if icons and not any(isinstance(el, _icon_assets()) for el in _iter_elements(root)):
        # the icons' part of the stock list, after the inlined Leaflet (the map's own list
        # is rendered before its children, so before Leaflet)
        target = m if isinstance(m, folium.Map) else (maps[0] if maps else None)
        if target is not None:
            kids = list(target._children.values())
            at = next((i + 1 for i, el in enumerate(kids)
                       if isinstance(el, _inline_leaflet())), 0)
            target.add_child(_icon_assets()(), index=at)


_EXTERNAL_TAG = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script\s*>"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    flags=re.IGNORECASE,
)


def _strip_external_tags(text: str) -> str:
    """Remove any ``<script src=http...>`` / ``<link href=http...>`` left in ``text``."""

    def _drop(match: re.Match[str]) -> str:
        logger.warning("map: removed external asset tag %s", match.group(0)[:120])
        return ""

    return _EXTERNAL_TAG.sub(_drop, text)


def render_map_html(m: folium.Map, *, offline: bool = True) -> str:
    """Render a map to self-contained HTML text (Leaflet inlined, no external assets).

    Parameters
    ----------
    m : folium.Map
        The map, typically from :func:`plan_map`.
    offline : bool, default True
        ``False``: a plugin's external assets (a user's map given to ``plan_map(m=...)``)
        are kept, so the page needs the network for them; Leaflet is inlined all the same.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    InputValidationError
        ``offline`` and the map holds a plugin's external assets (:func:`plugin_assets`).
    """
    if offline:
        refuse_plugins(m, "render_map_html")
    make_offline(m, keep_plugins=not offline)
    root = m.get_root()
    if not getattr(root, "title", None):  # (an empty title: tester 157)
        root.title = "edge-coverage map"
    html = root.render()
    return _strip_external_tags(html) if offline else html


def save_map(m: folium.Map, path: str | os.PathLike[str], *, offline: bool = True) -> Path:
    """Render a map to a self-contained HTML file, written atomically.

    Parameters
    ----------
    m : folium.Map
        The map (typically from :func:`plan_map`). Any folium CDN asset still attached to it
        is dropped (with a warning) and Leaflet is inlined, so the file works offline.
    path : str or os.PathLike
        Output file. Its directory must exist. An existing file is replaced.
    offline : bool, default True
        ``False``: keep the external assets of the map's plugins (a user's map given to
        ``plan_map(m=...)`` with MarkerCluster, HeatMap, ...); the file then needs the
        network for them. With ``True`` such a map is refused before anything is written:
        without them the page stopped before the plan was drawn (tester 145).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If the output directory does not exist.
    InputValidationError
        ``offline`` and the map holds a plugin's external assets.

    Notes
    -----
    The HTML goes to a temporary file in the same directory, is flushed to disk, then
    renamed over ``path`` with :func:`os.replace`, so readers never see a partial file and
    an interrupted write leaves the old file in place.

    Examples
    --------
    >>> save_map(plan_map(plan, tiles=None), "map.html")  # doctest: +SKIP
    PosixPath('map.html')
    """
    t0 = time.perf_counter()
    out = Path(path)
    parent = out.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"save_map: directory {str(parent)!r} does not exist")
    if offline:
        refuse_plugins(m, "save_map")
    data = render_map_html(m, offline=offline).encode("utf-8")
    from ..outdir import write_atomic

    write_atomic(out, data, mode=out.stat().st_mode & 0o777 if out.exists() else None)
    logger.info("map: wrote %s (%.1f MB, %.2f s)", out, len(data) / 1e6, time.perf_counter() - t0)
    return out
