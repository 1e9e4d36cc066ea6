"""A dashboard bound to loopback answers only to loopback names, so a rebound DNS name cannot read or drive it."""

from __future__ import annotations

from typing import cast

import httpx
import pytest

from controller.dashboard.app import DashboardSettings, build_app
from controller.dashboard.feed import RolloutFeed
from controller.dashboard.security import Guard
from controller.kube.client import KubeClient

pytestmark = pytest.mark.anyio


async def _healthz(address: str, host: str) -> httpx.Response:
    # Nothing here reaches the API server: /healthz reads only the (empty) cache.
    app = build_app(RolloutFeed(cast(KubeClient, None), ("ml",)), DashboardSettings(Guard(address), "me"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dashboard") as client:
        return await client.get("/healthz", headers={"host": host})


@pytest.mark.parametrize("host", ["127.0.0.1:3100", "localhost:3100", "[::1]:3100"])
async def test_loopback_names_are_answered(host: str) -> None:
    assert (await _healthz("127.0.0.1", host)).status_code == 200


async def test_another_name_is_refused_on_loopback_and_answered_beyond_it() -> None:
    refused = await _healthz("127.0.0.1", "attacker.example:3100")
    assert refused.status_code == 400 and refused.text == "Invalid host header"
    assert (await _healthz("0.0.0.0", "dashboard.example.com")).status_code == 200
