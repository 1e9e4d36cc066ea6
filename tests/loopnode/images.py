"""What each container image runs on the loopback node: the image's entrypoint as a local program.

There is no container runtime, so an image is a name for a program of this checkout's venv:

    ghcr.io/modelrollout/modelrollout[-router]:<any tag>
        entrypoint `modelrollout` (the console script), as in Dockerfile and router/Dockerfile
    <any registry/>demo-model:<version>[-<scenario>]
        `python -m controller.local.demo_model` (examples/model-server/Dockerfile) serving
        KServe v1 on port 8080. The tag picks the model: `v1` is the stable model; any other
        version is the candidate model with the scenario after the first `-` (good, errors,
        latency, disagree, drift; good when none): `demo-model:v2` good, `demo-model:v3-errors`
        answers 15% of predictions with 500.

Docker's rules combine the image with the container: `command` replaces the entrypoint, `args`
replace the image's default arguments, and the container's `env` wins over the image's. The
first word must be a program the image has: `python`/`python3` (this interpreter) or a script
in this venv's bin directory; anything else is refused as an image would fail to start it.

All Pods share one network namespace here, so a wildcard listen address (`0.0.0.0` or
`0.0.0.0:PORT`, in an argument or an env value) becomes the Pod's own IP: each process then
listens on its Pod IP at its containerPort, as it would in a network namespace of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.local.demo_model import Scenario

__all__ = ["ImageError", "ContainerProgram", "ImageDefaults", "image_defaults", "container_program", "split_image"]

PROJECT_REPOSITORIES = ("ghcr.io/modelrollout/modelrollout", "ghcr.io/modelrollout/modelrollout-router")
DEMO_MODEL_NAME = "demo-model"
STABLE_VERSION = "v1"
_WILDCARD = "0.0.0.0"  # noqa: S104 -- what a container listens on; rewritten to the Pod IP
_PYTHONS = ("python", "python3")


class ImageError(ValueError):
    """The image is not one this node can run, or the container names a program it lacks."""


@dataclass(frozen=True)
class ImageDefaults:
    """What the image itself brings: ENTRYPOINT, CMD and ENV."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerProgram:
    argv: list[str]
    env: dict[str, str]


def split_image(image: str) -> tuple[str, str]:
    """(repository, tag) of `registry[:port]/path:tag[@digest]`; the tag is `latest` when absent."""
    reference = image.split("@", 1)[0]
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, "latest"


def _demo_model(tag: str) -> ImageDefaults:
    version, _, scenario = tag.partition("-")
    if not version:
        raise ImageError(f"demo-model tag {tag!r} names no version")
    try:
        chosen = Scenario(scenario or Scenario.GOOD)
    except ValueError:
        known = ", ".join(s.value for s in Scenario)
        raise ImageError(f"demo-model tag {tag!r}: scenario {scenario!r} is not one of {known}") from None
    variant = "stable" if version == STABLE_VERSION else "candidate"
    env = {
        "MODELROLLOUT_DEMO_HOST": _WILDCARD, "MODELROLLOUT_DEMO_PORT": "8080",
        "MODELROLLOUT_DEMO_VARIANT": variant, "MODELROLLOUT_DEMO_SCENARIO": chosen.value,
    }  # fmt: skip
    return ImageDefaults(entrypoint=("python", "-m", "controller.local.demo_model"), env=env)


def image_defaults(image: str) -> ImageDefaults:
    repository, tag = split_image(image)
    if repository == PROJECT_REPOSITORIES[0]:
        return ImageDefaults(entrypoint=("modelrollout",), cmd=("controller", "--metrics-listen", f"{_WILDCARD}:8080"))
    if repository == PROJECT_REPOSITORIES[1]:
        return ImageDefaults(entrypoint=("modelrollout",), cmd=("router", "--help"))
    if repository.rsplit("/", 1)[-1] == DEMO_MODEL_NAME:
        return _demo_model(tag)
    raise ImageError(f"image {image!r} is not one the loopback node can run (see tests/loopnode/images.py)")


def _program(word: str, bin_dir: Path) -> str:
    if word in _PYTHONS:
        return sys.executable
    candidate = bin_dir / word
    if "/" not in word and candidate.is_file():
        return str(candidate)
    raise ImageError(f"the image has no program {word!r}")


def _on_pod_ip(text: str, ip: str) -> str:
    if text == _WILDCARD:
        return ip
    if text.startswith(f"{_WILDCARD}:"):
        return ip + text[len(_WILDCARD) :]
    return text


def _field_value(path: str, pod: dict[str, Any], ip: str) -> str:
    values = {
        "metadata.name": pod["metadata"]["name"], "metadata.namespace": pod["metadata"]["namespace"],
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "spec.nodeName": pod["spec"].get("nodeName", ""), "status.podIP": ip,
    }  # fmt: skip
    if path not in values:
        raise ImageError(f"env fieldRef {path!r} is not supported by the loopback node")
    return values[path]


def _container_env(container: dict[str, Any], pod: dict[str, Any], ip: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item or "valueFrom" not in item:
            env[item["name"]] = str(item.get("value", ""))
        elif "fieldRef" in item["valueFrom"]:
            env[item["name"]] = _field_value(item["valueFrom"]["fieldRef"]["fieldPath"], pod, ip)
        else:
            raise ImageError(f"env {item['name']}: only value and fieldRef are supported by the loopback node")
    return env


def container_program(container: dict[str, Any], pod: dict[str, Any], ip: str, bin_dir: Path | None = None) -> ContainerProgram:
    """The argv and the image's plus the container's environment for one container of `pod`."""
    defaults = image_defaults(container.get("image", ""))
    if container.get("command"):
        words = [*container["command"], *(container.get("args") or [])]
    else:
        words = [*defaults.entrypoint, *(container.get("args") or defaults.cmd)]
    argv = [_program(words[0], bin_dir or Path(sys.executable).parent), *(_on_pod_ip(w, ip) for w in words[1:])]
    env = {**defaults.env, **_container_env(container, pod, ip)}
    return ContainerProgram(argv=argv, env={name: _on_pod_ip(value, ip) for name, value in env.items()})
