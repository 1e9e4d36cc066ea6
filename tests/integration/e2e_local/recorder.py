"""Every status a ModelRollout goes through, seen through a real watch, and waits on it.

`RolloutRecorder` keeps each version of the rollout's status the watch delivers (with the
monotonic time it arrived), so a scenario can act the moment a step starts (kill the
controller) and check afterwards what happened in between (promoted exactly once, no step
run twice).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from controller.api.resource import GROUP, PLURAL, VERSION
from tests.loopnode.watching import Mirror

__all__ = ["ScenarioFailure", "Seen", "RolloutRecorder", "brief"]


class ScenarioFailure(AssertionError):
    """The end-to-end did not go as it should; the message says what was expected and what was seen."""


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic()
    status: dict[str, Any]


def brief(status: dict[str, Any]) -> str:
    """The few status fields that say where a rollout is, plus its latest evidence."""
    fields = (
        "phase",
        "reason",
        "message",
        "stableRevision",
        "candidateRevision",
        "rejectedRevision",
        "currentStep",
        "stepMeasurements",
        "traffic",
    )
    shown = {name: status.get(name) for name in fields if status.get(name) is not None}
    shown["evidence"] = [
        f"{r.get('revision')} {r.get('scope')} {r.get('metric')} {r.get('verdict')}: {r.get('reason')}"
        for r in (status.get("evidence") or [])[-6:]
    ]
    return json.dumps(shown, indent=1, default=str)


class RolloutRecorder:
    def __init__(self, api_client: k8s.ApiClient, namespace: str, name: str) -> None:
        self.name = name
        custom = k8s.CustomObjectsApi(api_client)
        listing = functools.partial(custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL)
        self._history: list[Seen] = []
        self._changed = threading.Condition()
        self._mirror = Mirror(api_client, listing, self._record, f"modelrollout {namespace}/{name}")

    def __enter__(self) -> RolloutRecorder:
        self._mirror.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mirror.stop()

    def _record(self, obj: dict[str, Any] | None) -> None:
        found = [o for o in self._mirror.objects() if o["metadata"]["name"] == self.name] if obj is None else [obj]
        if not found or found[0]["metadata"]["name"] != self.name:
            return
        status = found[0].get("status") or {}
        with self._changed:
            if not self._history or self._history[-1].status != status:
                self._history.append(Seen(time.monotonic(), status))
            self._changed.notify_all()

    @property
    def status(self) -> dict[str, Any]:
        with self._changed:
            return self._history[-1].status if self._history else {}

    def history(self, since: float = 0.0) -> list[Seen]:
        with self._changed:
            return [seen for seen in self._history if seen.at >= since]

    def wait(self, check: Callable[[dict[str, Any]], bool], what: str, timeout_s: float) -> dict[str, Any]:
        """The first status from now on (the current one included) for which `check` holds."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                status = self._history[-1].status if self._history else {}
                if check(status):
                    return status
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ScenarioFailure(f"timed out after {timeout_s:.0f}s waiting for {what}; the rollout's status:\n{brief(status)}")
                self._changed.wait(left)
