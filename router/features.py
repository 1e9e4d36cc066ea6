"""Input features of a sampled share of requests, counted in bounded, mergeable sketches (pure).

Requests are read by protocol: KServe v1 `{"instances": [...]}` (an instance is a list, whose
features are named by position `0`, `1`, ..., an object, named by key, or one value, named `0`)
and Open Inference Protocol v2 `{"inputs": [{"name", "shape", "data"}]}` (an input of shape
`[n]` is one feature named after it; of shape `[n, k, ...]`, `k x ...` features `name[0]`,
`name[1]`, ..., from row-major `data`, flat or nested). Only top-level scalars of an instance
count: nested values are skipped. Numbers land on fixed edges shared by every replica (1-2-5 steps
from 0.001 to 5e6 each side of zero), so replicas' counts add up; strings, booleans and nulls are
counted by category.

Memory stays bounded whatever clients send: at most `max_features` features (values of any other
are counted in `dropped`), `max_categories` categories a feature (others counted under
`__other__`), and `MAX_VALUES` values read from one request.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import islice
from typing import Any, Final

import orjson

from router.compare import Scalar, label_key
from router.stats import FEATURE_EDGES

__all__ = ["FEATURE_EDGES", "MAX_VALUES", "OTHER_CATEGORY", "FeatureCounters", "features_of"]

MAX_VALUES: Final = 10_000
OTHER_CATEGORY: Final = "__other__"


def features_of(path: str, body: bytes) -> list[tuple[str, Scalar]]:
    """(feature, value) pairs of one request, at most `MAX_VALUES`; none for a body it cannot read."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("inputs"), list):
        return list(islice(_oip_features(document["inputs"]), MAX_VALUES))
    if isinstance(document.get("instances"), list):
        return list(islice(_kserve_features(document["instances"]), MAX_VALUES))
    return []


def _kserve_features(instances: list[Any]) -> Any:
    for instance in instances:
        if isinstance(instance, list):
            yield from ((str(i), v) for i, v in enumerate(instance) if _is_scalar(v))
        elif isinstance(instance, dict):
            yield from ((str(k), v) for k, v in instance.items() if _is_scalar(v))
        elif _is_scalar(instance):
            yield "0", instance


def _oip_features(inputs: list[Any]) -> Any:
    for tensor in inputs:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("data"), list):
            continue
        name = str(tensor.get("name", "input"))
        shape = tensor.get("shape")
        width = 1
        if isinstance(shape, list) and len(shape) > 1 and all(isinstance(d, int) and d > 0 for d in shape[1:]):
            width = _product(shape[1:])
        values = _flat(tensor["data"])
        if width == 1:
            yield from ((name, v) for v in values)
        else:
            yield from ((f"{name}[{i % width}]", v) for i, v in enumerate(values))


def _flat(data: list[Any]) -> Any:
    for item in data:
        if isinstance(item, list):
            yield from _flat(item)
        elif _is_scalar(item):
            yield item


def _product(dims: list[int]) -> int:
    result = 1
    for dim in dims:
        result *= dim
    return result


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


class _Feature:
    """One feature's counts: numbers on `FEATURE_EDGES`, other values by category."""

    __slots__ = ("bins", "categories")

    def __init__(self) -> None:
        self.bins: list[int] | None = None
        self.categories: dict[str, int] = {}


class FeatureCounters:
    """Cumulative per-feature counts of the sampled requests, within the caps (see the module doc)."""

    __slots__ = ("dropped", "features", "max_categories", "max_features", "sampled")

    def __init__(self, max_features: int, max_categories: int) -> None:
        self.features: dict[str, _Feature] = {}
        self.max_features = max_features
        self.max_categories = max_categories
        self.sampled = 0
        self.dropped = 0

    def observe(self, pairs: list[tuple[str, Scalar]]) -> None:
        """One sampled request's (feature, value) pairs."""
        self.sampled += 1
        for name, value in pairs:
            feature = self.features.get(name)
            if feature is None:
                if len(self.features) >= self.max_features:
                    self.dropped += 1
                    continue
                feature = self.features[name] = _Feature()
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if feature.bins is None:
                    feature.bins = [0] * (len(FEATURE_EDGES) + 1)
                feature.bins[bisect_left(FEATURE_EDGES, value)] += 1
            else:
                self._count(feature, label_key(value))

    def resize(self, max_features: int, max_categories: int) -> None:
        """New caps apply to features and categories seen from now on; counts kept stay."""
        self.max_features, self.max_categories = max_features, max_categories

    def _count(self, feature: _Feature, key: str) -> None:
        categories = feature.categories
        if key not in categories and len(categories) >= self.max_categories:
            key = OTHER_CATEGORY
        categories[key] = categories.get(key, 0) + 1
