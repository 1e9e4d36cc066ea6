"""Which updates are worth a reconcile, who owns an object, how repeated events collapse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.api.resource import ModelRollout
from controller.engine.actions import EmitEvent
from controller.kube.events import event_name
from controller.kube.manager import intent_changed, owner_key
from controller.kube.reconciler import parse_rollout
from tests.unit.conftest import rollout_document

RolloutFactory = Callable[..., ModelRollout]


def _with(metadata: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": metadata, "status": status or {}}


def test_a_status_only_update_is_not_worth_a_reconcile_but_spec_annotations_and_deletion_are() -> None:
    base = {"name": "a", "generation": 3, "annotations": {"x": "1"}}
    assert not intent_changed(_with(base), _with(base, {"phase": "Healthy"}))
    assert intent_changed(_with(base), _with({**base, "generation": 4}))
    assert intent_changed(_with(base), _with({**base, "annotations": {"modelrollout.io/request": "{}"}}))
    assert intent_changed(_with(base), _with({**base, "deletionTimestamp": "2025-01-01T00:00:00Z"}))


def test_an_owned_object_belongs_to_its_controller_reference_or_its_label() -> None:
    by_reference = {"metadata": {"namespace": "ml", "ownerReferences": [{"kind": "ModelRollout", "name": "fraud"}]}}
    by_label = {"metadata": {"namespace": "ml", "labels": {"modelrollout.io/rollout": "fraud"}}}
    stranger = {"metadata": {"namespace": "ml", "ownerReferences": [{"kind": "ReplicaSet", "name": "x"}]}}
    assert owner_key(by_reference) == owner_key(by_label) == ("ml", "fraud")
    assert owner_key(stranger) is None


def test_a_repeated_event_keeps_its_name_and_a_different_one_gets_another(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    promoted = EmitEvent(type="Normal", reason="Promoted", message="revision a promoted")
    assert event_name(rollout, promoted) == event_name(rollout, promoted.model_copy())
    assert event_name(rollout, promoted) != event_name(rollout, promoted.model_copy(update={"message": "revision b promoted"}))
    assert event_name(rollout, promoted).startswith("fraud.")


def test_a_spec_that_does_not_parse_is_described_with_field_paths() -> None:
    document = rollout_document()
    document["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 140}
    document["spec"]["replicas"] = "many"
    message = parse_rollout(document)
    assert isinstance(message, str)
    assert ".spec.strategy.canary.steps[0].setWeight" in message and "140" in message
    assert ".spec.replicas" in message
    assert isinstance(parse_rollout(rollout_document()), ModelRollout)
