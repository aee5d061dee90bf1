"""Lazy package exports (heatreuse._lazy): one module of a package loads without the others.

For each lazy package the three lists of names must agree: the imports under
``if TYPE_CHECKING:`` (what type checkers and readers see), ``_EXPORTS`` (what
is imported at run time) and ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

LAZY_PACKAGES = ("heatreuse.physics", "heatreuse.simulation", "heatreuse.site")


def _type_checking_imports(package: str) -> dict[str, set[str]]:
    """Module (relative, ``.water``) -> names imported under ``if TYPE_CHECKING:``."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                rel = "." + (
                    imp.module.removeprefix(package + ".") if imp.level == 0 else imp.module
                )
                out.setdefault(rel, set()).update(a.name for a in imp.names)
    return out


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_type_checking_imports_exports_and_all_agree(package: str) -> None:
    module = importlib.import_module(package)
    exports = {m: set(names) for m, names in module._EXPORTS.items()}
    assert _type_checking_imports(package) == exports
    assert sorted(n for names in exports.values() for n in names) == sorted(module.__all__)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_exported_name_is_the_object_of_its_module(package: str) -> None:
    module = importlib.import_module(package)
    for rel, names in module._EXPORTS.items():
        source = importlib.import_module(rel, package)
        for name in names:
            assert getattr(module, name) is getattr(source, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = module.nope


@pytest.mark.parametrize(
    "statement",
    [
        "import heatreuse",
        "import heatreuse.physics.saturation",
        "from heatreuse.site import load_site",
        "from heatreuse.simulation.scenario_catalog import SCENARIO_NAMES",
        "from heatreuse.site import load_site; load_site(EXAMPLE)",
    ],
)
def test_light_modules_load_without_numpy(statement: str) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "pool.yaml"
    code = (
        f"import sys; EXAMPLE = {str(example)!r}; {statement}; "
        "print(sorted(m for m in ('numpy', 'pandas', 'numba', 'CoolProp') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == "[]"
