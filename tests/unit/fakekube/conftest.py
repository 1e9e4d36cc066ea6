"""Fixtures for the stand-in's own tests: a running FakeKube and official clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from tests.fakekube import FakeKube

__all__ = ["kube", "api", "core", "apps", "custom"]


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube(seed=7) as running:
        yield running


@pytest.fixture
def api(kube: FakeKube) -> Iterator[k8s.ApiClient]:
    api_client = kube.api_client()
    yield api_client
    api_client.close()


@pytest.fixture
def core(api: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api)


@pytest.fixture
def apps(api: k8s.ApiClient) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api)


@pytest.fixture
def custom(api: k8s.ApiClient) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(api)
