"""Self-contained HTML pages for reports (plan, drill, monthly): one page frame.

Every report heatreuse writes is one HTML file that opens offline: plotly.js is
embedded inline (``plotly.offline.get_plotlyjs``), never fetched from a CDN, so
a report archived with an audit still renders years later. Figures go in with
:func:`figure_html` (no second copy of plotly.js per figure).

References
----------
plotly.py ``plotly.io.to_html`` (``include_plotlyjs=False``, ``full_html=False``):
https://plotly.com/python-api-reference/generated/plotly.io.to_html.html
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["esc", "figure_html", "page_html"]


def esc(value: Any) -> str:
    """HTML-escaped text of ``value`` (``None`` is the empty string)."""
    return html.escape("" if value is None else str(value))


def figure_html(fig: Any, div_id: str, config: dict[str, Any] | None = None) -> str:
    """A plotly figure as a ``<div>`` for a page made by :func:`page_html`.

    ``fig`` is a ``plotly.graph_objects.Figure`` or its JSON dict (``to_plotly_json()``),
    which is taken as it is, without validating it again.
    """
    import plotly.io as pio

    return str(
        pio.to_html(
            fig,
            validate=not isinstance(fig, dict),
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config=config if config is not None else {"displaylogo": False, "responsive": True},
        )
    )


def page_html(title: str, body: str, css: str) -> str:
    """A complete HTML5 page: ``title`` (escaped), ``css``, plotly.js inline, ``body`` as is."""
    from plotly.offline import get_plotlyjs

    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{css}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f"<body>{body}</body></html>\n"
    )
