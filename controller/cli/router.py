"""`modelrollout router`: run the traffic-splitting router (the work is in the router package)."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from router.cli import add_arguments as router_arguments

    router_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from router.cli import run as run_router

    return run_router(args)
