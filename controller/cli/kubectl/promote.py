"""`kubectl modelrollout promote NAME [--full]`: complete the current step, or with --full skip to the end."""

from __future__ import annotations

import argparse

from controller.cli.kubectl.request import add_action_arguments, request_action, run_action
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_action_arguments(parser)
    parser.add_argument("--full", action="store_true", help="skip every remaining step and promote now")


def run(args: argparse.Namespace) -> int:
    action = ManualAction.PROMOTE_FULL if args.full else ManualAction.PROMOTE
    return run_action(args, lambda client: request_action(client, args, action))
