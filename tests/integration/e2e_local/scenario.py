"""A whole rollout without Docker: install.yaml on a real control plane, Pods run by a loopback node.

    python -m tests.integration.e2e_local.scenario [--workdir DIR] [--keep] [--result FILE]

Run from the repository root, as root, with KUBEBUILDER_ASSETS naming the control plane's
binaries (`make e2e-local` does all of that). It starts itself again inside fresh network,
mount and PID namespaces (`unshare`, see `tests.loopnode.netns`): every address it uses is
local to them, /etc/hosts is the harness's own there, and when it ends every process it
started ends with it, even if it is killed.

Inside: a real etcd, kube-apiserver and kube-controller-manager; manifests/install.yaml
applied as it is (the CRD, RBAC, and the controller Deployment, whose two replicas the
loopback node runs as processes under their ServiceAccount's token); a ModelRollout of the
demo model (rollout.yaml here) whose revisions, routers and Services the controller makes;
client traffic to the rollout's Service by name. Then:

    a. a good candidate (demo-model:v2) is promoted;
    b. a bad one (demo-model:v3-errors, 15% errors) is rolled back at its shadow step, and no
       client sees an error meanwhile;
    c. a good one (demo-model:v4), after that bad one: the leading controller is killed with
       SIGKILL during the shadow analysis step, before its first measurement (its Lease must
       expire before another replica goes on, which then finds the measurement overdue), and
       the next leader's Pod is deleted during the setWeight step (it hands the Lease back and
       a standby goes on); the rollout continues and the candidate is promoted exactly once,
       with no failed measurement;
    d. spec.monitoring watches the promoted model: its reference is captured into the ConfigMap
       `<rollout>-reference`, then the clients' inputs drift (two features doubled) and DataDrift
       turns True naming them, with an Event, and the retraining webhook (a receiver the scenario
       runs on the loopback address) gets one POST per episode;

and the audit log shows no request by the controller's or the routers' ServiceAccounts
refused (403), routers watching their ConfigMap and the controller watching EndpointSlices.

Exit code 0 when everything held, 1 when something did not (the report says what), 2 when
this machine cannot run it. `--result FILE` writes the report as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import GROUP, PLURAL, VERSION, revision_of
from controller.local.drifted_traffic import InputDrift
from tests.controlplane import ASSETS_HINT, find_assets
from tests.integration.e2e_local.audit import refused, requests_by, service_account
from tests.integration.e2e_local.clients import ClientTraffic
from tests.integration.e2e_local.recorder import RolloutRecorder, ScenarioFailure, Seen, brief
from tests.loopnode.cluster import LoopbackCluster
from tests.loopnode.netns import inside, isolation_problem, run_isolated

__all__ = ["main", "run_inside", "Report"]

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
OPERATOR_NAMESPACE = "modelrollout-system"
CONTROLLER_ACCOUNT = "modelrollout-controller"
LEASE = "modelrollout-controller"
NAMESPACE = "models"
ROLLOUT = "demo-model"
MODEL = "registry.local/demo-model"
IMAGES = {"v1": f"{MODEL}:v1", "good": f"{MODEL}:v2", "bad": f"{MODEL}:v3-errors", "after-bad": f"{MODEL}:v4"}
RATE_PER_S = 30.0
ANALYSIS_STEP, SET_WEIGHT_STEP = 1, 3  # indexes in rollout.yaml's steps
# Phase d's drift: features 0 and 3 of the demo data (mean radius, mean area) doubled.
DRIFT = InputDrift(scale={0: 2.0, 3: 2.0})
EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2


@dataclass
class Report:
    ok: bool = False
    failures: list[str] = field(default_factory=list)
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    workdir: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": self.failures, "phases": self.phases, "timings_s": self.timings_s, "workdir": self.workdir}


# --- the rollout ----------------------------------------------------------------------------


def rollout_manifest(retraining_url: str) -> dict[str, Any]:
    manifest = yaml.safe_load((HERE / "rollout.yaml").read_text(encoding="utf-8"))
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = IMAGES["v1"]
    manifest["spec"]["monitoring"]["retraining"]["webhook"]["url"] = retraining_url
    return manifest


class RetrainingReceiver:
    """The retraining webhook: an HTTP server on the loopback address that keeps every POST."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append({"key": self.headers.get("idempotency-key"), "body": json.loads(body or b"{}")})
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="retraining-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/retrain"

    def __enter__(self) -> RetrainingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def revision(manifest: dict[str, Any], image: str) -> str:
    template = copy.deepcopy(manifest["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    return revision_of(template)


def settled_on(revision_: str) -> Callable[[dict[str, Any]], bool]:
    def check(status: dict[str, Any]) -> bool:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        return (
            status.get("phase") == "Healthy" and status.get("stableRevision") == revision_ and ready and not status.get("candidateRevision")
        )

    return check


def verdicts(status: dict[str, Any], revision_: str) -> set[tuple[str, str]]:
    return {(r["metric"], r["verdict"]) for r in status.get("evidence") or [] if r.get("revision") == revision_}


def promotions(history: list[Seen], revision_: str) -> int:
    """How many times the stable revision became `revision_`."""
    stables = [seen.status.get("stableRevision") for seen in history]
    return sum(1 for before, after in zip([None, *stables], stables, strict=False) if after == revision_ and before != revision_)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailure(message)


class Run:
    """The cluster, the rollout's recorder and the client traffic, with the few actions the phases take."""

    def __init__(self, cluster: LoopbackCluster, recorder: RolloutRecorder, manifest: dict[str, Any]) -> None:
        self.cluster = cluster
        self.recorder = recorder
        self.manifest = manifest
        self._traffic: ClientTraffic | None = None
        self.core = k8s.CoreV1Api(cluster.api_client)
        self.custom = k8s.CustomObjectsApi(cluster.api_client)
        self.coordination = k8s.CoordinationV1Api(cluster.api_client)

    @property
    def traffic(self) -> ClientTraffic:
        if self._traffic is None:
            raise RuntimeError("client traffic starts once the first revision is stable")
        return self._traffic

    @traffic.setter
    def traffic(self, traffic: ClientTraffic) -> None:
        self._traffic = traffic

    def set_model_image(self, image: str) -> None:
        patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, ROLLOUT, patch, _content_type="application/json-patch+json"
        )

    def leader(self) -> tuple[str, str, int] | None:
        """(holder identity, controller Pod key, pid) of the Lease holder, when it is one of our processes.

        A controller names itself `<host name>-<pid>` (controller.kube.wiring.default_identity),
        and the pid is the one the runtime started: both are in the harness's PID namespace."""
        try:
            lease = self.coordination.read_namespaced_lease(LEASE, OPERATOR_NAMESPACE)
        except ApiException:
            return None
        holder = lease.spec.holder_identity or ""
        pid = holder.rsplit("-", 1)[-1]
        for pod in self.core.list_namespaced_pod(OPERATOR_NAMESPACE).items:
            key = f"{OPERATOR_NAMESPACE}/{pod.metadata.name}"
            if pid.isdigit() and self.cluster.runtime.pids(key).get("controller") == int(pid):
                return holder, key, int(pid)
        return None

    def wait_for_leader(self, other_than: str | None, timeout_s: float) -> tuple[str, str, int]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.leader()
            if found is not None and found[0] != other_than:
                return found
            time.sleep(0.2)
        raise ScenarioFailure(
            f"no controller {'other than ' + other_than + ' ' if other_than else ''}took the Lease within {timeout_s:.0f}s"
        )

    def events(self, reason: str) -> list[k8s.CoreV1Event]:
        return [e for e in self.core.list_namespaced_event(NAMESPACE).items if e.reason == reason and e.involved_object.name == ROLLOUT]


# --- the phases -----------------------------------------------------------------------------


def setup(run: Run, report: Report) -> None:
    started = time.monotonic()
    run.custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, run.manifest)
    v1 = revision(run.manifest, IMAGES["v1"])
    run.recorder.wait(settled_on(v1), f"the first revision {v1} to be stable", 90)
    # Clients start once the Service forwards somewhere, as they would once its endpoints
    # reached kube-proxy: the rollout is Healthy a moment before its EndpointSlice says so.
    port = int(run.manifest["spec"]["service"]["ports"][0]["port"])
    deadline = time.monotonic() + 30
    while not run.cluster.proxy.backends(NAMESPACE, ROLLOUT, port):
        expect(time.monotonic() < deadline, f"Service {NAMESPACE}/{ROLLOUT} had no ready endpoint 30s after the rollout was Healthy")
        time.sleep(0.1)
    report.timings_s["first revision stable"] = round(time.monotonic() - started, 1)


