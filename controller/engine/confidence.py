"""How many statistical tests a rollout runs: the number its confidence is shared over.

Every analysis step judges its metrics over a window of its own, and background analysis over
a new window each time the split changes while the candidate takes traffic. Each tested metric
(`controller.analysis.judge.is_tested`) in each window is one anytime-valid test, so a candidate
no worse than stable fails one of them with a chance of at most the sum of their significance
levels: splitting 1 - confidence evenly over them (Bonferroni) makes the configured confidence
hold for the rollout as a whole. Background windows are counted per traffic step that leaves the
candidate taking live or mirrored traffic short of all of it, which errs safe where a step
changes nothing.
"""

from __future__ import annotations

from controller.analysis.judge import is_tested
from controller.api.spec import ModelRolloutSpec
from controller.api.status import TrafficSplit
from controller.engine.traffic import split_after, takes_live_traffic
from controller.strategies.steps import Analysis, SetHeaderRoute, SetMirror, SetWeight, Step

__all__ = ["windows_tested"]


def windows_tested(spec: ModelRolloutSpec, steps: tuple[Step, ...]) -> int:
    """The tested metric windows of the whole rollout: each analysis step's, and background's per split."""
    in_steps = sum(sum(1 for metric in step.metrics if is_tested(metric)) for step in steps if isinstance(step, Analysis))
    if spec.analysis is None:
        return max(in_steps, 1)
    background = sum(1 for metric in spec.analysis.metrics if is_tested(metric))
    return max(in_steps + _background_windows(steps) * background, 1)


def _background_windows(steps: tuple[Step, ...]) -> int:
    split, windows = TrafficSplit.all_stable(), 0
    for step in steps:
        if isinstance(step, (SetWeight, SetMirror, SetHeaderRoute)):
            split = split_after(step, split)
            windows += takes_live_traffic(split) and split.candidate < 100
    return max(windows, 1)
