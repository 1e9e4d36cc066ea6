"""Revision names: a hash of the pod template that ignores how the template is written."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from controller.api import revision_of

TEMPLATE = {
    "metadata": {"labels": {"app": "iris", "tier": "model"}},
    "spec": {
        "containers": [
            {"name": "model", "image": "kserve/sklearnserver:v0.13.0", "env": [{"name": "MODEL_VERSION", "value": "2"}]}
        ]
    },
}


def reordered(value: Any, rng: random.Random) -> Any:
    """The same value with every mapping's keys in a shuffled order (list order kept: it is meaningful)."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: reordered(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [reordered(item, rng) for item in value]
    return value


@given(st.integers(min_value=0, max_value=10_000))
def test_key_order_does_not_change_the_revision(seed: int) -> None:
    assert revision_of(reordered(TEMPLATE, random.Random(seed))) == revision_of(TEMPLATE)


def test_a_changed_value_is_a_new_revision() -> None:
    changed = reordered(TEMPLATE, random.Random(0))
    changed["spec"]["containers"][0]["env"][0]["value"] = "3"
    assert revision_of(changed) != revision_of(TEMPLATE)


def test_list_order_matters() -> None:
    two = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    swapped = {"spec": {"containers": [{"name": "b"}, {"name": "a"}]}}
    assert revision_of(two) != revision_of(swapped)


def test_revision_is_ten_hex_digits() -> None:
    revision = revision_of(TEMPLATE)
    assert len(revision) == 10 and int(revision, 16) >= 0