def phase_good(run: Run, report: Report) -> None:
    started = time.monotonic()
    good = revision(run.manifest, IMAGES["good"])
    run.set_model_image(IMAGES["good"])
    status = run.recorder.wait(settled_on(good), f"the good candidate {good} to be promoted", 120)
    seen = run.traffic.seen(started)
    report.phases["a_good_promoted"] = {"revision": good, "clients": seen.as_dict(), "verdicts": sorted(verdicts(status, good))}
    expect(
        status["traffic"].get("stable") == 100 and not status["traffic"].get("mirror"), f"after promotion the split is {status['traffic']}"
    )
    expect(
        {("shadow-agreement", "Passed"), ("error-rate", "Passed")} <= verdicts(status, good),
        f"verdicts for {good}: {sorted(verdicts(status, good))}",
    )
    expect(seen.by_variant.get("candidate", 0) > 0, f"no client was answered by the candidate during its weight steps: {seen.as_dict()}")
    report.timings_s["a good candidate promoted"] = round(time.monotonic() - started, 1)


def phase_bad(run: Run, report: Report) -> None:
    started = time.monotonic()
    good, bad = revision(run.manifest, IMAGES["good"]), revision(run.manifest, IMAGES["bad"])
    run.set_model_image(IMAGES["bad"])

    def rolled_back(status: dict[str, Any]) -> bool:
        return status.get("phase") == "Degraded" and status.get("rejectedRevision") == bad

    status = run.recorder.wait(rolled_back, f"the bad candidate {bad} to be rolled back", 90)
    seen = run.traffic.seen(started)
    report.phases["b_bad_rolled_back"] = {"revision": bad, "clients": seen.as_dict(), "verdicts": sorted(verdicts(status, bad))}
    expect(status.get("stableRevision") == good, f"stable after the rollback is {status.get('stableRevision')}, not {good}")
    expect(
        status["traffic"].get("stable") == 100 and not status["traffic"].get("mirror"),
        f"after the rollback the split is {status['traffic']}",
    )
    expect(("shadow-errors", "Failed") in verdicts(status, bad), f"verdicts for {bad}: {sorted(verdicts(status, bad))}")
    expect(
        seen.failed == 0 and "candidate" not in seen.by_variant,
        f"clients saw the bad candidate (it only had shadow traffic): {seen.as_dict()}",
    )
    report.timings_s["b bad candidate rolled back"] = round(time.monotonic() - started, 1)


