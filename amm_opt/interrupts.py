"""Ctrl-C at a step boundary: training loops finish the step they are in, save, then stop."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["deferred_interrupt"]


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[dict[str, bool]]:
    """Inside, a first SIGINT sets ``["requested"]`` (the loop stops at the next step boundary,
    where its state is whole and can be saved); a second raises at once. Main thread and
    Python's default handler only (a user's own handler is kept)."""
    state = {"requested": False}
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield state
        return

    def handler(signum: int, frame: Any) -> None:
        if state["requested"]:
            raise KeyboardInterrupt
        state["requested"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
