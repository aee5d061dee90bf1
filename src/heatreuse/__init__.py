"""heatreuse: plan, run and prove waste-heat reuse from edge compute sites.

Importing this package imports nothing else (``importlib.metadata`` alone costs
tens of milliseconds on every CLI call): ``__version__`` is looked up on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    __version__: str

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'heatreuse' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("heatreuse")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
