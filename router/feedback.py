"""The prediction log that delayed labels join: request id -> what answered it, for a retention window.

Memory is bounded by generations, not by per-entry bookkeeping. Requests are recorded into the
current generation; it retires (becomes the previous one) once `capacity / 2` requests went into
it or it is `retention_s` old. A label joins a prediction in the current or previous generation: so a
prediction stays joinable for at least `retention_s` unless more than `capacity / 2` requests come
after it, and for at most twice that. The generation retired before the previous one is kept only
to tell a late label (its prediction was forgotten lately) from an unknown id, and the one before
that dies. In all, at most `2 * capacity` entries are held.

A generation is a list of small dicts (chunks) filled one after the other, because what a log of
100,000 entries costs a request is cache misses, not bytecodes: one dict of a whole generation
(a 512 KB index, 1.4 MB of entries) missed the cache on every insert and on every entry freed; a
chunk being filled (about 70 KB at the default capacity) stays in the cache. A dying
generation is freed a whole chunk at a time, two as each new chunk starts: a dict dropped
whole frees its entries in the order they were made, which the CPU prefetches, where freeing
them one by one looked each up in a cold index. At the default capacity, bench/router.py's A/B
of router 90/10 against the same router without the log read 5.6% of throughput that way (+- 1.8%)
and 2.5% (+- 2.0%) this way, in runs back to back; a record in bench/prediction_log.py's tight
loop takes 0.3 us against 0.67 us (the id was decoded to a str first). A label looks
through the chunks, newest first: at most `_CHUNKS_PER_GENERATION` dict lookups a generation
up to a capacity of `2 * _CHUNK_MAX * _CHUNKS_PER_GENERATION`, more past it; labels come far
less often than requests.

Keys are the request ids as the router has them (bytes: no decoding on the hot path); entries
are marshalled (variant, predictions). Not tuples: a dict holding only bytes is never tracked by
the garbage collector, so no collection ever walks the log. Not orjson's bytes: each of those
keeps the allocation orjson wrote into (about 4 KB), so a full log of the default capacity held
660 MB; marshal's are allocated to size.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from router.compare import Scalar

__all__ = ["FEEDBACK_LIST", "MAX_KEPT_PREDICTIONS", "Feedback", "Found", "PredictionLog", "Recorded"]

MAX_KEPT_PREDICTIONS: Final = 256
# A generation is split into about this many chunks, each of at least _CHUNK_MIN and at most _CHUNK_MAX
# entries: a chunk dropped whole holds the event loop for about 0.1 us an entry.
_CHUNKS_PER_GENERATION: Final = 32
_CHUNK_MIN: Final = 64
_CHUNK_MAX: Final = 4096
_DROPPED_PER_CHUNK: Final = 2
# Entries of dying chunks freed per tick when traffic is idle.
_FREED_PER_TICK: Final = 10_000

# What became of a label's request id: joined, forgotten lately (late), or not held here.
Found = Literal["matched", "late", "missing"]


class Feedback(BaseModel):
    """The true label for one earlier request, named by its `x-request-id`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    request_id: str = Field(min_length=1, max_length=256)
    label: Any


FEEDBACK_LIST: TypeAdapter[list[Feedback]] = TypeAdapter(list[Feedback])


@dataclass(frozen=True, slots=True)
class Recorded:
    """What answered a request: the serving variant's predictions and, if mirrored, the shadow's."""

    variant: str
    predictions: list[Scalar]
    shadow: list[Scalar] | None = None


class _Chunk:
    """Entries recorded one after the other, marshalled: (variant, predictions) by request id, and shadows."""

    __slots__ = ("served", "shadowed")

    def __init__(self) -> None:
        self.served: dict[bytes, bytes] = {}
        self.shadowed: dict[bytes, bytes] = {}

    def __len__(self) -> int:
        return len(self.served) + len(self.shadowed)


class _Generation:
    """Chunks recorded between two retirements, the newest last; `filled`: entries in all but the newest."""

    __slots__ = ("chunks", "filled", "started_s")

    def __init__(self, started_s: float) -> None:
        self.chunks = [_Chunk()]
        self.filled = 0
        self.started_s = started_s

    @property
    def served(self) -> int:
        """Predictions held (some of the recorded ones may have been taken by labels since)."""
        return sum(len(chunk.served) for chunk in self.chunks)


