"""The chart's logFormat reaches the controller's command line, and only text or json is taken."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import helm_python
import pytest
from chartkit import Docs, controller_container

from controller.cli import operator

__all__: list[str] = []

Render = Callable[[dict[str, Any]], Docs]


@pytest.mark.parametrize(("values", "expected"), [({}, "text"), ({"logFormat": "json"}, "json")])
def test_the_log_format_is_passed_to_the_controller(render: Render, values: dict[str, Any], expected: str) -> None:
    args = controller_container(render(values))["args"]
    parser = argparse.ArgumentParser(exit_on_error=False)
    operator.add_arguments(parser)
    assert parser.parse_args(args[1:]).log_format == expected


def test_another_log_format_is_refused_naming_the_value(render: Render) -> None:
    with pytest.raises(helm_python.errors.HelmValuesError, match="logFormat"):
        render({"logFormat": "logfmt"})
