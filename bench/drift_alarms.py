"""Drift monitoring's false alarms and detections, measured: `controller.analysis.drift_tests` over simulated windows.

    python -m bench.drift_alarms [--checks 1000] [--seed 13]

Every check draws a reference and a window of the same five kinds of feature (normal, skewed,
small integers on the bins' edges, a categorical, numbers with some nulls), cycled to 1, 10 and
100 features, each binned on the router's FEATURE_EDGES as the router counts it, and calls
`feature_drift` as the engine does. Printed, with 95% Wilson intervals against the configured alpha:

- the false-alarm rate: the share of checks on undrifted data that flag any feature, for the
  tests alone (minPsi 0) and with the default PSI floor (0.1), at each sample size and alpha;
- the same with one reference kept for many windows (as the engine keeps it): the rate over all
  windows, and the largest share of one reference's windows that alarm, since a reference that
  happens to sit far from the truth is found different by window after window;
- the detection rate of a planted drift in one feature of ten: a normal feature shifted by a
  stated share of its standard deviation, and a new category taking a stated share of a
  categorical feature's values, at the default alpha and floor.

A request carries one value per feature here; the router counts every instance of a batched
request, whose values may not be independent, which these figures do not cover.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

from controller.analysis.drift_tests import feature_drift
from controller.api.monitoring import DataDriftSpec, FeatureCounts
from router.stats import FEATURE_EDGES

__all__ = ["main"]

EDGES = np.asarray(FEATURE_EDGES)
COLOURS = {"red": 0.4, "green": 0.3, "blue": 0.15, "grey": 0.1, "pink": 0.03, "teal": 0.01, "gold": 0.005, "jade": 0.005}
Rng = np.random.Generator
Draw = Callable[[Rng, int], FeatureCounts]


def _numeric(values: np.ndarray) -> FeatureCounts:
    """As router.features counts numbers: bin index bisect_left(FEATURE_EDGES, value)."""
    return FeatureCounts(bins=np.bincount(np.searchsorted(EDGES, values, side="left"), minlength=len(EDGES) + 1).tolist())


def _categorical(rng: Rng, n: int, shares: dict[str, float]) -> FeatureCounts:
    counts = rng.multinomial(n, list(shares.values()))
    return FeatureCounts(categories={k: int(c) for k, c in zip(shares, counts) if c})


def _with_nulls(rng: Rng, n: int) -> FeatureCounts:
    missing = int(rng.binomial(n, 0.05))
    return FeatureCounts(bins=_numeric(rng.normal(0.0, 1.0, n - missing)).bins, categories={"null": missing} if missing else {})


KINDS: tuple[Draw, ...] = (
    lambda rng, n: _numeric(rng.normal(3.0, 2.0, n)),
    lambda rng, n: _numeric(rng.lognormal(2.0, 2.0, n)),
    lambda rng, n: _numeric(rng.poisson(3.0, n).astype(float)),
    lambda rng, n: _categorical(rng, n, COLOURS),
    _with_nulls,
)


def _features(rng: Rng, count: int, n: int) -> dict[str, FeatureCounts]:
    return {f"f{i}": KINDS[i % len(KINDS)](rng, n) for i in range(count)}


# (alpha, minPsi) pairs judged on the same findings of every check: alpha does not change the
# adjusted p-values and the floor does not change the tests, so one simulation serves all four.
SETTINGS: tuple[tuple[float, float], ...] = ((0.01, 0.0), (0.01, 0.1), (0.05, 0.0), (0.05, 0.1))


@dataclass(frozen=True)
class Row:
    """One configuration: `features` undrifted features, `reference` and `window` values each, `checks` checks."""

    label: str
    features: int
    reference: int
    window: int
    checks: int
    windows_per_reference: int = 1
    shift: tuple[str, float] | None = None  # ("mean", sd share) or ("category", share), planted in one feature


@dataclass(frozen=True)
class Result:
    row: Row
    checks: int
    hits: dict[tuple[float, float], int]
    worst_reference: dict[tuple[float, float], float]


def _run(job: tuple[Row, int]) -> Result:
    row, seed = job
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(SETTINGS, 0)
    worst = dict.fromkeys(SETTINGS, 0.0)
    references = row.checks // row.windows_per_reference
    for _ in range(references):
        reference = _features(rng, row.features, row.reference)
        flagged = [_flagged(row, reference, rng) for _ in range(row.windows_per_reference)]
        for setting in SETTINGS:
            count = sum(setting in f for f in flagged)
            hits[setting] += count
            worst[setting] = max(worst[setting], count / row.windows_per_reference)
    return Result(row, references * row.windows_per_reference, hits, worst)


def _flagged(row: Row, reference: dict[str, FeatureCounts], rng: Rng) -> set[tuple[float, float]]:
    """The settings under which this window raises an alarm (on the planted feature, when one is planted)."""
    window = _features(rng, row.features, row.window)
    watched: str | None = None
    if row.shift is not None and row.shift[0] == "mean":
        window["f0"], watched = _numeric(rng.normal(3.0 + 2.0 * row.shift[1], 2.0, row.window)), "f0"
    elif row.shift is not None:
        share = row.shift[1]
        window["f3"], watched = _categorical(rng, row.window, {**{k: v * (1 - share) for k, v in COLOURS.items()}, "violet": share}), "f3"
    findings = [f for f in feature_drift(reference, window, _SPEC) if watched is None or f.feature == watched]
    return {(a, floor) for a, floor in SETTINGS if any(f.adjusted_p_value < a and f.psi >= floor for f in findings)}


_SPEC = DataDriftSpec(alpha=0.49, min_psi=0.0, min_samples=1)  # every finding back; the settings judge them


def _rows(checks: int) -> Iterator[Row]:
    for features in (1, 10, 100):
        scaled = checks // 2 if features == 100 else checks  # 100 features: half the checks, each ten times the work
        for reference, window in ((500, 200), (5000, 1000), (20000, 5000)):
            yield Row("false alarms", features, reference, window, scaled)
    for reference, window in ((500, 1000), (5000, 1000)):
        yield Row("one reference, 40 windows", 10, reference, window, checks * 2, windows_per_reference=40)
    for reference, window in ((500, 200), (5000, 1000)):
        for shift in (("mean", 0.1), ("mean", 0.25), ("mean", 0.5), ("category", 0.02), ("category", 0.05), ("category", 0.1)):
            yield Row("detection", 10, reference, window, max(checks // 2, 100), shift=shift)


def _wilson(hits: int, total: int) -> tuple[str, float]:
    interval = stats.binomtest(hits, total).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{hits / total:6.4f} [{interval.low:.4f}, {interval.high:.4f}]", interval.low


def _lines(result: Result) -> Iterator[str]:
    row = result.row
    what = f"{row.label:<26} {row.features:>3} features  reference {row.reference:>5}  window {row.window:>5}"
    for alpha, floor in SETTINGS:
        if row.shift is not None and alpha != 0.01:
            continue
        rate, low = _wilson(result.hits[alpha, floor], result.checks)
        settings = f"alpha {alpha:<4g} minPsi {floor:<3g}"
        if row.shift is not None:
            kind, size = row.shift
            planted = f"mean + {size:g} sd" if kind == "mean" else f"new category {size:.0%}"
            yield f"{what}  {planted:<17} {settings}  detected {rate}  ({result.checks} checks)"
            continue
        point = result.hits[alpha, floor] / result.checks
        verdict = "<= alpha" if point <= alpha else ("> alpha, within noise" if low <= alpha else "ABOVE ALPHA")
        worst = f"  worst reference {result.worst_reference[alpha, floor]:.3f}" if row.windows_per_reference > 1 else ""
        yield f"{what}  {settings}  flagged {rate}  {verdict}{worst}  ({result.checks} checks)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000, help="checks per configuration (100 features: half)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    started, cpu = time.monotonic(), time.process_time()
    rows = list(_rows(args.checks))
    seeds = np.random.SeedSequence(args.seed).generate_state(len(rows))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for result in pool.map(_run, zip(rows, (int(s) for s in seeds))):
            print("\n".join(_lines(result)), flush=True)
    print(f"rates with 95% Wilson intervals; wall {time.monotonic() - started:.0f} s, this process's CPU {time.process_time() - cpu:.1f} s")


if __name__ == "__main__":
    main()
