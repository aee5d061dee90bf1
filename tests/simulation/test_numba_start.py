"""Issue 16: running the kernel does not import ``scipy.linalg``, and BLAS still works.

numba's array maths checks at import that scipy's BLAS is there; Python would import the
whole ``scipy.linalg`` package for that check (``numpy.f2py``, ``numpy.testing``, ...).
:func:`heatreuse.simulation.engine._import_numba_arraymath` lets the check find the
extension module alone. Each check runs in its own process: what a process imported is
the point.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_a_simulation_imports_neither_scipy_linalg_nor_numpy_f2py() -> None:
    out = _python(
        f"""
        import sys
        import numpy as np, pandas as pd
        from heatreuse.site import load_site
        from heatreuse.simulation import simulate
        site = load_site({str(EXAMPLES / "pool.yaml")!r})
        idx = pd.date_range("2026-01-05T00:00Z", periods=48, freq="1h")
        demand = pd.DataFrame(
            {{"heat_demand_w": 40e3, "supply_temp_required_c": 40.0, "return_temp_c": 30.0,
              "operating": True, "air_temp_c": 5.0}}, index=idx)
        res = simulate(site, demand, step_s=3600)
        assert res.totals()["heat_delivered_kwh"] > 0
        import numba.np.arraymath
        assert numba.np.arraymath._HAVE_BLAS  # numba found BLAS all the same
        heavy = {{"scipy.linalg", "scipy.linalg.cython_blas", "numpy.f2py", "numpy.testing"}}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    assert out == "[]"


def test_blas_works_after_it_and_scipy_linalg_imports_as_usual() -> None:
    out = _python(
        """
        import sys
        import numpy as np
        from numba import njit
        from heatreuse.simulation import engine
        engine._import_numba_arraymath()
        assert "numba.np.arraymath" in sys.modules
        assert "scipy.linalg" not in sys.modules and "scipy.linalg.cython_blas" not in sys.modules
        engine._import_numba_arraymath()  # once is enough; again is a no-op

        @njit(cache=False)
        def dot(a, b):
            return np.dot(a, b)  # BLAS through scipy.linalg.cython_blas

        a = np.arange(6.0).reshape(2, 3)
        assert np.array_equal(dot(a, a.T), a @ a.T)
        import scipy.linalg
        import scipy.linalg.cython_blas as blas
        assert scipy.linalg.cython_blas is blas  # bound to its package as after a plain import
        assert np.allclose(scipy.linalg.blas.dgemm(1.0, a, a.T), a @ a.T)
        print("ok")
        """
    )
    assert out == "ok"
