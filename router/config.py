"""The router's config: one frozen pydantic model, camelCase on the wire, validated with field paths.

The controller writes it (as JSON into the router's ConfigMap, key `router.json`) and the
router reads it from there or from a file. `generation` names the config; the router exposes
the generation in force so a caller can tell when every replica has applied a change.
Kept free of heavy imports: the controller imports this module.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from router.errors import ConfigError
from router.jsonpath import compile_path

__all__ = [
    "DEFAULT_PREDICTION_BINS",
    "HeaderRoute",
    "LabelMatch",
    "Predictions",
    "RouterConfig",
    "Sticky",
    "Upstreams",
    "Variant",
    "Weights",
    "parse_config",
]

Variant = Literal["stable", "candidate"]

# Scores in [0, 1] by 0.05; values <= 0 and > 1 land in the under- and overflow bins.
DEFAULT_PREDICTION_BINS: tuple[float, ...] = tuple(round(i * 0.05, 2) for i in range(21))

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


class RouterModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _upstream_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host; expected e.g. http://model-abc123:8080")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} has a query or fragment; expected scheme://host[:port][/path-prefix]")
    try:
        _ = parts.port  # parsing the port is what checks it
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port; expected 1..65535") from None
    return value.rstrip("/")


def _header_name(value: str) -> str:
    name = value.strip().lower()
    if not name or not set(name) <= _TOKEN_CHARS:
        raise ValueError(f"{value!r} is not an HTTP header name; expected letters, digits and -")
    return name


UpstreamUrl = Annotated[str, AfterValidator(_upstream_url)]
HeaderName = Annotated[str, AfterValidator(_header_name)]


class Upstreams(RouterModel):
    """Base URL of each variant's model server; a path prefix is prepended to every request path."""

    stable: UpstreamUrl
    candidate: UpstreamUrl | None = None


class Weights(RouterModel):
    """Integer percents of live traffic; they sum to 100."""

    stable: int = Field(default=100, ge=0, le=100)
    candidate: int = Field(default=0, ge=0, le=100)

    @model_validator(mode="after")
    def _sum_to_100(self) -> Weights:
        if self.stable + self.candidate != 100:
            raise ValueError(f"stable {self.stable} + candidate {self.candidate} is {self.stable + self.candidate}; expected 100")
        return self


class HeaderRoute(RouterModel):
    """Requests whose `header` equals `value` go to `variant`, whatever the weights say."""

    header: HeaderName
    value: str = Field(min_length=1, max_length=1024)
    variant: Variant


class Sticky(RouterModel):
    """Key the split on a header or a cookie (exactly one), so a user stays on one variant."""

    header: HeaderName | None = None
    cookie: str | None = Field(default=None, min_length=1, max_length=256)
    # Mixed into the hash so each rollout picks a different set of users for its candidate.
    salt: str = Field(default="", max_length=256)

    @model_validator(mode="after")
    def _exactly_one(self) -> Sticky:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("set exactly one of header or cookie")
        return self


