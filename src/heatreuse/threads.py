"""Worker threads of one kind for an async server: :func:`run_in_lane`.

Starlette runs every blocking call (a sync route, ``run_in_threadpool``) on AnyIO's
default limiter of 40 threads. Under load, 50 readers hold those tokens and a device's
readings push, or the token check of every request, waits for one. A *lane* is a
limiter of its own per kind of work (``"ingest"``, ``"auth"``): work of that kind waits
only for work of the same kind.

Limiters are made per event loop (a test client runs several loops in turn).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

__all__ = ["limit_malloc_arenas", "run_in_lane"]

T = TypeVar("T")

_lock = threading.Lock()
_lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, anyio.CapacityLimiter]] = (
    weakref.WeakKeyDictionary()
)


def _limiter(name: str, threads: int) -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    with _lock:
        lanes = _lanes.setdefault(loop, {})
        limiter = lanes.get(name)
        if limiter is None:
            limiter = lanes[name] = anyio.CapacityLimiter(threads)
        return limiter


async def run_in_lane(name: str, threads: int, func: Callable[..., T], *args: Any) -> T:
    """Run ``func(*args)`` in a worker thread of lane ``name`` (at most ``threads`` at once).

    ``threads`` is read when the lane is first used on the running loop.
    """
    return await anyio.to_thread.run_sync(func, *args, limiter=_limiter(name, threads))


#: glibc's ``mallopt`` parameter number of the arena limit (``M_ARENA_MAX``, malloc.h).
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for a long-running threaded server (call before threads start).

    glibc gives threads that allocate at the same time arenas of their own, up to 8 per
    core; a server whose worker threads read SQLite side by side fragments them and its
    heap climbs for minutes (``bench_api.py``: RssAnon 221 -> 482 MiB over 5 minutes,
    flat at ~250 MiB with 2 arenas). The same as ``MALLOC_ARENA_MAX=2`` in the
    environment, which wins when set. Returns False where there is no glibc (musl, macOS).
    """
    import ctypes
    import ctypes.util
    import os

    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, int(arenas)))
