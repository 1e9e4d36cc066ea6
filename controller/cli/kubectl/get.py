"""`kubectl modelrollout get [NAME] [-A]`: rollouts with phase, step, split and revisions."""

from __future__ import annotations

import argparse

from rich.console import Console

from controller.cli.kubectl.common import (
    add_target_arguments,
    namespace_of,
    with_client,
)
from controller.cli.kubectl.view import rollout_table
from controller.kube.client import MODELROLLOUT, KubeClient

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="one ModelRollout (default: all in the namespace)")
    add_target_arguments(parser, name=False)
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")


def run(args: argparse.Namespace) -> int:
    namespace = None if args.all_namespaces else namespace_of(args)

    async def work(client: KubeClient) -> int:
        if args.name and namespace is not None:
            objects = [await client.get(MODELROLLOUT, namespace, args.name)]
        else:
            objects, _version = await client.list(MODELROLLOUT, namespace)
            objects = [o for o in objects if not args.name or o.get("metadata", {}).get("name") == args.name]
        if not objects:
            print(f"no ModelRollouts in {'any namespace' if namespace is None else f'namespace {namespace}'}")
            return 0
        Console(width=200).print(rollout_table(objects, with_namespace=namespace is None))
        return 0

    return with_client(args, work)
