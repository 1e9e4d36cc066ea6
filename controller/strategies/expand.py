"""One engine for three strategies: each expands its spec into the engine's steps."""

from __future__ import annotations

from fractions import Fraction

from controller.api.spec import ModelRolloutSpec
from controller.strategies.bluegreen import blue_green_replicas, expand_blue_green
from controller.strategies.canary import canary_replicas, expand_canary
from controller.strategies.shadow import expand_shadow
from controller.strategies.steps import ReportVerdict, Step, share_of

__all__ = ["candidate_replicas", "ends_in_verdict", "expand", "full_size"]


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


def candidate_replicas(spec: ModelRolloutSpec, share: Fraction) -> int:
    """Pods the candidate runs while `share` percent of the requests reach it, live or mirrored.

    An explicit size (`candidateReplicas`, `previewReplicas`) is honoured; otherwise the size
    follows the share. Never 0: a candidate with no pods could never be judged or promoted.
    """
    strategy = spec.strategy
    if strategy.canary is not None:
        return canary_replicas(strategy.canary, spec, share)
    if strategy.blue_green is not None:
        return blue_green_replicas(strategy.blue_green, spec, share)
    return share_of(spec.replicas, share)


def full_size(spec: ModelRolloutSpec) -> int:
    """What the candidate needs before it becomes stable and takes everything: spec.replicas, at least 1."""
    return max(1, spec.replicas)


def ends_in_verdict(steps: list[Step] | tuple[Step, ...]) -> bool:
    """True for a judge-only run (shadow with promote: false): a failure is a verdict, not a rollback."""
    return bool(steps) and isinstance(steps[-1], ReportVerdict)
