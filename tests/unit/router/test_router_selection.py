"""Variant choice: exact weights, monotone stickiness, header routes first, mirroring of stable only."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from router.config import RouterConfig
from router.selection import (
    BUCKETS,
    CANDIDATE,
    STABLE,
    BucketSequence,
    RoutingTable,
    bucket_of,
    cookie_value,
)


def table(candidate: int = 0, **fields: Any) -> RoutingTable:
    config = RouterConfig.model_validate(
        {
            "generation": 1,
            "upstreams": {"stable": "http://s:1", "candidate": "http://c:2"},
            "weights": {"stable": 100 - candidate, "candidate": candidate},
            **fields,
        }
    )
    return RoutingTable.from_config(config)


@given(st.integers(0, 100))
def test_every_weight_sends_exactly_its_share_of_buckets_to_the_candidate(weight: int) -> None:
    rules = table(weight)
    chosen = Counter(rules.choose([], bucket) for bucket in range(BUCKETS))
    assert chosen[CANDIDATE] == weight * BUCKETS // 100
    assert chosen[STABLE] == BUCKETS - weight * BUCKETS // 100


@given(st.binary(min_size=1, max_size=64), st.integers(0, 100), st.integers(0, 100))
def test_a_sticky_user_on_the_candidate_stays_there_as_the_weight_grows(key: bytes, low: int, high: int) -> None:
    low, high = sorted((low, high))
    seen = [(b"x-user", key)]
    at_low = table(low, sticky={"header": "x-user"}).choose(seen, 0)
    at_high = table(high, sticky={"header": "x-user"}).choose(seen, 0)
    assert not (at_low == CANDIDATE and at_high == STABLE)


@given(st.binary(min_size=1, max_size=64), st.integers(0, BUCKETS - 1), st.integers(0, BUCKETS - 1))
def test_a_sticky_key_decides_whatever_the_request_bucket(key: bytes, first: int, second: int) -> None:
    rules = table(40, sticky={"header": "x-user"})
    assert rules.choose([(b"x-user", key)], first) == rules.choose([(b"x-user", key)], second)


def test_sticky_users_split_close_to_the_weight() -> None:
    rules = table(25, sticky={"header": "x-user"})
    chosen = Counter(rules.choose([(b"x-user", b"user-%d" % n)], 0) for n in range(20_000))
    assert abs(chosen[CANDIDATE] / 20_000 - 0.25) < 0.015


def test_the_salt_picks_a_different_set_of_users() -> None:
    keys = [b"user-%d" % n for n in range(2_000)]
    plain = {k for k in keys if table(20, sticky={"header": "x-user"}).choose([(b"x-user", k)], 0) == CANDIDATE}
    salted = {k for k in keys if table(20, sticky={"header": "x-user", "salt": "ns/model"}).choose([(b"x-user", k)], 0) == CANDIDATE}
    assert plain != salted
    assert len(plain & salted) < len(plain) / 2


def test_the_bucket_of_a_key_is_the_same_in_another_process() -> None:
    keys = [b"alice", b"bob", b"\x00\xff", b"user-12345"]
    code = "import sys; from router.selection import bucket_of; print([bucket_of(k, b's') for k in eval(sys.argv[1])])"
    other = subprocess.run([sys.executable, "-c", code, repr(keys)], capture_output=True, text=True, check=True).stdout
    assert other.strip() == str([bucket_of(k, b"s") for k in keys])


def test_a_cookie_can_be_the_sticky_key() -> None:
    rules = table(50, sticky={"cookie": "uid"})
    users = [b"u%d" % n for n in range(200)]
    by_cookie = [rules.choose([(b"cookie", b"theme=dark; uid=" + u + b"; x=1")], 0) for u in users]
    by_header = [table(50, sticky={"header": "x-user"}).choose([(b"x-user", u)], 0) for u in users]
    assert by_cookie == by_header
    assert cookie_value(b'a=1; uid="quoted"', b"uid") == b"quoted"
    assert cookie_value(b"a=1", b"uid") is None


@given(st.integers(0, BUCKETS - 1))
def test_requests_without_a_key_visit_every_bucket_once_per_10000(start: int) -> None:
    sequence = BucketSequence(start)
    assert sorted(sequence.draw() for _ in range(BUCKETS)) == list(range(BUCKETS))


def test_unkeyed_requests_split_exactly_over_short_windows() -> None:
    rules = table(10)
    sequence = BucketSequence(1234)
    counts = [Counter(rules.choose([], sequence.draw()) for _ in range(1_000)) for _ in range(10)]
    assert all(abs(c[CANDIDATE] - 100) <= 3 for c in counts)


def test_header_routes_win_over_weights_and_sticky_keys() -> None:
    routes = [
        {"header": "x-model-variant", "value": "candidate", "variant": "candidate"},
        {"header": "x-lane", "value": "safe", "variant": "stable"},
    ]
    rules = table(0, header_routes=routes, sticky={"header": "x-user"})
    assert rules.choose([(b"x-model-variant", b"candidate")], BUCKETS - 1) == CANDIDATE
    assert rules.choose([(b"x-model-variant", b"other")], BUCKETS - 1) == STABLE
    everyone = table(100, header_routes=routes)
    assert everyone.choose([(b"x-lane", b"safe")], 0) == STABLE


def test_the_earliest_matching_route_wins() -> None:
    routes = [{"header": "x-b", "value": "1", "variant": "stable"}, {"header": "x-a", "value": "1", "variant": "candidate"}]
    rules = table(50, header_routes=routes)
    assert rules.choose([(b"x-a", b"1"), (b"x-b", b"1")], 0) == STABLE


def test_disabled_header_routing_ignores_routes() -> None:
    routes = [{"header": "x-model-variant", "value": "candidate", "variant": "candidate"}]
    rules = table(0, header_routes=routes, header_routing_enabled=False)
    assert rules.choose([(b"x-model-variant", b"candidate")], 0) == STABLE
    assert b"x-model-variant" not in rules.watched


def test_only_requests_the_stable_serves_are_mirrored_at_the_configured_share() -> None:
    rules = table(10, mirror_percent=30)
    mirrored = sum(rules.mirrors(STABLE, bucket) for bucket in range(BUCKETS))
    assert mirrored == 3_000
    assert not any(rules.mirrors(CANDIDATE, bucket) for bucket in range(BUCKETS))


def test_bucket_of_spreads_keys_evenly() -> None:
    buckets = [bucket_of(b"k%d" % n) // 1_000 for n in range(50_000)]
    assert max(Counter(buckets).values()) < 5_000 * 1.06
