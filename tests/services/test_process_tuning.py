"""limit_malloc_arenas: a threaded server's heap stays in few glibc arenas.

bench_api.py showed ``heatreuse serve --http`` under 50 readers climbing from 221 to
482 MiB RssAnon in 5 minutes with glibc's default (up to 8 arenas per core), flat with 2.
The arena count is read from glibc's own ``malloc_stats()`` report after 8 threads
allocated side by side in SQLite (which runs without the GIL).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
_PROBE = """
import ctypes, sqlite3, sys, threading
if sys.argv[1] == "limit":
    from heatreuse.threads import limit_malloc_arenas
    assert limit_malloc_arenas(2), "mallopt refused"
def work():
    c = sqlite3.connect(":memory:")
    c.execute("create table t(a, b)")
    c.executemany("insert into t values (?, ?)", ((i, "x" * 600) for i in range(20000)))
    for _ in range(3):
        c.execute("select a, b from t order by b, a desc").fetchall()
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(mode: str, **env: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        env={
            **{k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"},
            **env,
            "PYTHONPATH": SRC,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


def test_the_arena_limit_holds_under_threads_that_allocate_side_by_side() -> None:
    assert _arenas("limit") <= 2
    assert _arenas("default") > 2  # without it glibc spreads the same work over more


def test_an_arena_limit_set_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from heatreuse.threads import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas(2) is False  # left to the environment's setting
