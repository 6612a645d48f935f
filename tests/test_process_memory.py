"""`give_back_memory` (glibc's `malloc_trim`, called once serving and after each reload): heap
pages freed in the middle of the heap go back to the system, which freeing alone does not do
(loading a large spec leaves exactly that behind: ~20 MB at 5,000 operations)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from naftiko_runtime.serving.memory import _malloc_trim

pytestmark = pytest.mark.e2e

PROBE = """
from naftiko_runtime.serving.memory import give_back_memory

def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024

blocks = [bytes(4000) for _ in range(20000)]  # ~80 MB from the C heap, not pymalloc
kept = blocks[::64]  # one block in 64 stays: the freed pages are not at the heap's top
del blocks
freed = rss_mb()
give_back_memory()
print(freed, rss_mb())
"""


@pytest.mark.skipif(_malloc_trim() is None, reason="not glibc: malloc_trim does not exist here")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    freed, trimmed = (int(n) for n in done.stdout.split())
    assert freed - trimmed > 40, (freed, trimmed)  # freeing alone kept it resident
