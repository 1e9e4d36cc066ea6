"""Watch streams through `kubernetes.watch.Watch`: order, replay, selectors, 410, timeouts, closing."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from tests.fakekube import FakeKube
from tests.unit.fakekube.sample_objects import (
    MR_GROUP,
    MR_PLURAL,
    MR_VERSION,
    configmap,
    modelrollout,
)
from tests.unit.fakekube.watching import WatchCollector, wait_until


def _summary(events: list[tuple[str, dict]]) -> list[tuple[str, str]]:
    return [(kind, obj["metadata"].get("name", "")) for kind, obj in events]


def _versions(events: list[tuple[str, dict]]) -> list[int]:
    return [int(obj["metadata"]["resourceVersion"]) for _, obj in events]


def test_live_changes_arrive_in_order_with_growing_versions(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    collector = WatchCollector(kube, core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=10)

    core.create_namespaced_config_map("default", configmap("cfg", data={"v": "1"}))
    core.patch_namespaced_config_map("cfg", "default", {"data": {"v": "2"}})
    core.delete_namespaced_config_map("cfg", "default")

    events = collector.wait_for(3)
    assert _summary(events) == [("ADDED", "cfg"), ("MODIFIED", "cfg"), ("DELETED", "cfg")]
    assert events[1][1]["data"] == {"v": "2"}
    versions = _versions(events)
    assert versions == sorted(versions) and len(set(versions)) == 3 and versions[0] > int(start)


def test_writes_from_many_threads_reach_a_watcher_in_version_order(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    collector = WatchCollector(
        kube, core.list_namespaced_config_map, "default", resource_version=kube.store.resource_version, timeout_seconds=10
    )

    def write(prefix: str, through_http: bool) -> None:
        for i in range(40):
            body = configmap(f"{prefix}-{i}")
            core.create_namespaced_config_map("default", body) if through_http else kube.store.create("configmaps", "default", body)

    writers = [threading.Thread(target=write, args=(name, name == "http")) for name in ("http", "direct-a", "direct-b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    events = collector.wait_for(120)
    assert len(events) == 120
    assert _versions(events) == sorted(_versions(events))
    assert {name for _, name in _summary(events)} == {f"{p}-{i}" for p in ("http", "direct-a", "direct-b") for i in range(40)}


def test_watch_from_zero_first_sends_every_object_as_added(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    for name in ("b", "a"):
        core.create_namespaced_config_map("default", configmap(name))
    collector = WatchCollector(kube, core.list_namespaced_config_map, "default", resource_version="0", timeout_seconds=10)
    core.create_namespaced_config_map("default", configmap("c"))
    assert _summary(collector.wait_for(3)) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]


def test_watch_from_a_past_version_replays_what_came_after_it(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", configmap("first"))
    core.create_namespaced_config_map("default", configmap("second"))
    core.patch_namespaced_config_map("first", "default", {"data": {"x": "1"}})
    collector = WatchCollector(
        kube, core.list_namespaced_config_map, "default", resource_version=first.metadata.resource_version, timeout_seconds=10
    )
    assert _summary(collector.wait_for(2)) == [("ADDED", "second"), ("MODIFIED", "first")]


def test_a_selector_watch_sees_objects_enter_and_leave_the_selection(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    collector = WatchCollector(
        kube,
        core.list_namespaced_config_map,
        "default",
        resource_version=kube.store.resource_version,
        label_selector="team=ml",
        timeout_seconds=10,
    )
    core.create_namespaced_config_map("default", configmap("cfg", labels={"team": "web"}))
    core.patch_namespaced_config_map("cfg", "default", {"metadata": {"labels": {"team": "ml"}}})
    core.patch_namespaced_config_map("cfg", "default", {"data": {"v": "1"}})
    core.patch_namespaced_config_map("cfg", "default", {"metadata": {"labels": {"team": "web"}}})
    core.create_namespaced_config_map("default", configmap("marker", labels={"team": "ml"}))

    assert _summary(collector.wait_for(4)) == [("ADDED", "cfg"), ("MODIFIED", "cfg"), ("DELETED", "cfg"), ("ADDED", "marker")]


def test_a_namespaced_watch_does_not_see_other_namespaces(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "other"}})
    collector = WatchCollector(
        kube, core.list_namespaced_config_map, "default", resource_version=kube.store.resource_version, timeout_seconds=10
    )
    core.create_namespaced_config_map("other", configmap("elsewhere"))
    core.create_namespaced_config_map("default", configmap("here"))
    assert _summary(collector.wait_for(1)) == [("ADDED", "here")]


def test_watch_from_before_a_compaction_is_410_expired(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    old = core.create_namespaced_config_map("default", configmap("old")).metadata.resource_version
    core.create_namespaced_config_map("default", configmap("newer"))
    kube.store.compact()

    collector = WatchCollector(kube, core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=5)
    collector.join()
    assert isinstance(collector.error, ApiException) and collector.error.status == 410
    assert "Expired" in str(collector.error.reason)
    assert kube.store.watcher_count() == 0


def test_expiring_watches_ends_open_streams_with_410_and_a_list_starts_afresh(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    listed = core.list_namespaced_config_map("default").metadata.resource_version
    url = f"{kube.url}/api/v1/namespaces/default/configmaps"
    with httpx.stream("GET", url, params={"watch": "true", "resourceVersion": listed}, timeout=10) as response:
        wait_until(lambda: kube.store.watcher_count() == 1, what="the watch to register")
        core.create_namespaced_config_map("default", configmap("moved-on"))
        now = kube.store.expire_watches()
        lines = list(response.iter_lines())  # returns only because the stream ends
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events] == ["ADDED", "ERROR"]
    assert events[1]["object"]["code"] == 410 and events[1]["object"]["reason"] == "Expired"
    assert kube.store.watcher_count() == 0

    with pytest.raises(ApiException) as caught:  # the version the watch had is gone
        list(_stream_once(core, listed))
    assert caught.value.status == 410
    collector = WatchCollector(kube, core.list_namespaced_config_map, "default", resource_version=now, timeout_seconds=10)
    core.create_namespaced_config_map("default", configmap("after"))
    assert _summary(collector.wait_for(1)) == [("ADDED", "after")]


def test_the_oldest_changes_fall_out_of_a_bounded_history() -> None:
    with FakeKube(history_size=3) as kube, kube.api_client() as api:
        core = k8s.CoreV1Api(api)
        versions = [core.create_namespaced_config_map("default", configmap(f"c{i}")).metadata.resource_version for i in range(5)]
        with pytest.raises(ApiException) as caught:
            list(_stream_once(core, versions[0]))
        assert caught.value.status == 410
        assert [name for _, name in _stream_once(core, versions[1])] == ["c2", "c3", "c4"]


def _stream_once(core: k8s.CoreV1Api, resource_version: str) -> list[tuple[str, str]]:
    events = watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=resource_version, timeout_seconds=1)
    return [(event["type"], event["raw_object"]["metadata"]["name"]) for event in events]


def test_timeout_seconds_ends_the_stream_with_a_bookmark_when_allowed(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("cfg"))
    started = time.monotonic()
    with_bookmark = WatchCollector(
        kube, core.list_namespaced_config_map, "default", resource_version="0", timeout_seconds=1, allow_watch_bookmarks=True
    )
    without = WatchCollector(kube, core.list_namespaced_config_map, "default", resource_version="0", timeout_seconds=1)
    with_bookmark.join()
    without.join()

    assert 0.9 <= time.monotonic() - started < 3
    assert [kind for kind, _ in with_bookmark.events] == ["ADDED", "BOOKMARK"]
    assert with_bookmark.events[-1][1]["metadata"]["resourceVersion"] == kube.store.resource_version
    assert [kind for kind, _ in without.events] == ["ADDED"]
    assert kube.store.watcher_count() == 0


def test_closing_watches_ends_open_streams(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    collector = WatchCollector(kube, core.list_namespaced_config_map, "default", resource_version="0", timeout_seconds=60)
    kube.close_watches()
    collector.join(timeout_s=3)
    assert collector.error is None
    assert kube.store.watcher_count() == 0


def test_a_change_committed_after_closing_does_not_reach_the_closed_stream(kube: FakeKube, core: k8s.CoreV1Api) -> None:
    collector = WatchCollector(kube, core.list_namespaced_config_map, "default", resource_version="0", timeout_seconds=60)

    def close_then_write() -> None:  # in one step of the server's loop: the stream's writer has not run yet
        kube.server.watches.close_all()
        kube.store.create("configmaps", "default", configmap("too-late"))

    kube.call_on_loop(close_then_write)
    collector.join(timeout_s=3)
    assert collector.events == []
    assert kube.store.watcher_count() == 0


def test_a_client_that_goes_away_is_unsubscribed(kube: FakeKube) -> None:
    with httpx.stream("GET", f"{kube.url}/api/v1/namespaces/default/configmaps", params={"watch": "true"}) as response:
        assert response.status_code == 200
        wait_until(lambda: kube.store.watcher_count() == 1, what="the watch to register")
    wait_until(lambda: kube.store.watcher_count() == 0, what="the watch to be dropped")


def test_custom_objects_can_be_watched_across_namespaces(kube: FakeKube, custom: k8s.CustomObjectsApi, core: k8s.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "team-b"}})
    collector = WatchCollector(
        kube,
        custom.list_cluster_custom_object,
        MR_GROUP,
        MR_VERSION,
        MR_PLURAL,
        resource_version=kube.store.resource_version,
        timeout_seconds=10,
    )
    custom.create_namespaced_custom_object(MR_GROUP, MR_VERSION, "team-b", MR_PLURAL, modelrollout("b"))
    custom.create_namespaced_custom_object(MR_GROUP, MR_VERSION, "default", MR_PLURAL, modelrollout("a"))
    events = collector.wait_for(2)
    assert [(kind, obj["metadata"]["namespace"], obj["metadata"]["name"]) for kind, obj in events] == [
        ("ADDED", "team-b", "b"),
        ("ADDED", "default", "a"),
    ]
