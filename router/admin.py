"""The admin port: `/metrics`, `/stats`, `/healthz`, `/readyz` and `/feedback`.

`POST /feedback` takes `{"requestId": "...", "label": ...}` or a list of them. Each label is
joined to the prediction recorded for that request id, here or, through `feedbackPeers`, in the
replica that served it (router.peers), and counted per variant (labelled, correct) where the
prediction was. The reply says how many matched, how many came late (their prediction was
forgotten: past the retention window or the log's capacity) and how many are unmatched (unknown
or already judged). A single label that did not match gets 410 when late, else 404. A label that
cannot be a class under `predictions.labels` is refused with 400 naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from router.asgi import Receive, Scope, Send, send_bytes, send_json
from router.compare import Scalar
from router.config import LabelMatch
from router.feedback import FEEDBACK_LIST, Feedback, Found, PredictionLog
from router.labels import judge_recorded, truth
from router.load import Load
from router.measure import Measurements, Readability
from router.metrics import exposition
from router.peers import FORWARDED_HEADER, Peers
from router.state import ConfigKeeper
from router.stats import RouterStats

__all__ = ["MAX_FEEDBACK_BYTES", "AdminApp"]

MAX_FEEDBACK_BYTES = 16 * 1024 * 1024
log = logging.getLogger("modelrollout.router")
_PROMETHEUS = (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")

Handler = Callable[[Receive, Send], Awaitable[None]]


class AdminApp:
    """The raw ASGI app behind the admin port."""

    def __init__(
        self, keeper: ConfigKeeper, measurements: Measurements, predictions: PredictionLog, identity: tuple[str, datetime],
        load: Load | None = None, peers: Peers | None = None,
    ) -> None:  # fmt: skip
        self._keeper = keeper
        self._peers = peers if peers is not None else Peers(identity[0])
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
        if handler is not None and scope["path"] == "/feedback":
            await self._feedback(receive, send, _forwarded_by(scope))
        elif handler is not None:
            await handler(receive, send)
        elif any(path == scope["path"] for _, path in self._routes):
            await send_json(send, 405, {"error": f"{scope['method']} is not allowed on {scope['path']}"})
        else:
            await send_json(
                send, 404, {"error": f"no such admin endpoint {scope['path']}; expected one of /metrics /stats /healthz /readyz /feedback"}
            )

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

    async def _feedback(self, receive: Receive, send: Send, forwarded_by: str | None = None) -> None:
        body = await _read_all(receive, MAX_FEEDBACK_BYTES)
        if body is None:
            await send_json(send, 413, {"error": f"feedback body is over {MAX_FEEDBACK_BYTES} bytes"})
            return
        active = self._keeper.active
        if active is None:
            await send_json(send, 503, {"error": "the router has no valid config yet, so no prediction to join labels to"})
            return
        try:
            parsed = _parse_feedback(body)
            labels = parsed if isinstance(parsed, list) else [parsed]
            judging = active.config.predictions.judging
            truths = [_truth(index, item, judging, isinstance(parsed, list)) for index, item in enumerate(labels)]
        except ValueError as exc:
            await send_json(send, 400, {"error": f"feedback body is invalid: {exc}"})
            return
        if forwarded_by is not None:
            await self._forwarded(labels, truths, judging, forwarded_by, send)
            return
        found = await self._join_anywhere(labels, truths, judging, active.config.feedback_peers)
        if isinstance(parsed, Feedback):
            await self._one_label(parsed, found[0], send)
            return
        await send_json(send, 200, {kind: found.count(kind) for kind in ("matched", "late", "unmatched")})

    async def _one_label(self, feedback: Feedback, found: str, send: Send) -> None:
        if found == "matched":
            await send_json(send, 200, {"matched": 1, "late": 0, "unmatched": 0})
        elif found == "late":
            message = f"the prediction for request id {feedback.request_id!r} was forgotten (past the retention window or capacity)"
            await send_json(send, 410, {"error": message, "requestId": feedback.request_id})
        else:
            message = f"no recorded prediction for request id {feedback.request_id!r} (unknown, forgotten or already labelled)"
            await send_json(send, 404, {"error": message, "requestId": feedback.request_id})

    async def _join_anywhere(self, labels: list[Feedback], truths: list[list[Scalar]], judging: LabelMatch, peers: list[str]) -> list[str]:
        """matched, late or unmatched per label: joined here, else by the peer that served its request."""
        found: list[str] = [self._join(item, expected, judging) for item, expected in zip(labels, truths)]
        missing = [index for index, kind in enumerate(found) if kind != "matched"]
        if missing and peers:
            answers = await self._peers.forward(peers, [labels[i] for i in missing])
            for message in answers.failed:
                self._measurements.feedback_peer_errors += 1
                log.warning("feedback peer did not answer: %s", message)
            for index in missing:
                request_id = labels[index].request_id
                found[index] = "matched" if request_id in answers.matched else "late" if request_id in answers.late else found[index]
        found = ["unmatched" if kind == "missing" else kind for kind in found]
        self._measurements.feedback_late += found.count("late")
        self._measurements.feedback_unmatched += found.count("unmatched")
        return found

    async def _forwarded(
        self, labels: list[Feedback], truths: list[list[Scalar]], judging: LabelMatch, sender: str, send: Send
    ) -> None:
        """A peer's labels: joined here if held, never forwarded on, misses counted by the peer."""
        matched: list[str] = []
        late: list[str] = []
        if sender != self._identity[0]:  # our own batch, through our own address among the peers: tried already
            for item, expected in zip(labels, truths):
                kind = self._join(item, expected, judging)
                (matched if kind == "matched" else late if kind == "late" else []).append(item.request_id)
        await send_json(send, 200, {"matchedIds": matched, "lateIds": late})

    def _join(self, feedback: Feedback, expected: list[Scalar], judging: LabelMatch) -> Found:
        found, recorded = self._predictions.find(feedback.request_id)
        if recorded is None:
            return found
        for variant, correct in judge_recorded(recorded, expected, judging):
            counters = self._measurements.variants[variant]
            counters.labelled += 1
            counters.correct += correct
        return found


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


def _truth(index: int, feedback: Feedback, judging: LabelMatch, listed: bool) -> list[Scalar]:
    try:
        return truth(feedback.label, judging)
    except ValueError as exc:
        where = f"[{index}].label" if listed else "label"
        raise ValueError(f"{where}: {exc} (predictions.labels.match is {judging.match})") from None


def _forwarded_by(scope: Scope) -> str | None:
    """The sending replica's instance id when a peer forwarded this batch (router.peers), else None."""
    wanted = FORWARDED_HEADER.encode()
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


def _first_problem(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors(include_url=False)[0])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".") or "body"
    return f"{where}: {error['msg']}"
