"""`kubectl modelrollout resume NAME`: go on after a pause."""

from __future__ import annotations

from controller.cli.kubectl.request import verb
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run"]

add_arguments, run = verb(ManualAction.RESUME, "go on after a pause")
