"""Canary: the user's steps one for one, then the final promotion."""

from __future__ import annotations

from fractions import Fraction

from controller.api.spec import CanaryStep, CanaryStrategy, ModelRolloutSpec
from controller.strategies.analysis_step import analysis_step
from controller.strategies.steps import (
    DEFAULT_SCALE_DOWN_DELAY_S,
    Pause,
    Promote,
    SetHeaderRoute,
    SetMirror,
    SetWeight,
    Step,
    share_of,
)

__all__ = ["canary_replicas", "expand_canary"]

_PATH = ".spec.strategy.canary.steps"


def expand_canary(canary: CanaryStrategy, spec: ModelRolloutSpec) -> list[Step]:
    steps = [_step(index, step, spec) for index, step in enumerate(canary.steps)]
    return [*steps, Promote(scale_down_delay_s=DEFAULT_SCALE_DOWN_DELAY_S)]


def canary_replicas(canary: CanaryStrategy, spec: ModelRolloutSpec, share: Fraction) -> int:
    """A fixed candidate size when set, else the traffic share of spec.replicas (Argo Rollouts' default)."""
    return canary.candidate_replicas if canary.candidate_replicas is not None else share_of(spec.replicas, share)


def _step(index: int, step: CanaryStep, spec: ModelRolloutSpec) -> Step:
    if step.set_weight is not None:
        return SetWeight(step.set_weight)
    if step.set_mirror is not None:
        return SetMirror(step.set_mirror)
    if step.pause is not None:
        return Pause(duration_s=step.pause.duration)
    if step.set_header_route is not None:
        return SetHeaderRoute(step.set_header_route)
    if step.analysis is not None:
        return analysis_step(f"step {index}", step.analysis, spec, f"{_PATH}[{index}].analysis")
    raise ValueError(
        f"{_PATH}[{index}] sets no action; expected one of setWeight, setMirror, pause, analysis, setHeaderRoute"
    )
