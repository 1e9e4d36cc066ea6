"""`kubectl modelrollout get [NAME] [-A] [-o json|yaml|wide]`: rollouts with phase, step, split and revisions."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml
from rich.console import Console

from controller.cli.kubectl.common import OK, add_target_arguments, namespace_of, with_client
from controller.cli.kubectl.view import rollout_table
from controller.kube.client import MODELROLLOUT, KubeClient

__all__ = ["add_arguments", "run", "render"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="one ModelRollout (default: all in the namespace)")
    add_target_arguments(parser, name=False)
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    parser.add_argument("-o", "--output", choices=["json", "yaml", "wide"], metavar="FORMAT", help="json, yaml or wide (more columns)")


def render(objects: list[dict[str, Any]], single: bool, output: str | None) -> str | None:
    """The text to print for `output`; None for the tables, which rich prints itself."""
    if output in ("json", "yaml"):
        document: dict[str, Any] = objects[0] if single else {"apiVersion": "v1", "kind": "List", "items": objects}
        return json.dumps(document, indent=2) if output == "json" else yaml.safe_dump(document, sort_keys=False)
    return None


def run(args: argparse.Namespace) -> int:
    namespace = None if args.all_namespaces else namespace_of(args)

    async def work(client: KubeClient) -> int:
        single = bool(args.name and namespace is not None)
        if single and namespace is not None:
            objects = [await client.get(MODELROLLOUT, namespace, args.name)]
        else:
            objects, _version = await client.list(MODELROLLOUT, namespace)
            objects = [o for o in objects if not args.name or o.get("metadata", {}).get("name") == args.name]
        if (text := render(objects, single, args.output)) is not None:
            print(text.rstrip("\n"))
            return OK
        if not objects:
            print(f"no ModelRollouts in {'any namespace' if namespace is None else f'namespace {namespace}'}")
            return OK
        Console(width=240).print(rollout_table(objects, with_namespace=namespace is None, wide=args.output == "wide"))
        return OK

    return with_client(args, work)
