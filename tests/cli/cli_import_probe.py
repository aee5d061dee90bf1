"""What a ``heatreuse ARGS`` process imports: :func:`modules_imported` (start-up tests).

Runs the console script's ``main()`` as ``python -m heatreuse.cli.main`` does, in a child
process, then lists every module in it (``-X importtime`` misses those that
``importlib.import_module`` loads).
"""

from __future__ import annotations

import os
import subprocess
import sys

_CHILD = """
import runpy, sys
sys.argv = ["heatreuse", *sys.argv[1:]]
try:
    runpy.run_module("heatreuse.cli.main", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def modules_imported(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Every module a ``heatreuse ARGS`` process imported (it must exit 0)."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stderr.split())
