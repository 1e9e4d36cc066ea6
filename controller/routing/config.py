"""The router config for a split: what the controller writes for its routers, in a cluster or locally.

Pure: the URL of each revision comes from an `UpstreamResolver`, so local mode and tests point the
routers at model servers on loopback while a cluster uses `<name>-<revision>.<ns>.svc`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from controller.api.resource import ModelRollout
from controller.engine.actions import SetTraffic
from router.config import (
    HeaderRoute,
    LabelMatch,
    Predictions,
    RouterConfig,
    Sticky,
    Upstreams,
    Weights,
)

__all__ = ["UpstreamResolver", "build_config", "same_routing"]

# (rollout, revision) -> base URL of that revision's model servers
UpstreamResolver = Callable[[ModelRollout, str], str]


def _sticky(rollout: ModelRollout) -> Sticky | None:
    sticky = rollout.spec.router.sticky
    if sticky is None:
        return None
    # Salted per rollout, so each rollout's candidate sees a different slice of users.
    return Sticky(header=sticky.header, cookie=sticky.cookie, salt=f"{rollout.namespace}/{rollout.name}")


def _predictions(rollout: ModelRollout) -> Predictions:
    spec = rollout.spec.router.predictions
    labels = spec.labels
    classes = tuple(labels.classes) if labels.classes is not None else None
    return Predictions(
        protocol=spec.protocol, json_path=spec.json_path, tolerance=spec.tolerance,
        labels=LabelMatch(match=labels.match, tolerance=labels.tolerance, threshold=labels.threshold, classes=classes),
    )  # fmt: skip


def build_config(
    rollout: ModelRollout, action: SetTraffic, generation: int, upstream: UpstreamResolver, peers: Sequence[str] = ()
) -> RouterConfig:
    """`peers`: the routers' admin URLs, for labels to reach the replica that served their request."""
    router = rollout.spec.router
    candidate = action.candidate_revision
    split = action.split
    routes = []
    if split.header_route is not None and candidate is not None:
        routes.append(HeaderRoute(header=split.header_route.header, value=split.header_route.value, variant="candidate"))
    return RouterConfig(
        generation=generation,
        upstreams=Upstreams(
            stable=upstream(rollout, action.stable_revision), candidate=upstream(rollout, candidate) if candidate else None
        ),
        weights=Weights(stable=split.stable, candidate=split.candidate),
        mirror_percent=split.mirror if candidate else 0,
        header_routes=routes,
        header_routing_enabled=router.header_routing,
        sticky=_sticky(rollout),
        predictions=_predictions(rollout),
        feedback_retention_seconds=router.feedback_retention,
        feature_sample_percent=router.feature_sample_percent,
        feedback_peers=list(peers),
        max_body_bytes=router.max_body_bytes,
        timeout_seconds=router.timeout,
        mirror_max_in_flight=router.mirror_max_in_flight,
        retry_candidate_on_stable=router.retry_candidate_on_stable,
    )


def same_routing(a: RouterConfig, b: RouterConfig) -> bool:
    """Equal in everything but the generation number."""
    return a.model_copy(update={"generation": 0}) == b.model_copy(update={"generation": 0})
