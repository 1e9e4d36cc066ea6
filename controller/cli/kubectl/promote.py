"""`kubectl modelrollout promote NAME [--full]`: complete the current step, or with --full skip to the end."""

from __future__ import annotations

import argparse

from controller.cli.kubectl.common import add_target_arguments
from controller.cli.kubectl.request import verb
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run"]

_STEP = verb(ManualAction.PROMOTE, "complete the current step (a pause, an analysis) and go on")
_FULL = verb(ManualAction.PROMOTE_FULL, "skip every remaining step and promote the candidate now")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--full", action="store_true", help="skip every remaining step and promote now")


def run(args: argparse.Namespace) -> int:
    return (_FULL if args.full else _STEP)[1](args)
