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
from collections.abc import Iterator
from itertools import cycle, islice
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
        return _kserve_features(document["instances"])
    return []


# orjson makes exactly these types, so a lookup of the type tells a scalar from a list or an object.
_SCALARS: Final = frozenset((str, int, float, bool, type(None)))
# The names of the first positions, made once: naming a value is then a zip, not a str() per value.
_POSITIONS: Final = tuple(str(i) for i in range(1024))
# Tensors up to this wide have their column names made once per request (a wider one may send few values).
_NAMED_ONCE: Final = 256


def _kserve_features(instances: list[Any]) -> list[tuple[str, Scalar]]:
    """Each instance whole in one comprehension while it fits in what is left of `MAX_VALUES` (the
    common case: a few short instances); a longer one is read only as far as that allows."""
    pairs: list[tuple[str, Scalar]] = []
    for instance in instances:
        room = MAX_VALUES - len(pairs)
        if room <= 0:
            break
        kind = type(instance)
        if kind is list and len(instance) <= room and len(instance) <= len(_POSITIONS):
            pairs += [(name, v) for name, v in zip(_POSITIONS, instance) if type(v) in _SCALARS]
        elif kind is dict and len(instance) <= room:
            pairs += [(key, v) for key, v in instance.items() if type(v) in _SCALARS]  # JSON keys are strings
        elif kind is list or kind is dict:
            pairs += islice(_instance_features(instance), room)
        elif kind in _SCALARS:
            pairs.append(("0", instance))
    return pairs


def _instance_features(instance: list[Any] | dict[str, Any]) -> Iterator[tuple[str, Scalar]]:
    if isinstance(instance, list):
        return ((str(i), v) for i, v in enumerate(instance) if type(v) in _SCALARS)
    return ((key, v) for key, v in instance.items() if type(v) in _SCALARS)


def _oip_features(inputs: list[Any]) -> Iterator[tuple[str, Scalar]]:
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
        elif width <= _NAMED_ONCE:  # each column named once, not once per value
            yield from zip(cycle([f"{name}[{i}]" for i in range(width)]), values)
        else:
            yield from ((f"{name}[{i % width}]", v) for i, v in enumerate(values))


def _flat(data: list[Any]) -> Iterator[Scalar]:
    for item in data:
        if type(item) is list:
            yield from _flat(item)
        elif type(item) in _SCALARS:
            yield item


def _product(dims: list[int]) -> int:
    result = 1
    for dim in dims:
        result *= dim
    return result


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
        features = self.features
        for name, value in pairs:
            feature = features.get(name)
            if feature is None:
                if len(features) >= self.max_features:
                    self.dropped += 1
                    continue
                feature = features[name] = _Feature()
            if type(value) is float or type(value) is int:  # not bool, which is counted by category
                bins = feature.bins
                if bins is None:
                    bins = feature.bins = [0] * (len(FEATURE_EDGES) + 1)
                bins[bisect_left(FEATURE_EDGES, value)] += 1
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
