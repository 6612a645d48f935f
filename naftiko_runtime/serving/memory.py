"""What a serving process does about its own memory: collect and freeze the start-up objects
once ready, freeze what each reload built, and hand freed heap pages back to the system."""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable

RELOADS_PER_COLLECTION = 10  # see ReloadFreezer


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back this way
        return None
    return trim


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's `malloc_trim`). Loading a large
    spec frees tens of MB that glibc would otherwise keep resident for good (5,000 operations:
    about 20 MB of the process's RSS)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def freeze_started() -> None:
    """Once serving: start-up objects never need scanning again (shorter GC pauses under
    load), and the collector, off while the specs were loaded and compiled
    (`cli._no_collection`), runs again."""
    gc.collect()
    gc.freeze()
    give_back_memory()
    gc.enable()


class ReloadFreezer:
    """Freeze what a reload built, as the start-up objects were. Frozen objects are only
    freed by reference counting, so whatever cyclic garbage was frozen with them (a request's
    traceback during the reload, say) stays: every RELOADS_PER_COLLECTION reloads the frozen
    heap is collected once (one pause) before freezing again. (The frozen heap's size is not
    asked: `gc.get_freeze_count` walks all of it.)"""

    def __init__(self) -> None:
        self.reloads = 0

    def __call__(self) -> None:
        self.reloads += 1
        if self.reloads >= RELOADS_PER_COLLECTION:
            self.reloads = 0
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        give_back_memory()  # what the previous configuration held
