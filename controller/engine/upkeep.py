"""Upkeep: what keeps the cluster matching the status on every reconcile, whatever was decided.

A decision's own actions change things; upkeep puts back what drifted from the status without
anyone deciding anything: a router config deleted or edited by hand (`KeepTraffic`, unless the
decision writes a split anyway) and revisions edited or deleted by hand (`KeepRevisions`). Both
are carried out after the decision's actions and cost nothing where nothing drifted. They are
decided here, not in an adapter, so local and cluster mode keep the same things.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import ModelRolloutStatus
from controller.engine.actions import Action, EnsureRevision, KeepRevisions, KeepTraffic, SetTraffic
from controller.engine.traffic import candidate_share
from controller.strategies.expand import candidate_replicas

__all__ = ["upkeep"]


def upkeep(rollout: ModelRollout, status: ModelRolloutStatus, decided: Sequence[Action]) -> list[Action]:
    """The upkeep for `rollout` once `status` is its new status and `decided` are carried out."""
    actions: list[Action] = []
    if status.stable_revision is not None and not any(isinstance(a, SetTraffic) for a in decided):
        actions.append(
            KeepTraffic(stable_revision=status.stable_revision, candidate_revision=status.candidate_revision, split=status.traffic)
        )
    actions.append(_keep_revisions(rollout, status))
    return actions


def _keep_revisions(rollout: ModelRollout, status: ModelRolloutStatus) -> KeepRevisions:
    live = tuple(sorted({r for r in (status.stable_revision, status.candidate_revision) if r}))
    target = revision_of(rollout.spec.template)
    if target not in live:
        return KeepRevisions(live=live)
    stable = target == status.stable_revision
    recreate = EnsureRevision(
        revision=target,
        template=rollout.spec.template,
        replicas=rollout.spec.replicas if stable else _candidate_size(rollout, status),
        role="stable" if stable else "candidate",
    )
    return KeepRevisions(live=live, recreate=recreate)


def _candidate_size(rollout: ModelRollout, status: ModelRolloutStatus) -> int:
    """What the engine asked of the candidate; from its share when the status predates that record."""
    asked = status.candidate_replicas
    return asked if asked is not None else candidate_replicas(rollout.spec, candidate_share(status.traffic))
