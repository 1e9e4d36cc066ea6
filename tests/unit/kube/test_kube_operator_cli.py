"""`modelrollout controller` flags: addresses, lease timings, namespaces."""

from __future__ import annotations

import argparse

import pytest

from controller.cli.operator import add_arguments, config_from, parse_listen


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_listen_addresses_parse_and_bad_ones_name_themselves() -> None:
    assert parse_listen("0.0.0.0:8081") == ("0.0.0.0", 8081)
    assert parse_listen("[::1]:9") == ("::1", 9)
    with pytest.raises(argparse.ArgumentTypeError, match="'nohost'"):
        parse_listen("nohost")


def test_leader_election_keeps_client_go_proportions() -> None:
    config = config_from(
        _args("--leader-elect", "--lease-duration", "30", "--identity", "pod-a", "--namespace", "a", "--namespace", "a", "--namespace", "b")
    )
    lease = config.leader_election
    assert lease is not None
    assert (lease.identity, lease.lease_duration_s, lease.renew_deadline_s, lease.retry_period_s) == ("pod-a", 30.0, 20.0, 4.0)
    assert config.namespaces == ("a", "b")
    assert config.metrics_listen == ("127.0.0.1", 8081)


def test_without_leader_election_there_is_no_lease_and_all_namespaces_are_watched() -> None:
    config = config_from(_args())
    assert config.leader_election is None and config.namespaces == ()


def test_impossible_lease_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="lease timings"):
        config_from(_args("--leader-elect", "--lease-duration", "0"))
