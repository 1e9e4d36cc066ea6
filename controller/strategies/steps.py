"""The step vocabulary every strategy expands into; the engine runs only these.

A step validates itself on creation, so a strategy can never hand the engine a weight of 140
or an analysis without metrics. Traffic steps (`SetWeight`, `SetMirror`, `SetHeaderRoute`)
change the split the routers serve; `Pause` and `Analysis` hold until a timer or verdicts
let the rollout go on; `Promote` and `ReportVerdict` end it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from controller.api.metrics import MetricSpec
from controller.api.spec import HeaderRouteStep

__all__ = [
    "DEFAULT_SCALE_DOWN_DELAY_S",
    "Analysis",
    "Pause",
    "Promote",
    "ReportVerdict",
    "SetHeaderRoute",
    "SetMirror",
    "SetWeight",
    "Step",
    "TrafficStep",
    "describe",
    "share_of",
]

# Canary and shadow keep the old stable warm this long after promotion, so an undo is instant.
DEFAULT_SCALE_DOWN_DELAY_S = 30.0


def share_of(replicas: int, share: Fraction) -> int:
    """Pods for `share` percent of `replicas`' load: ceil(share x replicas), at least 1, all of them from 100."""
    if share >= 100:
        return max(1, replicas)
    return max(1, math.ceil(share * replicas / 100))


def _check_percent(field: str, value: int) -> None:
    if not 0 <= value <= 100:
        raise ValueError(f"{field} {value} is outside 0..100")


@dataclass(frozen=True)
class SetWeight:
    """Send `percent` of live traffic to the candidate; mirror and header route stay as they are."""

    percent: int

    def __post_init__(self) -> None:
        _check_percent("SetWeight.percent", self.percent)


@dataclass(frozen=True)
class SetMirror:
    """Copy `percent` of all requests to the candidate; its answers are compared, never returned."""

    percent: int

    def __post_init__(self) -> None:
        _check_percent("SetMirror.percent", self.percent)


@dataclass(frozen=True)
class SetHeaderRoute:
    """Route requests carrying the header to the candidate; None clears the route."""

    route: HeaderRouteStep | None


@dataclass(frozen=True)
class Pause:
    """Wait `duration_s` seconds, or with None until someone promotes."""

    duration_s: float | None
    kind: Literal["step", "preview"] = "step"

    def __post_init__(self) -> None:
        if self.duration_s is not None and self.duration_s < 0:
            raise ValueError(f"Pause.duration_s {self.duration_s} is negative; expected >= 0 or None")


@dataclass(frozen=True)
class Analysis:
    """Measure `metrics` every `interval_s`; go on once each has passed `count` times."""

    scope: str
    metrics: tuple[MetricSpec, ...]
    interval_s: float
    count: int

    def __post_init__(self) -> None:
        if not self.metrics:
            raise ValueError(f"Analysis {self.scope!r} has no metrics; expected at least one")
        if self.interval_s <= 0:
            raise ValueError(f"Analysis {self.scope!r} interval_s {self.interval_s} must be > 0")
        if self.count < 1:
            raise ValueError(f"Analysis {self.scope!r} count {self.count} must be >= 1")


@dataclass(frozen=True)
class Promote:
    """The final switch: the candidate becomes stable; the old stable stays warm for the delay."""

    scale_down_delay_s: float

    def __post_init__(self) -> None:
        if self.scale_down_delay_s < 0:
            raise ValueError(f"Promote.scale_down_delay_s {self.scale_down_delay_s} is negative")


@dataclass(frozen=True)
class ReportVerdict:
    """A shadow run with `promote: false` ends here: the candidate is judged and nothing live changes."""


Step = SetWeight | SetMirror | SetHeaderRoute | Pause | Analysis | Promote | ReportVerdict
TrafficStep = SetWeight | SetMirror | SetHeaderRoute


def describe(step: Step) -> str:
    """The step as a user reads it in events and messages: `setWeight 10`, `pause 30s`."""
    match step:
        case SetWeight(percent=percent):
            return f"setWeight {percent}"
        case SetMirror(percent=percent):
            return f"setMirror {percent}"
        case SetHeaderRoute(route=None):
            return "clear header route"
        case SetHeaderRoute(route=route) if route is not None:
            return f"setHeaderRoute {route.header}: {route.value}"
        case Pause(duration_s=None, kind=kind):
            return "preview until promoted" if kind == "preview" else "pause until promoted"
        case Pause(duration_s=seconds, kind=kind):
            return f"{'preview' if kind == 'preview' else 'pause'} {seconds:g}s"
        case Analysis(scope=scope, count=count, interval_s=interval):
            named = "" if scope.startswith("step ") else f"{scope} "
            return f"{named}analysis ({count} x {interval:g}s)"
        case Promote():
            return "promote"
        case ReportVerdict():
            return "report verdict"
    raise TypeError(f"unknown step {step!r}")
