"""The controller's error tree.

    ModelRolloutError
     ├── SpecError            the user must act: a field path, the bad value, what was expected
     ├── DependencyError      something we depend on failed (cluster, router, provider); chained cause
     └── IllegalTransition    a bug: the engine met a (phase, event) pair it has no rule for
"""

from __future__ import annotations

__all__ = ["ModelRolloutError", "SpecError", "DependencyError", "IllegalTransition"]


class ModelRolloutError(Exception):
    """Root of every error the controller raises on purpose."""


class SpecError(ModelRolloutError):
    """A ModelRollout spec (or file given to the CLI) is wrong; the message names the field."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class DependencyError(ModelRolloutError):
    """A system we rely on (Kubernetes API, router, metric provider) failed."""


class IllegalTransition(ModelRolloutError):
    """The engine reached a state/event pair it has no rule for: always a bug."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"no rule for event {event!r} in state {state!r}")
        self.state = state
        self.event = event
