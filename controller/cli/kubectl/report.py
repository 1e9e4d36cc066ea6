"""`kubectl modelrollout report NAME --out DIR`: the self-contained report.html (and report.json) local mode writes.

Drawn from what the cluster keeps: the evidence trail in status (charts and the evidence table)
and the controller's Events (the step timeline, for as long as the API server keeps Events).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from controller.cli.kubectl.common import OK, USAGE, add_target_arguments, error, namespace_of, with_client
from controller.cli.kubectl.outcome import read_status
from controller.dashboard.history import report_of
from controller.kube.client import EVENT, MODELROLLOUT, KubeClient
from controller.local.report import write_report

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write report.html and report.json into")


def run(args: argparse.Namespace) -> int:
    namespace = namespace_of(args)
    if args.out.exists() and not args.out.is_dir():
        error(f"--out {args.out} is a file, not a directory")
        return USAGE

    async def work(client: KubeClient) -> int:
        obj = await client.get(MODELROLLOUT, namespace, args.name)
        events, _version = await client.list(EVENT, namespace)
        report = report_of(obj, read_status(obj), events, datetime.now(UTC))
        try:
            json_path, html_path = write_report(report, args.out)
        except OSError as exc:
            error(f"cannot write the report into {args.out}: {exc.strerror or exc}")
            return USAGE
        print(f"wrote {html_path} and {json_path}")
        return OK

    return with_client(args, work)
