"""A probe for whether a call gives up the GIL (for code that runs on the event loop, where
giving it up costs a switch to another thread and a wait to get it back)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable


def other_thread_ran_during(call: Callable[[], object]) -> bool:
    """Whether a spinning thread got the GIL while ``call`` ran: with a switch interval far
    longer than ``call`` takes, it can only when ``call`` gives the GIL up."""
    ticks = [0]
    started = threading.Event()
    stop = threading.Event()

    def spin() -> None:
        started.set()
        while not stop.is_set():
            ticks[0] += 1

    interval = sys.getswitchinterval()
    thread = threading.Thread(target=spin)
    thread.start()
    started.wait()
    sys.setswitchinterval(0.2)
    try:
        time.sleep(0.001)  # back after a forced switch: the spinner waits for the GIL
        before = ticks[0]
        call()
        return ticks[0] != before
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        thread.join()
