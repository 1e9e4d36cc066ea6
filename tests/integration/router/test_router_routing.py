"""Sticky users and header routes through the real router, across live weight changes."""

from __future__ import annotations

from typing import Any

import pytest
from router_harness import RouterProcess, send_many

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"
USERS = [f"user-{n}" for n in range(400)]


def assignments(router: RouterProcess, *, cookie: bool = False) -> dict[str, str]:
    headers = [{"cookie": f"theme=dark; uid={u}"} if cookie else {"x-user": u} for u in USERS]
    answers = send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * len(USERS), headers=headers)
    assert all(a.status == 200 and a.variant == a.backend for a in answers)
    return {user: answer.variant for user, answer in zip(USERS, answers)}


def on_candidate(table: dict[str, str]) -> set[str]:
    return {user for user, variant in table.items() if variant == "candidate"}


def test_sticky_users_stay_put_as_the_candidate_weight_rises(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    config = {**base_config, "sticky": {"header": "x-user"}}
    shares = []
    previous: set[str] = set()
    for weight in (5, 25, 50, 100):
        module_router.reconfigure({**config, "weights": {"stable": 100 - weight, "candidate": weight}})
        first, second = assignments(module_router), assignments(module_router)
        assert first == second  # every user answered by the same variant twice
        current = on_candidate(first)
        assert previous <= current  # nobody moved back to the stable
        shares.append(len(current) / len(USERS))
        previous = current
    assert 0.01 <= shares[0] <= 0.10 and 0.18 <= shares[1] <= 0.32 and shares[3] == 1.0


def test_a_sticky_cookie_works_like_a_header(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    weights = {"stable": 70, "candidate": 30}
    module_router.reconfigure({**base_config, "weights": weights, "sticky": {"header": "x-user"}})
    by_header = assignments(module_router)
    module_router.reconfigure({**base_config, "weights": weights, "sticky": {"cookie": "uid"}})
    assert assignments(module_router, cookie=True) == by_header


def test_header_routes_win_over_weights(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    routes = [
        {"header": "x-model-variant", "value": "candidate", "variant": "candidate"},
        {"header": "x-lane", "value": "safe", "variant": "stable"},
    ]
    module_router.reconfigure({**base_config, "weights": {"stable": 100, "candidate": 0}, "headerRoutes": routes})
    testers = send_many(module_router.url + PREDICT, [{"instances": [[0.5]]}] * 50, headers=[{"x-model-variant": "candidate"}] * 50)
    others = send_many(module_router.url + PREDICT, [{"instances": [[0.5]]}] * 50)
    assert {a.backend for a in testers} == {"candidate"} and {a.variant for a in testers} == {"candidate"}
    assert {a.backend for a in others} == {"stable"}
    module_router.reconfigure({**base_config, "weights": {"stable": 0, "candidate": 100}, "headerRoutes": routes})
    safe = send_many(module_router.url + PREDICT, [{"instances": [[0.5]]}] * 50, headers=[{"x-lane": "safe"}] * 50)
    assert {a.backend for a in safe} == {"stable"}


def test_disabled_header_routing_sends_testers_by_weight(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    routes = [{"header": "x-model-variant", "value": "candidate", "variant": "candidate"}]
    module_router.reconfigure({**base_config, "headerRoutes": routes, "headerRoutingEnabled": False})
    testers = send_many(module_router.url + PREDICT, [{"instances": [[0.5]]}] * 30, headers=[{"x-model-variant": "candidate"}] * 30)
    assert {a.backend for a in testers} == {"stable"}
