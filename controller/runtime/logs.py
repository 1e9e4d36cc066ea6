"""The controller's log lines: text for people, or JSON lines for log pipelines (`--log-format json`).

A JSON line carries `time`, `level`, `logger`, `message`, and where they apply the rollout's
`namespace` and `rollout` (bound for the length of its reconcile by `log_fields`), its
`revision` and `step`. Fields bound here flow through contextvars, so two rollouts reconciled at
once on one event loop each keep their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from controller.api.resource import ModelRollout, revision_of
from controller.engine.actions import EmitEvent

__all__ = ["LogFormat", "configure_logging", "log_event", "log_fields"]

LogFormat = Literal["json", "text"]

# Pairs, not a dict: a context variable's default must not be mutable.
_FIELDS: ContextVar[tuple[tuple[str, object], ...]] = ContextVar("modelrollout_log_fields", default=())
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


@contextmanager
def log_fields(**fields: object) -> Iterator[None]:
    """Every line logged inside carries `fields` (a line's own `extra` wins)."""
    token = _FIELDS.set(tuple({**dict(_FIELDS.get()), **fields}.items()))
    try:
        yield
    finally:
        _FIELDS.reset(token)


class _BoundFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _FIELDS.get():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def configure_logging(format: LogFormat, level: str) -> None:
    """One handler on the root logger, to stderr, in the format asked for."""
    handler = logging.StreamHandler()
    handler.addFilter(_BoundFields())
    if format == "json":
        handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{", rename_fields=_RENAMED))
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


_events_log = logging.getLogger("controller.events")


def log_event(rollout: ModelRollout, event: EmitEvent) -> None:
    """The driver's line for each transition: the Event's reason and sentence, with the rollout's revision and step."""
    status = rollout.status
    # The revision the transition is about: the candidate, or the template's when none runs yet (first stable, a start).
    fields: dict[str, object] = {
        "namespace": rollout.namespace,
        "rollout": rollout.name,
        "revision": status.candidate_revision or revision_of(rollout.spec.template),
        "reason": event.reason,
    }
    if status.current_step is not None:
        fields["step"] = status.current_step
    level = logging.WARNING if event.type == "Warning" else logging.INFO
    _events_log.log(level, "%s: %s", event.reason, event.message, extra=fields)
