"""The config in force: parsed, compiled for the hot path, swapped whole, last good one kept.

A request reads `keeper.active` once and uses that object to the end, so a new config never
changes a request in flight and a weight change under load loses nothing. Upstream pools are
shared between configs that name the same URL; a pool no longer named is closed gently (idle
connections now, busy ones as their answers come in).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from router.compare import Extractor
from router.config import RouterConfig, parse_config
from router.errors import ConfigError
from router.feedback import PredictionLog
from router.load import Limits
from router.measure import Measurements
from router.selection import CANDIDATE, RoutingTable
from router.upstream import UpstreamPool

__all__ = ["Active", "ConfigKeeper"]

log = logging.getLogger("modelrollout.router")


@dataclass(frozen=True, slots=True)
class Active:
    """One config and everything precomputed from it."""

    config: RouterConfig
    table: RoutingTable
    extractor: Extractor
    stable: UpstreamPool
    candidate: UpstreamPool | None
    limits: Limits

    def pool(self, variant: str) -> UpstreamPool:
        if variant == CANDIDATE and self.candidate is not None:
            return self.candidate
        return self.stable


class ConfigKeeper:
    """Applies new configs from any source; an invalid one is counted and ignored."""

    def __init__(self, measurements: Measurements, predictions: PredictionLog) -> None:
        self.active: Active | None = None
        self.last_error: str | None = None
        self._measurements = measurements
        self._predictions = predictions
        self._pools: dict[str, UpstreamPool] = {}

    @property
    def generation(self) -> int | None:
        return self.active.config.generation if self.active else None

    def apply_text(self, text: str | bytes, source: str) -> bool:
        """Parse and apply `text`; False (and the old config kept) if it is invalid."""
        try:
            config = parse_config(text, source)
        except ConfigError as exc:
            self.reject(source, exc)
            return False
        self.apply(config)
        return True

    def apply(self, config: RouterConfig) -> None:
        if self.active is not None and self.active.config == config:
            return
        stable = self._pool(config.upstreams.stable, config)
        candidate = self._pool(config.upstreams.candidate, config) if config.upstreams.candidate else None
        self._retire({config.upstreams.stable, config.upstreams.candidate})
        self._measurements.rebin(config.prediction_bins, config.max_prediction_labels)
        self._measurements.features.resize(config.max_features, config.max_feature_categories)
        self._predictions.resize(config.feedback_capacity, config.feedback_retention_seconds)
        self.active = Active(config, RoutingTable.from_config(config), Extractor(config.predictions), stable, candidate, Limits.of(config))
        self.last_error = None
        log.info(
            "config generation %d in force: %d/%d, mirror %d%%",
            config.generation,
            config.weights.stable,
            config.weights.candidate,
            config.mirror_percent,
        )

    def reject(self, source: str, error: ConfigError) -> None:
        self._measurements.config_errors += 1
        self.last_error = f"{source}: {error}"
        kept = f"generation {self.generation} stays in force" if self.active else "no config in force yet"
        log.error("rejected config from %s (%s): %s", source, kept, error)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def _pool(self, url: str, config: RouterConfig) -> UpstreamPool:
        pool = self._pools.get(url)
        if pool is None:
            pool = self._pools[url] = UpstreamPool(
                url, connect_timeout_s=config.connect_timeout_seconds, timeout_s=config.timeout_seconds, on_retry=self._retried
            )
        pool.connect_timeout_s, pool.timeout_s = config.connect_timeout_seconds, config.timeout_seconds
        pool.max_connections = config.max_upstream_connections_per_variant
        return pool

    def _retried(self) -> None:
        self._measurements.upstream_retries += 1

    def _retire(self, keep: set[str | None]) -> None:
        for url in [u for u in self._pools if u not in keep]:
            self._pools.pop(url).close()
