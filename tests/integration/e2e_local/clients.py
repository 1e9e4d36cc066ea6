"""Client traffic inside the end-to-end's namespace: `controller.local.loadgen` on a thread of its own.

The generator sends demo predictions to the rollout's user-facing Service by name
(`http://<rollout>.<namespace>.svc`, resolved through the namespace's /etc/hosts to the cluster
IP the Service proxy listens on), and keeps what every request got, with the monotonic time
it was sent, so a scenario can count what clients saw during each of its phases.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass

from controller.local.drifted_traffic import DriftSwitch, InputDrift
from controller.local.loadgen import RequestOutcome, TrafficConfig, TrafficGenerator, dataset_requests

__all__ = ["ClientTraffic", "Seen"]


@dataclass(frozen=True)
class Seen:
    sent: int
    failed: int
    by_variant: dict[str, int]
    by_status: dict[str, int]
    errors: dict[str, int]
    failed_at_s: list[float]  # when the first failed requests were sent, seconds after traffic started

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent, "failed": self.failed, "by_variant": self.by_variant, "by_status": self.by_status,
            "errors": self.errors, "failed_at_s": self.failed_at_s,
        }  # fmt: skip


class ClientTraffic:
    def __init__(self, target_url: str, rate_per_s: float, model_name: str = "demo", drift: InputDrift | None = None) -> None:
        config = TrafficConfig(target_url=target_url, rate_per_s=rate_per_s, timeout_s=5.0)
        # Requests come through a switch: `start_drift` moves the features `drift` names from then on.
        self._requests = DriftSwitch(dataset_requests(model_name), drift or InputDrift())
        self._generator = TrafficGenerator(config, self._requests)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="client-traffic", daemon=True)
        self._started_at = 0.0

    def __enter__(self) -> ClientTraffic:
        self._thread.start()
        self._started_at = time.monotonic()
        self._loop.call_soon_threadsafe(self._generator.start)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._generator.stop(), self._loop).result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def start_drift(self) -> None:
        """Every request drawn from now on is drifted (a flag the generator's thread reads)."""
        self._requests.start()

    def outcomes(self, start: float = 0.0, end: float = float("inf")) -> list[RequestOutcome]:
        """Requests sent between two `time.monotonic()` readings."""
        return [o for o in self._generator.outcomes if start <= self._started_at + o.sent_at_s < end]

    def seen(self, start: float = 0.0, end: float = float("inf")) -> Seen:
        outcomes = self.outcomes(start, end)
        return Seen(
            sent=len(outcomes),
            failed=sum(o.failed for o in outcomes),
            by_variant=dict(Counter(o.variant or "none" for o in outcomes)),
            by_status=dict(Counter(str(o.status) for o in outcomes)),
            errors=dict(Counter((o.error or "")[:80] for o in outcomes if o.error)),
            failed_at_s=sorted(round(o.sent_at_s, 1) for o in outcomes if o.failed)[:30],
        )
