"""`modelrollout crd`: print the ModelRollout CustomResourceDefinition as YAML.

The committed `manifests/crd/modelrollouts.yaml` is exactly this output, so the rendering is
deterministic: keys in the generator's order, long text as literal blocks.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from controller.api.crd import build_crd

__all__ = ["add_arguments", "run", "render"]

HEADER = "# Generated from the API models by `modelrollout crd`; do not edit by hand.\n"


class _CrdDumper(yaml.SafeDumper):
    """Block style everywhere; multi-line descriptions as `|` blocks so the YAML reads like the docstrings."""

    def ignore_aliases(self, data: Any) -> bool:
        # A sub-schema used twice (an enum, a rule) is written out in full: anchors are hard to read and diff.
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CrdDumper.add_representer(str, _represent_str)


def render(crd: dict[str, Any] | None = None) -> str:
    """The CRD as the YAML text `modelrollout crd` prints."""
    body = yaml.dump(crd or build_crd(), Dumper=_CrdDumper, sort_keys=False, width=120, allow_unicode=True)
    return HEADER + body


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Example: modelrollout crd | kubectl apply -f -"


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(render())
    return 0
