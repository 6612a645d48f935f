"""Files served from a folder (MCP `location` resources and prompts, skill folders).

Every port shares one event loop, so a file is only ever touched on a worker thread, only a
regular file is served (a FIFO with no writer would block its reader for ever) and never one
over a size cap (a served file is held whole by MCP). Errors name no server path: callers add
the client's own name for the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

MAX_FILE_BYTES = 10 * 1024 * 1024  # `--max-file-size` default: per file, and per skill download
CHUNK_BYTES = 64 * 1024


class Unservable(Exception):
    """Why a file is not served; `reason` holds no path."""

    def __init__(self, reason: str, *, missing: bool = False, size: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.missing, self.size = reason, missing, size

    @property
    def too_large(self) -> bool:
        return self.size is not None


def over_cap(size: int, cap: int) -> Unservable:
    return Unservable(f"{size} bytes, over the {cap}-byte limit", size=size)


def open_regular(path: Path, cap: int) -> tuple[int, int]:
    """A descriptor on `path` and its size, or Unservable: opened without blocking (a FIFO
    opens at once) and checked on the open file, so what is checked is what is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unservable("not found", missing=True) from None
    except OSError as exc:
        raise _unreadable(exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unservable("not a regular file")
        if info.st_size > cap:
            raise over_cap(info.st_size, cap)
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def chunks(fd: int, size: int) -> Iterator[bytes]:
    """The file's first `size` bytes (its size when opened, within the cap however it
    grows since), `CHUNK_BYTES` at a time; one that shrank ends early."""
    left = size
    while left > 0:
        try:
            chunk = os.read(fd, min(CHUNK_BYTES, left))
        except OSError as exc:
            raise _unreadable(exc) from None
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def read_capped(path: Path, cap: int) -> bytes:
    """The whole file (for a worker thread), or Unservable."""
    fd, size = open_regular(path, cap)
    try:
        return b"".join(chunks(fd, size))
    finally:
        os.close(fd)


def contains(base: Path, path: Path) -> bool:
    """`path`, links resolved, is `base` or below it; a loop or an unreadable link is not."""
    try:
        resolved = Path(os.path.realpath(path, strict=True))
    except (OSError, RuntimeError, ValueError):
        return False
    return resolved == base or base in resolved.parents


def regular_files(root: Path) -> list[tuple[Path, int]]:
    """Each regular file below `root` (links followed, those leading out of it skipped,
    linked folders not entered) with its size: only what `open_regular` would serve."""
    try:
        base = Path(os.path.realpath(root, strict=True))
    except (OSError, RuntimeError, ValueError):
        return []
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            try:
                info = path.stat()
            except (OSError, ValueError):
                continue  # a dangling link or a loop
            if stat.S_ISREG(info.st_mode) and contains(base, path):
                found.append((path, info.st_size))
    return sorted(found)


def _unreadable(exc: OSError) -> Unservable:
    return Unservable((exc.strerror or "cannot be read").lower())
