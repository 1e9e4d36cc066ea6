"""Who may act through the dashboard, and how a forged request is told apart from the page's own."""

from __future__ import annotations

import pytest

from controller.dashboard.security import Denied, Guard

HOST = "127.0.0.1:3100"


def _check(guard: Guard, session: str | None, csrf: str | None, origin: str | None = None, authorization: str | None = None) -> None:
    guard.check_action(session, csrf, origin, HOST, authorization)


def test_on_loopback_the_pages_own_post_acts() -> None:
    guard = Guard("127.0.0.1")
    session = guard.new_session()
    _check(guard, session, guard.csrf_token(session), origin=f"http://{HOST}")
    assert guard.actions_enabled and guard.local


@pytest.mark.parametrize(
    ("session", "csrf", "origin", "status", "says"),
    [
        ("s", None, None, 403, "CSRF token"),
        (None, "x", None, 403, "CSRF token"),
        ("s", "not-the-token", None, 403, "CSRF token"),
        ("s", "GOOD", "http://evil.example:8000", 403, "cross-site request refused: Origin http://evil.example:8000"),
    ],
)
def test_a_post_without_its_sessions_token_or_from_another_origin_is_refused(
    session: str | None, csrf: str | None, origin: str | None, status: int, says: str
) -> None:
    guard = Guard("127.0.0.1")
    token = guard.csrf_token("s") if csrf == "GOOD" else csrf
    with pytest.raises(Denied) as refused:
        _check(guard, session, token, origin)
    assert refused.value.status == status and says in str(refused.value)


def test_beyond_loopback_it_is_read_only_without_a_token_and_needs_it_with_one() -> None:
    open_guard = Guard("0.0.0.0")
    assert not open_guard.actions_enabled
    with pytest.raises(Denied, match="read-only"):
        _check(open_guard, "s", open_guard.csrf_token("s"))

    guard = Guard("0.0.0.0", token="t0ken")
    csrf = guard.csrf_token("s")
    for authorization in (None, "Bearer wrong", "Basic t0ken"):
        with pytest.raises(Denied) as refused:
            _check(guard, "s", csrf, authorization=authorization)
        assert refused.value.status == 401
    _check(guard, "s", csrf, authorization="Bearer t0ken")


def test_read_only_turns_actions_off_even_on_loopback() -> None:
    guard = Guard("127.0.0.1", allow_actions=False)
    with pytest.raises(Denied, match="actions are turned off"):
        _check(guard, "s", guard.csrf_token("s"))


def test_each_server_signs_its_own_sessions() -> None:
    assert Guard("127.0.0.1").csrf_token("s") != Guard("127.0.0.1").csrf_token("s")


def test_a_kubernetes_token_is_handed_on_to_be_checked_and_the_dashboards_own_is_not() -> None:
    guard = Guard("0.0.0.0", token="t0ken", kube_identity=True)
    csrf = guard.csrf_token("s")
    assert guard.check_action("s", csrf, None, HOST, "Bearer eyJhbGciOi") == "eyJhbGciOi"
    assert guard.check_action("s", csrf, None, HOST, "Bearer t0ken") is None
    with pytest.raises(Denied, match="needs the dashboard's bearer token or your Kubernetes bearer token"):
        guard.check_action("s", csrf, None, HOST, None)
