"""Shadow calls: a copy of a request the stable served goes to the candidate in the background.

The client's answer has already been sent when a shadow call starts, so a slow or failing
candidate can neither delay nor change it. At most `mirrorMaxInFlight` shadow calls run at
once; beyond that a copy is dropped and counted. The shadow's predictions are compared with
the stable's and kept for accuracy joins.
"""

from __future__ import annotations

from time import perf_counter

from router.compare import Scalar, compare
from router.errors import UpstreamError
from router.feedback import PredictionLog
from router.load import Load
from router.measure import Measurements
from router.server import Request
from router.state import Active
from router.upstream import UpstreamResponse

__all__ = ["SHADOW_HEADER", "Mirror"]

# Tells the model server a call is a shadow copy, e.g. to skip side effects.
SHADOW_HEADER = b"x-modelrollout-shadow: 1\r\n"


class Mirror:
    """Sends shadow calls without waiting for them, bounded in number."""

    def __init__(self, measurements: Measurements, predictions: PredictionLog, load: Load) -> None:
        self.measurements = measurements
        self.predictions = predictions
        self.load = load
        self.in_flight = 0

    def submit(self, active: Active, request: Request, headers: bytes, request_id: str, primary: list[Scalar] | None) -> None:
        """Copy `request`, which the stable served, to the candidate with `headers` (the forwarded
        block); `primary` is what the stable predicted."""
        if active.candidate is None:
            return
        size = len(request.body)
        if self.in_flight >= active.config.mirror_max_in_flight or not self.load.mirror_room(size, active.candidate.saturated):
            self.measurements.dropped += 1
            return
        self.measurements.mirrored += 1
        self.in_flight += 1
        self.load.hold(size)  # the copy keeps the body alive until the shadow answers
        shadow = _Shadow(self, active, request.path, request_id, primary, size)
        active.candidate.send(request.method, request.target, headers + SHADOW_HEADER, request.body, shadow.answered)

    def done(self, size: int) -> None:
        self.in_flight -= 1
        self.load.free(size)


class _Shadow:
    """One shadow call in flight: what its answer is compared with, and where it is counted."""

    __slots__ = ("_active", "_mirror", "_path", "_primary", "_request_id", "_size", "_started")

    def __init__(self, mirror: Mirror, active: Active, path: str, request_id: str, primary: list[Scalar] | None, size: int) -> None:
        self._mirror = mirror
        self._size = size
        self._active = active
        self._path = path
        self._request_id = request_id
        self._primary = primary
        self._started = perf_counter()

    def answered(self, outcome: UpstreamResponse | UpstreamError) -> None:
        mirror = self._mirror
        mirror.done(self._size)
        measurements = mirror.measurements
        counters = measurements.variants["shadow"]
        if isinstance(outcome, UpstreamError):
            counters.fail(outcome.kind, perf_counter() - self._started)
            return
        counters.observe(outcome.status, perf_counter() - self._started)
        if outcome.status >= 500:  # counted as an error above; an error page holds no prediction to analyse
            return
        active = self._active
        predictions = active.extractor.extract(self._path, outcome.body)
        counters.predicted(predictions)
        if predictions is not None and self._primary is not None:
            measurements.compared_with_shadow(compare(self._primary, predictions, active.config.predictions.tolerance))
            mirror.predictions.record_shadow(self._request_id, predictions)
