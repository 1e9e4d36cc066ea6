"""`kubectl modelrollout pause NAME`: hold the rollout where it is until resumed."""

from __future__ import annotations

from controller.cli.kubectl.request import verb
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run"]

add_arguments, run = verb(ManualAction.PAUSE, "hold the rollout where it is until resumed")
