"""Client traffic for local mode: prediction requests at a steady rate, outcomes recorded, labels fed back.

`TrafficGenerator` sends each request at its scheduled time (an open loop at `rate_per_s`,
with at most `concurrency` in flight), records what came back, and — when a feedback URL is
set and the request carries a label — posts `{"requestId": id, "label": label}` there after
`feedback_delay_s`, the way true labels arrive late in production. It stops by itself after
`duration_s`, or when `stop()` is called or the `until` event is set; requests in flight then
finish (each bounded by `timeout_s`) and feedback still waiting is dropped and counted.

Requests come from any iterator of `TrafficRequest`: `dataset_requests()` draws rows of the
demo data set with a little noise; `read_replay_file()` reads recorded ones from JSON lines,
one request per line:

    {"path": "/v1/models/demo:predict", "body": {"instances": [[...]]}, "headers": {"x-user": "7"}, "label": 1}

`path` (starting with "/") and `body` (a JSON object) are required; `headers` (string values)
and `label` (the true label, for feedback) are optional; blank lines are skipped. Every bad
line is reported with its number in one `TrafficFileError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Self
from uuid import uuid4

import aiohttp
import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.errors import SpecError

__all__ = [
    "TrafficRequest",
    "TrafficConfig",
    "RequestOutcome",
    "TrafficSummary",
    "LineProblem",
    "TrafficFileError",
    "TrafficGenerator",
    "read_replay_file",
    "dataset_requests",
]

Label = bool | int | float | str


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrafficRequest(_Frozen):
    """One request to send: a path under the target URL, a JSON body, extra headers, the true label."""

    path: str = Field(pattern=r"^/", description="request path under the target URL, e.g. /v1/models/demo:predict")
    body: dict[str, Any]
    headers: dict[str, str] = Field(default_factory=dict)
    label: Label | None = None


class TrafficConfig(_Frozen):
    target_url: str = Field(pattern=r"^https?://[^/]+$", description="scheme and host:port, no path")
    rate_per_s: float = Field(gt=0, le=10_000)
    concurrency: int = Field(default=32, ge=1, le=1024)
    duration_s: float | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)
    feedback_url: str | None = Field(default=None, pattern=r"^https?://")
    feedback_delay_s: float = Field(default=1.0, ge=0)


class RequestOutcome(_Frozen):
    """What one request got: `status` None means no HTTP answer at all (refused, reset, timed out)."""

    sent_at_s: float = Field(description="seconds after the generator started")
    latency_ms: float
    status: int | None
    variant: str | None = None
    request_id: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500


class TrafficSummary(_Frozen):
    sent: int
    failed: int
    by_status: dict[str, int]
    by_variant: dict[str, int]
    elapsed_s: float
    achieved_rate_per_s: float
    feedback_sent: int
    feedback_failed: int
    feedback_dropped: int


class LineProblem(_Frozen):
    line: int
    message: str


class TrafficFileError(SpecError):
    """A replay file with bad lines; `problems` names every one of them."""

    def __init__(self, path: Path, problems: list[LineProblem]) -> None:
        self.problems = problems
        detail = "; ".join(f"line {p.line}: {p.message}" for p in problems)
        super().__init__(str(path), detail)


def _parse_line(number: int, text: str) -> TrafficRequest | LineProblem:
    try:
        return TrafficRequest.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        return LineProblem(line=number, message=f"not JSON ({exc.msg} at column {exc.colno})")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        return LineProblem(line=number, message=f"{where}: {first['msg']}")


def read_replay_file(path: Path) -> list[TrafficRequest]:
    """Every request in a JSON-lines replay file; raises TrafficFileError naming each bad line."""
    requests: list[TrafficRequest] = []
    problems: list[LineProblem] = []
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            parsed = _parse_line(number, text)
            if isinstance(parsed, LineProblem):
                problems.append(parsed)
            else:
                requests.append(parsed)
    if not requests and not problems:
        problems.append(LineProblem(line=0, message="no requests; expected one JSON object per line"))
    if problems:
        raise TrafficFileError(path, problems)
    return requests


def dataset_requests(model_name: str = "demo", *, seed: int = 0, noise: float = 0.02) -> Iterator[TrafficRequest]:
    """Endless KServe v1 requests from random rows of the demo data set, each feature jittered by `noise`.

    The data set is loaded here, not on the first request, so a generator's pacing never waits on it.
    """
    # Imported here: scikit-learn is needed only for demo traffic, not for replayed requests.
    from controller.local.demo_model import load_demo_data

    data = load_demo_data()
    return _jittered_rows(data.features, data.labels, f"/v1/models/{model_name}:predict", np.random.default_rng(seed), noise)


def _jittered_rows(
    features: npt.NDArray[np.float64], labels: npt.NDArray[np.int64], path: str, draw: np.random.Generator, noise: float
) -> Iterator[TrafficRequest]:
    while True:
        row = int(draw.integers(len(labels)))
        jittered = features[row] * (1.0 + draw.normal(0.0, noise, features.shape[1]))
        yield TrafficRequest(path=path, body={"instances": [np.round(jittered, 6).tolist()]}, label=int(labels[row]))


class TrafficGenerator:
    """Sends `requests` to `config.target_url`; `run()` to drive it inline, or `start()` / `stop()`."""

    def __init__(self, config: TrafficConfig, requests: Iterator[TrafficRequest]) -> None:
        self._config = config
        self._requests = requests
        self._outcomes: list[RequestOutcome] = []
        self._feedback: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[TrafficSummary] | None = None
        self._ran = False

    @property
    def outcomes(self) -> list[RequestOutcome]:
        """A copy of the outcomes so far, in completion order."""
        return list(self._outcomes)

    def start(self) -> None:
        """Run in a background task until the duration ends or `stop()` is awaited."""
        self._claim()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> TrafficSummary:
        """Stop sending, wait for requests in flight, and return the summary."""
        if self._task is None:
            raise RuntimeError("stop() before start(); call start() first")
        self._stop.set()
        return await self._task

    async def run(self, until: asyncio.Event | None = None) -> TrafficSummary:
        """Send until the duration ends or `until` is set; a generator runs once."""
        self._claim()
        return await self._run(until)

    def _claim(self) -> None:
        if self._ran:
            raise RuntimeError("this traffic generator has already run; create a new one")
        self._ran = True

    async def _run(self, until: asyncio.Event | None = None) -> TrafficSummary:
        loop = asyncio.get_running_loop()
        started = loop.time()
        watcher = asyncio.create_task(self._relay(until)) if until is not None else None
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        connector = aiohttp.TCPConnector(limit=self._config.concurrency * 2)
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                await self._pace(session, started)
        finally:
            if watcher is not None:
                watcher.cancel()
        return self._summary(loop.time() - started)

    async def _relay(self, until: asyncio.Event) -> None:
        await until.wait()
        self._stop.set()

    async def _pace(self, session: aiohttp.ClientSession, started: float) -> None:
        """Open loop: one request per interval; a slow target delays the schedule, never bursts it."""
        loop = asyncio.get_running_loop()
        interval = 1.0 / self._config.rate_per_s
        deadline = started + self._config.duration_s if self._config.duration_s is not None else None
        slots = asyncio.Semaphore(self._config.concurrency)
        next_at = started
        # Sends finish before feedback still waiting is dropped: their feedback joins it first.
        async with _FeedbackTasks(self._feedback, self._config.feedback_delay_s) as feedback, asyncio.TaskGroup() as sends:
            while await self._wait_until(next_at, deadline):
                await slots.acquire()
                request = next(self._requests, None)
                if request is None:
                    slots.release()
                    break
                sends.create_task(self._send(session, request, started, slots, feedback))
                next_at = max(next_at + interval, loop.time() - interval)

    async def _wait_until(self, moment: float, deadline: float | None) -> bool:
        """Sleep until `moment`; False once stopped or past the deadline."""
        loop = asyncio.get_running_loop()
        wake = moment if deadline is None else min(moment, deadline)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, wake - loop.time()))
        return not self._stop.is_set() and (deadline is None or loop.time() < deadline)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        request: TrafficRequest,
        started: float,
        slots: asyncio.Semaphore,
        feedback: _FeedbackTasks,
    ) -> None:
        try:
            outcome = await self._call(session, request, started)
        finally:
            slots.release()
        self._outcomes.append(outcome)
        url = self._config.feedback_url
        if url and request.label is not None and not outcome.failed and outcome.request_id:
            feedback.add(functools.partial(self._send_feedback, session, url, outcome.request_id, request.label))

    async def _call(self, session: aiohttp.ClientSession, request: TrafficRequest, started: float) -> RequestOutcome:
        loop = asyncio.get_running_loop()
        request_id = request.headers.get("x-request-id") or uuid4().hex
        headers = {"content-type": "application/json", **request.headers, "x-request-id": request_id}
        sent_at = loop.time()
        common = {"sent_at_s": sent_at - started}
        try:
            async with session.post(self._config.target_url + request.path, data=orjson.dumps(request.body), headers=headers) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            latency_ms = (loop.time() - sent_at) * 1000
            return RequestOutcome(**common, latency_ms=latency_ms, status=None, request_id=request_id, error=f"{type(exc).__name__}: {exc}")
        return RequestOutcome(
            **common,
            latency_ms=(loop.time() - sent_at) * 1000,
            status=response.status,
            variant=response.headers.get("x-model-variant"),
            request_id=response.headers.get("x-request-id", request_id),
        )

    async def _send_feedback(self, session: aiohttp.ClientSession, url: str, request_id: str, label: Label) -> None:
        try:
            async with session.post(url, json={"requestId": request_id, "label": label}) as response:
                self._feedback["sent" if response.status < 400 else "failed"] += 1
        except (aiohttp.ClientError, TimeoutError):
            self._feedback["failed"] += 1

    def _summary(self, elapsed_s: float) -> TrafficSummary:
        outcomes = self._outcomes
        return TrafficSummary(
            sent=len(outcomes),
            failed=sum(o.failed for o in outcomes),
            by_status=dict(Counter(str(o.status) if o.status is not None else "no answer" for o in outcomes)),
            by_variant=dict(Counter(o.variant or "unknown" for o in outcomes)),
            elapsed_s=elapsed_s,
            achieved_rate_per_s=len(outcomes) / elapsed_s if elapsed_s > 0 else 0.0,
            feedback_sent=self._feedback["sent"],
            feedback_failed=self._feedback["failed"],
            feedback_dropped=self._feedback["dropped"],
        )


class _FeedbackTasks:
    """Delayed feedback posts. On exit the ones still waiting out their delay are dropped and counted;
    posts already on the wire finish, so the target and the counts agree on what was delivered."""

    def __init__(self, counts: Counter[str], delay_s: float) -> None:
        self._counts = counts
        self._delay_s = delay_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Task[None]] = set()

    def add(self, post: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(self._later(post))
        self._tasks.add(task)
        self._waiting.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _later(self, post: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(self._delay_s)
        if (current := asyncio.current_task()) is not None:
            self._waiting.discard(current)
        await post()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._counts["dropped"] += len(self._waiting)
        for task in self._waiting:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
