"""`kubectl modelrollout status NAME [--watch | --timeout D]`: phase, reason, split, conditions and the latest evidence.

With `--timeout` it waits, as `wait --for=healthy` does, until the rollout settles: 0 when it is
Healthy with nothing rolling out, 1 when it ends otherwise, 2 when D passes first.
"""

from __future__ import annotations

import argparse
import contextlib

from controller.cli.kubectl.common import (
    OK,
    add_target_arguments,
    duration,
    namespace_of,
    with_client,
)
from controller.cli.kubectl.outcome import Goal
from controller.cli.kubectl.view import status_lines
from controller.cli.kubectl.waiting import wait_for_goal
from controller.kube.client import MODELROLLOUT, KubeClient

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    follow = parser.add_mutually_exclusive_group()
    follow.add_argument("-w", "--watch", action="store_true", help="print again on every change until interrupted")
    follow.add_argument(
        "--timeout", type=duration, metavar="D", help="wait until the rollout settles: exit 0 healthy, 1 otherwise, 2 after D"
    )
    parser.add_argument("--evidence", type=int, default=5, metavar="N", help="analysis results to show (default 5)")


def run(args: argparse.Namespace) -> int:
    namespace = namespace_of(args)

    async def work(client: KubeClient) -> int:
        obj = await client.get(MODELROLLOUT, namespace, args.name)
        print("\n".join(status_lines(obj, args.evidence)), flush=True)
        if args.timeout is not None:
            return await wait_for_goal(client, namespace, args.name, Goal.HEALTHY, args.timeout)
        if args.watch:
            await _follow(client, namespace, args.name, str(obj["metadata"]["resourceVersion"]), args.evidence)
        return OK

    return with_client(args, work)


async def _follow(client: KubeClient, namespace: str, name: str, version: str, evidence: int) -> None:
    shown = ""
    while True:
        async with contextlib.aclosing(client.watch(MODELROLLOUT, namespace, version)) as events:
            async for event in events:
                version = str(event.object.get("metadata", {}).get("resourceVersion") or version)
                if event.object.get("metadata", {}).get("name") != name or event.type == "BOOKMARK":
                    continue
                if event.type == "DELETED":
                    print(f"{namespace}/{name} was deleted")
                    return
                text = "\n".join(status_lines(event.object, evidence))
                if text != shown:
                    print(text, flush=True)
                    shown = text