def phase_restarts(run: Run, report: Report) -> None:
    started = time.monotonic()
    candidate = revision(run.manifest, IMAGES["after-bad"])
    details: dict[str, Any] = {"revision": candidate}
    report.phases["c_controller_killed"] = details
    first = run.wait_for_leader(None, 30)
    run.set_model_image(IMAGES["after-bad"])

    def at_step(index: int) -> Callable[[dict[str, Any]], bool]:
        return lambda s: s.get("candidateRevision") == candidate and s.get("currentStep") == index

    # The leader killed outright while the shadow analysis has measured nothing yet: no hand-back,
    # so its Lease expires first and the next leader finds the measurement overdue. Its very
    # first reading of the routers must not stand for the window: their counters since they
    # started still hold the bad candidate's shadow errors.
    at_analysis = run.recorder.wait(at_step(ANALYSIS_STEP), f"{candidate} to reach its shadow analysis step", 60)
    killed = run.cluster.runtime.crash(first[1], "controller")
    details["killed during analysis"] = {
        "pod": first[1],
        "pid": killed,
        "currentStep": at_analysis.get("currentStep"),
        "stepMeasurements": at_analysis.get("stepMeasurements", 0),
    }
    expect(killed == first[2], f"the leader's process {first[2]} was not running to be killed (got {killed})")
    expect(
        at_analysis.get("stepMeasurements", 0) == 0,
        f"the analysis step had measured already when the controller was killed: {brief(at_analysis)}",
    )
    second = run.wait_for_leader(first[0], 45)

    # The next leader's Pod deleted while the routers move to the next weight: it hands the
    # Lease back on SIGTERM, a standby goes on, and the Deployment starts a new replica.
    at_weight = run.recorder.wait(at_step(SET_WEIGHT_STEP), f"{candidate} to reach its setWeight step", 90)
    run.core.delete_namespaced_pod(second[1].split("/")[1], OPERATOR_NAMESPACE)
    details["pod deleted during setWeight"] = {
        "pod": second[1],
        "currentStep": at_weight.get("currentStep"),
        "traffic": at_weight.get("traffic"),
    }
    third = run.wait_for_leader(second[0], 30)
    details["leaders"] = [first[0], second[0], third[0]]

    status = run.recorder.wait(settled_on(candidate), f"{candidate} to be promoted after the controller restarts", 150)
    history = run.recorder.history(started)
    steps = [seen.status.get("currentStep") for seen in history if seen.status.get("candidateRevision") == candidate]
    promoted_events = [e for e in run.events("Promoted") if (e.message or "").startswith(f"revision {candidate} promoted")]
    details.update({
        "clients": run.traffic.seen(started).as_dict(), "verdicts": sorted(verdicts(status, candidate)),
        "steps seen": steps, "promotions": promotions(history, candidate),
        "promoted events": [(e.message, e.count) for e in promoted_events],
        "evidence": [
            f"{r.get('scope')} {r.get('metric')} {r.get('verdict')} samples {r.get('candidateSamples')}/{r.get('stableSamples')} "
            f"window {r.get('windowStart')}..{r.get('windowEnd')}: {r.get('reason')}"
            for r in status.get("evidence") or [] if r.get("revision") == candidate
        ],
    })  # fmt: skip
    expect(
        not any(v == "Failed" for _m, v in verdicts(status, candidate)),
        f"a measurement of the good candidate {candidate} failed: {brief(status)}",
    )
    expect(promotions(history, candidate) == 1, f"{candidate} became stable {promotions(history, candidate)} times")
    expect(
        len(promoted_events) == 1 and (promoted_events[0].count or 1) == 1, f"Promoted events for {candidate}: {details['promoted events']}"
    )
    numbered = [s for s in steps if s is not None]
    expect(numbered == sorted(numbered), f"a step ran again after a restart: steps seen {steps}")
    report.timings_s["c promoted through two controller kills"] = round(time.monotonic() - started, 1)


