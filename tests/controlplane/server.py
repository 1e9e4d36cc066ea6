"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

    plane = ControlPlane(find_assets(), workdir).start()
    api = kubernetes.client.CoreV1Api(plane.api_client())     # as the admin (system:masters)
    plane.token_kubeconfig(path, "modelrollout-system", "modelrollout-controller")  # as a ServiceAccount
    plane.audit_events()                                       # every request, who made it, the answer
    plane.stop()

The binaries come from `KUBEBUILDER_ASSETS`, envtest's convention, so a directory made by
`setup-envtest` works too (without a controller-manager binary, that part is skipped). Each
start takes fresh ports, a fresh etcd data directory and fresh certificates; `stop` ends only
the processes it started, by their pids. No kubelet, scheduler or kube-proxy run: Pods stay
Pending unless a test plays the node (`tests.loopnode`).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import orjson
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from controller.local.processes import ManagedProcess, ProcessGroup, free_port
from tests.controlplane.pki import Pki, make_pki

__all__ = ["ASSETS_HINT", "ControlPlane", "ControlPlaneError", "find_assets"]

ASSETS_HINT = (
    "set KUBEBUILDER_ASSETS to a directory holding etcd and kube-apiserver "
    "(unpack shared/kube-assets/kube-control-plane-linux-amd64.tar.xz, or run setup-envtest)"
)
SERVICE_CIDR, SERVICE_IP = "10.96.0.0/16", "10.96.0.1"
_REQUIRED = ("etcd", "kube-apiserver")
_CONTROLLER_MANAGER = "kube-controller-manager"
# Requests of the control plane's own parts are left out of the audit log: only what a test's
# clients (the operator, routers, the admin) asked for and were answered is kept.
_AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "users": ["system:apiserver", "system:kube-controller-manager"]},
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system", "system:nodes"]},
        {"level": "None", "nonResourceURLs": ["/readyz*", "/healthz*", "/livez*", "/version", "/openapi/*"]},
        {"level": "Metadata"},
    ],
}


class ControlPlaneError(RuntimeError):
    """The control plane could not be started; the message names the part and its log."""


def find_assets() -> Path | None:
    """The directory named by KUBEBUILDER_ASSETS when it holds etcd and kube-apiserver, else None."""
    named = os.environ.get("KUBEBUILDER_ASSETS")
    if not named:
        return None
    directory = Path(named)
    return directory if all((directory / b).is_file() for b in _REQUIRED) else None


