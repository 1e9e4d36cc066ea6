"""Clocks for the driver: wall time for clusters, compressed time for local demos."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

__all__ = ["WallClock", "ScaledClock"]


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ScaledClock:
    """Rollout time runs `speed` times faster than wall time, so a 5-minute pause takes 5m/speed.

    Only the engine's timers are compressed; traffic and measurements happen in real time.
    """

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} must be > 0")
        self._speed = speed
        self._start = start or datetime.now(UTC)
        self._origin = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self._speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self._speed)
