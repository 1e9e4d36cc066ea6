"""The manual-action verbs: each writes one request annotation with a fresh id, then waits for the answer.

A request is refused (exit 1), naming the earlier one, while an earlier request is unhandled
(`kube/manual_send.py`). Then the verb waits until the controller has handled the id and prints
what it did (`status.lastRequest`), exiting 1 when the controller refused it, 2 when no answer
came within `--timeout`; `--no-wait` stops after the write.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from typing import Any

from controller.api.status import RequestOutcome
from controller.cli.kubectl.common import (
    FAILED,
    OK,
    TIMED_OUT,
    USAGE,
    add_target_arguments,
    duration,
    error,
    namespace_of,
    with_client,
)
from controller.cli.kubectl.outcome import read_status
from controller.cli.kubectl.waiting import follow
from controller.engine.inputs import ManualAction
from controller.kube.client import KubeClient
from controller.kube.manual_send import Pending, Precheck, Refused, send_request

__all__ = ["ANSWER_TIMEOUT_S", "verb", "add_action_arguments", "request_action", "run_action"]

ANSWER_TIMEOUT_S = 60.0


def _answer(request_id: str) -> Callable[[dict[str, Any]], RequestOutcome | None]:
    def answered(obj: dict[str, Any]) -> RequestOutcome | None:
        status = read_status(obj)
        if status.last_request_id != request_id:
            return None
        # A controller older than status.lastRequest handled it without saying how.
        return status.last_request or RequestOutcome(id=request_id, action="", handled=True, message=status.message)

    return answered


async def request_action(client: KubeClient, args: argparse.Namespace, action: ManualAction, precheck: Precheck | None = None) -> int:
    """Send `action` for args.name and, unless --no-wait, wait for and print the controller's answer."""
    namespace = namespace_of(args)
    target = f"{namespace}/{args.name}"
    try:
        request = await send_request(client, namespace, args.name, action, precheck)
    except Pending as exc:
        error(str(exc))
        return FAILED
    except Refused as exc:
        error(str(exc))
        return USAGE
    print(f"{target}: {action.value} requested (request {request.id})", flush=True)
    if args.no_wait:
        return OK
    _obj, answer = await follow(client, namespace, args.name, _answer(request.id), args.timeout)
    if answer is None:
        error(
            f"the controller has not handled {action.value} request {request.id} on {target} within {args.timeout:g}s; "
            "it stays on the rollout and is handled when the controller gets to it"
        )
        return TIMED_OUT
    if not answer.handled:
        error(f"the controller refused {action.value} on {target}: {answer.message}")
        return FAILED
    print(f"{target}: {action.value} done: {answer.message or 'handled'}", flush=True)
    return OK


def add_action_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--no-wait", action="store_true", help="write the request and exit without waiting for the controller")
    parser.add_argument(
        "--timeout", type=duration, default=ANSWER_TIMEOUT_S, metavar="D",
        help=f"how long to wait for the controller's answer before exiting 2 (default {ANSWER_TIMEOUT_S:g}s)",
    )  # fmt: skip


def verb(action: ManualAction, describe: str) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
    """(add_arguments, run) for a verb that requests `action`."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.description = describe
        add_action_arguments(parser)

    def run(args: argparse.Namespace) -> int:
        return run_action(args, lambda client: request_action(client, args, action))

    return add_arguments, run


def run_action(args: argparse.Namespace, work: Callable[[KubeClient], Coroutine[Any, Any, int]]) -> int:
    return with_client(args, work)
