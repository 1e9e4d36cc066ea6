"""`kubectl modelrollout abort NAME`: roll the candidate back now: all traffic to stable."""

from __future__ import annotations

from controller.cli.kubectl.request import verb
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run"]

add_arguments, run = verb(ManualAction.ABORT, "roll the candidate back now: all traffic to stable")
