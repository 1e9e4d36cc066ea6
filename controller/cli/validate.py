"""`modelrollout validate FILE...`: check ModelRollout YAML and name every problem.

Prints `FILE: ok` for a sound file, or each problem with its field path, to standard output
in the order the files were given. The exit code is 0 when every file is sound and 2
otherwise, so the command can gate a CI pipeline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.api.validation import load_rollouts
from controller.errors import SpecError

__all__ = ["add_arguments", "run", "check_file"]

INVALID = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="ModelRollout YAML file; - reads standard input")


def run(args: argparse.Namespace) -> int:
    reports = [check_file(name) for name in args.files]
    for _ok, text in reports:
        print(text)
    return 0 if all(ok for ok, _text in reports) else INVALID


def check_file(name: str) -> tuple[bool, str]:
    """(sound?, the line(s) to print) for one file."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return False, f"{name}: cannot be read: {exc}"
    try:
        rollouts = load_rollouts(text, source=name)
    except SpecError as exc:
        return False, str(exc)
    names = ", ".join(rollout.name or "(unnamed)" for rollout in rollouts)
    return True, f"{name}: ok ({names})"
