"""Manual requests in the `modelrollout.io/request` annotation: read back exactly, bad ones named."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from controller.engine.inputs import ManualAction
from controller.errors import SpecError
from controller.kube.manual import (
    REQUEST_ANNOTATION,
    new_request,
    read_request,
    request_patch,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("action", list(ManualAction))
def test_a_written_request_reads_back_as_the_same_action(action: ManualAction) -> None:
    sent = new_request(action, NOW)
    request = read_request(request_patch(sent)["metadata"])
    assert request == sent
    assert request is not None and request.action is action and request.at == NOW


def test_every_request_gets_a_fresh_id() -> None:
    assert len({new_request(ManualAction.PROMOTE, NOW).id for _ in range(20)}) == 20


def test_no_annotation_is_no_request() -> None:
    assert read_request({}) is None
    assert read_request({"annotations": {"other": "x"}}) is None


def test_not_json_is_named() -> None:
    with pytest.raises(SpecError) as caught:
        read_request({"annotations": {REQUEST_ANNOTATION: "promote"}})
    assert caught.value.path == f".metadata.annotations[{REQUEST_ANNOTATION}]"
    assert "not JSON" in caught.value.message


def test_unknown_action_lists_the_valid_ones() -> None:
    text = json.dumps({"id": "1", "action": "explode"})
    with pytest.raises(SpecError, match="action") as caught:
        read_request({"annotations": {REQUEST_ANNOTATION: text}})
    assert "promote-full" in caught.value.message
