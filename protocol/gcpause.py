"""Garbage collection paused while kapcheck builds or checks a large model.

Loading and validating allocate millions of small objects and free almost none of them
until the run ends, so the cyclic collector's passes find nothing and cost about a
tenth of the run. Runs on several threads share one count: collection resumes when the
last of them ends, and only if it was on when the first began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_active = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
