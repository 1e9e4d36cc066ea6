"""Decision quality, measured: how often a good model is rolled back, and a bad one promoted.

    python -m bench.decisions [--rollouts 1000] [--bad-rollouts 400] [--examples canary.yaml ...]

Drives the real engine (`decide`, `due_measurements`) and judges on a simulated clock over
synthetic traffic (`bench.decision_streams`), for every example in manifests/examples with its own
settings: 1,000 rollouts per good case and 400 per bad one by default, and the same rollouts again
with a fixed-threshold judge of the kind Flagger uses as the reference (`bench.decision_cases`).
For each example and case it prints the false-rollback rate (a good candidate rolled back), the
missed-regression rate (a bad one promoted), each with its 95% Wilson interval, and the median
candidate samples and rollout minutes to the decision with 95% intervals (order statistics). A
rollout still undecided after HORIZON_S, or paused on Inconclusive measurements, counts as neither
promoted nor rolled back. Examples run in parallel over the machine's cores; the cases of one
example under one judge share one tree of the engine's decisions. The last line gives the wall
time and the CPU time of the run.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats

from bench.decision_cases import EXAMPLES, Case, as_read, cases, load_example, reference_spec, watched_signals
from bench.decision_streams import Stream
from controller.analysis.judge import judge
from controller.analysis.observations import MetricObservation
from controller.api.resource import ModelRollout, revision_of
from controller.api.status import Verdict
from controller.engine.actions import Action, EnsureRevision, ScaleRevision
from controller.engine.confidence import windows_tested
from controller.engine.decide import decide, due_measurements
from controller.engine.inputs import MeasurementRequest, Observations, ScopedObservation
from controller.engine.validity import checked_steps
from controller.strategies.steps import Analysis, Pause

__all__ = ["Outcome", "Paths", "walk", "main"]

T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
HORIZON_S = 3 * 3600.0
PROMOTED, ROLLED_BACK, UNDECIDED = "promoted", "rolled back", "undecided"


@dataclass(frozen=True)
class Outcome:
    decision: str
    seconds: float
    samples: int


def _candidate_template(template: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    changed.setdefault("metadata", {}).setdefault("annotations", {})["bench/candidate"] = "1"
    return changed


def _tick_s(rollout: ModelRollout) -> float:
    """The clock's step: the shortest analysis interval or pause, so no measurement waits on the clock."""
    steps, _ = checked_steps(rollout.spec)
    spans = [s.interval_s for s in steps if isinstance(s, Analysis)]
    spans += [s.duration_s for s in steps if isinstance(s, Pause) and s.duration_s]
    if rollout.spec.analysis is not None:
        spans.append(rollout.spec.analysis.interval)
    return min(spans, default=30.0)


@dataclass
class _Node:
    """The engine's state after a run of verdicts, and the measurements due at its next tick (`at`)."""

    rollout: ModelRollout
    now: datetime
    at: datetime
    replicas: dict[str, int]
    wanted: list[MeasurementRequest]
    ending: str | None
    children: dict[tuple[Verdict, ...], _Node] = field(default_factory=dict)


