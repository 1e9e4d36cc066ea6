"""Shadow calls: a copy of a request the stable served goes to the candidate in the background.

The client's answer has already been sent when a shadow call starts, so a slow or failing
candidate can neither delay nor change it. At most `mirrorMaxInFlight` shadow calls run at
once; beyond that a copy is dropped and counted. The shadow's predictions are compared with
the stable's and kept for accuracy joins.
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import NamedTuple

from router.compare import Scalar, compare
from router.errors import UpstreamError
from router.feedback import PredictionLog
from router.measure import Measurements
from router.state import Active

__all__ = ["SHADOW_HEADER", "Mirror", "ShadowRequest"]

# Tells the model server a call is a shadow copy, e.g. to skip side effects.
SHADOW_HEADER = b"x-modelrollout-shadow: 1\r\n"


class ShadowRequest(NamedTuple):
    method: bytes
    target: bytes
    path: str
    headers: bytes
    body: bytes
    request_id: str
    # What the stable predicted for this request; None if nothing could be extracted.
    primary: list[Scalar] | None


class Mirror:
    """Runs shadow calls as background tasks, bounded in number."""

    def __init__(self, measurements: Measurements, predictions: PredictionLog) -> None:
        self._measurements = measurements
        self._predictions = predictions
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, active: Active, request: ShadowRequest) -> None:
        if active.candidate is None:
            return
        if len(self._tasks) >= active.config.mirror_max_in_flight:
            self._measurements.dropped += 1
            return
        self._measurements.mirrored += 1
        task = asyncio.get_running_loop().create_task(self._shadow(active, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel shadow calls still running (on shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _shadow(self, active: Active, request: ShadowRequest) -> None:
        counters = self._measurements.variants["shadow"]
        started = perf_counter()
        try:
            response = await active.pool("candidate").request(
                request.method, request.target, request.headers + SHADOW_HEADER, request.body
            )
        except UpstreamError as exc:
            counters.fail(exc.kind, perf_counter() - started)
            return
        counters.observe(response.status, perf_counter() - started)
        predictions = active.extractor.extract(request.path, response.body)
        counters.predicted(predictions)
        if predictions is not None and request.primary is not None:
            self._measurements.compared_with_shadow(compare(request.primary, predictions, active.config.predictions.tolerance))
            self._predictions.record_shadow(request.request_id, predictions)
