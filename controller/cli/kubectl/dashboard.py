"""`kubectl modelrollout dashboard [--port P] [--address A]`: the web dashboard of the rollouts you can see.

It reads with your kubeconfig (in a pod: its ServiceAccount) and binds to 127.0.0.1 unless told
otherwise. Bound to loopback it acts as you; bound beyond it, it is read-only unless
`--token-file` gives a bearer token that every action must carry, or `--kubernetes-identity` lets
a person act with their own Kubernetes token (as far as their RBAC lets them patch the rollout).
`--read-only` turns actions off.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import webbrowser
from pathlib import Path
from urllib.parse import urlsplit

from controller.cli.kubectl.common import OK, USAGE, error, namespace_of, with_client
from controller.dashboard.app import DashboardSettings
from controller.dashboard.security import Guard
from controller.dashboard.server import serve, visible_namespaces
from controller.kube.client import KubeClient

__all__ = ["add_arguments", "run", "TOKEN_ENV"]

TOKEN_ENV = "MODELROLLOUT_DASHBOARD_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address", default="127.0.0.1", metavar="ADDR", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=3100, metavar="P", help="port to listen on (default 3100; 0 picks a free one)")
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="show only this namespace (repeatable; default: all you can list)",
    )
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG, ~/.kube/config, or the pod's service account)"
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"bearer token actions must carry (or ${TOKEN_ENV}); needed for actions beyond localhost",
    )
    parser.add_argument(
        "--kubernetes-identity",
        action="store_true",
        help="also accept a person's own Kubernetes bearer token for an action, if the API server says they may patch the rollout",
    )
    parser.add_argument("--read-only", action="store_true", help="no action buttons, whoever asks")
    parser.add_argument(
        "--prometheus", metavar="URL", help="a Prometheus scraping the routers: charts of every router metric over the whole rollout"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a browser")


def _user_name() -> str:
    """Who runs the dashboard, for the Events of local actions; a container's uid may have no name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is not None:
        token = args.token_file.read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(f"--token-file {args.token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def run(args: argparse.Namespace) -> int:
    if args.prometheus is not None and urlsplit(args.prometheus).scheme not in ("http", "https"):
        error(f"--prometheus {args.prometheus!r} is not an http(s) URL, e.g. http://prometheus.monitoring:9090")
        return USAGE
    if not 0 <= args.port < 65536:
        error(f"--port {args.port} is outside 0..65535")
        return USAGE
    try:
        token = _token(args)
    except (OSError, ValueError) as exc:
        error(f"cannot read the dashboard token: {exc}")
        return USAGE
    guard = Guard(address=args.address, token=token, allow_actions=not args.read_only, kube_identity=args.kubernetes_identity)
    who = f"{_user_name()} (kubeconfig)"
    args.namespace = tuple(dict.fromkeys(args.namespace))
    args.name = None

    async def work(client: KubeClient) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        namespaces = await visible_namespaces(client, args.namespace, namespace_of(_target(args)))

        def listening(url: str) -> None:
            print(f"dashboard on {url} ({'actions on' if guard.actions_enabled else 'read-only'}); Ctrl-C stops it", flush=True)
            if args.open:
                webbrowser.open(url)

        try:
            settings = DashboardSettings(guard, who)
            await serve(
                client, namespaces, args.address, args.port, settings, stop=stop, on_listening=listening, prometheus=args.prometheus
            )
        except OSError as exc:
            error(f"cannot listen on {args.address}:{args.port}: {exc.strerror or exc}")
            return USAGE
        return OK

    return with_client(args, work)


def _target(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(namespace=None, kubeconfig=args.kubeconfig, context=args.context)