class PredictionLog:
    """request id -> what answered it, in bounded memory for a retention window (see the module doc)."""

    __slots__ = (
        "_chunk", "_chunk_limit", "_chunk_size", "_current", "_dying", "_expired", "_generation_size", "_now_s", "_previous",
        "capacity", "retention_s",
    )  # fmt: skip

    def __init__(self, capacity: int, retention_s: float = 3600.0, now_s: float = 0.0) -> None:
        self._now_s = now_s
        self._current = _Generation(now_s)
        self._previous = _Generation(now_s)
        self._expired = _Generation(now_s)
        self._dying: list[_Chunk] = []
        self.capacity = capacity
        self.retention_s = retention_s
        self._generation_size = self._chunk_size = self._chunk_limit = 1
        self._chunk = self._current.chunks[-1].served  # where `record` writes: the current generation's newest chunk
        self._size(capacity)

    def __len__(self) -> int:
        """Predictions a label can still join."""
        return self._current.served + self._previous.served

    @property
    def held(self) -> int:
        """Entries in memory, the forgotten ones kept to recognise late labels included."""
        generations = (self._current, self._previous, self._expired)
        return sum(len(chunk) for g in generations for chunk in g.chunks) + sum(len(chunk) for chunk in self._dying)

    def record(self, request_id: bytes, variant: str, predictions: list[Scalar]) -> None:
        if self.capacity == 0 or len(predictions) > MAX_KEPT_PREDICTIONS:
            return
        chunk = self._chunk
        chunk[request_id] = marshal.dumps((variant, predictions))
        if len(chunk) >= self._chunk_limit:
            self._next_chunk()

    def record_shadow(self, request_id: str | bytes, predictions: list[Scalar]) -> None:
        if len(predictions) > MAX_KEPT_PREDICTIONS:
            return
        key = request_id.encode() if isinstance(request_id, str) else request_id
        chunk = _holding(key, (self._current, self._previous))
        if chunk is not None:
            chunk.shadowed[key] = marshal.dumps(predictions)

    def take(self, request_id: str) -> Recorded | None:
        """The entry for `request_id`, removed so the same label is never counted twice."""
        key = request_id.encode()
        chunk = _holding(key, (self._current, self._previous))
        if chunk is None:
            return None
        variant, predictions = marshal.loads(chunk.served.pop(key))
        shadow = chunk.shadowed.pop(key, None)
        return Recorded(variant, predictions, marshal.loads(shadow) if shadow is not None else None)

    def find(self, request_id: str) -> tuple[Found, Recorded | None]:
        """`take`, and when nothing is held for the id, whether it was forgotten lately (a late label, counted once)."""
        recorded = self.take(request_id)
        if recorded is not None:
            return "matched", recorded
        key = request_id.encode()
        chunk = _holding(key, (self._expired,))
        if chunk is not None:
            del chunk.served[key]
            chunk.shadowed.pop(key, None)
            return "late", None
        return "missing", None

    def tick(self, now_s: float) -> None:
        """Time passes: retire the current generation once it is `retention_s` old; free what is dying."""
        self._now_s = now_s
        if now_s - self._current.started_s >= self.retention_s:
            self._retire()
        freed = 0
        while self._dying and freed < _FREED_PER_TICK:
            freed += len(self._dying.pop())

    def resize(self, capacity: int, retention_s: float | None = None) -> None:
        """A new bound: a smaller one retires the current generation at once if it is over it."""
        self.capacity = capacity
        if retention_s is not None:
            self.retention_s = retention_s
        self._size(capacity)
        if capacity == 0:
            for _ in range(3):
                self._retire()
        elif self._current.filled + len(self._chunk) >= self._generation_size:
            self._retire()

    def _size(self, capacity: int) -> None:
        self._generation_size = max(1, capacity // 2)
        self._chunk_size = min(max(self._generation_size // _CHUNKS_PER_GENERATION, _CHUNK_MIN), _CHUNK_MAX)
        self._chunk_limit = self._room(self._current)

    def _room(self, generation: _Generation) -> int:
        """How many entries the newest chunk of `generation` may hold: a chunk's size, or what the generation has left."""
        return max(1, min(self._chunk_size, self._generation_size - generation.filled))

    def _next_chunk(self) -> None:
        """The chunk being filled is full: start the next one, or retire the generation; drop dying chunks."""
        current = self._current
        current.filled += len(self._chunk)
        if current.filled >= self._generation_size:
            self._retire()
        else:
            current.chunks.append(_Chunk())
            self._chunk, self._chunk_limit = current.chunks[-1].served, self._room(current)
        # A generation that retires full has as many chunks as the one dying: at two a chunk, the dying
        # one is gone halfway through; when traffic is too slow for that, `tick` frees the rest.
        del self._dying[-_DROPPED_PER_CHUNK:]

    def _retire(self) -> None:
        self._dying += self._expired.chunks
        self._expired, self._previous, self._current = self._previous, self._current, _Generation(self._now_s)
        self._chunk, self._chunk_limit = self._current.chunks[-1].served, self._room(self._current)


def _holding(key: bytes, generations: tuple[_Generation, ...]) -> _Chunk | None:
    """The chunk that holds a prediction for `key`, searched newest first."""
    for generation in generations:
        for chunk in reversed(generation.chunks):
            if key in chunk.served:
                return chunk
    return None
