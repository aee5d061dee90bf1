"""heatreuse: plan, run and prove waste-heat reuse from edge compute sites."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("heatreuse")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
