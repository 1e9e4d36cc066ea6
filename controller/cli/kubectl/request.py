"""The manual-action verbs: each writes one request annotation with a fresh id."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime

from controller.cli.kubectl.common import (
    add_target_arguments,
    namespace_of,
    with_client,
)
from controller.engine.inputs import ManualAction
from controller.kube.client import MODELROLLOUT, KubeClient
from controller.kube.manual import new_request, request_patch

__all__ = ["send_request", "verb"]


async def send_request(client: KubeClient, namespace: str, name: str, action: ManualAction) -> str:
    """Annotate the rollout with a request for `action`; returns the request id."""
    request = new_request(action, datetime.now(UTC))
    await client.patch(MODELROLLOUT, namespace, name, request_patch(request))
    return request.id


def verb(action: ManualAction, describe: str) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
    """(add_arguments, run) for a verb that requests `action`."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.description = describe
        add_target_arguments(parser)

    def run(args: argparse.Namespace) -> int:
        return _request(args, action)

    return add_arguments, run


def _request(args: argparse.Namespace, action: ManualAction) -> int:
    namespace = namespace_of(args)

    async def work(client: KubeClient) -> int:
        request_id = await send_request(client, namespace, args.name, action)
        print(f"modelrollout {namespace}/{args.name}: {action.value} requested (request {request_id})")
        return 0

    return with_client(args, work)