def phase_monitoring(run: Run, report: Report, receiver: RetrainingReceiver) -> None:
    started = time.monotonic()
    stable = revision(run.manifest, IMAGES["after-bad"])
    details: dict[str, Any] = {"revision": stable}
    report.phases["d_monitoring"] = details

    def monitoring(status: dict[str, Any]) -> dict[str, Any]:
        return status.get("monitoring") or {}

    def condition(status: dict[str, Any], kind: str) -> str | None:
        return next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == kind), None)

    status = run.recorder.wait(lambda s: monitoring(s).get("revision") == stable and bool(monitoring(s).get("reference")),
                               f"the reference of {stable} to be captured", 60)  # fmt: skip
    stored = json.loads(run.core.read_namespaced_config_map(f"{ROLLOUT}-reference", NAMESPACE).data["reference.json"])
    features = stored.get("features") or {}
    details["reference"] = {"revision": stored.get("revision"), "samples": stored.get("samples"), "features": len(features)}
    expect(stored.get("revision") == stable, f"the reference ConfigMap holds revision {stored.get('revision')}, not {stable}")
    status = run.recorder.wait(lambda s: condition(s, "DataDrift") == "False", "an undrifted check (DataDrift False)", 30)
    details["undrifted check"] = monitoring(status).get("lastCheck")
    run.traffic.start_drift()
    def drifted(status: dict[str, Any]) -> list[str]:
        return sorted(f["feature"] for f in monitoring(status).get("findings") or [] if f.get("drifted"))

    # The sliding window fills with drifted traffic over a few checks: one feature may be flagged
    # (DataDrift True) a check before the other.
    status = run.recorder.wait(lambda s: condition(s, "DataDrift") == "True" and set(DRIFT.features) <= set(drifted(s)),
                               f"DataDrift naming {DRIFT.features} after the inputs drifted", 60)  # fmt: skip
    details["drifted features"] = drifted(status)
    deadline = time.monotonic() + 30
    while not [r for r in receiver.received if r["body"].get("revision") == stable] and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(6)  # three more checks: a condition that stays True must not fire again
    final = run.recorder.status
    posts = [r for r in receiver.received if r["body"].get("revision") == stable]
    episodes = [e for e in monitoring(final).get("episodes") or [] if e.get("condition") == "DataDrift" and e.get("fired")]
    details["posts"] = [(r["key"], r["body"].get("condition")) for r in posts]
    details["episodes"] = [e["id"] for e in episodes]
    expect(bool(posts), f"the retraining webhook got no POST for {stable}: {receiver.received}")
    expect(sorted(r["key"] for r in posts) == sorted(e["id"] for e in episodes),
           f"POSTs {details['posts']} are not one per fired episode {details['episodes']}")  # fmt: skip
    expect(all(r["body"]["evidence"]["condition"] == "DataDrift" for r in posts), f"evidence: {[r['body'] for r in posts]}")
    expect(bool(run.events("DataDrift")), "no DataDrift Event on the rollout")
    report.timings_s["d drift flagged and retraining fired"] = round(time.monotonic() - started, 1)


