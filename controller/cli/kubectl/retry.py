"""`kubectl modelrollout retry NAME`: roll out a rejected revision again."""

from __future__ import annotations

from controller.cli.kubectl.request import verb
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run"]

add_arguments, run = verb(ManualAction.RETRY, "roll out a rejected revision again")
