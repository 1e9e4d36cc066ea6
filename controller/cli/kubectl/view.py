"""How a ModelRollout reads in a terminal: one table row, or the full status with its evidence."""

from __future__ import annotations

from typing import Any

from rich.table import Table

__all__ = ["summary_row", "rollout_table", "status_lines", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = ("NAME", "PHASE", "STEP", "TRAFFIC", "STABLE", "CANDIDATE", "REASON")


def _step(status: dict[str, Any]) -> str:
    current, count = status.get("currentStep"), status.get("stepCount") or 0
    return f"{current + 1}/{count}" if isinstance(current, int) else "-"


def summary_row(obj: dict[str, Any]) -> tuple[str, ...]:
    status = obj.get("status") or {}
    return (
        str(obj.get("metadata", {}).get("name", "")),
        str(status.get("phase") or "-"),
        _step(status),
        str(status.get("trafficSummary") or "-"),
        str(status.get("stableRevision") or "-"),
        str(status.get("candidateRevision") or "-"),
        str(status.get("reason") or "-"),
    )


def rollout_table(objects: list[dict[str, Any]], with_namespace: bool) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in (("NAMESPACE",) if with_namespace else ()) + SUMMARY_COLUMNS:
        table.add_column(column, no_wrap=True)
    for obj in objects:
        namespace = (str(obj.get("metadata", {}).get("namespace", "")),) if with_namespace else ()
        table.add_row(*namespace, *summary_row(obj))
    return table


def status_lines(obj: dict[str, Any], evidence: int = 5) -> list[str]:
    status = obj.get("status") or {}
    metadata = obj.get("metadata", {})
    lines = [
        f"{metadata.get('namespace')}/{metadata.get('name')}: {status.get('phase') or 'Pending'} "
        + f"({status.get('reason') or 'no decision yet'})",
        f"  message:   {status.get('message') or '-'}",
        (
            f"  stable:    {status.get('stableRevision') or '-'}    candidate: {status.get('candidateRevision') or '-'}"
            + (f"    rejected: {status['rejectedRevision']}" if status.get("rejectedRevision") else "")
        ),
        f"  step:      {_step(status)}    traffic: {status.get('trafficSummary') or '-'}",
    ]
    for condition in status.get("conditions") or []:
        lines.append(f"  {condition.get('type')}: {condition.get('status')} ({condition.get('reason')})")
    for record in (status.get("evidence") or [])[-evidence:]:
        lines.append(
            f"  {record.get('time')} {record.get('metric')} [{record.get('scope')}] {record.get('verdict')}: {record.get('reason')}"
        )
    return lines