class Paths:
    """The engine's decisions for one example, keyed by the verdicts that drove them.

    What `decide` does with a measurement depends on its verdict alone (the numbers behind it go to
    the evidence trail, which no later decision reads), and the clock, the splits and the pods follow
    from the decisions. So every rollout is judged by the real judge on its own traffic at every look,
    and `decide` runs once for each new sequence of verdicts; rollouts judged alike share its result.
    """

    def __init__(self, document: dict[str, Any], reference: bool) -> None:
        self.reference = reference
        rollout = ModelRollout.model_validate(document)
        stable = decide(rollout, Observations(), T0)  # the first decision makes the template the stable revision
        spec = rollout.spec.model_copy(update={"template": _candidate_template(document["spec"]["template"])})
        metadata = {**rollout.metadata, "generation": rollout.generation + 1}
        rollout = rollout.model_copy(update={"spec": spec, "metadata": metadata, "status": stable.status})
        self.candidate = revision_of(spec.template)
        steps, _ = checked_steps(rollout.spec)
        self.tests = windows_tested(rollout.spec, steps)
        self.tick_s = _tick_s(rollout)
        self.root = self._node(rollout, T0, _scaled({}, stable.actions))

    def _node(self, rollout: ModelRollout, now: datetime, replicas: dict[str, int]) -> _Node:
        later = now + timedelta(seconds=self.tick_s)
        return _Node(rollout, now, later, replicas, due_measurements(rollout, later), self._ending(rollout, now))

    def measure(self, node: _Node, stream: Stream) -> list[MetricObservation]:
        measured = stream.observe(node.wanted, node.rollout.status.traffic, node.at)
        return [as_read(r.metric, o) for r, o in zip(node.wanted, measured)] if self.reference else measured

    def next(self, node: _Node, measured: list[MetricObservation]) -> _Node:
        """The node the engine reaches from `node` with these measurements at the next tick."""
        verdicts = tuple([judge(r.metric, o, self.tests).verdict for r, o in zip(node.wanted, measured)])
        child = node.children.get(verdicts)
        if child is None:
            observations = Observations(
                measurements=[ScopedObservation(scope=r.scope, observation=o) for r, o in zip(node.wanted, measured)],
                ready_revisions=frozenset(r for r, n in node.replicas.items() if n > 0),
            )
            decision = decide(node.rollout, observations, node.at)
            rollout = node.rollout.model_copy(update={"status": decision.status})
            child = node.children[verdicts] = self._node(rollout, node.at, _scaled(node.replicas, decision.actions))
        return child

    def _ending(self, rollout: ModelRollout, now: datetime) -> str | None:
        status = rollout.status
        if status.stable_revision == self.candidate:
            return PROMOTED
        if status.rejected_revision == self.candidate:
            return ROLLED_BACK
        if (status.pause is not None and status.pause.reason == "inconclusive") or (now - T0).total_seconds() >= HORIZON_S:
            return UNDECIDED
        return None


def _scaled(replicas: dict[str, int], actions: list[Action]) -> dict[str, int]:
    """Pods as the cluster runs them once the actions are carried out: ready by the next tick."""
    scaled = dict(replicas)
    for action in actions:
        if isinstance(action, (EnsureRevision, ScaleRevision)):
            scaled[action.revision] = action.replicas
    return scaled


def walk(paths: Paths, case: Case, seed: tuple[int, ...]) -> Outcome:
    """One rollout with the case's candidate, to its decision; `seed` fixes its traffic."""
    stream = Stream(rng=np.random.default_rng(seed), rps=case.rps, candidate=case.candidate)
    node = paths.root
    while node.ending is None:
        node = paths.next(node, paths.measure(node, stream))
    return Outcome(node.ending, (node.now - T0).total_seconds(), stream.candidate_samples)


@dataclass(frozen=True)
class _Task:
    """Every case of one example under one judge: they share one tree of the engine's decisions."""

    example: str
    reference: bool
    cases: tuple[tuple[int, Case, int], ...]  # (index among all cases, case, rollouts)

    @property
    def rollouts(self) -> int:
        return sum(count for _, _, count in self.cases)


def _run_task(task: _Task) -> tuple[_Task, list[list[Outcome]], float]:
    """The task's outcomes, case by case, and the CPU seconds they took."""
    started = time.process_time()
    document = load_example(task.example)
    if task.reference:
        document = reference_spec(document)
    paths = Paths(document, task.reference)
    outcomes = []
    for index, case, rollouts in task.cases:
        # The reference walks the same seeds: the same traffic, as far as the two judges take the same steps.
        seeds = [(zlib.crc32(task.example.encode()), index, rollout) for rollout in range(rollouts)]
        outcomes.append([walk(paths, case, seed) for seed in seeds])
    return task, outcomes, time.process_time() - started


def _wilson(hits: int, total: int) -> str:
    if total == 0:
        return "n/a"
    interval = stats.binomtest(hits, total).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{hits / total:6.2%} [{interval.low:.2%}, {interval.high:.2%}]"


def _median(values: list[float], show: Callable[[float], str]) -> str:
    if len(values) < 3:
        return "n/a"
    ordered = np.sort(np.asarray(values, dtype=float))
    n = len(ordered)
    # Distribution-free interval for the median: order statistics at the binomial(n, 1/2) quantiles.
    low = int(stats.binom.ppf(0.025, n, 0.5))
    high = min(int(stats.binom.isf(0.025, n, 0.5)), n - 1)
    return f"{show(float(np.median(ordered)))} [{show(float(ordered[max(low - 1, 0)]))}, {show(float(ordered[high]))}]"


