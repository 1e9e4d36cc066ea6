"""From two rounds of router readings, how well the routers read the answers (`Observations.predictions`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from controller.api.resource import ModelRollout
from controller.routing.measure import PredictionsWatch
from controller.routing.polling import ReadingsListener, RouterEndpoint, RouterReading
from router.stats import RouterStats, VariantStats

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
OIP_SHAPE = '{"model_name": ..., "outputs": ...}'


class Poller:
    def __init__(self) -> None:
        self.listeners: list[ReadingsListener] = []
        self.reads = 0

    def add_listener(self, listener: ReadingsListener) -> None:
        self.listeners.append(listener)

    async def read(self, rollout: ModelRollout) -> list[RouterReading]:
        self.reads += 1
        return []

    def round(self, rollout: ModelRollout, seconds: float, *stats: RouterStats) -> None:
        readings = [RouterReading(RouterEndpoint(s.instance_id.split("-")[0], "http://x"), s) for s in stats]
        for listener in self.listeners:
            listener(rollout, T0 + timedelta(seconds=seconds), readings)


def rollout() -> ModelRollout:
    spec = {"template": {"spec": {"containers": [{"name": "m", "image": "i"}]}}, "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}
    return ModelRollout.model_validate({"metadata": {"name": "iris", "namespace": "ml", "generation": 1}, "spec": spec})


def stats(instance: str, analysed: int, unread: int, sample: str | None = None, started: float = 0) -> RouterStats:
    return RouterStats(
        instance_id=instance,
        started_at=T0 + timedelta(seconds=started),
        generation=1,
        unreadable_sample=sample,
        stable=VariantStats(requests=analysed + unread, analysed=analysed, not_analysed=unread),
        shadow=VariantStats(requests=5, analysed=5),
    )


def test_the_answers_between_two_rounds_are_judged_with_a_sample() -> None:
    poller, mr = Poller(), rollout()
    watch = PredictionsWatch(poller)
    poller.round(mr, 0, stats("a-1", 0, 500), stats("b-1", 0, 0))
    assert watch.reading(mr) is None  # one round: nothing between rounds yet
    poller.round(mr, 10, stats("a-1", 0, 560, OIP_SHAPE), stats("b-1", 0, 40, OIP_SHAPE))
    reading = asyncio.run(watch.observe(mr))
    assert reading is not None and poller.reads == 1
    assert (reading.variant, reading.answers, reading.unreadable, reading.sample) == ("stable", 100, 100, OIP_SHAPE)


def test_a_fixed_setting_reads_again_and_restarts_count_only_when_new() -> None:
    poller, mr = Poller(), rollout()
    watch = PredictionsWatch(poller)
    poller.round(mr, 0, stats("a-1", 0, 500))
    # a-1 restarted (the corrected config rolled it) after the last round: its counts are all new.
    poller.round(mr, 10, stats("a-2", 80, 0, started=5), stats("old-1", 0, 900, started=-100))
    reading = watch.reading(mr)
    assert reading is not None and (reading.variant, reading.answers, reading.unreadable) == ("stable", 80, 0)
    poller.round(mr, 20, stats("a-2", 80, 0, started=5))
    assert watch.reading(mr) is None  # nothing answered between the rounds: no verdict
    watch.forget("ml", "iris")
    assert watch.reading(mr) is None
