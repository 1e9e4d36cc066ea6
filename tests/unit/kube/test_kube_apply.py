"""Drift: only fields the controller sets count; what the API server adds does not."""

from __future__ import annotations

from controller.kube.apply import covers


def test_extra_live_fields_are_not_drift() -> None:
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "m", "image": "a:1"}]}}}}
    live = {
        "status": {"readyReplicas": 2},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate"},
            "template": {"spec": {"containers": [{"name": "m", "image": "a:1", "imagePullPolicy": "IfNotPresent"}]}},
        },
    }
    assert covers(live, desired)


def test_a_changed_owned_field_is_drift() -> None:
    desired = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "m", "image": "a:1"}]}}}}
    edited_image = {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "m", "image": "a:2"}]}}}}
    scaled = {"spec": {"replicas": 5, "template": desired["spec"]["template"]}}
    assert not covers(edited_image, desired)
    assert not covers(scaled, desired)


def test_lists_must_match_in_length_and_order() -> None:
    desired = {"ports": [{"port": 80}, {"port": 81}]}
    assert not covers({"ports": [{"port": 80}]}, desired)
    assert not covers({"ports": [{"port": 81}, {"port": 80}]}, desired)
    assert covers({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP"}]}, desired)


def test_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    assert covers({"a": 1.0}, {"a": 1})
    assert not covers({"a": 1}, {"a": True})
    assert not covers({"a": "1"}, {"a": 1})
    assert not covers({}, {"a": None})
