"""What the pages show, as plain data: one row per rollout for the list, and one rollout in full.

Pure functions of the objects the API server returns; the same data is rendered into the first
HTML answer and sent as JSON on every live update, so the page patches itself without a reload.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from controller.api.status import ModelRolloutStatus, Phase
from controller.dashboard.history import event_time, metric_series, rollout_events
from controller.engine.inputs import ManualAction
from controller.engine.phases import REQUEST_PHASES

__all__ = ["ACTIONS", "Action", "row", "detail", "read_status", "age", "health"]


@dataclass(frozen=True)
class Action:
    action: ManualAction
    label: str
    confirm: str  # what will happen, with {name}, {stable}, {candidate} filled in
    danger: bool = False


ACTIONS: tuple[Action, ...] = (
    Action(ManualAction.PROMOTE, "Promote", "Complete the current step of {name} (a pause or an analysis) now and go on to the next step."),
    Action(
        ManualAction.PROMOTE_FULL,
        "Promote full",
        "Skip every remaining step of {name}: candidate {candidate} becomes stable and gets all traffic now.",
    ),
    Action(
        ManualAction.ABORT,
        "Abort",
        "Roll {name} back now: all traffic to stable {stable}, candidate {candidate} scaled down and rejected.",
        True,
    ),
    Action(ManualAction.RETRY, "Retry", "Roll out the rejected revision of {name} again over stable {stable}."),
    Action(ManualAction.PAUSE, "Pause", "Hold {name} at its current step until resumed; the traffic split stays as it is."),
    Action(ManualAction.RESUME, "Resume", "Go on with {name} from its pause (or its stall on inconclusive results)."),
    Action(ManualAction.UNDO, "Undo", "Send all traffic of {name} back to its previous stable revision {previous}.", True),
)


def read_status(obj: dict[str, Any]) -> ModelRolloutStatus:
    try:
        return ModelRolloutStatus.model_validate(obj.get("status") or {})
    except ValueError:
        return ModelRolloutStatus()


def age(created: str | None, now: datetime) -> str:
    if not created:
        return "-"
    seconds = (now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def health(status: ModelRolloutStatus) -> str:
    """Ready, Stalled or Progressing, as kstatus reads the conditions."""
    conditions = {c.type: c for c in status.conditions}
    if (stalled := conditions.get("Stalled")) is not None and stalled.status.value == "True":
        return "Stalled"
    if (ready := conditions.get("Ready")) is not None and ready.status.value == "True":
        return "Ready"
    return "Progressing" if status.phase is not None else "Unknown"


def _step(status: ModelRolloutStatus) -> str:
    return f"{status.current_step + 1}/{status.step_count}" if status.current_step is not None else "-"


def row(obj: dict[str, Any], now: datetime) -> dict[str, Any]:
    metadata, status = obj.get("metadata") or {}, read_status(obj)
    return {
        "namespace": metadata.get("namespace", ""),
        "name": metadata.get("name", ""),
        "phase": status.phase.value if status.phase else "Pending",
        "step": _step(status),
        "split": status.traffic_summary or status.traffic.summary,
        "stable": status.stable_revision or "-",
        "candidate": status.candidate_revision or "-",
        "health": health(status),
        "age": age(metadata.get("creationTimestamp"), now),
        "created": metadata.get("creationTimestamp") or "",
        "reason": status.reason or "",
    }


def _allowed(action: ManualAction, phase: Phase | None) -> bool:
    return phase is not None and phase in REQUEST_PHASES[action]


def _actions(name: str, status: ModelRolloutStatus) -> list[dict[str, Any]]:
    fill = {"name": name, "stable": status.stable_revision or "-", "candidate": status.candidate_revision or "-",
            "previous": status.previous_stable_revision or "-"}  # fmt: skip
    return [
        {"action": a.action.value, "label": a.label, "confirm": a.confirm.format(**fill), "danger": a.danger,
         "enabled": _allowed(a.action, status.phase)}
        for a in ACTIONS
    ]  # fmt: skip


def _steps(names: list[str], status: ModelRolloutStatus) -> list[dict[str, Any]]:
    current = status.current_step
    return [
        {"index": i, "name": name, "state": "current" if i == current else "done" if current is not None and i < current else "todo"}
        for i, name in enumerate(names)
    ]


def _event(event: dict[str, Any]) -> dict[str, Any]:
    when = event_time(event)
    return {"time": when.isoformat() if when else "", "type": event.get("type", ""), "reason": event.get("reason", ""),
            "message": event.get("message", ""), "count": int(event.get("count") or 1)}  # fmt: skip


def _monitoring(status: ModelRolloutStatus) -> dict[str, Any] | None:
    """The monitored model's last check and its findings, as the page shows them; None when not monitored."""
    monitoring = status.monitoring
    if monitoring is None:
        return None
    reference = monitoring.reference
    check = monitoring.last_check
    described = "being captured"
    if reference is not None:
        of = f" of revision {reference.revision}" if reference.revision else ""
        described = f"{reference.source}, {reference.samples} samples{of}"
    return {
        "revision": monitoring.revision,
        "reference": described,
        "check": check.model_dump(mode="json", by_alias=True) if check else None,
        "findings": [f.model_dump(mode="json", by_alias=True) for f in monitoring.findings],
        "predictions": monitoring.prediction_finding.model_dump(mode="json", by_alias=True) if monitoring.prediction_finding else None,
        "episodes": [e.model_dump(mode="json", by_alias=True) for e in reversed(monitoring.episodes)],
    }


def detail(
    obj: dict[str, Any], step_names: list[str], events: list[dict[str, Any]], routers: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """Everything the rollout page shows, JSON-ready."""
    status = read_status(obj)
    name = (obj.get("metadata") or {}).get("name", "")
    traffic = status.traffic
    return {
        **row(obj, now),
        "message": status.message,
        "rejected": status.rejected_revision or "",
        "traffic": {
            "stable": traffic.stable,
            "candidate": traffic.candidate,
            "mirror": traffic.mirror,
            "headerRoute": traffic.header_route.model_dump(by_alias=True) if traffic.header_route else None,
        },  # fmt: skip
        "steps": _steps(step_names, status),
        "routers": routers,
        "evidence": [r.model_dump(mode="json", by_alias=True) for r in reversed(status.evidence)],
        "conditions": [c.model_dump(mode="json", by_alias=True) for c in status.conditions],
        "monitoring": _monitoring(status),
        "events": [_event(e) for e in reversed(rollout_events(events, obj)[-30:])],
        "charts": [
            {"metric": s.metric, "kind": s.kind, "unit": s.unit, "points": [{**asdict(p), "t": p.t.isoformat()} for p in s.points]}
            for s in metric_series(obj, status)
        ],
        "actions": _actions(name, status),
        "lastRequest": status.last_request.model_dump(by_alias=True) if status.last_request else None,
        "at": now.astimezone(UTC).isoformat(),
    }
