"""`kubectl modelrollout undo NAME`: go back to the previous stable revision."""

from __future__ import annotations

from controller.cli.kubectl.request import verb
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run"]

add_arguments, run = verb(ManualAction.UNDO, "go back to the previous stable revision")
