"""`modelrollout` and `kubectl-modelrollout`: one dispatcher, one module per subcommand.

Subcommand modules are imported only when run, so `modelrollout crd` does not pay for the
router's or the Kubernetes client's imports. Each module exposes `add_arguments(parser)` and
`run(args) -> int` (the process exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main", "kubectl_main", "COMMANDS", "KUBECTL_COMMANDS"]

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "crd": ("controller.cli.crd", "print the ModelRollout CRD generated from the API models"),
    "validate": ("controller.cli.validate", "check ModelRollout YAML files and name every problem"),
    # The router is its own program (it never imports the controller); `modelrollout router` is its front door.
    "router": ("router.cli", "run the traffic-splitting router"),
    "demo": ("controller.cli.demo", "run a whole model rollout on this machine"),
    "run": ("controller.cli.run", "roll out a candidate against model servers you already run"),
    "replay": ("controller.cli.replay", "judge recorded traffic (each request once) with a rollout's analysis"),
    "baseline": ("controller.cli.baseline", "summarise training data into the reference that drift monitoring compares with"),
    "controller": ("controller.cli.operator", "run the Kubernetes operator"),
}

# kubectl plugin verbs: `kubectl modelrollout get|status|promote|...`
KUBECTL_COMMANDS: dict[str, tuple[str, str]] = {
    "get": ("controller.cli.kubectl.get", "list ModelRollouts with phase, step, split and revisions"),
    "status": ("controller.cli.kubectl.status", "one rollout's status and evidence; --watch follows it, --timeout waits for it to settle"),
    "promote": ("controller.cli.kubectl.promote", "complete the current step; --full promotes now"),
    "abort": ("controller.cli.kubectl.abort", "roll the candidate back: all traffic to stable"),
    "retry": ("controller.cli.kubectl.retry", "roll out a rejected revision again"),
    "pause": ("controller.cli.kubectl.pause", "hold the rollout until resumed"),
    "resume": ("controller.cli.kubectl.resume", "go on after a pause"),
    "undo": ("controller.cli.kubectl.undo", "go back to the previous stable revision"),
    "sidecar": ("controller.cli.kubectl.sidecar", "print the router sidecar and pod-spec fragment, for injecting by hand"),
    "wait": ("controller.cli.kubectl.wait", "wait until a ModelRollout is healthy, promoted or degraded; the exit code says which"),
    "report": ("controller.cli.kubectl.report", "write a rollout's self-contained report.html and report.json"),
    "dashboard": ("controller.cli.kubectl.dashboard", "serve the web dashboard of the rollouts you can see"),
}


def _parser(prog: str, commands: dict[str, tuple[str, str]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Progressive delivery for ML models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in commands.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _dispatch(prog: str, commands: dict[str, tuple[str, str]], argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in commands:
        _parser(prog, commands).parse_args(args)  # prints usage and exits 2 on an unknown command
        return 2
    name, rest = args[0], args[1:]
    module = importlib.import_module(commands[name][0])
    parser = argparse.ArgumentParser(prog=f"{prog} {name}", description=commands[name][1])
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(rest)))


def main(argv: Sequence[str] | None = None) -> int:
    return _dispatch("modelrollout", COMMANDS, argv)


def kubectl_main(argv: Sequence[str] | None = None) -> int:
    return _dispatch("kubectl modelrollout", KUBECTL_COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
