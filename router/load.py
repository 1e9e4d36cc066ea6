"""What the router holds at this moment, against the limits of the config in force, and what it shed.

The limits (router config fields, each with a default for the time before any config arrives):
client connections, requests in flight per variant (waiting for a connection included), upstream
connections per variant (see router.upstream) and bytes of request bodies held in memory. Past
one, new work gets a fast 503 with a JSON error and `retry-after`; work already admitted
finishes. Mirrored copies are shed first: none is sent while the candidate or the byte budget is
half used or the candidate's connections are all taken.

Shed work is counted by reason, the `reason` label of `modelrollout_router_shed_total`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from router.config import RouterConfig
from router.measure import Measurements
from router.stats import ShedCounts

if TYPE_CHECKING:  # the keeper holds an Active, which holds Limits: a type-only import breaks the cycle
    from router.state import ConfigKeeper

__all__ = ["RETRY_AFTER_S", "SHED_REASONS", "Limits", "Load"]

SHED_REASONS: Final = tuple(ShedCounts.model_fields)
RETRY_AFTER_S: Final = 1


@dataclass(frozen=True, slots=True)
class Limits:
    client_connections: int
    in_flight_per_variant: int
    buffered_bytes: int

    @classmethod
    def of(cls, config: RouterConfig) -> Limits:
        return cls(config.max_client_connections, config.max_in_flight_per_variant, config.max_buffered_bytes)


def _default_limits() -> Limits:
    fields = RouterConfig.model_fields
    return Limits(
        fields["max_client_connections"].default, fields["max_in_flight_per_variant"].default, fields["max_buffered_bytes"].default
    )


_DEFAULTS: Final = _default_limits()


class Load:
    """Counts kept by the data port's server, proxy and mirror; limits read from the config in force."""

    __slots__ = ("_keeper", "buffered", "connections", "in_flight", "shed")

    def __init__(self, keeper: ConfigKeeper, measurements: Measurements) -> None:
        self._keeper = keeper
        self.connections = 0
        self.in_flight = {"stable": 0, "candidate": 0}
        self.buffered = 0
        self.shed = measurements.shed  # reported with the other counters in /stats and /metrics

    @property
    def limits(self) -> Limits:
        active = self._keeper.active
        return active.limits if active is not None else _DEFAULTS

    # -- for the server (router.server.Budget) -----------------------------------------------------
    def admit_connection(self) -> bool:
        if self.connections >= self.limits.client_connections:
            self.shed["client_connections"] += 1
            return False
        self.connections += 1
        return True

    def connection_closed(self) -> None:
        self.connections -= 1

    def hold(self, size: int) -> bool:
        """Count `size` more bytes held; False when that goes over the budget (they are counted still)."""
        self.buffered += size
        return self.buffered <= self.limits.buffered_bytes

    def free(self, size: int) -> None:
        self.buffered -= size

    # -- for the proxy and the mirror ---------------------------------------------------------------
    def admit(self, variant: str) -> bool:
        """One more request in flight to `variant`, unless that goes over its limit."""
        if self.in_flight[variant] >= self.limits.in_flight_per_variant:
            self.shed["in_flight"] += 1
            return False
        self.in_flight[variant] += 1
        return True

    def done(self, variant: str) -> None:
        self.in_flight[variant] -= 1

    def mirror_room(self, size: int, candidate_saturated: bool) -> bool:
        """Whether a shadow copy of `size` body bytes may go: the first work to shed under pressure."""
        limits = self.limits
        if (
            candidate_saturated
            or 2 * self.in_flight["candidate"] >= limits.in_flight_per_variant
            or 2 * (self.buffered + size) > limits.buffered_bytes
        ):
            self.shed["mirror"] += 1
            return False
        return True
