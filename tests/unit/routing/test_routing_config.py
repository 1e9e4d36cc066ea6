"""The router config built for a split: upstreams, weights, routes, and what counts as a change."""

from __future__ import annotations

from collections.abc import Callable

from controller.api.resource import ModelRollout
from controller.api.spec import HeaderRouteStep
from controller.api.status import TrafficSplit
from controller.engine.actions import SetTraffic
from controller.routing.config import build_config, same_routing

RolloutFactory = Callable[..., ModelRollout]


def _urls(rollout: ModelRollout, revision: str) -> str:
    return f"http://127.0.0.1:1/{revision}"


def test_a_split_becomes_weights_mirror_and_a_candidate_header_route(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout(router={"sticky": {"header": "x-user"}, "timeout": "5s", "headerRouting": False})
    split = TrafficSplit(stable=75, candidate=25, mirror=10, header_route=HeaderRouteStep(header="x-test", value="yes"))
    config = build_config(rollout, SetTraffic(stable_revision="s1", candidate_revision="c1", split=split), 7, _urls)
    assert config.generation == 7
    assert (config.upstreams.stable, config.upstreams.candidate) == ("http://127.0.0.1:1/s1", "http://127.0.0.1:1/c1")
    assert (config.weights.stable, config.weights.candidate, config.mirror_percent) == (75, 25, 10)
    assert [(r.header, r.value, r.variant) for r in config.header_routes] == [("x-test", "yes", "candidate")]
    assert config.header_routing_enabled is False
    assert config.timeout_seconds == 5.0
    assert config.sticky is not None and config.sticky.header == "x-user" and config.sticky.salt == "ml/fraud"


def test_without_a_candidate_everything_goes_to_stable(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    config = build_config(rollout, SetTraffic(stable_revision="s1", candidate_revision=None, split=TrafficSplit()), 1, _urls)
    assert config.upstreams.candidate is None
    assert (config.weights.stable, config.mirror_percent, config.header_routes) == (100, 0, [])


def test_a_new_generation_alone_is_no_change_but_a_new_weight_is(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    action = SetTraffic(stable_revision="s1", candidate_revision="c1", split=TrafficSplit(stable=90, candidate=10))
    moved = action.model_copy(update={"split": TrafficSplit(stable=80, candidate=20)})
    assert same_routing(build_config(rollout, action, 1, _urls), build_config(rollout, action, 2, _urls))
    assert not same_routing(build_config(rollout, action, 1, _urls), build_config(rollout, moved, 1, _urls))
