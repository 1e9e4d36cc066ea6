"""Checks on what a user hands `modelrollout run`: the rollout file and the model server URLs.

Each failure is a SpecError naming the file, field or URL, so the CLI can exit 2 with one clear line.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from controller.api.resource import ModelRollout
from controller.api.validation import load_rollouts
from controller.errors import SpecError

__all__ = ["read_rollout", "check_url", "check_reachable"]


def read_rollout(path: Path) -> ModelRollout:
    """The single ModelRollout in `path`; any problem is a SpecError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), f"cannot be read: {exc}") from exc
    rollouts = load_rollouts(text, source=str(path))
    if len(rollouts) != 1:
        raise SpecError(str(path), f"holds {len(rollouts)} ModelRollouts; `run` takes exactly one")
    return rollouts[0]


def check_url(option: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(option, f"{url!r} is not an http(s) URL such as http://127.0.0.1:8081")
    return url.rstrip("/")


async def check_reachable(option: str, url: str, client: httpx.AsyncClient) -> None:
    """Any HTTP answer counts as reachable; a refused or timed-out connection does not."""
    try:
        await client.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        raise SpecError(option, f"{url} is unreachable ({type(exc).__name__}: {exc or 'no answer'})") from exc
