"""Giving freed memory back: when the trimmer trims, and that a trim does give glibc's free pages back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from router.memory import MIN_FREE_BYTES, HeapTrimmer, glibc_allocator

MB = 1024 * 1024


class ScriptedAllocator:
    def __init__(self, free_bytes: int) -> None:
        self.free = free_bytes
        self.trims = 0

    def free_bytes(self) -> int:
        return self.free

    def trim(self) -> None:
        self.trims += 1


def test_trims_once_enough_is_free_and_then_at_most_once_per_interval() -> None:
    allocator = ScriptedAllocator(free_bytes=MIN_FREE_BYTES - 1)
    trimmer = HeapTrimmer(allocator, min_interval_s=10.0)
    assert [trimmer.tick(now) for now in (1.0, 2.0)] == [False, False]  # the churn of normal traffic: left alone
    allocator.free = 50 * MB
    assert [trimmer.tick(now) for now in (3.0, 4.0, 12.9, 13.0)] == [True, False, False, True]
    allocator.free = MIN_FREE_BYTES - 1
    assert trimmer.tick(30.0) is False
    assert allocator.trims == trimmer.trims == 2


def test_without_glibc_it_does_nothing() -> None:
    assert HeapTrimmer(None).tick(100.0) is False


# Run in a fresh interpreter: in a long test process malloc's state (its dynamic mmap threshold,
# memory already free or already trimmed, other threads' arenas) is whatever earlier tests left.
_TRIM_SCRIPT = """
import json
from pathlib import Path
from router.memory import HeapTrimmer, glibc_allocator

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

# Blocks of 32 KB (under malloc's mmap threshold, so in its heap), each followed by a small one
# that stays: once the big ones are freed the heap cannot shrink from its top, and keeps them.
big, kept = [], []
for _ in range(1500):
    big.append(bytes(32768))
    kept.append(bytes(1024))  # a new object each time (a constant would be folded and shared)
del big
allocator = glibc_allocator()
free, before = allocator.free_bytes(), rss()
trimmed = HeapTrimmer(allocator).tick(0.0)
print(json.dumps({"free": free, "trimmed": trimmed, "given_back": before - rss(), "kept": len(kept)}))
"""


@pytest.mark.skipif(glibc_allocator() is None or not Path("/proc/self/status").exists(), reason="needs glibc malloc and /proc")
def test_a_trim_gives_back_free_memory_that_malloc_kept_between_live_blocks() -> None:
    done = subprocess.run([sys.executable, "-c", _TRIM_SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    measured = json.loads(done.stdout)
    assert measured["free"] >= 40 * MB, measured
    assert measured["trimmed"] is True
    assert measured["given_back"] >= 30 * MB, measured
    assert measured["kept"] == 1500
