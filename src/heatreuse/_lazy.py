"""Lazy package exports: ``from heatreuse.physics import x`` imports only x's module.

A package ``__init__`` that re-exports names from its modules would import all
of them (and numpy, pandas, numba behind them) whenever any one module of the
package is imported, e.g. ``heatreuse.physics.saturation`` by the site loader.
With :func:`lazy_exports` the ``__init__`` lists where each name lives and
imports that module on first access (PEP 562 module ``__getattr__``); the same
imports stand under ``if TYPE_CHECKING:`` for type checkers and readers, and
``tests/test_lazy_imports.py`` checks that both lists and ``__all__`` agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports exported names on first use.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Module path relative to the package (``".water"``) -> the names it exports.

    Returns
    -------
    callable
        Assign it to ``__getattr__`` in the package ``__init__``. It raises
        :class:`AttributeError` for names not listed (so ``from package import
        submodule`` still imports the submodule) and caches each value found in
        the package namespace (the next access does not call it again).
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
