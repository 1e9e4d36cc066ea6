"""`modelrollout controller` as a process: it serves health and metrics, acts as leader, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from controller.local.processes import free_port
from tests.fakekube import FakeKube
from tests.integration.kube.scene import canary_document

pytestmark = pytest.mark.integration


def _wait(what: str, check: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_operator_process_leads_reconciles_and_hands_the_lease_back_on_sigterm() -> None:
    # The Lease where install.yaml's Role grants it: in the release namespace.
    with FakeKube(ready_after_s=0.1, namespaces=("default", "modelrollout-system")) as kube:
        port = free_port()
        argv = [sys.executable, "-m", "controller", "controller", "--kubeconfig", str(kube.kubeconfig_path),
                "--metrics-listen", f"127.0.0.1:{port}", "--leader-elect", "--lease-namespace", "modelrollout-system",
                "--lease-duration", "3", "--identity", "operator-under-test", "--log-level", "warning"]  # fmt: skip
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait("/healthz", lambda: httpx.get(f"{base}/healthz").status_code == 200)
            kube.store.create("modelrollouts", "default", canary_document("demo", "model:v1", [{"setWeight": 100}]))
            _wait(
                "the first stable",
                lambda: (kube.store.get("modelrollouts", "default", "demo").get("status") or {}).get("phase") == "Healthy",
            )
            lease = kube.store.get("leases.coordination.k8s.io", "modelrollout-system", "modelrollout-controller")
            assert lease["spec"]["holderIdentity"] == "operator-under-test"
            metrics = httpx.get(f"{base}/metrics").text
            assert "modelrollout_leader 1.0" in metrics
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        lease = kube.store.get("leases.coordination.k8s.io", "modelrollout-system", "modelrollout-controller")
        assert lease["spec"].get("holderIdentity") is None
        output = process.stdout.read().decode() if process.stdout else ""
        assert "Traceback" not in output


def test_an_unusable_kubeconfig_is_named_with_exit_code_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing-kubeconfig"
    result = subprocess.run(
        [sys.executable, "-m", "controller", "controller", "--kubeconfig", str(missing)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert str(missing) in result.stdout
