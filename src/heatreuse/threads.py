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

__all__ = ["run_in_lane"]

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
