"""`modelrollout controller`: run the Kubernetes operator until SIGTERM or SIGINT.

Exit codes: 0 after a clean stop, 2 for unusable arguments or kubeconfig.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from controller.kube.client import KubeClient, load_configuration
from controller.kube.errors import KubeError
from controller.kube.leader import LeaseConfig
from controller.kube.manager import Controller
from controller.kube.objects import DEFAULT_ROUTER_IMAGE
from controller.kube.webhook_server import DEFAULT_CONFIGURATION, WebhookConfig, WebhookServer
from controller.kube.wiring import ControllerConfig, default_identity
from controller.notify.config import load_notifications_config
from controller.runtime.logs import configure_logging

__all__ = ["add_arguments", "run", "parse_listen", "config_from"]

USAGE_ERROR = 2
log = logging.getLogger(__name__)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:8080`) for argparse; a bad value names itself."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT with a port in 0..65535")
    return host.strip("[]"), int(port)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    webhook = parser.add_argument_group("sidecar injector (a mutating admission webhook, served over HTTPS)")
    webhook.add_argument("--webhook-listen", type=parse_listen, metavar="HOST:PORT", help="serve the webhook here (default: not at all)")
    webhook.add_argument(
        "--webhook-host", action="append", default=[], metavar="NAME",
        help="a DNS name or IP address the API server calls the webhook by, for its certificate (repeatable)",
    )  # fmt: skip
    webhook.add_argument(
        "--webhook-configuration", default=DEFAULT_CONFIGURATION, metavar="NAME",
        help=f"the MutatingWebhookConfiguration whose caBundle this controller keeps in step (default {DEFAULT_CONFIGURATION})",
    )  # fmt: skip
    webhook.add_argument(
        "--webhook-cert-dir", type=Path, metavar="DIR",
        help="serve tls.crt and tls.key from here (cert-manager's Secret) instead of a certificate of its own",
    )  # fmt: skip


def webhook_from(args: argparse.Namespace, identity: str) -> WebhookConfig | None:
    if args.webhook_listen is None:
        return None
    return WebhookConfig(
        listen=args.webhook_listen,
        hosts=tuple(dict.fromkeys(args.webhook_host)),
        configuration=args.webhook_configuration,
        cert_dir=args.webhook_cert_dir,
        identity=identity,
        router_image=args.router_image,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace", action="append", default=[], metavar="NS", help="watch only this namespace (repeatable; default: all)"
    )
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig (default: $KUBECONFIG, ~/.kube/config, or the pod's service account)"
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "--metrics-listen",
        type=parse_listen,
        default=("127.0.0.1", 8081),
        metavar="HOST:PORT",
        help="serve /metrics and /healthz here (default 127.0.0.1:8081)",
    )
    parser.add_argument("--leader-elect", action="store_true", help="run only while holding the leader Lease (for several replicas)")
    parser.add_argument("--lease-namespace", default="modelrollout-system", metavar="NS", help="namespace of the leader Lease")
    parser.add_argument("--lease-name", default="modelrollout-controller", metavar="NAME", help="name of the leader Lease")
    parser.add_argument(
        "--lease-duration", type=float, default=15.0, metavar="SECONDS", help="how long a Lease lasts unrenewed (default 15)"
    )
    parser.add_argument("--identity", default=None, metavar="ID", help="this replica's name in the Lease (default: host name and pid)")
    parser.add_argument("--workers", type=_positive, default=4, metavar="N", help="rollouts reconciled at once (default 4)")
    add_webhook_arguments(parser)
    parser.add_argument(
        "--router-image", default=DEFAULT_ROUTER_IMAGE, metavar="IMAGE",
        help=f"routers' image when a rollout sets no spec.router.image, managed or injected (default {DEFAULT_ROUTER_IMAGE})",
    )  # fmt: skip
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--log-format", default="text", choices=["text", "json"], help="json: one JSON object a line, with the rollout's fields"
    )
    parser.add_argument(
        "--notifications-config",
        type=Path,
        metavar="FILE",
        help="notification targets and what every rollout sends (JSON or YAML; the chart renders it)",
    )
    parser.add_argument(
        "--provider-secrets-dir",
        type=Path,
        metavar="DIR",
        help="Secrets that metric sources name, mounted as DIR/<secret>/<key> (the chart mounts providerSecrets here)",
    )


def config_from(args: argparse.Namespace) -> ControllerConfig:
    identity = args.identity or default_identity()
    lease = None
    if args.leader_elect:
        duration = args.lease_duration
        lease = LeaseConfig(
            namespace=args.lease_namespace,
            name=args.lease_name,
            identity=identity,
            lease_duration_s=duration,
            renew_deadline_s=duration * 2 / 3,
            retry_period_s=duration * 2 / 15,
        )
    return ControllerConfig(
        namespaces=tuple(dict.fromkeys(args.namespace)),
        workers=args.workers,
        leader_election=lease,
        metrics_listen=args.metrics_listen,
        identity=identity,
        router_image=args.router_image,
        notifications=load_notifications_config(args.notifications_config) if args.notifications_config else None,
        provider_secrets_dir=args.provider_secrets_dir,
    )


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_format, args.log_level)
    try:
        config = config_from(args)
        webhook = webhook_from(args, config.identity)
        client = KubeClient(load_configuration(args.kubeconfig, args.context))
    except (ValueError, KubeError) as exc:
        print(f"modelrollout controller: {exc}")
        return USAGE_ERROR
    try:
        asyncio.run(_serve(client, config, webhook))
    finally:
        client.close()
    return 0


async def _serve(client: KubeClient, config: ControllerConfig, webhook: WebhookConfig | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    controller = Controller(client, config)
    log.info("controller %s starting (namespaces: %s)", config.identity, ", ".join(config.namespaces) or "all")
    if webhook is None:
        await controller.run(stop)
    else:
        await _with_webhook(client, controller, stop, webhook)
    log.info("controller %s stopped", config.identity)


async def _with_webhook(client: KubeClient, controller: Controller, stop: asyncio.Event, webhook: WebhookConfig) -> None:
    """Every replica serves the webhook, leader or not: the API server calls whichever its Service picks.

    It answers until the controller has drained, while the Service stops sending here, so that Pods
    created during a rolling update of the controller are not admitted without their router.
    """
    webhook_stop = asyncio.Event()

    async def controller_then_webhook() -> None:
        try:
            await controller.run(stop)
        finally:
            webhook_stop.set()

    await asyncio.gather(controller_then_webhook(), WebhookServer(client, webhook).run(webhook_stop))
