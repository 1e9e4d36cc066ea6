"""`modelrollout router` and `python -m router`: parse the command line, run the router."""

from __future__ import annotations

import argparse
from pathlib import Path

from router.logs import configure_logging

__all__ = ["add_arguments", "parse_address", "run"]


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:8080`) -> (host, port); argparse shows the ValueError."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT with a port in 1..65535")
    return host.strip("[]"), int(port)


def _configmap(text: str) -> tuple[str, str]:
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAMESPACE/NAME")
    return namespace, name


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1, e.g. 0.01 for one request in a hundred")
    return share


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, metavar="FILE", help="config file (JSON or YAML), reloaded when it changes")
    source.add_argument(
        "--configmap", type=_configmap, metavar="NAMESPACE/NAME", help="watch this ConfigMap (key router.json, router.yaml or config.yaml)"
    )
    parser.add_argument(
        "--listen", type=parse_address, default=("127.0.0.1", 8080), metavar="HOST:PORT", help="data port (default 127.0.0.1:8080)"
    )
    parser.add_argument(
        "--admin-listen", type=parse_address, default=("127.0.0.1", 9090), metavar="HOST:PORT", help="admin port (default 127.0.0.1:9090)"
    )
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig for --configmap outside a pod (default: $KUBECONFIG or ~/.kube/config)"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"], help="json: one JSON object a line")
    parser.add_argument(
        "--access-log-sample",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="log this share of answered requests, 0..1, e.g. 0.01 (default 0: no access log)",
    )


def run(args: argparse.Namespace) -> int:
    import uvloop

    from router.app import Address, RouterOptions, serve

    configure_logging(args.log_format, args.log_level)
    options = RouterOptions(
        listen=Address(*args.listen),
        admin_listen=Address(*args.admin_listen),
        config_file=args.config,
        configmap=args.configmap,
        kubeconfig=args.kubeconfig,
        access_log_sample=args.access_log_sample,
    )
    return uvloop.run(serve(options))