def check_audit(run: Run, report: Report) -> None:
    controller = service_account(OPERATOR_NAMESPACE, CONTROLLER_ACCOUNT)
    router = service_account(NAMESPACE, f"{ROLLOUT}-router")
    requests = requests_by(run.cluster.plane.audit_events(), {controller, router})
    denied = refused(requests)
    router_watches = [r for r in requests if r.user == router and r.verb == "watch" and r.resource == "configmaps"]
    slice_watches = [r for r in requests if r.user == controller and r.verb == "watch" and r.resource == "endpointslices.discovery.k8s.io"]
    report.phases["audit"] = {
        "requests": len(requests), "refused": [str(r) for r in denied[:20]], "refused_count": len(denied),
        "router configmap watches": len(router_watches), "controller endpointslice watches": len(slice_watches),
    }  # fmt: skip
    expect(not denied, f"{len(denied)} requests refused (403), e.g.: " + "; ".join(sorted({str(r) for r in denied})[:6]))
    expect(bool(router_watches), "the routers never watched their ConfigMap")
    expect(bool(slice_watches), "the controller never watched EndpointSlices")


def diagnose(run: Run) -> dict[str, Any]:
    """Where the routers and the controller stand, for a report on a failure."""
    found: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        configmap = run.core.read_namespaced_config_map(f"{ROLLOUT}-router", NAMESPACE)
        found["configmap generation"] = json.loads(configmap.data["router.json"]).get("generation")
    with contextlib.suppress(Exception):
        slices = k8s.DiscoveryV1Api(run.cluster.api_client).list_namespaced_endpoint_slice(
            NAMESPACE, label_selector=f"kubernetes.io/service-name={ROLLOUT}-router"
        )
        endpoints = [(a, e.conditions.ready) for s in slices.items for e in s.endpoints or [] for a in e.addresses]
        found["router endpoints"] = endpoints
        for address, _ready in endpoints:
            stats = httpx.get(f"http://{address}:9090/stats", timeout=2).json()
            found[f"router {address} generation"] = stats.get("generation")
    with contextlib.suppress(Exception):
        found["leader"] = run.leader()
    return found


