"""`modelrollout baseline`, run as a user runs it, counts training data exactly as the router counts live traffic."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from controller.api.monitoring import FeatureCounts, ModelReference
from router.config import DEFAULT_PREDICTION_BINS, LabelMatch, Predictions
from router.features import FeatureCounters, features_of
from router.labels import judge, truth
from router.measure import VariantCounters

REPO_ROOT = Path(__file__).resolve().parents[3]
PATH = "/v1/models/m:predict"

HEADER = ["age", "city", "member", "income", "score", "label"]
ROWS = [
    ["34", "paris", "true", "1200.5", "0.91", "1"],
    ["51", "berlin", "False", "", "0.12", "0"],
    ["29", "paris", "TRUE", "800", "0.55", "0"],
    ["0", "", "false", "-3e2", "0.5", "1"],
    ["-7", "7", "true", "0.001", "1", "1"],
]
# The same rows as a client sends them in JSON: numbers, booleans, strings; an empty cell left out.
TYPED: list[dict[str, Any]] = [
    {"age": 34, "city": "paris", "member": True, "income": 1200.5},
    {"age": 51, "city": "berlin", "member": False},
    {"age": 29, "city": "paris", "member": True, "income": 800.0},
    {"age": 0, "member": False, "income": -300.0},
    {"age": -7, "city": "7", "member": True, "income": 0.001},
]
FEATURES = ["age", "city", "member", "income"]


def modelrollout(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _routers_counts(instances: list[Any]) -> dict[str, FeatureCounts]:
    """What the real router counts for these instances sent as one KServe v1 request."""
    counters = FeatureCounters(max_features=100, max_categories=100)
    counters.observe(features_of(PATH, orjson.dumps({"instances": instances})))
    return {name: FeatureCounts(bins=f.bins, categories=f.categories) for name, f in counters.features.items()}


def _routers_predictions(predictions: list[Any]) -> FeatureCounts:
    counters = VariantCounters(DEFAULT_PREDICTION_BINS, max_labels=100)
    counters.predicted(predictions)
    histogram = counters.snapshot().predictions
    assert histogram is not None
    return FeatureCounts(bins=list(histogram.counts), categories=counters.labels)


def _same(ours: FeatureCounts, routers: FeatureCounts) -> None:
    assert (ours.bins or [0] * len(routers.bins or [])) == (routers.bins or [0] * len(ours.bins or []))
    assert ours.categories == routers.categories


def _reference(result: subprocess.CompletedProcess[str]) -> ModelReference:
    assert result.returncode == 0, result.stderr
    return ModelReference.model_validate_json(result.stdout)


def test_a_csv_is_counted_as_the_router_counts_the_same_rows_sent_as_objects(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", HEADER, ROWS)
    reference = _reference(modelrollout("baseline", str(data), "--features-by", "name", "--label-column", "label"))
    routers = _routers_counts(TYPED)
    assert set(reference.features) == {*FEATURES, "score"} and set(routers) == set(FEATURES)
    for name in FEATURES:
        _same(reference.features[name], routers[name])
    assert reference.source == "baseline" and reference.samples == len(ROWS)
    # Labels without predictions: nothing to judge.
    assert reference.predictions is None and reference.labelled == reference.correct == 0


def test_features_by_position_number_the_inputs_without_the_label_and_prediction(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", HEADER, ROWS)
    result = modelrollout("baseline", str(data), "--label-column", "label", "--prediction-column", "score")
    reference = _reference(result)
    routers = _routers_counts([[row.get(name) for name in FEATURES] for row in TYPED])
    assert set(reference.features) == {"0", "1", "2", "3"}
    for position in ("0", "2"):
        _same(reference.features[position], routers[position])
    # A list instance holds a value at every position: a client sends null for an empty cell, which
    # the router counts and a baseline skips unless told `--empty-cells null`.
    for position in ("1", "3"):
        assert routers[position].categories.pop("null") == 1
        _same(reference.features[position], routers[position])


def test_empty_cells_can_be_counted_as_the_null_a_client_sends(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", HEADER, ROWS)
    result = modelrollout("baseline", str(data), "--label-column", "label", "--prediction-column", "score", "--empty-cells", "null")
    reference = _reference(result)
    routers = _routers_counts([[row.get(name) for name in FEATURES] for row in TYPED])
    for position in ("0", "1", "2", "3"):
        _same(reference.features[position], routers[position])


def test_scores_judged_within_the_default_tolerance(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", HEADER, ROWS)
    reference = _reference(modelrollout("baseline", str(data), "--label-column", "label", "--prediction-column", "score"))
    match = Predictions().judging
    right = sum(judge([score], truth(label, match), match) for score, label in zip([0.91, 0.12, 0.55, 0.5, 1.0], [1, 0, 0, 1, 1]))
    assert (reference.labelled, reference.correct) == (5, right) == (5, 1)  # only 1.0 is within 1e-6 of its label


def test_predictions_and_labels_are_counted_and_judged_as_the_router_does(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", HEADER, ROWS)
    rollout = _rollout(tmp_path, {"match": "threshold", "threshold": 0.5})
    result = modelrollout("baseline", str(data), "--label-column", "label", "--prediction-column", "score", "--rollout", str(rollout))
    reference = _reference(result)
    scores = [0.91, 0.12, 0.55, 0.5, 1.0]  # one float in the column: all are scores, as a JSON answer carries them
    assert reference.predictions is not None
    _same(reference.predictions, _routers_predictions(scores))
    match = LabelMatch(match="threshold", threshold=0.5)
    labels = [1, 0, 0, 1, 1]
    right = sum(judge([score], truth(label, match), match) for score, label in zip(scores, labels))
    assert (reference.labelled, reference.correct) == (5, right) == (5, 4)


def test_integer_predictions_are_classes_judged_exactly_by_default(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", ["x", "predicted", "truth"], [["1.5", "2", "2"], ["2.5", "0", "1"], ["3", "1", "1"]])
    reference = _reference(modelrollout("baseline", str(data), "--prediction-column", "predicted", "--label-column", "truth"))
    assert reference.predictions is not None
    _same(reference.predictions, _routers_predictions([2, 0, 1]))
    assert reference.predictions.categories == {"2": 1, "0": 1, "1": 1}
    assert (reference.labelled, reference.correct) == (3, 2)


def _rollout(tmp_path: Path, labels: dict[str, Any]) -> Path:
    document = yaml.safe_load((REPO_ROOT / "manifests" / "examples" / "canary.yaml").read_text(encoding="utf-8"))
    document["spec"].setdefault("router", {}).setdefault("predictions", {})["labels"] = labels
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _parquet(path: Path) -> Path:
    table = pa.table(
        {
            "age": pa.array([34, 51, None, 29], pa.int64()),
            "ratio": pa.array([0.5, float("nan"), 2.0, 1e7], pa.float64()),
            "city": pa.array(["paris", "berlin", "paris", None], pa.string()),
            "member": pa.array([True, False, None, True], pa.bool_()),
            "tags": pa.array([[1], [2, 3], [], None], pa.list_(pa.int64())),
            "seen": pa.array([datetime(2024, 1, 1), None, datetime(2024, 1, 2), datetime(2024, 1, 1)], pa.timestamp("s")),
            "p": pa.array([0.2, 0.7, 0.9, 0.4], pa.float32()),
            "y": pa.array([0, 1, 1, 1], pa.int8()),
        }
    )
    pq.write_table(table, path)
    return path


def test_a_parquet_file_keeps_its_types_and_becomes_a_configmap(tmp_path: Path) -> None:
    data = _parquet(tmp_path / "train.parquet")
    result = modelrollout(
        "baseline", str(data), "--features-by", "name", "--prediction-column", "p", "--label-column", "y",
        "--rollout", str(_rollout(tmp_path, {"match": "threshold"})), "--name", "fraud-baseline", "-o", "yaml",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    configmap = yaml.safe_load(result.stdout)
    assert (configmap["apiVersion"], configmap["kind"], configmap["metadata"]) == ("v1", "ConfigMap", {"name": "fraud-baseline"})
    reference = ModelReference.model_validate_json(configmap["data"]["reference.json"])
    rows = [
        {"age": 34, "ratio": 0.5, "city": "paris", "member": True, "seen": "2024-01-01T00:00:00"},
        {"age": 51, "city": "berlin", "member": False},
        {"ratio": 2.0, "city": "paris", "seen": "2024-01-02T00:00:00"},
        {"age": 29, "ratio": 1e7, "member": True, "seen": "2024-01-01T00:00:00"},
    ]
    routers = _routers_counts(rows)
    assert set(reference.features) == {"age", "ratio", "city", "member", "seen"}  # nested `tags` left out, as the router does
    for name in reference.features:
        _same(reference.features[name], routers[name])
    assert reference.predictions is not None and reference.predictions.bins is not None
    assert sum(reference.predictions.bins) == 4 and (reference.labelled, reference.correct) == (4, 3)
    assert "tags" in result.stderr


def test_json_output_is_the_reference_and_yaml_without_a_name_is_too(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", HEADER, ROWS)
    as_json = _reference(modelrollout("baseline", str(data)))
    as_yaml = modelrollout("baseline", str(data), "-o", "yaml")
    assert as_yaml.returncode == 0, as_yaml.stderr
    assert ModelReference.model_validate(yaml.safe_load(as_yaml.stdout)) == as_json
    assert set(as_json.features) == {str(i) for i in range(len(HEADER))}


def test_categories_past_the_cap_are_counted_as_the_routers_overflow(tmp_path: Path) -> None:
    rows = [[f"c{i % 7}"] for i in range(70)] + [["rare1"], ["rare2"]]
    data = _write_csv(tmp_path / "train.csv", ["kind"], rows)
    reference = _reference(modelrollout("baseline", str(data), "--max-categories", "7"))
    assert reference.features["0"].categories == {**{f"c{i}": 10 for i in range(7)}, "__other__": 2}


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["missing.csv"], "missing.csv: no such file"),
        ({"data.txt": "a\n1\n"}, ["data.txt"], "expected a .csv or .parquet file"),
        ({"data.csv": ""}, ["data.csv"], "is empty; expected a header row"),
        ({"data.csv": "a,b\n"}, ["data.csv"], "holds no rows of data"),
        ({"data.csv": "a,b\n1,2\n3\n"}, ["data.csv"], "row 3: has 1 cells; the header names 2 columns"),
        ({"data.csv": "a,a\n1,2\n"}, ["data.csv"], "names the columns ['a'] more than once"),
        ({"data.csv": "a,b\n1,2\n"}, ["data.csv", "--label-column", "y"], "--label-column: 'y' is not a column"),
        ({"data.csv": "a,b\n1,2\n"}, ["data.csv", "--prediction-column", "p"], "--prediction-column: 'p' is not a column"),
        ({"data.csv": "a,b\n1,2\n"}, ["data.csv", "--label-column", "a", "--prediction-column", "b"], "has no feature columns"),
        ({"data.csv": "a\n1\n"}, ["data.csv", "--max-categories", "0"], "--max-categories: 0 must be at least 1"),
        ({"data.parquet": "not parquet at all"}, ["data.parquet"], "cannot be read as parquet"),
        ({"data.csv": "a,b\n\xff\xfe,2\n"}, ["data.csv"], "cannot be read as CSV"),
    ],
)
def test_bad_input_is_named_with_exit_code_2_and_nothing_printed(
    tmp_path: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_bytes(text.encode("latin-1"))
    result = modelrollout("baseline", *[str(tmp_path / a) if a in files or a == "missing.csv" else a for a in args])
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr, result.stderr


def test_a_label_no_class_can_be_is_named_with_its_row(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", ["x", "p", "y"], [["1", "0.2", "0"], ["2", "0.9", "cat"]])
    rollout = _rollout(tmp_path, {"match": "threshold"})
    result = modelrollout("baseline", str(data), "--prediction-column", "p", "--label-column", "y", "--rollout", str(rollout))
    assert result.returncode == 2 and result.stdout == ""
    assert "--label-column y: row 2: label 'cat' is not a class under threshold" in result.stderr


def test_argmax_is_refused_since_one_column_holds_no_score_vector(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "train.csv", ["x", "p", "y"], [["1", "0.2", "0"]])
    rollout = _rollout(tmp_path, {"match": "argmax"})
    result = modelrollout("baseline", str(data), "--prediction-column", "p", "--label-column", "y", "--rollout", str(rollout))
    assert result.returncode == 2 and "argmax judges a vector of scores per row" in result.stderr


def test_parquet_without_pyarrow_names_the_extra_to_install(tmp_path: Path) -> None:
    data = _parquet(tmp_path / "train.parquet")
    blocker = tmp_path / "blocked" / "pyarrow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('pyarrow is not installed')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker.parent), str(REPO_ROOT)])}
    result = modelrollout("baseline", str(data), env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert "pip install 'modelrollout[parquet]'" in result.stderr


def test_a_reference_too_big_for_a_configmap_is_refused(tmp_path: Path) -> None:
    rows = [[f"{'x' * 200}{i}" for _ in range(60)] for i in range(120)]
    data = _write_csv(tmp_path / "train.csv", [f"f{i}" for i in range(60)], rows)
    result = modelrollout("baseline", str(data), "--name", "big", "--max-categories", "200")
    assert result.returncode == 2 and result.stdout == ""
    assert "above a ConfigMap's 1 MiB" in result.stderr
    assert json.loads(modelrollout("baseline", str(data), "--max-categories", "200").stdout)["samples"] == 120
