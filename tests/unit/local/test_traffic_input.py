"""What the traffic generator is fed: replay files, its config, and demo data set requests."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from controller.errors import SpecError
from controller.local.demo_model import load_demo_data
from controller.local.loadgen import (
    TrafficConfig,
    TrafficFileError,
    TrafficRequest,
    dataset_requests,
    read_replay_file,
)

GOOD_LINE = {"path": "/v1/models/demo:predict", "body": {"instances": [[1.0, 2.0]]}, "headers": {"x-user": "7"}, "label": 1}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_replay_file_reads_every_request_and_skips_blank_lines(tmp_path: Path) -> None:
    minimal = {"path": "/v2/models/m/infer", "body": {"inputs": []}}
    path = _write(tmp_path, [json.dumps(GOOD_LINE), "", "   ", json.dumps(minimal)])

    requests = read_replay_file(path)

    assert requests == [TrafficRequest.model_validate(GOOD_LINE), TrafficRequest(path="/v2/models/m/infer", body={"inputs": []})]
    assert requests[0].headers == {"x-user": "7"} and requests[0].label == 1
    assert requests[1].headers == {} and requests[1].label is None


def test_every_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD_LINE),
        '{"path": "/x", "body": ',  # truncated JSON
        json.dumps({"path": "/x"}),  # no body
        json.dumps({**GOOD_LINE, "path": "v1/models/demo:predict"}),  # relative path
        json.dumps({**GOOD_LINE, "headers": {"x-n": 3}}),  # header value not a string
        json.dumps([1, 2]),  # not an object
        json.dumps({**GOOD_LINE, "method": "GET"}),  # unknown field
    ]

    with pytest.raises(TrafficFileError) as caught:
        read_replay_file(_write(tmp_path, lines))

    problems = {p.line: p.message for p in caught.value.problems}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7]
    assert problems[2].startswith("not JSON")
    assert problems[3] == "body: Field required"
    assert problems[4].startswith("path: String should match pattern")
    assert problems[5] == "headers.x-n: Input should be a valid string"
    assert problems[6].startswith("request: Input should be a valid dictionary")
    assert problems[7] == "method: Extra inputs are not permitted"
    assert str(caught.value).startswith(f"{tmp_path / 'requests.jsonl'}: line 2: not JSON")
    assert isinstance(caught.value, SpecError)


def test_a_file_without_requests_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TrafficFileError, match="no requests; expected one JSON object per line"):
        read_replay_file(_write(tmp_path, ["", ""]))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rate_per_s": 0}, "rate_per_s"),
        ({"target_url": "http://127.0.0.1:8080/v1"}, "target_url"),
        ({"target_url": "127.0.0.1:8080"}, "target_url"),
        ({"concurrency": 0}, "concurrency"),
        ({"duration_s": -1}, "duration_s"),
        ({"feedback_url": "localhost/feedback"}, "feedback_url"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        TrafficConfig.model_validate({"target_url": "http://127.0.0.1:8080", "rate_per_s": 10, **fields})


def test_dataset_requests_are_noisy_rows_of_the_demo_data_with_their_labels() -> None:
    data = load_demo_data()
    requests = list(itertools.islice(dataset_requests("scorer", seed=3, noise=0.02), 200))

    assert {r.path for r in requests} == {"/v1/models/scorer:predict"}
    rows = np.array([r.body["instances"][0] for r in requests])
    assert rows.shape == (200, data.feature_count)
    sources = [_source_row(row, data.features) for row in rows]
    relative = np.concatenate([_relative_change(row, data.features[i]) for row, i in zip(rows, sources, strict=False)])
    assert relative.max() < 0.12 and 0.01 < relative.mean() < 0.025  # |N(0, 0.02)| has mean 0.016
    assert [r.label for r in requests] == [int(data.labels[i]) for i in sources]
    assert len(set(sources)) > 100


def _relative_change(row: np.ndarray, source: np.ndarray) -> np.ndarray:
    nonzero = source != 0
    assert np.all(row[~nonzero] == 0)  # zero features stay zero under multiplicative noise
    return np.abs(row[nonzero] / source[nonzero] - 1)


def _source_row(row: np.ndarray, features: np.ndarray) -> int:
    """The data set row this request was jittered from: the one it differs least from, relatively."""
    return int(np.argmin([np.max(np.abs(row - source) / np.maximum(np.abs(source), 1e-12)) for source in features]))


def test_dataset_requests_repeat_for_a_seed_and_differ_across_seeds() -> None:
    first = list(itertools.islice(dataset_requests(seed=5), 20))

    assert first == list(itertools.islice(dataset_requests(seed=5), 20))
    assert first != list(itertools.islice(dataset_requests(seed=6), 20))
