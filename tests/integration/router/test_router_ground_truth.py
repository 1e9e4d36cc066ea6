"""Ground truth across router replicas: labels posted through one address join whichever replica served.

Three router processes stand behind nginx, which round-robins both the data port (predictions)
and `/feedback` (labels) over them, as a Service in front of router pods does. Each replica
names all three admin addresses in `feedbackPeers`. Labels for 1,000 requests, served by stable
or candidate and half of them mirrored to the candidate as a shadow, must give the exact
accuracy per variant once the replicas' stats are summed.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from router_harness import DISAGREE_BELOW, Process, RouterFactory, RouterProcess, free_port, send_many, wait_until

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"
REQUESTS = 1_000
VARIANTS = ("stable", "candidate", "shadow")


def nginx_round_robin(prefix: Path, port: int, routers: list[RouterProcess]) -> str:
    """One loopback address: `/feedback` to the routers' admin ports, everything else to their data ports."""
    temp = "\n".join(f"  {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    data = " ".join(f"server 127.0.0.1:{r.port};" for r in routers)
    admin = " ".join(f"server 127.0.0.1:{r.admin_port};" for r in routers)
    return f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  # Label batches stay in memory: nginx workers may run as another user, unable to write temp files here.
  client_body_buffer_size 16m;
  client_max_body_size 16m;
{temp}
  upstream data {{ {data} }}
  upstream admin {{ {admin} }}
  server {{
    listen 127.0.0.1:{port};
    location = /feedback {{ proxy_pass http://admin; }}
    location / {{ proxy_pass http://data; }}
  }}
}}
"""


@pytest.fixture
def front(tmp_path: Path, start_router: RouterFactory, base_config: dict[str, Any]) -> Iterator[tuple[str, list[RouterProcess]]]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    routers = [start_router(base_config) for _ in range(3)]
    peers = [r.admin for r in routers]
    config = {
        **base_config, "weights": {"stable": 50, "candidate": 50}, "mirrorPercent": 50, "mirrorMaxInFlight": 10_000,
        "feedbackPeers": peers, "predictions": {"labels": {"match": "threshold", "threshold": 0.5}},
    }  # fmt: skip
    for router in routers:
        router.reconfigure(config)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = free_port()
    (prefix / "nginx.conf").write_text(nginx_round_robin(prefix, port, routers))
    nginx = Process([binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")])
    wait_until(lambda: _listening(port), what="nginx in front of the routers")
    yield f"http://127.0.0.1:{port}", routers
    nginx.stop()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def score(variant: str, x: float) -> float:
    """What the test backends answer (router_harness): the candidate is 0.5 off below DISAGREE_BELOW."""
    return x if variant == "stable" else x + 1e-9 + (0.5 if x < DISAGREE_BELOW else 0.0)


def label_of(n: int, x: float) -> int:
    """The truth: class 1 from 0.5 up, except every seventh request, whose truth is the other class."""
    return int((x >= 0.5) != (n % 7 == 0))


def summed(routers: list[RouterProcess]) -> dict[str, Any]:
    each = [r.stats() for r in routers]
    totals: dict[str, Any] = {v: (sum(s[v]["labelled"] for s in each), sum(s[v]["correct"] for s in each)) for v in VARIANTS}
    for counter in ("feedbackUnmatched", "feedbackLate", "feedbackPeerErrors"):
        totals[counter] = sum(s[counter] for s in each)
    totals["compared"] = sum(s["shadowComparison"]["compared"] for s in each)
    totals["dropped"] = sum(s["shadowComparison"]["dropped"] for s in each)
    return totals


def test_labels_through_one_address_give_the_exact_accuracy_per_variant(front: tuple[str, list[RouterProcess]]) -> None:
    url, routers = front
    xs = [round((n * 37 % 100) / 100 + 0.005, 3) for n in range(REQUESTS)]
    # Half the requests bring their own id; the router makes one up for the others.
    headers = [{"x-request-id": f"client-{n}"} if n % 2 else {} for n in range(REQUESTS)]
    answers = send_many(url + PREDICT, [{"instances": [[x]]} for x in xs], headers=headers)
    assert all(a.status == 200 for a in answers)
    ids = [a.request_id for a in answers]
    assert len(set(ids)) == REQUESTS
    mirrored = sum(r.stats()["shadowComparison"]["mirrored"] for r in routers)
    wait_until(lambda: summed(routers)["compared"] == mirrored, what=f"{mirrored} shadow answers compared")
    before = summed(routers)
    assert before["dropped"] == 0 and mirrored > 100

    labels = [label_of(n, x) for n, x in enumerate(xs)]
    replies = [httpx.post(f"{url}/feedback", json={"requestId": ids[n], "label": labels[n]}, timeout=10) for n in range(50)]
    assert [r.status_code for r in replies] == [200] * 50
    with httpx.Client(timeout=30) as client:
        for start in range(50, REQUESTS, 95):
            batch = [{"requestId": ids[n], "label": labels[n]} for n in range(start, min(start + 95, REQUESTS))]
            got = client.post(f"{url}/feedback", json=batch).json()
            assert got == {"matched": len(batch), "late": 0, "unmatched": 0}

    after = summed(routers)
    served = {"stable": [0, 0], "candidate": [0, 0]}
    for n, answer in enumerate(answers):
        served[answer.variant][0] += 1
        served[answer.variant][1] += int(score(answer.variant, xs[n]) >= 0.5) == labels[n]
    for variant in ("stable", "candidate"):
        assert after[variant] == tuple(served[variant]), variant
    # Every stable answer mirrored was judged as the shadow too, against the same label.
    shadow_labelled = after["shadow"][0]
    assert shadow_labelled == mirrored
    assert after["feedbackUnmatched"] == after["feedbackLate"] == after["feedbackPeerErrors"] == 0
    every_replica_served = [r.stats()["stable"]["labelled"] + r.stats()["candidate"]["labelled"] for r in routers]
    assert all(count > 100 for count in every_replica_served)


def test_a_shadow_is_judged_exactly_against_the_stables_labels(front: tuple[str, list[RouterProcess]]) -> None:
    url, routers = front
    for router in routers:  # every stable answer mirrored: the shadow sees exactly the stable's requests
        config = {**_config_of(router), "weights": {"stable": 100, "candidate": 0}, "mirrorPercent": 100}
        router.reconfigure(config)
    xs = [round((n % 50) / 50 + 0.01, 3) for n in range(300)]
    answers = send_many(url + PREDICT, [{"instances": [[x]]} for x in xs])
    wait_until(lambda: summed(routers)["compared"] == 300, what="300 shadow answers compared")
    labels = [label_of(n, x) for n, x in enumerate(xs)]
    reply = httpx.post(f"{url}/feedback", json=[{"requestId": a.request_id, "label": y} for a, y in zip(answers, labels)], timeout=30)
    assert reply.status_code == 200, (reply.status_code, reply.text)
    assert reply.json() == {"matched": 300, "late": 0, "unmatched": 0}
    expected_shadow = sum(int(score("candidate", x) >= 0.5) == y for x, y in zip(xs, labels))
    expected_stable = sum(int(x >= 0.5) == y for x, y in zip(xs, labels))
    after = summed(routers)
    assert after["stable"] == (300, expected_stable) and after["shadow"] == (300, expected_shadow)
    assert expected_shadow < expected_stable  # the candidate's planted error shows in its accuracy


def test_a_label_no_replica_holds_is_404_and_counted_once(front: tuple[str, list[RouterProcess]]) -> None:
    url, routers = front
    reply = httpx.post(f"{url}/feedback", json={"requestId": "never-served", "label": 1}, timeout=10)
    assert reply.status_code == 404 and "never-served" in reply.json()["error"]
    assert summed(routers)["feedbackUnmatched"] == 1


def test_a_label_that_is_no_class_is_400_naming_it(front: tuple[str, list[RouterProcess]]) -> None:
    url, _ = front
    reply = httpx.post(f"{url}/feedback", json=[{"requestId": "a", "label": 1}, {"requestId": "b", "label": "maybe"}], timeout=10)
    assert reply.status_code == 400
    assert "[1].label" in reply.json()["error"] and "'maybe'" in reply.json()["error"]


def _config_of(router: RouterProcess) -> dict[str, Any]:
    return dict(json.loads(router.config_path.read_text()))


def test_a_peer_that_does_not_answer_is_counted_and_the_rest_still_join(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    holder = start_router(base_config)
    asked = start_router(base_config)
    config = {**base_config, "feedbackPeers": [holder.admin, dead]}
    for router in (holder, asked):
        router.reconfigure(config)
    answers = send_many(holder.url + PREDICT, [{"instances": [[0.4]]}] * 5)
    reply = asked.feedback([{"requestId": a.request_id, "label": 0.4} for a in answers] + [{"requestId": "gone", "label": 1}])
    assert reply.json() == {"matched": 5, "late": 0, "unmatched": 1}
    assert asked.stats()["feedbackPeerErrors"] == 1 and asked.stats()["feedbackUnmatched"] == 1
    assert holder.stats()["stable"]["labelled"] == 5
