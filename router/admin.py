"""The admin port: `/metrics`, `/stats`, `/healthz`, `/readyz` and `/feedback`.

`POST /feedback` takes `{"requestId": "...", "label": ...}` or a list of them. Each label is
joined to the prediction recorded for that request id and counted per variant (labelled,
correct). A single label for an unknown or already-judged id gets 404; in a list, such ids are
counted as unmatched and the reply says how many matched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from router.asgi import Receive, Scope, Send, send_bytes, send_json
from router.feedback import FEEDBACK_LIST, Feedback, PredictionLog, judge_label
from router.load import Load
from router.measure import Measurements, Readability
from router.metrics import exposition
from router.state import ConfigKeeper
from router.stats import RouterStats

__all__ = ["MAX_FEEDBACK_BYTES", "AdminApp"]

MAX_FEEDBACK_BYTES = 16 * 1024 * 1024
_PROMETHEUS = (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")

Handler = Callable[[Receive, Send], Awaitable[None]]


class AdminApp:
    """The raw ASGI app behind the admin port."""

    def __init__(
        self, keeper: ConfigKeeper, measurements: Measurements, predictions: PredictionLog, identity: tuple[str, datetime],
        load: Load | None = None,
    ) -> None:  # fmt: skip
        self._keeper = keeper
        self._load = load
        self._measurements = measurements
        self._predictions = predictions
        self._identity = identity
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/metrics"): self._metrics,
            ("GET", "/stats"): self._stats,
            ("GET", "/healthz"): self._healthz,
            ("GET", "/readyz"): self._readyz,
            ("POST", "/feedback"): self._feedback,
        }

    def snapshot(self) -> RouterStats:
        instance_id, started_at = self._identity
        active = self._keeper.active
        sample = active.extractor.unreadable_sample if active is not None else None
        return self._measurements.snapshot(instance_id, started_at, self._keeper.generation, sample)

    def readability(self) -> dict[str, Readability]:
        return {name: counters.readability() for name, counters in self._measurements.variants.items()}

    def unreadable(self) -> str | None:
        """What `/readyz` says when most answers of a variant cannot be read under the protocol setting.

        Still ready: the router routes every request as before; only its analysis sees nothing.
        """
        active = self._keeper.active
        if active is None:
            return None
        found = [(name, counts) for name, counts in self.readability().items() if counts.mostly_unreadable]
        if not found:
            return None
        name, counts = found[0]
        predictions = active.config.predictions
        setting = f"predictions.protocol: {predictions.protocol}"
        if predictions.protocol == "jsonpath":
            setting += f", predictions.jsonPath: {predictions.json_path}"
        sample = active.extractor.unreadable_sample or "unknown"
        return (
            f"{counts.unreadable} of {counts.answers} {name} answers since generation {active.config.generation} "
            f"hold no predictions under {setting}; answers look like {sample}"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        handler = self._routes.get((scope["method"], scope["path"]))
        if handler is not None:
            await handler(receive, send)
        elif any(path == scope["path"] for _, path in self._routes):
            await send_json(send, 405, {"error": f"{scope['method']} is not allowed on {scope['path']}"})
        else:
            await send_json(send, 404, {"error": f"no such admin endpoint {scope['path']}; expected one of /metrics /stats /healthz /readyz /feedback"})

    async def _metrics(self, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, exposition(self.snapshot, self._load, self.readability), [_PROMETHEUS])

    async def _stats(self, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, self.snapshot().model_dump_json(by_alias=True).encode(), [(b"content-type", b"application/json")])

    async def _healthz(self, receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"status": "ok"})

    async def _readyz(self, receive: Receive, send: Send) -> None:
        ready = self._keeper.active is not None
        document: dict[str, Any] = {"ready": ready, "generation": self._keeper.generation, "lastConfigError": self._keeper.last_error}
        unreadable = self.unreadable()
        if unreadable is not None:
            document["predictionsUnreadable"] = unreadable
        await send_json(send, 200 if ready else 503, document)

    async def _feedback(self, receive: Receive, send: Send) -> None:
        body = await _read_all(receive, MAX_FEEDBACK_BYTES)
        if body is None:
            await send_json(send, 413, {"error": f"feedback body is over {MAX_FEEDBACK_BYTES} bytes"})
            return
        try:
            parsed = _parse_feedback(body)
        except ValueError as exc:
            await send_json(send, 400, {"error": f"feedback body is invalid: {exc}"})
            return
        if isinstance(parsed, Feedback):
            await self._one_label(parsed, send)
            return
        matched = sum(self._join(item) for item in parsed)
        await send_json(send, 200, {"matched": matched, "unmatched": len(parsed) - matched})

    async def _one_label(self, feedback: Feedback, send: Send) -> None:
        if self._join(feedback):
            await send_json(send, 200, {"matched": 1, "unmatched": 0})
        else:
            message = f"no recorded prediction for request id {feedback.request_id!r} (unknown, forgotten or already labelled)"
            await send_json(send, 404, {"error": message, "requestId": feedback.request_id})

    def _join(self, feedback: Feedback) -> bool:
        recorded = self._predictions.take(feedback.request_id)
        active = self._keeper.active
        if recorded is None or active is None:
            self._measurements.feedback_unmatched += 1
            return False
        for variant, correct in judge_label(recorded, feedback.label, active.config.predictions.tolerance):
            counters = self._measurements.variants[variant]
            counters.labelled += 1
            counters.correct += correct
        return True


async def _read_all(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False) and message["type"] != "http.disconnect"
    return b"".join(chunks)


def _parse_feedback(body: bytes) -> Feedback | list[Feedback]:
    """One label or a list of them; ValueError naming the first bad field."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc}); expected {{\"requestId\": ..., \"label\": ...}} or a list of them") from None
    try:
        if isinstance(document, dict):
            return Feedback.model_validate(document)
        return FEEDBACK_LIST.validate_python(document)
    except ValidationError as exc:
        raise ValueError(_first_problem(exc)) from None


def _first_problem(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors(include_url=False)[0])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".") or "body"
    return f"{where}: {error['msg']}"
