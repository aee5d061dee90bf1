"""Console output shared by the command modules: consoles that do not cut piped output.

rich lays text and tables out for the terminal's width and, when the output is
not a terminal (piped to a file, ``grep``, ``less``, a CI log), for 80 columns:
a long path then breaks mid-name and table cells wrap. :func:`make_console`
keeps the terminal's width on a terminal and lays piped output out on
:data:`PIPED_WIDTH` columns instead (an explicit ``COLUMNS`` still wins).
"""

from __future__ import annotations

import os

from rich.console import Console

#: Width [characters] that piped output is laid out for: lines are never wrapped in practice.
PIPED_WIDTH = 1000


def make_console(stderr: bool = False) -> Console:
    """A rich console for stdout (or stderr) that wraps only on a terminal.

    Parameters
    ----------
    stderr
        Write to standard error instead of standard output.

    Returns
    -------
    rich.console.Console
        On a terminal, or with ``COLUMNS`` set, rich's own width; otherwise
        :data:`PIPED_WIDTH` columns.
    """
    console = Console(stderr=stderr)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPED_WIDTH
    return console
