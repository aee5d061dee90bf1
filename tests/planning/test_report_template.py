"""The plan report's plotly theme, read straight from plotly's package data (issue 16)."""

from __future__ import annotations

import json

import plotly.io as pio

from heatreuse.planning.report import _white_template


def test_the_white_template_is_what_plotly_io_builds_from_it() -> None:
    _white_template.cache_clear()
    read = _white_template()
    built = pio.templates["plotly_white"].to_plotly_json()
    assert read == built
    assert json.dumps(read) == json.dumps(built)  # same key order: the same report bytes
    assert read["layout"]["plot_bgcolor"] == "white"  # the white theme, not the default one


def test_reading_it_builds_no_plotly_template_object() -> None:
    import subprocess
    import sys

    code = (
        "from heatreuse.planning.report import _white_template\n"
        "_white_template()\n"
        "import plotly.io as pio\n"
        "print(type(pio.templates._templates['plotly_white']).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() != "Template"  # still plotly's "not loaded yet" marker
