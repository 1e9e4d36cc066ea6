"""`python -m tests.fakekube --port P`: the Kubernetes API stand-in as a process of its own.

Prints one line, `fakekube listening on http://127.0.0.1:P`, once it accepts requests, and
serves until SIGTERM or SIGINT. Faults are injected over HTTP (see `tests.fakekube.admin`).

Unlike the in-process `FakeKube`, this process lets EndpointSlices list loopback addresses,
which a real server refuses: the controller benchmark runs `modelrollout controller` as it
ships (no address adapter) against simulated routers that can only answer on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from tests.fakekube.harness import bind_socket, serve_until
from tests.fakekube.kubeconfig import write_kubeconfig
from tests.fakekube.server import ApiServer
from tests.fakekube.store import Store

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fakekube", description="In-memory Kubernetes API server for tests.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--kubeconfig", help="write a kubeconfig pointing at the server to this path")
    parser.add_argument(
        "--ready-after", type=float, default=None, metavar="SECONDS", help="mark Deployments ready this long after each change"
    )
    parser.add_argument("--history", type=int, default=10_000, help="watch events kept per resource type (default: %(default)s)")
    parser.add_argument("--namespace", action="append", default=None, help="namespace to create at start (repeatable; default: default)")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    store = Store(history_size=args.history, loopback_endpoints=True)
    for namespace in args.namespace or ["default"]:
        store.create("namespaces", None, {"metadata": {"name": namespace}})
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    def started(url: str) -> None:
        if args.kubeconfig:
            write_kubeconfig(args.kubeconfig, url)
        print(f"fakekube listening on {url}", flush=True)

    await serve_until(ApiServer(store), bind_socket(args.host, args.port), stopping, args.ready_after, started)


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with _runner() as runner:
            runner.run(_serve(args))
    except OSError as exc:
        print(f"fakekube cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