def _summary(case: Case, outcomes: list[Outcome]) -> dict[str, str]:
    wrong = ROLLED_BACK if case.good else PROMOTED
    decided = [o for o in outcomes if o.decision != UNDECIDED]
    return {
        "rate": _wilson(sum(o.decision == wrong for o in outcomes), len(outcomes)),
        "undecided": f"{sum(o.decision == UNDECIDED for o in outcomes) / len(outcomes):.1%}",
        "samples": _median([o.samples for o in decided], lambda v: f"{v:,.0f}"),
        "minutes": _median([o.seconds / 60 for o in decided], lambda v: f"{v:.1f}"),
    }


def _tasks(examples: list[str], good_rollouts: int, bad_rollouts: int) -> tuple[list[_Task], dict[str, set[str]]]:
    tasks: list[_Task] = []
    watched: dict[str, set[str]] = {}
    for example in examples:
        rollout = ModelRollout.model_validate(load_example(example))
        steps, _ = checked_steps(rollout.spec)
        metrics = [m for s in steps if isinstance(s, Analysis) for m in s.metrics]
        metrics += list(rollout.spec.analysis.metrics) if rollout.spec.analysis else []
        watched[example] = watched_signals(metrics)
        run = tuple(
            (index, case, good_rollouts if case.good else bad_rollouts)
            for index, case in enumerate(cases())
            if case.signal is None or case.signal in watched[example]
        )
        tasks += [_Task(example, reference, run) for reference in (False, True)]
    return tasks, watched


def _print_table(results: dict[tuple[str, str, bool], dict[str, str]], examples: list[str], watched: dict[str, set[str]]) -> None:
    columns = ["example", "case", "wrong: this judge", "wrong: fixed thresholds", "undecided", "median samples", "median minutes"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    unwatched: dict[str, list[str]] = {}
    for example in examples:
        for case in cases():
            ours, reference = results.get((example, case.name, False)), results.get((example, case.name, True))
            if ours is None or reference is None:
                unwatched.setdefault(example, []).append(case.name)
                continue
            print(
                f"| {example} | {case.name} | {ours['rate']} | {reference['rate']} | {ours['undecided']} / {reference['undecided']} "
                f"| {ours['samples']} / {reference['samples']} | {ours['minutes']} / {reference['minutes']} |"
            )
    for example, names in unwatched.items():
        print(f"\n{example} watches no metric of: {', '.join(names)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=1000, help="rollouts per good case (default 1000)")
    parser.add_argument("--bad-rollouts", type=int, default=400, help="rollouts per bad case (default 400)")
    parser.add_argument("--examples", nargs="*", default=sorted(p.name for p in EXAMPLES.glob("*.yaml")))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    started, cpu_started = time.perf_counter(), time.process_time()
    tasks, watched = _tasks(args.examples, args.rollouts, args.bad_rollouts)
    results: dict[tuple[str, str, bool], dict[str, str]] = {}
    worker_cpu = 0.0
    # Largest first, so no worker is left with one long task at the end.
    ordered = sorted(tasks, key=lambda t: -t.rollouts)
    with ProcessPoolExecutor(max_workers=max(args.workers, 1)) as pool:
        for task, outcomes, cpu in pool.map(_run_task, ordered, chunksize=1):
            worker_cpu += cpu
            for (_, case, _), of_case in zip(task.cases, outcomes):
                results[(task.example, case.name, task.reference)] = _summary(case, of_case)
    print("Wrong: for a good candidate the false-rollback rate, for a bad one the missed-regression rate (promoted), with 95%")
    print("Wilson intervals. Undecided, samples (the candidate's, to the decision) and minutes: this judge / the reference,")
    print("medians with 95% intervals.")
    _print_table(results, args.examples, watched)
    rollouts = sum(t.rollouts for t in tasks)
    elapsed = time.perf_counter() - started
    cpu = worker_cpu + time.process_time() - cpu_started
    print(f"\n{rollouts:,} rollouts in {elapsed:.1f} s wall, {cpu:.1f} s CPU on {args.workers} workers")

if __name__ == "__main__":
    main()
