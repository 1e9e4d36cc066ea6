"""An analysis point of a strategy as an engine step: its own metrics, or the background ones."""

from __future__ import annotations

from controller.api.metrics import AnalysisStep
from controller.api.spec import ModelRolloutSpec
from controller.errors import SpecError
from controller.strategies.steps import Analysis

__all__ = ["analysis_step"]


def analysis_step(
    scope: str, step: AnalysisStep, spec: ModelRolloutSpec, path: str, count: int | None = None
) -> Analysis:
    """The `Analysis` step for `step` at `path`; `count` overrides the step's own count."""
    if step.metrics is not None:
        metrics = tuple(step.metrics)
    elif spec.analysis is not None:
        metrics = tuple(spec.analysis.metrics)
    else:
        raise SpecError(f"{path}.metrics", "is not set and spec.analysis is absent, so there is nothing to measure")
    if step.interval <= 0:
        raise SpecError(f"{path}.interval", f"is {step.interval:g}s; measurements need an interval above 0s")
    return Analysis(scope=scope, metrics=metrics, interval_s=step.interval, count=count or step.count)
