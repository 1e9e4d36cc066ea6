"""What every kubectl verb shares: the target flags, a client, and one way to report failure."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from controller.kube.client import KubeClient, current_namespace, load_configuration
from controller.kube.errors import KubeError, NotFound

__all__ = ["FAILED", "add_target_arguments", "namespace_of", "with_client"]

FAILED = 1


def add_target_arguments(parser: argparse.ArgumentParser, *, name: bool = True) -> None:
    if name:
        parser.add_argument("name", metavar="NAME", help="the ModelRollout")
    parser.add_argument("-n", "--namespace", metavar="NS", help="namespace (default: the kubeconfig context's)")
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")


def namespace_of(args: argparse.Namespace) -> str:
    return str(args.namespace or current_namespace(args.kubeconfig, args.context))


def with_client(args: argparse.Namespace, work: Callable[[KubeClient], Coroutine[Any, Any, int]]) -> int:
    """Run `work` with a client for the kubeconfig in `args`; API failures print one line and exit 1."""
    try:
        client = KubeClient(load_configuration(args.kubeconfig, args.context), threads=2)
    except KubeError as exc:
        print(f"error: {exc}")
        return FAILED
    try:
        return asyncio.run(work(client))
    except NotFound:
        target = f"{namespace_of(args)}/{args.name}" if getattr(args, "name", None) else namespace_of(args)
        print(f"error: modelrollout {target} not found")
        return FAILED
    except KubeError as exc:
        print(f"error: {exc}")
        return FAILED
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()
