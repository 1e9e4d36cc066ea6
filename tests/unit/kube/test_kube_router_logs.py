"""spec.router.logFormat and accessLogSample reach every router container the controller builds, and only when set."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from controller.api.resource import ModelRollout
from controller.kube.objects import router_deployment, sidecar_container
from router import cli as router_cli


def _rollout(**router: Any) -> ModelRollout:
    return ModelRollout.model_validate({
        "metadata": {"name": "fraud", "namespace": "models"},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}},
                 "strategy": {"canary": {"steps": [{"setWeight": 100}]}}, "router": router},
    })  # fmt: skip


def _router_args(args: list[str]) -> argparse.Namespace:
    """The container's arguments as the router's own command line reads them (the first is the subcommand)."""
    parser = argparse.ArgumentParser(exit_on_error=False)
    router_cli.add_arguments(parser)
    return parser.parse_args(args[1:])


@pytest.mark.parametrize("build", [lambda r: router_deployment(r)["spec"]["template"]["spec"]["containers"][0], sidecar_container])
def test_set_they_are_passed_to_the_router(build: Any) -> None:
    args = _router_args(build(_rollout(logFormat="json", accessLogSample=0.01))["args"])
    assert (args.log_format, args.access_log_sample) == ("json", 0.01)


def test_unset_the_router_arguments_are_as_before() -> None:
    container = router_deployment(_rollout())["spec"]["template"]["spec"]["containers"][0]
    assert "--log-format" not in container["args"] and "--access-log-sample" not in container["args"]
    assert (_router_args(container["args"]).log_format, _router_args(container["args"]).access_log_sample) == ("text", 0.0)


@pytest.mark.parametrize(("router", "field"), [({"logFormat": "logfmt"}, "logFormat"), ({"accessLogSample": 2}, "accessLogSample")])
def test_bad_values_are_refused_naming_the_field(router: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _rollout(**router)
