"""Reading the numbers a judge needs out of a variant's sample, refusing ones no judge can use."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from controller.analysis.observations import VariantSample

__all__ = ["UnusableObservation", "events", "point_value", "reconstruct", "representatives", "sample_count"]


class UnusableObservation(ValueError):
    """A source handed numbers no judge can use; judged as Error, since the source is at fault."""


def sample_count(sample: VariantSample | None) -> int:
    return 0 if sample is None else sample.count


def point_value(sample: VariantSample | None, variant: str) -> float | None:
    """`value` as the source gave it, else `successes / count` for a proportion; None if neither."""
    if sample is None:
        return None
    if sample.value is not None:
        if not np.isfinite(sample.value):
            raise UnusableObservation(f"{variant} value {sample.value} is not a finite number")
        return sample.value
    counted = events(sample, variant)
    if counted is None or counted[1] == 0:
        return None
    return counted[0] / counted[1]


def events(sample: VariantSample, variant: str) -> tuple[int, int] | None:
    """(successes, count) for a proportion, or None when the sample is not one."""
    if sample.successes is None:
        return None
    if sample.successes > sample.count:
        raise UnusableObservation(
            f"{variant} successes {sample.successes} exceed its count {sample.count}; expected at most the count"
        )
    return sample.successes, sample.count


def representatives(edges: list[float]) -> npt.NDArray[np.float64]:
    """One value standing for each bin: its midpoint, or its finite edge when the bin is open-ended.

    The finite edge of an open-ended first or last bin still sorts beyond every midpoint of the
    closed bins, so rank-based tests see the order they would see in the raw values.
    """
    bounds = np.asarray(edges, dtype=np.float64)
    lower, upper = bounds[:-1], bounds[1:]
    with np.errstate(invalid="ignore", over="ignore"):
        middle = (lower + upper) / 2
    middle = np.where(np.isinf(upper), lower, middle)
    return np.where(np.isinf(lower), upper, middle)


def reconstruct(edges: list[float], counts: Sequence[int] | npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """A histogram as samples: each bin's representative repeated by its count."""
    values = representatives(edges)
    if not np.all(np.isfinite(values)):
        raise UnusableObservation(f"histogram edges {edges} leave a bin with no finite edge")
    return np.repeat(values, counts)
