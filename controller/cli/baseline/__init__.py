"""`modelrollout baseline DATA.csv|DATA.parquet`: a model's training data summarised as the reference for `spec.monitoring`.

Counts every feature column as the router counts the same values arriving as KServe v1
instances (see `counting`), the prediction column as the router counts the model's answers, and
with a label column, how many of those predictions were right. Prints the ModelReference as JSON
(for local mode: `> baseline.json`), or with `--name NAME` a ConfigMap holding it under
`reference.json`, ready for `kubectl apply`. Any bad input is named on standard error with exit
code 2, and nothing is printed to standard output.

Feature names follow how clients send instances: by position (`0`, `1`, ... over the feature
columns in file order, the label and prediction columns left out), or by column name for
instances sent as objects. Accuracy on the data a model was trained on flatters it: give held-out
data when monitoring compares accuracy with the reference's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from controller.api.monitoring import FeatureCounts, ModelReference
from controller.cli.baseline.counting import count_features, count_predictions, is_correct, label_class
from controller.cli.baseline.tables import Scalar, Table, read_table
from controller.errors import SpecError
from router.config import DEFAULT_PREDICTION_BINS, LabelMatch, Predictions, RouterConfig
from router.stats import FEATURE_EDGES

__all__ = ["CONFIGMAP_KEY", "EXIT_INVALID", "add_arguments", "reference_of", "run"]

EXIT_INVALID = 2
CONFIGMAP_KEY = "reference.json"
# A ConfigMap's data may hold at most 1 MiB.
_CONFIGMAP_BYTES = 1024 * 1024
_ROUTER_DEFAULTS = RouterConfig.model_fields


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, metavar="DATA", help="training (better: held-out) data, .csv or .parquet")
    parser.add_argument("--label-column", metavar="NAME", help="the true labels; with --prediction-column, the reference's accuracy")
    parser.add_argument("--prediction-column", metavar="NAME", help="the model's predictions on each row")
    parser.add_argument(
        "--features-by", choices=("position", "name"), default="position",
        help="name features as the router will: by position for instances sent as lists (default), by column name for objects",
    )  # fmt: skip
    parser.add_argument("--name", help="print a ConfigMap of this name holding the reference, for spec.monitoring.reference.baseline")
    parser.add_argument("-o", "--output", choices=("json", "yaml"), default="json", help="output format (default json)")
    parser.add_argument("--rollout", type=Path, metavar="FILE", help="ModelRollout YAML whose predictions.labels judge the labels")
    parser.add_argument(
        "--empty-cells", choices=("skip", "null"), default="skip",
        help="missing cells: skipped (default), or counted as the null a client would send for them",
    )  # fmt: skip
    parser.add_argument(
        "--max-categories", type=int, default=_ROUTER_DEFAULTS["max_feature_categories"].default, metavar="N",
        help="categories kept per feature, the rest counted as __other__ (default: the router's maxFeatureCategories)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        text = _render(args)
    except SpecError as exc:
        print(f"invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(text)
    return 0


def _render(args: argparse.Namespace) -> str:
    if args.max_categories < 1:
        raise SpecError("--max-categories", f"{args.max_categories} must be at least 1")
    match = _label_match(args.rollout)
    table = read_table(args.data)
    reference = reference_of(table, args, match)
    if table.skipped:
        print(f"note: columns {list(table.skipped)} hold nested values, which the router skips; left out", file=sys.stderr)
    document = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
    if args.name is not None:
        document = _configmap(args.name, document)
    if args.output == "yaml":
        return yaml.safe_dump(document, sort_keys=False)
    return json.dumps(document, separators=(",", ":")) + "\n"


def _label_match(rollout: Path | None) -> LabelMatch:
    """How labels judge predictions: the rollout's predictions.labels, else the router's default."""
    if rollout is None:
        return Predictions().judging
    from controller.local.inputs import read_rollout  # only with --rollout: its imports cost a second at start

    spec = read_rollout(rollout).spec.router.predictions
    labels = spec.labels
    classes = tuple(labels.classes) if labels.classes is not None else None
    match = LabelMatch(match=labels.match, tolerance=labels.tolerance, threshold=labels.threshold, classes=classes)
    return Predictions(tolerance=spec.tolerance, labels=match).judging


def reference_of(table: Table, args: argparse.Namespace, match: LabelMatch) -> ModelReference:
    """The ModelReference of `table`; a SpecError for a column that is not there or a label no class can be."""
    for option in ("label_column", "prediction_column"):
        name = getattr(args, option)
        if name is not None and name not in table.columns:
            raise SpecError(f"--{option.replace('_', '-')}", f"{name!r} is not a column of {args.data}; its columns: {list(table.columns)}")
    special = {args.label_column, args.prediction_column}
    inputs = [name for name in table.columns if name not in special]
    if not inputs:
        raise SpecError(str(args.data), "has no feature columns besides the label and prediction columns")
    skip_empty = args.empty_cells == "skip"
    features = {
        name if args.features_by == "name" else str(position): _features(table.columns[name], skip_empty, args.max_categories)
        for position, name in enumerate(inputs)
    }
    predictions = table.columns[args.prediction_column] if args.prediction_column else None
    labelled, correct = _accuracy(table, args, predictions, match)
    return ModelReference(
        source="baseline", samples=table.rows, labelled=labelled, correct=correct,
        features={name: counts for name, counts in features.items() if counts.total},
        predictions=_predictions(predictions),
    )  # fmt: skip


def _features(values: list[Scalar], skip_empty: bool, max_categories: int) -> FeatureCounts:
    present = [value for value in values if value is not None] if skip_empty else values
    return count_features(present, FEATURE_EDGES, max_categories)


def _predictions(values: list[Scalar] | None) -> FeatureCounts | None:
    """A missing prediction is skipped: a model's answer always holds one."""
    if values is None:
        return None
    max_labels = _ROUTER_DEFAULTS["max_prediction_labels"].default
    counts = count_predictions([value for value in values if value is not None], DEFAULT_PREDICTION_BINS, max_labels)
    return counts if counts.total else None


def _accuracy(table: Table, args: argparse.Namespace, predictions: list[Scalar] | None, match: LabelMatch) -> tuple[int, int]:
    """(labelled, correct) over the rows with both a prediction and a label; (0, 0) without both columns."""
    if predictions is None or args.label_column is None:
        return 0, 0
    labelled = correct = 0
    for row, (prediction, label) in enumerate(zip(predictions, table.columns[args.label_column]), start=1):
        if prediction is None or label is None:
            continue
        try:
            expected = label_class(label, match)
        except ValueError as exc:
            raise SpecError(f"--label-column {args.label_column}: row {row}", str(exc)) from exc
        labelled += 1
        correct += is_correct(prediction, expected, match)
    return labelled, correct


def _configmap(name: str, reference: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(reference, separators=(",", ":"))
    if len(text.encode()) > _CONFIGMAP_BYTES:
        raise SpecError("--name", f"the reference is {len(text.encode())} bytes, above a ConfigMap's 1 MiB; lower --max-categories")
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {CONFIGMAP_KEY: text}}
