"""Strategies: shadow, canary and blue-green, each expanded into the one step vocabulary the engine runs."""

from controller.strategies.expand import candidate_replicas, ends_in_verdict, expand, full_size
from controller.strategies.steps import (
    DEFAULT_SCALE_DOWN_DELAY_S,
    Analysis,
    Pause,
    Promote,
    ReportVerdict,
    SetHeaderRoute,
    SetMirror,
    SetWeight,
    Step,
    TrafficStep,
    describe,
)

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
    "candidate_replicas",
    "describe",
    "ends_in_verdict",
    "expand",
    "full_size",
]
