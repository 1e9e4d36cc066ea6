"""`kubectl modelrollout sidecar NAME [-o yaml|json]`: the router sidecar of a ModelRollout, for injecting by hand.

Prints the pod-spec fragment the sidecar injector would add to a Pod labelled
`modelrollout.io/inject: NAME`: the router container (exactly as the injector builds it), the
label the controller polls router pods by, and the ServiceAccount that may read the router's
ConfigMap. Without `-o` the fragment comes with comments saying where each part goes; `-o
yaml` and `-o json` print it bare, for a Kustomize patch or a template of your own.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pydantic
import yaml

from controller.api.resource import ModelRollout
from controller.api.spec import RouterMode
from controller.cli.kubectl.common import FAILED, add_target_arguments, namespace_of, with_client
from controller.kube.client import MODELROLLOUT, KubeClient
from controller.kube.objects import DEFAULT_ROUTER_IMAGE, SIDECAR_DATA_PORT
from controller.kube.webhook_inject import INJECT_KEY, inject

__all__ = ["add_arguments", "run", "pod_fragment"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("-o", "--output", choices=["yaml", "json"], help="the fragment alone (default: YAML with comments)")
    parser.add_argument(
        "--router-image", default=DEFAULT_ROUTER_IMAGE, metavar="IMAGE",
        help="the controller's --router-image, when it was installed with another (default: %(default)s)",
    )  # fmt: skip


def pod_fragment(rollout: ModelRollout, router_image: str = DEFAULT_ROUTER_IMAGE) -> dict[str, Any]:
    """What the injector adds to a Pod that names no ServiceAccount of its own, as a pod-template fragment."""
    injected = inject({"metadata": {}, "spec": {"containers": []}}, rollout, router_image).pod
    return {
        "metadata": {"labels": injected["metadata"]["labels"]},
        "spec": {"serviceAccountName": injected["spec"]["serviceAccountName"], "containers": injected["spec"]["containers"]},
    }


def _commented(rollout: ModelRollout, fragment: dict[str, Any]) -> str:
    name = rollout.name
    return "\n".join(
        [
            f"# The router sidecar of ModelRollout {rollout.namespace}/{name}: merge this into your Pod template.",
            f"# The label {INJECT_KEY}: {name} makes the sidecar injector add the same for you.",
            f"# Callers send their requests to http://127.0.0.1:{SIDECAR_DATA_PORT}; the controller finds the router",
            "# by the label and polls its admin port. With a ServiceAccount of your own, keep it and bind",
            f"# Role {name}-router to it instead of using {name}-router.",
            yaml.safe_dump(fragment, sort_keys=False).rstrip(),
        ]
    )


def run(args: argparse.Namespace) -> int:
    namespace = namespace_of(args)

    async def work(client: KubeClient) -> int:
        raw = await client.get(MODELROLLOUT, namespace, args.name)
        try:
            rollout = ModelRollout.model_validate(raw)
        except pydantic.ValidationError as exc:
            print(f"error: modelrollout {namespace}/{args.name} has an invalid spec: {exc.errors()[0]['msg']}", file=sys.stderr)
            return FAILED
        fragment = pod_fragment(rollout, args.router_image)
        if rollout.spec.router.mode != RouterMode.SIDECAR:
            print(
                f"warning: modelrollout {namespace}/{args.name} runs its router as a Deployment, whose Service would send "
                "its traffic to Pods with this label: set spec.router.mode: sidecar first",
                file=sys.stderr,
            )
        if args.output == "json":
            print(json.dumps(fragment, indent=2))
        elif args.output == "yaml":
            print(yaml.safe_dump(fragment, sort_keys=False).rstrip())
        else:
            print(_commented(rollout, fragment))
        return 0

    return with_client(args, work)
