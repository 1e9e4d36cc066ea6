"""How a ModelRollout reads in a terminal: one table row, or the full status with its evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.table import Table

__all__ = ["summary_row", "wide_row", "rollout_table", "status_lines", "age", "health", "SUMMARY_COLUMNS", "WIDE_COLUMNS"]

SUMMARY_COLUMNS = ("NAME", "PHASE", "STEP", "TRAFFIC", "STABLE", "CANDIDATE", "REASON")
WIDE_COLUMNS = ("HEALTH", "REPLICAS", "READY", "AGE", "MESSAGE")


def age(created: str | None, now: datetime | None = None) -> str:
    """kubectl's AGE: `45s`, `12m`, `3h`, `9d` since the object was created."""
    if not created:
        return "-"
    seconds = ((now or datetime.now(UTC)) - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def health(status: dict[str, Any]) -> str:
    """Ready, Stalled (with its reason) or Progressing, as kstatus reads the conditions."""
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if (stalled := conditions.get("Stalled")) and stalled.get("status") == "True":
        return f"Stalled: {stalled.get('reason')}"
    if (ready := conditions.get("Ready")) and ready.get("status") == "True":
        return "Ready"
    return "Progressing" if status.get("phase") else "-"


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


def wide_row(obj: dict[str, Any]) -> tuple[str, ...]:
    status = obj.get("status") or {}
    return (
        health(status),
        str(status.get("replicas", 0)),
        str(status.get("readyReplicas", 0)),
        age(obj.get("metadata", {}).get("creationTimestamp")),
        str(status.get("message") or "-"),
    )


def rollout_table(objects: list[dict[str, Any]], with_namespace: bool, wide: bool = False) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in (("NAMESPACE",) if with_namespace else ()) + SUMMARY_COLUMNS + (WIDE_COLUMNS if wide else ()):
        table.add_column(column, no_wrap=True)
    for obj in objects:
        namespace = (str(obj.get("metadata", {}).get("namespace", "")),) if with_namespace else ()
        table.add_row(*namespace, *summary_row(obj), *(wide_row(obj) if wide else ()))
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
