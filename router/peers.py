"""Labels across router replicas: the ones this replica holds no prediction for are asked of its peers.

A label may reach any replica (the Service in front of them picks one), while the prediction it
judges lives only in the replica that served the request. The replica that receives a label and
does not hold its request id forwards it, in one batch per peer, to every address of every URL in
`feedbackPeers` (a headless Service's name resolves to every ready replica); the peer holding it
joins it and counts the verdict in its own stats, which the controller merges. A forwarded batch
is marked (`x-modelrollout-forwarded` carries the sender's instance id), so it is never forwarded
again, and a replica that finds its own id there (its own address among the peers) skips the
batch at once. Peers are called with the router's own upstream client, kept alive between calls.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import orjson

from router.errors import UpstreamError
from router.feedback import Feedback
from router.upstream import UpstreamPool, UpstreamResponse

__all__ = ["FORWARDED_HEADER", "PeerAnswers", "Peers"]

FORWARDED_HEADER: Final = "x-modelrollout-forwarded"
_TIMEOUT_S: Final = 5.0
_CONNECT_TIMEOUT_S: Final = 2.0

log = logging.getLogger("modelrollout.router")


@dataclass
class PeerAnswers:
    """What the peers said of a forwarded batch: ids joined, ids found late, peers that failed to answer."""

    matched: set[str] = field(default_factory=set)
    late: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)


class Peers:
    """Forwards unmatched labels to the other replicas; one kept-alive pool per peer address."""

    def __init__(self, instance_id: str) -> None:
        self._instance_id = instance_id
        self._pools: dict[str, UpstreamPool] = {}

    async def forward(self, urls: Sequence[str], labels: Sequence[Feedback]) -> PeerAnswers:
        """Ask every address behind `urls` to join `labels`; a peer that fails is named, not fatal."""
        answers = PeerAnswers()
        if not urls or not labels:
            return answers
        addresses = await _addresses(urls)
        body = orjson.dumps([{"requestId": item.request_id, "label": item.label} for item in labels])
        replies = await asyncio.gather(*(self._ask(address, body) for address in addresses))
        for address, reply in zip(addresses, replies):
            if isinstance(reply, str):
                answers.failed.append(f"{address}: {reply}")
                continue
            answers.matched.update(reply[0])
            answers.late.update(reply[1])
        self._retire(set(addresses))
        return answers

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    async def _ask(self, address: str, body: bytes) -> tuple[list[str], list[str]] | str:
        """(matched ids, late ids) from one peer, or what went wrong."""
        pool = self._pools.get(address)
        if pool is None:
            pool = self._pools[address] = UpstreamPool(address, connect_timeout_s=_CONNECT_TIMEOUT_S, timeout_s=_TIMEOUT_S)
        answered: asyncio.Future[UpstreamResponse | UpstreamError] = asyncio.get_running_loop().create_future()
        headers = b"content-type: application/json\r\n%s: %s\r\n" % (FORWARDED_HEADER.encode(), self._instance_id.encode())

        def deliver(outcome: UpstreamResponse | UpstreamError) -> None:
            if not answered.done():
                answered.set_result(outcome)

        pool.send(b"POST", b"/feedback", headers, body, deliver)
        outcome = await answered
        if isinstance(outcome, UpstreamError):
            return str(outcome)
        if outcome.status != 200:
            return f"answered {outcome.status}: {outcome.body[:200].decode(errors='replace')}"
        try:
            document = orjson.loads(outcome.body)
            return [str(i) for i in document["matchedIds"]], [str(i) for i in document["lateIds"]]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return f"answered something other than matchedIds and lateIds ({exc})"

    def _retire(self, keep: set[str]) -> None:
        for address in [a for a in self._pools if a not in keep]:
            self._pools.pop(address).close()


async def _addresses(urls: Sequence[str]) -> list[str]:
    """Every address each URL's host resolves to, as `scheme://ip:port`; a name that does not resolve is skipped."""
    resolved = await asyncio.gather(*(_resolve(url) for url in urls))
    return list(dict.fromkeys(address for addresses in resolved for address in addresses))


async def _resolve(url: str) -> list[str]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        log.warning("feedback peer %s does not resolve: %s", url, exc)
        return []
    hosts = dict.fromkeys(str(info[4][0]) for info in infos)
    return [f"{parts.scheme}://{f'[{h}]' if ':' in h else h}:{port}" for h in hosts]
