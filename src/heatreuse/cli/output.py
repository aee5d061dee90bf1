"""Console output shared by the command modules: piped output is not cut to 80 columns.

rich lays text and tables out for the terminal's width and, when the output is
not a terminal (piped to a file, ``grep``, ``less``, a CI log), for 80 columns:
a long path then breaks mid-name and table cells wrap. :func:`make_console`
keeps the terminal's width on a terminal and lays piped output out on
:data:`PIPED_WIDTH` columns instead (an explicit ``COLUMNS`` still wins).
:class:`Table` is rich's table made at least as wide as its title, which rich
would otherwise wrap to the width of the columns (``Store sqlite:///...`` broke
mid-path even on a wide console).
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console
from rich.table import Table as _RichTable
from rich.text import Text

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
        :data:`PIPED_WIDTH` columns. Emoji codes (``:fire:``) are printed as written.
    """
    # emoji=False: user text (a site name, a path) is printed as written, ":fire:" not as an
    # emoji; and rich does not load its emoji table (2-3 ms) for every line with a colon.
    console = Console(stderr=stderr, emoji=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPED_WIDTH
    return console


class Table(_RichTable):
    """:class:`rich.table.Table`, at least as wide as its title so that the title stays one line.

    On a terminal narrower than the title, rich still wraps it there.
    """

    def __init__(self, *headers: Any, **kwargs: Any) -> None:
        title = kwargs.get("title")
        if title is not None:
            text = Text.from_markup(title, emoji=False) if isinstance(title, str) else title
            kwargs["min_width"] = max(kwargs.get("min_width") or 0, text.cell_len)
        super().__init__(*headers, **kwargs)
