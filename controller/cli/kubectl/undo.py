"""`kubectl modelrollout undo NAME [--to-revision H]`: go back to the previous stable revision.

Only the previous stable revision is kept to go back to, so `--to-revision` names it to be sure
of what happens: any other revision is refused before a request is written.
"""

from __future__ import annotations

import argparse
from typing import Any

from controller.cli.kubectl.outcome import read_status
from controller.cli.kubectl.request import add_action_arguments, request_action, run_action
from controller.engine.inputs import ManualAction

__all__ = ["add_arguments", "run", "revision_problem"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "go back to the previous stable revision"
    add_action_arguments(parser)
    parser.add_argument("--to-revision", metavar="H", help="the revision to go back to; only the previous stable one is kept")


def revision_problem(obj: dict[str, Any], wanted: str | None) -> str | None:
    """Why `wanted` cannot be undone to, or None when it can (or none was named)."""
    if wanted is None:
        return None
    status = read_status(obj)
    previous, name = status.previous_stable_revision, obj.get("metadata", {}).get("name")
    if previous is None:
        return f"--to-revision {wanted}: {name} has no previous stable revision to go back to"
    if status.candidate_revision is not None:
        rolling, stable = status.candidate_revision, status.stable_revision
        return f"--to-revision {wanted}: {name} is rolling out {rolling}; an undo now aborts to stable {stable}"
    if wanted != previous:
        return f"--to-revision {wanted}: only the previous stable revision {previous} is kept to go back to"
    return None


def run(args: argparse.Namespace) -> int:
    return run_action(
        args, lambda client: request_action(client, args, ManualAction.UNDO, lambda obj: revision_problem(obj, args.to_revision))
    )