# --- running it -----------------------------------------------------------------------------


def _tails(workdir: Path, lines: int = 25) -> str:
    logs = sorted((workdir / "logs").glob("*.log"))
    parts = []
    for path in logs:
        text = path.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {path.name}\n" + "\n".join(text))
    return "\n".join(parts)


def _wait_established(api_client: k8s.ApiClient, name: str, timeout_s: float = 30) -> None:
    extensions = k8s.ApiextensionsV1Api(api_client)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise ScenarioFailure(f"the CRD {name} was not established within {timeout_s:.0f}s")


def run_inside(workdir: Path, report: Report) -> None:
    assets = find_assets()
    if assets is None:
        raise ScenarioFailure(f"no control plane: {ASSETS_HINT}")
    started = time.monotonic()
    with LoopbackCluster(assets, workdir, namespaces=[OPERATOR_NAMESPACE, NAMESPACE]) as cluster:
        report.timings_s["control plane up"] = round(time.monotonic() - started, 1)
        cluster.apply_file(ROOT / "manifests" / "install.yaml")
        _wait_established(cluster.api_client, f"{PLURAL}.{GROUP}")
        k8s.CoreV1Api(cluster.api_client).create_namespace({"metadata": {"name": NAMESPACE}})
        target = f"http://{ROLLOUT}.{NAMESPACE}.svc"
        with RolloutRecorder(cluster.api_client, NAMESPACE, ROLLOUT) as recorder, RetrainingReceiver() as receiver:
            manifest = rollout_manifest(receiver.url)
            run = Run(cluster, recorder, manifest)
            try:
                setup(run, report)
                with ClientTraffic(target, RATE_PER_S, drift=DRIFT) as traffic:
                    run.traffic = traffic
                    try:
                        for phase in (phase_good, phase_bad, phase_restarts):
                            phase(run, report)
                        phase_monitoring(run, report, receiver)
                    except ScenarioFailure:
                        report.phases["diagnosis"] = diagnose(run)
                        raise
                    finally:
                        report.phases["clients"] = traffic.seen().as_dict()
            finally:
                try:
                    check_audit(run, report)
                except ScenarioFailure as exc:
                    report.failures.append(str(exc))
    report.timings_s["total"] = round(time.monotonic() - started, 1)


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    # As PID 1 of its namespace this process ignores SIGTERM unless it handles it: unwind and stop everything.
    raise KeyboardInterrupt(f"signal {signum}")


def _inside_main(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="modelrollout-e2e-local-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = Report(workdir=str(workdir))
    try:
        run_inside(workdir, report)
    except ScenarioFailure as exc:
        report.failures.insert(0, str(exc))
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 -- whatever broke, it is reported and everything stopped
        report.failures.insert(0, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    report.ok = not report.failures
    if args.result:
        Path(args.result).write_text(json.dumps(report.as_dict(), indent=2, default=str))
    print(json.dumps({"phases": report.phases, "timings_s": report.timings_s}, indent=1, default=str))
    if report.ok:
        print(f"e2e-local: passed in {report.timings_s.get('total')}s")
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        return EXIT_OK
    print("e2e-local: FAILED\n" + "\n".join(f"- {failure}" for failure in report.failures))
    print(f"logs in {workdir}/logs; last lines:\n{_tails(workdir)}")
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.e2e_local.scenario", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir", help="where logs and the control plane's data go (default: a fresh temporary directory, removed on success)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory on success too")
    parser.add_argument("--result", help="write the report here as JSON")
    args = parser.parse_args(argv)
    if inside():
        return _inside_main(args)
    problem = isolation_problem() or (None if find_assets() else f"no control plane: {ASSETS_HINT}")
    if problem:
        print(f"e2e-local cannot run here: {problem}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        return run_isolated(
            [sys.executable, "-m", "tests.integration.e2e_local.scenario", *(argv if argv is not None else sys.argv[1:])], ROOT
        )
    except KeyboardInterrupt:
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
