"""Follow one rollout until a judgement says the wait is over, printing a line each time it moves.

Watches the rollout, so every status the controller writes is seen (a step that passes in a
fraction of a second is still printed); the deadline holds whatever the connection does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from controller.cli.kubectl.common import FAILED, OK, TIMED_OUT, error
from controller.cli.kubectl.outcome import Goal, Judgement, judge, progress_line, step_names
from controller.kube.client import MODELROLLOUT, KubeClient
from controller.kube.errors import Gone, NotFound

__all__ = ["follow", "wait_for_goal"]

T = TypeVar("T")
_WATCH_S = 60


class _Shown:
    """Prints a progress line when it differs from the last one printed."""

    def __init__(self, namespace: str, name: str) -> None:
        self._prefix = f"{namespace}/{name}"
        self._last = ""

    def show(self, obj: dict[str, Any]) -> None:
        line = progress_line(obj, step_names(obj))
        if line != self._last:
            print(f"{self._prefix}: {line}", flush=True)
            self._last = line


async def _watch_until(
    client: KubeClient, namespace: str, name: str, until: Callable[[dict[str, Any]], T | None], latest: list[dict[str, Any]]
) -> T:
    shown = _Shown(namespace, name)
    while True:
        obj = await client.get(MODELROLLOUT, namespace, name)
        latest[0] = obj
        shown.show(obj)
        if (answer := until(obj)) is not None:
            return answer
        version = str(obj["metadata"]["resourceVersion"])
        with contextlib.suppress(Gone):  # too old: read again and watch from there
            async with contextlib.aclosing(client.watch(MODELROLLOUT, namespace, version, timeout_s=_WATCH_S)) as events:
                async for event in events:
                    if event.type == "BOOKMARK" or event.object.get("metadata", {}).get("name") != name:
                        continue
                    if event.type == "DELETED":
                        raise NotFound(404, "NotFound", f"{namespace}/{name} was deleted")
                    latest[0] = event.object
                    shown.show(event.object)
                    if (answer := until(event.object)) is not None:
                        return answer


async def follow(
    client: KubeClient, namespace: str, name: str, until: Callable[[dict[str, Any]], T | None], timeout_s: float | None
) -> tuple[dict[str, Any], T | None]:
    """Follow the rollout until `until` returns something, printing each new progress line; (last object, None) on timeout."""
    latest: list[dict[str, Any]] = [{}]
    try:
        async with asyncio.timeout(timeout_s):
            answer = await _watch_until(client, namespace, name, until, latest)
        return latest[0], answer
    except TimeoutError:
        return latest[0], None


def _goal_text(goal: Goal) -> str:
    return {Goal.HEALTHY: "to be healthy", Goal.PROMOTED: "to be promoted", Goal.DEGRADED: "to be degraded"}[goal]


async def wait_for_goal(client: KubeClient, namespace: str, name: str, goal: Goal, timeout_s: float | None) -> int:
    """0 when the rollout reaches `goal`, 1 when it ends otherwise, 2 when `timeout_s` passes first."""
    obj, judgement = await follow(client, namespace, name, lambda o: judge(o, goal), timeout_s)
    if judgement is None:
        line = progress_line(obj, step_names(obj))
        error(f"timed out after {timeout_s:g}s waiting for {namespace}/{name} {_goal_text(goal)}; it is {line}")
        return TIMED_OUT
    return _report(namespace, name, goal, judgement)


def _report(namespace: str, name: str, goal: Goal, judgement: Judgement) -> int:
    if judgement.reached:
        print(f"{namespace}/{name} is {goal.value}: {judgement.why}", flush=True)
        return OK
    error(f"{namespace}/{name} ended without being {goal.value}: {judgement.why}")
    return FAILED
