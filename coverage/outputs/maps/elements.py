"""The folium elements of a plan map: the payload, the layers ``covmap.js`` fills, the legend.

The classes are defined on first use (:func:`map_elements`) so that importing the package
does not import folium.
"""

from __future__ import annotations

import json
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from .style import CSS, MAP_BACKGROUND

__all__ = ["map_elements"]


# Why the Jinja openers are escaped: branca renders a MacroElement's macros and then wraps
# each result in ``Element(...)``, which compiles it as a template *again*, so text of the
# plan's inputs inside a macro's output (a name ``{{ 7*7 }}``, a tier, a caption) was
# evaluated on the planning machine: a demand name could run Python there, and a name
# holding ``{#`` or ``{%`` stopped the map being written. Every string of the inputs reaches
# a template through :func:`_js_json` or :func:`untemplated_html`.
_JINJA_OPENERS = ("{{", "{%", "{#")


def _js_json(obj: Any) -> str:
    """JSON for inclusion in a ``<script>`` element rendered by branca: no ``<``/``>`` can
    end it early, and no ``{{``, ``{%`` or ``{#`` is left for branca's second template pass
    (JSON's own braces never form one: an object opens with ``"`` or ``}`` after its
    brace, so each opener lies inside a string, where ``\\u`` escapes keep its text)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e")
    for opener in _JINJA_OPENERS:
        text = text.replace(opener, "{" + f"\\u{ord(opener[1]):04x}")
    return text


def untemplated_html(text: str) -> str:
    """``text`` (HTML, already escaped) with the Jinja openers ``{{``, ``{%`` and ``{#``
    written as ``{`` and a character reference, so branca's second template pass leaves
    it as it is and the browser shows it unchanged."""
    for opener in _JINJA_OPENERS:
        text = text.replace(opener, "{" + f"&#{ord(opener[1])};")
    return text


@lru_cache(maxsize=1)
def map_elements() -> SimpleNamespace:
    """The plan map's element classes (data, layers, legend), defined on first use."""
    from branca.element import MacroElement
    from folium.map import FeatureGroup
    from folium.template import Template

    class PlanData(MacroElement):
        """The plan payload, handed to ``covmap`` together with the map."""

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = covmap({{ this.payload }}, {{ this._parent.get_name() }});
            {% endmacro %}
            """
        )

        def __init__(self, payload: dict[str, Any]):
            super().__init__()
            self._name = "CoveragePlanData"
            self.payload = _js_json(payload)

    class PlanLayer(FeatureGroup):
        """A layer-control overlay that ``covmap`` fills when it is first shown."""

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.featureGroup();
            {{ this.data.get_name() }}.layer({{ this.get_name() }}, {{ this.kind_json }},
                {{ this.arg_json }});
            {% endmacro %}
            """
        )

        def __init__(self, data: PlanData, name: str, kind: str, arg: Any = None,
                     show: bool = True):
            super().__init__(name=untemplated_html(name), overlay=True, control=True,
                             show=show)
            self._name = "CoverageLayer"
            self.data = data
            self.kind = kind
            self.kind_json = _js_json(kind)
            self.arg_json = _js_json(arg)

    class Legend(MacroElement):
        """Fixed-position legend box (headline numbers and colour keys) plus map styling."""

        _template = Template(
            """
            {% macro header(this, kwargs) %}
            <style>
            #{{ this._parent.get_name() }}.leaflet-container { background: {{ this.background }}; }
            {{ this.css }}
            </style>
            {% endmacro %}

            {% macro html(this, kwargs) %}
            <div class="covmap-legend"><details open>{{ this.body }}</details></div>
            {% endmacro %}
            """
        )

        def __init__(self, body: str, background: str = MAP_BACKGROUND, css: str = CSS):
            super().__init__()
            self._name = "CoverageLegend"
            self.body = untemplated_html(body)
            self.background = background
            self.css = css

    return SimpleNamespace(PlanData=PlanData, PlanLayer=PlanLayer, Legend=Legend)
