"""Pausing Python's cyclic garbage collector for the batches that build a registry's worth of
small objects at once (a national check reads some 440,000 rows into tuples).

The collector runs whenever enough new objects have been made, and each full collection walks
every object still alive, so in a batch that keeps what it reads until the end, the later
collections cost more and find nothing: at 4,000 bodies they took two-fifths of the time to
read a check's snapshot (3.0-3.6 s with them, 1.8-2.2 s without, on PostgreSQL). Reference
counting still frees everything dropped meanwhile; only reference cycles wait, for the first
collection after the batch. The pause is process-wide, so batches in several threads keep it
until the last ends.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_batches = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off, as it was before once the last such block
    in the process has ended."""
    global _batches, _was_enabled
    with _lock:
        if _batches == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _batches += 1
    try:
        yield
    finally:
        with _lock:
            _batches -= 1
            if _batches == 0 and _was_enabled:
                gc.enable()
