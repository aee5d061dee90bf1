"""The one page frame of every HTML report: escaped title, plotly.js inline, no network."""

from __future__ import annotations

import plotly.graph_objects as go

from heatreuse.htmlpage import esc, figure_html, page_html


def test_page_is_self_contained_and_escapes_the_title() -> None:
    fig = go.Figure(go.Scatter(x=[0, 1], y=[2, 3]))
    body = f"<h1>{esc('<site & co>')}</h1>" + figure_html(fig, "plot-1")
    page = page_html("report <b>x</b>", body, "h1{color:red}")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>report &lt;b&gt;x&lt;/b&gt;</title>" in page
    assert "<h1>&lt;site &amp; co&gt;</h1>" in page
    assert 'id="plot-1"' in page and "h1{color:red}" in page
    # plotly.js once, inline; nothing loaded from elsewhere
    assert page.count("<script src=") == 0 and 'src="http' not in page
    assert len(page) > 3_000_000  # the bundle itself is ~3.5 MB
    assert esc(None) == ""