class LabelMatch(RouterModel):
    """How a delayed label judges a prediction (router.labels): within a tolerance, exactly, by threshold or argmax."""

    match: Literal["tolerance", "exact", "threshold", "argmax"] = "tolerance"
    # tolerance: a prediction this close to its label is right (a regression's acceptable error); unset,
    # predictions.tolerance, the closeness two variants' predictions agree within.
    tolerance: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    # threshold: a score at or above it is class 1, below it class 0.
    threshold: float = Field(default=0.5, allow_inf_nan=False)
    # argmax: the names of a score vector's positions, so labels may name the class.
    classes: tuple[str, ...] | None = Field(default=None, min_length=2, max_length=10_000)

    @field_validator("classes")
    @classmethod
    def _distinct(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and len(set(value)) != len(value):
            repeated = sorted({name for name in value if value.count(name) > 1})
            raise ValueError(f"names {repeated} more than once; expected each class once")
        return value


class Predictions(RouterModel):
    """Where predictions are in a response, how close two numbers must be to agree, how labels judge them."""

    protocol: Literal["auto", "kserve-v1", "oip-v2", "jsonpath"] = "auto"
    json_path: str | None = None
    tolerance: float = Field(default=1e-6, ge=0.0, allow_inf_nan=False)
    labels: LabelMatch = LabelMatch()

    @property
    def judging(self) -> LabelMatch:
        """`labels` with its tolerance filled in."""
        return self.labels if self.labels.tolerance is not None else self.labels.model_copy(update={"tolerance": self.tolerance})

    @field_validator("json_path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_path(value)
        return value

    @model_validator(mode="after")
    def _path_when_needed(self) -> Predictions:
        if self.protocol == "jsonpath" and self.json_path is None:
            raise ValueError("protocol jsonpath needs jsonPath, e.g. outputs[0].data")
        return self


class RouterConfig(RouterModel):
    """Everything the data plane needs; swapped whole and atomically on every change."""

    generation: int = Field(ge=0)
    upstreams: Upstreams
    weights: Weights = Weights()
    mirror_percent: int = Field(default=0, ge=0, le=100)
    header_routes: list[HeaderRoute] = Field(default_factory=list, max_length=64)
    header_routing_enabled: bool = True
    sticky: Sticky | None = None
    predictions: Predictions = Predictions()
    prediction_bins: tuple[float, ...] = Field(default=DEFAULT_PREDICTION_BINS, min_length=1, max_length=1000)
    max_prediction_labels: int = Field(default=100, ge=1, le=10_000)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=1024**3)
    # The names of the first release (`timeoutS`, `connectTimeoutS`) are still read: during an upgrade a
    # new router may read a ConfigMap the previous controller wrote.
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, validation_alias=AliasChoices("timeoutSeconds", "timeout_seconds", "timeoutS")
    )
    connect_timeout_seconds: float = Field(
        default=2.0, gt=0, le=600, validation_alias=AliasChoices("connectTimeoutSeconds", "connect_timeout_seconds", "connectTimeoutS")
    )
    mirror_max_in_flight: int = Field(default=100, ge=0, le=100_000)
    retry_candidate_on_stable: bool = False
    # The prediction log labels join (router.feedback): at least this long, unless feedbackCapacity / 2 requests come first.
    feedback_capacity: int = Field(default=100_000, ge=0, le=10_000_000)
    feedback_retention_seconds: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600)
    # Other replicas' admin URLs, asked for labels this one holds no prediction for; a name that resolves
    # to several addresses (a headless Service) names every replica behind it.
    feedback_peers: list[UpstreamUrl] = Field(default_factory=list, max_length=64)
    # Input features of this share of requests are counted (router.features), within these caps.
    feature_sample_percent: float = Field(default=5.0, ge=0, le=100, allow_inf_nan=False)
    max_features: int = Field(default=100, ge=1, le=10_000)
    max_feature_categories: int = Field(default=50, ge=1, le=10_000)
    # Bounds under hostile load: past each, new work gets a fast 503 (mirrored copies go first).
    max_client_connections: int = Field(default=10_000, ge=1, le=1_000_000)
    # At 80% of the router's saturation (about 18k req/s on one core) a healthy stable alone holds close
    # to a thousand requests in flight (Little's law at ~50 ms under load), so the default sits well above
    # that: the limit is for a variant that turns slow, whose answers pile up, not for a busy fast one.
    max_in_flight_per_variant: int = Field(default=4_096, ge=1, le=1_000_000)
    max_upstream_connections_per_variant: int = Field(default=256, ge=1, le=100_000)
    max_buffered_bytes: int = Field(default=256 * 1024 * 1024, ge=1, le=64 * 1024**3)

    @field_validator("max_buffered_bytes")
    @classmethod
    def _room_for_one_body(cls, value: int, info: ValidationInfo) -> int:
        body = info.data.get("max_body_bytes")
        if body is not None and value < body:
            raise ValueError(f"{value} is below maxBodyBytes {body}; a request at the body limit could never be admitted")
        return value

    @field_validator("prediction_bins")
    @classmethod
    def _increasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        for index, (low, high) in enumerate(pairwise(value), start=1):
            if not high > low:
                raise ValueError(f"edge [{index}] {high} is not above [{index - 1}] {low}; edges must increase strictly")
        return value

    @field_validator("weights", "mirror_percent", "header_routes")
    @classmethod
    def _candidate_present(cls, value: Any, info: ValidationInfo) -> Any:
        upstreams = info.data.get("upstreams")
        if upstreams is None or upstreams.candidate is not None:
            return value
        if isinstance(value, Weights) and value.candidate:
            raise ValueError(f"candidate weight {value.candidate} needs upstreams.candidate, which is not set")
        if isinstance(value, int) and value:
            raise ValueError(f"mirroring {value}% needs upstreams.candidate, which is not set")
        if isinstance(value, list):
            for index, route in enumerate(value):
                if route.variant == "candidate":
                    raise ValueError(f"[{index}] routes to the candidate, but upstreams.candidate is not set")
        return value


def parse_config(text: str | bytes, source: str = "config") -> RouterConfig:
    """The config in `text` (JSON or YAML); raises ConfigError naming the first bad field."""
    try:
        document = json.loads(text)
    except ValueError:
        document = _load_yaml(text, source)
    if not isinstance(document, dict):
        raise ConfigError("", f"{source} holds a {type(document).__name__}; expected a mapping of config fields")
    try:
        return RouterConfig.model_validate(document)
    except ValidationError as exc:
        raise _config_error(exc) from exc


def _load_yaml(text: str | bytes, source: str) -> Any:
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{source} is neither JSON nor YAML: {exc}") from exc


def _config_error(exc: ValidationError) -> ConfigError:
    problems = [(_path(e["loc"]), _message(e)) for e in exc.errors(include_url=False)]
    path, message = problems[0]
    if len(problems) > 1:
        message += " (also " + "; ".join(f"{p}: {m}" for p, m in problems[1:]) + ")"
    return ConfigError(path, message)


def _path(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _message(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in ("missing", "value_error") or "input" not in error:
        return message
    return f"{message}; got {error['input']!r}"
