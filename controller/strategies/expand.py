"""One engine for three strategies: each expands its spec into the engine's steps."""

from __future__ import annotations

from controller.api.spec import ModelRolloutSpec
from controller.strategies.bluegreen import blue_green_replicas, expand_blue_green
from controller.strategies.canary import canary_replicas, expand_canary
from controller.strategies.shadow import expand_shadow
from controller.strategies.steps import ReportVerdict, Step

__all__ = ["candidate_replicas", "ends_in_verdict", "expand"]


def expand(spec: ModelRolloutSpec) -> list[Step]:
    """The rollout's steps, always ending in `Promote` or `ReportVerdict`; raises SpecError naming a bad field."""
    strategy = spec.strategy
    if strategy.canary is not None:
        return expand_canary(strategy.canary, spec)
    if strategy.blue_green is not None:
        return expand_blue_green(strategy.blue_green, spec)
    if strategy.shadow is not None:
        return expand_shadow(strategy.shadow, spec)
    raise ValueError("the strategy sets none of shadow, canary, blueGreen")


def candidate_replicas(spec: ModelRolloutSpec) -> int:
    """How many pods the candidate runs while it is rolled out."""
    strategy = spec.strategy
    if strategy.canary is not None:
        return canary_replicas(strategy.canary, spec)
    if strategy.blue_green is not None:
        return blue_green_replicas(strategy.blue_green, spec)
    return spec.replicas


def ends_in_verdict(steps: list[Step] | tuple[Step, ...]) -> bool:
    """True for a judge-only run (shadow with promote: false): a failure is a verdict, not a rollback."""
    return bool(steps) and isinstance(steps[-1], ReportVerdict)
