"""Handing memory the router freed back to the operating system, once a burst has passed.

glibc's malloc keeps what is freed for reuse, and shrinks its heap only from the top. Hostile
traffic leaves a lot of it behind: the chunks of request bodies read up to the size limit, the
buffers of thousands of clients. In the soak benchmark (bench/soak.py) a router back to idle
after the candidate turned slow, 5,000 idle connections and oversized bodies held ~47 MB free
in its heap, all of it still resident: 150 MB against 100 MB before the hostile phases.
`malloc_trim(0)` gives back every whole free page, wherever it lies: 150 -> 108 MB there, in ~5 ms.

`HeapTrimmer.tick` is called once a second: it asks malloc how much it holds free (under a
microsecond) and trims when that is over `MIN_FREE_BYTES`, at most once per `MIN_INTERVAL_S`.
The threshold keeps the normal churn of a loaded router (a few MB free) from being trimmed and
faulted back in; a trim that finds its free pages already given back costs ~0.05 ms, so a heap
that stays fragmented costs nothing more. Where there is no glibc (musl, macOS) it does nothing.

What Python's own allocator keeps (pools of small objects in partly used arenas) is out of its
reach; the router keeps that small by holding nothing past its use (see router.server).
"""

from __future__ import annotations

import ctypes
from typing import Final, Protocol

__all__ = ["MIN_FREE_BYTES", "MIN_INTERVAL_S", "Allocator", "HeapTrimmer", "glibc_allocator"]

MIN_FREE_BYTES: Final = 8 * 1024 * 1024
MIN_INTERVAL_S: Final = 10.0


class Allocator(Protocol):
    """What the trimmer needs of the C allocator."""

    def free_bytes(self) -> int:
        """Bytes the allocator holds free for reuse (resident or already given back)."""

    def trim(self) -> None:
        """Give every whole free page back to the operating system."""


class _MallInfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (2.33 and later), field for field; `fordblks` is the free bytes.
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


class _Glibc:
    def __init__(self, libc: ctypes.CDLL) -> None:
        self._mallinfo2 = libc.mallinfo2
        self._mallinfo2.restype = _MallInfo2
        self._mallinfo2.argtypes = []
        self._malloc_trim = libc.malloc_trim
        self._malloc_trim.restype = ctypes.c_int
        self._malloc_trim.argtypes = [ctypes.c_size_t]

    def free_bytes(self) -> int:
        return int(self._mallinfo2().fordblks)

    def trim(self) -> None:
        self._malloc_trim(0)


def glibc_allocator() -> Allocator | None:
    """The process's glibc malloc, or None where malloc is not glibc's (2.33 or later)."""
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded into the process, libc's among them
    except OSError:
        return None
    if not (hasattr(libc, "mallinfo2") and hasattr(libc, "malloc_trim")):
        return None
    return _Glibc(libc)


class HeapTrimmer:
    """Trims the heap when it holds `min_free_bytes` free, at most once every `min_interval_s`."""

    def __init__(
        self, allocator: Allocator | None, *, min_free_bytes: int = MIN_FREE_BYTES, min_interval_s: float = MIN_INTERVAL_S
    ) -> None:
        self._allocator = allocator
        self._min_free_bytes = min_free_bytes
        self._min_interval_s = min_interval_s
        self._last_s: float | None = None
        self.trims = 0

    def tick(self, now_s: float) -> bool:
        """Called once a second with the loop's clock: whether it trimmed."""
        allocator = self._allocator
        if allocator is None or (self._last_s is not None and now_s - self._last_s < self._min_interval_s):
            return False
        if allocator.free_bytes() < self._min_free_bytes:
            return False
        allocator.trim()
        self._last_s = now_s
        self.trims += 1
        return True
