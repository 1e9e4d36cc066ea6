"""Which variant serves a request: header routes, then a sticky key, then the weights (pure).

Every request maps to a bucket in [0, 10000); it goes to the candidate iff its bucket is below
candidate weight x 100. A sticky key's bucket is a hash of the key, so raising the weight only
adds buckets: a user on the candidate at 5% is still on it at 25%. Requests without a key take
their bucket from `BucketSequence`, which visits every bucket once per 10,000 draws, so the
split is exact over any 10,000 requests and close to it over far fewer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import blake2b
from typing import Final

from router.config import RouterConfig

__all__ = [
    "BUCKETS",
    "CANDIDATE",
    "STABLE",
    "BucketSequence",
    "RoutingTable",
    "bucket_of",
    "cookie_value",
]

BUCKETS: Final = 10_000
STABLE: Final = "stable"
CANDIDATE: Final = "candidate"
# Coprime with BUCKETS and close to BUCKETS / golden ratio: consecutive draws spread evenly.
_STRIDE: Final = 6181


def bucket_of(key: bytes, salt: bytes = b"") -> int:
    """A stable bucket for `key`: the same in every process, replica and restart."""
    digest = blake2b(salt + b"\x00" + key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def cookie_value(header: bytes, name: bytes) -> bytes | None:
    """The value of cookie `name` in a `cookie` header, or None."""
    for pair in header.split(b";"):
        key, sep, value = pair.strip().partition(b"=")
        if sep and key == name:
            return value.strip(b'"')
    return None


class BucketSequence:
    """Buckets for requests without a sticky key: each of the 10,000 once per 10,000 draws."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        self._next = start % BUCKETS

    def draw(self) -> int:
        value = self._next
        self._next = (value + _STRIDE) % BUCKETS
        return value


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """A config's routing rules, precomputed so a choice is a few dict lookups."""

    candidate_threshold: int
    mirror_threshold: int
    # (header name, value) -> (position in the config, variant): the earliest route wins.
    routes: Mapping[tuple[bytes, bytes], tuple[int, str]]
    # Header names `choose` needs to see: route headers, the sticky header, `cookie`.
    watched: frozenset[bytes]
    sticky_header: bytes | None
    sticky_cookie: bytes | None
    salt: bytes

    @classmethod
    def from_config(cls, config: RouterConfig) -> RoutingTable:
        routes: dict[tuple[bytes, bytes], tuple[int, str]] = {}
        if config.header_routing_enabled:
            for index, route in enumerate(config.header_routes):
                routes.setdefault((route.header.encode(), route.value.encode()), (index, route.variant))
        sticky = config.sticky
        sticky_header = sticky.header.encode() if sticky and sticky.header else None
        sticky_cookie = sticky.cookie.encode() if sticky and sticky.cookie else None
        watched = {name for name, _ in routes} | ({sticky_header} if sticky_header else set())
        return cls(
            candidate_threshold=config.weights.candidate * (BUCKETS // 100),
            mirror_threshold=config.mirror_percent * (BUCKETS // 100) if config.upstreams.candidate else 0,
            routes=routes,
            watched=frozenset(watched | ({b"cookie"} if sticky_cookie else set())),
            sticky_header=sticky_header,
            sticky_cookie=sticky_cookie,
            salt=sticky.salt.encode() if sticky else b"",
        )

    def choose(self, seen: list[tuple[bytes, bytes]], bucket: int) -> str:
        """The variant for a request whose watched headers are `seen`; `bucket` if it has no key."""
        route = self._route(seen)
        if route is not None:
            return route
        key = self._sticky_key(seen)
        if key is not None:
            bucket = bucket_of(key, self.salt)
        return CANDIDATE if bucket < self.candidate_threshold else STABLE

    def mirrors(self, variant: str, bucket: int) -> bool:
        """Whether a request the stable serves is also sent to the candidate as a shadow."""
        return variant == STABLE and bucket < self.mirror_threshold

    def _route(self, seen: list[tuple[bytes, bytes]]) -> str | None:
        best: tuple[int, str] | None = None
        for pair in seen:
            hit = self.routes.get(pair)
            if hit is not None and (best is None or hit[0] < best[0]):
                best = hit
        return best[1] if best else None

    def _sticky_key(self, seen: list[tuple[bytes, bytes]]) -> bytes | None:
        for name, value in seen:
            if name == self.sticky_header and value:
                return value
            if name == b"cookie" and self.sticky_cookie is not None:
                found = cookie_value(value, self.sticky_cookie)
                if found:
                    return found
        return None
