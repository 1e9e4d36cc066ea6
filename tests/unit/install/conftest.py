"""Fixtures for the install tests: the chart rendered by Helm's own engine, and install.yaml.

Rendering goes through `helm-python-sdk` (Helm's Go SDK behind a C ABI, no `helm` binary) via
`manifests/generate_install.py`, the same code that writes install.yaml.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import yaml
from chartkit import REPO_ROOT, Docs

__all__: list[str] = []

GENERATOR_PATH = REPO_ROOT / "manifests" / "generate_install.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_install", GENERATOR_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {GENERATOR_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="session")
def render(generator: ModuleType) -> Callable[[dict[str, Any]], Docs]:
    """The chart's objects for `values` over the defaults, release `modelrollout` in `modelrollout-system`."""

    def _render(values: dict[str, Any]) -> Docs:
        return [doc.body for doc in generator.render_chart(values)]

    return _render


@pytest.fixture(scope="session")
def install_docs() -> Docs:
    text = (REPO_ROOT / "manifests" / "install.yaml").read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]
