"""What every kubectl verb shares: the target flags, a client, exit codes, and one way to report failure.

Exit codes are what a pipeline gates on: 0 done (or the state waited for was reached), 1 the
rollout ended in another state, the controller refused, or the API server did; 2 a usage error
or a wait that timed out. Errors go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from controller.api.base import parse_duration
from controller.kube.client import KubeClient, current_namespace, load_configuration
from controller.kube.errors import KubeError, NotFound

__all__ = ["OK", "FAILED", "USAGE", "TIMED_OUT", "add_target_arguments", "duration", "error", "namespace_of", "with_client"]

OK = 0
FAILED = 1
USAGE = 2
TIMED_OUT = 2


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def duration(text: str) -> float:
    """`--timeout 5m` for argparse: a duration with a unit, as the resource writes them."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_target_arguments(parser: argparse.ArgumentParser, *, name: bool = True) -> None:
    if name:
        parser.add_argument("name", metavar="NAME", help="the ModelRollout")
    parser.add_argument("-n", "--namespace", metavar="NS", help="namespace (default: the kubeconfig context's)")
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")


def namespace_of(args: argparse.Namespace) -> str:
    return str(args.namespace or current_namespace(args.kubeconfig, args.context))


def with_client(args: argparse.Namespace, work: Callable[[KubeClient], Coroutine[Any, Any, int]]) -> int:
    """Run `work` with a client for the kubeconfig in `args`; API failures print one line to stderr and exit 1."""
    try:
        client = KubeClient(load_configuration(args.kubeconfig, args.context), threads=2)
    except KubeError as exc:
        error(str(exc))
        return USAGE
    try:
        return asyncio.run(work(client))
    except NotFound:
        target = f"{namespace_of(args)}/{args.name}" if getattr(args, "name", None) else namespace_of(args)
        error(f"modelrollout {target} not found")
        return FAILED
    except KubeError as exc:
        error(str(exc))
        return FAILED
    except KeyboardInterrupt:
        return OK
    finally:
        client.close()
