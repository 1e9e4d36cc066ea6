"""Traffic that drifts on a signal: some input features move (data drift) and some labels flip (concept drift).

`InputDrift` says what changes: features scaled and shifted by their position in a KServe v1
instance (the router names position `i` feature `"i"`), and a share of the 0/1 labels flipped,
so the model's accuracy falls while its inputs still look as they did. `drift_request` applies it
to one request (pure; randomness comes in as a generator). `DriftSwitch` wraps any request
iterator and starts drifting when `start()` is called, e.g. once the monitored model's reference
has been captured, so drift begins on an event rather than after a guessed delay.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.local.loadgen import TrafficRequest

__all__ = ["InputDrift", "DriftSwitch", "drift_request"]


class InputDrift(BaseModel):
    """What drifted traffic changes: `value * scale[i] + shift[i]` for feature position i, and a share of labels flipped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scale: dict[int, float] = Field(default_factory=dict, description="feature position -> factor")
    shift: dict[int, float] = Field(default_factory=dict, description="feature position -> amount added after scaling")
    flip_labels: float = Field(default=0.0, ge=0.0, le=1.0, description="share of 0/1 labels turned into the other class")

    @model_validator(mode="after")
    def _positions(self) -> InputDrift:
        if bad := [p for p in (*self.scale, *self.shift) if p < 0]:
            raise ValueError(f"feature positions must be 0 or more, got {bad}")
        return self

    @property
    def features(self) -> list[str]:
        """The drifted features as the router names them."""
        return [str(position) for position in sorted({*self.scale, *self.shift})]


def drift_request(request: TrafficRequest, drift: InputDrift, draw: np.random.Generator) -> TrafficRequest:
    """`request` with every instance's drifted features moved and, with chance `flip_labels`, its 0/1 label flipped."""
    instances = request.body.get("instances")
    body = request.body
    if isinstance(instances, list):
        body = {**request.body, "instances": [_moved(instance, drift) for instance in instances]}
    label = request.label
    if drift.flip_labels > 0 and label in (0, 1) and draw.random() < drift.flip_labels:
        # bool is an int: keep the label's own type so `True` stays a boolean.
        label = (not label) if isinstance(label, bool) else 1 - int(label)
    return request.model_copy(update={"body": body, "label": label})


def _moved(instance: Any, drift: InputDrift) -> Any:
    if not isinstance(instance, list):
        return instance
    moved = list(instance)
    for position in {*drift.scale, *drift.shift}:
        if position < len(moved) and isinstance(moved[position], int | float) and not isinstance(moved[position], bool):
            moved[position] = round(moved[position] * drift.scale.get(position, 1.0) + drift.shift.get(position, 0.0), 6)
    return moved


class DriftSwitch:
    """Requests from `source`, unchanged until `start()`, drifted by `drift` from then on."""

    def __init__(self, source: Iterator[TrafficRequest], drift: InputDrift, *, seed: int = 1) -> None:
        self._source = source
        self._drift = drift
        self._draw = np.random.default_rng(seed)
        self._drifting = False
        self.drifted = 0

    @property
    def drift(self) -> InputDrift:
        return self._drift

    @property
    def drifting(self) -> bool:
        return self._drifting

    def start(self) -> None:
        """Drift every request drawn from now on; calling it again changes nothing."""
        self._drifting = True

    def __iter__(self) -> DriftSwitch:
        return self

    def __next__(self) -> TrafficRequest:
        request = next(self._source)
        if not self._drifting:
            return request
        self.drifted += 1
        return drift_request(request, self._drift, self._draw)
