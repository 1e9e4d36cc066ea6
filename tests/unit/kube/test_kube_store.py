"""The informer cache: newest version wins, one label indexed, every reader gets its own copy."""

from __future__ import annotations

from typing import Any

from controller.kube.store import Store, is_newer


def _obj(name: str, version: str, namespace: str = "ml", rollout: str | None = "fraud", **extra: Any) -> dict[str, Any]:
    labels = {"modelrollout.io/rollout": rollout} if rollout else {}
    metadata = {"name": name, "namespace": namespace, "resourceVersion": version, "labels": labels}
    return {"metadata": metadata, **extra}


def test_an_older_version_never_replaces_a_newer_one() -> None:
    store = Store()
    assert store.put(_obj("a", "10", spec={"replicas": 2}))
    assert not store.put(_obj("a", "9", spec={"replicas": 1}))
    assert store.get("ml", "a")["spec"] == {"replicas": 2}  # type: ignore[index]
    assert store.put(_obj("a", "10", spec={"replicas": 3}))  # the same version (a write-through) is kept


def test_non_numeric_versions_are_taken_as_they_come() -> None:
    assert is_newer("abc", "100") and is_newer("5", None) and not is_newer("5", "6")


def test_readers_get_copies_and_managed_fields_are_dropped() -> None:
    store = Store()
    obj = _obj("a", "1")
    obj["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    store.put(obj)
    first = store.get("ml", "a")
    assert first is not None and "managedFields" not in first["metadata"]
    first["metadata"]["name"] = "changed"
    assert store.get("ml", "a")["metadata"]["name"] == "a"  # type: ignore[index]


def test_the_index_follows_label_changes_and_removals() -> None:
    store = Store(index_label="modelrollout.io/rollout")
    store.put(_obj("a", "1"))
    store.put(_obj("b", "1"))
    store.put(_obj("c", "1", rollout="other"))
    store.put(_obj("d", "1", namespace="other-ns"))
    assert [o["metadata"]["name"] for o in store.by_label("ml", "fraud")] == ["a", "b"]
    store.put(_obj("b", "2", rollout="other"))
    store.remove("ml", "a")
    assert store.by_label("ml", "fraud") == []
    assert [o["metadata"]["name"] for o in store.by_label("ml", "other")] == ["b", "c"]


def test_a_relist_of_one_namespace_leaves_the_others_alone() -> None:
    store = Store(index_label="modelrollout.io/rollout")
    store.put(_obj("a", "1"))
    store.put(_obj("b", "1"))
    store.put(_obj("x", "1", namespace="other-ns"))
    vanished = store.replace_all([_obj("b", "5")], namespace="ml")
    assert list(vanished) == [("ml", "a")]
    assert sorted(store.all_keys()) == [("ml", "b"), ("other-ns", "x")]
    assert store.version("ml", "b") == "5"
    assert [o["metadata"]["name"] for o in store.by_label("ml", "fraud")] == ["b"]


def test_a_write_through_that_lands_after_the_deletion_does_not_bring_the_object_back() -> None:
    store = Store()
    store.put(_obj("a", "10"))
    store.remove("ml", "a", deleted_version="12")  # the watch's DELETED event
    assert not store.put(_obj("a", "11"))  # the controller's own status write, answered before the delete
    assert not store.put(_obj("a", "12"))
    assert store.get("ml", "a") is None and store.by_label("ml", "fraud") == []
    assert store.put(_obj("a", "13"))  # created again under the same name
    assert store.get("ml", "a") is not None


def test_a_removal_without_a_version_buries_the_cached_one_and_tombstones_stay_bounded() -> None:
    store = Store(tombstone_limit=2)
    store.put(_obj("a", "5"))
    store.remove("ml", "a")
    assert not store.put(_obj("a", "5"))
    for name, version in (("b", "6"), ("c", "7")):
        store.put(_obj(name, version))
        store.remove("ml", name)
    assert store.put(_obj("a", "5"))  # its tombstone was the oldest of three and was dropped


def test_a_relist_is_authoritative_over_tombstones() -> None:
    store = Store()
    store.put(_obj("a", "5"))
    store.remove("ml", "a", deleted_version="9")
    store.replace_all([_obj("a", "8")])
    assert store.get("ml", "a") is not None
