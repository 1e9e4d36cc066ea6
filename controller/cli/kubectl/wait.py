"""`kubectl modelrollout wait NAME --for=healthy|promoted|degraded [--timeout D]`: a gate for pipelines.

Exits 0 when the rollout reaches the state, 1 when it ends in another (rolled back, stalled,
invalid), 2 on a timeout or a usage error; each step is printed as it passes.
"""

from __future__ import annotations

import argparse

from controller.cli.kubectl.common import add_target_arguments, duration, namespace_of, with_client
from controller.cli.kubectl.outcome import Goal
from controller.cli.kubectl.waiting import wait_for_goal
from controller.kube.client import KubeClient

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument(
        "--for", dest="goal", choices=[g.value for g in Goal], default=Goal.PROMOTED.value, metavar="STATE",
        help="healthy (settled, any revision), promoted (the template's revision is stable; the default) or degraded",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=duration, default=None, metavar="D", help="give up after D (e.g. 10m) and exit 2 (default: wait on)"
    )


def run(args: argparse.Namespace) -> int:
    namespace = namespace_of(args)

    async def work(client: KubeClient) -> int:
        return await wait_for_goal(client, namespace, args.name, Goal(args.goal), args.timeout)

    return with_client(args, work)
