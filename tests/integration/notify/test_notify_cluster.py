"""Notifications from `modelrollout controller` on the real control plane, to real HTTP receivers.

The config is the file the chart renders, with the URL read from a file as the chart mounts a
Secret key; one receiver accepts, one answers 500, and the controller's /metrics counts the
notifications the broken one never took.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s

from controller.api.resource import GROUP, PLURAL, VERSION, revision_of
from controller.local.processes import ProcessGroup, free_port
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import apply_crd, wait_until

pytestmark = pytest.mark.integration

NAME = "fraud"


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path == "/broken":
            self.send_response(500)
        else:
            self.server.received.append(body)  # type: ignore[attr-defined]
            self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": NAME}}, "spec": {"containers": [{"name": "model", "image": image}]}}


def test_the_operator_notifies_a_rollout_start_and_counts_what_a_broken_receiver_refused(
    control_plane: ControlPlane, real_namespace: str, processes: ProcessGroup, tmp_path: Path, receiver: ThreadingHTTPServer
) -> None:
    base = f"http://127.0.0.1:{receiver.server_address[1]}"
    (tmp_path / "url").write_text(f"{base}/hook\n")
    (tmp_path / "notifications.yaml").write_text(
        f"targets:\n- {{name: hook, format: json, urlFile: {tmp_path / 'url'}}}\n- {{name: broken, url: '{base}/broken'}}\n"
        "everyRollout: [{target: broken, events: [started]}]\nattempts: 2\nbackoffSeconds: 0.05\n"
    )
    port = free_port()
    with control_plane.api_client() as api_client:
        apply_crd(api_client)
        processes.start("controller", [
            sys.executable, "-m", "controller", "controller", "--kubeconfig", str(control_plane.kubeconfig_path),
            "--namespace", real_namespace, "--metrics-listen", f"127.0.0.1:{port}",
            "--notifications-config", str(tmp_path / "notifications.yaml"),
        ])  # fmt: skip
        api = k8s.CustomObjectsApi(api_client)
        document = {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelRollout", "metadata": {"name": NAME},
            "spec": {"template": _template("model:v1"), "strategy": {"canary": {"steps": [{"setWeight": 50}, {"setWeight": 100}]}},
                     "notifications": [{"target": "hook", "events": ["started"]}]},
        }  # fmt: skip
        api.create_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, document)

        def stable() -> str | None:
            live = api.get_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, NAME)
            return (live.get("status") or {}).get("stableRevision")

        wait_until("the first stable", lambda: stable() == revision_of(_template("model:v1")))
        patch = {"spec": {"template": _template("model:v2")}}
        api.patch_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, NAME, patch)
        [started] = wait_until("the started notification", lambda: list(receiver.received))  # type: ignore[attr-defined]

        def refused() -> float:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            line = 'modelrollout_notifications_failed_total{cause="undelivered",event="started",target="broken"}'
            return next((float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)), 0.0)

        wait_until("the broken receiver's refusal counted", lambda: refused() == 1.0)
    assert (started["event"], started["reason"]) == ("started", "RolloutStarted")
    assert (started["namespace"], started["rollout"]) == (real_namespace, NAME)
    assert started["candidate_revision"] == revision_of(_template("model:v2"))
    assert started["stable_revision"] == revision_of(_template("model:v1"))
    assert "rolling out revision" in started["message"]