class ControlPlane:
    def __init__(self, assets: Path, workdir: Path, *, controller_manager: bool = True, start_timeout_s: float = 90.0) -> None:
        self.assets = assets
        self.workdir = workdir
        self.with_controller_manager = controller_manager and (assets / _CONTROLLER_MANAGER).is_file()
        self._timeout_s = start_timeout_s
        self._processes = ProcessGroup(workdir / "logs")
        self._pki: Pki | None = None
        self.url = ""
        self.kubeconfig_path = workdir / "kubeconfig"
        self.audit_log = workdir / "logs" / "audit.log"

    # --- start and stop -------------------------------------------------------------------

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._pki = make_pki(self.workdir / "pki", SERVICE_IP)
        try:
            self._start_with_retries("etcd", self._start_etcd)
            self._start_with_retries("kube-apiserver", self._start_apiserver)
            self._write_admin_kubeconfig()
            if self.with_controller_manager:
                self._start_with_retries(_CONTROLLER_MANAGER, self._start_controller_manager)
                self._wait("the default ServiceAccount (controllers running)", self._default_service_account_exists)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop what was started, API clients first and etcd last."""
        self._processes.stop_all()

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The processes running now, in the order they were started."""
        return [member.process for member in self._processes.members]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _start_with_retries(self, name: str, start: Any) -> None:
        """Start a part on free ports; another process can take a port between picking and binding it."""
        for attempt in range(3):
            member = start()
            try:
                self._wait(f"{name} to answer", lambda member=member: self._answers(name, member), member)
                return
            except ControlPlaneError:
                member.stop()
                self._processes.members.remove(member)
                lost_port = member.log_path is not None and "address already in use" in member.log_path.read_text(errors="replace")
                if not lost_port or attempt == 2:
                    raise

    def _wait(self, what: str, ready: Any, member: ManagedProcess | None = None) -> None:
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            if member is not None and member.process.poll() is not None:
                raise ControlPlaneError(f"{member.name} exited with code {member.process.returncode}: {self._tail(member)}")
            if ready():
                return
            time.sleep(0.1)
        tail = f": {self._tail(member)}" if member is not None else ""
        raise ControlPlaneError(f"timed out after {self._timeout_s:.0f}s waiting for {what}{tail}")

    @staticmethod
    def _tail(member: ManagedProcess) -> str:
        if member.log_path is None or not member.log_path.exists():
            return "(no log)"
        lines = member.log_path.read_text(errors="replace").strip().splitlines()[-5:]
        return f"log {member.log_path}: " + " | ".join(lines)

    # --- the parts ------------------------------------------------------------------------

    def _start_etcd(self) -> ManagedProcess:
        self._etcd_port, peer_port = free_port(), free_port()
        data = self.workdir / "etcd-data"
        shutil.rmtree(data, ignore_errors=True)
        argv = [
            str(self.assets / "etcd"), "--name=test", f"--data-dir={data}",
            f"--listen-client-urls=http://127.0.0.1:{self._etcd_port}", f"--advertise-client-urls=http://127.0.0.1:{self._etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=test=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync=true", "--log-level=warn",
        ]  # fmt: skip
        # etcd reads ETCD_* variables as flags; those of the caller's environment are not for it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        return self._processes.start("etcd", argv, env=env, inherit=False)

    def _start_apiserver(self) -> ManagedProcess:
        pki = self._require_pki()
        self._apiserver_port = free_port()
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(_AUDIT_POLICY))
        argv = [
            str(self.assets / "kube-apiserver"), "--advertise-address=127.0.0.1", "--bind-address=127.0.0.1",
            f"--secure-port={self._apiserver_port}", f"--etcd-servers=http://127.0.0.1:{self._etcd_port}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.sa_pub}", f"--service-account-signing-key-file={pki.sa_key}",
            f"--client-ca-file={pki.ca_cert}", f"--tls-cert-file={pki.server_cert}", f"--tls-private-key-file={pki.server_key}",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction", "--allow-privileged=true",
            "--endpoint-reconciler-type=none", "--profiling=false",
            f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log}", "--audit-log-format=json",
        ]  # fmt: skip
        self.url = f"https://127.0.0.1:{self._apiserver_port}"
        return self._processes.start("kube-apiserver", argv)

    def _start_controller_manager(self) -> ManagedProcess:
        pki = self._require_pki()
        kubeconfig = self._write_kubeconfig(self.workdir / "kcm.kubeconfig", "system:kube-controller-manager", {
            "client-certificate": str(pki.kcm_cert), "client-key": str(pki.kcm_key)})  # fmt: skip
        self._kcm_port = free_port()
        argv = [
            str(self.assets / _CONTROLLER_MANAGER), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={self._kcm_port}",
            f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=true", "--controllers=*", "--leader-elect=false",
            f"--cluster-signing-cert-file={pki.ca_cert}", f"--cluster-signing-key-file={pki.ca_key}",
            "--allocate-node-cidrs=false", "--profiling=false",
        ]  # fmt: skip
        return self._processes.start(_CONTROLLER_MANAGER, argv)

    def _answers(self, name: str, member: ManagedProcess) -> bool:
        try:
            if name == "etcd":
                return httpx.get(f"http://127.0.0.1:{self._etcd_port}/health", timeout=2).is_success
            if name == "kube-apiserver":
                with self._admin_http() as http:
                    return http.get("/readyz").text == "ok"
            return httpx.get(f"https://127.0.0.1:{self._kcm_port}/healthz", verify=False, timeout=2).is_success  # noqa: S501 -- its own self-signed serving cert
        except httpx.HTTPError:
            return False

    def _default_service_account_exists(self) -> bool:
        try:
            with self._admin_http() as http:
                return http.get("/api/v1/namespaces/default/serviceaccounts/default").is_success
        except httpx.HTTPError:
            return False

    # --- clients --------------------------------------------------------------------------

    def _require_pki(self) -> Pki:
        if self._pki is None:
            raise ControlPlaneError("the control plane is not started")
        return self._pki

    def _admin_http(self) -> httpx.Client:
        pki = self._require_pki()
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        return httpx.Client(base_url=self.url, verify=context, timeout=5)

    def _write_kubeconfig(self, path: Path, user: str, credentials: dict[str, str], namespace: str = "default") -> Path:
        document = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url, "certificate-authority": str(self._require_pki().ca_cert)}}],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": user, "namespace": namespace}}],
            "current-context": "test",
        }  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        path.chmod(0o600)
        return path

    def _write_admin_kubeconfig(self) -> None:
        pki = self._require_pki()
        self._write_kubeconfig(self.kubeconfig_path, "admin", {"client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)})

    def configuration(self, kubeconfig: Path | None = None) -> k8s.Configuration:
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(
            config_file=str(kubeconfig or self.kubeconfig_path), client_configuration=configuration, persist_config=False
        )
        return configuration

    def api_client(self, kubeconfig: Path | None = None) -> k8s.ApiClient:
        return k8s.ApiClient(self.configuration(kubeconfig))

    def token_kubeconfig(self, path: Path, namespace: str, service_account: str, expiration_s: int = 3600) -> Path:
        """A kubeconfig that authenticates as a ServiceAccount, with a token from the TokenRequest API
        (what the kubelet mounts into a pod)."""
        with self._admin_http() as http:
            answer = http.post(
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": expiration_s}},
            )
        if not answer.is_success:
            raise ControlPlaneError(
                f"no token for ServiceAccount {namespace}/{service_account}: HTTP {answer.status_code} {answer.text[:200]}"
            )
        return self._write_kubeconfig(
            path, f"system:serviceaccount:{namespace}:{service_account}", {"token": answer.json()["status"]["token"]}, namespace
        )

    def audit_events(self) -> Iterator[dict[str, Any]]:
        """Every audited request so far: verb, user, objectRef, responseStatus, requestURI."""
        if not self.audit_log.exists():
            return
        with self.audit_log.open("rb") as lines:
            for line in lines:
                if line.strip():
                    yield orjson.loads(line)
