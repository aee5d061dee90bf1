"""Run a long-lived service until SIGTERM/SIGINT: shared by ``serve`` and ``edge``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def run_until_signal(name: str, start: Callable[[], Any], stop: Callable[[], bool]) -> int:
    """Call ``start``, wait (main thread) for SIGTERM/SIGINT, call ``stop``; exit code 0 if it
    reported success, else 1. The previous signal handlers are restored afterwards."""
    got = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        log.info("heatreuse %s: %s received, shutting down", name, signal.Signals(signum).name)
        got.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        start()
        while not got.wait(0.5):
            pass
    finally:
        ok = stop()
        for s, h in previous.items():
            signal.signal(s, h)
    return 0 if ok else 1
